"""Tracking metrics, computed by TrackEval, on small cases worked out by hand."""
import sys

import numpy as np
import pytest

from tests.workflows.track.scenes import LOOKS, bounce, ground_truth
from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.track.metrics import evaluate, evaluate_sequence
from yolor_cfg.workflows.track.mot import from_tracker, table
from yolor_cfg.workflows.track.tracker import Tracker

FRAMES = np.repeat(np.arange(1, 5), 2)  # 4 frames, 2 objects far apart, boxes the same every frame
BOXES = np.array([[0, 0, 10, 10], [100, 0, 10, 10]] * 4, dtype=float)
GT = table(FRAMES, np.tile([1, 2], 4), BOXES)


@pytest.fixture(autouse=True)
def _trackeval(request):
    if "without_trackeval" not in request.node.name:
        pytest.importorskip("trackeval")


def test_a_perfect_tracker():
    m = evaluate_sequence(GT, table(FRAMES, np.tile([7, 9], 4), BOXES))  # any ids, kept
    assert (m["HOTA"], m["DetA"], m["AssA"], m["MOTA"], m["MOTP"], m["IDF1"]) == (1, 1, 1, 1, 1, 1)
    assert (m["IDSW"], m["CLR_TP"], m["CLR_FP"], m["CLR_FN"], m["MT"]) == (0, 8, 0, 0, 2)


def test_one_id_change():
    """Object 2's track changes id from frame 3 on (2, 2, 3, 3): one switch.
    MOTA = 1 - IDSW / gt = 1 - 1/8. IDF1: the best one-to-one map (1-1, 2-2) agrees on 4 + 2 of the 8
    boxes: IDTP 6, IDFP = IDFN = 2, IDF1 = 2*6 / (2*6 + 2 + 2) = 0.75.
    HOTA: every box is found at every IoU threshold (DetA 1); association accuracy per true positive is
    TPA / (TPA + FNA + FPA): 4/4 for object 1's four, 2/(2 + 2 + 0) for each of object 2's four: AssA
    0.75, HOTA = sqrt(DetA * AssA) = sqrt(0.75)."""
    m = evaluate_sequence(GT, table(FRAMES, [1, 2, 1, 2, 1, 3, 1, 3], BOXES))
    assert m["IDSW"] == 1
    assert m["MOTA"] == pytest.approx(0.875)
    assert (m["IDTP"], m["IDFP"], m["IDFN"]) == (6, 2, 2) and m["IDF1"] == pytest.approx(0.75)
    assert m["DetA"] == pytest.approx(1) and m["AssA"] == pytest.approx(0.75)
    assert m["HOTA"] == pytest.approx(np.sqrt(0.75))


def test_a_swap():
    """The two tracks exchange objects after frame 2: each object's track changes, IDSW 2, MOTA 1 - 2/8;
    each id agrees with one object on 2 of 4 frames: IDTP 4 of 8, IDF1 0.5; AssA 2/(2 + 2 + 2) = 1/3."""
    m = evaluate_sequence(GT, table(FRAMES, [1, 2, 1, 2, 2, 1, 2, 1], BOXES))
    assert m["IDSW"] == 2 and m["MOTA"] == pytest.approx(0.75) and m["IDF1"] == pytest.approx(0.5)
    assert m["AssA"] == pytest.approx(1 / 3) and m["HOTA"] == pytest.approx(np.sqrt(1 / 3))


def test_misses_false_positives_and_localisation():
    """One object, 4 frames; the tracker is right on frames 1-3 and puts its box elsewhere on frame 4: TP 3,
    FN 1, FP 1, MOTA = 1 - (1 + 1)/4 = 0.5, IDF1 = 2*3 / (2*3 + 1 + 1) = 0.75, DetA = 3 / (3 + 1 + 1) and
    AssA = 3 / (3 + 1 + 1), so HOTA 0.6. Then a box shifted by 2 px (IoU 8/12): MOTP 2/3, and HOTA, the
    mean over IoU thresholds 0.05 ... 0.95, is 1 at the 13 thresholds up to 0.65 and 0 above: 13/19."""
    gt = table([1, 2, 3, 4], [1] * 4, [[0, 0, 10, 10]] * 4)
    m = evaluate_sequence(gt, table([1, 2, 3, 4], [1] * 4, [[0, 0, 10, 10]] * 3 + [[50, 0, 10, 10]]))
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"]) == (3, 1, 1) and m["MOTA"] == pytest.approx(0.5)
    assert m["IDF1"] == pytest.approx(0.75)
    assert (m["DetA"], m["AssA"], m["HOTA"]) == pytest.approx((0.6, 0.6, 0.6))

    m = evaluate_sequence(table([1], [1], [[0, 0, 10, 10]]), table([1], [1], [[2, 0, 10, 10]]))
    assert m["MOTP"] == pytest.approx(2 / 3) and m["MOTA"] == 1
    assert m["HOTA"] == pytest.approx(13 / 19)


def test_sequences_combine():
    """Counts add up over sequences: IDSW 0 + 2, MOTA = 1 - 2/16."""
    swap = table(FRAMES, [1, 2, 1, 2, 2, 1, 2, 1], BOXES)
    m = evaluate({"a": (GT, GT), "b": (GT, swap)})
    assert set(m) == {"a", "b", "COMBINED"}
    assert m["COMBINED"]["IDSW"] == 2 and m["COMBINED"]["MOTA"] == pytest.approx(0.875)
    assert m["COMBINED"]["IDF1"] == pytest.approx((8 + 4) / 16)


def test_an_empty_tracker():
    m = evaluate_sequence(GT, table([], [], np.zeros((0, 4))))
    assert (m["MOTA"], m["HOTA"], m["CLR_FN"], m["ML"]) == (0, 0, 8, 2)


def test_an_id_twice_in_a_frame_is_refused():
    with pytest.raises(UsageError, match="an id is twice in frame 1 of the results"):
        evaluate_sequence(GT, table([1, 1], [5, 5], BOXES[:2]))


def test_the_bounce_scores_with_embeddings_and_without():
    """The crossing of test_tracker: embeddings keep both identities (IDSW 0, IDF1 1); IoU alone swaps
    them after the meeting: IDSW 2, and each id is right on 11 of the 21 frames, plus the frame after
    the swap, where the two objects are 12 px apart and the wrong box still has IoU >= 0.5 with the
    right object (IDF1 counts such frames: unlike CLEAR it does not match one-to-one per frame): 12/21."""
    frames = bounce()
    gt = ground_truth(frames)
    scores = {}
    for match in ("embed", "iou"):
        tracker = Tracker(match=match)
        scores[match] = evaluate_sequence(gt, from_tracker(tracker.update(b, [0.9, 0.9], LOOKS) for b in frames))
    assert (scores["embed"]["IDSW"], scores["embed"]["IDF1"], scores["embed"]["MOTA"]) == (0, 1, 1)
    assert scores["iou"]["IDSW"] == 2 and scores["iou"]["IDF1"] == pytest.approx(12 / 21)
    assert scores["iou"]["AssA"] < scores["embed"]["AssA"]


def test_without_trackeval_the_error_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "trackeval.metrics", None)
    with pytest.raises(UsageError, match="pip install --no-deps trackeval==1.3.0"):
        evaluate_sequence(GT, GT)
