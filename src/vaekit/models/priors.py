"""Priors p(z) over the latent space, as Keras layers (learnable priors train and save with the VAE).

A prior scores latents (`log_prob`), draws them (`sample`) and gives the KL term of the ELBO (`kl`):
analytic where it exists, else the single-sample estimate log q(z|x) - log p(z) at the sampled `z`.
The VAE that holds a prior calls `bind(latent_dim, data_shape, encode)` once; that creates its weights
and, for the VampPrior, hands it the encoder. Calling the layer on `z` returns `log_prob(z)`.
"""

import functools
import inspect
import operator

import keras
from keras import ops

from vaekit import config as config_lib
from vaekit.backends import keras_compat
from vaekit.errors import ConfigError
from vaekit.models import ops as vops
from vaekit.models.registry import Registry

# Learned log-variances are clipped to the encoder's range in model.py (variances 1e-13 to 5e8):
# exp(-log_var) then stays finite in float32 whatever the optimizer does.
LOG_VAR_MIN, LOG_VAR_MAX = config_lib.LOG_VAR_RANGE


class Prior(keras.layers.Layer):
    """Base class for priors over a `latent_dim`-dimensional latent space.

    Subclasses set `kind` (their registry name; a layer's `name` is its own) and implement `log_prob`
    and `sample`; `kl` defaults to the single-sample Monte Carlo estimate.

    Call arguments:
        z: Latents `(batch, latent_dim)`.

    Returns:
        `log_prob(z)`, `(batch,)`.
    """

    kind = None

    def __init__(self, **kwargs):
        if self.kind is not None:
            kwargs.setdefault("name", self.kind)
        super().__init__(**kwargs)
        self.latent_dim = None  # set by `bind` / `build`
        self.data_shape = None  # (H, W, C) of one data point, without the batch axis
        self._encode = None

    def bind(self, latent_dim, data_shape, encode):
        """Attach the prior to a VAE: its latent size, its data shape and its encoder; create weights.

        Args:
            latent_dim: Size of the latent space.
            data_shape: Shape of one data point, without the batch axis.
            encode: A callable `x -> (mean, log_var)`, each `(n, latent_dim)`: q(z|x). Kept as a
                plain function, so its weights stay the VAE's and are not tracked twice.

        A prior rebuilt by `from_config` (built already) keeps its weights; binding it again to other
        dimensions is an error.
        """
        latent_dim = int(latent_dim)
        data_shape = tuple(int(d) for d in data_shape)
        if latent_dim < 1:
            raise ConfigError(f"Expected `latent_dim` >= 1. Received: latent_dim={latent_dim}")
        bound = {
            "latent_dim": (self.latent_dim, latent_dim),
            "data_shape": (self.data_shape, data_shape),
        }
        for name, (have, want) in bound.items():
            if have is not None and have != want:
                raise ConfigError(
                    f"Expected the prior {self.name!r} to be bound to {name}={have}, as it was "
                    f"built. Received: {name}={want}"
                )
        if encode is not None and not callable(encode):
            raise ConfigError(f"Expected `encode` to be callable. Received: encode={encode!r}")

        def encode_fn(x):  # a closure, not the encoder itself: Keras must not track it here
            return encode(x)

        self._encode = None if encode is None else encode_fn
        if self.built:
            self.latent_dim, self.data_shape = latent_dim, data_shape
        else:
            self.build((None, latent_dim), (None, *data_shape))

    def build(self, z_shape, x_shape=None):
        if z_shape[-1] is None:
            raise ConfigError(f"Expected a known latent size. Received: z_shape={z_shape}")
        self.latent_dim = int(z_shape[-1])
        if x_shape is not None:
            self.data_shape = tuple(int(d) for d in x_shape[1:])

    def call(self, z, x=None):
        # `x` only mirrors build()'s data shape (Keras matches shapes to call arguments).
        return self.log_prob(z)

    def compute_output_shape(self, z_shape, x_shape=None):
        return tuple(z_shape[:-1])

    def log_prob(self, z):
        """log p(z), `(batch,)`, for latents `(batch, latent_dim)` (any leading axes are batch axes)."""
        raise NotImplementedError

    def sample(self, num, latent_dim, seed=None):
        """`num` draws, `(num, latent_dim)`; `seed` an int or a `keras.random.SeedGenerator`."""
        raise NotImplementedError

    def kl(self, mean, log_var, z, noise=None):
        """KL(q(z|x) || p(z)) per example. Default: the one-sample Monte Carlo estimate at `z`,
        log q(z|x) scored from the N(0, I) `noise` that drew z when given (exact; recovering it
        as (z - mean) / std cancels in float32 for posteriors sharp beside their mean)."""
        if noise is None:
            log_q = vops.diag_gaussian_log_prob(z, mean, log_var)
        else:
            log_q = vops.diag_gaussian_log_prob_at_noise(noise, log_var)
        return log_q - self.log_prob(z)

    # --- helpers for subclasses ----------------------------------------------------------------------
    def _latents(self, z):
        """`z` as a float tensor, the prior built for its size (lazily, as a Keras layer would be)."""
        z = ops.convert_to_tensor(z)
        if not keras.backend.is_float_dtype(z.dtype):
            z = ops.cast(z, self.compute_dtype)
        if not self.built:
            self.build(tuple(z.shape))
        self._check_latent_dim(z.shape[-1])
        return z

    def _check_latent_dim(self, latent_dim):
        if self.latent_dim is not None and latent_dim is not None and latent_dim != self.latent_dim:
            raise ConfigError(
                f"Expected latents of size {self.latent_dim} for prior {self.name!r}. "
                f"Received: latent_dim={latent_dim}"
            )


@keras.saving.register_keras_serializable(package="vaekit")
class StandardNormal(Prior):
    """p(z) = N(0, I), with the analytic KL summed over latent dimensions. No weights.

    Example:
    >>> prior = StandardNormal()
    >>> prior.log_prob(keras.ops.zeros((2, 3)))  # (2,), each -1.5 * log(2 pi)
    """

    kind = "standard_normal"

    def log_prob(self, z):
        return vops.standard_normal_log_prob(z)

    def sample(self, num, latent_dim, seed=None):
        self._check_latent_dim(latent_dim)
        return keras.random.normal((num, latent_dim), seed=seed)

    def kl(self, mean, log_var, z, noise=None):
        return vops.kl_diag_gaussian_standard_normal(mean, log_var)


@keras.saving.register_keras_serializable(package="vaekit")
class MixtureOfGaussians(Prior):
    """A learned mixture of diagonal Gaussians: p(z) = sum_k pi_k N(z; mu_k, diag(sigma_k^2)).

    Args:
        num_components: Number of mixture components K (>= 1).

    The means start as standard-normal draws (spread over the region a N(0, I) prior covers), the
    log-variances at 0 and the mixture logits at 0 (equal weights).

    Example:
    >>> prior = MixtureOfGaussians(num_components=10)
    >>> prior.bind(latent_dim=2, data_shape=(28, 28, 1), encode=None)
    >>> z = prior.sample(16, 2, seed=0)  # (16, 2)
    """

    kind = "mog"

    def __init__(self, num_components=10, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _positive_int("num_components", num_components)

    def build(self, z_shape, x_shape=None):
        super().build(z_shape, x_shape)
        k, d = self.num_components, self.latent_dim
        self.means = self.add_weight(
            shape=(k, d), initializer=keras.initializers.RandomNormal(stddev=1.0), name="means"
        )
        self.log_vars = self.add_weight(shape=(k, d), initializer="zeros", name="log_vars")
        self.logits = self.add_weight(shape=(k,), initializer="zeros", name="logits")

    def components(self, dtype=None):
        """`(means, log_vars, log_weights)`: `(K, latent)`, `(K, latent)` and `(K,)`."""
        dtype = dtype or self.compute_dtype
        means = ops.cast(self.means, dtype)
        log_vars = ops.clip(ops.cast(self.log_vars, dtype), LOG_VAR_MIN, LOG_VAR_MAX)
        log_weights = ops.log_softmax(ops.cast(self.logits, dtype))
        return means, log_vars, log_weights

    def log_prob(self, z):
        z = self._latents(z)  # (batch, latent)
        means, log_vars, log_weights = self.components(z.dtype)
        per_component = vops.diag_gaussian_log_prob(
            ops.expand_dims(z, -2), means, log_vars
        )  # (batch, K)
        return ops.logsumexp(per_component + log_weights, axis=-1)  # (batch,)

    def sample(self, num, latent_dim, seed=None):
        if not self.built:
            self.build((None, latent_dim))
        self._check_latent_dim(latent_dim)
        seed = _seed_stream(seed)
        means, log_vars, log_weights = self.components()
        k = keras.random.categorical(ops.expand_dims(log_weights, 0), num, seed=seed)  # (1, num)
        k = ops.reshape(k, (num,))
        eps = keras.random.normal((num, latent_dim), seed=seed, dtype=means.dtype)
        return ops.take(means, k, axis=0) + ops.exp(0.5 * ops.take(log_vars, k, axis=0)) * eps

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


@keras.saving.register_keras_serializable(package="vaekit")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling, 2018): p(z) = (1/K) sum_k q(z | u_k), u_k learned inputs.

    The K pseudo-inputs have the data's shape and stay in [0, 1] (the data range of the Bernoulli
    likelihood): they are a free weight passed through a hard clip, as the paper's hardtanh, and the
    weight is also projected back into [0, 1] after each optimizer step, so no entry strays outside
    and loses its gradient for good. q is the VAE's own encoder, given by `bind`.

    Args:
        num_components: Number of pseudo-inputs K (>= 1).

    Example:
    >>> prior = VampPrior(num_components=500)
    >>> prior.bind(latent_dim=2, data_shape=(28, 28, 1), encode=model.posterior)
    >>> prior.log_prob(keras.ops.zeros((4, 2)))  # (4,)
    """

    kind = "vampprior"

    def __init__(self, num_components=500, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _positive_int("num_components", num_components)

    def build(self, z_shape, x_shape=None):
        super().build(z_shape, x_shape)
        if self.data_shape is None:
            raise ConfigError(
                "Expected the VampPrior to know the data shape: call "
                "`prior.bind(latent_dim, data_shape, encode)` before using it."
            )
        # Uniform on [0, 1]: at the data's scale, so the encoder sees inputs like those it is trained
        # on; strictly inside the clip, so every value gets a gradient from the first step; and
        # distinct from one another, so the components do not start as copies and need no symmetry
        # breaking (the paper's N(0.05, 0.01) start makes them near-identical).
        self.pseudo_input_weights = self.add_weight(
            shape=(self.num_components, *self.data_shape),
            initializer=keras.initializers.RandomUniform(0.0, 1.0),
            constraint=_UnitInterval(),
            name="pseudo_inputs",
        )

    @property
    def pseudo_inputs(self):
        """The K pseudo-inputs, `(K, *data_shape)`, in [0, 1]."""
        if not self.built:  # not an AttributeError: torch's Module would hide the message
            raise ConfigError("The VampPrior has no pseudo-inputs before `bind`.")
        return ops.clip(self.pseudo_input_weights, 0.0, 1.0)

    def components(self):
        """q(z | u_k) for every pseudo-input: `(mean, log_var)`, each `(K, latent)`."""
        if self._encode is None:
            raise ConfigError(
                "Expected the VampPrior to be bound to an encoder: call "
                "`prior.bind(latent_dim, data_shape, encode)` before using it."
            )
        mean, log_var = self._encode(self.pseudo_inputs)
        return mean, log_var

    def log_prob(self, z):
        z = self._latents(z)  # (batch, latent)
        mean, log_var = self.components()  # (K, latent) each
        mean, log_var = ops.cast(mean, z.dtype), ops.cast(log_var, z.dtype)
        per_component = vops.diag_gaussian_log_prob(ops.expand_dims(z, -2), mean, log_var)
        return vops.log_mean_exp(per_component, axis=-1)  # (batch,)

    def sample(self, num, latent_dim, seed=None):
        self._check_latent_dim(latent_dim)
        seed = _seed_stream(seed)
        mean, log_var = self.components()  # (K, latent) each
        k = keras.random.randint((num,), 0, self.num_components, seed=seed)
        eps = keras.random.normal((num, latent_dim), seed=seed, dtype=mean.dtype)
        return ops.take(mean, k, axis=0) + ops.exp(0.5 * ops.take(log_var, k, axis=0)) * eps

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


class _UnitInterval(keras.constraints.Constraint):
    """Projects a weight into [0, 1] after each optimizer step (not serialized: `build` sets it)."""

    def __call__(self, w):
        return ops.clip(w, 0.0, 1.0)


def kl_term(prior, mean, log_var, z, noise):
    """`prior.kl` for the draw `z = mean + exp(log_var / 2) * noise`, given the noise where the
    prior's `kl` takes it (vaekit's do): a subclass written for `kl(mean, log_var, z)` still works.
    """
    if _kl_takes_noise(type(prior)):
        return prior.kl(mean, log_var, z, noise=noise)
    return prior.kl(mean, log_var, z)


@functools.cache
def _kl_takes_noise(cls):
    parameters = inspect.signature(cls.kl).parameters
    return "noise" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _positive_int(name, value):
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or isinstance(value, bool) or number < 1:
        raise ConfigError(f"Expected `{name}` to be an integer >= 1. Received: {name}={value!r}")
    return number


def _seed_stream(seed):
    """One source for several draws: an int seed becomes a fresh `SeedGenerator` (each draw then
    gets its own key, the same ones for the same int); a generator is used as is; None stays None."""
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return seed
    try:
        return keras_compat.make_seed_generator(operator.index(seed))
    except TypeError:
        raise ValueError(
            f"Expected `seed` to be an int, a keras.random.SeedGenerator or None. Received: seed={seed!r}"
        ) from None


PRIORS = Registry("prior")
for _cls in (StandardNormal, MixtureOfGaussians, VampPrior):
    PRIORS.register(_cls)


def get(identifier, **options):
    """A prior from a name (with options, e.g. `get("mog", num_components=5)`), a config dict or an
    instance. The VAE binds it to its dimensions and encoder."""
    resolved = PRIORS.resolve(identifier, Prior, has_options=bool(options))
    if resolved is not None:
        return resolved
    cls = PRIORS.lookup(identifier)
    try:
        return cls(**options)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Invalid options for prior {identifier!r}: {e}") from None
