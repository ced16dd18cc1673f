"""Cells of a table: which are missing, what type a column is, and each type's encoding.

The rules `vaekit.data.schema.TableSchema` applies per column. A cell is a string (CSV), a Python
number or boolean (Parquet, `.mat`), or None. Missing: None, NaN, or a string spelling a missing
value (`MISSING`, any case). Per type, an encoder maps cells to `(values (n, width), observed (n,))`
and a decoder maps values back to cells in the table's own form.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from vaekit.errors import DataError

COLUMN_TYPES = ("numeric", "integer", "categorical", "boolean")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # lower-cased missing markers
TRUE, FALSE = frozenset({"true", "yes", "t", "y"}), frozenset({"false", "no", "f", "n"})
MAX_CATEGORIES = 1000  # more distinct values in a column: an identifier, not a category


# --- types --------------------------------------------------------------------------------------


def is_missing(cell) -> bool:
    """None, NaN, or a string spelling a missing value (`MISSING`, any case)."""
    if cell is None:
        return True
    if isinstance(cell, str):
        return cell.strip().lower() in MISSING
    return isinstance(cell, float) and math.isnan(cell)


def infer_type(cells, name) -> str:
    """The type of a column from its cells (see `COLUMN_TYPES`).

    Booleans: Python booleans, or only true/false (yes/no) spellings. Integers: only whole
    numbers, exactly 0 and 1 then reading as booleans. Numeric: every cell a number. Anything else
    is categorical. A column with no values or a single value is refused: it carries nothing.
    """
    present = [c for c in cells if not is_missing(c)]
    if not present:
        raise DataError(
            f"Column {name!r} has no values (every cell is missing): expected some; drop it with "
            f"--ignore {name}."
        )
    distinct = {_text(c) for c in present}
    if len(distinct) == 1:
        raise DataError(
            f"Column {name!r} holds one value ({next(iter(distinct))!r:.40}) in every row: "
            f"expected at least two; drop it with --ignore {name}."
        )
    if (
        all(isinstance(c, (bool, np.bool_)) for c in present)
        or distinct <= TRUE | FALSE
        and (len({d in TRUE for d in (s.lower() for s in distinct)}) == 2)
    ):
        return "boolean"
    numbers_ = [_number(c) for c in present]
    if all(v is not None for v in numbers_):
        if all(float(v).is_integer() for v in numbers_) and not any(
            isinstance(c, float) or (isinstance(c, str) and "." in c) for c in present
        ):
            return "boolean" if {int(v) for v in numbers_} == {0, 1} else "integer"
        return "numeric"
    return "categorical"


def _text(cell) -> str:
    return cell.strip() if isinstance(cell, str) else str(cell)


def _number(cell):
    """A finite float of a cell, or None."""
    if isinstance(cell, (bool, np.bool_)):
        return None
    if isinstance(cell, numbers.Real):
        value = float(cell)
    else:
        try:
            value = float(cell)
        except (TypeError, ValueError):
            return None
    return value if math.isfinite(value) else None


def fit_column(name, kind, train, table):
    if kind not in COLUMN_TYPES:
        raise DataError(f"Expected a column type in {COLUMN_TYPES}. Received: {name}={kind!r}")
    if kind == "categorical":
        categories = sorted({_text(c) for c in table if not is_missing(c)})
        if len(categories) > MAX_CATEGORIES:
            raise DataError(
                f"Column {name!r} has {len(categories)} distinct values: expected at most "
                f"{MAX_CATEGORIES} categories; drop an identifier column with --ignore {name}."
            )
        return _with_counts({"name": name, "type": kind, "categories": categories}, train)
    if kind == "boolean":
        spellings = {_text(c) for c in table if not is_missing(c)}
        false = sorted(s for s in spellings if s.lower() in FALSE or s in ("0", "False"))
        true = sorted(s for s in spellings if s.lower() in TRUE or s in ("1", "True"))
        column = {
            "name": name,
            "type": kind,
            "values": [(false or ["false"])[0], (true or ["true"])[0]],
        }
        return _with_counts(column, train)
    values = np.array([_parse_number(c, name, i) for i, c in enumerate(train)], dtype="float64")
    values = values[np.isfinite(values)]
    if not values.size:
        raise DataError(f"Column {name!r} has no values in the training rows: expected some.")
    column = numeric_column(name, kind, values.mean(), values.std(), values.min(), values.max())
    if kind == "numeric":
        column["decimals"] = _decimals(table)
    return column


def _with_counts(column, train):
    """`column` with `counts`: its training rows per category (or false, true)."""
    values, observed = ENCODERS[column["type"]](column, train)
    values = values[observed]
    if column["type"] == "boolean":
        counts = [len(values) - values.sum(), values.sum()]
    else:
        counts = values.sum(axis=0)
    return {**column, "counts": [int(c) for c in counts]}


def _decimals(cells):
    """Digits after the decimal point the file writes (at most 12), or None when unknown (cells
    that are not text, or written with an exponent)."""
    digits = 0
    for cell in cells:
        if not isinstance(cell, str) or is_missing(cell):
            if not (cell is None or isinstance(cell, str)):
                return None
            continue
        text = cell.strip().lower()
        if "e" in text:
            return None
        digits = max(digits, len(text.partition(".")[2]))
    return min(digits, 12)


def numeric_column(name, kind, mean, std, low, high):
    std = float(std) if std > 0 else 1.0  # a column constant on the training rows is only centred
    return {
        "name": name,
        "type": kind,
        "mean": float(mean),
        "std": std,
        "min": float(low),
        "max": float(high),
    }


def check_column(column):
    if not isinstance(column, dict) or not isinstance(column.get("name"), str):
        raise DataError(f"Expected a column dict with a string 'name'. Received: {column!r:.80}")
    kind = column.get("type")
    need = {
        "numeric": ("mean", "std", "min", "max"),
        "integer": ("mean", "std", "min", "max"),
        "categorical": ("categories",),
        "boolean": ("values",),
    }.get(kind)
    if need is None:
        raise DataError(
            f"Expected a column type in {COLUMN_TYPES}. Received: {column['name']}={kind!r}"
        )
    absent = [k for k in need if k not in column]
    if absent:
        raise DataError(f"Column {column['name']!r} ({kind}) lacks {', '.join(absent)}.")
    if kind == "categorical" and len(column["categories"]) < 1:
        raise DataError(f"Column {column['name']!r} has no categories: expected at least one.")
    return dict(column)


# --- per-type encoders and decoders -------------------------------------------------------------


def _parse_number(cell, name, row):
    """float of a cell, NaN when missing; text that is no number is an error."""
    if is_missing(cell):
        return math.nan
    value = _number(cell)
    if value is None:
        raise DataError(
            f"Column {name!r} row {row} holds {cell!r:.40}: expected a number (or an empty cell)."
        )
    return value


def _encode_number(column, cells):
    values = _as_floats(cells, column["name"])
    observed = np.isfinite(values)
    scaled = np.where(observed, (values - column["mean"]) / column["std"], 0.0)
    return scaled[:, None], observed


def _as_floats(cells, name):
    try:  # fast path: numbers, or numeric strings only
        values = np.asarray(cells, dtype=object).astype("float64")
        if np.isfinite(values).all():
            return values
    except (TypeError, ValueError):
        pass
    return np.array([_parse_number(c, name, i) for i, c in enumerate(cells)], dtype="float64")


def _encode_categorical(column, cells):
    index = {c: k for k, c in enumerate(column["categories"])}
    out = np.zeros((len(cells), len(index)), np.float32)
    observed = np.zeros(len(cells), bool)
    for i, cell in enumerate(cells):
        if is_missing(cell):
            continue
        k = index.get(_text(cell))
        if k is None:
            raise DataError(
                f"Column {column['name']!r} row {i} holds {_text(cell)!r:.40}, a category the "
                f"model never saw: expected one of {', '.join(column['categories'][:10])}"
                + (", ..." if len(index) > 10 else "")
                + "."
            )
        out[i, k], observed[i] = 1.0, True
    return out, observed


def _encode_boolean(column, cells):
    false, true = (s.lower() for s in column["values"])
    out = np.zeros((len(cells), 1), np.float32)
    observed = np.zeros(len(cells), bool)
    for i, cell in enumerate(cells):
        if is_missing(cell):
            continue
        text = _text(cell).lower()
        if text in TRUE or text in ("1", "1.0", true):
            out[i, 0] = 1.0
        elif not (text in FALSE or text in ("0", "0.0", false)):
            raise DataError(
                f"Column {column['name']!r} row {i} holds {_text(cell)!r:.40}: expected "
                f"{column['values'][0]!r} or {column['values'][1]!r} (a boolean column)."
            )
        observed[i] = True
    return out, observed


def _decode_number(column, values):
    v = np.clip(values[:, 0] * column["std"] + column["mean"], column["min"], column["max"])
    if column["type"] == "integer":
        return [int(round(a)) for a in v]
    decimals = column.get("decimals")
    if decimals is not None:  # as precise as the data: 44.9, not 44.92322507017046
        v = np.round(v, decimals)
    return [float(a) for a in v]


def _decode_categorical(column, values):
    return [column["categories"][k] for k in np.argmax(values, axis=1)]


def _decode_boolean(column, values):
    return [column["values"][int(v > 0.5)] for v in values[:, 0]]


ENCODERS = {
    "numeric": _encode_number,
    "integer": _encode_number,
    "categorical": _encode_categorical,
    "boolean": _encode_boolean,
}
DECODERS = {
    "numeric": _decode_number,
    "integer": _decode_number,
    "categorical": _decode_categorical,
    "boolean": _decode_boolean,
}
