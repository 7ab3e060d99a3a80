"""Datasets: checks and skips bad entries, caches labels, deterministic synthesis and augmentation."""
import json
import re

import cv2
import numpy as np
import pytest
import yaml

from yolor_cfg.workflows.train.data import DataConfig, DataError, DetectionDataset, build_index, collate, index_coco
from yolor_cfg.workflows.train.synth import build_synth


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return build_synth(root, n_train=12, n_val=4, img=64, seed=3)


def test_synth_is_deterministic_per_seed(tmp_path, synth):
    again = build_synth(tmp_path / "again", n_train=12, n_val=4, img=64, seed=3)
    for name in ("labels/train/train_00005.txt", "labels/val/val_00001.txt"):
        assert (synth.parent / name).read_text() == (again.parent / name).read_text()
    a = cv2.imread(str(synth.parent / "images/train/train_00005.png"))
    b = cv2.imread(str(again.parent / "images/train/train_00005.png"))
    assert np.array_equal(a, b)
    coco = json.loads((synth.parent / "val_coco.json").read_text())
    assert len(coco["images"]) == 4 and {c["name"] for c in coco["categories"]} == {"circle", "square", "triangle"}


def test_corrupt_entries_are_skipped_and_listed(tmp_path):
    root = tmp_path / "ds"
    build_synth(root, n_train=6, n_val=2, img=64, seed=0)
    images, labels = root / "images" / "train", root / "labels" / "train"
    (images / "train_00000.png").write_bytes(b"not a png")                  # corrupt image
    (images / "train_00001.png").write_bytes(b"")                           # empty image file
    (labels / "train_00002.txt").write_text("0 1.5 0.5 0.2 0.2\n")          # out-of-range box
    (labels / "train_00003.txt").write_text("7 0.5 0.5 0.2 0.2\n")          # unknown class
    (labels / "train_00004.txt").write_text("0 0.5 zero\n")                 # unreadable label
    index = build_index(DataConfig.load(root / "data.yaml"), "train")
    assert len(index.images) == 1
    reasons = {p.file.split("/")[-1]: p.reason for p in index.skipped}
    assert reasons == {"train_00000.png": "corrupt or unreadable image", "train_00001.png": "empty image file",
                       "train_00002.png": "box out of range (values must be normalised to 0-1, sizes > 0)",
                       "train_00003.png": "unknown class 7 (nc=3)",
                       "train_00004.png": f"{labels / 'train_00004.txt'}:1: 3 values; a label row is class cx cy w h "
                                          "(5 values; segmentation polygons are not read)"}
    assert "5 skipped" in index.summary() and "train_00003.png: unknown class 7" in index.summary()
    cached = build_index(DataConfig.load(root / "data.yaml"), "train")  # from the cache
    assert cached.images == index.images and len(cached.skipped) == 5


def test_data_yaml_errors(tmp_path):
    (tmp_path / "d.yaml").write_text("train: a\nnc: 2\n")
    with pytest.raises(DataError, match="needs val"):
        DataConfig.load(tmp_path / "d.yaml")


def test_coco_json_dataset(synth):
    index, cat_map = index_coco(synth.parent / "images" / "val", synth.parent / "val_coco.json", 3)
    yolo = build_index(DataConfig.load(synth), "val")
    assert cat_map == {0: 0, 1: 1, 2: 2} and index.images == yolo.images
    for a, b in zip(index.labels, yolo.labels):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_augmentation_is_deterministic_and_labels_stay_valid(synth):
    hyp = yaml.safe_load("{mosaic: 1.0, scale: 0.5, translate: 0.1, degrees: 5, hsv_h: 0.015, hsv_s: 0.7, "
                         "hsv_v: 0.4, fliplr: 0.5}")
    index = build_index(DataConfig.load(synth), "train")
    ds = DetectionDataset(index, 64, augment=True, hyp=hyp, seed=1)
    a, b = ds[3], ds[3]
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    ds.set_epoch(1)
    assert not (ds[3][0] == a[0]).all()
    images, targets, _, _ = collate([ds[i] for i in range(6)])
    assert images.shape == (6, 3, 64, 64) and targets.shape[1] == 6
    assert ((targets[:, 2:] >= 0) & (targets[:, 2:] <= 1)).all()


def test_mixup_blends_two_mosaics(tmp_path):
    index = build_index(DataConfig.load(build_synth(tmp_path, 8, 2, 64, 0)), "train")
    hyp = {"mosaic": 1.0, "scale": 0.5, "translate": 0.1}
    plain = DetectionDataset(index, 64, augment=True, hyp=hyp, seed=0)[0]
    mixed = DetectionDataset(index, 64, augment=True, hyp=hyp | {"mixup": 1.0}, seed=0)[0]
    assert len(mixed[1]) >= len(plain[1]) and not (mixed[0] == plain[0]).all()


def test_label_rows_are_read_line_by_line(tmp_path):
    """A 6-column row was reshaped into 5-column garbage ('unknown class 0'); now its line is named."""
    root = tmp_path / "ds"
    build_synth(root, n_train=3, n_val=1, img=64, seed=0)
    labels = root / "labels" / "train"
    (labels / "train_00000.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n" * 5)  # 30 values: 6 rows of 5 before
    (labels / "train_00001.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.x 0.2\n")
    index = build_index(DataConfig.load(root / "data.yaml"), "train", cache=False)
    reasons = {p.file.split("/")[-1]: p.reason for p in index.skipped}
    assert reasons["train_00000.png"].endswith("train_00000.txt:1: 6 values; a label row is class cx cy w h "
                                               "(5 values; segmentation polygons are not read)")
    assert reasons["train_00001.png"].endswith("train_00001.txt:2: not numbers: 1 0.5 0.5 0.x 0.2")


def test_a_split_may_list_several_sources(tmp_path, synth):
    """train: [dirA, dirB], as other YOLO trainers accept; and a relative path: is the yaml's folder's."""
    root = synth.parent
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text(yaml.safe_dump({
        "path": "..", "train": [str(root / "images" / "train"), str(root / "images" / "val")],
        "val": str(root / "images" / "val"), "nc": 3}))
    data = DataConfig.load(tmp_path / "sub" / "d.yaml")
    assert data.root == tmp_path / "sub" / ".."
    assert len(build_index(data, "train").images) == 12 + 4
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"train": [], "val": "x", "nc": 3}))
    with pytest.raises(DataError, match="an empty list"):
        build_index(DataConfig.load(tmp_path / "e.yaml"), "train")
    (tmp_path / "f.yaml").write_text(yaml.safe_dump({"train": [3], "val": "x", "nc": 3}))
    with pytest.raises(DataError, match="3 is not a folder"):
        build_index(DataConfig.load(tmp_path / "f.yaml"), "train")


@pytest.mark.parametrize("text, message", [
    ('{"images": [', "not valid JSON at line 1, column 13: Expecting value (the file looks cut short)"),
    ('[1, 2]', "the top level is a list"),
    ('{"images": [], "categories": []}', "no 'annotations' list"),
    ('{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [], "categories": []}',
     "images[0] (a.png): width and height must be positive numbers, got None x None"),
    ('{"images": [], "annotations": [{"image_id": 1, "category_id": 0, "bbox": [1, 2]}], "categories": []}',
     "annotations[0]: bbox must be [x, y, width, height], got [1, 2]"),
])
def test_coco_json_problems_are_named(tmp_path, synth, text, message):
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(DataError, match=re.escape(message)):
        index_coco(synth.parent / "images" / "val", tmp_path / "bad.json", 3)


def test_a_truncated_jpeg_is_skipped_with_its_reason(tmp_path):
    root = tmp_path / "ds"
    build_synth(root, n_train=3, n_val=1, img=64, seed=0)
    png = root / "images" / "train" / "train_00000.png"
    ok, jpg = cv2.imencode(".jpg", cv2.imread(str(png)))
    png.unlink()
    (png.with_suffix(".jpg")).write_bytes(jpg.tobytes()[: len(jpg) // 2])
    index = build_index(DataConfig.load(root / "data.yaml"), "train", cache=False)
    reasons = {p.file.split("/")[-1]: p.reason for p in index.skipped}
    assert reasons == {"train_00000.jpg": "truncated JPEG (no end-of-image marker: the rest would decode as grey)"}


def test_data_yaml_names_mapping_and_bad_nc(tmp_path):
    (tmp_path / "d.yaml").write_text("train: images\nval: images\nnc: 2\nnames: {0: circle, 1: square}\n")
    assert DataConfig.load(tmp_path / "d.yaml").names == ["circle", "square"]
    (tmp_path / "d.yaml").write_text("train: images\nval: images\nnc: three\nnames: [a, b, c]\n")
    with pytest.raises(DataError, match="nc must be a whole number of classes"):
        DataConfig.load(tmp_path / "d.yaml")
    (tmp_path / "d.yaml").write_text("train: images\nval: images\nnc: 2\nnames: {1: a, 2: b}\n")
    with pytest.raises(DataError, match="keys 0 to 1"):
        DataConfig.load(tmp_path / "d.yaml")


def test_images_without_labels_are_listed_as_backgrounds(tmp_path):
    data = build_synth(tmp_path, n_train=1, n_val=4, img=64, seed=0)
    labels = sorted((tmp_path / "labels" / "val").glob("*.txt"))
    labels[0].unlink()
    summary = build_index(DataConfig.load(data), "val").summary()
    assert "1 without a label file, used as backgrounds" in summary and labels[0].stem in summary
