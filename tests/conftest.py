from pathlib import Path

import pytest

from tests.helpers import TRAINED


@pytest.fixture
def write_cfg(tmp_path):
    """Write cfg text to a file and return its path."""

    def write(text: str, name: str = "net.cfg") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


def _files_state(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """The data yaml of one synthetic set shared by the whole session: 48 train and 48 val images at 256 px,
    seed 7 (one the trained model was not trained on), label caches built. Read only: the session fails at
    its end if any file in it was added, removed or rewritten; a test that changes a dataset builds its own."""
    from yolor_cfg.workflows.train.data import DataConfig, build_index
    from yolor_cfg.workflows.train.synth import build_synth

    data = build_synth(tmp_path_factory.mktemp("synth_data"), n_train=48, n_val=48, img=256, seed=7)
    for split in ("train", "val"):
        build_index(DataConfig.load(data), split)  # the caches readers would otherwise write
    before = _files_state(data.parent)
    yield data
    after = _files_state(data.parent)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"a test wrote into the shared synthetic set {data.parent}: {', '.join(changed)}"


@pytest.fixture(scope="session")
def trained_weights() -> Path:
    """The trained tiny model's weights (its cfg: helpers.TINY_CFG; 3 classes circle, square, triangle at 256 px)."""
    return TRAINED
