import keras
import numpy as np
import pytest
from keras import ops

from contract import check_config, check_layer
from vaekit.backends.keras_compat import tensorflow_unprobed
from vaekit.errors import ConfigError
from vaekit.models import priors
from vaekit.models.build import build_vae
from vaekit.models.vae import VAE

LATENT, DATA_SHAPE = 2, (2, 3)  # a tiny VampPrior setting: 6 data values, a 2-d latent
BATCH, DRAWS = 16, 100_000  # few distinct shapes: JAX compiles each eager op once per shape
RNG = np.random.default_rng(0)
ENC_W = RNG.normal(size=(6, LATENT)).astype("float32")  # the fake encoder: x -> (x W, x V - 1)
ENC_V = (0.5 * RNG.normal(size=(6, LATENT))).astype("float32")


@pytest.fixture(autouse=True)
def _tensorflow_unprobed():
    with tensorflow_unprobed():  # Keras' serializer would import TensorFlow on every backend (4 s)
        yield


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def fake_encode(x):
    """q(z|x) of a fixed linear encoder, written with keras.ops."""
    flat = ops.reshape(ops.convert_to_tensor(x, "float32"), (-1, 6))
    return ops.matmul(flat, ENC_W), ops.matmul(flat, ENC_V) - 1.0


def np_encode(x):
    flat = np.reshape(np.asarray(x, "float64"), (-1, 6))
    return flat @ ENC_W, flat @ ENC_V - 1.0


def np_gaussian(z, mean, log_var):  # log N(z; mean, diag exp(log_var)), summed over the last axis
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=-1)


def np_logsumexp(a, axis=-1):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)), axis)


def np_mog_log_prob(z, means, log_vars, logits):
    log_w = logits - np_logsumexp(logits)
    return np_logsumexp(np_gaussian(z[:, None, :], means, log_vars) + log_w)


def np_vamp_log_prob(z, pseudo_inputs):
    mean, log_var = np_encode(np.clip(pseudo_inputs, 0.0, 1.0))  # (K, latent) each
    per_component = np_gaussian(z[:, None, :], mean, log_var)
    return np_logsumexp(per_component) - np.log(len(pseudo_inputs))


def mog(num_components=3, latent_dim=LATENT, seed=1):
    """A bound mixture with spread-out means, unequal variances and unequal weights."""
    prior = priors.MixtureOfGaussians(num_components=num_components)
    prior.bind(latent_dim, DATA_SHAPE, None)
    rng = np.random.default_rng(seed)
    prior.set_weights(
        [
            rng.normal(scale=2.0, size=(num_components, latent_dim)).astype("float32"),
            rng.uniform(-1.0, 1.0, size=(num_components, latent_dim)).astype("float32"),
            rng.normal(size=(num_components,)).astype("float32"),
        ]
    )
    return prior


def vamp(num_components=3, seed=2):
    prior = priors.VampPrior(num_components=num_components)
    prior.bind(LATENT, DATA_SHAPE, fake_encode)
    rng = np.random.default_rng(seed)
    # Some values outside [0, 1]: the clip must bring them back.
    prior.set_weights(
        [rng.uniform(-0.5, 1.5, size=(num_components, *DATA_SHAPE)).astype("float32")]
    )
    return prior


# --- standard normal -------------------------------------------------------------------------------
def test_standard_normal_log_prob_and_analytic_kl_match_numpy():
    rng = np.random.default_rng(3)
    z, mean, log_var = rng.normal(size=(3, BATCH, LATENT)).astype("float32")
    prior = priors.StandardNormal()  # unbound, as model.py uses it today: needs no weights
    np.testing.assert_allclose(
        _np(prior.log_prob(z)), np_gaussian(z, 0.0, 0.0), rtol=1e-5, atol=1e-5
    )
    expected_kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)
    np.testing.assert_allclose(_np(prior.kl(mean, log_var, z)), expected_kl, rtol=1e-5, atol=1e-5)
    assert prior.weights == []
    a, b = prior.sample(BATCH, LATENT, seed=7), prior.sample(BATCH, LATENT, seed=7)
    assert tuple(a.shape) == (BATCH, LATENT)
    np.testing.assert_array_equal(_np(a), _np(b))


def test_monte_carlo_kl_matches_the_analytic_kl_on_average():
    n = 20_000
    mean = np.array([[0.5, -1.0, 0.0], [2.0, 0.3, -0.7]], "float32")
    log_var = np.array([[0.0, -1.0, 0.7], [-2.0, 0.4, 0.1]], "float32")
    eps = np.random.default_rng(4).normal(size=(n, *mean.shape)).astype("float32")
    z = (mean + np.exp(0.5 * log_var) * eps).reshape(-1, 3)  # (n * 2, 3)
    means, log_vars = np.tile(mean, (n, 1)), np.tile(log_var, (n, 1))
    prior = priors.StandardNormal()
    mc = _np(priors.Prior.kl(prior, means, log_vars, z)).reshape(n, 2)  # the base class's estimate
    analytic = _np(prior.kl(mean, log_var, mean))
    stderr = mc.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(mc.mean(axis=0) - analytic) < 5 * stderr), (mc.mean(axis=0), analytic)


def test_a_prior_whose_kl_takes_no_noise_still_serves_a_model():
    """A user prior written for `kl(mean, log_var, z)` (vaekit's take the draw's noise too)."""
    calls = []

    class OldStyle(priors.StandardNormal):
        def kl(self, mean, log_var, z):
            calls.append(z)
            return super().kl(mean, log_var, z)

    nets = build_vae((4, 4, 1), "seed", hidden_units=[8], latent_dim=2, seed=0)
    model = VAE(nets.encoder, nets.decoder, prior=OldStyle(), seed=0)
    x = np.zeros((3, 4, 4, 1), "float32")
    outputs = model(x)
    _, kl = model.elbo_terms(x, outputs)
    assert len(calls) == 1
    expected = priors.StandardNormal().kl(outputs["mean"], outputs["log_var"], outputs["z"])
    np.testing.assert_allclose(_np(kl), _np(expected), rtol=1e-6)


# --- mixture of Gaussians --------------------------------------------------------------------------
def test_mog_log_prob_matches_numpy_mixture_and_stays_finite_far_away():
    prior = mog()
    means, log_vars, logits = (w.astype("float64") for w in prior.get_weights())
    z = np.random.default_rng(5).normal(scale=3.0, size=(BATCH, LATENT)).astype("float32")
    z[-2:] = [[1e3, -1e3], [-3e3, 50.0]]  # far away: every component's density underflows
    got = _np(prior.log_prob(z))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, np_mog_log_prob(z, means, log_vars, logits), rtol=1e-5)
    assert tuple(prior(z).shape) == (BATCH,)  # calling the layer scores z
    stacked = _np(prior.log_prob(z.reshape(2, BATCH // 2, LATENT)))  # leading axes are batch axes
    np.testing.assert_allclose(stacked.reshape(-1), got, rtol=1e-6)


def test_mog_with_one_standard_component_is_the_standard_normal():
    prior = priors.MixtureOfGaussians(num_components=1)
    prior.bind(LATENT, DATA_SHAPE, None)
    prior.set_weights(
        [np.zeros((1, LATENT), "float32"), np.zeros((1, LATENT), "float32"), np.zeros(1, "float32")]
    )
    z = np.random.default_rng(6).normal(size=(BATCH, LATENT)).astype("float32")
    np.testing.assert_allclose(
        _np(prior.log_prob(z)), _np(priors.StandardNormal().log_prob(z)), rtol=1e-6, atol=1e-6
    )


def test_mog_density_integrates_to_one():
    prior = mog(num_components=3, latent_dim=1, seed=7)
    grid = np.linspace(-30.0, 30.0, 60_001, dtype="float32")[:, None]
    density = np.exp(_np(prior.log_prob(grid)))
    assert abs(np.trapezoid(density, grid[:, 0].astype("float64")) - 1.0) < 1e-4


def test_mog_samples_have_the_mixture_moments_and_are_seeded():
    prior = mog(seed=8)
    means, log_vars, logits = (w.astype("float64") for w in prior.get_weights())
    weights = np.exp(logits - np_logsumexp(logits))[:, None]
    mixture_mean = np.sum(weights * means, axis=0)
    mixture_var = np.sum(weights * (np.exp(log_vars) + means**2), axis=0) - mixture_mean**2
    n = DRAWS
    z = _np(prior.sample(n, LATENT, seed=0))
    assert z.shape == (n, LATENT)
    np.testing.assert_array_less(
        np.abs(z.mean(axis=0) - mixture_mean), 5 * np.sqrt(mixture_var / n)
    )
    np.testing.assert_allclose(z.var(axis=0), mixture_var, rtol=0.03)

    np.testing.assert_array_equal(
        _np(prior.sample(BATCH, LATENT, seed=3)), _np(prior.sample(BATCH, LATENT, seed=3))
    )
    assert not np.allclose(
        _np(prior.sample(BATCH, LATENT, seed=3)), _np(prior.sample(BATCH, LATENT, seed=4))
    )
    g1, g2 = keras.random.SeedGenerator(9), keras.random.SeedGenerator(9)
    first = _np(prior.sample(BATCH, LATENT, seed=g1))
    np.testing.assert_array_equal(first, _np(prior.sample(BATCH, LATENT, seed=g2)))
    assert not np.allclose(
        first, _np(prior.sample(BATCH, LATENT, seed=g1))
    )  # the generator moves on


# --- VampPrior -------------------------------------------------------------------------------------
def test_vampprior_log_prob_is_the_mean_of_the_encoder_densities():
    prior = vamp()
    (raw,) = prior.get_weights()
    z = np.random.default_rng(9).normal(scale=2.0, size=(BATCH, LATENT)).astype("float32")
    z[-1] = [1e3, -1e3]  # far away: every component's density underflows
    got = _np(prior.log_prob(z))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, np_vamp_log_prob(z, raw), rtol=1e-5)
    u = _np(prior.pseudo_inputs)
    assert u.shape == (3, *DATA_SHAPE) and u.min() >= 0.0 and u.max() <= 1.0
    assert raw.min() < 0.0 and raw.max() > 1.0  # the clip was needed


def test_vampprior_fresh_pseudo_inputs_lie_inside_the_unit_interval():
    prior = priors.VampPrior(num_components=50)
    prior.bind(LATENT, DATA_SHAPE, fake_encode)
    (raw,) = prior.get_weights()
    assert raw.shape == (50, *DATA_SHAPE)
    assert raw.min() >= 0.0 and raw.max() <= 1.0 and raw.std() > 0.1  # spread, not copies


def test_vampprior_trains_its_pseudo_inputs_and_keeps_them_in_range():
    # Keras' own train step (on the current backend) maximises log p(z): the pseudo-inputs must move.
    z = np.random.default_rng(10).normal(size=(BATCH, LATENT)).astype("float32")
    for learning_rate, check_improves in ((0.01, True), (100.0, False)):
        prior = vamp()
        z_in = keras.Input((LATENT,))
        model = keras.Model(z_in, prior(z_in))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=lambda _, lp: -lp)
        before, raw_before = np.mean(_np(prior.log_prob(z))), prior.get_weights()[0]
        model.fit(z, np.zeros(len(z), "float32"), batch_size=len(z), epochs=1, verbose=0)
        raw_after = prior.get_weights()[0]
        assert not np.allclose(raw_before, raw_after)  # gradients reached the pseudo-inputs
        if check_improves:
            assert np.mean(_np(prior.log_prob(z))) > before
        else:  # a huge step: the projection keeps the free weight, the clip the inputs, in [0, 1]
            assert raw_after.min() >= 0.0 and raw_after.max() <= 1.0
            u = _np(prior.pseudo_inputs)
            assert u.min() >= 0.0 and u.max() <= 1.0


def test_vampprior_samples_come_from_the_pseudo_input_posteriors():
    prior = vamp()
    mean, log_var = np_encode(np.clip(prior.get_weights()[0], 0.0, 1.0))
    n = DRAWS
    z = _np(prior.sample(n, LATENT, seed=1))
    assert z.shape == (n, LATENT)
    mixture_mean = mean.mean(axis=0)
    mixture_var = (np.exp(log_var) + mean**2).mean(axis=0) - mixture_mean**2
    np.testing.assert_array_less(
        np.abs(z.mean(axis=0) - mixture_mean), 5 * np.sqrt(mixture_var / n)
    )
    np.testing.assert_array_equal(
        _np(prior.sample(BATCH, LATENT, seed=2)), _np(prior.sample(BATCH, LATENT, seed=2))
    )


def test_vampprior_needs_bind():
    prior = priors.VampPrior(num_components=3)
    with pytest.raises(ConfigError, match="bind"):
        prior.log_prob(np.zeros((BATCH, LATENT), "float32"))
    with pytest.raises(ConfigError, match="bind"):
        prior.sample(BATCH, LATENT)


# --- get, bind and serialization -------------------------------------------------------------------
def test_get_by_name_with_options_config_or_instance():
    assert isinstance(priors.get("standard_normal"), priors.StandardNormal)
    p = priors.get("mog", num_components=5)
    assert isinstance(p, priors.MixtureOfGaussians) and p.num_components == 5 and p.kind == "mog"
    assert priors.get("vampprior").num_components == 500
    assert priors.get("mog").num_components == 10
    assert priors.get(p) is p
    clone = priors.get(keras.saving.serialize_keras_object(p))
    assert isinstance(clone, priors.MixtureOfGaussians) and clone.num_components == 5
    assert set(priors.PRIORS) == {"standard_normal", "mog", "vampprior"}
    with pytest.raises(
        ConfigError, match="Unknown prior 'gauss'. Expected one of: mog, standard_normal, vampprior"
    ):
        priors.get("gauss")
    with pytest.raises(ConfigError, match="num_components"):
        priors.get("mog", num_components=0)
    with pytest.raises(ConfigError, match="prior 'mog'"):
        priors.get("mog", components=3)
    with pytest.raises(ConfigError, match="options"):
        priors.get(p, num_components=3)


def test_bind_is_idempotent_and_checks_dimensions():
    prior = mog()
    weights = prior.get_weights()
    prior.bind(LATENT, DATA_SHAPE, None)  # again: the weights stay
    for a, b in zip(weights, prior.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="latent_dim"):
        prior.bind(LATENT + 1, DATA_SHAPE, None)
    with pytest.raises(ConfigError, match="latent"):
        prior.sample(3, LATENT + 1)


def test_encoder_given_to_bind_is_not_tracked():
    x_in = keras.Input(DATA_SHAPE)
    flat = keras.layers.Flatten()(x_in)
    encoder = keras.Model(
        x_in, [keras.layers.Dense(LATENT)(flat), keras.layers.Dense(LATENT)(flat)]
    )
    prior = priors.VampPrior(num_components=3)
    prior.bind(LATENT, DATA_SHAPE, encoder)
    assert len(prior.weights) == 1  # the pseudo-inputs only, not the encoder's kernels
    assert tuple(prior.log_prob(np.zeros((BATCH, LATENT), "float32")).shape) == (BATCH,)


@pytest.mark.parametrize("kind", ["standard_normal", "mog", "vampprior"])
def test_config_round_trip(kind):
    prior = priors.get(kind, **({} if kind == "standard_normal" else {"num_components": 7}))
    clone = check_config(prior)
    assert clone.kind == kind and clone.name == prior.name


@keras.saving.register_keras_serializable(package="vaekit_tests")
class PriorHolder(keras.Model):
    """Holds a prior the way the VAE does: an attribute, bound in `__init__` to a method of the model."""

    def __init__(self, prior, **kwargs):
        super().__init__(**kwargs)
        self.prior = priors.get(prior)
        self.prior.bind(LATENT, DATA_SHAPE, self.encode)

    def build(self, input_shape=None):
        self.built = True

    def encode(self, x):
        return fake_encode(x)

    def call(self, z):
        return self.prior.log_prob(z)

    def get_config(self):
        return {**super().get_config(), "prior": keras.saving.serialize_keras_object(self.prior)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["prior"] = keras.saving.deserialize_keras_object(config["prior"])
        return cls(**config)


@pytest.mark.parametrize(
    ("kind", "num_weights"), [("standard_normal", 0), ("mog", 3), ("vampprior", 1)]
)
def test_learned_weights_are_tracked_by_the_holder_and_survive_save_and_load(
    kind, num_weights, tmp_path
):
    prior = {"standard_normal": priors.StandardNormal, "mog": mog, "vampprior": vamp}[kind]()
    holder = PriorHolder(prior)
    holder.build((None, LATENT))
    assert len(holder.trainable_weights) == num_weights  # the holder sees (and would train) them
    z = np.random.default_rng(11).normal(size=(BATCH, LATENT)).astype("float32")
    # Reloaded in safe mode: the same prior class and weights, the same log p(z); the learned
    # weights take a train step (the VampPrior's: in its own training test).
    clone = check_layer(
        holder, z, expected_shape=(BATCH,), tmp_path=tmp_path, rtol=1e-6, train=kind == "mog"
    )
    assert type(clone.prior) is type(prior)
