"""beta-TCVAE: the total-correlation estimate against a direct computation, and the one ELBO with
the TC part of its KL reweighted (training only), saved and loaded like every model."""

import math

import keras
import numpy as np
import pytest

from contract import check_model
from vaekit import config as config_lib
from vaekit.errors import ConfigError
from vaekit.models import ops as vops
from vaekit.models.build import build_vae


def _numpy_tc(z, mean, log_var):
    """The minibatch estimate written out with loops: log q(z_i) - sum_d log q(z_id)."""
    m, d = z.shape
    out = np.zeros(m)
    for i in range(m):
        per_dim = np.zeros((m, d))
        for j in range(m):
            var = np.exp(log_var[j])
            per_dim[j] = -0.5 * ((z[i] - mean[j]) ** 2 / var + log_var[j] + math.log(2 * math.pi))
        joint = np.log(np.exp(per_dim.sum(axis=1)).sum()) - math.log(m)
        marginals = np.log(np.exp(per_dim).sum(axis=0)) - math.log(m)
        out[i] = joint - marginals.sum()
    return out


def test_total_correlation_matches_the_direct_sum():
    rng = np.random.default_rng(0)
    z, mean = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    log_var = rng.normal(scale=0.3, size=(6, 3))
    got = keras.ops.convert_to_numpy(
        vops.total_correlation(*(a.astype("float32") for a in (z, mean, log_var)))
    )
    np.testing.assert_allclose(got, _numpy_tc(z, mean, log_var), rtol=1e-4, atol=1e-4)


def test_total_correlation_sees_dependent_dimensions():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(256, 1)).astype("float32")
    independent = np.concatenate([a, rng.normal(size=(256, 1)).astype("float32")], axis=1)
    dependent = np.concatenate([a, a], axis=1)
    log_var = np.full((256, 2), -4.0, "float32")  # tight posteriors: q(z) follows the means

    def tc(means):
        return float(keras.ops.mean(vops.total_correlation(means, means, log_var)))

    assert tc(dependent) > tc(independent) + 1.0  # a copied dimension: about 1.5 nats here
    assert abs(tc(independent)) < tc(dependent) / 3


def _model(tc_weight, seed=0):
    cfg = config_lib.model_preset("seed")
    cfg.latent_dim, cfg.hidden_units, cfg.tc_weight = 3, [16], tc_weight
    return build_vae((6, 6, 1), cfg, seed=seed)


def test_tc_weight_adds_its_share_of_the_estimate_to_the_training_loss_only():
    x = (np.random.default_rng(2).random((16, 6, 6, 1)) < 0.4).astype("float32")
    plain, tcvae = _model(1.0), _model(4.0)
    tcvae.set_weights(plain.get_weights())
    noise = np.random.default_rng(3).normal(size=(16, 3)).astype("float32")
    outputs = plain(x, training=True, noise=noise)
    terms = vops.total_correlation(outputs["z"], outputs["mean"], outputs["log_var"])
    tc = float(np.mean(keras.ops.convert_to_numpy(terms)))
    loss = float(keras.ops.convert_to_numpy(plain.compute_loss(x, training=True, noise=noise)))
    loss_tc = float(keras.ops.convert_to_numpy(tcvae.compute_loss(x, training=True, noise=noise)))
    assert loss_tc == pytest.approx(loss + 3.0 * tc, rel=1e-4, abs=1e-3)

    # Scores (training=False) are the true ELBO whatever the weight.
    def score(model):
        return float(keras.ops.convert_to_numpy(model.compute_loss(x, training=False, noise=noise)))

    assert score(tcvae) == pytest.approx(score(plain), rel=1e-5)


def test_a_beta_tcvae_trains_saves_and_loads(tmp_path):
    x = (np.random.default_rng(4).random((64, 6, 6, 1)) < 0.4).astype("float32")
    model = _model(6.0)
    loaded = check_model(model, x[:8], tmp_path)
    assert loaded.tc_weight == 6.0
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    assert all(np.isfinite(history["loss"]))


def test_tc_weight_is_checked():
    cfg = config_lib.model_preset("seed")
    for bad, message in [
        ({"tc_weight": -1.0}, "finite number >= 0"),
        ({"tc_weight": 2.0, "iw_samples": 5}, "iw_samples > 1"),
        ({"tc_weight": 2.0, "stochastic_layers": 2}, "hierarchical"),
    ]:
        with pytest.raises(ConfigError, match=message):
            config_lib.update_section(cfg, "model", bad).validate()
