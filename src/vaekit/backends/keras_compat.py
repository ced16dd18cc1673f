"""Where vaekit works around a backend's quirks: the one place the backend split lives.

`materialized` keeps XLA on JAX from fusing elementwise maths into a reduction; `eager_backend` says
when maths runs op by op (PyTorch), where fused kernels beat XLA-friendly rewrites; `seeded_normal` is
`keras.random.normal` from a `SeedGenerator` without Keras' per-draw Python on eager PyTorch.

The rest keeps Keras from importing TensorFlow when TensorFlow is not the backend.

Keras probes `tensorflow` lazily in backend-neutral code: `keras.utils.set_random_seed` seeds it whenever
it is installed, and `model.save` checks every serialized object against `tf.TensorShape`. Either probe
imports TensorFlow, about 4 s of start-up on the JAX and PyTorch backends. While TensorFlow is not
imported no object can be a TensorFlow object and nothing needs its seed, so during those calls we tell
Keras' lazy module that TensorFlow is unavailable, and restore it afterwards.
"""

import contextlib
import sys
import threading

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


def make_seed_generator(seed):
    """`keras.random.SeedGenerator(seed)` for any seed in [0, 2**32), on every backend.

    PyTorch's seed state is int32, which cannot hold seeds from 2**31 (Keras raises an overflow
    error). There such a seed is stored as its signed 32-bit pattern, which draws the same numbers
    an unsigned state would: Keras seeds a PyTorch draw with the state's sum modulo 2**32.
    """
    if seed is not None:
        from keras.src.backend import random_seed_dtype

        if random_seed_dtype() == "int32" and 2**31 <= seed < 2**32:
            seed -= 2**32
    return keras.random.SeedGenerator(seed)


def seeded_normal(shape, seed_generator, dtype="float32"):
    """`keras.random.normal(shape, seed=seed_generator, dtype=dtype)`: the same values, the same
    advance of the generator's state.

    On eager PyTorch, Keras spends about 250 us of Python a draw (a new `torch.Generator`, tensor
    conversions, a variable assignment), 5% of a small training step. There the draw is made
    directly, as Keras makes it: a generator seeded with the sum of the two state words (modulo
    2**32), then the state's counter word advanced by one. A test holds it equal to Keras' draw.
    Inside a stateless scope, a trace or `torch.compile`, off the CPU, and on other backends,
    Keras draws.
    """
    if not eager_backend():
        return keras.random.normal(shape, seed=seed_generator, dtype=dtype)
    import torch
    from keras.src.backend.common.stateless_scope import in_stateless_scope
    from keras.src.backend.torch.core import get_device, to_torch_dtype

    state = seed_generator.state.value
    if (
        in_stateless_scope()
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or state.device.type != "cpu"
        or str(get_device()) != "cpu"
    ):
        return keras.random.normal(shape, seed=seed_generator, dtype=dtype)
    first, second = state.tolist()
    generator, counter = _torch_draw_state(state.dtype)
    generator.manual_seed((first + second) & 0xFFFFFFFF)
    values = torch.normal(
        0.0,
        1.0,
        size=tuple(shape),
        generator=generator,
        dtype=to_torch_dtype(dtype),
        device=get_device(),
    )
    state.add_(counter)  # as Keras' `next()`: the state plus [0, 1]
    return values


_torch_draw = threading.local()  # per thread: two threads drawing at once must not share one


def _torch_draw_state(seed_dtype):
    """A CPU `torch.Generator`, re-seeded for every draw as Keras seeds a new one, and the state's
    increment [0, 1]: made once per thread, not every draw."""
    made = getattr(_torch_draw, "made", None)
    if made is None:
        made = _torch_draw.made = {}
    if seed_dtype not in made:
        import torch

        made[seed_dtype] = (
            torch.Generator(device="cpu"),
            torch.tensor([0, 1], dtype=seed_dtype),
        )
    return made[seed_dtype]


def all_layers(model):
    """Every layer inside `model`, nested models' included (Keras' `_flatten_layers`)."""
    return model._flatten_layers(include_self=False)


def prepare_onnx_export():
    """Make Keras' ONNX export work for vaekit's networks on the current backend.

    On PyTorch, Keras exports a dynamic batch through PyTorch's TorchScript exporter, which has no
    rule for `aten::ravel`; Keras' `ops.take` ravels its indices (the transposed convolution
    gathers its kernel with it). The rule added here is the obvious one, a reshape to one axis,
    registered once. (PyTorch's newer exporter, `dynamo=True`, fails on the same `take`: it turns
    a no-op `squeeze` into an ONNX Squeeze that onnxruntime refuses.) Other backends need nothing.
    """
    if keras.backend.backend() != "torch" or _onnx_rules_added:
        return
    import torch

    def ravel(graph, x):
        shape = graph.op("Constant", value_t=torch.tensor([-1], dtype=torch.int64))
        return graph.op("Reshape", x, shape)

    torch.onnx.register_custom_op_symbolic("aten::ravel", ravel, 9)
    _onnx_rules_added.append("aten::ravel")


_onnx_rules_added = []  # the TorchScript exporter's rules `prepare_onnx_export` registered
