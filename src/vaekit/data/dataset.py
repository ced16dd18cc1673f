"""The `Dataset` container and the steps every source shares: checking, splitting, binarizing.

A source loader (shapes, binarized MNIST, Keras datasets, files, text) only reads its data and
returns a `Source`: checked arrays per split and some metadata. `split_source` then carves and
limits the splits the same way for every kind of data, so `val_fraction`, `limit` and `seed` mean
one thing everywhere; `build_dataset` finishes images (binarizing them), and each other kind's
builder (`vaekit.data.text.build_text_dataset`) fits its codec on the training split.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaekit.config import BINARIZE_MODES
from vaekit.errors import DataError

SPLIT_NAMES = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "val": "val", "validation": "val", "test": "test"}
_RANGE_HINT = "expected values in [0, 1] (or 0..255 integers)"

# Independent random streams, one per job, so that e.g. changing `limit` never changes which images
# land in the validation split.
_STREAM_TEST, _STREAM_VAL, _STREAM_LIMIT, _STREAM_BINARIZE = 1, 2, 3, 4


@dataclass
class Dataset:
    """Examples split into train / validation / test, with labels when the source has them.

    The kind of data is `info["kind"]` (also `Dataset.kind`): `"images"`, `"text"` or `"table"`.
    Images are float32 `(n, H, W, C)` arrays with values in `[0, 1]`; grey images have `C=1`.
    Text examples are int32 `(n, max_length + 1)` token ids: the tokens, then `<eos>`, then
    `<pad>` (see `vaekit.data.text`). Table rows are float32 `(n, width + columns)`: each
    column's values, then one observed flag per column (see `vaekit.data.schema`). Labels are int64 `(n,)` class ids, float32 `(n, F)`
    generative factors, or `None`.

    Attributes:
        name: the dataset name (`"shapes"`, `"mnist"`, `"ptb"`, ...) or the path it was loaded from.
        x_train, x_val, x_test: the examples, as above.
        y_train, y_val, y_test: labels for the matching examples, or `None`.
        info: plain metadata (strings, numbers, lists, dicts). Always holds `"kind"`, `"source"`
            (where the data came from), `"label_names"` (a list of names, or `None`) and
            `"binarize"` (`"none"`, `"static"` or `"dynamic"`; with `"dynamic"` the training loop
            re-samples binary images from the grey values each epoch). Images also hold `"binary"`
            (all values are 0 or 1) and `"eight_bit"` (all values are multiples of 1/255); text
            holds `"tokens"`, `"vocab_size"`, `"max_length"`, `"truncated"` (examples cut to
            `max_length`, per split) and `"empty_lines"` (blank lines skipped).
        codec: what turns raw input into these arrays and back, saved with a model as plain config:
            a `vaekit.data.vocabulary.Vocabulary` for text, a `vaekit.data.schema.TableSchema` for
            tables; `None` for images (their scaling is fixed).

    Example:

    >>> data = load_dataset("shapes", limit=100)
    >>> data.shape
    (28, 28, 1)
    >>> x, y = data.split("val")
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_train: np.ndarray | None = field(default=None, repr=False)
    y_val: np.ndarray | None = field(default=None, repr=False)
    y_test: np.ndarray | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)
    codec: Any = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """`"images"` or `"text"` (`info["kind"]`; images when absent)."""
        return self.info.get("kind", "images")

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example: `(H, W, C)` for images, `(max_length + 1,)` for text."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Returns `(x, y)` for `"train"`, `"val"` (or `"validation"`) or `"test"`."""
        key = _SPLIT_ALIASES.get(name) if isinstance(name, str) else None
        if key is None:
            raise DataError(
                f"Unknown split {name!r}: expected one of 'train', 'val', 'validation', 'test'."
            )
        return getattr(self, f"x_{key}"), getattr(self, f"y_{key}")

    @classmethod
    def from_splits(cls, name, splits, info, codec=None):
        """A Dataset from `{"train": (x, y), "val": (x, y), "test": (x, y)}`."""
        arrays = {f"{a}_{s}": splits[s][k] for s in SPLIT_NAMES for k, a in enumerate("xy")}
        return cls(name=name, **arrays, info=info, codec=codec)

    def summary(self) -> str:
        """One line: name, example shape (or tokens and vocabulary), split sizes, binarization."""
        sizes = " / ".join(f"{s} {len(getattr(self, f'x_{s}'))}" for s in SPLIT_NAMES)
        if self.kind == "table":
            missing = sum((self.info.get("missing_cells") or {}).values())
            labels = ", labels" if self.y_train is not None else ""
            return (
                f"{self.name}: table of {len(self.info.get('columns', ()))} columns "
                f"({self.codec.summary()}), {sizes}{labels}, {missing} missing cells"
            )
        if self.kind == "text":
            info = self.info
            labels = ", labels" if self.y_train is not None else ""
            truncated = info.get("truncated") or {}
            cut = ""
            if any(truncated.values()):
                cut = ", truncated " + " / ".join(f"{s} {n}" for s, n in truncated.items())
            return (
                f"{self.name}: {info.get('tokens')} tokens, vocabulary {info.get('vocab_size')}, "
                f"max length {info.get('max_length')}, {sizes}{labels}{cut}"
            )
        h, w, c = self.shape
        labels = "labels" if self.y_train is not None else "no labels"
        binarize = self.info.get("binarize", "none")
        extra = f", binarize={binarize}" if binarize != "none" else ""
        return f"{self.name}: {h}x{w}x{c} images, {sizes}, {labels}{extra}"


@dataclass
class Source:
    """What a loader read, before splitting.

    Attributes:
        splits: `{"train": (x, y), ...}`; "train" is always there, "val" and "test" when the source
            has its own. Arrays are already checked with `as_images` / `as_labels`.
        source: where the data came from (a path, URL or generator), for `Dataset.info["source"]`.
        label_names: names of the label classes or factors, or `None`.
        kind: `"images"` (the arrays are checked images) or `"text"` (1-D object arrays of lines,
            encoded after splitting, by a vocabulary built on the training split).
        eight_bit: True when every image came from 8-bit integers (values are multiples of 1/255).
        prebinarized: True when the data is already a fixed binarization (binarize is then a no-op).
        extra_info: more entries for `Dataset.info` (e.g. "shape_names").
    """

    splits: dict
    source: str
    label_names: list | None = None
    eight_bit: bool = False
    prebinarized: bool = False
    extra_info: dict = field(default_factory=dict)
    kind: str = "images"

    def __post_init__(self):
        if "train" not in self.splits:
            raise DataError(f"{self.source} has no training images: expected a 'train' split.")
        shapes = {name: x.shape[1:] for name, (x, _) in self.splits.items()}
        first = shapes["train"]
        for name, shape in shapes.items():
            if shape != first:
                raise DataError(
                    f"Splits of {self.source} have different image shapes: expected "
                    f"{_fmt_shape(first)} like train, received {_fmt_shape(shape)} in {name}."
                )
        has_labels = {name for name, (_, y) in self.splits.items() if y is not None}
        if has_labels and has_labels != set(self.splits):
            missing = sorted(set(self.splits) - has_labels)
            raise DataError(
                f"{self.source} has labels for some splits only: expected labels for every split "
                f"or none, received none for {', '.join(missing)}."
            )


def as_images(array, what: str) -> tuple[np.ndarray, bool]:
    """Checks an image array and converts it to float32 `(n, H, W, C)` in `[0, 1]`.

    Accepted shapes: `(n, H, W)`, `(n, H, W, C)` with C in {1, 3}, or `(n, D)` with D a perfect
    square (read as square grey images). Integer arrays must hold 0..255 and are divided by 255;
    booleans become 0/1; floats must be finite and already in `[0, 1]`.

    Args:
        array: the images, any array-like.
        what: how to name the array in error messages, e.g. `"x_train in /a/b.npz"`.

    Returns:
        `(images, eight_bit)`: the float32 images and whether all values are multiples of 1/255.
    """
    x = np.asarray(array)
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{what} has dtype {x.dtype}: expected numeric images (uint8 or floats in [0, 1])."
        )
    if x.ndim == 2:
        n, d = x.shape
        side = math.isqrt(d)
        if d == 0 or side * side != d:
            raise DataError(
                f"{what} has flat images of {d} values: expected a perfect square number of "
                "pixels (e.g. 784 = 28x28), or arrays shaped (n, H, W) or (n, H, W, C)."
            )
        x = x.reshape(n, side, side, 1)  # (n, H, W, 1)
    elif x.ndim == 3:
        x = x[..., None]  # (n, H, W, 1)
    elif x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(
            f"{what} has shape {x.shape}: expected (n, H, W), (n, H, W, C) with C=1 or 3, "
            "or (n, H*W) flat square images."
        )
    if x.size == 0:
        raise DataError(f"{what} is empty (shape {x.shape}): expected at least one image.")

    if x.dtype.kind == "b":
        return x.astype(np.float32), True
    if x.dtype.kind in "iu":
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{what} has integers in [{lo}, {hi}]: {_RANGE_HINT}.")
        out = x.astype(np.float32)
        np.divide(out, np.float32(255), out=out)
        return out, True

    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        raise DataError(f"{what} has {bad} NaN or infinite values: {_RANGE_HINT}.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{what} has values in [{lo:g}, {hi:g}]: {_RANGE_HINT}.")
    out = x.astype(np.float32, copy=False)
    return out, _is_eight_bit(out)


def as_labels(array, n: int, what: str) -> np.ndarray | None:
    """Checks labels for `n` images: int64 `(n,)` class ids or float32 `(n, F)` factors."""
    if array is None:
        return None
    y = np.asarray(array)
    if y.ndim == 0 or len(y) != n:
        count = "a scalar" if y.ndim == 0 else f"{len(y)} labels"
        raise DataError(f"{what} has {count} for {n} images: expected one label per image.")
    if y.dtype.kind in "biu":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise DataError(
                f"{what} has shape {y.shape}: expected integer class ids of shape (n,)."
            )
        if y.dtype.kind == "i" and n and y.min() < 0:
            raise DataError(f"{what} has negative class ids: expected ids 0, 1, 2, ...")
        if y.dtype.kind == "u" and n and y.max() > np.iinfo(np.int64).max:
            raise DataError(f"{what} has class ids above 2**63 - 1: expected ids 0, 1, 2, ...")
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if y.ndim == 1:
            y = y[:, None]  # (n, 1)
        if y.ndim != 2:
            raise DataError(f"{what} has shape {y.shape}: expected float factors of shape (n, F).")
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused
            y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise DataError(
                f"{what} has NaN, infinite or huge (beyond float32) values: expected finite factors."
            )
        return y
    raise DataError(f"{what} has dtype {y.dtype}: expected integer class ids or float factors.")


def check_options(val_fraction, binarize, limit, seed) -> None:
    """Raises `DataError` when a `load_dataset` option is out of range."""
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, numbers.Real)
        or not 0.0 < float(val_fraction) <= 0.5
    ):
        raise DataError(
            f"Expected val_fraction in (0, 0.5]. Received: val_fraction={val_fraction!r}"
        )
    if binarize not in BINARIZE_MODES:
        raise DataError(
            f"Expected binarize to be one of {', '.join(BINARIZE_MODES)}. "
            f"Received: binarize={binarize!r}"
        )
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1
    ):
        raise DataError(
            f"Expected limit to be a positive integer or None. Received: limit={limit!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DataError(f"Expected seed to be a non-negative integer. Received: seed={seed!r}")


def split_source(source: Source, *, val_fraction: float, limit, seed: int) -> dict:
    """`{"train": (x, y), "val": ..., "test": ...}`: a source's splits, carved and limited.

    Kind-agnostic (the arrays only need indexing). A single pool first gives `val_fraction` of
    itself to a test split, then the rest gives the same fraction to validation; then `limit` keeps
    a random subset of each split. Every choice depends only on `seed`, in its own random stream.
    """
    splits = dict(source.splits)
    unit = "images" if source.kind == "images" else "examples"  # for messages
    if "test" not in splits:  # a single pool: carve the test split first, then validation
        splits["train"], splits["test"] = _carve(
            splits["train"], val_fraction, _rng(seed, _STREAM_TEST), "test", source.source, unit
        )
    if "val" not in splits:
        splits["train"], splits["val"] = _carve(
            splits["train"],
            val_fraction,
            _rng(seed, _STREAM_VAL),
            "validation",
            source.source,
            unit,
        )
    if limit is not None:
        for i, split in enumerate(SPLIT_NAMES):
            splits[split] = _subset(splits[split], int(limit), _rng(seed, _STREAM_LIMIT, i))
    return splits


def build_dataset(
    name: str, source: Source, *, val_fraction: float, binarize: str, limit, seed: int
) -> Dataset:
    """Splits, limits and binarizes an image `Source` into a `Dataset` (see `load_dataset`)."""
    splits = split_source(source, val_fraction=val_fraction, limit=limit, seed=seed)
    eight_bit = source.eight_bit
    if binarize == "static" and not source.prebinarized:
        rng = _rng(seed, _STREAM_BINARIZE)  # one stream for all splits, in order train, val, test
        for split in SPLIT_NAMES:
            x, y = splits[split]
            splits[split] = (sample_binary(x, rng), y)
        eight_bit = True

    info = {
        "kind": "images",
        "source": source.source,
        "label_names": source.label_names,
        "binary": all(_is_binary(splits[s][0]) for s in SPLIT_NAMES),
        "eight_bit": bool(eight_bit),
        "binarize": binarize,
        **source.extra_info,
    }
    return Dataset.from_splits(name, splits, info)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *stream])


def _carve(pair, fraction, rng, what, source, unit="images"):
    """Moves a random `fraction` of `pair = (x, y)` into a new split; both keep their order."""
    x, y = pair
    n = len(x)
    k = max(1, round(fraction * n))
    if n - k < 1:
        raise DataError(
            f"{source} has only {n} training {unit}: too few to carve a {what} split "
            f"(expected at least 3 {unit} for a single pool, 2 with a separate test split)."
        )
    perm = rng.permutation(n)
    part, rest = np.sort(perm[:k]), np.sort(perm[k:])
    return _take(pair, rest), _take(pair, part)


def _subset(pair, limit, rng):
    """A random subset of at most `limit` examples, in the original order."""
    n = len(pair[0])
    if n <= limit:
        return pair
    return _take(pair, np.sort(rng.permutation(n)[:limit]))


def _take(pair, index):
    x, y = pair
    return x[index], (None if y is None else y[index])


def sample_binary(x, rng, chunk=8192):
    """Static binarization: each pixel is 1 with probability equal to its grey value."""
    out = np.empty_like(x)
    for start in range(0, len(x), chunk):  # chunks keep the uniform noise small in memory
        part = x[start : start + chunk]
        noise = rng.random(part.shape, dtype=np.float32)  # (chunk, H, W, C) in [0, 1)
        out[start : start + chunk] = noise < part
    return out


def _is_binary(x) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _is_eight_bit(x) -> bool:
    scaled = x * np.float32(255)
    return bool(np.all(np.abs(scaled - np.rint(scaled)) < 1e-3))


def _fmt_shape(shape) -> str:
    return "x".join(str(d) for d in shape)
