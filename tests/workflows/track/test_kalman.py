"""The box Kalman filter against values worked out by hand (JDE's noise: 1/20 and 1/160 of the height)."""
import numpy as np
import pytest

from yolor_cfg.workflows.track.kalman import CHI2_95, BoxKalman, xyah_to_xyxy, xyxy_to_xyah

Z = np.array([10.0, 20.0, 0.5, 100.0])  # cx, cy, aspect, height


def test_box_conversions_round_trip():
    box = np.array([[0.0, 10.0, 40.0, 110.0]])
    assert xyxy_to_xyah(box)[0] == pytest.approx([20, 60, 0.4, 100])
    assert xyah_to_xyxy(xyxy_to_xyah(box)) == pytest.approx(box)


def test_initiate_predict_update_by_hand():
    """initiate: position std 2*100/20 = 10 (var 100), velocity std 10*100/160 = 6.25 (var 39.0625).
    predict: P_xx = 100 + 39.0625 + (100/20)^2 = 164.0625, P_x,vx = 39.0625, P_vx = 39.0625 + (100/160)^2.
    update with x measured 2 px right: S_xx = 164.0625 + 5^2 = 189.0625, so x += 2 * 164.0625 / 189.0625,
    vx = 2 * 39.0625 / 189.0625 and P_xx = 164.0625 * 25 / 189.0625; y, a, h, measured as predicted, stay."""
    kf = BoxKalman()
    mean, cov = kf.initiate(Z)
    assert mean == pytest.approx([*Z, 0, 0, 0, 0])
    assert np.diag(cov) == pytest.approx([100, 100, 1e-4, 100, 39.0625, 39.0625, 1e-10, 39.0625])

    mean, cov = kf.predict(mean, cov)
    assert mean == pytest.approx([*Z, 0, 0, 0, 0])
    assert (cov[0, 0], cov[0, 4], cov[4, 4]) == pytest.approx((164.0625, 39.0625, 39.453125))
    assert (cov[3, 3], cov[3, 7]) == pytest.approx((164.0625, 39.0625))

    mean, cov = kf.update(mean, cov, Z + [2, 0, 0, 0])
    assert mean[0] == pytest.approx(10 + 2 * 164.0625 / 189.0625)
    assert mean[4] == pytest.approx(2 * 39.0625 / 189.0625)
    assert mean[[1, 2, 3, 5, 6, 7]] == pytest.approx([20, 0.5, 100, 0, 0, 0])
    assert cov[0, 0] == pytest.approx(164.0625 * 25 / 189.0625)
    assert np.allclose(cov, cov.T)


def test_a_moving_box_is_followed():
    kf = BoxKalman()
    mean, cov = kf.initiate(Z)
    for t in range(1, 30):
        mean, cov = kf.update(*kf.predict(mean, cov), Z + [3 * t, 0, 0, 0])
    assert mean[4] == pytest.approx(3, abs=0.05)  # the velocity, learnt
    assert kf.predict(mean, cov)[0][0] == pytest.approx(10 + 3 * 30, abs=0.5)


def test_gating_distance_and_the_chi_square_gate():
    """After one prediction S_xx = 189.0625 and x is uncorrelated with the other measured values, so an
    offset d in x alone is at d^2 / 189.0625: the 0.95 gate (9.4877) falls at d = 42.35 px."""
    kf = BoxKalman()
    mean, cov = kf.predict(*kf.initiate(Z))
    d2 = kf.gating_distance(mean, cov, [Z + [42, 0, 0, 0], Z + [43, 0, 0, 0], Z])
    assert d2 == pytest.approx([42 ** 2 / 189.0625, 43 ** 2 / 189.0625, 0])
    assert list(d2 <= CHI2_95) == [True, False, True]


def test_a_batch_is_the_same_as_one_by_one():
    kf = BoxKalman()
    zs = np.array([Z, [300, 40, 0.3, 50]])
    means, covs = kf.predict(*kf.initiate(zs))
    means, covs = kf.update(means, covs, zs + 1)
    for k in range(2):
        mean, cov = kf.update(*kf.predict(*kf.initiate(zs[k])), zs[k] + 1)
        assert means[k] == pytest.approx(mean) and covs[k] == pytest.approx(cov)
