import keras
import numpy as np
import pytest
from keras import ops

from vaekit import likelihoods
from vaekit.errors import ConfigError


def test_bernoulli_log_prob_is_summed_binary_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5, 5, 1)).astype("float32") * 3
    x = rng.random((4, 5, 5, 1)).astype("float32")  # grey targets, as in the classic recipe
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
    lik = likelihoods.get("bernoulli", event_ndim=3)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.log_prob(x, logits)), -bce, rtol=1e-5)


def test_bernoulli_is_stable_for_extreme_logits():
    lik = likelihoods.Bernoulli(event_ndim=1)
    logits = np.array([[200.0, -200.0]], "float32")
    out = ops.convert_to_numpy(lik.log_prob(np.array([[1.0, 0.0]], "float32"), logits))
    assert np.isfinite(out).all() and out[0] == pytest.approx(0.0, abs=1e-6)


def test_bernoulli_mean_and_sample():
    lik = likelihoods.Bernoulli(event_ndim=1)
    logits = np.full((20_000, 1), np.log(3.0), "float32")  # p = 0.75
    np.testing.assert_allclose(ops.convert_to_numpy(lik.mean(logits[:1])), [[0.75]], rtol=1e-6)
    draws = ops.convert_to_numpy(lik.sample(logits, seed=keras.random.SeedGenerator(0)))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert draws.mean() == pytest.approx(0.75, abs=0.02)


def test_registry_and_serialization():
    lik = likelihoods.get("bernoulli", event_ndim=2)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lik))
    assert isinstance(clone, likelihoods.Bernoulli) and clone.event_ndim == 2
    assert lik.param_shape((28, 28, 1)) == (28, 28, 1)
    with pytest.raises(ConfigError, match="Unknown likelihood 'gauss'"):
        likelihoods.get("gauss")
