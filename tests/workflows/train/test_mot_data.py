"""Identity labels: MOTChallenge sequences and JDE label files read, checked line by line, made global,
and carried by the dataset through every augmentation with their boxes."""
import dataclasses
import re

import cv2
import numpy as np
import pytest
import yaml

from yolor_cfg.workflows.train.data import DataConfig, DataError, DetectionDataset, build_index, collate
from yolor_cfg.workflows.train.mot_data import find_sequences, read_jde_labels, read_mot_gt
from yolor_cfg.workflows.train.synth import build_synth

H, W = 40, 60


def sequence(folder, gt: str, frames=3, size=(H, W), seqinfo: dict | None = None):
    """A MOTChallenge sequence folder with ``frames`` flat frames of ``size`` (height, width)."""
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    for k in range(frames):
        cv2.imwrite(str(folder / "img1" / f"{k + 1:06d}.png"), np.full((*size, 3), 30 * k % 256, np.uint8))
    (folder / "gt" / "gt.txt").write_text(gt)
    info = {"name": folder.name, "imDir": "img1", "frameRate": 25, "seqLength": frames, "imWidth": size[1],
            "imHeight": size[0], "imExt": ".png"} | (seqinfo or {})
    (folder / "seqinfo.ini").write_text("[Sequence]\n" + "".join(f"{k}={v}\n" for k, v in info.items()))
    return folder


def data_yaml(path, **entries):
    path.write_text(yaml.safe_dump({"nc": 1, "names": ["person"]} | entries))
    return DataConfig.load(path)


GOOD = ("1,7,10,5,20,10,1,1,1.0\n"
        "1,9,0,0,5,5,0,8,0.2\n"           # flag 0: ignored
        "2,7,-10,30,20,20,1,1,0.5\n"      # clipped to the image: x 0..10, y 30..40
        "3,9,100,100,10,10,1,2,1\n"       # wholly outside: dropped
        "3,7,50,0,10,10,1,2,1\n")


def test_mot_gt_rows_become_normalised_clipped_labels(tmp_path):
    rows, ids = read_mot_gt(sequence(tmp_path / "s", GOOD) / "gt" / "gt.txt", 3, (H, W), nc=2)
    np.testing.assert_allclose(rows[0], [[0, 20 / W, 10 / H, 20 / W, 10 / H]], rtol=1e-6)
    np.testing.assert_allclose(rows[1], [[0, 5 / W, 35 / H, 10 / W, 10 / H]], rtol=1e-6)
    np.testing.assert_allclose(rows[2], [[1, 55 / W, 5 / H, 10 / W, 10 / H]], rtol=1e-6)  # class 2 -> names[1]
    assert [i.tolist() for i in ids] == [[7], [7], [7]]
    rows, _ = read_mot_gt(tmp_path / "s" / "gt" / "gt.txt", 3, (H, W), nc=1)
    assert rows[2][0, 0] == 0  # nc 1: every row is class 0


@pytest.mark.parametrize("line, message", [
    ("1,7,10,5,20,10,1,1", "8 values; a MOTChallenge gt row is frame,id,left,top,width,height,flag,class,visibility"),
    ("1,7,10,5,twenty,10,1,1,1", "not numbers: 1,7,10,5,twenty,10,1,1,1"),
    ("1,7,10,5,-20,10,1,1,1", "width and height must be > 0, got -20 x 10"),
    ("4,7,10,5,20,10,1,1,1", "frame 4 out of range (the sequence has frames 1 to 3)"),
    ("0,7,10,5,20,10,0,1,1", "frame 0 out of range"),
    ("1,1,10,5,20,10,1,1,1", "frame 1 identity 1 again (first at line 1)"),
    ("1,2.5,10,5,20,10,1,1,1", "identity 2.5 is not a whole number"),
    ("1,2,10,5,20,10,1,3,1", "class 3 is not one of 1 to 2 (MOTChallenge classes count from 1"),
    ("1,2,10,5,nan,10,1,1,1", "non-finite values"),
])
def test_malformed_gt_rows_name_file_and_line(tmp_path, line, message):
    gt = sequence(tmp_path / "s", "1,1,0,0,5,5,1,1,1\n\n" + line + "\n") / "gt" / "gt.txt"
    with pytest.raises(DataError, match=re.escape(f"{gt}:3: {message}")):
        read_mot_gt(gt, 3, (H, W), nc=2)


def test_identities_are_global_across_sequences_and_sources(tmp_path):
    gt = "1,1,0,0,10,10,1,1,1\n1,5,20,0,10,10,1,1,1\n2,5,22,0,10,10,1,1,1\n"
    sequence(tmp_path / "mot" / "A", gt)
    sequence(tmp_path / "mot" / "B", gt)
    build_synth(tmp_path / "yolo", n_train=2, n_val=1, img=64, seed=0)
    cfg = data_yaml(tmp_path / "d.yaml", train=["mot/A", "mot/B"], val="mot")
    index = build_index(cfg, "train")
    assert len(index.images) == 6 and index.num_ids == 4
    assert [i.tolist() for i in index.ids] == [[0, 1], [1], [], [2, 3], [3], []]
    assert [s.name for s in index.sequences] == ["A", "B"] and "4 identities in 2 sequences" in index.summary()
    val = build_index(cfg, "val")  # a folder of sequences, as MOT17/train
    assert [i.tolist() for i in val.ids] == [i.tolist() for i in index.ids]
    seqs = cfg.sequences("val")
    assert [(s.name, len(s.frames), s.fps, s.size) for s in seqs] == [("A", 3, 25.0, (H, W)), ("B", 3, 25.0, (H, W))]
    assert seqs[0].gt == tmp_path / "mot" / "A" / "gt" / "gt.txt" and seqs[0].frames[0].name == "000001.png"
    mixed = build_index(data_yaml(tmp_path / "m.yaml", train=["yolo/images/train", "mot/B"], val="mot", nc=3,
                                  names=["circle", "square", "triangle"]), "train")
    assert len(mixed.images) == 2 + 3 and not mixed.skipped
    assert mixed.num_ids == 2 and (mixed.ids[0] == -1).all() and len(mixed.ids[0]) == len(mixed.labels[0])
    assert mixed.ids[2].tolist() == [0, 1]
    assert build_index(data_yaml(tmp_path / "y.yaml", train="yolo/images/train", val="x", nc=3,
                                 names=["circle", "square", "triangle"]), "train").ids is None


def test_sequence_folders_are_checked(tmp_path):
    sequence(tmp_path / "long", "", seqinfo={"seqLength": 5})
    with pytest.raises(DataError, match="seqLength=5 but .* has 3 frames"):
        build_index(data_yaml(tmp_path / "a.yaml", train="long", val="long"), "train")
    sequence(tmp_path / "wide", "", seqinfo={"imWidth": 99})
    with pytest.raises(DataError, match="imWidth x imHeight = 99 x 40 but 000001.png is 60 x 40"):
        build_index(data_yaml(tmp_path / "b.yaml", train="wide", val="wide"), "train")
    (tmp_path / "mixed" / "notes").mkdir(parents=True)
    sequence(tmp_path / "mixed" / "S", "")
    with pytest.raises(DataError, match="a folder of MOTChallenge sequences, but notes is not one"):
        find_sequences(tmp_path / "mixed")
    (tmp_path / "test" / "img1").mkdir(parents=True)
    (tmp_path / "test" / "seqinfo.ini").write_text("[Sequence]\nname=test\n")
    cv2.imwrite(str(tmp_path / "test" / "img1" / "000001.jpg"), np.zeros((8, 8, 3), np.uint8))
    cfg = data_yaml(tmp_path / "c.yaml", train="test", val="test")
    assert cfg.sequences("val")[0].gt is None and cfg.sequences("val")[0].fps is None  # a test sequence
    with pytest.raises(DataError, match="no gt/gt.txt"):
        build_index(cfg, "train")


def jde_dataset(root, rows: dict[str, str]):
    for name, text in rows.items():
        for split in ("train", "val"):
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "images" / split / f"{name}.png"), np.full((32, 32, 3), 90, np.uint8))
            (root / "labels" / split / f"{name}.txt").write_text(text)
    return data_yaml(root / "d.yaml", train="images/train", val="images/val", labels="jde", nc=2, names=["a", "b"])


def test_jde_label_files(tmp_path):
    cfg = jde_dataset(tmp_path, {"a": "0 4 0.5 0.5 0.2 0.2\n1 -1 0.3 0.3 0.1 0.1\n", "b": "0 9 0.5 0.5 0.2 0.2\n",
                                 "c": "0 4 0.5 0.5 0.2\n", "d": "0 x 0.5 0.5 0.2 0.2\n", "e": "0 1 0.5 0.5 -0.2 0.2\n",
                                 "f": "0 -3 0.5 0.5 0.2 0.2\n", "g": "5 1 0.5 0.5 0.2 0.2\n"})
    index = build_index(cfg, "train")
    assert [i.tolist() for i in index.ids] == [[0, -1], [1]] and index.num_ids == 2
    np.testing.assert_allclose(index.labels[0][1], [1, 0.3, 0.3, 0.1, 0.1], rtol=1e-6)
    labels = tmp_path / "labels" / "train"
    reasons = {p.file.split("/")[-1]: p.reason for p in index.skipped}
    assert reasons == {
        "c.png": f"{labels / 'c.txt'}:1: 5 values; a JDE label row is class identity cx cy w h (6 values)",
        "d.png": f"{labels / 'd.txt'}:1: not numbers: 0 x 0.5 0.5 0.2 0.2",
        "e.png": f"{labels / 'e.txt'}:1: width and height must be > 0, got -0.2 x 0.2",
        "f.png": f"{labels / 'f.txt'}:1: identity -3 is not a whole number of 0 or more (or -1, unknown)",
        "g.png": "unknown class 5 (nc=2)"}
    cached = build_index(cfg, "train")
    assert [i.tolist() for i in cached.ids] == [[0, -1], [1]] and cached.num_ids == 2
    with pytest.raises(DataError, match=re.escape(f"{labels / 'c.txt'}:1: 5 values")):
        read_jde_labels(labels / "c.txt")
    cfg.labels = "yolo"  # the same files read as YOLO labels: a 6-value row is a mistake there
    assert "6 values; a label row is class cx cy w h" in build_index(cfg, "train", cache=False).skipped[0].reason
    (tmp_path / "bad.yaml").write_text("train: a\nval: a\nnc: 1\nlabels: mot\n")
    with pytest.raises(DataError, match="labels must be one of yolo, jde"):
        DataConfig.load(tmp_path / "bad.yaml")


# Identity k's box has its own shape: (w, h) in pixels of a 64x64 frame; aspect ratios 1/4 ... 4.
SHAPES = {1: (6, 24), 2: (12, 24), 3: (16, 16), 4: (24, 12), 5: (24, 6)}


@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    root = tmp_path_factory.mktemp("shaped")
    rng = np.random.default_rng(0)
    gt = []
    for frame in range(1, 9):
        for k, (x, y) in enumerate(rng.permutation([(2, 2), (34, 2), (2, 34), (34, 34), (20, 20)]), 1):
            gt.append(f"{frame},{k},{x},{y},{SHAPES[k][0]},{SHAPES[k][1]},1,1,1")
    sequence(root / "S", "\n".join(gt) + "\n", frames=8, size=(64, 64))
    return build_index(data_yaml(root / "d.yaml", train="S", val="S"), "train")


@pytest.mark.parametrize("hyp", [
    {"mosaic": 1.0, "mixup": 0.5, "scale": 0.3, "translate": 0.1, "fliplr": 0.5, "flipud": 0.5},
    {"mosaic": 0.0, "scale": 0.3, "translate": 0.1, "fliplr": 0.5, "flipud": 0.5, "hsv_v": 0.4},
])
def test_identities_stay_with_their_boxes_through_augmentation(shaped, hyp):
    # identities past 2 x img_size, as a large dataset has: a clip meant for the boxes must not touch them
    index = dataclasses.replace(shaped, ids=[x + 1000 for x in shaped.ids])
    ds = DetectionDataset(index, 64, augment=True, hyp=hyp, seed=2)
    _, targets, _, _ = collate([ds[i % len(ds)] for i in range(32)])
    targets[:, 6] -= 1000
    assert targets.shape[1] == 7 and set(targets[:, 6].tolist()) <= {0, 1, 2, 3, 4}
    x1, y1 = (targets[:, 2] - targets[:, 4] / 2) * 64, (targets[:, 3] - targets[:, 5] / 2) * 64
    x2, y2 = (targets[:, 2] + targets[:, 4] / 2) * 64, (targets[:, 3] + targets[:, 5] / 2) * 64
    whole = (x1 > 0.5) & (y1 > 0.5) & (x2 < 63.5) & (y2 < 63.5)  # not cut by a border or a mosaic seam
    assert whole.sum() > 20
    aspect = (targets[whole, 4] / targets[whole, 5]).numpy()
    expected = np.array([SHAPES[int(i) + 1][0] / SHAPES[int(i) + 1][1] for i in targets[whole, 6]])
    np.testing.assert_allclose(aspect, expected, rtol=0.01)


def test_plain_labels_keep_six_columns_and_identities_come_back_unaugmented(shaped, tmp_path):
    image, labels, _, _ = DetectionDataset(shaped, 64)[0]
    assert labels.shape == (5, 7)
    for row in labels:
        w, h = SHAPES[int(row[6]) + 1]
        np.testing.assert_allclose(row[4:6].numpy(), [w / 64, h / 64], rtol=1e-5)
    index = build_index(DataConfig.load(build_synth(tmp_path, 2, 1, 64, 0)), "train")
    assert DetectionDataset(index, 64, augment=True, hyp={"mosaic": 1.0})[0][1].shape[1] == 6
