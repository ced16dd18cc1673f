"""`binarized_mnist`: the fixed binarization of MNIST by Larochelle & Murray (2011), "static MNIST".

The standard benchmark for VAE log-likelihoods: 50,000 / 10,000 / 10,000 images (the official
train / valid / test split), 28x28, every pixel 0 or 1, no labels. The published files are text:
one image per line, 784 values `0` or `1` separated by spaces. They are downloaded once into
`<data_dir>/binarized_mnist/`; a gzipped copy (`.amat.gz`) is read as well as the plain `.amat`.
"""

from __future__ import annotations

import os
import urllib.request

import numpy as np

from vaekit.atomic import atomic_path
from vaekit.data.dataset import Source
from vaekit.data.files import read_bytes
from vaekit.errors import DataError

BASE_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
FOLDER = "binarized_mnist"
SPLIT_FILES = {"train": "train", "val": "valid", "test": "test"}  # split -> file name part
SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
PIXELS = 28 * 28

_ZERO = ord("0")


def file_name(split: str) -> str:
    """The published file name of a split, e.g. `binarized_mnist_train.amat`."""
    return f"binarized_mnist_{SPLIT_FILES[split]}.amat"


def load_binarized_mnist(*, data_dir: str, download: bool = True, **_) -> Source:
    """Reads the three splits from `<data_dir>/binarized_mnist/`, downloading missing files.

    Args:
        data_dir: the vaekit data folder (see `load_dataset`).
        download: whether to download missing files from `BASE_URL`; if False a missing file is
            a `DataError`.

    Returns:
        A `Source` with the official train / val / test splits and no labels.
    """
    folder = os.path.join(data_dir, FOLDER)
    paths = {split: find_or_download(folder, split, download) for split in SPLIT_FILES}
    splits = {}
    for split, path in paths.items():
        x = read_amat(path)  # (n, 784) uint8 0/1
        if len(x) != SPLIT_SIZES[split]:
            raise DataError(
                f"{path} has {len(x)} images: expected {SPLIT_SIZES[split]} for the {split} split "
                "of binarized MNIST (was the file cut short?)."
            )
        splits[split] = (x.reshape(-1, 28, 28, 1).astype(np.float32), None)  # (n, 28, 28, 1)
    return Source(
        splits=splits,
        source=folder,
        label_names=None,
        eight_bit=True,
        prebinarized=True,
    )


def find_or_download(folder: str, split: str, download: bool = True, base_url: str | None = None):
    """The path of a split's file in `folder` (`.amat.gz`, else `.amat`), downloaded if missing.

    Args:
        folder: the `binarized_mnist` folder inside the data folder.
        split: `"train"`, `"val"` or `"test"`.
        download: whether a missing file may be downloaded.
        base_url: where the files are published; default `BASE_URL` (read at call time).
    """
    base_url = BASE_URL if base_url is None else base_url
    name = file_name(split)
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    how = (
        f"Download {base_url}{name} (and the other two splits) by hand into {folder}, gzipped or "
        "not, or set VAEKIT_DATA_DIR to a folder holding binarized_mnist/."
    )
    if not download:
        raise DataError(f"{name} is missing from {folder} and download=False. {how}")
    path = os.path.join(folder, name)
    try:
        download_file(base_url + name, path)
    except DataError as error:
        raise DataError(f"{name} is missing from {folder} and {error} {how}") from error
    return path


def download_file(url: str, path: str, *, timeout: float = 60.0, chunk: int = 1 << 20) -> None:
    """Downloads `url` to `path` atomically: to a temporary file beside it, then renamed.

    A failed or interrupted download leaves nothing behind (never a half file at `path`).

    Args:
        url: any URL `urllib` opens (`http://`, `https://`, `file://`).
        path: where the file goes; its folder is created when missing.
        timeout: seconds to wait for the server.
        chunk: bytes read at a time.

    Raises:
        DataError: the download failed; the message starts "the download from <url> failed".
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with (
            atomic_path(path, suffix=".part") as tmp,
            open(tmp, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            while block := response.read(chunk):
                out.write(block)
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        raise DataError(f"the download from {url} failed ({error}).") from error


def read_amat(path: str) -> np.ndarray:
    """Parses an `.amat` (or `.amat.gz`) file of binary images into uint8 `(n, 784)` 0/1 values.

    Every non-blank line must hold exactly 784 values, each the digit 0 or 1, separated by
    whitespace. The parsing is vectorized: 50,000 lines take well under a second.
    """
    data = read_bytes(path)
    stray = data.translate(None, b"01 \t\r\n")  # bytes.translate runs at memory speed
    if stray:
        pos = data.find(stray[:1])
        raise DataError(
            f"{path} line {_line_of(data, pos)} has {stray[:1].decode('latin-1')!r}: expected "
            "only the values 0 and 1 separated by spaces (784 per line)."
        )
    digit = np.frombuffer(data, np.uint8) >= _ZERO  # only 0, 1 and whitespace are left
    joined = digit[1:] & digit[:-1]  # two digits in a row, e.g. "10"
    if joined.any():
        raise DataError(
            f"{path} line {_line_of(data, int(np.argmax(joined)))} has a value with several "
            "digits: expected only single 0 or 1 values separated by spaces."
        )
    del digit, joined
    lines = data.translate(None, b" \t\r").split(b"\n")  # each line: its digits only
    lengths = np.fromiter(map(len, lines), np.int64, count=len(lines))
    wrong = np.flatnonzero((lengths != PIXELS) & (lengths != 0))
    if len(wrong):
        i = int(wrong[0])
        raise DataError(
            f"{path} line {i + 1} has {lengths[i]} values: expected {PIXELS} (one 28x28 image)."
        )
    digits = b"".join(line for line in lines if line)
    if not digits:
        raise DataError(f"{path} holds no images: expected lines of {PIXELS} values 0 or 1.")
    values = np.frombuffer(digits, np.uint8) - np.uint8(_ZERO)
    return values.reshape(-1, PIXELS)  # (n, 784)


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1
