"""Optimizers by name: Keras' Adam, and Adam on per-tensor normalised gradients.

`get(name, learning_rate)` is what training uses; `OPTIMIZERS` lists the names.
"""

import keras
from keras import ops

from vaekit import config as config_lib
from vaekit.errors import ConfigError

EPSILON = 1e-12  # a zero gradient stays zero instead of dividing by zero


@keras.saving.register_keras_serializable(package="vaekit")
class NormalizedAdam(keras.optimizers.Adam):
    """Adam on each variable's gradient divided by that gradient's L2 norm.

    The optimizer of the VampPrior paper's code ("AdamNormGrad"): every weight tensor moves by
    steps of the same scale whatever its gradient's size. The arguments are Adam's.

    Example:
    >>> model.compile(optimizer=NormalizedAdam(learning_rate=5e-4))
    """

    def update_step(self, gradient, variable, learning_rate):
        gradient = ops.convert_to_tensor(gradient)
        norm = ops.sqrt(ops.sum(ops.square(gradient)))
        super().update_step(gradient / (norm + EPSILON), variable, learning_rate)


# The names are config's (which checks them without importing Keras); the classes, in its order.
OPTIMIZERS = dict(zip(config_lib.OPTIMIZERS, (keras.optimizers.Adam, NormalizedAdam), strict=True))


def get(name, learning_rate):
    """A new optimizer by name (see `OPTIMIZERS`) with this learning rate (or schedule)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"Unknown optimizer {name!r}. Expected one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[name](learning_rate=learning_rate)
