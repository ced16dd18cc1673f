"""Encoder and decoder builders, picked by name from a registry.

An encoder maps data of `input_shape` to `[mean, log_var]`, each `(batch, latent_dim)`. A decoder maps
`(batch, latent_dim)` latents to the likelihood's parameters, shaped like the data (times the number of
parameters per value on the last axis). Both are functional `keras.Model`s, so they summarise, save and
load on their own (safe mode: only Keras layers and the registered layers of `vaekit.models.layers`).

| name          | data                | `hidden_units` means       | hidden layers                         |
|---------------|---------------------|----------------------------|---------------------------------------|
| `"mlp"`       | any shape           | Dense widths               | Dense + activation                    |
| `"gated_mlp"` | any shape           | GatedDense widths          | `h * sigmoid(gate)` (Tomczak-Welling) |
| `"conv"`      | images `(H, W, C)`  | channels of stride-2 stages| Conv2D / Conv2DTranspose + activation |
| `"resconv"`   | images `(H, W, C)`  | channels of stride-2 stages| gated convs + gated residual blocks   |

Decoders mirror their encoders and end in a linear layer (logits, means, log-scales: the likelihood
applies any squashing). Every builder takes `(shape, latent_dim, hidden_units=..., activation=...,
name=...)`; the convolutional ones also take `kernel_size`, and `resconv` takes `blocks`.
"""

import math

import keras
from keras import layers, ops

from vaekit.errors import ConfigError
from vaekit.models.layers import GatedActivation, GatedDense, SubpixelConv2DTranspose
from vaekit.models.registry import Registry


@keras.saving.register_keras_serializable(package="vaekit")
class ConvKernelInitializer(keras.initializers.GlorotUniform):
    """Glorot-uniform convolution kernels, drawn as one flat vector and reshaped.

    The same distribution as `GlorotUniform` (limit `sqrt(6 / (fan_in + fan_out))`, fans counting the
    receptive field). On JAX each new draw shape is compiled once, and 4-d shapes compile several times
    slower than 1-d ones on CPU (seconds per kernel): drawing flat makes a convolutional network build
    about 4x faster there. The other backends are unaffected.
    """

    def __call__(self, shape, dtype=None):
        receptive_field = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        flat = keras.random.uniform(
            (math.prod(shape),), minval=-limit, maxval=limit, dtype=dtype, seed=self.seed
        )
        return ops.reshape(flat, shape)


def _conv(filters, kernel_size, name, strides=1, activation=None, transpose=False):
    """A 'same'-padded Conv2D (or transposed convolution) with `ConvKernelInitializer` kernels.

    The transposed one is `SubpixelConv2DTranspose`: `Conv2DTranspose`'s function and weights,
    without XLA's slow gradient of a strided transposed convolution on the CPU.
    """
    if transpose:
        return SubpixelConv2DTranspose(
            filters,
            kernel_size,
            strides=strides,
            activation=activation,
            kernel_initializer=ConvKernelInitializer(),
            name=name,
        )
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        activation=activation,
        kernel_initializer=ConvKernelInitializer(),
        name=name,
    )


# --- argument checks -----------------------------------------------------------------------------------
def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")
    return value


def _units(hidden_units, architecture, allow_empty=True):
    """`hidden_units` as a tuple of positive ints; conv architectures need at least one stage."""
    try:
        units = tuple(hidden_units)
    except TypeError:
        units = None
    if units is None or any(isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in units):
        raise ConfigError(
            f"Expected `hidden_units` to be a sequence of positive integers. Received: hidden_units={hidden_units!r}"
        )
    if not units and not allow_empty:
        raise ConfigError(
            f"Expected at least one stage in `hidden_units` for architecture {architecture!r} "
            "(the channels of each stride-2 stage). Received: hidden_units=()"
        )
    return units


def _image_shape(shape, name, architecture):
    """`(H, W, C)` as ints, or a ConfigError saying that the architecture needs images."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if len(dims) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise ConfigError(
            f"Expected a 3-d image shape (height, width, channels) for architecture {architecture!r}. "
            f"Received: {name}={shape!r}"
        )
    return dims


def _bottom_size(height, width, stages):
    """Spatial size after `stages` stride-2 'same' convolutions: each takes n to ceil(n / 2)."""
    # Iterated ceil(n / 2) equals ceil(n / 2**stages): -(-n // d) is ceil division on ints.
    return -(-height // 2**stages), -(-width // 2**stages)


def _crop_to(h, height, width, upsampled):
    """Crop the bottom and right margins of `h` (`upsampled` = its `(H', W')`) to `(height, width)`.

    The decoder's grid is the encoder's: 'same' stride-2 convolutions pad at the bottom and right, so
    those are the rows and columns that lie outside the image.
    """
    extra_h, extra_w = upsampled[0] - height, upsampled[1] - width
    if extra_h == extra_w == 0:
        return h
    return layers.Cropping2D(((0, extra_h), (0, extra_w)), name="crop")(h)


def _heads(h, latent_dim):
    mean = layers.Dense(latent_dim, name="z_mean")(h)
    log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return [mean, log_var]


# --- dense networks ------------------------------------------------------------------------------------
def mlp_encoder(input_shape, latent_dim, hidden_units=(128, 64), activation="relu", name="encoder"):
    """Dense encoder: flatten -> hidden Dense layers -> two Dense heads (mean, log-variance).

    With the defaults this is the classic recipe's encoder (784 -> 128 -> 64 -> 10 + 10).
    """
    units = _units(hidden_units, "mlp")
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Flatten(name="flatten")(x_in)
    for i, width in enumerate(units):
        h = layers.Dense(width, activation=activation, name=f"dense_{i}")(h)
    return keras.Model(x_in, _heads(h, latent_dim), name=name)


def mlp_decoder(
    output_shape, latent_dim, hidden_units=(128, 64), activation="relu", name="decoder"
):
    """Dense decoder, the encoder's mirror: hidden layers in reverse order -> Dense -> reshape.

    `output_shape` is the shape of the likelihood parameters for one example; the final layer is linear
    (logits for a Bernoulli likelihood: the sigmoid of the recipe lives in the likelihood).
    """
    units = _units(hidden_units, "mlp")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, width in enumerate(reversed(units)):
        h = layers.Dense(width, activation=activation, name=f"dense_{i}")(h)
    h = layers.Dense(math.prod(output_shape), name="params")(h)
    out = layers.Reshape(tuple(output_shape), name="reshape")(h)
    return keras.Model(z_in, out, name=name)


def gated_mlp_encoder(
    input_shape, latent_dim, hidden_units=(300, 300), activation=None, name="encoder"
):
    """Gated dense encoder (Tomczak & Welling, VampPrior): flatten -> GatedDense layers -> Dense heads.

    Each hidden layer computes `activation(Dense(x)) * sigmoid(Dense_gate(x))`; the paper's value half is
    linear (`activation=None`) and its MNIST widths are (300, 300).
    """
    units = _units(hidden_units, "gated_mlp")
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Flatten(name="flatten")(x_in)
    for i, width in enumerate(units):
        h = GatedDense(width, activation=activation, name=f"gated_dense_{i}")(h)
    return keras.Model(x_in, _heads(h, latent_dim), name=name)


def gated_mlp_decoder(
    output_shape, latent_dim, hidden_units=(300, 300), activation=None, name="decoder"
):
    """Gated dense decoder, the encoder's mirror: GatedDense layers in reverse -> linear Dense -> reshape."""
    units = _units(hidden_units, "gated_mlp")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, width in enumerate(reversed(units)):
        h = GatedDense(width, activation=activation, name=f"gated_dense_{i}")(h)
    h = layers.Dense(math.prod(output_shape), name="params")(h)
    out = layers.Reshape(tuple(output_shape), name="reshape")(h)
    return keras.Model(z_in, out, name=name)


# --- convolutional networks ----------------------------------------------------------------------------
def conv_encoder(
    input_shape,
    latent_dim,
    hidden_units=(32, 64),
    activation="relu",
    kernel_size=3,
    name="encoder",
):
    """Convolutional encoder for `(H, W, C)` images of any size: stride-2 Conv2D stages -> flatten -> heads.

    Stage `i` has `hidden_units[i]` channels and halves the spatial size, rounding up ('same' padding):
    28x28 -> 14x14 -> 7x7 with the defaults, 7x9 -> 4x5 -> 2x3.
    """
    height, width, channels = _image_shape(input_shape, "input_shape", "conv")
    stages = _units(hidden_units, "conv", allow_empty=False)
    kernel_size = _positive_int(kernel_size, "kernel_size")
    x_in = keras.Input(shape=(height, width, channels), name="x")
    h = x_in
    for i, filters in enumerate(stages):  # each stage: (h, w) -> (ceil(h / 2), ceil(w / 2))
        h = _conv(filters, kernel_size, f"down_{i}", strides=2, activation=activation)(h)
    h = layers.Flatten(name="flatten")(h)
    return keras.Model(x_in, _heads(h, latent_dim), name=name)


def conv_decoder(
    output_shape,
    latent_dim,
    hidden_units=(32, 64),
    activation="relu",
    kernel_size=3,
    name="decoder",
):
    """Convolutional decoder, the encoder's mirror, ending in exactly `output_shape` `(H, W, P)`.

    Dense -> `(ceil(H / 2**S), ceil(W / 2**S), hidden_units[-1])` feature map -> S stride-2
    Conv2DTranspose stages with the channels reversed -> a linear Conv2D to the P parameter channels ->
    crop of the bottom/right margins the doubling overshot (7x9: 2x3 -> 4x6 -> 8x12 -> crop to 7x9).
    """
    height, width, channels = _image_shape(output_shape, "output_shape", "conv")
    stages = _units(hidden_units, "conv", allow_empty=False)
    kernel_size = _positive_int(kernel_size, "kernel_size")
    bottom_h, bottom_w = _bottom_size(height, width, len(stages))
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Dense(bottom_h * bottom_w * stages[-1], activation=activation, name="project")(z_in)
    h = layers.Reshape((bottom_h, bottom_w, stages[-1]), name="reshape")(h)
    for i, filters in enumerate(reversed(stages)):
        h = _conv(
            filters, kernel_size, f"up_{i}", strides=2, activation=activation, transpose=True
        )(h)  # spatial size doubles
    h = _conv(channels, kernel_size, "params")(h)
    scale = 2 ** len(stages)
    out = _crop_to(h, height, width, (bottom_h * scale, bottom_w * scale))
    return keras.Model(z_in, out, name=name)


def _gated_conv(h, filters, kernel_size, name, strides=1, transpose=False):
    """A convolution to `2 * filters` channels -> GatedActivation: `value * sigmoid(gate)`."""
    h = _conv(2 * filters, kernel_size, name, strides=strides, transpose=transpose)(h)
    return GatedActivation(name=f"{name}_gate")(h)


def _residual_block(h, filters, kernel_size, activation, name):
    """`h + gated(conv(activation(conv(h))))`: a residual block whose update is gated per channel."""
    r = _conv(filters, kernel_size, f"{name}_conv", activation=activation)(h)
    r = _gated_conv(r, filters, kernel_size, name=f"{name}_gated_conv")
    return layers.Add(name=f"{name}_add")([h, r])


def resconv_encoder(
    input_shape,
    latent_dim,
    hidden_units=(32, 64),
    activation="relu",
    kernel_size=3,
    blocks=2,
    name="encoder",
):
    """Gated residual convolutional encoder: the `conv` plan, deeper and gated.

    Each stage is a stride-2 gated convolution to `hidden_units[i]` channels followed by `blocks` gated
    residual blocks at that resolution; then flatten -> Dense heads. `activation` is the nonlinearity
    inside the residual blocks; every other hidden layer is a gated linear unit.
    """
    height, width, channels = _image_shape(input_shape, "input_shape", "resconv")
    stages = _units(hidden_units, "resconv", allow_empty=False)
    kernel_size = _positive_int(kernel_size, "kernel_size")
    blocks = _positive_int(blocks, "blocks")
    x_in = keras.Input(shape=(height, width, channels), name="x")
    h = x_in
    for i, filters in enumerate(stages):
        h = _gated_conv(h, filters, kernel_size, name=f"down_{i}", strides=2)
        for j in range(blocks):
            h = _residual_block(h, filters, kernel_size, activation, name=f"stage_{i}_block_{j}")
    h = layers.Flatten(name="flatten")(h)
    return keras.Model(x_in, _heads(h, latent_dim), name=name)


def resconv_decoder(
    output_shape,
    latent_dim,
    hidden_units=(32, 64),
    activation="relu",
    kernel_size=3,
    blocks=2,
    name="decoder",
):
    """Gated residual convolutional decoder, the encoder's mirror, ending in exactly `output_shape`.

    GatedDense -> `(ceil(H / 2**S), ceil(W / 2**S), hidden_units[-1])`; then for each stage from the
    deepest: `blocks` gated residual blocks, and a stride-2 gated Conv2DTranspose to the next shallower
    stage's channels (the shallowest stage's for the last one); a linear Conv2D to the parameter
    channels; a crop of the overshoot, as in `conv_decoder`.
    """
    height, width, channels = _image_shape(output_shape, "output_shape", "resconv")
    stages = _units(hidden_units, "resconv", allow_empty=False)
    kernel_size = _positive_int(kernel_size, "kernel_size")
    blocks = _positive_int(blocks, "blocks")
    bottom_h, bottom_w = _bottom_size(height, width, len(stages))
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = GatedDense(bottom_h * bottom_w * stages[-1], name="project")(z_in)
    h = layers.Reshape((bottom_h, bottom_w, stages[-1]), name="reshape")(h)
    for i in reversed(range(len(stages))):
        for j in range(blocks):
            h = _residual_block(h, stages[i], kernel_size, activation, name=f"stage_{i}_block_{j}")
        h = _gated_conv(
            h, stages[max(i - 1, 0)], kernel_size, name=f"up_{i}", strides=2, transpose=True
        )
    h = _conv(channels, kernel_size, "params")(h)
    scale = 2 ** len(stages)
    out = _crop_to(h, height, width, (bottom_h * scale, bottom_w * scale))
    return keras.Model(z_in, out, name=name)


ARCHITECTURES = Registry("architecture")  # name -> (encoder builder, decoder builder)
ARCHITECTURES.register((mlp_encoder, mlp_decoder), "mlp")
ARCHITECTURES.register((gated_mlp_encoder, gated_mlp_decoder), "gated_mlp")
ARCHITECTURES.register((conv_encoder, conv_decoder), "conv")
ARCHITECTURES.register((resconv_encoder, resconv_decoder), "resconv")


def build_networks(architecture, input_shape, param_shape, latent_dim, condition_dim=0, **options):
    """Build `(encoder, decoder)` for a registered architecture name.

    `options` (`hidden_units`, `activation`, and the architecture's own, such as `kernel_size`) go to
    both builders. A conditional model's decoder reads `condition_dim` values beside the latents.
    """
    make_encoder, make_decoder = ARCHITECTURES.lookup(architecture)
    return make_encoder(input_shape, latent_dim, **options), make_decoder(
        param_shape, latent_dim + int(condition_dim), **options
    )
