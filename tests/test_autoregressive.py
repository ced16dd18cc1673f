"""The local autoregressive Bernoulli: a normalised distribution, causal, and usable by every model path."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from contract import check_model
from vaekit.errors import ConfigError
from vaekit.models import likelihoods
from vaekit.models.autoregressive import LocalAutoregressiveBernoulli, _causal_sources
from vaekit.models.build import build_vae
from vaekit.models.networks import build_networks
from vaekit.models.vae import VAE


def _likelihood(data_shape, window, seed=0, scale=1.5, hidden=0):
    """A built likelihood with random weights (all of them: the hidden layer's too)."""
    lik = LocalAutoregressiveBernoulli(event_ndim=len(data_shape), window=window, hidden=hidden)
    lik.build(data_shape)
    rng = np.random.default_rng(seed)
    for weight in lik.weights:
        weight.assign(rng.normal(0, scale, weight.shape).astype("float32"))
    return lik


def _all_binary(data_shape):
    size = int(np.prod(data_shape))
    return np.array(list(itertools.product([0.0, 1.0], repeat=size)), "float32").reshape(
        -1, *data_shape
    )


@pytest.mark.parametrize("hidden", [0, 4])
@pytest.mark.parametrize("data_shape, window", [((3, 3, 1), 1), ((2, 3, 2), 1), ((6,), 2)])
def test_probabilities_of_all_binary_data_sum_to_one(data_shape, window, hidden):
    lik = _likelihood(data_shape, window, hidden=hidden)
    x = _all_binary(data_shape)  # every binary data point: 2^9, 2^12 and 2^6 of them
    logits = np.random.default_rng(1).normal(0, 2, (1, *data_shape)).astype("float32")
    log_p = ops.convert_to_numpy(lik.log_prob(x, np.broadcast_to(logits, x.shape)))
    assert np.exp(log_p.astype("float64")).sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("data_shape, window", [((5, 6, 1), 2), ((4, 4, 3), 1), ((9,), 3)])
def test_each_value_sees_exactly_its_causal_neighbourhood(data_shape, window):
    """The gather table, against a brute-force reading of the definition."""
    sources = _causal_sources(data_shape, window)
    size = int(np.prod(data_shape))
    assert sources.shape[0] == size and sources.min() >= 0 and sources.max() <= size
    for i in range(size):
        if len(data_shape) == 1:
            expected = {j for j in range(size) if 0 < i - j <= window}
        else:
            _, width, channels = data_shape
            r, c = divmod(i // channels, width)
            expected = set()
            for j in range(size):
                rj, cj = divmod(j // channels, width)
                before = (rj, cj) < (r, c)
                if before and r - rj <= window and abs(c - cj) <= window:
                    expected.add(j)
        got = [j for j in sources[i] if j < size]
        assert len(got) == len(set(got)) and set(got) == expected, i


def test_log_prob_matches_a_float64_reference_and_zero_weights_are_bernoulli():
    shape, window = (4, 5, 1), 2
    lik = _likelihood(shape, window, seed=2)
    rng = np.random.default_rng(3)
    x = (rng.random((6, *shape)) < 0.4).astype("float32")
    logits = rng.normal(0, 2, (6, *shape)).astype("float32")
    w = ops.convert_to_numpy(lik.tap_weights).astype("float64")
    sources = _causal_sources(shape, window)
    flat = np.concatenate([x.reshape(6, -1), np.zeros((6, 1))], 1).astype("float64")
    local = np.stack([(flat[:, sources[i]] * w[i]).sum(1) for i in range(len(sources))], 1)
    full = logits.reshape(6, -1) + local
    expected = (flat[:, :-1] * full - np.logaddexp(0, full)).sum(1)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.log_prob(x, logits)), expected, rtol=1e-5)

    lik.tap_weights.assign(np.zeros(lik.tap_weights.shape, "float32"))
    plain = likelihoods.Bernoulli(event_ndim=3)
    np.testing.assert_allclose(
        ops.convert_to_numpy(lik.log_prob(x, logits)),
        ops.convert_to_numpy(plain.log_prob(x, logits)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(lik.mean(logits)), 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6
    )


def _hidden_reference(x, lik):
    """The hidden term by its definition, in float64 loops: for each value, relu(U c + b) . v_k with
    c every channel of the earlier pixels within the window (`x` is `(n, H, W, C)` or `(n, D)`)."""
    kernel, bias, out = (ops.convert_to_numpy(w).astype("float64") for w in lik.weights[1:])
    w = lik.window
    if x.ndim == 2:  # vectors: value i sees the w values before it
        terms = np.zeros(x.shape)
        for i in range(x.shape[1]):
            pre = bias + sum(
                x[:, i - t, None] * kernel[0, w - t, 0] for t in range(1, w + 1) if i >= t
            )
            terms[:, i] = np.maximum(pre, 0) @ out[:, 0]
        return terms
    n, height, width, channels = x.shape
    terms = np.zeros(x.shape)
    for r, c in itertools.product(range(height), range(width)):
        pre = np.broadcast_to(bias, (n, len(bias))).copy()
        for a, b in itertools.product(range(w + 1), range(-w, w + 1)):
            rr, cc = r - a, c + b
            if (a or b < 0) and rr >= 0 and 0 <= cc < width:
                pre += x[:, rr, cc] @ kernel[w - a, b + w]
        terms[:, r, c] = np.maximum(pre, 0) @ out
    return terms


@pytest.mark.parametrize("shape, window", [((5, 6, 2), 2), ((4, 4, 1), 1), ((7,), 3)])
def test_the_hidden_term_matches_its_definition(shape, window):
    """log_prob with a hidden layer, against a float64 loop over the causal neighbourhood."""
    lik = _likelihood(shape, window, seed=10, scale=0.7, hidden=3)
    rng = np.random.default_rng(11)
    x = (rng.random((4, *shape)) < 0.5).astype("float32")
    logits = rng.normal(0, 1, (4, *shape)).astype("float32")
    w = ops.convert_to_numpy(lik.tap_weights).astype("float64")
    flat = np.concatenate([x.reshape(4, -1), np.zeros((4, 1))], 1).astype("float64")
    sources = _causal_sources(shape, window)
    linear = np.stack([(flat[:, sources[i]] * w[i]).sum(1) for i in range(len(sources))], 1)
    full = (
        logits.reshape(4, -1) + linear + _hidden_reference(x.astype("float64"), lik).reshape(4, -1)
    )
    expected = (flat[:, :-1] * full - np.logaddexp(0, full)).sum(1)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.log_prob(x, logits)), expected, rtol=1e-5)


def test_the_hidden_term_starts_off():
    """A fresh hidden layer adds nothing: the model starts as the linear one."""
    lik = LocalAutoregressiveBernoulli(window=2, hidden=5)
    lik.build((4, 4, 1))
    x = (np.random.default_rng(12).random((3, 4, 4, 1)) < 0.5).astype("float32")
    logits = np.zeros((3, 4, 4, 1), "float32")
    plain = likelihoods.Bernoulli(event_ndim=3)
    np.testing.assert_allclose(
        ops.convert_to_numpy(lik.log_prob(x, logits)),
        ops.convert_to_numpy(plain.log_prob(x, logits)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("hidden", [0, 3])
def test_broadcasting_one_image_against_k_decodings(hidden):
    """The NLL path: data `(batch, 1, ...)` against parameters `(batch, K, ...)`."""
    shape = (3, 4, 1)
    lik = _likelihood(shape, 1, seed=4, hidden=hidden)
    rng = np.random.default_rng(5)
    x = (rng.random((2, *shape)) < 0.5).astype("float32")
    params = rng.normal(0, 2, (2, 7, *shape)).astype("float32")
    got = ops.convert_to_numpy(lik.log_prob(x[:, None], params))  # (2, 7)
    for b, k in itertools.product(range(2), range(7)):
        one = ops.convert_to_numpy(lik.log_prob(x[b : b + 1], params[b, k : k + 1]))
        assert got[b, k] == pytest.approx(one[0], rel=1e-5)


def test_samples_follow_the_chain_rule():
    """Two values, the second depending on the first: draws match the exact joint."""
    lik = LocalAutoregressiveBernoulli(event_ndim=1, window=1)
    lik.build((2,))
    lik.tap_weights.assign(np.array([[0.0], [3.0]], "float32"))  # value 1 sees value 0
    logits = np.tile(np.array([[0.4, -1.5]], "float32"), (40_000, 1))
    draws = ops.convert_to_numpy(lik.sample(logits, seed=keras.random.SeedGenerator(0)))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    p0 = sig(0.4)
    for a, b in itertools.product([0, 1], repeat=2):
        p1 = sig(-1.5 + 3.0 * a)
        exact = (p0 if a else 1 - p0) * (p1 if b else 1 - p1)
        freq = np.mean((draws[:, 0] == a) & (draws[:, 1] == b))
        assert freq == pytest.approx(exact, abs=0.01), (a, b)
    # The picture mean: the first value's probability, then the second's given that probability.
    mean = ops.convert_to_numpy(lik.mean(logits[:1]))[0]
    np.testing.assert_allclose(mean, [p0, sig(-1.5 + 3.0 * p0)], rtol=1e-5)


@pytest.mark.parametrize("shape, hidden", [((2, 2, 2), 0), ((2, 2, 2), 3), ((8,), 3)])
def test_draws_follow_log_prob(shape, hidden):
    """Sampling (pixel by pixel, channels together) and scoring describe one distribution: the
    frequencies of all 2^8 data points of shape (2, 2, 2) or (8,) match exp(log_prob)."""
    lik = _likelihood(shape, 1 if len(shape) == 3 else 2, seed=6, scale=2.0, hidden=hidden)
    logits = np.random.default_rng(7).normal(0, 1, (1, *shape)).astype("float32")
    draws = ops.convert_to_numpy(
        lik.sample(np.repeat(logits, 60_000, axis=0), seed=keras.random.SeedGenerator(1))
    )
    codes = draws.reshape(len(draws), -1).astype(int) @ (1 << np.arange(8)[::-1])
    freq = np.bincount(codes, minlength=256) / len(draws)
    images = _all_binary(shape)  # in the same binary order as `codes`
    exact = np.exp(ops.convert_to_numpy(lik.log_prob(images, np.repeat(logits, 256, axis=0))))
    assert 0.5 * np.abs(freq - exact).sum() < 0.02  # total variation


def test_mean_and_sample_keep_any_leading_shape():
    shape = (3, 3, 1)
    lik = _likelihood(shape, 1, seed=8)
    params = np.random.default_rng(9).normal(0, 1, (2, 4, *shape)).astype("float32")
    mean = ops.convert_to_numpy(lik.mean(params))
    assert mean.shape == params.shape
    one = ops.convert_to_numpy(lik.mean(params[1, 2:3]))[0]
    np.testing.assert_allclose(mean[1, 2], one, rtol=1e-6)
    assert ops.convert_to_numpy(lik.mean(params[0, 0])).shape == shape  # one unbatched image
    assert ops.convert_to_numpy(lik.sample(params, seed=0)).shape == params.shape


def test_bad_window_and_data_shape_are_config_errors():
    for window in (0, None, 2.5, True):
        with pytest.raises(ConfigError, match="window"):
            LocalAutoregressiveBernoulli(window=window)
    for hidden in (-1, None, 4.0, False):
        with pytest.raises(ConfigError, match="`hidden` to be an integer >= 0"):
            LocalAutoregressiveBernoulli(hidden=hidden)
    for shape, widest in (((6, 6, 1), 5), ((3, 7, 2), 6), ((4,), 3), ((1,), 1)):
        with pytest.raises(ConfigError, match=f"`window` <= {widest} for data of shape"):
            LocalAutoregressiveBernoulli(event_ndim=len(shape), window=widest + 1).build(shape)
    built = LocalAutoregressiveBernoulli()
    built.build((6, 6, 1))
    encoder, decoder = build_networks("mlp", (4, 4, 1), (4, 4, 1), 2, hidden_units=(8,))
    with pytest.raises(
        ConfigError, match=r"shape \(4, 4, 1\)\. Received one built for \(6, 6, 1\)"
    ):
        VAE(encoder, decoder, likelihood=built)
    with pytest.raises(ConfigError, match=r"\(H, W, C\) or \(D,\)"):
        LocalAutoregressiveBernoulli(event_ndim=2).build((4, 4))


@pytest.mark.parametrize("hidden", [0, 4])
def test_a_vae_trains_saves_and_reloads_its_local_weights(tmp_path, hidden):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.random((96, 6, 6, 1)) < 0.4).astype("float32")
    model = build_vae(
        (6, 6, 1),
        "seed",
        hidden_units=[16],
        latent_dim=2,
        likelihood="local_ar_bernoulli",
        likelihood_options={"hidden": hidden} if hidden else {},
        seed=0,
    )
    assert any("tap_weights" in w.path for w in model.trainable_weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=2, batch_size=32, verbose=0)
    weights = [ops.convert_to_numpy(w) for w in model.likelihood.weights]
    assert len(weights) == (4 if hidden else 1)
    assert all(np.abs(w).max() > 0 for w in weights)  # the local weights learn
    # The model contract: the reloaded model has every weight (the local ones too), and decodes,
    # samples and scores as the saved one did (no train step: this test trains the model).
    again = check_model(model, x[:3], tmp_path, train=False, rtol=1e-6)
    assert again.likelihood.kind == "local_ar_bernoulli" and again.likelihood.window == 3
    assert again.likelihood.hidden == hidden
    assert [w.path for w in again.likelihood.weights] == [w.path for w in model.likelihood.weights]
    samples = again.sample(3, seed=1)
    assert samples.shape == (3, 6, 6, 1) and np.all((samples >= 0) & (samples <= 1))
