"""The one place that tells JAX, TensorFlow and PyTorch apart.

- `fast_loop`: `fit_fast`, many training steps per compiled call with the data on the device;
- `torch_runner`: the fast loop's PyTorch step, replayed from a trace;
- `keras_compat`: every use of Keras internals, and the backend quirks vaekit works around.
"""
