"""Image grids from numpy arrays, and writing PNGs safely. Nothing here knows about models or Keras.

Images are float arrays in [0, 1], `(..., H, W, C)` with C = 1 (grey) or 3 (RGB).

Each picture exists twice: `X_png(...) -> bytes` (a PNG in memory, which the HTML report embeds)
and `save_X(..., path) -> Path`, which writes those bytes atomically. Grids are drawn with PIL;
the labelled figures (traversals, manifolds, latent maps, curves) live in `vaekit.pictures.figures`.
"""

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from vaekit.atomic import atomic_path
from vaekit.errors import VaekitError


def image_grid(images, ncols=None, pad=2, pad_value=1.0):
    """Tile `(n, H, W, C)` images into one `(rows*H', cols*W', C)` float array, row-major.

    Args:
        images: Float array in [0, 1], `(n, H, W, C)` or `(n, H, W)`.
        ncols: Images per row; default: a near-square grid.
        pad: Pixels of `pad_value` between and around tiles.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise VaekitError(
            f"Expected images of shape (n, H, W, 1 or 3) with n >= 1. Received: {images.shape}"
        )
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = img
    return np.clip(grid, 0.0, 1.0)


def to_uint8(image, scale=1):
    """A float `(H, W, C)` image in [0, 1] as uint8, enlarged `scale` times by pixel repetition."""
    image = np.asarray(image)
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    out = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out


# --- Writing -------------------------------------------------------------------------------------


def _check_png_path(path):
    """The path as a `Path`, or a `VaekitError` saying why no PNG can be written there."""
    path = Path(path)
    if path.is_dir():
        raise VaekitError(
            f"Cannot write image to {path}: it is a directory; expected a .png file path."
        )
    if path.suffix.lower() != ".png":
        raise VaekitError(f"Expected an output path ending in .png. Received: {path}")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # mkdir would say only "File exists" or "Not a directory"
        raise VaekitError(f"Cannot write image to {path}: {blocker} is a file, not a folder.")
    return path


def write_png_bytes(data, path):
    """Write PNG bytes (from one of the `*_png` functions) to `path` atomically. Returns the path."""
    path = _check_png_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise VaekitError(f"Cannot write image to {path}: {exc.strerror or exc}.") from None
    return path


def _encode(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_bytes(image, scale=1):
    """A float `(H, W, C)` image as PNG bytes, enlarged `scale` times by pixel repetition."""
    return _encode(Image.fromarray(to_uint8(image, scale)))


def _image_array(images, ndim, name, layout):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != ndim or images.shape[-1] not in (1, 3) or 0 in images.shape:
        raise VaekitError(
            f"Expected {name} of shape {layout} with C = 1 or 3. Received: shape={images.shape}"
        )
    return images


# --- Image grids (PIL) ---------------------------------------------------------------------------


def _default_scale(image_size):
    # Small images (MNIST's 28 px) are enlarged so a grid is legible without zooming.
    return max(1, 64 // max(image_size))


def _with_title(image, title):
    """A PIL image with a white band above it holding `title` in black."""
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=16)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType: the bitmap font
        font = ImageFont.load_default()
    _, _, text_w, text_h = ImageDraw.Draw(image).textbbox((0, 0), title, font=font)
    band = text_h + 10
    out = Image.new(image.mode, (max(image.width, text_w + 10), image.height + band), "white")
    out.paste(image, ((out.width - image.width) // 2, band))
    ImageDraw.Draw(out).text(((out.width - text_w) // 2, 5), title, fill="black", font=font)
    return out


def grid_png(images, ncols=None, title=None, scale=None):
    """`(n, H, W, C)` images tiled into a grid (see `image_grid`), as PNG bytes.

    Args:
        ncols: Images per row; default: a near-square grid.
        title: Optional text written above the grid.
        scale: Integer enlargement; default: small images are enlarged to about 64 px.
    """
    grid = image_grid(images, ncols=ncols)  # checks the shape
    scale = scale or _default_scale(np.shape(images)[1:3])
    image = Image.fromarray(to_uint8(grid, scale))
    return _encode(_with_title(image, str(title)) if title else image)


def reconstruction_png(originals, reconstructions, ncols=None, scale=None):
    """Originals in the odd rows, their reconstructions right below them, as PNG bytes."""
    originals = _image_array(originals, 4, "originals", "(n, H, W, C)")
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if originals.shape != reconstructions.shape:
        raise VaekitError(
            f"Expected originals and reconstructions of one shape. Received: {originals.shape} and "
            f"{reconstructions.shape}"
        )
    n = len(originals)
    ncols = ncols or min(n, 10)
    rows = []
    for start in range(0, n, ncols):
        chunk_o, chunk_r = originals[start : start + ncols], reconstructions[start : start + ncols]
        if len(chunk_o) < ncols:  # pad the last pair of rows so the pairs stay aligned
            blank = np.ones((ncols - len(chunk_o), *originals.shape[1:]), originals.dtype)
            chunk_o, chunk_r = np.concatenate([chunk_o, blank]), np.concatenate([chunk_r, blank])
        rows.extend([chunk_o, chunk_r])
    scale = scale or _default_scale(originals.shape[1:3])
    return png_bytes(image_grid(np.concatenate(rows), ncols=ncols), scale=scale)


def save_image_grid(images, path, ncols=None, scale=None, title=None):
    """Tile images into a grid and write it as a PNG. Returns the path."""
    return write_png_bytes(grid_png(images, ncols=ncols, title=title, scale=scale), path)


def save_reconstruction_grid(originals, reconstructions, path, ncols=None, scale=None):
    """Originals in the odd rows, their reconstructions right below them. Returns the path."""
    png = reconstruction_png(originals, reconstructions, ncols=ncols, scale=scale)
    return write_png_bytes(png, path)
