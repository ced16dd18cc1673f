"""Data parallelism: Keras' `DataParallel` distribution over the local devices (JAX only).

Under `train.distribute = "data_parallel"` the model's variables (and the optimizer's) are created
replicated on every device, and each training batch is split over the devices along its first
axis; the gradients are summed across them, so a step computes the same update as on one device.
Only the training steps run distributed: evaluation, sampling and saving run on the replicated
variables without a distribution, as a batch of any size may then be scored.

Multi-host: `keras.distribution.initialize()` is called (once) when any of `INITIALIZE_ENV` is set.
"""

import contextlib
import os

import keras

from vaekit.errors import ConfigError

# keras.distribution.initialize's environment: the coordinator's address (job 0's "IP:PORT"; for
# JAX only it is needed), the number of processes, and this process's id (0 is the coordinator).
INITIALIZE_ENV = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
_initialized = False


def check_backend(distribute, backend):
    """A distribution other than "none" needs JAX: ConfigError naming `backend` otherwise."""
    if distribute != "none" and backend != "jax":
        raise ConfigError(
            f"Expected the JAX backend for train.distribute = {distribute!r} (Keras implements "
            f"distribution on JAX only). Received: backend={backend!r}"
        )


def check_batch_size(batch_size, devices):
    """The global batch must split evenly over the devices: ConfigError otherwise."""
    if batch_size % devices:
        raise ConfigError(
            f"Expected train.batch_size divisible by the {devices} devices of data_parallel "
            f"(the global batch is split evenly over them). Received: batch_size={batch_size}"
        )


def data_parallel(train_config):
    """The run's distribution: a `keras.distribution.DataParallel` over `list_devices()`, or None
    when `train_config.distribute` is "none". Checks the backend and the batch size first."""
    global _initialized
    if train_config.distribute == "none":
        return None
    check_backend(train_config.distribute, keras.backend.backend())
    if not _initialized and any(os.environ.get(name) for name in INITIALIZE_ENV):
        keras.distribution.initialize()  # multi-host: must precede any computation
        _initialized = True
    devices = keras.distribution.list_devices()
    check_batch_size(train_config.batch_size, len(devices))
    return keras.distribution.DataParallel(devices=devices)


def scope(distribution):
    """`distribution`'s scope (the previous distribution comes back after it), or a null context."""
    return distribution.scope() if distribution is not None else contextlib.nullcontext()
