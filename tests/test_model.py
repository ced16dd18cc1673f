from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from contract import check_config, check_model
from vaekit.errors import ConfigError, ModelFileError
from vaekit.models.build import build_vae
from vaekit.models.saving import load_model, save_model
from vaekit.models.vae import VAE


def _bce_sum(x, logits):
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)


def test_seed_architecture_is_the_classic_recipe():
    model = build_vae((28, 28, 1), "seed")
    widths = [
        layer.units for layer in model.encoder.layers if isinstance(layer, keras.layers.Dense)
    ]
    assert widths == [128, 64, 10, 10]
    widths = [
        layer.units for layer in model.decoder.layers if isinstance(layer, keras.layers.Dense)
    ]
    assert widths == [64, 128, 784]
    # 784-128-64-(10+10) encoder and 10-64-128-784 decoder.
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 110_036 + 110_160
    assert [w.name for w in model.non_trainable_weights] == ["kl_scale"]  # warm-up's factor
    assert model.latent_dim == 10 and model.data_shape == (28, 28, 1) and model.beta == 1.0


def test_loss_is_summed_bce_plus_beta_times_summed_kl(binary_images):
    x = binary_images[:16]
    for beta in (1.0, 0.1):
        model = build_vae((8, 8, 1), "seed", beta=beta, latent_dim=3, hidden_units=[16])
        out = model(x, training=False)
        loss = float(ops.convert_to_numpy(model.compute_loss(x=x, y_pred=out, training=False)))
        params = ops.convert_to_numpy(out["params"])
        mean, log_var = ops.convert_to_numpy(out["mean"]), ops.convert_to_numpy(out["log_var"])
        kl = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(axis=1)  # summed, not averaged
        expected = np.mean(_bce_sum(x, params) + beta * kl)
        assert loss == pytest.approx(expected, rel=1e-4)


def test_sample_weights_give_a_weighted_mean(binary_images):
    x = binary_images[:6]
    model = build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[8])
    out = model(x, training=False)
    rec, kl = (ops.convert_to_numpy(t) for t in model.elbo_terms(ops.convert_to_tensor(x), out))
    w = np.array([1, 0, 2, 0, 0, 1], "float32")
    for weights in (w, w[:, None]):  # (batch,) and (batch, 1)
        loss = model.compute_loss(x=x, y_pred=out, sample_weight=weights, training=False)
        expected = np.sum((rec + kl) * w) / w.sum()
        assert float(ops.convert_to_numpy(loss)) == pytest.approx(expected, rel=1e-5)


def test_regularization_losses_are_added():
    from vaekit.models.networks import mlp_decoder

    inp = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inp)
    regularized = keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(10.0))
    encoder = keras.Model(inp, [regularized(h), keras.layers.Dense(2)(h)])
    model = VAE(encoder, mlp_decoder((8, 8, 1), 2, hidden_units=(8,)))
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    out = model(x, training=False)
    rec, kl = (ops.convert_to_numpy(t) for t in model.elbo_terms(ops.convert_to_tensor(x), out))
    penalty = 10.0 * float(np.sum(ops.convert_to_numpy(regularized.kernel) ** 2))
    assert penalty > 0.1
    loss = float(ops.convert_to_numpy(model.compute_loss(x=x, y_pred=out, training=False)))
    assert loss == pytest.approx(float(np.mean(rec + kl)) + penalty, rel=1e-5)


def test_mismatched_networks_and_likelihoods_are_refused():
    from vaekit.models.likelihoods import Bernoulli
    from vaekit.models.networks import mlp_decoder, mlp_encoder

    enc = mlp_encoder((8, 8, 3), 2, hidden_units=(8,))
    with pytest.raises(ConfigError, match="decoder to output"):
        VAE(enc, mlp_decoder((8, 8, 1), 2, hidden_units=(8,)))
    with pytest.raises(ConfigError, match="event_ndim=3"):
        VAE(enc, mlp_decoder((8, 8, 3), 2, hidden_units=(8,)), likelihood=Bernoulli(event_ndim=2))


def test_fit_reports_separate_metrics_and_learns(binary_images):
    rng = np.random.default_rng(1)
    # Two prototypes with pixel noise: a VAE should compress this well.
    protos = (rng.random((2, 8, 8, 1)) < 0.5).astype("float32")
    x = protos[rng.integers(0, 2, 1024)]
    flips = rng.random(x.shape) < 0.02
    x = np.where(flips, 1 - x, x).astype("float32")
    keras.utils.set_random_seed(0)
    model = build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[32, 16], seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    start = model.evaluate(x, verbose=0, return_dict=True)
    history = model.fit(x, epochs=8, batch_size=64, validation_data=(x[:128],), verbose=0).history
    assert {"loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"} <= set(
        history
    )
    end = model.evaluate(x, verbose=0, return_dict=True)
    assert end["loss"] < 0.5 * start["loss"]
    assert end["loss"] == pytest.approx(end["reconstruction"] + end["kl"], rel=1e-3)


def test_user_methods_shapes_and_determinism(binary_images):
    model = build_vae((8, 8, 1), "seed", latent_dim=4, hidden_units=[16], seed=2)
    mean, log_var = model.encode(binary_images, batch_size=100)
    assert mean.shape == log_var.shape == (256, 4)
    recon = model.reconstruct(binary_images[:5])
    assert recon.shape == (5, 8, 8, 1) and (recon >= 0).all() and (recon <= 1).all()
    logits = model.decode(mean[:3], return_params=True)
    np.testing.assert_allclose(
        1 / (1 + np.exp(-logits)), model.decode(mean[:3]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(model.sample(6, seed=3), model.sample(6, seed=3))
    assert not np.allclose(model.sample(6, seed=3), model.sample(6, seed=4))
    cold = model.sample(3, seed=5, temperature=0.0)  # every draw is the prior mode
    np.testing.assert_allclose(cold[0], cold[2])
    assert model.encode(binary_images[:0])[0].shape == (0, 4)


def test_bad_model_options_raise_config_errors():
    with pytest.raises(ConfigError, match="beta"):
        build_vae((8, 8, 1), "seed", beta=-1.0)
    with pytest.raises(ConfigError, match="Unknown model 'nope'"):
        build_vae((8, 8, 1), "nope")
    with pytest.raises(ConfigError, match="activation"):
        build_vae((8, 8, 1), "seed", activation="not_an_activation")
    with pytest.raises(ConfigError, match="latent_dim"):
        build_vae((8, 8, 1), "seed", latent_dim=0)


def test_save_and_load_in_a_fresh_process_with_safe_mode(tmp_path, binary_images):
    """The model contract, with the file loaded in fresh processes on this backend and on another
    (a model saved on one backend loads on the next), and in this one with its optimizer."""
    here = keras.backend.backend()
    other = {"jax": "torch", "torch": "tensorflow", "tensorflow": "jax"}[here]
    keras.utils.set_random_seed(0)
    model = build_vae((8, 8, 1), "seed", latent_dim=3, hidden_units=[16], beta=0.5, seed=1)
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=64, verbose=0)
    # Loading with the optimizer keeps training where it stopped (a train step on the loaded model).
    loaded = check_model(
        model, binary_images[:64], tmp_path, new_process=True, other_backends=[other]
    )
    assert isinstance(loaded, VAE) and loaded.beta == 0.5 and loaded.likelihood.kind == "bernoulli"


def test_unsafe_or_foreign_model_files_are_refused(tmp_path):
    inp = keras.Input((4,))
    lam = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp))
    lam.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="Refused|safe"):
        load_model(tmp_path / "lambda.keras")

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ModelFileError, match="not a vaekit VAE"):
        load_model(tmp_path / "plain.keras")

    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ModelFileError, match="not a Keras model archive"):
        load_model(tmp_path / "text.keras")

    data = (tmp_path / "plain.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.keras")

    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ModelFileError, match="No model.keras"):
        load_model(tmp_path)


def test_atomic_save_keeps_the_old_file_when_saving_fails(tmp_path, monkeypatch):
    model = build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[8])
    path = save_model(model, tmp_path / "m.keras")
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


@pytest.mark.parametrize("preset", ["vampprior", "hvae_vampprior"])
def test_log_var_range_bounds_every_gaussian_and_round_trips(binary_images, preset):
    """A narrow `log_var_range` (the VampPrior code's [-6, 2]) clips the posterior's, the prior
    components' and the hierarchical layer's log-variances, and comes back from save / load."""
    x = binary_images[:8]
    model = build_vae(x.shape[1:], preset, seed=0, hidden_units=[8], latent_dim=2,
                      prior_components=3, log_var_range=[-0.5, 0.25])  # fmt: skip
    # large weights push the raw log-variances far outside the range
    for variable in model.trainable_variables:
        variable.assign(ops.convert_to_tensor(10.0 * np.sign(variable.numpy() + 1e-3)))
    _, log_var = model.posterior(x)
    _, prior_log_var = model.prior.components()
    for values in (log_var, prior_log_var):
        values = ops.convert_to_numpy(values)
        assert values.min() >= -0.5 and values.max() <= 0.25
        assert np.isin(values, np.float32([-0.5, 0.25])).any()  # the clip acted
    if preset == "hvae_vampprior":
        z2 = ops.zeros((len(x), 2))
        _, z1_log_var = model._z1_posterior(model.z1_encoder(x), z2, training=False)
        _, z1_prior_log_var = model.z1_prior(z2)
        assert ops.convert_to_numpy(z1_log_var).max() <= 0.25
        assert ops.convert_to_numpy(model.clip_log_var(z1_prior_log_var)).max() <= 0.25
    restored = check_config(model)
    assert restored.log_var_range == (-0.5, 0.25)
    old = {k: v for k, v in model.get_config().items() if k != "log_var_range"}
    assert model.__class__.from_config(old).log_var_range == (-30.0, 20.0)  # models saved before


@pytest.mark.parametrize("bad", [[2, -6], [1, 1], [0], [float("nan"), 1], "wide"])
def test_bad_log_var_ranges_are_config_errors(bad):
    with pytest.raises(ConfigError, match="log_var_range"):
        build_vae((4, 4, 1), "seed", log_var_range=bad)
