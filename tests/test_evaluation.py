"""The NLL estimator against exact marginal likelihoods, bounds, seeds and a NumPy reference."""

import json
import math

import keras
import numpy as np
import pytest
from keras import ops

from vaekit.evaluation.nll import evaluate, importance_sampled
from vaekit.models.build import build_vae


def _trained(latent_dim, images, epochs=20, seed=1, likelihood="bernoulli"):
    keras.utils.set_random_seed(seed)
    model = build_vae(
        images.shape[1:],
        "seed",
        hidden_units=[32],
        latent_dim=latent_dim,
        seed=0,
        likelihood=likelihood,
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(images, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def images():
    # Four prototype 4x4 patterns with pixel noise: a posterior that is far from trivial.
    rng = np.random.default_rng(0)
    prototypes = rng.random((4, 4, 4, 1)) < 0.5
    flips = rng.random((512, 4, 4, 1)) < 0.1
    return (prototypes[rng.integers(0, 4, 512)] ^ flips).astype("float32")


def _exact_log_likelihood(model, x, latent_dim, half_width=6.0, points=None):
    """log p(x) = log integral p(x|z) p(z) dz by the midpoint rule on a grid over the latent."""
    points = points or (4001 if latent_dim == 1 else 241)
    axis = np.linspace(-half_width, half_width, points)
    step = axis[1] - axis[0]
    grid = np.stack(np.meshgrid(*[axis] * latent_dim, indexing="ij"), -1).reshape(-1, latent_dim)
    logits = model.decode(grid.astype("float32"), batch_size=8192, return_params=True)
    if model.likelihood.kind == "bernoulli":  # in float64, independently of the library's maths
        logits = logits.reshape(len(grid), -1).astype("float64")  # (G, D)
        flat = x.reshape(len(x), -1).astype("float64")  # (n, D)
        log_softplus = np.logaddexp(0, logits)  # (G, D)
        log_px_given_z = flat @ logits.T - log_softplus.sum(1)[None, :]  # (n, G)
    else:  # the likelihood's own log_prob (its tests check it against a reference)
        log_px_given_z = keras.ops.convert_to_numpy(
            model.likelihood.log_prob(x[:, None], logits[None])
        ).astype("float64")  # (n, G)
    log_pz = -0.5 * (grid**2).sum(1) - 0.5 * latent_dim * math.log(2 * math.pi)
    joint = log_px_given_z + log_pz[None, :]
    peak = joint.max(1, keepdims=True)
    return np.log(np.exp(joint - peak).sum(1)) + peak[:, 0] + latent_dim * math.log(step)


@pytest.fixture(scope="module")
def rough(images):
    """A model whose q(z|x) is too wide on purpose: a clear gap for the importance samples to close."""
    model = _trained(2, images, epochs=2)
    bias = model.encoder.get_layer("z_log_var").bias
    bias.assign(keras.ops.convert_to_numpy(bias) + 1.5)
    return model


@pytest.mark.parametrize(
    "latent_dim, likelihood",
    [(1, "bernoulli"), (2, "bernoulli"), (1, "local_ar_bernoulli")],
)
def test_estimate_matches_quadrature(images, latent_dim, likelihood):
    model = _trained(latent_dim, images, likelihood=likelihood)
    x = images[:16]
    exact = _exact_log_likelihood(model, x, latent_dim)
    estimate = importance_sampled(model, x, 5000, seed=0)["log_likelihood"]
    assert abs(estimate.mean() - exact.mean()) < 0.1, (estimate.mean(), exact.mean())
    assert np.all(np.abs(estimate - exact) < 0.3)
    # A lower bound in expectation: it may only exceed log p(x) by Monte Carlo noise.
    assert estimate.mean() <= exact.mean() + 0.02


def test_bound_order_and_tightening(images, rough):
    model = rough
    x = images[:256]
    nll = {}
    for k in (1, 10, 100, 1000):
        scores = importance_sampled(model, x, k, seed=3)
        nll[k] = -scores["log_likelihood"].mean()
        assert nll[k] <= -scores["elbo"].mean() + 1e-6  # log-mean-exp >= mean (Jensen)
    # Tighter with K: clearly from 1 to 10 to 100; beyond, the remaining gap is within noise.
    assert nll[1] > nll[10] > nll[100], nll
    assert nll[1000] < nll[100] + 0.01 and nll[1] - nll[1000] > 0.2, nll


def test_same_seed_same_numbers_and_chunking(images, rough, monkeypatch):
    from vaekit.evaluation import nll as evaluation

    model = rough
    x = images[:8]
    first = importance_sampled(model, x, 300, seed=5)
    again = importance_sampled(model, x, 300, seed=5)
    other = importance_sampled(model, x, 300, seed=6)
    np.testing.assert_array_equal(first["log_likelihood"], again["log_likelihood"])
    assert not np.allclose(first["log_likelihood"], other["log_likelihood"])
    # Smaller calls (more chunks, smaller image batches) draw the same noise in the same order
    # only when the chunking matches; the estimate must still agree in distribution.
    monkeypatch.setattr(evaluation, "ROWS_PER_CHUNK", 128)
    monkeypatch.setattr(evaluation, "EAGER_ROWS_PER_CHUNK", 128)
    chunked = importance_sampled(model, x, 300, seed=5)
    assert abs(chunked["log_likelihood"].mean() - first["log_likelihood"].mean()) < 0.5


def _numpy_log_weights(model, x, noise, k):
    """The MLP VAE's log p(x|z) + log p(z) - log q(z|x), in float64 NumPy from its weights."""

    def weights(net):
        return {v.path: keras.ops.convert_to_numpy(v).astype("float64") for v in net.weights}

    def dense(h, w, name, relu=False):
        out = h @ w[f"{name}/kernel"] + w[f"{name}/bias"]
        return np.maximum(out, 0) if relu else out

    enc, dec = weights(model.encoder), weights(model.decoder)
    flat = x.reshape(len(x), -1).astype("float64")
    h = dense(flat, enc, "dense_0", relu=True)
    mean, log_var = dense(h, enc, "z_mean"), np.clip(dense(h, enc, "z_log_var"), -30, 20)
    mean, log_var = np.repeat(mean, k, 0), np.repeat(log_var, k, 0)
    z = mean + np.exp(0.5 * log_var) * noise
    logits = dense(dense(z, dec, "dense_0", relu=True), dec, "params")
    log_px = (np.repeat(flat, k, 0) * logits - np.logaddexp(0, logits)).sum(1)
    log_pz = -0.5 * (z**2 + math.log(2 * math.pi)).sum(1)
    log_q = -0.5 * ((z - mean) ** 2 / np.exp(log_var) + log_var + math.log(2 * math.pi)).sum(1)
    return (log_px + log_pz - log_q).reshape(len(x), k)


def test_agrees_with_a_numpy_reference(images, rough):
    """Every backend's estimate equals one float64 NumPy computation: the backends agree."""
    model = rough
    x, k, seed = images[:5], 50, 11
    scores = importance_sampled(model, x, k, seed=seed)
    noise = np.random.default_rng(seed).standard_normal((len(x) * k, 2), dtype="float32")
    log_w = _numpy_log_weights(model, x, noise.astype("float64"), k)
    peak = log_w.max(1, keepdims=True)
    reference = np.log(np.exp(log_w - peak).mean(1)) + peak[:, 0]
    np.testing.assert_allclose(scores["log_likelihood"], reference, atol=2e-3)
    np.testing.assert_allclose(scores["elbo"], log_w.mean(1), atol=2e-3)


def test_evaluate_summary(images, rough):
    model = rough
    result = evaluate(model, images[:100], 20, seed=0)
    assert result["k"] == 20 and result["n"] == 100 and result["latent_dim"] == 2
    assert 0 < result["nll"] <= result["elbo"]
    assert result["elbo"] == pytest.approx(result["reconstruction"] + result["kl"], rel=1e-9)
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (16 * math.log(2)))
    assert 0 <= result["active_units"] <= 2
    json.dumps(result)  # JSON-ready


def test_active_units_counts_only_used_dimensions(images):
    model = _trained(2, images, epochs=2)  # its own: the test edits a kernel
    mean_kernel = model.encoder.get_layer("z_mean").kernel
    kernel = keras.ops.convert_to_numpy(mean_kernel).copy()
    kernel[:, 1] = 0.0  # unit 1 ignores the data
    mean_kernel.assign(kernel)
    from vaekit.evaluation.nll import active_units

    assert active_units(model, images[:200]) <= 1


def test_cli_evaluate_json(tiny_run, capsys):
    from vaekit.cli import main

    rc = main(["evaluate", str(tiny_run), "-k", "20", "--limit", "30", "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert {"elbo", "nll", "k", "split", "n"} <= set(result)
    assert result["k"] == 20 and result["split"] == "test" and result["n"] == 30
    assert result["nll"] <= result["elbo"]
    assert not list(tiny_run.glob("evaluation*.json"))  # --json alone writes no file


def test_cli_evaluate_writes_json_file(tiny_run, tmp_path, capsys):
    from vaekit.cli import main

    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tiny_run), "-k", "5", "--limit", "10", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 10
    assert "NLL" in capsys.readouterr().out
    assert main(["evaluate", str(tiny_run), "-k", "5", "--limit", "10", "--out", str(out)]) == 2


@pytest.mark.parametrize("layers", [1, 2])
def test_log_q_is_exact_for_posteriors_sharp_beside_their_mean(layers):
    """log q(z | x) is scored from the noise that drew z, so a posterior with std 5e-7 around a
    mean of 2 (log-variance -29, near the clip) keeps its density: recovering the noise as
    (z - mean) / std would keep only a few float32 steps of it."""
    model = build_vae(
        (4, 4, 1), "seed", hidden_units=[8], latent_dim=3, stochastic_layers=layers, seed=0
    )
    k, x = 4, np.zeros((2, 4, 4, 1), "float32")

    def sharp(rows, dim):
        full = lambda value: ops.convert_to_tensor(np.full((rows, dim), value, "float32"))  # noqa: E731
        return full(2.0), full(-29.0)

    model.posterior = lambda x, training=False: sharp(len(x), model.latent_dim)
    if layers == 2:
        model._z1_posterior = lambda x_part, z2, training: sharp(z2.shape[0], model.z1_dim)
    noise = np.random.default_rng(0).normal(size=(2 * k, model.noise_dim)).astype("float32")

    def kl(noise):  # log q(z_k | x) - log p(z_k), (2, k)
        return ops.convert_to_numpy(model.log_weights(x, k, noise=noise)[1]).astype("float64")

    # z moves by ~1e-6 at most, so log p(z) stays put and the difference is log q's (to float32
    # rounding of terms near 100: ~1e-3). Recovering the noise from z was off by up to 0.16.
    got = kl(noise) - kl(np.zeros_like(noise))
    expected = -0.5 * (noise.astype("float64") ** 2).sum(1).reshape(2, k)
    np.testing.assert_allclose(got, expected, atol=1e-2)


@pytest.mark.parametrize("layers", [1, 2])
def test_monte_carlo_kl_of_the_elbo_is_exact_for_sharp_posteriors(layers):
    """A mixture prior's ELBO KL is the one-draw estimate log q(z | x) - log p(z); log q comes
    from the noise that drew z, as in the importance weights (the same sharp posteriors)."""
    model = build_vae(
        (4, 4, 1), "seed", hidden_units=[8], latent_dim=3, stochastic_layers=layers,
        prior="mog", prior_components=2, seed=0,
    )  # fmt: skip
    x = np.zeros((5, 4, 4, 1), "float32")
    sharp = lambda rows, dim: (  # noqa: E731
        ops.convert_to_tensor(np.full((rows, dim), 2.0, "float32")),
        ops.convert_to_tensor(np.full((rows, dim), -29.0, "float32")),
    )
    model.posterior = lambda x, training=False: sharp(len(x), model.latent_dim)
    if layers == 2:
        model._z1_posterior = lambda x_part, z2, training: sharp(z2.shape[0], model.z1_dim)
    noise = np.random.default_rng(1).normal(size=(5, model.noise_dim)).astype("float32")

    def kl(noise):  # (5,)
        outputs = model(x, noise=ops.convert_to_tensor(noise))
        return ops.convert_to_numpy(model.elbo_terms(x, outputs)[1]).astype("float64")

    got = kl(noise) - kl(np.zeros_like(noise))  # only the z2 draw's log q differs (see above)
    expected = -0.5 * (noise[:, : model.latent_dim].astype("float64") ** 2).sum(1)
    np.testing.assert_allclose(got, expected, atol=1e-2)


def test_mutual_information_is_zero_for_one_shared_posterior_and_log_n_for_distinct_ones(
    monkeypatch,
):
    from vaekit.evaluation import information

    rng = np.random.default_rng(0)
    shared = np.tile(rng.normal(size=(1, 3)), (50, 1))
    mi = information.posterior_mutual_information(shared, np.zeros((50, 3)), seed=1)
    assert mi == pytest.approx(0.0, abs=1e-9)
    apart = np.arange(50, dtype="float64")[:, None] * np.ones((1, 3)) * 10  # far beyond their std
    mi = information.posterior_mutual_information(apart, np.full((50, 3), -4.0), seed=1)
    assert mi == pytest.approx(np.log(50), abs=1e-6)  # the estimator's ceiling, log N
    mean, log_var = rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) - 1
    whole = information.posterior_mutual_information(mean, log_var, seed=2)
    monkeypatch.setattr(information, "ELEMENTS_PER_BLOCK", 7)  # one row per block
    assert information.posterior_mutual_information(mean, log_var, seed=2) == pytest.approx(whole)
    assert 0 < whole < np.log(40)
