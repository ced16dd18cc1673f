"""JSON in, arrays in; arrays out, JSON out: each kind of data in the form a client writes it.

- images: nested lists `(H, W, C)` (or `(H, W)` for one channel) of values in [0, 1], or base64
  PNG strings (a `data:image/png;base64,` prefix is allowed); out as nested lists or PNGs;
- text: strings, read with the model's vocabulary; out as strings;
- tables: objects `{column: cell}` (a missing key or null is a missing cell), read with the model's
  schema; out as objects in the table's own form (category names, integers as integers).

Every problem raises `PayloadError` naming the example and what was expected; the server answers it
with a 422 JSON error.
"""

import base64
import binascii
import io
import math

import numpy as np
import orjson

from vaekit.errors import VaekitError

PNG_PREFIX = "data:image/png;base64,"


class PayloadError(VaekitError):
    """A request's data does not fit the model (shape, type, range, vocabulary, schema)."""


def read_inputs(model, codec, kind, items, what="inputs"):
    """A model's input array `(n, *data_shape)` from the JSON list `items` of one kind of data."""
    if not isinstance(items, list) or not items:
        raise PayloadError(f"Expected `{what}` to be a non-empty list. Received: {_type(items)}")
    if kind == "text":
        if not all(isinstance(line, str) for line in items):
            i = next(i for i, line in enumerate(items) if not isinstance(line, str))
            raise PayloadError(f"Expected {what}[{i}] to be a string. Received: {_type(items[i])}")
        return codec.encode_examples(items)
    if kind == "table":
        return codec.encode(_table(codec, items, what))
    return np.stack(
        [_image(model.data_shape, item, f"{what}[{i}]") for i, item in enumerate(items)]
    )


def write_outputs(codec, kind, x, image_format="list"):
    """JSON-able outputs of one kind from model outputs `x`: a float32 array (nested lists once
    written) or base64 PNGs of images, strings (text: `x` are token ids), objects (tables: `x` are
    encoded rows)."""
    if kind == "text":
        return codec.decode(x)
    if kind == "table":
        columns = codec.decode(x, observed=False)
        names = list(columns)
        return [{name: _plain(columns[name][i]) for name in names} for i in range(len(x))]
    x = np.clip(np.asarray(x, dtype="float32"), 0.0, 1.0)
    if image_format == "png":
        return [PNG_PREFIX + base64.b64encode(png_bytes(image)).decode("ascii") for image in x]
    return x  # written as JSON lists by the server (`orjson`)


def json_response(content):
    """An HTTP response of `content` written by orjson, numpy arrays included as they are (float32
    in its shortest form): the standard encoder, after `tolist`, spent most of a decode request's
    time writing the numbers of one image."""
    from starlette.responses import Response

    return Response(
        orjson.dumps(
            content,
            default=_fallback,
            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        ),
        media_type="application/json",
    )


def _fallback(value):
    """What orjson leaves to Python: arrays that are not C-contiguous, numpy scalars of other types."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} as JSON")


def read_latents(z, latent_dim, what="z"):
    """float32 `(n, latent_dim)` from a JSON list of latent vectors."""
    array = _numbers(z, what)
    if array.ndim != 2 or array.shape[1] != latent_dim or not len(array):
        raise PayloadError(
            f"Expected `{what}` as a list of latent vectors of length {latent_dim}. Received: "
            f"shape {list(array.shape)}"
        )
    return array


def read_condition(model, codec, condition, n):
    """A conditional model's condition values `(n, width)` from one value or a list of `n`, or
    None when the request gives none (the caller decides whether that is allowed)."""
    if condition is None:
        return None
    if not model.conditioned or codec is None or not hasattr(codec, "encode_condition"):
        raise PayloadError("Expected no `condition`: this model is not conditional.")
    cells = condition if isinstance(condition, list) else [condition] * n
    if len(cells) != n:
        raise PayloadError(
            f"Expected one condition value, or {n} (one per example). Received: {len(cells)}"
        )
    if not all(isinstance(c, (str, bool, int, float)) for c in cells):
        raise PayloadError("Expected condition values to be strings, numbers or booleans.")
    return codec.encode_condition([str(c) if not isinstance(c, str) else c for c in cells])


def png_bytes(image):
    """PNG bytes of one image `(H, W, C)` with values in [0, 1]."""
    from PIL import Image

    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype("uint8")
    channels = pixels.shape[-1]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise PayloadError(f"Cannot write an image of {channels} channels as PNG.")
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(buffer, "PNG")
    return buffer.getvalue()


# --- images -------------------------------------------------------------------------------------


def _image(shape, item, what):
    height, width, channels = shape
    if isinstance(item, str):
        return _png(item, shape, what)
    array = _numbers(item, what)
    if array.shape == (height, width) and channels == 1:
        array = array[..., None]
    if array.shape != tuple(shape):
        raise PayloadError(
            f"Expected {what} of shape {list(shape)} (or a base64 PNG of {width}x{height}). "
            f"Received: shape {list(array.shape)}"
        )
    if array.size and (array.min() < 0 or array.max() > 1):
        raise PayloadError(
            f"Expected {what} to hold values in [0, 1]. Received: values in "
            f"[{array.min():.4g}, {array.max():.4g}]"
        )
    return array


def _png(text, shape, what):
    from PIL import Image, UnidentifiedImageError

    height, width, channels = shape
    data = text[len(PNG_PREFIX) :] if text.startswith(PNG_PREFIX) else text
    try:
        raw = base64.b64decode(data, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG":
                raise PayloadError(f"Expected {what} to be a PNG. Received: {image.format}")
            if image.size != (width, height):
                raise PayloadError(
                    f"Expected {what} to be a {width}x{height} PNG. Received: "
                    f"{image.size[0]}x{image.size[1]}"
                )
            image = image.convert("L" if channels == 1 else "RGB")
            pixels = np.asarray(image, dtype="float32") / 255.0
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"Expected {what} to be base64 PNG data. Received: {exc}") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise PayloadError(
            f"Expected {what} to be a PNG image. Received: unreadable data"
        ) from None
    return pixels.reshape(shape) if channels == 1 else pixels


def _numbers(value, what):
    """A float32 array from nested JSON lists of numbers, refusing ragged lists, NaN and text."""
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise PayloadError(
            f"Expected {what} to be (nested lists of) numbers of one shape. Received: ragged "
            "lists or values that are not numbers"
        ) from None
    if array.dtype == object or _has_bool(value):
        raise PayloadError(f"Expected {what} to hold numbers. Received: other values")
    if not np.all(np.isfinite(array)):
        raise PayloadError(f"Expected {what} to hold finite numbers. Received: NaN or infinity")
    if np.any(np.abs(array) > np.finfo("float32").max):
        raise PayloadError(f"Expected {what} to hold numbers within float32 range.")
    return array.astype("float32")


def _has_bool(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            return True
        if isinstance(v, list):
            stack.extend(v[:1])  # one element per level: the shape check covers the rest
    return False


# --- tables -------------------------------------------------------------------------------------


def _table(schema, rows, what):
    names = schema.names
    known = set(names)
    table = np.empty(len(rows), dtype=[(name, object) for name in names])
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise PayloadError(
                f"Expected {what}[{i}] to be an object of column values. Received: {_type(row)}"
            )
        unknown = [key for key in row if key not in known]
        if unknown:
            raise PayloadError(
                f"Unknown column {unknown[0]!r:.60} in {what}[{i}]; expected columns: "
                f"{', '.join(names[:20])}{', ...' if len(names) > 20 else ''}"
            )
        for name in names:
            cell = row.get(name)
            if cell is not None and not isinstance(cell, (str, int, float, bool)):
                raise PayloadError(
                    f"Expected {what}[{i}][{name!r}] to be a string, number, boolean or null. "
                    f"Received: {_type(cell)}"
                )
            if isinstance(cell, float) and not math.isfinite(cell):
                cell = None  # NaN is how pandas writes a missing cell
            table[name][i] = cell
    return table


def _plain(value):
    """A JSON-able Python value (numpy scalars become int, float, bool)."""
    return value.item() if isinstance(value, np.generic) else value


def _type(value):
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
