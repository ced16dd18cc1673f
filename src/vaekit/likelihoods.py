"""Observation models p(x | z) as objects: the decoder outputs their parameters.

A likelihood knows how many parameters the decoder must produce per data value (`params_per_value`),
how to score data under them (`log_prob`, summed over the data axes), and how to turn them into
pictures (`mean`) or draws (`sample`). Models never switch on likelihood names; they call these methods.
"""

import keras
from keras import ops

from vaekit.errors import ConfigError
from vaekit.ops import sum_event


class Likelihood:
    """Base class. Subclasses implement `log_prob`, `mean` and `sample` on decoder outputs.

    Args:
        event_ndim: How many trailing axes form one data point (3 for `(H, W, C)` images). The VAE sets
            it from its input shape.
    """

    name = None
    params_per_value = 1

    def __init__(self, event_ndim=3):
        self.event_ndim = int(event_ndim)

    def param_shape(self, data_shape):
        """Shape of the decoder output for one data point of `data_shape`."""
        if self.params_per_value == 1:
            return tuple(data_shape)
        return (*data_shape[:-1], data_shape[-1] * self.params_per_value)

    def log_prob(self, x, params):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def sample(self, params, seed=None):
        raise NotImplementedError

    def get_config(self):
        return {"event_ndim": self.event_ndim}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="vaekit")
class Bernoulli(Likelihood):
    """Independent Bernoulli per value, parameterised by logits (the sigmoid gives the means).

    `-log_prob` is the binary cross-entropy summed over values: the classic recipe's `BCE x 784`.
    Targets may be grey values in [0, 1], as in that recipe.
    """

    name = "bernoulli"

    def log_prob(self, x, params):
        # x * log(sigmoid(l)) + (1 - x) * log(1 - sigmoid(l)) == x * l - softplus(l), stable for any l.
        params = ops.convert_to_tensor(params)
        x = ops.convert_to_tensor(x, dtype=params.dtype)
        return sum_event(x * params - ops.softplus(params), self.event_ndim)

    def mean(self, params):
        return ops.sigmoid(params)

    def sample(self, params, seed=None):
        params = ops.convert_to_tensor(params)
        u = keras.random.uniform(ops.shape(params), seed=seed, dtype=params.dtype)
        return ops.cast(u < ops.sigmoid(params), params.dtype)


LIKELIHOODS = {cls.name: cls for cls in (Bernoulli,)}


def get(identifier, event_ndim=3):
    """A likelihood from a name, a config dict or an instance."""
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(obj, Likelihood):
            raise ConfigError(
                f"Expected a likelihood config. Received one for {type(obj).__name__}."
            )
        return obj
    if identifier not in LIKELIHOODS:
        raise ConfigError(
            f"Unknown likelihood {identifier!r}. Expected one of: {', '.join(sorted(LIKELIHOODS))}."
        )
    return LIKELIHOODS[identifier](event_ndim=event_ndim)
