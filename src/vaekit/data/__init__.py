"""Datasets for vaekit: numpy arrays plus metadata, knowing nothing of models.

`load_dataset(spec)` takes a dataset name (see `DATASETS`) or a path, and returns a `Dataset` whose
images are float32 `(n, H, W, C)` in `[0, 1]`, split into train / validation / test. Every source
goes through the same checks, splitting and binarization (`vaekit.data.dataset`).

This package never imports Keras at import time (only the `mnist` / `fashion_mnist` loaders do,
when called), so a program may pick the Keras backend after importing it.
"""

from __future__ import annotations

import functools
import os

from vaekit.data.binarized_mnist import load_binarized_mnist
from vaekit.data.dataset import BINARIZE_MODES, Dataset, build_dataset, check_options
from vaekit.data.files import load_path
from vaekit.data.keras_datasets import load_keras_dataset
from vaekit.data.shapes import FACTOR_NAMES, SHAPE_NAMES, load_shapes, make_shapes, render_shapes
from vaekit.errors import DataError

# Name -> loader. Each loader takes keyword options (data_dir, download, seed, limit,
# val_fraction), ignores those it does not need, and returns a `Source`.
_LOADERS = {
    "shapes": load_shapes,
    "mnist": functools.partial(load_keras_dataset, "mnist"),
    "fashion_mnist": functools.partial(load_keras_dataset, "fashion_mnist"),
    "binarized_mnist": load_binarized_mnist,
}
DATASETS = tuple(_LOADERS)
DATA_DIR_ENV = "VAEKIT_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "vaekit")

__all__ = [
    "BINARIZE_MODES",
    "DATASETS",
    "Dataset",
    "FACTOR_NAMES",
    "SHAPE_NAMES",
    "default_data_dir",
    "load_dataset",
    "make_shapes",
    "render_shapes",
]


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
) -> Dataset:
    """Loads a dataset by name or path, split into train / validation / test.

    Splits: a source's own validation and test splits are kept (binarized MNIST has the official
    50,000 / 10,000 / 10,000). Otherwise a random `val_fraction` of the training images becomes
    the validation split; a source with a single pool (an `.npy` file, an image folder, a folder
    with one IDX set) first gives the same fraction of the pool to a test split. Carved splits
    keep the source's order. Everything random depends only on `seed`.

    Args:
        spec: a name from `DATASETS` (`"shapes"`, `"mnist"`, `"fashion_mnist"`,
            `"binarized_mnist"`) or a path: a folder of MNIST IDX files, a folder of PNG/JPEG
            images (optionally one subfolder per class), an `.npz` or an `.npy` file. Names win
            over same-named folders; write `./mnist` for a local folder.
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
            `<data_dir>/binarized_mnist/`); default `default_data_dir()`.
        download: whether missing files of vaekit's own downloads may be fetched.

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
    options = dict(
        seed=int(seed),
        limit=None if limit is None else int(limit),
        val_fraction=float(val_fraction),
        data_dir=os.path.expanduser(os.fspath(data_dir)) if data_dir else default_data_dir(),
        download=bool(download),
    )
    name, loader = _resolve(spec)
    source = loader(**options)
    return build_dataset(
        name,
        source,
        val_fraction=options["val_fraction"],
        binarize=binarize,
        limit=options["limit"],
        seed=options["seed"],
    )


def _resolve(spec):
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
    if os.path.exists(text):
        return text, functools.partial(load_path, text)
    looks_like_path = os.sep in text or "/" in text or os.path.splitext(text)[1] != ""
    if looks_like_path:
        raise DataError(
            f"Dataset path {text} does not exist: expected an existing folder or .npz/.npy file, "
            f"or a dataset name ({', '.join(DATASETS)})."
        )
    raise DataError(
        f"Unknown dataset {text!r}: expected one of {', '.join(DATASETS)}, or the path of an IDX "
        "folder, image folder, .npz or .npy file."
    )
