"""The table codec: a `TableSchema` turns rows of mixed cells into model inputs and back.

A table's raw form (what `vaekit.data.tables` reads) is a numpy structured array with one object
field per column, so rows index, split and concatenate like any array and keep their column names.
Cells are strings (CSV), Python numbers or booleans (Parquet, `.mat`), or `None` when missing.

Column types and what one row becomes (`encode`), in schema order:

| type          | values block                          | likelihood head (`vaekit.models.tabular`) |
|---------------|---------------------------------------|-------------------------------------------|
| `numeric`     | 1 value, `(v - mean) / std`           | Gaussian, learned scale (2 parameters)    |
| `integer`     | 1 value, as numeric; rounded on decode| Gaussian, learned scale (2 parameters)    |
| `categorical` | one-hot over the categories (K)       | categorical (K logits)                    |
| `boolean`     | 1 value, 0 or 1                       | Bernoulli (1 logit)                       |

After the values come one 0/1 flag per column, 1 where the cell was observed: `x` is
`(n, width + columns)`. A missing cell's values are zeros and its flag 0; the encoder sees the
flags, and the likelihood scores observed cells only (a missing cell adds no loss). The config is
plain JSON, kept by the model (safe mode, no pickles), so a loaded model reads and writes rows.
"""

from __future__ import annotations

import numpy as np

from vaekit.data.cells import (
    COLUMN_TYPES,
    DECODERS,
    ENCODERS,
    check_column,
    fit_column,
    infer_type,
    numeric_column,
)
from vaekit.errors import DataError

CONFIG_KEYS = {"columns", "condition"}


class TableSchema:
    """The columns of a table: their types and what it takes to encode and decode them.

    Args:
        columns: one dict per column, in order: `name`, `type` (one of `COLUMN_TYPES`), and per
            type `mean`, `std`, `min`, `max` (numeric, integer; numeric may add `decimals`, the
            digits its values are rounded to on decode), `categories` (categorical: the
            category names), `values` (boolean: the false and true spellings, e.g.
            `["no", "yes"]`); both may hold `counts`, the training rows per value.
        condition: the name of a categorical or boolean column a conditional model is given
            beside z (its decoder reads it; its likelihood does not score it), or None.

    Example:

    >>> schema = TableSchema.fit_numeric(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> schema.encode_array(np.array([[2.0, 20.0]])).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """

    kind = "table"  # the kind of data this codec reads (`Dataset.kind`)

    def __init__(self, columns, condition=None):
        if not isinstance(columns, (list, tuple)) or not columns:
            raise DataError(f"Expected a non-empty list of columns. Received: {columns!r:.80}")
        self.columns = [check_column(c) for c in columns]
        names = [c["name"] for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise DataError(f"Expected unique column names. Received duplicates: {duplicated}")
        self.widths = [
            len(c["categories"]) if c["type"] == "categorical" else 1 for c in self.columns
        ]
        self.offsets = np.cumsum([0, *self.widths])[:-1].tolist()
        self.condition = condition
        if condition is not None:
            if condition not in names:
                raise DataError(
                    f"Expected the condition to name a column ({', '.join(names[:20])}). "
                    f"Received: condition={condition!r}"
                )
            if self.columns[names.index(condition)]["type"] not in ("categorical", "boolean"):
                raise DataError(
                    f"Expected a categorical or boolean condition column. Received: {condition!r}"
                    f" of type {self.columns[names.index(condition)]['type']} (force it with "
                    f"--categorical {condition})"
                )

    # --- the condition of a conditional model -----------------------------------------------

    @property
    def condition_slice(self) -> tuple[int, int]:
        """`(start, width)` of the condition column's values in an encoded row."""
        j = self.names.index(self.condition)
        return self.offsets[j], self.widths[j]

    def condition_counts(self) -> np.ndarray:
        """Training rows per condition value (ones where the schema has no counts)."""
        column = self.columns[self.names.index(self.condition)]
        return np.asarray(column.get("counts") or [1] * len(self.condition_values()), "float64")

    def condition_values(self) -> list[str]:
        """The values the condition column takes (category names, or false and true)."""
        column = self.columns[self.names.index(self.condition)]
        return list(column.get("categories") or column["values"])

    def encode_condition(self, cells) -> np.ndarray:
        """float32 `(n, width)` condition values of raw `cells` (e.g. `["Gentoo"]`)."""
        column = self.columns[self.names.index(self.condition)]
        known = self.condition_values()
        if column["type"] == "categorical":
            unknown = [c for c in cells if str(c).strip() not in known]
            if unknown:
                raise DataError(
                    f"Expected a value of the condition {self.condition!r} "
                    f"({', '.join(known[:10])}{', ...' if len(known) > 10 else ''}). "
                    f"Received: {str(unknown[0])!r:.40}"
                )
        values, observed = ENCODERS[column["type"]](column, np.asarray(cells, dtype=object))
        if not np.all(observed):
            raise DataError(
                f"Expected a value of the condition {self.condition!r} "
                f"({', '.join(self.condition_values()[:10])}). Received: a missing one"
            )
        return values.astype("float32")

    # --- layout -------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return [c["name"] for c in self.columns]

    @property
    def width(self) -> int:
        """Values per row before the observed flags."""
        return int(sum(self.widths))

    @property
    def size(self) -> int:
        """Length of an encoded row: values, then one observed flag per column."""
        return self.width + len(self.columns)

    # --- fitting ------------------------------------------------------------------------------

    @classmethod
    def fit(cls, train, table=None, *, types=None):
        """A schema for the structured array `train`: scales from `train`, types and categories
        from `table` (default `train`), so a category seen only in held-out rows still has a code.

        Args:
            train: the training rows (structured array, one object field per column).
            table: every row (e.g. all splits), for column types and categories.
            types: `{name: type}` forcing types (e.g. `"categorical"` for integer codes); other
                columns' types are inferred (`infer_type`).
        """
        table = train if table is None else table
        types = dict(types or {})
        columns = []
        for name in train.dtype.names:
            kind = types.get(name) or infer_type(table[name], name)
            columns.append(fit_column(name, kind, train[name], table[name]))
        return cls(columns)

    @classmethod
    def fit_numeric(cls, x, names=None):
        """A schema of numeric columns for a float array `(n, d)`; NaN cells are missing."""
        x = np.asarray(x, dtype="float64")
        if x.ndim != 2 or not x.size:
            raise DataError(f"Expected a non-empty (n, d) array. Received: shape={x.shape}")
        names = list(names) if names is not None else [f"x{j}" for j in range(x.shape[1])]
        columns = []
        for j, name in enumerate(names):
            v = x[:, j][np.isfinite(x[:, j])]
            if not v.size:
                raise DataError(f"Column {name!r} has no values: expected at least one.")
            std = float(v.std())
            columns.append(numeric_column(name, "numeric", float(v.mean()), std, v.min(), v.max()))
        return cls(columns)

    # --- encoding -----------------------------------------------------------------------------

    def encode(self, table) -> np.ndarray:
        """float32 `(n, size)` model inputs of the structured array `table` (extra columns are
        ignored; a missing one is an error)."""
        missing = [n for n in self.names if n not in (table.dtype.names or ())]
        if missing:
            raise DataError(
                f"The table has no column {missing[0]!r}: expected the columns the model was "
                f"trained on ({', '.join(self.names)})."
            )
        out = np.zeros((len(table), self.size), np.float32)
        for j, (column, start) in enumerate(zip(self.columns, self.offsets, strict=True)):
            values, observed = ENCODERS[column["type"]](column, table[column["name"]])
            if column["name"] == self.condition and not np.all(observed):
                row = int(np.argmin(observed))
                raise DataError(
                    f"Column {self.condition!r}, the condition, has a missing cell in row {row}: "
                    "expected a value in every row."
                )
            out[:, start : start + values.shape[1]] = values
            out[:, self.width + j] = observed
        return out

    def encode_examples(self, table) -> np.ndarray:
        """`encode` (the name every codec gives reading raw examples)."""
        return self.encode(table)

    def encode_array(self, x) -> np.ndarray:
        """`encode` for a float array `(n, d)` whose columns are the schema's, in order."""
        x = np.asarray(x, dtype="float64")
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise DataError(
                f"Expected an array of shape (n, {len(self.columns)}). Received: shape={x.shape}"
            )
        return self.encode(as_table(x, self.names))

    def decode(self, x, observed=True) -> dict:
        """Rows of encoded `x` `(n, size)` in the user's form: `{name: list}`, numbers clipped to
        the training range, integers rounded, categories and booleans by name. With `observed`,
        cells whose flag is 0 come back as `None`."""
        x = np.asarray(x, dtype="float64")
        if x.ndim != 2 or x.shape[1] != self.size:
            raise DataError(f"Expected rows of shape (n, {self.size}). Received: shape={x.shape}")
        out = {}
        for j, (column, start, width) in enumerate(
            zip(self.columns, self.offsets, self.widths, strict=True)
        ):
            values = DECODERS[column["type"]](column, x[:, start : start + width])
            if observed:
                values = [
                    v if flag > 0.5 else None
                    for v, flag in zip(values, x[:, self.width + j], strict=True)
                ]
            out[column["name"]] = values
        return out

    # --- config -------------------------------------------------------------------------------

    def get_config(self) -> dict:
        """Plain JSON: `{"columns": [...]}`, and `"condition"` for a conditional model."""
        config = {"columns": [dict(c) for c in self.columns]}
        if self.condition is not None:
            config["condition"] = self.condition
        return config

    @classmethod
    def from_config(cls, config) -> TableSchema:
        if not isinstance(config, dict) or "columns" not in config or set(config) - CONFIG_KEYS:
            got = sorted(config) if isinstance(config, dict) else type(config).__name__
            raise DataError(
                f"Expected a table schema config with keys 'columns' and optionally 'condition'. "
                f"Received: {got}"
            )
        return cls(config["columns"], condition=config.get("condition"))

    def with_condition(self, condition) -> TableSchema:
        """The same schema, conditioned on the column `condition` (or unconditioned: None)."""
        return TableSchema(self.columns, condition=condition)

    def __eq__(self, other) -> bool:
        return isinstance(other, TableSchema) and self.get_config() == other.get_config()

    __hash__ = None

    def __repr__(self) -> str:
        kinds = ", ".join(f"{c['name']}:{c['type']}" for c in self.columns[:6])
        more = ", ..." if len(self.columns) > 6 else ""
        return f"TableSchema({kinds}{more})"

    def describe(self) -> str:
        """One line for people: the columns and their types."""
        columns = ", ".join(f"{c['name']} ({c['type']})" for c in self.columns[:12])
        more = f", ... ({len(self.columns)} in all)" if len(self.columns) > 12 else ""
        return f"table schema: {columns}{more}"

    def summary(self) -> str:
        """`"3 numeric, 1 categorical"`: column counts by type."""
        counts = {t: sum(c["type"] == t for c in self.columns) for t in COLUMN_TYPES}
        return ", ".join(f"{n} {t}" for t, n in counts.items() if n)


def as_table(x, names) -> np.ndarray:
    """A structured array with one object field per name, from a 2-D array or a list of rows."""
    x = np.asarray(x, dtype=object)
    table = np.empty(len(x), dtype=[(name, object) for name in names])
    for j, name in enumerate(names):
        table[name] = x[:, j] if len(x) else []
    return table
