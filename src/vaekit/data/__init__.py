"""Datasets for vaekit: numpy arrays plus metadata, knowing nothing of models.

`load_dataset(spec)` takes a dataset name (see `DATASETS` and `TEXT_DATASETS`) or a path, and
returns a `Dataset` split into train / validation / test. Its kind (`Dataset.kind`) is `"images"`
(float32 `(n, H, W, C)` in `[0, 1]`) or `"text"` (int32 token ids `(n, max_length + 1)`, with the
`Vocabulary` that made them as `Dataset.codec`, see `vaekit.data.text`). Every source goes through
the same checks and splitting (`vaekit.data.dataset`).

This package never imports Keras at import time (only the `mnist` / `fashion_mnist` loaders and
the `ptb` / `shakespeare` downloads do, when called), so a program may pick the Keras backend after
importing it.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from vaekit.data.binarized_mnist import load_binarized_mnist
from vaekit.data.dataset import BINARIZE_MODES, Dataset, build_dataset, check_options
from vaekit.data.files import load_path
from vaekit.data.keras_datasets import load_keras_dataset
from vaekit.data.schema import TableSchema
from vaekit.data.sentences import SENTENCE_FACTORS, load_sentences, make_sentences
from vaekit.data.shapes import FACTOR_NAMES, SHAPE_NAMES, load_shapes, make_shapes, render_shapes
from vaekit.data.tables import (
    TABLE_SUFFIXES,
    build_table_dataset,
    load_table_file,
    read_table_file,
)
from vaekit.data.text import (
    build_text_dataset,
    find_text_files,
    load_ptb,
    load_shakespeare,
    load_text_file,
    load_text_folder,
)
from vaekit.data.vocabulary import TOKEN_LEVELS, Vocabulary, check_text_options
from vaekit.errors import DataError

CODECS = {"text": Vocabulary, "table": TableSchema}  # kind of data -> its codec class

# Name -> loader. Each loader takes keyword options (data_dir, download, seed, limit,
# val_fraction), ignores those it does not need, and returns a `Source`.
_LOADERS = {
    "shapes": load_shapes,
    "mnist": functools.partial(load_keras_dataset, "mnist"),
    "fashion_mnist": functools.partial(load_keras_dataset, "fashion_mnist"),
    "binarized_mnist": load_binarized_mnist,
}
DATASETS = tuple(_LOADERS)  # the named image datasets
_TEXT_LOADERS = {"ptb": load_ptb, "shakespeare": load_shakespeare, "sentences": load_sentences}
TEXT_DATASETS = tuple(_TEXT_LOADERS)  # the named text datasets
_LOADERS.update(_TEXT_LOADERS)
_NAMES = ", ".join(_LOADERS)
DATA_DIR_ENV = "VAEKIT_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "vaekit")

__all__ = [
    "BINARIZE_MODES",
    "CODECS",
    "DATASETS",
    "Dataset",
    "FACTOR_NAMES",
    "SENTENCE_FACTORS",
    "SHAPE_NAMES",
    "TEXT_DATASETS",
    "TOKEN_LEVELS",
    "TableSchema",
    "Vocabulary",
    "default_data_dir",
    "load_configured",
    "load_dataset",
    "load_examples",
    "read_table",
    "make_sentences",
    "make_shapes",
    "render_shapes",
]


def load_configured(data_config, seed=0, **overrides) -> Dataset:
    """`load_dataset` with the options of a `DataConfig` (a run's `[data]`), `seed` the run's.

    `overrides` replace single options (e.g. `binarize="none"`).

    Example:
    >>> cfg = vaekit.load_run_config("runs/x")
    >>> data = load_configured(cfg.data, cfg.train.seed)  # exactly the run's splits
    """
    options = {
        "val_fraction": data_config.val_fraction,
        "binarize": data_config.binarize,
        "limit": data_config.limit,
        "seed": seed,
        "tokens": data_config.tokens,
        "vocab_size": data_config.vocab_size,
        "min_count": data_config.min_count,
        "max_length": data_config.max_length,
        "categorical": tuple(data_config.categorical),
        "ignore": tuple(data_config.ignore),
        "label": data_config.label,
        "condition": data_config.condition,
    }
    return load_dataset(data_config.dataset, **{**options, **overrides})


def default_data_dir() -> str:
    """Where downloaded datasets are cached: `$VAEKIT_DATA_DIR`, else `~/.cache/vaekit`."""
    return os.path.expanduser(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def load_dataset(
    spec,
    *,
    val_fraction: float = 0.1,
    binarize: str = "none",
    limit: int | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    download: bool = True,
    tokens: str = "word",
    vocab_size: int | None = None,
    min_count: int = 1,
    max_length: int = 50,
    categorical=(),
    ignore=(),
    label: str | None = None,
    condition: str | None = None,
    codec=None,
) -> Dataset:
    """Loads a dataset by name or path, split into train / validation / test.

    Splits: a source's own validation and test splits are kept (binarized MNIST has the official
    50,000 / 10,000 / 10,000). Otherwise a random `val_fraction` of the training images becomes
    the validation split; a source with a single pool (an `.npy` file, an image folder, a folder
    with one IDX set) first gives the same fraction of the pool to a test split. Carved splits
    keep the source's order. Everything random depends only on `seed`.

    Text: the vocabulary is built from the training split (after `limit`) only; every split is
    encoded with it (see `vaekit.data.text`). `tokens`, `vocab_size`, `min_count` and `max_length`
    are checked for every source but only used by text.

    Args:
        spec: a name from `DATASETS` (`"shapes"`, `"mnist"`, `"fashion_mnist"`,
            `"binarized_mnist"`) or `TEXT_DATASETS` (`"ptb"`, `"shakespeare"`, `"sentences"`), or
            a path: a folder of MNIST IDX files, a folder of PNG/JPEG images (optionally one
            subfolder per class), an `.npz` or an `.npy` file, a `.txt` file (one example per
            line), or a folder of text files (`train.txt` with optional `valid.txt` / `test.txt`,
            or PTB's `ptb.train.txt`, ...). Names win over same-named folders; write `./mnist`
            for a local folder.
        val_fraction: fraction carved out for validation (and test, for a single pool), in
            `(0, 0.5]`.
        binarize: `"none"` keeps grey values; `"static"` samples binary images once
            (pixel = 1 with probability its grey value) with `seed`; `"dynamic"` keeps grey values
            and records in `info["binarize"]` that training should re-sample them each epoch.
            Data that is binary already (binarized MNIST) is left unchanged.
        limit: keep at most this many images in each split (a random subset), or None for all.
        seed: non-negative integer for every random choice (splits, subsets, binarization,
            the generated `shapes` images).
        data_dir: cache folder for downloads (binarized MNIST lives in
            `<data_dir>/binarized_mnist/`, PTB and tiny Shakespeare in `<data_dir>/text/`);
            default `default_data_dir()`.
        download: whether missing files of vaekit's own downloads may be fetched.
        tokens: text only: `"word"` (whitespace-separated, as PTB) or `"char"` tokens.
        vocab_size: text only: at most this many token ids, the 4 specials (`<pad>`, `<bos>`,
            `<eos>`, `<unk>`) included, keeping the most frequent; None keeps all (>= 5).
        min_count: text only: training tokens seen fewer times become `<unk>` (>= 1).
        max_length: text only: tokens per example, in [1, 10000]; longer lines are truncated and
            counted in `info["truncated"]`.
        categorical: tables only: column names read as categories whatever their values.
        ignore: tables only: column names left out.
        label: tables only: the column holding labels (`y`), kept out of the model's input.
        condition: tables only: the column a conditional model is given beside z (its schema's
            `condition`).
        codec: text and tables: a trained model's codec (`vaekit.model_codec(model)`) to encode
            every split with, instead of one fitted on the training split: the same data read
            exactly as the model reads it.

    Returns:
        A `Dataset`.

    Raises:
        DataError: unknown name, missing or unreadable files, invalid values, bad options.

    Example:

    >>> data = load_dataset("shapes", limit=500, binarize="static")
    >>> data.x_train.shape, data.info["binary"]
    ((500, 28, 28, 1), True)
    """
    check_options(val_fraction, binarize, limit, seed)
    check_text_options(tokens, vocab_size, min_count, max_length)
    options = dict(
        seed=int(seed),
        limit=None if limit is None else int(limit),
        val_fraction=float(val_fraction),
        data_dir=os.path.expanduser(os.fspath(data_dir)) if data_dir else default_data_dir(),
        download=bool(download),
    )
    table_options = {
        "categorical": tuple(categorical),
        "ignore": tuple(ignore),
        "label": label,
        "condition": condition,
    }
    name, loader = _resolve(spec, table_options)
    source = loader(**options)
    common = dict(
        val_fraction=options["val_fraction"],
        binarize=binarize,
        limit=options["limit"],
        seed=options["seed"],
    )
    codec_kind = getattr(codec, "kind", None)
    if codec is not None and codec_kind != source.kind:
        raise DataError(
            f"{source.source} holds {source.kind}: expected a codec for {source.kind}. Received: "
            f"a {codec_kind} codec"
        )
    if source.kind == "table":
        return build_table_dataset(name, source, **common, codec=codec)
    if source.kind == "text":
        return build_text_dataset(
            name,
            source,
            **common,
            tokens=tokens,
            vocab_size=None if vocab_size is None else int(vocab_size),
            min_count=int(min_count),
            max_length=int(max_length),
            codec=codec,
        )
    return build_dataset(name, source, **common)


def load_examples(spec, codec=None, *, data_dir=None, download=True):
    """Every example of a dataset, in the source's own order, unsplit: what `score`, `embed` and
    `impute` read. `(x, y)`, with `y` the labels or None.

    Images come as `load_dataset` gives them (float32 in `[0, 1]`, never binarized). Text and
    tables are encoded with `codec`, the codec a trained model keeps (`vaekit.model_codec`), so
    new raw input is read exactly as the model's training data was; they need one.

    A source with its own splits (PTB, binarized MNIST) gives them one after another: train,
    validation, test.

    Raises:
        DataError: as `load_dataset`, or text or a table without a codec, or a codec of another
            kind of data than the file's.
    """
    data_dir = os.path.expanduser(os.fspath(data_dir)) if data_dir else default_data_dir()
    _, loader = _resolve(spec)
    source = loader(seed=0, limit=None, val_fraction=0.1, data_dir=data_dir, download=download)
    parts = [source.splits[s] for s in ("train", "val", "test") if s in source.splits]
    x = np.concatenate([p[0] for p in parts])
    y = None if parts[0][1] is None else np.concatenate([p[1] for p in parts])
    codec_kind = getattr(codec, "kind", "images")
    if source.kind != codec_kind:
        what = "no codec" if codec is None else f"a {codec_kind} codec"
        raise DataError(
            f"{source.source} holds {source.kind}: expected a model of {source.kind}. "
            f"Received: {what} (a model of {codec_kind})"
        )
    if codec is not None:
        x = codec.encode_examples(x)
    return x, y


def read_table(path) -> dict:
    """The raw cells of a table file (`.csv`, `.tsv`, `.parquet`, `.mat`), column by column:
    `{name: list}`, in file order; strings as written (CSV), Python values (Parquet, `.mat`),
    None for a missing Parquet cell. What `vaekit impute` copies its observed cells from."""
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in TABLE_SUFFIXES or not os.path.isfile(path):
        raise DataError(
            f"Cannot read {path} as a table: expected an existing {', '.join(TABLE_SUFFIXES)} file."
        )
    names, columns = read_table_file(path)
    return dict(zip(names, columns, strict=True))


def _resolve(spec, table_options=None):
    """`(name, loader)` for a dataset name or an existing path."""
    if not isinstance(spec, (str, os.PathLike)):
        raise DataError(
            f"Expected a dataset name or path. Received: spec={spec!r} of type "
            f"{type(spec).__name__}"
        )
    text = os.fspath(spec)
    key = text.strip().lower().replace("-", "_")
    if key in _LOADERS:
        return key, _LOADERS[key]
    if os.path.isdir(text):
        files = find_text_files(text)
        if files:
            return text, functools.partial(load_text_folder, text, files)
        return text, functools.partial(load_path, text)
    if os.path.exists(text):
        extension = os.path.splitext(text)[1].lower()
        if extension == ".txt":
            return text, functools.partial(load_text_file, text)
        if extension in TABLE_SUFFIXES:
            return text, functools.partial(load_table_file, text, **(table_options or {}))
        if extension not in (".npz", ".npy"):
            raise DataError(
                f"Cannot read {text} as a dataset: expected an .npz, .npy, .txt, .csv, .tsv, "
                ".parquet or .mat file, or a folder of MNIST IDX files, PNG/JPEG images or text "
                "files (train.txt, ...)."
            )
        return text, functools.partial(load_path, text)
    looks_like_path = os.sep in text or "/" in text or os.path.splitext(text)[1] != ""
    if looks_like_path:
        raise DataError(
            f"Dataset path {text} does not exist: expected an existing folder or "
            f".npz/.npy/.txt/.csv/.parquet/.mat file, or a dataset name ({_NAMES})."
        )
    raise DataError(
        f"Unknown dataset {text!r}: expected one of {_NAMES}, or the path of an IDX folder, "
        "image folder, text folder, .npz, .npy or .txt file."
    )
