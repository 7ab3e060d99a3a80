"""Darknet .weights: exact against OpenCV's Darknet importer, lossless round trips, strict sizes."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.core.errors import WeightsError
from yolor_cfg.compiler.io import DarknetHeader, load_darknet_weights, save_darknet_weights

from tests.helpers import shared_path
from tests.compiler.io.oracle import opencv_output_names, randomize_unit_spread

DATA = Path(__file__).resolve().parents[2] / "data" / "darknet"
cv2 = pytest.importorskip("cv2")


def cfg_path(name: str) -> Path:
    own = DATA / f"{name}.cfg"
    return own if own.exists() else shared_path("reference-cfg", "darknet", f"{name}.cfg")


def random_model(cfg, size, seed=0):
    model = yolor_cfg.compile(cfg, img_size=size).double().eval()
    x = torch.rand(1, 3, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    randomize_unit_spread(model, x, seed)
    return model, x


def write_opencv_copy(model, cfg, size, path):
    """Same weights, rolling variance + 9e-6, so OpenCV (BN eps 1e-6) computes Darknet's eps 1e-5."""
    copy = yolor_cfg.compile(cfg, img_size=size)
    copy.load_state_dict({k: v.float() + (9e-6 if k.endswith("running_var") else 0) for k, v in model.state_dict().items()})
    save_darknet_weights(copy, path)


def relative(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-12))


@pytest.mark.parametrize("name, size", [("yolov3-tiny", 128), ("yolov4-tiny", 128), ("yolov3", 128), ("yolov4", 128),
                                        ("yolov4-csp", 128), ("yolov2-tiny", 128), ("classifier", 64),
                                        ("shortcut", 32)])
def test_matches_opencv_darknet_importer(tmp_path, name, size):
    cfg = cfg_path(name)
    model, x = random_model(cfg, size)
    weights = tmp_path / "cv.weights"
    write_opencv_copy(model, cfg, size, weights)
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.enableFusion(False)  # fused nets return stale intermediate blobs
    net.enableWinograd(False)  # Winograd's float32 error would dominate the comparison
    names = opencv_output_names(list(net.getLayerNames()))
    graph = model.graph
    heads = graph.heads
    compared = [h.inputs[0] for h in heads] or [len(graph.nodes) - 1]
    decoded_names = ["detection_out" if h.kind == "region" else names[h.index] for h in heads]
    net.setInput(x.float().numpy())
    outs = net.forward([names[i] for i in compared] + decoded_names)
    with torch.no_grad():
        trace = model.trace(x)
    for i, out in zip(compared, outs):
        ours = trace[i].numpy()
        assert relative(ours, np.asarray(out).reshape(ours.shape)) <= 1e-4, (name, i)
    for head, out in zip(heads, outs[len(compared):]):
        dec = model.module_list[head.index].decode(trace[head.index])[0].numpy()  # anchors x H x W x (5+nc)
        na, h, w, _ = dec.shape
        ref = np.asarray(out).reshape(h, w, na, -1).transpose(2, 0, 1, 3)  # OpenCV: cell-major, then anchor
        assert relative(dec[..., :4] / size, ref[..., :4]) <= 1e-4, (name, head.index, "boxes")
        assert np.abs(dec[..., 4] - ref[..., 4]).max() <= 1e-4
        kept = ref[..., 5:] > 0  # OpenCV reports objectness x class probability above its threshold
        assert np.abs((dec[..., 5:] * dec[..., 4:5])[kept] - ref[..., 5:][kept]).max() <= 1e-4


@pytest.mark.parametrize("version", [(0, 1, 0), (0, 2, 5)])
def test_weights_pt_weights_is_byte_identical(tmp_path, version, capsys):
    cfg = cfg_path("yolov4-tiny")
    model, _ = random_model(cfg, 128)
    model.float()
    header = DarknetHeader(*version, seen=123456)
    original = tmp_path / "a.weights"
    save_darknet_weights(model, original, header)
    assert original.stat().st_size == (16 if version == (0, 1, 0) else 20) + 4 * 6_062_814
    assert main(["convert", "--cfg", str(cfg), "--weights", str(original), "--out", str(tmp_path / "a.pt")]) == 0
    assert main(["convert", "--cfg", str(cfg), "--weights", str(tmp_path / "a.pt"), "--out", str(tmp_path / "b.weights")]) == 0
    assert original.read_bytes() == (tmp_path / "b.weights").read_bytes()
    report = load_darknet_weights(yolor_cfg.compile(cfg), original)
    assert report.header == header and report.layers_loaded == len(model.graph.nodes)


def test_pt_weights_pt_gives_identical_tensors(tmp_path):
    cfg = cfg_path("classifier")
    model, _ = random_model(cfg, 64)
    model.float().save_weights(tmp_path / "a.pt")
    assert main(["convert", "--cfg", str(cfg), "--weights", str(tmp_path / "a.pt"), "--out", str(tmp_path / "a.weights")]) == 0
    assert main(["convert", "--cfg", str(cfg), "--weights", str(tmp_path / "a.weights"), "--out", str(tmp_path / "b.pt")]) == 0
    a, b = yolor_cfg.load(tmp_path / "a.pt"), yolor_cfg.load(tmp_path / "b.pt")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and (torch.equal(va, vb) or ka.endswith("num_batches_tracked"))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    cfg = cfg_path("yolov4-tiny")
    model = yolor_cfg.compile(cfg, img_size=128)
    path = tmp_path_factory.mktemp("w") / "tiny.weights"
    save_darknet_weights(model, path)
    return cfg, path


def test_a_cut_at_any_byte_names_the_layer(tmp_path):
    """A real-size file (yolov4-tiny, 24 MB) cut at 20 random offsets, aligned to a float or not."""
    model = yolor_cfg.compile(cfg_path("yolov4-tiny"), img_size=416)
    whole = tmp_path / "whole.weights"
    save_darknet_weights(model, whole)
    data = whole.read_bytes()
    rng = np.random.default_rng(0)
    offsets = [int(o) for o in rng.integers(20, len(data) - 1, size=20)]
    offsets = [o - o % 4 + i % 4 for i, o in enumerate(offsets)]  # cuts between floats and 1-3 bytes into one
    cut = tmp_path / "cut.weights"
    for offset in offsets:
        cut.write_bytes(data[:offset])
        with pytest.raises(WeightsError, match=r"ends inside layer \d+ \[\w+\] \(line \d+\): "
                                               r"it needs [\d,]+ floats, [\d,]+ are left") as info:
            model.load_weights(cut)
        assert ("stray bytes" in str(info.value)) == bool(offset % 4)
    cut.write_bytes(data[:10])
    with pytest.raises(WeightsError, match=r"ends inside the .weights header .*before layer 0 \[convolutional\]"):
        model.load_weights(cut)
    cut.write_bytes(data + b"\x01\x02")
    with pytest.raises(WeightsError, match=r"2 stray bytes after the last float of layer 36 \[convolutional\] \(line 270\)"):
        model.load_weights(cut)


@pytest.mark.parametrize("content, looks_like", [
    (b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n", "an HTML page"),
    (b"yolov4-tiny weights: download from the release page\n" * 3, "a text file (it starts with 'yolov4-tiny"),
    (b"\x1f\x8b\x08\x00" + bytes(40), "a gzip archive"),
    (b"\xff\xff\xff\xff" + bytes(40), "binary data whose header is no Darknet version (-1.0.0)"),
])
def test_a_file_that_is_not_weights_says_what_it_is(tmp_path, tiny_weights, content, looks_like):
    cfg, _ = tiny_weights
    path = tmp_path / "model.weights"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="not a Darknet .weights file: this is " + re.escape(looks_like)):
        load_darknet_weights(yolor_cfg.compile(cfg, img_size=128), path)


def test_a_pt_file_named_weights_is_recognised(tmp_path, tiny_weights):
    cfg, _ = tiny_weights
    model = yolor_cfg.compile(cfg, img_size=128)
    renamed = tmp_path / "model.weights"
    model.save_weights(tmp_path / "model.pt")
    (tmp_path / "model.pt").rename(renamed)
    with pytest.raises(WeightsError, match="this is a zip archive: a PyTorch .pt checkpoint"):
        load_darknet_weights(model, renamed)
    model.load_weights(renamed)  # by content, the general loader reads it as the checkpoint it is


def test_extra_bytes_are_an_error(tmp_path, tiny_weights):
    cfg, path = tiny_weights
    longer = tmp_path / "long.weights"
    longer.write_bytes(path.read_bytes() + b"\0" * 40)
    with pytest.raises(WeightsError, match="10 floats are left after the last layer"):
        yolor_cfg.compile(cfg, img_size=128).load_weights(longer)


def test_partial_loads_backbone_into_other_class_count(tmp_path, tiny_weights):
    cfg, path = tiny_weights
    text = cfg.read_text().replace("classes=80", "classes=3").replace("filters=255", "filters=24")
    other = tmp_path / "tiny3.cfg"
    other.write_text(text)
    model = yolor_cfg.compile(other, img_size=128)
    with pytest.raises(WeightsError):
        model.load_weights(path)
    report = model.load_weights(path, partial=True)
    assert report.layers_loaded == 29 and report.stopped_before == 29
    src = yolor_cfg.compile(cfg, img_size=128)
    src.load_weights(path)
    assert torch.equal(model.module_list[27].Conv2d.weight, src.module_list[27].Conv2d.weight)
    # a Darknet-style backbone file (yolov4-tiny.conv.29) holds exactly those layers
    backbone = tmp_path / "tiny.conv.29"
    n_floats = report.floats_read
    backbone.write_bytes(path.read_bytes()[: 20 + 4 * n_floats])
    assert model.load_weights(backbone, partial=True).layers_loaded == 29
    assert main(["convert", "--cfg", str(other), "--weights", str(path), "--out", str(tmp_path / "o.pt"), "--partial"]) == 0


def test_format_is_picked_from_content(tmp_path, tiny_weights):
    cfg, path = tiny_weights
    disguised = tmp_path / "looks_like.pt"
    disguised.write_bytes(path.read_bytes())
    by_content = yolor_cfg.compile(cfg, img_size=128)
    by_content.load_weights(disguised)
    by_name = yolor_cfg.compile(cfg, img_size=128)
    by_name.load_weights(path)
    for key, value in by_name.state_dict().items():
        assert torch.equal(by_content.state_dict()[key], value), key


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    victim = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Evil(str(victim))}, evil)
    model = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    with pytest.raises(WeightsError, match=r"refused: the pickle names \S+.*nothing in the file was run"):
        model.load_weights(evil)
    with pytest.raises(WeightsError, match=r"refused: the pickle names \S+"):
        yolor_cfg.load(evil)
    assert not victim.exists()


def test_checkpoint_alone_rebuilds_the_model(tmp_path):
    model = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg")).eval()
    model.save_weights(tmp_path / "ckpt.pt", names=["a", "b"], epoch=7)
    again = yolor_cfg.load(tmp_path / "ckpt.pt").eval()
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model(x)[0], again(x)[0])
    assert again.names == ["a", "b"] and again.checkpoint_extra["epoch"] == 7
    assert again.graph.dialect.name == "yolor"
