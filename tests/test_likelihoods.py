import itertools

import keras
import numpy as np
import pytest
from keras import ops

from contract import check_config
from vaekit.data.schema import TableSchema
from vaekit.errors import ConfigError
from vaekit.models import likelihoods
from vaekit.models.autoregressive import LocalAutoregressiveBernoulli
from vaekit.models.tabular import Tabular
from vaekit.models.text import AutoregressiveCategorical


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
    assert check_config(lik).event_ndim == 2
    assert lik.param_shape((28, 28, 1)) == (28, 28, 1)
    with pytest.raises(ConfigError, match="Unknown likelihood 'gauss'"):
        likelihoods.get("gauss")


def test_options_reach_the_likelihood_and_wrong_ones_are_named():
    assert likelihoods.get("gaussian", event_ndim=1, options={"scale": 0.05}).scale == 0.05
    assert likelihoods.get("local_ar_bernoulli", options={"window": 2}).window == 2
    assert likelihoods.option_names("local_ar_bernoulli") == ("window", "hidden")
    with pytest.raises(
        ConfigError,
        match=r"option\(s\) windw for likelihood 'local_ar_bernoulli'. "
        "Expected some of: window",
    ):
        likelihoods.get("local_ar_bernoulli", options={"windw": 2})
    with pytest.raises(
        ConfigError, match="option.*scale for likelihood 'bernoulli'. It takes none"
    ):
        likelihoods.get("bernoulli", options={"scale": 0.1})
    for name in ("event_ndim", "identifier", "options"):  # get's own arguments are not options
        with pytest.raises(ConfigError, match=f"Unknown option.*{name}"):
            likelihoods.get("gaussian", options={name: 1})
    with pytest.raises(ConfigError, match="options only with a likelihood name"):
        likelihoods.get(likelihoods.Bernoulli(), options={"scale": 0.1})
    for scale in ("0.1", True, 0.0, float("inf")):
        with pytest.raises(ConfigError, match="finite positive Gaussian scale"):
            likelihoods.get("gaussian", options={"scale": scale})
    with pytest.raises(ConfigError, match="window"):
        likelihoods.get("local_ar_bernoulli", options={"window": 2.0})


# --- Gaussians ------------------------------------------------------------------------------------


def _np_gaussian_log_prob(x, mean, scale, axes):
    x, mean, scale = (np.asarray(a, "float64") for a in (x, mean, scale))
    z = (x - mean) / scale
    return (-0.5 * z**2 - np.log(scale) - 0.5 * np.log(2 * np.pi)).sum(axis=axes)


def test_gaussian_log_prob_matches_float64_reference():
    rng = np.random.default_rng(1)
    x = rng.random((4, 5, 5, 3)).astype("float32")
    mean = rng.random((4, 5, 5, 3)).astype("float32")
    for scale in (0.1, 0.37):
        lik = likelihoods.Gaussian(event_ndim=3, scale=scale)
        expected = _np_gaussian_log_prob(x, mean, scale, axes=(1, 2, 3))
        out = ops.convert_to_numpy(lik.log_prob(x, mean))
        assert out.shape == (4,)
        np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert likelihoods.Gaussian().scale == 0.1 and not likelihoods.Gaussian.is_discrete


def test_gaussian_learned_scale_layout_is_means_then_log_scales():
    rng = np.random.default_rng(2)
    x = rng.random((4, 5, 5, 3)).astype("float32")
    mean = rng.random((4, 5, 5, 3)).astype("float32")
    log_scale = rng.uniform(-4, 1, size=(4, 5, 5, 3)).astype("float32")
    params = np.concatenate([mean, log_scale], axis=-1)  # (4, 5, 5, 6): [means (3), log-scales (3)]
    lik = likelihoods.get("gaussian_learned", event_ndim=3)
    expected = _np_gaussian_log_prob(x, mean, np.exp(log_scale), axes=(1, 2, 3))
    np.testing.assert_allclose(ops.convert_to_numpy(lik.log_prob(x, params)), expected, rtol=1e-5)
    # An interleaved layout [m0, s0, m1, s1, ...] would score differently.
    interleaved = np.stack([mean, log_scale], axis=-1).reshape(params.shape)
    wrong = ops.convert_to_numpy(lik.log_prob(x, interleaved))
    assert not np.allclose(wrong, expected, rtol=1e-3)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.mean(params)), mean)


def test_gaussian_learned_scale_one_event_dim_and_clipping():
    lik = likelihoods.GaussianLearnedScale(event_ndim=1)
    x = np.array([[0.2, 0.9]], "float32")
    params = np.array(
        [[0.25, 0.5, -30.0, 40.0]], "float32"
    )  # log-scales beyond [-7, 5] are clipped
    expected = _np_gaussian_log_prob(x, [[0.25, 0.5]], np.exp([[-7.0, 5.0]]), axes=(1,))
    out = ops.convert_to_numpy(lik.log_prob(x, params))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    with pytest.raises(ConfigError, match="even last axis"):
        lik.log_prob(x, np.zeros((1, 3), "float32"))


def test_gaussian_samples_have_the_right_moments():
    n = 20_000
    fixed = likelihoods.Gaussian(event_ndim=1, scale=0.2)
    draws = ops.convert_to_numpy(
        fixed.sample(np.full((n, 1), 0.3, "float32"), seed=keras.random.SeedGenerator(0))
    )
    assert draws.mean() == pytest.approx(0.3, abs=0.01) and draws.std() == pytest.approx(
        0.2, rel=0.03
    )
    learned = likelihoods.GaussianLearnedScale(event_ndim=1)
    params = np.tile(np.array([[0.6, np.log(0.05)]], "float32"), (n, 1))
    draws = ops.convert_to_numpy(learned.sample(params, seed=keras.random.SeedGenerator(1)))
    assert draws.shape == (n, 1)
    assert draws.mean() == pytest.approx(0.6, abs=0.003) and draws.std() == pytest.approx(
        0.05, rel=0.03
    )


def test_gaussian_rejects_bad_scale():
    for scale in (0.0, -1.0, float("inf")):
        with pytest.raises(ConfigError, match="scale"):
            likelihoods.Gaussian(scale=scale)


# --- Discretized logistic --------------------------------------------------------------------------

H = 0.5 / 255  # half a bin


def _np_dlogistic_log_prob(x, mean, log_scale):
    """Per-value log P(x) in float64, by log-diff-exp on whichever tail keeps precision."""
    x, mean = np.asarray(x, "float64"), np.asarray(mean, "float64")
    inv = np.exp(-np.clip(np.asarray(log_scale, "float64"), -7, 5))
    upper, lower = inv * (x - mean + H), inv * (x - mean - H)

    def log_sig(z):
        return -np.logaddexp(0.0, -z)

    with np.errstate(all="ignore"):
        # left of the mean: log(CDF(u) - CDF(l)); right of it: log(SF(l) - SF(u)).
        left = log_sig(upper) + np.log1p(-np.exp(log_sig(lower) - log_sig(upper)))
        right = log_sig(-lower) + np.log1p(-np.exp(log_sig(-upper) - log_sig(-lower)))
    interior = np.where(x - mean > 0, right, left)
    return np.where(x < H, log_sig(upper), np.where(x > 1 - H, log_sig(-lower), interior))


def _all_levels(mean, log_scale):
    """x (256, P, 1) holding every level for each of P parameter pairs, and params (256, P, 2)."""
    grid = np.arange(256, dtype="float32") / 255
    p = len(mean)
    x = np.broadcast_to(grid[:, None, None], (256, p, 1)).astype("float32")
    params = np.broadcast_to(np.stack([mean, log_scale], -1)[None], (256, p, 2)).astype("float32")
    return x, params


def test_discretized_logistic_probabilities_sum_to_one():
    rng = np.random.default_rng(3)
    mean = np.concatenate([rng.uniform(-1, 2, 200), [-50, 50, 0, 1, 0.5, 0.5]]).astype("float32")
    log_scale = np.concatenate([rng.uniform(-7, 5, 200), [-7, -7, -7, -7, -7, 5]]).astype("float32")
    x, params = _all_levels(mean, log_scale)
    lik = likelihoods.DiscretizedLogistic(event_ndim=1)
    log_p = ops.convert_to_numpy(lik.log_prob(x, params))  # (256, P)
    assert log_p.shape == (256, len(mean)) and np.isfinite(log_p).all()
    np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(axis=0), 1.0, atol=1e-4)


def test_discretized_logistic_matches_float64_reference():
    rng = np.random.default_rng(4)
    shape = (6, 4, 4, 3)
    x = (rng.integers(0, 256, size=shape) / 255).astype("float32")
    x[0, 0, 0] = [0.0, 1.0, 0.5]  # both edges are scored
    mean = rng.uniform(-0.5, 1.5, size=shape).astype("float32")
    log_scale = rng.uniform(-7, 2, size=shape).astype("float32")
    params = np.concatenate([mean, log_scale], axis=-1)
    lik = likelihoods.get("discretized_logistic", event_ndim=3)
    expected = _np_dlogistic_log_prob(x, mean, log_scale).sum(axis=(1, 2, 3))
    out = ops.convert_to_numpy(lik.log_prob(x, params))
    assert out.shape == (6,)
    np.testing.assert_allclose(out, expected, rtol=1e-4)


def test_discretized_logistic_is_finite_and_exact_for_extreme_params():
    grid = itertools.product((-50.0, 50.0, 0.0, 1.0), (-7.0, 5.0, -100.0, 100.0), (0.0, 0.5, 1.0))
    mean, log_scale, x = (np.array(col, "float32") for col in zip(*grid, strict=True))
    lik = likelihoods.DiscretizedLogistic(event_ndim=1)
    params = np.stack([mean, log_scale], -1)  # (N, 2): one value per data point
    out = ops.convert_to_numpy(lik.log_prob(x[:, None], params))
    assert np.isfinite(out).all() and (out <= 1e-6).all()
    # Tiny probabilities keep their value (e.g. about -54,800 nats for mean 50, x 0, sharp scale).
    np.testing.assert_allclose(
        out, _np_dlogistic_log_prob(x, mean, log_scale), rtol=1e-5, atol=1e-5
    )


def test_discretized_logistic_mean_and_samples():
    lik = likelihoods.DiscretizedLogistic(event_ndim=1)
    assert lik.levels == 256 and lik.is_discrete
    means = ops.convert_to_numpy(lik.mean(np.array([[-0.3, 0.4, 1.7, 0.0, 0.0, 0.0]], "float32")))
    np.testing.assert_allclose(means, [[0.0, 0.4, 1.0]])
    n = 20_000
    params = np.tile(np.array([[0.37, -3.0]], "float32"), (n, 1))
    draws = ops.convert_to_numpy(lik.sample(params, seed=keras.random.SeedGenerator(0)))
    assert draws.shape == (n, 1) and draws.min() >= 0.0 and draws.max() <= 1.0
    np.testing.assert_allclose(
        draws * 255, np.round(draws * 255), atol=1e-3
    )  # on the 256-level grid
    assert len(np.unique(draws)) > 20
    assert draws.mean() == pytest.approx(0.37, abs=0.005)
    again = ops.convert_to_numpy(lik.sample(params, seed=keras.random.SeedGenerator(0)))
    np.testing.assert_array_equal(draws, again)
    edge = ops.convert_to_numpy(
        lik.sample(np.array([[5.0, -7.0], [-5.0, -7.0]], "float32"), seed=1)
    )
    np.testing.assert_array_equal(edge, [[1.0], [0.0]])


# --- All likelihoods -------------------------------------------------------------------------------


def test_registry_names_and_discreteness():
    expected = {
        "bernoulli": (likelihoods.Bernoulli, True),
        "gaussian": (likelihoods.Gaussian, False),
        "gaussian_learned": (likelihoods.GaussianLearnedScale, False),
        "discretized_logistic": (likelihoods.DiscretizedLogistic, True),
        "local_ar_bernoulli": (LocalAutoregressiveBernoulli, True),
        "autoregressive_categorical": (AutoregressiveCategorical, True),
        "tabular": (Tabular, False),
    }
    assert set(likelihoods.LIKELIHOODS) == set(expected)
    for name, (cls, discrete) in expected.items():
        lik = likelihoods.get(name, event_ndim=1, options=_needed_options(name))
        assert type(lik) is cls and lik.kind == name and lik.event_ndim == 1
        assert cls.is_discrete is discrete
    with pytest.raises(
        ConfigError, match="Expected one of: autoregressive_categorical, bernoulli, discretized_"
    ):
        likelihoods.get("laplace")


@pytest.mark.parametrize(
    "name, per_value",
    [
        ("bernoulli", 1),
        ("local_ar_bernoulli", 1),
        ("gaussian", 1),
        ("gaussian_learned", 2),
        ("discretized_logistic", 2),
    ],
)
def test_param_shapes(name, per_value):
    lik = likelihoods.get(name)
    assert lik.params_per_value == per_value
    assert lik.param_shape((28, 28, 1)) == (28, 28, per_value)
    assert lik.param_shape((32, 32, 3)) == (32, 32, 3 * per_value)
    assert lik.param_shape((784,)) == (784 * per_value,)


def _needed_options(name):
    """Options a likelihood cannot do without (a text likelihood's vocabulary size, a table
    likelihood's schema)."""
    if name == "tabular":
        schema = TableSchema.fit_numeric(np.array([[0.0, 1.0], [1.0, 3.0]]))
        return {"schema": schema.get_config()}
    return {"vocab_size": 10} if name == "autoregressive_categorical" else None


@pytest.mark.parametrize("name", sorted(likelihoods.LIKELIHOODS))
def test_serialization_round_trip(name):
    lik = likelihoods.get(name, event_ndim=2, options=_needed_options(name))
    if name == "gaussian":
        lik = likelihoods.Gaussian(event_ndim=2, scale=0.25)
    clone = check_config(lik)  # from_config and Keras' serialization: same class, same config
    assert clone.event_ndim == 2 and getattr(clone, "scale", 0.25) == 0.25
    assert type(likelihoods.get(keras.saving.serialize_keras_object(lik))) is type(lik)
