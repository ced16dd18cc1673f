"""The one place that tells JAX, TensorFlow and PyTorch apart.

- `fast_loop`: `fit_fast`, many training steps per compiled call with the data on the device,
  written once over the backends' runners;
- `distribution`: data parallelism (Keras' `DataParallel`, JAX only);
- `jax_backend`, `tensorflow_backend`, `torch_backend`: each backend's training `Runner` and its
  `compile_scorer` for the importance-sampled NLL;
- `keras_compat`: every use of Keras internals, and the backend quirks vaekit works around.
"""

import importlib


def current():
    """The module of the Keras backend in use (`vaekit.backends.jax_backend`, ...)."""
    import keras

    return importlib.import_module(f"vaekit.backends.{keras.backend.backend()}_backend")


def has_convolutions(model):
    """Whether any layer of `model` (nested models included) convolves: a Keras convolution, or a
    layer that says so with a true `convolves` attribute (the local autoregressive likelihood's
    hidden term)."""
    import keras

    from vaekit.backends.keras_compat import all_layers
    from vaekit.models.layers import SubpixelConv2DTranspose

    kinds = (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
        keras.layers.DepthwiseConv1D,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv1D,
        keras.layers.SeparableConv2D,
        SubpixelConv2DTranspose,
    )
    return any(
        isinstance(layer, kinds) or getattr(layer, "convolves", False)
        for layer in all_layers(model)
    )
