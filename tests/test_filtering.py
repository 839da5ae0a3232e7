"""Wiener masks and the single-model (mixture phase) mode."""

import numpy as np

from mixin.filtering import wiener_masks, with_mixture_phase


def test_masks_sum_to_one_and_follow_power():
    est = np.array([[3.0, 0.0], [4.0, 2.0]], dtype=np.float32)  # sources x bins
    m = wiener_masks(est)
    np.testing.assert_allclose(m.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(m[:, 0], [9 / 25, 16 / 25], rtol=1e-6)
    np.testing.assert_allclose(m[:, 1], [0.0, 1.0], atol=1e-6)


def test_other_powers_generalise_the_wiener_mask():
    est = np.array([[3.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(wiener_masks(est, power=1)[:, 0], [3 / 4, 1 / 4], rtol=1e-6)
    np.testing.assert_allclose(wiener_masks(est, power=3)[:, 0], [27 / 28, 1 / 28], rtol=1e-6)
    np.testing.assert_allclose(wiener_masks(est, power=0.5)[:, 1], [1.0, 0.0], atol=1e-6)
    # Larger powers sharpen: the louder source's share grows with p.
    shares = [wiener_masks(est, power=p)[0, 0] for p in (0.5, 1, 2, 4)]
    assert np.all(np.diff(shares) > 0)


def test_all_zero_estimates_give_zero_masks_not_nan():
    m = wiener_masks(np.zeros((3, 4, 5), dtype=np.float32))
    assert np.isfinite(m).all() and (m == 0).all()


def test_mixture_phase_keeps_estimated_magnitude():
    mix = np.array([1 + 1j, -2.0, 0.0], dtype=np.complex64)
    est = np.array([[2.0, 1.0, 3.0]], dtype=np.float32)
    out = with_mixture_phase(est, mix)
    np.testing.assert_allclose(np.abs(out[0]), [2.0, 1.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(np.angle(out[0, :2]), np.angle(mix[:2]), atol=1e-6)
    assert np.isfinite(out).all()
