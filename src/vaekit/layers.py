"""Small layers vaekit models are made of."""

import keras
from keras import ops

from vaekit import keras_compat


@keras.saving.register_keras_serializable(package="vaekit")
class GaussianSampler(keras.layers.Layer):
    """Draws `z = mean + exp(log_var / 2) * eps`, `eps ~ N(0, I)`: the reparameterization trick.

    Replaces the anonymous `Lambda` sampling layer of the classic Keras 2 recipe: this one is registered,
    serializable in safe mode, and owns its randomness through a `keras.random.SeedGenerator`, so a
    seeded model draws the same noise on the same backend.

    Args:
        seed: Optional integer seed for the layer's `SeedGenerator`.

    Call arguments:
        mean: Tensor `(batch, ..., latent_dim)`, the posterior means.
        log_var: Tensor of the same shape, the posterior log-variances.

    Returns:
        A tensor of the same shape as `mean`, one sample per row.

    Example:
    >>> sampler = GaussianSampler(seed=1)
    >>> z = sampler(keras.ops.zeros((4, 2)), keras.ops.zeros((4, 2)))  # (4, 2), ~ N(0, I)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, mean_shape, log_var_shape=None):
        # No weights: the only state is the seed generator's, created in __init__.
        self.built = True

    def call(self, mean, log_var):
        eps = self.noise(ops.shape(mean), mean.dtype)
        return mean + ops.exp(0.5 * log_var) * eps

    def noise(self, shape, dtype="float32"):
        """The N(0, I) draw `call` takes for a `mean` of `shape` (and advances the seed state)."""
        return keras_compat.seeded_normal(shape, self.seed_generator, dtype=dtype)

    def compute_output_shape(self, mean_shape, log_var_shape=None):
        return mean_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="vaekit")
class GatedDense(keras.layers.Layer):
    """Gated dense layer: `activation(x @ kernel + bias) * sigmoid(x @ gate_kernel + gate_bias)`.

    The gated unit of Tomczak & Welling's VampPrior networks (after Dauphin et al.'s gated linear units):
    a second, sigmoid-activated projection decides per unit how much of the first passes. With the
    default `activation=None` the value half is linear, as in the paper.

    Args:
        units: Positive integer, the output width.
        activation: Activation of the value half (a Keras activation name or callable); `None` for linear.
        kernel_initializer: Initializer of both kernels.
        bias_initializer: Initializer of both biases.

    Call arguments:
        inputs: Tensor `(batch, ..., input_dim)`.

    Returns:
        A tensor `(batch, ..., units)`.

    Example:
    >>> layer = GatedDense(300)
    >>> h = layer(keras.ops.ones((4, 784)))  # (4, 300)
    """

    def __init__(
        self,
        units,
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(
                f"Expected `units` to be a positive integer. Received: units={units!r}"
            )
        self.units = units
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Expected the last axis of the input to be defined. Received: input_shape={input_shape}"
            )
        for prefix in ("", "gate_"):
            kernel = self.add_weight(
                name=f"{prefix}kernel",
                shape=(input_dim, self.units),
                initializer=self.kernel_initializer,
            )
            bias = self.add_weight(
                name=f"{prefix}bias", shape=(self.units,), initializer=self.bias_initializer
            )
            setattr(self, f"{prefix}kernel", kernel)
            setattr(self, f"{prefix}bias", bias)

    def call(self, inputs):
        value = self.activation(ops.matmul(inputs, self.kernel) + self.bias)
        gate = ops.sigmoid(ops.matmul(inputs, self.gate_kernel) + self.gate_bias)
        return value * gate

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="vaekit")
class GatedActivation(keras.layers.Layer):
    """Splits the last axis into halves `[value, gate]` and returns `activation(value) * sigmoid(gate)`.

    Put after a layer with twice the wanted channels (`Conv2D(2 * c)` -> `GatedActivation()` gives `c`
    gated channels): one fused convolution computes both halves. With `activation=None` this is the gated
    linear unit (GLU); with `"tanh"`, the gated activation of PixelCNN and WaveNet.

    Args:
        activation: Activation of the value half; `None` for linear.

    Call arguments:
        inputs: Tensor `(batch, ..., 2 * channels)`.

    Returns:
        A tensor `(batch, ..., channels)`.

    Example:
    >>> h = GatedActivation()(keras.ops.ones((4, 7, 7, 64)))  # (4, 7, 7, 32)
    """

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels % 2:
            raise ValueError(
                "Expected an even number of channels on the last axis (value and gate halves). "
                f"Received: input_shape={input_shape}"
            )
        self.built = True

    def call(self, inputs):
        value, gate = ops.split(inputs, 2, axis=-1)
        return self.activation(value) * ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels // 2)

    def get_config(self):
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation)}
