"""Tables and embeddings written to files a spreadsheet or a data frame opens: CSV, Parquet, `.npy`.

A table is a dict of equally long columns (`{name: values}`); the suffix of the path chooses the
format. CSV is written with the standard library (UTF-8, a header row, RFC 4180's quoting); Parquet
needs pyarrow, an optional extra (`pip install 'vaekit[tables]'`).

CSV cells are safe to open in a spreadsheet: a text cell (the header included) that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return, which a spreadsheet could run as a formula, gets a
leading `'` (OWASP's advice against CSV injection). Numbers are written as numbers, so `-1.5` stays
`-1.5`: floats with the shortest digits that read back to the same value (float32 values with
float32's), integers as integers, None and NaN as empty cells.

Every file is written atomically (`vaekit.atomic`): a failed write leaves no partial file.
"""

import csv
import importlib.util
import math
import numbers
from pathlib import Path

import numpy as np

from vaekit import atomic
from vaekit.errors import DataError

TABLE_SUFFIXES = (".csv", ".parquet")
EMBEDDING_SUFFIXES = (".npy", *TABLE_SUFFIXES)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as a formula
PARQUET_HINT = "Writing .parquet needs pyarrow: pip install 'vaekit[tables]'."


def check_table_path(path, embeddings=False):
    """The format a table (or, with `embeddings=True`, embeddings) would be written in at `path`,
    from its suffix: `"csv"`, `"parquet"` or (embeddings only) `"npy"`.

    Checking the path before computing what goes into it lets a command refuse a bad `--out` at
    once, with nothing written.

    Raises:
        DataError: another suffix, or `.parquet` without pyarrow installed.
    """
    suffixes = EMBEDDING_SUFFIXES if embeddings else TABLE_SUFFIXES
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        raise DataError(
            f"Cannot write {'embeddings' if embeddings else 'a table'} to {path}: expected a "
            f"{', '.join(suffixes[:-1])} or {suffixes[-1]} file. Received: suffix "
            f"{suffix or '(none)'!r}"
        )
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise DataError(PARQUET_HINT)
    return suffix[1:]


def write_table(columns, path):
    """Write `columns` (`{name: values}`, equally long sequences or 1-d numpy arrays) to `path`,
    a `.csv` or `.parquet` file, atomically. Returns the path.

    Args:
        columns: the table, column by column, in order; values are Python or numpy scalars,
            strings or None.
        path: the file; its suffix chooses the format.

    Raises:
        DataError: another suffix, `.parquet` without pyarrow, no columns, columns of different
            lengths or with more than one axis.

    Example:
    >>> write_table({"row": [0, 1], "score": np.array([80.5, -1.5])}, "scores.csv")
    """
    path = Path(path)
    fmt = check_table_path(path)
    columns = _checked_columns(columns)
    if fmt == "parquet":
        _write_parquet(columns, path)
    else:
        _write_csv(columns, path)
    return path


def write_embeddings(mean, log_var, path):
    """Write posterior means and log-variances `(n, latent_dim)` of `n` examples, atomically.

    The suffix chooses the layout: `.npy`, one float32 array `(n, 2 * latent_dim)` holding the
    means in its first `latent_dim` columns and the log-variances in the rest; `.csv` or
    `.parquet`, a table with columns `mean_0 .. mean_{d-1}`, then `log_var_0 .. log_var_{d-1}`.
    Rows are the examples, in order. Returns the path.

    Raises:
        DataError: another suffix, `.parquet` without pyarrow, or arrays of different shapes.
    """
    path = Path(path)
    fmt = check_table_path(path, embeddings=True)
    mean, log_var = np.asarray(mean), np.asarray(log_var)
    if mean.ndim != 2 or mean.shape != log_var.shape:
        raise DataError(
            f"Expected means and log-variances of the same shape (n, latent_dim). Received: "
            f"mean {mean.shape}, log_var {log_var.shape}"
        )
    if fmt == "npy":
        values = np.concatenate([mean, log_var], axis=1).astype("float32")  # (n, 2 * latent)
        with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, values, allow_pickle=False)
        return path
    dims = range(mean.shape[1])
    table = {f"mean_{i}": mean[:, i] for i in dims}
    table.update({f"log_var_{i}": log_var[:, i] for i in dims})
    return write_table(table, path)


def safe_text(text):
    """`text` as a spreadsheet shows it, not runs it: a leading `'` if it starts like a formula."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value):
    """One CSV cell: a number as a number, None and NaN empty, anything else as safe text."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        # float32 (float16): numpy prints the shortest digits that read back as the same float32.
        return "" if np.isnan(value) else str(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return "" if math.isnan(value) else repr(value)
    return safe_text(value)


def _checked_columns(columns):
    """`{name: sequence}` with equally long one-axis columns, names as strings."""
    if not columns:
        raise DataError("Expected at least one column to write. Received: no columns")
    checked, lengths = {}, {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.ndim != 1:
            raise DataError(
                f"Expected one value per row in column {name!r}. Received: an array of shape "
                f"{values.shape}"
            )
        checked[str(name)] = values
        lengths[str(name)] = len(values)
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise DataError(f"Expected columns of equal length. Received: {found}")
    return checked


def _write_csv(columns, path):
    names = list(columns)
    cells = [[csv_cell(v) for v in columns[name]] for name in names]
    with atomic.atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)  # RFC 4180's \r\n: a cell holding \r or \n is then quoted
        writer.writerow([safe_text(name) for name in names])
        writer.writerows(zip(*cells, strict=True))


def _write_parquet(columns, path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(PARQUET_HINT) from None
    arrays = {}
    for name, values in columns.items():
        if not isinstance(values, np.ndarray):
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"Cannot write column {name!r} to Parquet: expected values of one type. "
                f"Received: {exc}"
            ) from None
    with atomic.atomic_path(path) as tmp:
        pq.write_table(pa.table(arrays), tmp)
