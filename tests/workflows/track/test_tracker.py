"""The JDE tracker: appearance keeps identities through a crossing that IoU swaps; birth, confirmation,
loss and death of tracks."""
import numpy as np
import pytest

from tests.workflows.track.scenes import LOOKS, bounce
from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.track.association import linear_assignment
from yolor_cfg.workflows.track.tracker import Tracker

BOX = np.array([[100.0, 100.0, 140.0, 200.0]])


def ids_per_object(tracker: Tracker, frames, rng=None) -> list[tuple]:
    """Run the tracker on the frames (same scores, A's and B's embeddings with a little noise); per frame
    the id given to each object, the output boxes matched to the objects' boxes (least distance)."""
    rng = rng or np.random.default_rng(0)
    seen = []
    for boxes in frames:
        out = tracker.update(boxes, [0.9] * len(boxes), LOOKS + rng.normal(0, 0.05, LOOKS.shape))
        dist = np.abs(boxes[:, None] - np.array([box for _, box, _ in out]).reshape(1, -1, 4)).sum(axis=2)
        ids = {k: out[j][0] for k, j in linear_assignment(dist, thresh=1e9)[0]}
        seen.append(tuple(ids.get(k) for k in range(len(boxes))))
    return seen


def test_a_bounce_keeps_both_ids_with_embeddings_and_swaps_them_with_iou():
    """Two look-alike boxes (same size, same score) meet, nearly coincide, and bounce back. On the frame
    after the meeting each track's constant-velocity prediction carries it on past the meeting point,
    onto the box where the other object now is (IoU 0.88, against 0.62 with its own box, 10 px the other
    way), so IoU-only association swaps the ids, and they stay swapped since each track then moves with
    the other object. With embeddings the own box costs ~0 and the other's ~1; the motion term (at most
    0.02 * 9.49 = 0.19 inside the gate) cannot outweigh that, and the own box is inside the gate (squared
    Mahalanobis distance 1.2: the uncertainty scales with the 100 px height)."""
    frames = bounce(frames=21, meet=10, speed=5.0)
    embed = ids_per_object(Tracker(match="embed"), frames)
    iou = ids_per_object(Tracker(match="iou"), frames)
    assert embed == [(1, 2)] * 21
    assert iou == [(1, 2)] * 11 + [(2, 1)] * 10


def test_a_crossing_with_steady_motion_needs_no_embeddings():
    """The control: objects that pass through each other (no bounce) keep their ids either way, so the
    swap above comes from the reversal, which motion alone cannot foresee."""
    frames = [np.array([[100 + 5 * t, 200, 140 + 5 * t, 300], [302 - 5 * t, 200, 342 - 5 * t, 300]])
              for t in range(41)]
    for match in ("embed", "iou"):
        assert ids_per_object(Tracker(match=match), frames) == [(1, 2)] * 41, match


def test_first_frame_tracks_are_confirmed_at_once_and_ids_start_at_1():
    tracker = Tracker(match="iou")
    out = tracker.update(np.vstack([BOX, BOX + 200]), [0.9, 0.8])
    assert [(i, s) for i, _, s in out] == [(1, 0.9), (2, 0.8)]
    assert out[0][1] == pytest.approx(BOX[0])


def test_birth_needs_the_score_and_a_second_frame():
    """A track born after the first frame shows from its second matched frame on; a detection below
    birth_score starts nothing; an unconfirmed track unmatched on its next frame is dropped without
    using an id, so the ids shown have no gaps."""
    tracker = Tracker(match="iou", birth_score=0.5)
    tracker.update(BOX, [0.9])  # id 1
    other = BOX + 300
    assert [i for i, _, _ in tracker.update(np.vstack([BOX, other]), [0.9, 0.9])] == [1]
    assert [i for i, _, _ in tracker.update(BOX, [0.9])] == [1]  # the newcomer vanished: dropped
    assert [i for i, _, _ in tracker.update(np.vstack([BOX, other]), [0.9, 0.4])] == [1]
    assert [i for i, _, _ in tracker.update(np.vstack([BOX, other]), [0.9, 0.4])] == [1]  # 0.4: never born
    assert [i for i, _, _ in tracker.update(np.vstack([BOX, other]), [0.9, 0.6])] == [1]
    assert [i for i, _, _ in tracker.update(np.vstack([BOX, other]), [0.9, 0.6])] == [1, 2]


@pytest.mark.parametrize("match", ["embed", "iou"])
def test_a_lost_track_is_found_again_until_max_lost(match):
    """Matched last on frame 3 with max_lost=3: absent on frames 4-6 it comes back with its id on frame
    7; absent on frames 4-7 it is removed, and the object gets a new id (shown from its second frame)."""
    look = LOOKS[:1]
    for absent, expected in ((3, [1, 1]), (4, [[], [2]])):
        tracker = Tracker(match=match, max_lost=3)
        for _ in range(3):
            assert [i for i, _, _ in tracker.update(BOX, [0.9], look)] == [1]
        for _ in range(absent):
            assert tracker.update(np.zeros((0, 4)), [], None if absent == 3 else []) == []
        got = [[i for i, _, _ in tracker.update(BOX, [0.9], look)] for _ in range(2)]
        assert got == ([[1], [1]] if absent == 3 else [[], [2]])


def test_the_embedding_is_a_moving_average():
    tracker = Tracker(alpha=0.9)
    tracker.update(BOX, [0.9], [[2.0, 0.0]])
    tracker.update(BOX, [0.9], [[0.0, 5.0]])
    expected = np.array([0.9, 0.1]) / np.hypot(0.9, 0.1)
    assert tracker.tracks[0].embedding == pytest.approx(expected)


def test_inputs_are_checked():
    with pytest.raises(UsageError, match="'embed' or 'iou'"):
        Tracker(match="sort")
    with pytest.raises(UsageError, match="needs the detections' embeddings"):
        Tracker().update(BOX, [0.9])
    with pytest.raises(UsageError, match="1 boxes but 2 scores"):
        Tracker(match="iou").update(BOX, [0.9, 0.8])
    with pytest.raises(UsageError, match=r"embeddings must be \(1, D\)"):
        Tracker().update(BOX, [0.9], np.ones((2, 4)))
    with pytest.raises(UsageError, match="x2 > x1"):
        Tracker(match="iou").update([[10, 10, 5, 20]], [0.9])
