"""Our COCO numbers are pycocotools' numbers; checked against hand-computed APs."""
import pytest

from yolor_cfg.workflows.eval.coco import evaluate, per_class_ap, plot_pr_curve

GT = {"images": [{"id": 0, "width": 100, "height": 100}, {"id": 1, "width": 100, "height": 100}],
      "categories": [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}],
      "annotations": [
          {"id": 1, "image_id": 0, "category_id": 0, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0},
          {"id": 2, "image_id": 1, "category_id": 0, "bbox": [50, 50, 40, 40], "area": 1600, "iscrowd": 0},
          {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30], "area": 900, "iscrowd": 0}]}


def det(image, cat, box, score):
    return {"image_id": image, "category_id": cat, "bbox": box, "score": score}


def test_perfect_predictions_give_ap_1():
    preds = [det(a["image_id"], a["category_id"], a["bbox"], 0.9) for a in GT["annotations"]]
    metrics, e = evaluate(GT, preds, verbose=False)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert [r["AP"] for r in per_class_ap(e, ["a", "b"])] == pytest.approx([1.0, 1.0])


def test_hand_computed_ap():
    # class a: the best-scored detection is a false positive, then one exact hit; the second box is missed.
    # ranked: FP (p=0), TP (p=1/2, r=1/2) -> interpolated precision 1/2 for recall <= 1/2, 0 above:
    # 51 of COCO's 101 recall points -> AP = 0.5 * 51 / 101 at every IoU threshold.
    # class b: found exactly -> AP 1. Mean over classes.
    preds = [det(0, 0, [60, 60, 20, 20], 0.95), det(0, 0, [10, 10, 40, 40], 0.9), det(1, 1, [0, 0, 30, 30], 0.8)]
    metrics, e = evaluate(GT, preds, verbose=False)
    ap_a = 0.5 * 51 / 101
    assert metrics["AP50"] == pytest.approx((ap_a + 1) / 2, abs=1e-6)
    assert metrics["AP"] == pytest.approx((ap_a + 1) / 2, abs=1e-6)
    rows = per_class_ap(e, ["a", "b"])
    assert rows[0]["AP50"] == pytest.approx(ap_a, abs=1e-6) and rows[1]["AP"] == pytest.approx(1.0)


def test_iou_thresholds_are_pycocotools():
    # image 0's box has IoU 0.675 with its ground truth: a hit at thresholds .50-.65 (4 of 10);
    # above, the exact hit (ranked first) gives precision 1 up to recall 1/2: AP 51/101 there
    preds = [det(0, 0, [10, 10, 40, 27], 0.9), det(1, 0, [50, 50, 40, 40], 0.95), det(1, 1, [0, 0, 30, 30], 0.9)]
    metrics, _ = evaluate(GT, preds, verbose=False)
    ap_a = (4 * 1.0 + 6 * 51 / 101) / 10
    assert metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AP"] == pytest.approx((ap_a + 1.0) / 2, abs=1e-6)


def test_pr_curve_png(tmp_path):
    preds = [det(a["image_id"], a["category_id"], a["bbox"], 0.9) for a in GT["annotations"]]
    _, e = evaluate(GT, preds, verbose=False)
    plot_pr_curve(e, ["a", "b"], tmp_path / "pr.png")
    assert (tmp_path / "pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
