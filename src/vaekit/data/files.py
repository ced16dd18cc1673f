"""Datasets from the user's own files: MNIST IDX folders, `.npz` / `.npy` arrays, image folders.

`load_path` looks at what a path is and hands it to the right reader:

- a folder holding `*images-idx3-ubyte` files (optionally `.gz`), each with a matching
  `*labels-idx1-ubyte` file: names starting with `train` are the training split, `t10k` or `test`
  the test split, `val` the validation split. A folder with a single IDX set is one pool.
- any other folder: an image folder (see `vaekit.data.images`).
- an `.npz` file with `x` (one pool) or `x_train` plus optional `x_val` / `x_test`, and labels
  under the matching `y` names; optionally `label_names` (strings).
- an `.npy` file: images only, one pool.

Every reading error (missing, truncated or corrupt file, wrong format) becomes a `DataError` that
names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zipfile
import zlib

import numpy as np

from vaekit.data.dataset import Source, as_images, as_labels
from vaekit.errors import DataError

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (n, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (n,)
_IDX_IMAGES = re.compile(r"^(?P<stem>.*)images[-._]idx3[-._]ubyte(?:\.gz)?$", re.IGNORECASE)
_IDX_LABELS = re.compile(r"^(?P<stem>.*)labels[-._]idx1[-._]ubyte(?:\.gz)?$", re.IGNORECASE)
_IDX_SPLITS = (("train", "train"), ("t10k", "test"), ("test", "test"), ("val", "val"))
_NPZ_SPLITS = {"train": ("x_train", "y_train"), "val": ("x_val", "y_val")}
_NPZ_SPLITS["test"] = ("x_test", "y_test")
_KNOWN_FORMS = (
    "expected a folder of MNIST IDX files or PNG/JPEG images, an .npz file or an .npy file"
)


def read_bytes(path: str) -> bytes:
    """A file's bytes, decompressed when its name ends in `.gz`; `DataError` if unreadable."""
    try:
        if path.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DataError(f"Could not read {path}: {error} (expected a complete file).") from error


def load_path(path: str, **_) -> Source:
    """Reads the dataset at `path` (a folder, `.npz` or `.npy` file) as a `Source`."""
    try:
        return _load_path(path)
    except MemoryError as error:  # e.g. a gzip or zip bomb, or a header claiming terabytes
        raise DataError(
            f"{path} is too large to load into memory ({error}); expected a dataset that fits."
        ) from None


def _load_path(path):
    if os.path.isdir(path):
        sets = find_idx_sets(path)
        if sets:
            return load_idx_folder(path, sets)
        from vaekit.data.images import load_image_folder  # PIL is only needed for image folders

        return load_image_folder(path)
    if not os.path.exists(path):
        raise DataError(f"Dataset path {path} does not exist: {_KNOWN_FORMS}.")
    lower = path.lower()
    if lower.endswith(".npz"):
        return load_npz(path)
    if lower.endswith(".npy"):
        return load_npy(path)
    raise DataError(f"Cannot read {path} as a dataset: {_KNOWN_FORMS}.")


# --- IDX (the MNIST file format) -------------------------------------------------------------


def find_idx_sets(folder: str) -> dict:
    """Finds the IDX files in `folder`: `{stem: (images_path, labels_path or None)}`."""
    images, labels = {}, {}
    for name in sorted(os.listdir(folder)):  # sorted: a plain file wins over its .gz twin
        for pattern, found in ((_IDX_IMAGES, images), (_IDX_LABELS, labels)):
            match = pattern.match(name)
            if match and os.path.isfile(os.path.join(folder, name)):
                found.setdefault(match["stem"], os.path.join(folder, name))
    for stem, path in labels.items():
        if stem not in images:
            raise DataError(
                f"{path} has no matching images file: expected {stem}images-idx3-ubyte[.gz] "
                f"in {folder}."
            )
    return {stem: (path, labels.get(stem)) for stem, path in images.items()}


def load_idx_folder(folder: str, sets: dict) -> Source:
    """Reads the IDX sets found by `find_idx_sets` into a `Source` (one pool if only one set)."""
    if len(sets) == 1:
        named = {"train": next(iter(sets.values()))}  # a single set is a pool, whatever its name
    else:
        named = {}
        for stem, files in sets.items():
            split = _idx_split(stem)
            if split is None or split in named:
                raise DataError(
                    f"Cannot tell the splits of the IDX files in {folder}: expected one set "
                    "whose names start with 'train' and one with 't10k' or 'test', received "
                    f"{', '.join(os.path.basename(f[0]) for f in sets.values())}."
                )
            named[split] = files
        if "train" not in named:
            raise DataError(
                f"{folder} has no training IDX files: expected train-images-idx3-ubyte."
            )
    splits = {}
    for split, (images_path, labels_path) in named.items():
        x = read_idx(images_path, IDX_IMAGES_MAGIC)  # (n, rows, cols) uint8
        y = None if labels_path is None else read_idx(labels_path, IDX_LABELS_MAGIC)
        if y is not None and len(y) != len(x):
            raise DataError(
                f"{labels_path} has {len(y)} labels: expected {len(x)}, one per image in "
                f"{os.path.basename(images_path)}."
            )
        splits[split] = (as_images(x, images_path)[0], as_labels(y, len(x), labels_path))
    has_labels = all(labels is not None for _, labels in named.values())
    return Source(
        splits=splits,
        source=folder,
        label_names=_class_names(splits) if has_labels else None,
        eight_bit=True,
    )


def read_idx(path: str, magic: int) -> np.ndarray:
    """Reads an IDX file of unsigned bytes; `magic` is the expected magic number.

    The header is a 4-byte big-endian magic number (0x0000 0x08 ndim) and one big-endian uint32
    per dimension; the data must be exactly the product of the dimensions in bytes.
    """
    data = read_bytes(path)
    kind = "images" if magic == IDX_IMAGES_MAGIC else "labels"
    if len(data) < 4:
        raise DataError(f"{path} has only {len(data)} bytes: expected an IDX {kind} file.")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"{path} has magic number 0x{found:08x}: expected 0x{magic:08x} (an MNIST IDX "
            f"{kind} file of unsigned bytes)."
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated: expected a {header}-byte IDX header.")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        shape = "x".join(map(str, dims))
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path} has {len(data)} bytes: expected {expected} for dimensions {shape} "
            f"(the file is {problem})."
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _idx_split(stem: str):
    lower = stem.lower()
    return next((split for prefix, split in _IDX_SPLITS if lower.startswith(prefix)), None)


def _class_names(splits) -> list:
    top = max(int(y.max()) for _, y in splits.values())
    return [str(i) for i in range(top + 1)]


# --- NumPy files ------------------------------------------------------------------------------


def load_npy(path: str) -> Source:
    """Reads an `.npy` file of images (no labels) as one pool."""
    x = _np_load(path)
    if isinstance(x, dict):
        raise DataError(f"{path} is an .npz archive: expected a single .npy array (or rename it).")
    images, labels, eight_bit = _checked(x, None, path)
    return Source(splits={"train": (images, labels)}, source=path, eight_bit=eight_bit)


def load_npz(path: str) -> Source:
    """Reads an `.npz` file with `x` / `y` or `x_train`, `x_val`, `x_test` / `y_...` arrays."""
    arrays = _np_load(path)
    if not isinstance(arrays, dict):
        raise DataError(f"{path} holds a single .npy array: expected an .npz archive of arrays.")
    keys = sorted(arrays)
    if "x" in arrays:
        extra = [k for k in ("x_train", "x_val", "x_test") if k in arrays]
        if extra:
            raise DataError(
                f"{path} has both 'x' and {', '.join(extra)}: expected either 'x' (one pool) or "
                "'x_train' with optional 'x_val' / 'x_test'."
            )
        names = {"train": ("x", "y")}
    elif "x_train" in arrays:
        names = {split: pair for split, pair in _NPZ_SPLITS.items() if pair[0] in arrays}
    else:
        raise DataError(
            f"{path} has keys {keys}: expected 'x' or 'x_train' (with optional 'x_val', "
            "'x_test', and labels 'y' / 'y_train', 'y_val', 'y_test')."
        )
    used = {key for pair in names.values() for key in pair}
    stray = [k for k in keys if k.startswith("y") and k not in used]
    if stray:
        raise DataError(
            f"{path} has labels {', '.join(stray)} without matching images: expected each "
            "'y...' key to have its 'x...' key."
        )
    splits, eight_bit = {}, True
    for split, (x_key, y_key) in names.items():
        images, labels, bits = _checked(arrays[x_key], arrays.get(y_key), f"{x_key} in {path}")
        splits[split] = (images, labels)
        eight_bit = eight_bit and bits
    label_names = None
    if "label_names" in arrays:
        label_names = arrays["label_names"]
        if label_names.dtype.kind not in "US" or label_names.ndim != 1:
            raise DataError(
                f"label_names in {path} has dtype {label_names.dtype} and shape "
                f"{label_names.shape}: expected a 1-D array of strings."
            )
        label_names = [str(name) for name in label_names]
    return Source(splits=splits, source=path, label_names=label_names, eight_bit=eight_bit)


def _np_load(path):
    """An `.npy` array or an `.npz` archive as a dict; never unpickles, wraps every error."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
            f.seek(0)
            if head != b"\x93NUMPY" and not head.startswith(b"PK"):
                raise DataError(
                    f"{path} is not a NumPy file (it starts with {head!r}): expected an .npy "
                    "array or an .npz archive written by numpy.save / numpy.savez."
                )
            if head == b"\x93NUMPY":
                _check_npy_header(f, os.fstat(f.fileno()).st_size, path)
            else:
                with zipfile.ZipFile(f) as archive:
                    for info in archive.infolist():
                        if info.filename.endswith(".npy"):
                            with archive.open(info) as member:
                                what = f"{info.filename} in {path}"
                                _check_npy_header(member, info.file_size, what)
            f.seek(0)
            loaded = np.load(f, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    return {key: loaded[key] for key in loaded.files}
            return loaded
    except (DataError, MemoryError):
        raise
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise _pickled(path) from error
        raise DataError(f"Could not read {path}: {error}.") from error
    except Exception as error:  # NumPy's header parser also raises SyntaxError, TokenError, ...
        reason = " ".join(str(error).split()) or type(error).__name__
        raise DataError(f"Could not read {path}: {reason} (expected a NumPy file).") from error


def _check_npy_header(f, size, path):
    """Reads the `.npy` header at `f`'s position and checks the file (of `size` bytes) holds the
    array it declares, so that a forged header never makes NumPy allocate terabytes."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise _pickled(path)
    declared, available = math.prod(shape) * dtype.itemsize, size - f.tell()
    if declared > available:
        raise DataError(
            f"{path} is truncated: an array header declares shape {shape} of {dtype} "
            f"({declared} bytes), but only {available} bytes follow."
        )


def _pickled(path):
    return DataError(
        f"{path} holds pickled Python objects: expected plain numeric arrays "
        "(vaekit never unpickles data files, which could run arbitrary code)."
    )


def _checked(x, y, what):
    """(images, labels, eight_bit) for image and label arrays, checked."""
    images, eight_bit = as_images(x, what)
    label_what = what.replace("x", "y", 1) if what.startswith("x") else f"labels for {what}"
    return images, as_labels(y, len(images), label_what), eight_bit
