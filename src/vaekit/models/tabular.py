"""p(x | z) for a table row: one head per column, scored as one composite likelihood.

The row layout is the table codec's (`vaekit.data.schema.TableSchema`): the values of every
column, then one observed flag per column. The decoder outputs, per column in schema order,

| column type            | parameters                | head                                 |
|------------------------|---------------------------|--------------------------------------|
| numeric, integer       | `[mean, log-scale]`       | Gaussian with learned scale          |
| categorical (K values) | `K` logits                | categorical                          |
| boolean                | `1` logit                 | Bernoulli                            |

`log_prob` sums the observed cells' terms (a missing cell adds no loss), so the ELBO and the
importance-sampled NLL of `vaekit.models.vae` / `vaekit.evaluation` apply unchanged;
`column_log_probs` keeps them apart, for per-column anomaly scores. A schema with a `condition`
column makes a conditional model: the decoder reads that column's values beside z
(`condition`, `place_condition`), and it has no head of its own (its term is 0). Numeric terms are densities of
the standardised values (`is_discrete = False`). Every head is computed for all columns of its type
at once (gathers on fixed index arrays), so a table of hundreds of columns compiles as fast as one
of ten.
"""

import math

import keras
import numpy as np
from keras import ops

from vaekit.data.schema import TableSchema
from vaekit.errors import ConfigError
from vaekit.models.likelihoods import LIKELIHOODS, LOG_SCALE_MAX, Likelihood
from vaekit.models.ops import LOG_2PI

# The smallest standard deviation of a number column's Gaussian, in units of the column's own
# standard deviation (values are standardised).
MIN_SCALE = math.exp(-7)
_NEG = -1e9  # logit of a padding slot: exp(_NEG) is 0 in float32


@keras.saving.register_keras_serializable(package="vaekit")
class Tabular(Likelihood):
    """A composite likelihood over the columns of a table (see the module docstring).

    Args:
        event_ndim: Trailing data axes (1: a row).
        schema: The table codec's config (`TableSchema.get_config()`), kept with the model so a
            loaded model reads and writes rows in the user's own form.

    Example:

    >>> model = build_vae(data.shape, "tabular", codec=data.codec)  # data from load_dataset("x.csv")
    """

    kind = "tabular"
    data_kind = "table"
    codec_option = "schema"

    def __init__(self, event_ndim=1, schema=None, min_scale=MIN_SCALE):
        super().__init__(event_ndim=event_ndim)
        if not (isinstance(min_scale, (int, float)) and 0 < min_scale < 1):
            raise ConfigError(f"Expected min_scale in (0, 1). Received: min_scale={min_scale!r}")
        self.min_scale = float(min_scale)
        self._log_scale_min = math.log(self.min_scale)
        if schema is None:
            raise ConfigError(
                "Expected a table schema for the tabular likelihood: build the model with "
                "build_vae(data.shape, 'tabular', codec=data.codec)."
            )
        codec = TableSchema.from_config(schema)  # checked: it may come from a file
        self.schema = codec.get_config()
        self._layout(codec)

    def _layout(self, schema):
        """Fixed index arrays: where each column's values, flag and parameters sit."""
        numeric, boolean, categorical = [], [], []
        p = 0
        self.condition_name = schema.condition
        self.condition_width, self._condition = 0, np.zeros(0, "int32")
        if schema.condition is not None:
            start, width = schema.condition_slice
            self.condition_width = width
            self._condition = np.arange(start, start + width, dtype="int32")
            if len(schema.columns) < 2:
                raise ConfigError(
                    f"Expected columns to model beside the condition {schema.condition!r}. "
                    "Received: the condition alone"
                )
        for j, (column, start, width) in enumerate(
            zip(schema.columns, schema.offsets, schema.widths, strict=True)
        ):
            flag = schema.width + j
            if column["name"] == schema.condition:  # given to the decoder, not scored
                continue
            if column["type"] == "categorical":
                categorical.append((j, start, width, flag, p))
                p += width
            elif column["type"] == "boolean":
                boolean.append((j, start, flag, p))
                p += 1
            else:
                numeric.append((j, start, flag, p))
                p += 2
        self.param_size, self.size = p, schema.size
        self.column_names = schema.names
        self.value_columns = np.repeat(np.arange(len(schema.columns)), schema.widths)
        self.width = schema.width

        def ints(values):
            return np.asarray(values, dtype="int32").reshape(-1)

        self._num = {
            "value": ints([c[1] for c in numeric]),
            "flag": ints([c[2] for c in numeric]),
            "mean": ints([c[3] for c in numeric]),
            "log_scale": ints([c[3] + 1 for c in numeric]),
        }
        self._bool = {
            "value": ints([c[1] for c in boolean]),
            "flag": ints([c[2] for c in boolean]),
            "logit": ints([c[3] for c in boolean]),
        }
        k_max = max([c[2] for c in categorical], default=1)
        slots = np.arange(k_max)
        valid = np.array([slots < c[2] for c in categorical], bool).reshape(-1, k_max)
        first = np.array([[c[1]] for c in categorical], "int32").reshape(-1, 1)
        first_param = np.array([[c[4]] for c in categorical], "int32").reshape(-1, 1)
        self._cat = {
            "value": np.where(valid, first + slots, first).astype("int32"),  # (n_cat, K_max)
            "param": np.where(valid, first_param + slots, first_param).astype("int32"),
            "pad": np.where(valid, 0.0, _NEG).astype("float32"),
            "valid": valid.astype("float32"),
            "slots": np.flatnonzero(valid.reshape(-1)).astype("int32"),  # valid (column, slot)s
            "flag": ints([c[3] for c in categorical]),
        }
        # Terms come out grouped by type (numeric, boolean, categorical): this puts them back in
        # schema order.
        grouped = [c[0] for c in numeric] + [c[0] for c in boolean] + [c[0] for c in categorical]
        if schema.condition is not None:  # its term, always 0, comes last
            grouped.append(schema.names.index(schema.condition))
        self._order = ints(np.argsort(grouped))

    def bind(self, data_shape):
        if tuple(data_shape) != (self.size,):
            raise ConfigError(
                f"Expected rows of shape ({self.size},) for this table schema. Received: "
                f"data_shape={tuple(data_shape)}"
            )

    def param_shape(self, data_shape):
        self.bind(data_shape)
        return (self.param_size,)

    def column_log_probs(self, x, params):
        """log p(cell | params) per column, 0 for missing cells: `(batch, columns)`."""
        params = ops.convert_to_tensor(params)
        x = ops.cast(ops.convert_to_tensor(x), params.dtype)
        terms = []
        if self._num["value"].size:
            value = ops.take(x, self._num["value"], axis=-1)  # (batch, n_num)
            mean, log_scale = self._gaussians(params)
            sq = ops.square(value - mean) * ops.exp(-2.0 * log_scale)
            flag = ops.take(x, self._num["flag"], axis=-1)
            terms.append(flag * (-0.5 * (sq + LOG_2PI) - log_scale))
        if self._bool["value"].size:
            value = ops.take(x, self._bool["value"], axis=-1)  # (batch, n_bool)
            logit = ops.take(params, self._bool["logit"], axis=-1)
            flag = ops.take(x, self._bool["flag"], axis=-1)
            terms.append(flag * (value * logit - ops.softplus(logit)))
        if self._cat["flag"].size:
            log_p = self._categorical_log_softmax(params)  # (batch, n_cat, K_max)
            valid = ops.convert_to_tensor(self._cat["valid"], params.dtype)
            onehot = ops.take(x, self._cat["value"], axis=-1) * valid
            flag = ops.take(x, self._cat["flag"], axis=-1)
            terms.append(flag * ops.sum(onehot * log_p, axis=-1))
        if self.condition_width:
            terms.append(ops.zeros_like(terms[0][..., :1]))
        return ops.take(ops.concatenate(terms, axis=-1), self._order, axis=-1)

    def _gaussians(self, params):
        """The number columns' means and clipped log-scales, each `(..., n_num)`."""
        mean = ops.take(params, self._num["mean"], axis=-1)
        log_scale = ops.take(params, self._num["log_scale"], axis=-1)
        return mean, ops.clip(log_scale, self._log_scale_min, LOG_SCALE_MAX)

    def _categorical_log_softmax(self, params):
        logits = ops.take(params, self._cat["param"], axis=-1) + ops.convert_to_tensor(
            self._cat["pad"], params.dtype
        )
        return ops.log_softmax(logits, axis=-1)

    def condition(self, x):
        """The condition column's values of rows `x`: `(..., width)`."""
        return ops.take(ops.convert_to_tensor(x), self._condition, axis=-1)

    def place_condition(self, x, condition):
        """Rows `x` with the condition column's values set to `condition`."""
        x = ops.convert_to_tensor(x)
        return _scatter_columns(x, self._condition, ops.cast(condition, x.dtype))

    def log_prob(self, x, params, training=False):
        return ops.sum(self.column_log_probs(x, params), axis=-1)

    def values_scored(self, x):
        """Observed cells per row (the condition's, given rather than scored, left out)."""
        flags = np.asarray(x)[:, self.width :].sum(axis=-1).round().astype("int64")
        return flags - (1 if self.condition_width else 0)

    def _assemble(self, num, boolean, cat):
        """A row-shaped tensor from per-type values (numeric `(b, n_num)`, boolean `(b, n_bool)`,
        categorical `(b, n_cat, K_max)`), every flag 1."""
        first = num if num is not None else boolean if boolean is not None else cat
        lead = tuple(ops.shape(first)[: (-1 if cat is not first else -2)])  # batch axes
        out = ops.zeros((*lead, self.size), dtype=first.dtype)
        if num is not None:
            out = _scatter_columns(out, self._num["value"], num)
        if boolean is not None:
            out = _scatter_columns(out, self._bool["value"], boolean)
        if cat is not None:
            slots = self._cat["slots"]
            flat = ops.reshape(cat, (*lead, -1))  # (..., n_cat * K_max)
            out = _scatter_columns(
                out, self._cat["value"].reshape(-1)[slots], ops.take(flat, slots, axis=-1)
            )
        flags = np.arange(self.width, self.size, dtype="int32")
        return _scatter_columns(out, flags, ops.ones((*lead, len(flags)), dtype=first.dtype))

    def mean(self, params):
        """Rows of expected values: numeric means, category and true probabilities."""
        params = ops.convert_to_tensor(params)
        num = ops.take(params, self._num["mean"], axis=-1) if self._num["value"].size else None
        boolean = (
            ops.sigmoid(ops.take(params, self._bool["logit"], axis=-1))
            if self._bool["value"].size
            else None
        )
        cat = ops.exp(self._categorical_log_softmax(params)) if self._cat["flag"].size else None
        return self._assemble(num, boolean, cat)

    def sample(self, params, seed=None):
        params = ops.convert_to_tensor(params)
        if isinstance(seed, int) or seed is None:
            seed = keras.random.SeedGenerator(seed)
        num = boolean = cat = None
        if self._num["value"].size:
            mean, log_scale = self._gaussians(params)
            num = mean + ops.exp(log_scale) * keras.random.normal(ops.shape(mean), seed=seed)
        if self._bool["value"].size:
            logit = ops.take(params, self._bool["logit"], axis=-1)
            u = keras.random.uniform(ops.shape(logit), seed=seed)
            boolean = ops.cast(u < ops.sigmoid(logit), params.dtype)
        if self._cat["flag"].size:
            log_p = self._categorical_log_softmax(params)  # Gumbel-max: argmax(log p + Gumbel)
            u = keras.random.uniform(ops.shape(log_p), minval=1e-7, maxval=1.0, seed=seed)
            pick = ops.argmax(log_p - ops.log(-ops.log(u)), axis=-1)
            cat = ops.one_hot(pick, self._cat["valid"].shape[1], dtype=params.dtype)
        return self._assemble(num, boolean, cat)

    def impute(self, x, params):
        """`x` with each missing cell replaced by the mean under `params` (a category's
        probabilities, which decode to the most likely one); observed cells are kept. numpy."""
        x = np.asarray(x, dtype="float32")
        filled = ops.convert_to_numpy(self.mean(params))
        observed = x[:, self.width :][:, self.value_columns] > 0.5  # (n, width)
        out = filled.copy()
        out[:, : self.width] = np.where(observed, x[:, : self.width], filled[:, : self.width])
        return out

    def get_config(self):
        return {**super().get_config(), "schema": self.schema, "min_scale": self.min_scale}


def _scatter_columns(out, columns, values):
    """`out` with `out[:, columns] = values` (distinct `columns`), written with a one-hot matmul
    so every backend traces it the same way."""
    placement = np.zeros((len(columns), out.shape[-1]), "float32")
    placement[np.arange(len(columns)), columns] = 1.0
    keep = ops.convert_to_tensor(1.0 - placement.sum(axis=0), out.dtype)
    values = ops.cast(values, out.dtype)
    return out * keep + ops.matmul(values, ops.convert_to_tensor(placement, out.dtype))


LIKELIHOODS.register(Tabular)
