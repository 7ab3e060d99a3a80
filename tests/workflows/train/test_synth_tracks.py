"""Synthetic tracking sequences: deterministic, objects that cross and hide, identities told apart by
appearance alone; written by ``data synth --tracks``."""
import cv2
import numpy as np
import pytest
import yaml

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.workflows.train.data import DataConfig, build_index
from yolor_cfg.workflows.train.synth_tracks import build_synth_tracks


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    return build_synth_tracks(tmp_path_factory.mktemp("tracks"), n_train=3, n_val=1, frames=30, img=128, seed=4)


def gt_rows(data, name) -> np.ndarray:
    return np.loadtxt(data.parent / name / "gt" / "gt.txt", delimiter=",", ndmin=2)


def iou(a, b) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_deterministic_per_seed(tmp_path, tracks):
    again = build_synth_tracks(tmp_path / "again", n_train=3, n_val=1, frames=30, img=128, seed=4)
    other = build_synth_tracks(tmp_path / "other", n_train=3, n_val=1, frames=30, img=128, seed=5)
    for name in ("train/SYNTH-01", "val/SYNTH-03"):
        assert (tracks.parent / name / "gt/gt.txt").read_text() == (again.parent / name / "gt/gt.txt").read_text()
        assert (tracks.parent / name / "img1/000007.jpg").read_bytes() == (again.parent / name / "img1/000007.jpg").read_bytes()
        assert (tracks.parent / name / "gt/gt.txt").read_text() != (other.parent / name / "gt/gt.txt").read_text()


def test_layout_and_data_yaml(tracks):
    raw = yaml.safe_load(tracks.read_text())
    assert raw["train"] == ["train/SYNTH-00", "train/SYNTH-01", "train/SYNTH-02"] and raw["val"] == ["val/SYNTH-03"]
    assert raw["nc"] == 1 and raw["names"] == ["object"]
    cfg = DataConfig.load(tracks)
    index = build_index(cfg, "train")
    assert len(index.images) == 90 and not index.skipped
    objects = [len(np.unique(gt_rows(tracks, f"train/SYNTH-0{k}")[:, 1])) for k in range(3)]
    assert all(4 <= n <= 6 for n in objects) and index.num_ids == sum(objects)
    (seq,) = cfg.sequences("val")
    assert (seq.name, len(seq.frames), seq.fps, seq.size) == ("SYNTH-03", 30, 30.0, (128, 128))


@pytest.mark.parametrize("name", ["train/SYNTH-00", "train/SYNTH-01", "train/SYNTH-02", "val/SYNTH-03"])
def test_objects_cross_and_hide(tracks, name):
    rows = gt_rows(tracks, name)
    assert set(rows[:, 6]) == {1} and ((rows[:, 8] >= 0) & (rows[:, 8] <= 1)).all()
    assert (rows[:, 8] < 1).any()  # occluded, yet kept with its true box
    assert (rows[:, 2:4] >= 0).all() and (rows[:, 2] + rows[:, 4] <= 128).all() and (rows[:, 3] + rows[:, 5] <= 128).all()
    frames = [rows[rows[:, 0] == k, 2:6] for k in range(1, 31)]
    assert max(iou(a, b) for boxes in frames for i, a in enumerate(boxes) for b in boxes[i + 1:]) > 0.3
    by_id = {i: rows[rows[:, 1] == i] for i in np.unique(rows[:, 1])}
    steps = np.concatenate([np.abs(np.diff(r[:, 2:4], axis=0)).max(1) for r in by_id.values()])
    assert steps.max() <= 6  # smooth: a few pixels a frame


def test_identities_differ_in_appearance_not_shape(tracks):
    """Mean colour of a fully visible object is its identity's, frame after frame; sizes overlap."""
    rows = gt_rows(tracks, "train/SYNTH-00")
    colours: dict[int, list] = {}
    for frame, ident, x, y, w, h, _, _, vis in rows:
        if vis == 1:
            img = cv2.imread(str(tracks.parent / "train/SYNTH-00/img1" / f"{int(frame):06d}.jpg"))
            colours.setdefault(int(ident), []).append(img[int(y) + 2:int(y + h) - 2, int(x) + 2:int(x + w) - 2].mean((0, 1)))
    means = {i: np.mean(c, 0) for i, c in colours.items() if len(c) > 2}
    assert len(means) >= 3
    spread = max(np.linalg.norm(np.array(c) - means[i], axis=1).max() for i, c in colours.items() if i in means)
    apart = min(np.linalg.norm(means[a] - means[b]) for a in means for b in means if a < b)
    assert apart > 2 * spread
    sizes = rows[:, 4:6]
    assert sizes.max(0).tolist() <= [0.13 * 128, 0.2 * 128] and sizes.min(0).tolist() >= [0.09 * 128, 0.14 * 128]


def test_data_synth_tracks_command(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["data", "synth", "--tracks", "--out", str(out), "--sequences", "2", "--frames", "8", "--img", "64"]) == 0
    assert f"wrote {out / 'data.yaml'}" in capsys.readouterr().out
    raw = yaml.safe_load((out / "data.yaml").read_text())
    assert raw["train"] == ["train/SYNTH-00", "train/SYNTH-01"] and raw["val"] == ["val/SYNTH-02"]
    assert len(list((out / "val/SYNTH-02/img1").glob("*.jpg"))) == 8
    before = sorted(out.rglob("*"))
    assert main(["data", "synth", "--tracks", "--out", str(out)]) == 1
    assert "exists and is not empty" in capsys.readouterr().err and sorted(out.rglob("*")) == before
    assert main(["data", "synth", "--tracks", "--n-train", "3", "--out", str(tmp_path / "u")]) == 1
    assert "--n-train count images; with --tracks give --sequences" in capsys.readouterr().err
    assert main(["data", "synth", "--frames", "8", "--out", str(tmp_path / "u")]) == 1
    assert "--frames only go with --tracks" in capsys.readouterr().err and not (tmp_path / "u").exists()


def test_api_synth_tracks_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLOR_CFG_CACHE", str(tmp_path))
    data = api.synth(1, 1, img=64, tracks=True, frames=5)
    assert data == tmp_path / "synth-tracks-1-1-5-64-0" / "data.yaml" and api.synth(1, 1, img=64, tracks=True, frames=5) == data
    assert len(build_index(DataConfig.load(data), "val").images) == 5
