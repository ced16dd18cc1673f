"""A VAE with two stochastic layers (Tomczak & Welling 2018's HVAE).

Generative model: z2 ~ p(z2) (any vaekit prior, e.g. a VampPrior), z1 ~ p(z1 | z2) = N(mu(z2),
sigma(z2)), x ~ p(x | z1, z2). Inference: q(z2 | x), then q(z1 | x, z2), whose mean and
log-variance are the sums of an x-part (an encoder of the chosen architecture) and a z2-part (a
small MLP), so every architecture (MLP, conv, residual conv) gives a hierarchical model.

Only the hooks differ from `VAE`: the forward pass, the KL term, the importance weights and how a
top-level latent is decoded. The ELBO, the IWAE bound and the NLL estimator are the base class's.
"""

import keras
from keras import layers, ops

from vaekit.errors import ConfigError
from vaekit.models import networks, priors
from vaekit.models import ops as vops
from vaekit.models.layers import GaussianSampler
from vaekit.models.vae import VAE


def gaussian_mlp(latent_in, latent_out, units, activation, name):
    """z -> [mean, log_var] through one hidden layer: the conditional Gaussians of the hierarchy."""
    z_in = keras.Input(shape=(latent_in,), name="z")
    h = layers.Dense(units, activation=activation, name="hidden")(z_in)
    mean = layers.Dense(latent_out, name="mean")(h)
    log_var = layers.Dense(latent_out, name="log_var")(h)
    return keras.Model(z_in, [mean, log_var], name=name)


# z1's sampler is seeded this far from z2's. PyTorch's Keras backend seeds a draw with the sum of the
# seed state's two words (the seed plus the draws so far), so samplers seeded s and s + 1 drew the
# same noise one step apart: z2's noise at step n + 1 was z1's at step n. 2**24 steps apart now.
Z1_SEED_OFFSET = 2**24


@keras.saving.register_keras_serializable(package="vaekit")
class HierarchicalVAE(VAE):
    """Two stochastic layers: `latent_dim` (z2, the top, which `encode`/`sample` use) and z1.

    Args:
        encoder: x -> [mean, log_var] of q(z2 | x).
        decoder: concat(z1, z2) -> the likelihood's parameters.
        z1_encoder: x -> the x-part of q(z1 | x, z2)'s [mean, log_var].
        z1_from_z2: z2 -> the z2-part of q(z1 | x, z2)'s [mean, log_var].
        z1_prior: z2 -> [mean, log_var] of p(z1 | z2).
        **kwargs: As for `VAE` (likelihood, prior on z2, beta, seed, free_bits, iw_samples).
    """

    def __init__(self, encoder, decoder, z1_encoder, z1_from_z2, z1_prior, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.z1_encoder = z1_encoder
        self.z1_from_z2 = z1_from_z2
        self.z1_prior = z1_prior
        self.z1_dim = int(z1_encoder.outputs[0].shape[-1])
        seed = kwargs.get("seed")
        self.sampler_z1 = GaussianSampler(
            seed=None if seed is None else (seed + Z1_SEED_OFFSET) % 2**32, name="sampler_z1"
        )

    def build(self, input_shape=None):
        super().build(input_shape)
        self.sampler_z1.build((None, self.z1_dim), (None, self.z1_dim))

    @property
    def samplers(self):
        return [self.sampler, self.sampler_z1]

    @property
    def noise_dim(self):
        return self.latent_dim + self.z1_dim  # [z2 noise, z1 noise]

    def _z1_posterior(self, x_part, z2, training):
        mean_x, log_var_x = x_part
        mean_z, log_var_z = self.z1_from_z2(z2, training=training)
        return mean_x + mean_z, self.clip_log_var(log_var_x + log_var_z)

    def _forward(self, z2_posterior, x_part, noise, training):
        """Draw z2, then z1; return both, q(z1 | x, z2), p(z1 | z2), the likelihood's params and
        the N(0, I) noise of the two draws `(noise2, noise1)`."""
        mean2, log_var2 = z2_posterior
        given = noise is not None
        z2, noise2 = self.draw_with_noise(
            mean2, log_var2, noise[:, : self.latent_dim] if given else None
        )
        mean1, log_var1 = self._z1_posterior(x_part, z2, training)
        z1, noise1 = self.draw_with_noise(
            mean1, log_var1, noise[:, self.latent_dim :] if given else None, self.sampler_z1
        )
        prior_mean1, prior_log_var1 = self.z1_prior(z2, training=training)
        prior_log_var1 = self.clip_log_var(prior_log_var1)
        params = self.decoder(ops.concatenate([z1, z2], axis=-1), training=training)
        return z2, z1, (mean1, log_var1), (prior_mean1, prior_log_var1), params, (noise2, noise1)

    def training_noise(self, batch_size):
        z2 = self.sampler.noise((batch_size, self.latent_dim))
        z1 = self.sampler_z1.noise((batch_size, self.z1_dim))
        return ops.concatenate([z2, z1], axis=-1)

    def call(self, x, training=False, noise=None):
        mean2, log_var2 = self.posterior(x, training=training)
        x_part = self.z1_encoder(x, training=training)
        z2, z1, (m1, lv1), (pm1, plv1), params, (noise2, _) = self._forward(
            (mean2, log_var2), x_part, noise, training
        )
        # KL for z1 given z2 is analytic (two Gaussians); for z2 the prior's own (analytic or MC).
        kl_z1 = 0.5 * ops.sum(
            plv1 - lv1 + (ops.exp(lv1) + ops.square(m1 - pm1)) * ops.exp(-plv1) - 1.0, axis=-1
        )
        kl = priors.kl_term(self.prior, mean2, log_var2, z2, noise2) + kl_z1
        return {"mean": mean2, "log_var": log_var2, "z": z2, "params": params, "kl": kl}

    def elbo_terms(self, x, outputs, training=False):
        return -self.likelihood.log_prob(x, outputs["params"], training=training), outputs["kl"]

    def log_weights(self, x, num_samples=1, training=False, noise=None):
        k = int(num_samples)
        mean2, log_var2 = self.posterior(x, training)
        mean_x, log_var_x = self.z1_encoder(x, training=training)
        repeat = lambda t: ops.repeat(t, k, axis=0)  # noqa: E731  (batch * k, ...)
        mean2, log_var2 = repeat(mean2), repeat(log_var2)
        z2, z1, (m1, lv1), (pm1, plv1), params, (noise2, noise1) = self._forward(
            (mean2, log_var2), (repeat(mean_x), repeat(log_var_x)), noise, training
        )
        log_px = self.log_px_draws(x, params, k, training)  # (batch, k)
        log_q = vops.diag_gaussian_log_prob_at_noise(
            noise2, log_var2
        ) + vops.diag_gaussian_log_prob_at_noise(noise1, lv1)
        log_p = self.prior.log_prob(z2) + vops.diag_gaussian_log_prob(z1, pm1, plv1)
        return log_px, ops.reshape(log_q - log_p, (-1, k))

    def decode_params(self, z, condition=None):
        # A top-level latent decodes with z1 at the mean of p(z1 | z2).
        z1, _ = self.z1_prior(z, training=False)
        return self.decoder(ops.concatenate([z1, z], axis=-1), training=False)

    def get_config(self):
        config = super().get_config()
        for key in ("z1_encoder", "z1_from_z2", "z1_prior"):
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("z1_encoder", "z1_from_z2", "z1_prior"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return super().from_config(config)


def build_hierarchical(config, input_shape, **options):
    """A `HierarchicalVAE` from a `ModelConfig`: both layers `config.latent_dim` wide."""
    if options["likelihood"].condition_width:
        raise ConfigError(
            "Expected an unconditional model for two stochastic layers. Received: a condition "
            f"on {options['likelihood'].condition_name!r}"
        )
    latent = config.latent_dim
    units = config.hidden_units[-1]
    param_shape = options["likelihood"].param_shape(input_shape)
    net = {"hidden_units": tuple(config.hidden_units), "activation": config.activation}
    make_encoder, make_decoder = networks.ARCHITECTURES.lookup(config.architecture)
    encoder = make_encoder(input_shape, latent, name="encoder", **net)
    z1_encoder = make_encoder(input_shape, latent, name="z1_encoder", **net)
    decoder = make_decoder(param_shape, 2 * latent, name="decoder", **net)  # reads [z1, z2]
    return HierarchicalVAE(
        encoder,
        decoder,
        z1_encoder,
        gaussian_mlp(latent, latent, units, config.activation, "z1_from_z2"),
        gaussian_mlp(latent, latent, units, config.activation, "z1_prior"),
        **options,
    )
