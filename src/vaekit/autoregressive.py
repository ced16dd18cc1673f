"""A Bernoulli likelihood with local autoregressive connections: a cheap, strong decoder for binary images.

Each value's logit is the decoder's output plus a learned linear function of the values just before it
in raster order (a causal neighbourhood, as in PixelCNN's first masked convolution):

    logit_i = decoder(z)_i + sum_t w[i, t] * x[source(i, t)]

so p(x | z) = prod_i Bernoulli(x_i | sigmoid(logit_i)) is a normalised distribution over binary data
(each factor conditions only on earlier values). The latent carries the global shape; the local terms
model what a factorised Bernoulli cannot, such as the continuity of strokes. The neighbourhood is local on
purpose: a decoder that saw every earlier pixel could ignore the latent (Chen et al. 2017, "Variational
Lossy Autoencoder").

Scoring is one gather and one weighted sum per value, and the local term depends on `x` alone, so the
importance-sampled NLL computes it once per image for all K decodings. Drawing (`sample`) and the
picture mean (`mean`) must go value by value, one step per value.
"""

import keras
import numpy as np
from keras import ops

from vaekit import likelihoods
from vaekit import ops as vops
from vaekit.errors import ConfigError


@keras.saving.register_keras_serializable(package="vaekit")
class LocalAutoregressiveBernoulli(keras.layers.Layer, likelihoods.Likelihood):
    """Bernoulli values whose logits add a learned linear function of their causal neighbourhood.

    For images `(H, W, C)` value `(r, c, k)` sees every channel of the pixels `(r - a, c + b)` that
    come before it in raster order with `0 <= a <= window` and `|b| <= window`: with `window=3` that
    is the 24 pixels of a 7 x 7 mask of type A. For vectors `(D,)` value `i` sees the `window` values
    before it. The weights are per value (not shared like a convolution's) and start at zero, where the
    model is the plain `Bernoulli`.

    Args:
        event_ndim: How many trailing axes form one data point (the VAE sets it).
        window: Size of the causal neighbourhood (>= 1).

    Example:
    >>> model = build_vae((28, 28, 1), "vae", likelihood="local_ar_bernoulli")
    """

    name = "local_ar_bernoulli"
    is_discrete = True

    def __init__(self, event_ndim=3, window=3, **kwargs):
        kwargs.setdefault("name", type(self).name)
        super().__init__(**kwargs)
        likelihoods.Likelihood.__init__(self, event_ndim=event_ndim)
        if not isinstance(window, int | np.integer) or isinstance(window, bool) or window < 1:
            raise ConfigError(
                f"Expected `window` to be an integer >= 1. Received: window={window!r}"
            )
        self.window = int(window)

    def bind(self, data_shape):
        data_shape = tuple(data_shape)
        if not self.built:
            self.build(data_shape)
        elif self.data_shape != data_shape:
            raise ConfigError(
                f"Expected a likelihood built for data of shape {data_shape}. "
                f"Received one built for {self.data_shape}"
            )

    def build(self, data_shape):
        data_shape = tuple(int(d) for d in data_shape[-self.event_ndim :])
        # A wider window than the data adds only padding taps (and memory: taps grow as window^2).
        widest = max(1, max(data_shape[:2]) - 1 if len(data_shape) == 3 else data_shape[0] - 1)
        if self.window > widest:
            raise ConfigError(
                f"Expected `window` <= {widest} for data of shape {data_shape}. "
                f"Received: window={self.window}"
            )
        self.data_shape = data_shape
        self.sources = _causal_sources(data_shape, self.window)  # (values, taps) int32
        values, taps = self.sources.shape
        self.tap_weights = self.add_weight(
            shape=(values, taps), initializer="zeros", name="tap_weights"
        )
        self.built = True

    @property
    def channels(self):
        """Values per pixel: they share their sources (1 for vector data)."""
        return self.data_shape[-1] if len(self.data_shape) == 3 else 1

    def _local_logits(self, x_flat):
        """The autoregressive term `(..., D)` for flat data `(..., D)`."""
        values, taps = self.sources.shape
        padded = ops.pad(x_flat, [(0, 0)] * (len(x_flat.shape) - 1) + [(0, 1)])  # index D: zero
        context = ops.take(padded, self.sources.reshape(-1), axis=-1)  # (..., D * taps)
        context = ops.reshape(context, (*ops.shape(x_flat)[:-1], values, taps))
        weights = ops.cast(self.tap_weights, x_flat.dtype)
        return ops.sum(context * weights, axis=-1)

    def log_prob(self, x, params):
        params = self._flat(params)  # (..., D)
        # (..., D): it may broadcast against params (the NLL's K decodings of one image)
        x = self._flat(x, params.dtype)
        logits = params + self._local_logits(x)
        return vops.sum_values(vops.bernoulli_log_terms(x, logits))

    def _sequential(self, params, draw):
        """Values shaped like `params`, decided pixel by pixel in raster order: each from its
        probabilities given the values before it, by `draw(slice, probabilities)`.

        Pictures and draws are made eagerly, outside any compiled step, so the loop runs in NumPy:
        one small gather and product per pixel (a backend op per step cost ~100x as much).
        """
        params = np.asarray(ops.convert_to_numpy(params))
        values = self.sources.shape[0]
        logits = params.reshape(-1, values)  # (n, D)
        weights = np.asarray(ops.convert_to_numpy(self.tap_weights), logits.dtype)
        x = np.zeros((len(logits), values + 1), logits.dtype)  # column D stays 0: the padding
        for start in range(0, values, self.channels):  # a pixel's channels share their sources
            at = slice(start, start + self.channels)
            local = x[:, self.sources[start]] @ weights[at].T  # (n, channels)
            x[:, at] = draw(at, np.exp(-np.logaddexp(0.0, -(logits[:, at] + local))))
        return ops.convert_to_tensor(x[:, :values].reshape(params.shape))

    def mean(self, params):
        """A mean-field picture: each value's probability given the probabilities before it.

        The exact mean of an autoregressive model needs sampling; this deterministic pass is what
        pictures show, and equals the Bernoulli mean while the local weights are zero.
        """
        return self._sequential(params, lambda at, p: p)

    def sample(self, params, seed=None):
        params = ops.convert_to_tensor(params)
        shape = (-1, self.sources.shape[0])
        u = ops.reshape(
            keras.random.uniform(ops.shape(params), seed=seed, dtype=params.dtype), shape
        )
        u = np.asarray(ops.convert_to_numpy(u))
        return self._sequential(params, lambda at, p: (u[:, at] < p).astype(p.dtype))

    def get_config(self):
        return {**super().get_config(), "event_ndim": self.event_ndim, "window": self.window}


def _causal_sources(data_shape, window):
    """For each value (raster order), the flat indices of the values it conditions on, `(D, taps)`.

    Sources outside the data point the padding index D (a zero), so every row has the same taps.
    """
    if len(data_shape) == 1:
        values = data_shape[0]
        index = np.arange(values)[:, None] - np.arange(1, window + 1)[None, :]  # (D, window)
        return np.where(index >= 0, index, values).astype("int32")
    if len(data_shape) != 3:
        raise ConfigError(
            f"Expected data of shape (H, W, C) or (D,) for {LocalAutoregressiveBernoulli.name}. "
            f"Received: {data_shape}"
        )
    height, width, channels = data_shape
    offsets = [(a, b) for a in range(window + 1) for b in range(-window, window + 1) if a or b < 0]
    rows = np.arange(height)[:, None, None, None]
    cols = np.arange(width)[None, :, None, None]
    up = np.array([a for a, _ in offsets])[None, None, :, None]
    left = np.array([b for _, b in offsets])[None, None, :, None]
    src_rows, src_cols = rows - up, cols + left  # (H, W, offsets, 1)
    inside = (src_rows >= 0) & (src_cols >= 0) & (src_cols < width)
    channel = np.arange(channels)[None, None, None, :]
    flat = (src_rows * width + src_cols) * channels + channel  # (H, W, offsets, C): source values
    flat = np.where(inside, flat, height * width * channels).reshape(height * width, -1)
    # Every channel of a pixel has the same sources.
    return np.repeat(flat, channels, axis=0).astype("int32")


likelihoods.register(LocalAutoregressiveBernoulli)
