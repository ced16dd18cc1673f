"""Where vaekit works around a backend's quirks: the one place the backend split lives.

`materialized` keeps XLA on JAX from fusing elementwise maths into a reduction; `eager_backend` says
when maths runs op by op (PyTorch), where fused kernels beat XLA-friendly rewrites.

The rest keeps Keras from importing TensorFlow when TensorFlow is not the backend.

Keras probes `tensorflow` lazily in backend-neutral code: `keras.utils.set_random_seed` seeds it whenever
it is installed, and `model.save` checks every serialized object against `tf.TensorShape`. Either probe
imports TensorFlow, about 4 s of start-up on the JAX and PyTorch backends. While TensorFlow is not
imported no object can be a TensorFlow object and nothing needs its seed, so during those calls we tell
Keras' lazy module that TensorFlow is unavailable, and restore it afterwards.
"""

import contextlib
import sys

import keras


@contextlib.contextmanager
def tensorflow_unprobed():
    """Within the block, Keras' lazy `tensorflow` module reports "not available" unless TF is loaded."""
    try:
        from keras.src.utils import module_utils
    except ImportError:  # Keras moved its internals: let it probe (slower, still correct)
        yield
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if lazy is None or "tensorflow" in sys.modules or getattr(lazy, "_available", None) is not None:
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None


def set_seed(seed):
    """`keras.utils.set_random_seed` (Python, NumPy, Keras, torch), seeding TF only if it is loaded."""
    with tensorflow_unprobed():
        keras.utils.set_random_seed(seed)


def materialized(x):
    """`x`, computed in full before whatever consumes it (an optimization barrier on JAX).

    JAX hands XLA one program, and XLA's CPU backend fuses elementwise producers into a reduction
    loop that it does not vectorise. TensorFlow (whose XLA clusters are smaller) and PyTorch (eager)
    get `x` unchanged.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.lax.optimization_barrier(x)
    return x


def eager_backend():
    """True on PyTorch, whose ops run one by one (no XLA to fuse a composite expression)."""
    return keras.backend.backend() == "torch"
