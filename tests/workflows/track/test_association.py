"""Cost matrices, JDE's motion fusion, and the assignment with lap and with SciPy's solver."""
import sys

import numpy as np
import pytest

from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.track import association
from yolor_cfg.workflows.track.association import (embedding_distance, fuse_motion, iou_distance, iou_matrix,
                                                   linear_assignment)
from yolor_cfg.workflows.track.kalman import CHI2_95, BoxKalman


def test_iou():
    a = [[0, 0, 10, 10], [0, 0, 0, 10]]  # the second has no area
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]
    assert iou_matrix(a, b) == pytest.approx(np.array([[1 / 3, 1, 0], [0, 0, 0]]))
    assert iou_distance(a, b)[0] == pytest.approx([2 / 3, 0, 1])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_cosine_distance_normalises_the_embeddings():
    tracks = [[2.0, 0.0], [0.0, 0.0]]
    dets = [[1.0, 0.0], [0.0, 3.0], [-5.0, 0.0]]
    assert embedding_distance(tracks, dets) == pytest.approx(np.array([[0, 1, 2], [1, 1, 1]]))


def test_fuse_motion_gates_and_blends():
    """Appearance 0.1 to both detections; one is 10 px from the prediction (d2 = 100/189.0625, well
    inside the gate): 0.98 * 0.1 + 0.02 * d2; the other is 60 px away, outside the gate: inf."""
    kf = BoxKalman()
    z = np.array([10.0, 20.0, 0.5, 100.0])
    mean, cov = kf.predict(*kf.initiate(z))
    fused = fuse_motion(kf, [[0.1, 0.1]], [mean], [cov], [z + [10, 0, 0, 0], z + [60, 0, 0, 0]])
    assert fused[0, 0] == pytest.approx(0.98 * 0.1 + 0.02 * 100 / 189.0625)
    assert fused[0, 1] == np.inf and 60 ** 2 / 189.0625 > CHI2_95


@pytest.fixture(params=["lap", "scipy"])
def solver(request, monkeypatch):
    if request.param == "lap":
        pytest.importorskip("lap")
        assert association.lap is not None
    else:
        monkeypatch.setattr(association, "lap", None)
    return request.param


def _pairs(matches):
    return sorted(map(tuple, matches.tolist()))


def test_assignment_minimises_the_total(solver):
    matches, rows, cols = linear_assignment([[0.1, 0.2], [0.15, 0.9]], thresh=0.5)
    assert _pairs(matches) == [(0, 1), (1, 0)]  # 0.35, where the greedy (0, 0) would strand row 1
    assert rows.size == cols.size == 0


def test_assignment_leaves_costs_above_the_threshold_and_inf(solver):
    matches, rows, cols = linear_assignment([[0.6, np.inf, 0.2], [np.inf, np.inf, np.inf]], thresh=0.5)
    assert _pairs(matches) == [(0, 2)]
    assert list(rows) == [1] and list(cols) == [0, 1]


def test_assignment_counts_unmatched_rows_and_columns(solver):
    """Two matches at 0.49 each (0.98) cost more than one at 0 with a row and a column left at 0.25 each
    (0.5): lapjv's cost_limit objective, which the SciPy path reproduces; a plain minimum-sum assignment
    that drops pairs over the threshold afterwards would take the two."""
    matches, rows, cols = linear_assignment([[0.0, 0.49], [0.49, 10.0]], thresh=0.5)
    assert _pairs(matches) == [(0, 0)]
    assert list(rows) == [1] and list(cols) == [1]


def test_assignment_of_nothing(solver):
    matches, rows, cols = linear_assignment(np.zeros((0, 3)), thresh=0.5)
    assert matches.shape == (0, 2) and rows.size == 0 and list(cols) == [0, 1, 2]
    assert list(linear_assignment(np.zeros((2, 0)), thresh=0.5)[1]) == [0, 1]


def test_the_solvers_agree_on_random_costs(monkeypatch):
    pytest.importorskip("lap")
    rng = np.random.default_rng(0)
    for _ in range(50):
        cost = rng.uniform(0, 1, size=rng.integers(1, 8, size=2))
        with_lap = _pairs(linear_assignment(cost, 0.6)[0])
        monkeypatch.setattr(association, "lap", None)
        assert _pairs(linear_assignment(cost, 0.6)[0]) == with_lap
        monkeypatch.undo()


def test_without_a_solver_the_error_names_the_install(monkeypatch):
    monkeypatch.setattr(association, "lap", None)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # makes the import fail
    with pytest.raises(UsageError, match="pip install lap"):
        linear_assignment([[0.1]], thresh=0.5)
