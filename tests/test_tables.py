"""Tables as data: reading CSV, Parquet and ODDS files, inferring the schema, the codec's round trip."""

import importlib.util

import numpy as np
import pytest

from vaekit.config import DataConfig
from vaekit.data import load_configured, load_dataset, load_examples
from vaekit.data.cells import infer_type
from vaekit.data.schema import TableSchema, as_table
from vaekit.errors import ConfigError, DataError


def _write(tmp_path, text, name="t.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


MIXED = (
    "size,colour,ok,count,note\n"
    "1.5,red,yes,3,a\n"
    "2.25,blue,no,4,b\n"
    ",red,yes,,c\n"
    "3.0,green,NA,5,d\n"
    "0.5,blue,no,7,e\n"
    "1.0,red,yes,3,f\n"
)


def test_types_are_inferred_and_missing_cells_modelled(tmp_path):
    data = load_dataset(_write(tmp_path, MIXED), val_fraction=0.2, ignore=("note",))
    assert data.kind == "table"
    schema = data.codec
    assert [(c["name"], c["type"]) for c in schema.columns] == [
        ("size", "numeric"),
        ("colour", "categorical"),
        ("ok", "boolean"),
        ("count", "integer"),
    ]
    assert schema.columns[1]["categories"] == ["blue", "green", "red"]
    assert data.shape == (schema.width + 4,) == (6 + 4,)
    assert sum(data.info["missing_cells"].values()) == 3  # size, ok and count: one cell each
    assert data.y_train is None and len(data.x_train) + len(data.x_val) + len(data.x_test) == 6


def test_the_codec_round_trips_observed_cells_and_keeps_missing_ones_missing(tmp_path):
    names, rows = (
        ["size", "colour", "ok", "count"],
        [
            ["1.5", "red", "yes", "3"],
            ["2.25", "blue", "no", "4"],
            ["", "red", "yes", ""],
            ["3.0", "green", "NA", "5"],
        ],
    )
    table = as_table(rows, names)
    schema = TableSchema.fit(table)
    x = schema.encode(table)
    assert x.dtype == np.float32 and x.shape == (4, schema.size)
    back = schema.decode(x)
    assert back["size"] == [1.5, 2.25, None, 3.0]
    assert back["colour"] == ["red", "blue", "red", "green"]
    assert back["ok"] == ["yes", "no", "yes", None]
    assert back["count"] == [3, 4, None, 5]
    # The config is plain JSON and rebuilds the same codec.
    assert TableSchema.from_config(schema.get_config()) == schema


def test_a_label_column_becomes_class_ids_and_leaves_the_input(data_dir):
    data = load_dataset(str(data_dir / "tables" / "penguins.csv"), label="species", seed=1)
    assert "species" not in data.codec.names
    assert data.info["label_names"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert data.y_train.dtype == np.int64 and set(np.unique(data.y_train)) <= {0, 1, 2}
    assert sum(data.info["missing_cells"].values()) > 0  # penguins has empty cells
    assert np.isfinite(data.x_train).all()


def test_forced_categorical_and_the_config_options(data_dir):
    path = str(data_dir / "tables" / "mpg.csv")
    config = DataConfig(dataset=path, categorical=["year", "cyl"], ignore=["model"], limit=50)
    data = load_configured(config, seed=0)
    types = dict(zip(data.codec.names, (c["type"] for c in data.codec.columns), strict=True))
    assert types["year"] == types["cyl"] == "categorical" and "model" not in types
    assert data.codec.columns[data.codec.names.index("year")]["categories"] == ["1999", "2008"]
    with pytest.raises(ConfigError, match="at most one of"):
        DataConfig(dataset=path, categorical=["year"], ignore=["year"]).validate()


def test_odds_files_drop_constant_columns_and_label_outliers(data_dir):
    data = load_dataset(str(data_dir / "odds" / "arrhythmia.mat"))
    assert data.info["dropped"] and all(c["type"] == "numeric" for c in data.codec.columns)
    assert len(data.codec.names) == 274 - len(data.info["dropped"])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert set(np.unique(y)) == {0, 1} and data.info["label_names"] == ["inlier", "outlier"]


def test_load_examples_reads_new_rows_with_a_models_schema_in_file_order(tmp_path):
    data = load_dataset(_write(tmp_path, MIXED), val_fraction=0.2, ignore=("note",))
    x, y = load_examples(str(tmp_path / "t.csv"), data.codec)
    assert x.shape == (6, data.codec.size) and y is None
    assert data.codec.decode(x)["colour"] == ["red", "blue", "red", "green", "blue", "red"]
    unseen = _write(tmp_path, "size,colour,ok,count\n1.0,purple,yes,2\n", "new.csv")
    with pytest.raises(DataError, match="'colour' row 0 holds 'purple', a category the model"):
        load_examples(unseen, data.codec)
    lacking = _write(tmp_path, "size,colour\n1.0,red\n", "lacking.csv")
    with pytest.raises(DataError, match="no column 'ok'"):
        load_examples(lacking, data.codec)
    text = _write(tmp_path, "size,colour,ok,count\nbig,red,yes,2\n", "text.csv")
    with pytest.raises(DataError, match="'size' row 0 holds 'big': expected a number"):
        load_examples(text, data.codec)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="pyarrow not installed")
def test_parquet_reads_like_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "size": [1.5, 2.25, None, 3.0, 0.5],
            "colour": ["red", "blue", "red", None, "blue"],
            "ok": [True, False, True, False, None],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    data = load_dataset(str(tmp_path / "t.parquet"), val_fraction=0.2)
    assert [c["type"] for c in data.codec.columns] == ["numeric", "categorical", "boolean"]
    assert sum(data.info["missing_cells"].values()) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n3\n", "line 3 has 1 fields: expected 2"),
        ("1,2\n3,4\n5,6\n", "holds only numbers"),
        ("a,a\n1,2\n3,4\n", "duplicate column names"),
        ("a,b\n1,\n2,\n3,\n", "'b' has no values"),
        ("a,b\n1,7\n2,7\n3,7\n", "'b' holds one value"),
        ("", "is empty"),
        ("a,b\n", "no rows"),
        (b"a,b\n1,\xff\xfe\n2,3\n", "is not UTF-8"),
        ("a,b\n1," + "x" * (1 << 20 + 1) + "\n", "cell over"),
    ],
)
def test_bad_tables_get_one_clear_line(tmp_path, content, message):
    with pytest.raises(DataError, match=message) as error:
        load_dataset(_write(tmp_path, content), val_fraction=0.34)
    assert "\n" not in str(error.value)


def test_options_naming_a_missing_column_are_refused(tmp_path):
    path = _write(tmp_path, MIXED)
    with pytest.raises(DataError, match="has no column 'kind'"):
        load_dataset(path, label="kind")
    with pytest.raises(DataError, match="has no column 'x'"):
        load_dataset(path, categorical=("x",))


def test_inference_rules():
    assert infer_type(["0", "1", "1", ""], "b") == "boolean"
    assert infer_type([True, False], "b") == "boolean"
    assert infer_type(["1", "2", "10"], "i") == "integer"
    assert infer_type(["1", "2.5"], "f") == "numeric"
    assert infer_type(["1.0", "2.0"], "f") == "numeric"  # written as decimals: kept numeric
    assert infer_type(["1", "two"], "c") == "categorical"
    assert infer_type([1.5, float("nan"), 2.0], "f") == "numeric"


def test_a_models_codec_reads_the_same_file_as_the_model_does(tmp_path, data_dir):
    path = _write(tmp_path, MIXED)
    data = load_dataset(path, val_fraction=0.2, ignore=("note",))
    again = load_dataset(path, val_fraction=0.2, ignore=("note",), codec=data.codec)
    assert again.codec is data.codec
    np.testing.assert_array_equal(again.x_train, data.x_train)
    text = load_dataset(str(data_dir / "text" / "ptb.valid.txt"), limit=50)
    with pytest.raises(DataError, match="expected a codec for table. Received: a text codec"):
        load_dataset(path, codec=text.codec)
