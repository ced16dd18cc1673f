"""Observation models p(x | z) as objects: the decoder outputs their parameters.

A likelihood knows how many parameters the decoder must produce per data value (`params_per_value`),
how to score data under them (`log_prob`, summed over the data axes), and how to turn them into
pictures (`mean`) or draws (`sample`). Models never switch on likelihood names; they call these methods.

Parameter layouts (decoder output for one data point of shape `(H, W, C)`, or `(D,)`):

| name                     | class                  | params        | last axis holds                 |
|--------------------------|------------------------|---------------|---------------------------------|
| `"bernoulli"`            | `Bernoulli`            | `(H, W, C)`   | logits                          |
| `"gaussian"`             | `Gaussian`             | `(H, W, C)`   | means (the scale is fixed)      |
| `"gaussian_learned"`     | `GaussianLearnedScale` | `(H, W, 2C)`  | `[means (C), log-scales (C)]`   |
| `"discretized_logistic"` | `DiscretizedLogistic`  | `(H, W, 2C)`  | `[means (C), log-scales (C)]`   |
| `"local_ar_bernoulli"`   | `LocalAutoregressiveBernoulli` | `(H, W, C)` | logits, before the local terms |

A likelihood with weights of its own (`LocalAutoregressiveBernoulli`, in `vaekit.models.autoregressive`) is
also a Keras layer: the VAE builds it for the data's shape and trains and saves its weights with the
networks'.

`is_discrete` says whether `log_prob` is a log probability mass (Bernoulli, discretized logistic), so that
bits/dim = nll / (D ln 2) is meaningful, or a log density (the Gaussians), which is not comparable.
"""

import inspect
import math
import numbers

import keras
import numpy as np
from keras import ops

from vaekit.errors import ConfigError
from vaekit.models import ops as vops
from vaekit.models.ops import LOG_2PI
from vaekit.models.registry import Registry

# Learned log-scales are clipped here so densities stay finite: exp(-7) ~ 1e-3 is below the 1/255
# quantisation step of 8-bit data; exp(5) ~ 148 is far wider than the [0, 1] data range.
LOG_SCALE_MIN = -7.0
LOG_SCALE_MAX = 5.0


class Likelihood:
    """Base class. Subclasses implement `log_prob`, `mean` and `sample` on decoder outputs.

    Args:
        event_ndim: How many trailing axes form one data point (3 for `(H, W, C)` images). The VAE sets
            it from its input shape.
    """

    kind = None  # the registry name (`LIKELIHOODS`), as a config names it
    data_kind = "images"  # the kind of data it models (`Dataset.kind`)
    codec_option = None  # the option taking the data's codec config (`build_vae(..., codec=)`)
    params_per_value = 1
    is_discrete = False  # True when log_prob is a log probability mass (bits/dim is meaningful)

    def __init__(self, event_ndim=3):
        self.event_ndim = int(event_ndim)

    def bind(self, data_shape):
        """Called by the VAE with the shape of its data. A likelihood with weights of its own
        creates them here (and refuses data of another shape); the others need nothing."""

    def param_shape(self, data_shape):
        """Shape of the decoder output for one data point of `data_shape`."""
        if self.params_per_value == 1:
            return tuple(data_shape)
        return (*data_shape[:-1], data_shape[-1] * self.params_per_value)

    def log_prob(self, x, params, training=False):
        """log p(x | params), summed over the trailing `event_ndim` axes: shape `(batch,)`.

        `training` is True inside a training step (a likelihood with weights may regularise then,
        like word dropout); the score of a fixed model ignores it."""
        raise NotImplementedError

    def values_scored(self, x):
        """How many values `log_prob` scores in each example of numpy `x`: `(n,)` ints (every value
        of the data shape; a sequence likelihood counts its tokens up to and including `<eos>`)."""
        return np.full(len(x), math.prod(np.shape(x)[1:]), dtype="int64")

    def _flat(self, tensor, dtype=None):
        """A data-shaped tensor with its event axes merged into one (see `ops.flatten_event`)."""
        return vops.flatten_event(ops.convert_to_tensor(tensor, dtype=dtype), self.event_ndim)

    condition_width = 0  # values of the data the decoder is given beside z (a conditional model)

    def condition(self, x):
        """The values of `x` `(..., *data_shape)` the model is conditioned on, `(..., width)`."""
        raise NotImplementedError(f"The {self.kind} likelihood takes no condition.")

    def place_condition(self, x, condition):
        """Data-shaped `x` (means or draws) with the given condition values written into it."""
        return x

    @property
    def codec_config(self):
        """The data codec's config this likelihood keeps (text, tables), or None (images)."""
        return getattr(self, self.codec_option) if self.codec_option else None

    def mean(self, params):
        """The data-shaped mean (what pictures show)."""
        raise NotImplementedError

    def sample(self, params, seed=None):
        """Data-shaped draws; `seed` is an int or a `keras.random.SeedGenerator`."""
        raise NotImplementedError

    def get_config(self):
        return {"event_ndim": self.event_ndim}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="vaekit")
class Bernoulli(Likelihood):
    """Independent Bernoulli per value, parameterised by logits (the sigmoid gives the means).

    `-log_prob` is the binary cross-entropy summed over values: the classic recipe's `BCE x 784`.
    Targets may be grey values in [0, 1], as in that recipe.
    """

    kind = "bernoulli"
    is_discrete = True

    def log_prob(self, x, params, training=False):
        # x * log(sigmoid(l)) + (1 - x) * log(1 - sigmoid(l)) == x * l - softplus(l), stable for any l.
        params = self._flat(params)
        x = self._flat(x, params.dtype)
        return vops.sum_values(vops.bernoulli_log_terms(x, params))

    def mean(self, params):
        return ops.sigmoid(params)

    def sample(self, params, seed=None):
        params = ops.convert_to_tensor(params)
        u = keras.random.uniform(ops.shape(params), seed=seed, dtype=params.dtype)
        return ops.cast(u < ops.sigmoid(params), params.dtype)


@keras.saving.register_keras_serializable(package="vaekit")
class Gaussian(Likelihood):
    """Independent Gaussian per value with a fixed standard deviation; the decoder outputs the means.

    `-log_prob` is the squared error scaled by `1 / (2 scale^2)`, plus a constant. It is a density, not a
    probability, so bits/dim is not defined (`is_discrete = False`).

    Args:
        event_ndim: Number of trailing data axes.
        scale: The fixed standard deviation, > 0.
    """

    kind = "gaussian"

    # scale=0.1: data live in [0, 1]; with unit variance the reconstruction term would be negligible
    # next to the KL and the decoder would learn next to nothing.
    def __init__(self, event_ndim=3, scale=0.1):
        super().__init__(event_ndim=event_ndim)
        number = isinstance(scale, numbers.Real) and not isinstance(scale, bool)
        if not (number and math.isfinite(scale) and scale > 0):
            raise ConfigError(
                f"Expected a finite positive Gaussian scale. Received: scale={scale!r}"
            )
        self.scale = float(scale)

    def log_prob(self, x, params, training=False):
        params = self._flat(params)
        x = self._flat(x, params.dtype)
        sq = ops.square((x - params) / self.scale)
        return vops.sum_values(-0.5 * (sq + LOG_2PI) - math.log(self.scale))

    def mean(self, params):
        return ops.convert_to_tensor(params)

    def sample(self, params, seed=None):
        params = ops.convert_to_tensor(params)
        eps = keras.random.normal(ops.shape(params), seed=seed, dtype=params.dtype)
        return params + self.scale * eps

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _split_mean_log_scale(params):
    """`[means (C), log-scales (C)]` on the last axis -> (means, clipped log-scales), each `(..., C)`."""
    params = ops.convert_to_tensor(params)
    channels = params.shape[-1]
    if channels is None or channels % 2:
        raise ConfigError(
            "Expected decoder outputs with an even last axis [means, log-scales]. "
            f"Received: shape={tuple(params.shape)}"
        )
    mean, log_scale = ops.split(params, 2, axis=-1)
    return mean, ops.clip(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX)


@keras.saving.register_keras_serializable(package="vaekit")
class GaussianLearnedScale(Likelihood):
    """Independent Gaussian per value whose mean and standard deviation both come from the decoder.

    Params layout: for data `(H, W, C)` the decoder outputs `(H, W, 2C)`; the last axis is
    `[means for the C channels, log standard deviations for the C channels]` (for data `(D,)`: `(2D,)`,
    the first `D` the means). Log-scales are clipped to `[LOG_SCALE_MIN, LOG_SCALE_MAX]` = `[-7, 5]`,
    so the density stays finite. A density, not a probability: `is_discrete = False`.

    Args:
        event_ndim: Number of trailing data axes.
    """

    kind = "gaussian_learned"
    params_per_value = 2

    def log_prob(self, x, params, training=False):
        mean, log_scale = map(self._flat, _split_mean_log_scale(params))
        x = self._flat(x, mean.dtype)
        sq = ops.square(x - mean) * ops.exp(-2.0 * log_scale)
        return vops.sum_values(-0.5 * (sq + LOG_2PI) - log_scale)

    def mean(self, params):
        return _split_mean_log_scale(params)[0]

    def sample(self, params, seed=None):
        mean, log_scale = _split_mean_log_scale(params)
        eps = keras.random.normal(ops.shape(mean), seed=seed, dtype=mean.dtype)
        return mean + ops.exp(log_scale) * eps


@keras.saving.register_keras_serializable(package="vaekit")
class DiscretizedLogistic(Likelihood):
    """A logistic per value, discretized to the 256 levels `k / 255` of 8-bit data in [0, 1].

    As in PixelCNN++ (on the [0, 1] scale, bin width 1/255): with `CDF` the logistic's CDF and
    `h = 1 / 510` half a bin,

        P(x) = CDF(x + h) - CDF(x - h)      for 0 < x < 1,
        P(0) = CDF(h),   P(1) = 1 - CDF(1 - h),

    so the 256 probabilities sum to one and `log_prob` is a log probability mass (`is_discrete = True`).

    Params layout: for data `(H, W, C)` the decoder outputs `(H, W, 2C)`, the last axis being
    `[means for the C channels, log-scales for the C channels]` (for data `(D,)`: `(2D,)`). Log-scales
    are clipped to `[-7, 5]`. Data should lie on the grid (`k / 255`); values within half a bin of 0 or
    1 are scored as the edge levels.

    Args:
        event_ndim: Number of trailing data axes.
    """

    kind = "discretized_logistic"
    params_per_value = 2
    is_discrete = True
    levels = 256

    def log_prob(self, x, params, training=False):
        mean, log_scale = map(self._flat, _split_mean_log_scale(params))
        x = self._flat(x, mean.dtype)
        half_bin = 0.5 / (self.levels - 1)
        inv_scale = ops.exp(-log_scale)
        upper = inv_scale * (x - mean + half_bin)  # logistic argument at the bin's upper edge
        lower = inv_scale * (x - mean - half_bin)
        log_cdf_upper = -vops.softplus(-upper)  # log CDF(x + h) = log sigmoid(upper)
        log_sf_lower = -vops.softplus(lower)  # log(1 - CDF(x - h))
        # Interior bins: sigmoid(u) - sigmoid(l) = sigmoid(u) (1 - sigmoid(l)) (1 - exp(l - u)), exact.
        # Every factor is taken in log space, so tiny probabilities (far tails, sharp scales) keep their
        # value instead of rounding to log(0) = -inf; u - l is computed directly, not by cancellation.
        width = inv_scale * (2.0 * half_bin)  # u - l > 0, at least exp(-5) / 255
        log_mass = log_cdf_upper + log_sf_lower + ops.log(-ops.expm1(-width))
        log_p = ops.where(
            x < half_bin, log_cdf_upper, ops.where(x > 1.0 - half_bin, log_sf_lower, log_mass)
        )
        return vops.sum_values(log_p)

    def mean(self, params):
        return ops.clip(_split_mean_log_scale(params)[0], 0.0, 1.0)

    def sample(self, params, seed=None):
        mean, log_scale = _split_mean_log_scale(params)
        eps = 1e-5  # keeps log(u) and log(1 - u) finite
        u = keras.random.uniform(
            ops.shape(mean), minval=eps, maxval=1.0 - eps, seed=seed, dtype=mean.dtype
        )
        x = mean + ops.exp(log_scale) * (ops.log(u) - ops.log1p(-u))  # inverse logistic CDF
        top = self.levels - 1
        return ops.clip(ops.round(x * top) / top, 0.0, 1.0)


LIKELIHOODS = Registry("likelihood")
for _cls in (Bernoulli, Gaussian, GaussianLearnedScale, DiscretizedLogistic):
    LIKELIHOODS.register(_cls)


def option_names(name):
    """The options the likelihood `name` takes beyond `event_ndim` (e.g. `("window",)`)."""
    signature = inspect.signature(LIKELIHOODS.lookup(name).__init__)
    return tuple(
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "event_ndim")
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def get(identifier, event_ndim=3, options=None):
    """A likelihood from a name (with its `options`, such as `{"window": 5}`), a config dict or an
    instance."""
    options = dict(options or {})
    resolved = LIKELIHOODS.resolve(identifier, Likelihood, has_options=bool(options))
    if resolved is not None:
        return resolved
    cls = LIKELIHOODS.lookup(identifier)
    known = option_names(identifier)
    unknown = sorted(set(map(str, options)) - set(known))
    if unknown:
        expected = f"Expected some of: {', '.join(known)}." if known else "It takes none."
        raise ConfigError(
            f"Unknown option(s) {', '.join(unknown)} for likelihood {identifier!r}. {expected}"
        )
    return cls(event_ndim=event_ndim, **options)
