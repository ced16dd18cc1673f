"""A Bernoulli likelihood with local autoregressive connections: a cheap, strong decoder for binary images.

Each value's logit is the decoder's output plus a learned function of the values just before it in
raster order (a causal neighbourhood, as in PixelCNN's first masked convolution):

    logit_i = decoder(z)_i + sum_t w[i, t] * c_i[t]  +  v_k . relu(U c_i + b)      c_i[t] = x[source(i, t)]

The linear taps `w` are per value; the optional hidden layer (`hidden` units, `U`, `b` shared by every
pixel, `v_k` per channel) lets the neighbourhood act non-linearly (a stroke that bends, an end of a
line), as a masked convolution followed by a 1 x 1 one would.

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

from vaekit.errors import ConfigError
from vaekit.models import likelihoods
from vaekit.models import ops as vops


@keras.saving.register_keras_serializable(package="vaekit")
class LocalAutoregressiveBernoulli(keras.layers.Layer, likelihoods.Likelihood):
    """Bernoulli values whose logits add a learned function of their causal neighbourhood.

    For images `(H, W, C)` value `(r, c, k)` sees every channel of the pixels `(r - a, c + b)` that
    come before it in raster order with `0 <= a <= window` and `|b| <= window`: with `window=3` that
    is the 24 pixels of a 7 x 7 mask of type A. For vectors `(D,)` value `i` sees the `window` values
    before it. The linear weights are per value (not shared like a convolution's); the hidden layer's
    are shared by every pixel, like a convolution's, with an output weight per channel. Both terms
    start at zero, where the model is the plain `Bernoulli`.

    Args:
        event_ndim: How many trailing axes form one data point (the VAE sets it).
        window: Size of the causal neighbourhood (>= 1).
        hidden: Units of the shared non-linear term (0, the default: the linear taps alone).

    Example:
    >>> model = build_vae((28, 28, 1), "vae", likelihood="local_ar_bernoulli")
    """

    kind = "local_ar_bernoulli"
    is_discrete = True

    def __init__(self, event_ndim=3, window=3, hidden=0, **kwargs):
        kwargs.setdefault("name", type(self).kind)
        super().__init__(**kwargs)
        likelihoods.Likelihood.__init__(self, event_ndim=event_ndim)
        self.window = _integer("window", window, minimum=1)
        self.hidden = _integer("hidden", hidden, minimum=0)

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
        if self.hidden:
            rows, cols = self._kernel_size()
            self.hidden_kernel = self.add_weight(
                shape=(rows, cols, self.channels, self.hidden),
                initializer="glorot_uniform",
                name="hidden_kernel",
            )
            self.hidden_bias = self.add_weight(
                shape=(self.hidden,), initializer="zeros", name="hidden_bias"
            )
            # Zero: the term starts off, and the kernel learns once these move.
            self.hidden_out = self.add_weight(
                shape=(self.hidden, self.channels), initializer="zeros", name="hidden_out"
            )
            self.kernel_mask = _causal_mask(rows, cols, self.window, self.channels)
        self.built = True

    @property
    def convolves(self):
        """Whether scoring runs a convolution (the hidden term): the training engine then runs one
        compiled step per batch, since XLA on the CPU convolves slowly inside a loop."""
        return bool(self.hidden)

    @property
    def channels(self):
        """Values per pixel: they share their sources (1 for vector data)."""
        return self.data_shape[-1] if len(self.data_shape) == 3 else 1

    def _local_logits(self, x_flat):
        """The autoregressive term `(..., D)` for flat data `(..., D)`."""
        values, taps = self.sources.shape
        lead = ops.shape(x_flat)[:-1]
        padded = ops.pad(x_flat, [(0, 0)] * (len(x_flat.shape) - 1) + [(0, 1)])  # index D: zero
        context = ops.take(padded, self.sources.reshape(-1), axis=-1)  # (..., D * taps)
        context = ops.reshape(context, (*lead, values, taps))
        local = ops.sum(context * ops.cast(self.tap_weights, x_flat.dtype), axis=-1)
        if not self.hidden:
            return local
        # The shared term is a masked convolution: cheaper than a matmul over the gathered context.
        # Vectors are images of one row; the padding puts the kernel's last row and its column
        # `window` (vectors: its last column) on the current value.
        rows, cols = self._kernel_size()
        image_shape = self.data_shape if len(self.data_shape) == 3 else (1, values, 1)
        pad = [(0, 0), (rows - 1, 0), (self.window, cols - 1 - self.window), (0, 0)]
        images = ops.pad(ops.reshape(x_flat, (-1, *image_shape)), pad)
        kernel = ops.cast(self.hidden_kernel * self.kernel_mask, x_flat.dtype)
        features = ops.relu(
            ops.conv(images, kernel, padding="valid", data_format="channels_last")
            + ops.cast(self.hidden_bias, x_flat.dtype)
        )  # (n, height, width, hidden)
        shared = ops.matmul(features, ops.cast(self.hidden_out, x_flat.dtype))
        return local + ops.reshape(shared, (*lead, values))

    def _kernel_size(self):
        """The masked kernel's (rows, columns): the window above and either side, or before."""
        if len(self.data_shape) == 3:
            return self.window + 1, 2 * self.window + 1
        return 1, self.window + 1

    def _tap_kernel(self):
        """The hidden kernel as a `(taps, hidden)` matrix in the order of `sources`' columns."""
        kernel = np.asarray(ops.convert_to_numpy(self.hidden_kernel))
        if len(self.data_shape) == 1:  # column window - t holds the value t before
            return kernel[0, self.window - np.arange(1, self.window + 1), 0]
        w = self.window
        # (offsets * C, hidden): offset-major, channel-minor, as `_causal_sources` orders them
        return np.concatenate([kernel[w - a, b + w] for a, b in _causal_offsets(w)])

    def log_prob(self, x, params, training=False):
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
        numpy = lambda w: np.asarray(ops.convert_to_numpy(w), logits.dtype)  # noqa: E731
        weights = numpy(self.tap_weights)
        if self.hidden:
            kernel = self._tap_kernel().astype(logits.dtype)
            bias, out = numpy(self.hidden_bias), numpy(self.hidden_out)
        x = np.zeros((len(logits), values + 1), logits.dtype)  # column D stays 0: the padding
        for start in range(0, values, self.channels):  # a pixel's channels share their sources
            at = slice(start, start + self.channels)
            context = x[:, self.sources[start]]  # (n, taps)
            local = context @ weights[at].T  # (n, channels)
            if self.hidden:
                local = local + np.maximum(context @ kernel + bias, 0.0) @ out
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
        return {
            **super().get_config(),
            "event_ndim": self.event_ndim,
            "window": self.window,
            "hidden": self.hidden,
        }


def _integer(name, value, minimum):
    """`value` as an int, or a one-line ConfigError naming the option."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        raise ConfigError(
            f"Expected `{name}` to be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def _causal_offsets(window):
    """The (rows up, columns right) of the pixels before one in raster order within `window`."""
    return [(a, b) for a in range(window + 1) for b in range(-window, window + 1) if a or b < 0]


def _causal_mask(rows, cols, window, channels):
    """The masked kernel's 0/1 pattern `(rows, cols, channels, 1)`: 1 where a tap is a source.

    The kernel's last row is the current row (for vectors, its only row, and the last column is the
    current value); every earlier row is a source, and in the current row the columns before it.
    """
    mask = np.zeros((rows, cols, channels, 1), "float32")
    mask[:-1] = 1.0
    mask[-1, : window if rows > 1 else cols - 1] = 1.0
    return mask


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
            f"Expected data of shape (H, W, C) or (D,) for {LocalAutoregressiveBernoulli.kind}. "
            f"Received: {data_shape}"
        )
    height, width, channels = data_shape
    offsets = _causal_offsets(window)
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


likelihoods.LIKELIHOODS.register(LocalAutoregressiveBernoulli)
