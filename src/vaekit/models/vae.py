"""The VAE model: an encoder, a sampler, a decoder, a likelihood and a prior, trained on the negative ELBO.

The loss goes through Keras' backend-neutral hook `compute_loss`, so `fit`, `evaluate`, callbacks and
distribution strategies work unchanged on JAX, TensorFlow and PyTorch.
"""

import keras
import numpy as np
from keras import ops

from vaekit import config as config_lib
from vaekit.errors import ConfigError
from vaekit.models import likelihoods, priors
from vaekit.models import ops as vops
from vaekit.models.layers import GaussianSampler
from vaekit.progress import progress_bar


@keras.saving.register_keras_serializable(package="vaekit")
class VAE(keras.Model):
    """A variational autoencoder trained by maximising the ELBO.

    loss = E_q[-log p(x|z)] + beta * KL(q(z|x) || p(z)), with the reconstruction term summed over data
    values and the KL summed over latent dimensions, both averaged over the batch. `beta = 1` is the true
    negative ELBO; the classic Keras 2 recipe averaged its KL over latent dimensions, which is
    `beta = 1 / latent_dim`.

    Args:
        encoder: A `keras.Model` mapping data to `[mean, log_var]`, each `(batch, latent_dim)`.
        decoder: A `keras.Model` mapping `(batch, latent_dim)` to the likelihood's parameters.
        likelihood: A likelihood name (`"bernoulli"`), config or instance.
        prior: A prior name (`"standard_normal"`), config or instance.
        beta: Weight of the KL term (>= 0).
        seed: Optional int seed for the sampling layer.
        free_bits: Nats per latent unit the batch's mean KL may keep free in training.
        iw_samples: K > 1 trains on the IWAE bound with K importance samples.
        log_var_range: `(low, high)` clip of the posterior's log-variances.
        tc_weight: beta-TCVAE's weight of the total correlation of q(z), the KL's part that ties
            dimensions together, within the KL (1: the plain ELBO; beta and the KL warm-up scale
            the whole KL, this part included); applied in training only.

    Call arguments:
        x: A batch of data, `(batch, *data_shape)`.

    Returns:
        A dict with `mean`, `log_var`, `z` (the sampled latents), `noise` (the N(0, I) values
        that drew them) and `params` (decoder output).

    Example:
    >>> from vaekit import build_vae
    >>> model = build_vae((28, 28, 1), "seed")
    >>> model.compile(optimizer="adam")
    >>> model.fit(x_train, epochs=10, batch_size=32)  # metrics: loss, reconstruction, kl
    >>> images = model.sample(16, seed=0)  # (16, 28, 28, 1) numpy array of Bernoulli means
    """

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        prior="standard_normal",
        beta=1.0,
        seed=None,
        free_bits=0.0,
        iw_samples=1,
        log_var_range=config_lib.LOG_VAR_RANGE,
        tc_weight=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        beta = float(beta)
        if not np.isfinite(beta) or beta < 0:
            raise ConfigError(f"Expected `beta` to be a finite number >= 0. Received: beta={beta}")
        self.encoder = encoder
        self.decoder = decoder
        self.data_shape = tuple(encoder.inputs[0].shape[1:])
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.likelihood = likelihoods.get(likelihood, event_ndim=len(self.data_shape))
        self.likelihood.bind(self.data_shape)
        self.prior = priors.get(prior)
        expected = tuple(self.likelihood.param_shape(self.data_shape))
        if self.likelihood.event_ndim != len(self.data_shape):
            raise ConfigError(
                f"Expected a likelihood with event_ndim={len(self.data_shape)} for data of shape "
                f"{self.data_shape}. Received: event_ndim={self.likelihood.event_ndim}"
            )
        decoder_in = int(decoder.inputs[0].shape[-1])
        if self.conditioned and decoder_in != self.latent_dim + self.likelihood.condition_width:
            raise ConfigError(
                f"Expected a decoder reading {self.latent_dim} latents and "
                f"{self.likelihood.condition_width} condition values. Received: a decoder input "
                f"of {decoder_in}"
            )
        if tuple(decoder.outputs[0].shape[1:]) != expected:
            raise ConfigError(
                f"Expected the decoder to output {self.likelihood.kind} parameters of shape {expected} "
                f"for data of shape {self.data_shape}. Received: {tuple(decoder.outputs[0].shape[1:])}"
            )
        self.beta = beta
        self.seed = seed
        self.log_var_range = config_lib.check_log_var_range(log_var_range)
        self.free_bits = float(free_bits)
        self.iw_samples = int(iw_samples)
        if not np.isfinite(self.free_bits) or self.free_bits < 0 or self.iw_samples < 1:
            raise ConfigError(
                f"Expected free_bits >= 0 and iw_samples >= 1. "
                f"Received: free_bits={free_bits}, iw_samples={iw_samples}"
            )
        config_lib.check_bound(self.free_bits, self.iw_samples)
        self.tc_weight = config_lib.check_tc_weight(tc_weight, self.iw_samples)
        self.sampler = GaussianSampler(seed=seed, name="sampler")
        self._bind_prior()
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def _bind_prior(self):
        # A learned prior (VampPrior) scores latents through the encoder; it gets it as a plain
        # callable, so Keras does not track the encoder twice.
        self.prior.bind(self.latent_dim, self.data_shape, self.posterior)

    def build(self, input_shape=None):
        # Encoder and decoder are functional models, built at construction; the sampler has no
        # shape-dependent weights (its seed state is created with it).
        latent_shape = (None, self.latent_dim)
        self.sampler.build(latent_shape, latent_shape)
        # The KL weight's schedule factor (KL warm-up sets it per epoch; 1 outside training).
        self.kl_scale = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_scale"
        )
        self.built = True

    @property
    def conditioned(self):
        """Whether the decoder is given part of the data beside z (a conditional VAE)."""
        return self.likelihood.condition_width > 0

    def condition_of(self, x):
        """The condition values of data `x` (numpy `(n, width)`), or None if not conditioned."""
        if not self.conditioned:
            return None
        return ops.convert_to_numpy(self.likelihood.condition(ops.convert_to_tensor(x)))

    def decoder_input(self, z, x=None, condition=None, repeats=1):
        """What the decoder reads: `z`, and for a conditional model the condition (of data `x`, or
        given) beside it, each condition row repeated `repeats` times (k draws per example)."""
        if not self.conditioned:
            return z
        if condition is None:
            if x is None:
                raise ConfigError(
                    f"Expected a condition: this model is conditioned on "
                    f"{self.likelihood.condition_name!r}. Received: none"
                )
            condition = self.likelihood.condition(x)
        condition = ops.cast(ops.convert_to_tensor(condition), z.dtype)
        if repeats > 1:
            condition = ops.repeat(condition, repeats, axis=0)
        return ops.concatenate([z, condition], axis=-1)

    @property
    def noise_dim(self):
        """Standard normal values one posterior draw takes (see `log_weights(noise=...)`)."""
        return self.latent_dim

    def draw(self, mean, log_var, noise=None):
        """z ~ N(mean, exp(log_var)): from the model's own sampler, or from given N(0, I) `noise`."""
        return self.draw_with_noise(mean, log_var, noise)[0]

    def draw_with_noise(self, mean, log_var, noise=None, sampler=None):
        """`(z, noise)`: z = mean + exp(log_var / 2) * noise, the noise given (N(0, I) values) or
        drawn by `sampler` (the model's own by default) as `draw` would draw it. Scores of q take
        the noise (`vops.diag_gaussian_log_prob_at_noise`): recovering it from z is inexact."""
        if noise is None:
            noise = (sampler or self.sampler).noise(ops.shape(mean), mean.dtype)
        noise = ops.cast(noise, mean.dtype)
        return mean + ops.exp(0.5 * log_var) * noise, noise

    def posterior(self, x, training=False):
        """q(z|x) as `(mean, log_var)`, each `(batch, latent)`; log_var clipped to `log_var_range`."""
        mean, log_var = self.encoder(x, training=training)
        return mean, self.clip_log_var(log_var)

    def clip_log_var(self, log_var):
        """`log_var` clipped to the model's `log_var_range`. The default range only keeps exp(log_var)
        finite (a divergent encoder then gets no gradient from the clipped side instead of turning
        the loss into inf / NaN); a narrow one, such as the VampPrior paper's [-6, 2], also keeps
        posteriors and VampPrior components from growing very sharp: a regulariser."""
        low, high = self.log_var_range
        return ops.clip(log_var, low, high)

    @property
    def samplers(self):
        """The sampling layers, whose random states a checkpoint keeps (Keras saves none)."""
        return [self.sampler]

    def training_noise(self, batch_size):
        """The N(0, I) values `call` would draw for a batch, `(batch, noise_dim)`, from the model's
        own samplers: `call(x, noise=training_noise(len(x)))` is the same step as `call(x)`."""
        return self.sampler.noise((batch_size, self.latent_dim))

    def call(self, x, training=False, noise=None):
        mean, log_var = self.posterior(x, training=training)  # (batch, latent) each
        z, noise = self.draw_with_noise(mean, log_var, noise)  # (batch, latent) each
        params = self.decoder(self.decoder_input(z, x), training=training)  # (batch, *param_shape)
        return {"mean": mean, "log_var": log_var, "z": z, "noise": noise, "params": params}

    # --- the objective, written once --------------------------------------------------------------
    def elbo_terms(self, x, outputs, training=False):
        """Per-example reconstruction term -log p(x|z) and KL term, each `(batch,)`."""
        reconstruction = -self.likelihood.log_prob(x, outputs["params"], training=training)
        kl = priors.kl_term(
            self.prior, outputs["mean"], outputs["log_var"], outputs["z"], outputs.get("noise")
        )
        return reconstruction, kl

    def log_weights(self, x, num_samples=1, training=False, noise=None):
        """The terms of the importance weights log p(x, z_k) - log q(z_k | x), z_k ~ q(z | x).

        Written once for every prior and likelihood: the IWAE training bound and the NLL estimate
        of `vaekit.evaluation.nll` both use it. `noise` `(batch * num_samples, noise_dim)` of N(0, I)
        values fixes the draws (row b * num_samples + j is draw j of example b); without it the
        model's sampler draws them.

        Returns:
            `(log_px, kl)`, each `(batch, num_samples)`: log p(x | z_k) and
            log q(z_k | x) - log p(z_k); the log weight is `log_px - kl`.
        """
        mean, log_var = self.posterior(x, training)
        k = int(num_samples)
        mean_k = ops.repeat(mean, k, axis=0)  # (batch * k, latent): row b * k + j is draw j of b
        log_var_k = ops.repeat(log_var, k, axis=0)
        z, noise = self.draw_with_noise(mean_k, log_var_k, noise)
        params = self.decoder(self.decoder_input(z, x, repeats=k), training=training)
        kl = vops.diag_gaussian_log_prob_at_noise(noise, log_var_k) - self.prior.log_prob(z)
        return self.log_px_draws(x, params, k, training), ops.reshape(kl, (-1, k))

    def log_px_draws(self, x, params, k, training=False):
        """log p(x_b | z_bj) `(batch, k)` from decoder outputs `(batch * k, ...)` of k draws each.

        Each image is broadcast against its k decodings rather than repeated k times.
        """
        params = ops.reshape(params, (-1, k, *params.shape[1:]))  # (batch, k, *param_shape)
        x = ops.expand_dims(ops.cast(x, params.dtype), 1)  # (batch, 1, *data_shape)
        return self.likelihood.log_prob(x, params, training=training)

    def decode_params(self, z, condition=None):
        """The likelihood's parameters for latents `z` (a hierarchical model fills in the rest;
        a conditional model reads `condition` `(batch, width)` beside them)."""
        return self.decoder(self.decoder_input(z, condition=condition), training=False)

    def kl_weight(self, training):
        """beta, times the warm-up factor while training (scores always use the true weight)."""
        return self.beta * self.kl_scale if training else self.beta

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True, noise=None
    ):
        """The batch's loss: the negative ELBO (beta, warm-up and free bits applied) from `y_pred`,
        or with `iw_samples` > 1 the negative IWAE bound, which draws its own samples (`noise`
        `(batch * iw_samples, noise_dim)` fixes them, as in `log_weights`; `y_pred` is unused).
        Without `y_pred` the ELBO runs the model on `x` (from `noise` `(batch, noise_dim)` if given)."""
        if sample_weight is not None:  # weights (batch,) or (batch, 1): a weighted batch mean
            sample_weight = ops.reshape(sample_weight, (-1,))

        def batch_mean(values):
            if sample_weight is None:
                return ops.mean(values)
            weights = ops.cast(sample_weight, values.dtype)
            return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1e-12)

        if self.iw_samples > 1:  # the IWAE bound: log of the mean of K importance weights
            log_px, kl = self.log_weights(x, self.iw_samples, training, noise)  # (batch, K)
            per_example = -vops.log_mean_exp(log_px - self.kl_weight(training) * kl, axis=1)
            reconstruction, kl = -ops.mean(log_px, axis=1), ops.mean(kl, axis=1)
        else:
            if y_pred is None:
                y_pred = self(x, training=training, noise=noise)
            x = ops.cast(x, y_pred["params"].dtype)
            reconstruction, kl = self.elbo_terms(x, y_pred, training)  # (batch,) each
            kl_term = kl
            if training and self.free_bits > 0:
                # Free bits (Kingma et al. 2016): the batch's mean KL is not pushed below
                # free_bits nats per latent dimension, so units are not switched off early.
                floor = self.free_bits * self.latent_dim
                kl_term = kl + ops.maximum(floor - batch_mean(kl), 0.0)
            per_example = reconstruction + self.kl_weight(training) * kl_term  # (batch,)
            if training and self.tc_weight != 1.0:
                # beta-TCVAE (Chen et al. 2018): the KL's total-correlation part weighted
                # tc_weight instead of 1 within the KL (so beta and the warm-up scale it too),
                # through the minibatch estimate of TC.
                tc = vops.total_correlation(y_pred["z"], y_pred["mean"], y_pred["log_var"])
                per_example = per_example + self.kl_weight(training) * (self.tc_weight - 1.0) * tc
        loss = batch_mean(per_example)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=sample_weight)
        self.kl_tracker.update_state(kl, sample_weight=sample_weight)
        if self.losses:  # weight regularizers or add_loss terms of the encoder / decoder
            loss = loss + ops.sum(ops.stack([ops.cast(v, loss.dtype) for v in self.losses]))
        return loss

    # --- what a user does with a trained model (numpy in, numpy out) -------------------------------
    def encode(self, x, batch_size=1024, progress=False):
        """Posterior `(mean, log_var)` for data `x`, as numpy arrays `(n, latent_dim)`.

        `progress=True` shows a progress bar (worth it for tens of thousands of images).
        """
        means, log_vars = [], []
        bar = progress_bar(len(x), unit_name="example") if progress and len(x) else None
        for start in range(0, len(x), batch_size):
            mean, log_var = self.posterior(ops.convert_to_tensor(x[start : start + batch_size]))
            means.append(ops.convert_to_numpy(mean))
            log_vars.append(ops.convert_to_numpy(log_var))
            if bar is not None:
                bar.update(min(start + batch_size, len(x)))
        if not means:
            return np.zeros((0, self.latent_dim), "float32"), np.zeros(
                (0, self.latent_dim), "float32"
            )
        return np.concatenate(means), np.concatenate(log_vars)

    def decode(self, z, batch_size=1024, return_params=False, condition=None):
        """Decode latents `(n, latent_dim)` to the likelihood's means (or its raw parameters).

        A conditional model needs `condition`: `(n, width)` values (`condition_of(x)`), or one row
        `(width,)` for all; its means carry the condition in place."""
        if condition is not None:
            condition = np.broadcast_to(
                np.asarray(condition, "float32"), (len(z), self.likelihood.condition_width)
            )
        elif self.conditioned:
            self.decoder_input(ops.zeros((1, self.latent_dim)))  # the one-line error
        out = []
        for start in range(0, len(z), batch_size):
            c = None if condition is None else condition[start : start + batch_size]
            params = self.decode_params(ops.convert_to_tensor(z[start : start + batch_size]), c)
            if not return_params:
                params = self.likelihood.mean(params)
                if c is not None:
                    params = self.likelihood.place_condition(params, ops.convert_to_tensor(c))
            out.append(ops.convert_to_numpy(params))
        if not out:
            return np.zeros((0, *self.likelihood.param_shape(self.data_shape)), "float32")
        return np.concatenate(out)

    def sample(self, num, seed=None, temperature=1.0, condition=None):
        """Decode `num` draws from the prior (scaled by `temperature`) to data means, numpy; a
        conditional model's `condition` as in `decode`."""
        z = ops.convert_to_numpy(self.prior.sample(int(num), self.latent_dim, seed=seed))
        return self.decode(z * float(temperature), condition=condition)

    def reconstruct(self, x, batch_size=1024):
        """Decode the posterior means of `x`: the model's reconstructions, numpy."""
        mean, _ = self.encode(x, batch_size=batch_size)
        return self.decode(mean, batch_size=batch_size, condition=self.condition_of(x))

    # --- serialization -----------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "beta": self.beta,
            "seed": self.seed,
            "free_bits": self.free_bits,
            "iw_samples": self.iw_samples,
            "log_var_range": list(self.log_var_range),
            "tc_weight": self.tc_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood", "prior"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("iw_samples", 1) > 1:  # saved before the two were exclusive: free bits
            config["free_bits"] = 0.0  # never applied to the IWAE bound
        return cls(**config)
