"""Tables as a kind of data: CSV, Parquet and ODDS `.mat` files, read into a `TableSchema`.

A table file is one pool of rows, carved into train / val / test like any other source
(`vaekit.data.dataset.split_source`). Rows stay raw (a structured array, one object field per
column, `vaekit.data.schema`) until the split is made; then the `TableSchema` is fitted (scales on
the training rows; column types and categories on every row, so a category that only a held-out
row has still has a code) and every split is encoded with it. The schema is the `Dataset.codec`.

Sources:
    - `FILE.csv` (or `.tsv`): UTF-8 (a byte-order mark is allowed), a header row of unique column
      names, then one row per example with as many fields as the header. Empty cells and
      `NA`, `N/A`, `NaN`, `null`, `None`, `?` (any case) are missing: modelled, not dropped.
    - `FILE.parquet`: read with pyarrow (`pip install 'vaekit[tables]'`); nulls are missing.
    - `FILE.mat`: an ODDS anomaly-detection set (MATLAB, `X` n x d and `y` n x 1 with 1 = outlier),
      read with scipy. Columns are numeric `x0`, `x1`, ...; the labels are `y`. Constant columns
      carry nothing and are dropped (`info["dropped"]`).

Options (`load_dataset`): `categorical` forces columns to be categories (integer codes), `ignore`
leaves columns out, `label` names the column that holds labels (kept out of the model's input;
categories become class ids with `info["label_names"]`, numbers a float factor), `condition` names
the categorical or boolean column a conditional model is given (the schema's `condition`).
"""

from __future__ import annotations

import csv
import os

import numpy as np

from vaekit.data.cells import infer_type, is_missing
from vaekit.data.dataset import SPLIT_NAMES, Dataset, Source, split_source
from vaekit.data.schema import TableSchema, as_table
from vaekit.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".mat")
MAX_CELL_BYTES = 1 << 20  # 1 MB: a longer cell is refused rather than read


# --- reading ------------------------------------------------------------------------------------


def read_table_file(path: str) -> tuple[list[str], list[list]]:
    """`(names, columns)`: the header and one list of raw cells per column (None = missing)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".mat":
        x, _ = _read_mat(path)
        return [f"x{j}" for j in range(x.shape[1])], [list(col) for col in x.T]
    return _read_csv(path, "\t" if suffix == ".tsv" else ",")


def _read_csv(path, delimiter):
    """Streamed: a file is never held whole, and a huge cell stops the reading at 1 MB."""
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL_BYTES)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header, rows = _csv_rows(path, reader)
    except OSError as error:
        raise DataError(f"Could not read {path}: {error.strerror or error}.") from None
    except UnicodeDecodeError as error:  # decoded in chunks: the line is not known exactly
        raise DataError(
            f"{path} is not UTF-8 text (it holds the byte {error.object[error.start]:#04x}): "
            "expected a UTF-8 CSV file; re-save it as UTF-8."
        ) from None
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise DataError(f"{path} is empty: expected a header row of column names, then rows.")
    names = [name.strip() for name in header]
    _check_header(path, names)
    if not rows:
        raise DataError(f"{path} has a header but no rows: expected at least one row of data.")
    columns = [[row[j] for row in rows] for j in range(len(names))]
    return names, columns


def _csv_rows(path, reader):
    """`(header, rows)` of a csv reader, every row as long as the header."""
    try:
        header = next(reader, None)
        rows = []
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path} line {reader.line_num} has {len(row)} fields: expected "
                    f"{len(header)}, like the header."
                )
            rows.append(row)
    except csv.Error as error:
        line = reader.line_num
        if "field larger than field limit" in str(error):
            raise DataError(
                f"{path} line {line} has a cell over {MAX_CELL_BYTES} bytes: expected cells of "
                "at most 1 MB."
            ) from None
        raise DataError(f"{path} line {line} is not valid CSV: {error}.") from None
    return header, rows


def _check_header(path, names):
    if any(not name for name in names):
        position = names.index("") + 1
        raise DataError(f"{path} has an empty column name (column {position}): expected names.")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(
            f"{path} has duplicate column names ({', '.join(duplicated)}): expected unique names."
        )
    if all(_is_number(name) for name in names):
        raise DataError(
            f"The first row of {path} holds only numbers ({', '.join(names[:3])}, ...): expected a "
            "header row of column names."
        )


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"Reading {path} needs pyarrow: pip install 'vaekit[tables]'.") from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"Could not read {path} as Parquet: {error}.") from None
    names = [str(n) for n in table.column_names]
    _check_header(path, names)
    if not table.num_rows:
        raise DataError(f"{path} has no rows: expected at least one row of data.")
    return names, [table.column(j).to_pylist() for j in range(len(names))]


def _read_mat(path):
    """`(X, y)` of an ODDS `.mat` file: float64 `(n, d)` and int64 `(n,)`."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError(f"Reading {path} needs scipy: pip install 'vaekit[tables]'.") from None
    try:
        content = loadmat(path)
    except (OSError, ValueError, TypeError) as error:
        raise DataError(f"Could not read {path} as a MATLAB file: {error}.") from None
    if "X" not in content or "y" not in content:
        raise DataError(f"{path} has no 'X' and 'y' arrays: expected an ODDS .mat file.")
    x = np.asarray(content["X"], dtype="float64")
    y = np.asarray(content["y"]).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or not len(x):
        raise DataError(
            f"{path} has X of shape {x.shape} and y of {len(y)} values: expected X (n, d) and "
            "one label per row."
        )
    return x, y.astype("int64")


# --- sources ------------------------------------------------------------------------------------


def load_table_file(path, *, categorical=(), ignore=(), label=None, condition=None, **_) -> Source:
    """A table file as one pool of raw rows (see the module docstring)."""
    if os.path.splitext(path)[1].lower() == ".mat":
        if condition is not None:
            raise DataError(f"{path} holds numbers only: expected no condition for an ODDS set.")
        return _odds_source(path, ignore)
    names, columns = read_table_file(path)
    named = [*categorical, *ignore, *(n for n in (label, condition) if n)]
    unknown = [n for n in named if n not in names]
    if unknown:
        raise DataError(
            f"{path} has no column {unknown[0]!r}: expected one of {', '.join(names[:20])}."
        )
    y, label_names = None, None
    if label:
        y, label_names = _labels(columns[names.index(label)], label, path)
    keep = [j for j, n in enumerate(names) if n not in ignore and n != label]
    if not keep:
        raise DataError(f"{path} has no columns left to model: expected at least one.")
    kept = [names[j] for j in keep]
    table = np.empty(len(columns[0]), dtype=[(n, object) for n in kept])
    for j in keep:
        table[names[j]] = columns[j]
    return Source(
        splits={"train": (table, y)},
        source=path,
        label_names=label_names,
        kind="table",
        extra_info={"categorical": list(categorical), "dropped": [], "condition": condition},
    )


def _labels(cells, name, path):
    """Labels of a column: class ids and their names, or float factors `(n, 1)`."""
    if any(is_missing(c) for c in cells):
        raise DataError(
            f"Label column {name!r} of {path} has missing cells: expected a label per row."
        )
    kind = infer_type(cells, name)
    if kind in ("numeric",):
        return np.asarray([float(c) for c in cells], "float32")[:, None], None
    texts = [str(c).strip() for c in cells]
    names = sorted(set(texts))
    index = {n: k for k, n in enumerate(names)}
    return np.asarray([index[t] for t in texts], "int64"), names


def _odds_source(path, ignore):
    x, y = _read_mat(path)
    names = [f"x{j}" for j in range(x.shape[1])]
    constant = [n for j, n in enumerate(names) if np.nanmin(x[:, j]) == np.nanmax(x[:, j])]
    dropped = sorted(set(constant) | set(ignore), key=names.index)
    keep = [j for j, n in enumerate(names) if n not in dropped]
    table = as_table(x[:, keep], [names[j] for j in keep])
    return Source(
        splits={"train": (table, y)},
        source=path,
        label_names=["inlier", "outlier"],
        kind="table",
        extra_info={"categorical": [], "dropped": dropped, "numeric_only": True},
    )


def build_table_dataset(
    name, source, *, val_fraction, binarize, limit, seed, codec=None
) -> Dataset:
    """Splits and limits a table `Source`, fits the `TableSchema` (or takes `codec`, a trained
    model's), encodes every split."""
    if binarize != "none":
        raise DataError(
            f"Expected binarize='none' for a table ({name} holds rows, not images). "
            f"Received: binarize={binarize!r}"
        )
    everything = np.concatenate([source.splits[s][0] for s in SPLIT_NAMES if s in source.splits])
    splits = split_source(source, val_fraction=val_fraction, limit=limit, seed=seed)
    extra = dict(source.extra_info)
    if extra.pop("numeric_only", False):
        types = dict.fromkeys(everything.dtype.names, "numeric")
    else:
        types = dict.fromkeys(extra.get("categorical", ()), "categorical")
    condition = extra.get("condition")
    if codec is not None:
        schema = codec
    else:
        schema = TableSchema.fit(splits["train"][0], everything, types=types)
        if condition is not None:
            schema = schema.with_condition(condition)
    encoded = {s: (schema.encode(splits[s][0]), splits[s][1]) for s in SPLIT_NAMES}
    missing = {s: int((encoded[s][0][:, schema.width :] < 0.5).sum()) for s in SPLIT_NAMES}
    info = {
        "kind": "table",
        "source": source.source,
        "label_names": source.label_names,
        "binarize": "none",
        "columns": schema.names,
        "column_types": [c["type"] for c in schema.columns],
        "missing_cells": missing,
        **extra,
    }
    return Dataset.from_splits(name, encoded, info, codec=schema)
