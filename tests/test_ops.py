import math

import numpy as np
import pytest
from keras import ops

from vaekit.models import ops as vops


def _np(x):
    return ops.convert_to_numpy(x)


def test_diag_gaussian_log_prob_matches_numpy_formula():
    rng = np.random.default_rng(0)
    z, mean, log_var = rng.normal(size=(3, 5, 4)).astype("float32")
    expected = np.sum(
        -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)), axis=-1
    )
    np.testing.assert_allclose(
        _np(vops.diag_gaussian_log_prob(z, mean, log_var)), expected, rtol=1e-5
    )


def test_standard_normal_is_the_zero_mean_unit_variance_case():
    z = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    zeros = np.zeros_like(z)
    np.testing.assert_allclose(
        _np(vops.standard_normal_log_prob(z)),
        _np(vops.diag_gaussian_log_prob(z, zeros, zeros)),
        rtol=1e-6,
    )


def test_analytic_kl_matches_monte_carlo_and_is_summed_over_dimensions():
    rng = np.random.default_rng(2)
    mean = np.array([[0.5, -1.0, 0.0]], "float32")
    log_var = np.array([[-1.0, 0.3, 0.0]], "float32")
    kl = float(_np(vops.kl_diag_gaussian_standard_normal(mean, log_var))[0])
    # Closed form, written out per dimension and summed.
    expected = sum(
        0.5 * (math.exp(lv) + m * m - 1 - lv) for m, lv in zip(mean[0], log_var[0], strict=True)
    )
    assert kl == pytest.approx(expected, rel=1e-6)
    # A Monte Carlo estimate E_q[log q - log p] agrees.
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(200_000, 3)).astype("float32")
    mc = _np(
        vops.diag_gaussian_log_prob(z, mean, log_var) - vops.standard_normal_log_prob(z)
    ).mean()
    assert mc == pytest.approx(kl, abs=0.02)
    # KL of N(0, I) to itself is zero.
    assert (
        float(_np(vops.kl_diag_gaussian_standard_normal(np.zeros((1, 3)), np.zeros((1, 3))))[0])
        == 0.0
    )


def test_log_mean_exp_is_stable_and_correct():
    x = np.array([[1000.0, 1000.0 + math.log(3.0)], [-5.0, -5.0]], "float32")
    out = _np(vops.log_mean_exp(x, axis=-1))
    np.testing.assert_allclose(out, [1000.0 + math.log(2.0), -5.0], rtol=1e-6)


def test_softplus_is_exact_and_stable_everywhere():
    x = np.array([-200.0, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, 200.0], "float32")
    expected = np.logaddexp(0.0, x.astype("float64"))  # float64 reference
    np.testing.assert_allclose(_np(vops.softplus(x)), expected, rtol=2e-7, atol=1e-37)
    np.testing.assert_allclose(_np(vops.softplus(x)), _np(ops.softplus(x)), rtol=1e-6, atol=1e-37)


def test_flatten_event_merges_only_the_data_axes():
    x = np.arange(2 * 3 * 4 * 5 * 1, dtype="float32").reshape(2, 3, 4, 5, 1)
    assert _np(vops.flatten_event(x, 3)).shape == (2, 3, 20)
    assert _np(vops.flatten_event(x[0], 3)).shape == (3, 20)
    np.testing.assert_array_equal(_np(vops.flatten_event(x, 3))[1, 2], x[1, 2].ravel())
    assert _np(vops.flatten_event(np.ones((4,), "float32"), 0)).shape == (4, 1)
    np.testing.assert_allclose(_np(vops.sum_values(x.reshape(6, 20))), x.reshape(6, 20).sum(1))
