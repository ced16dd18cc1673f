"""Pictures from numpy arrays. Nothing here knows about models or Keras.

Images are float arrays in [0, 1], `(n, H, W, C)` with C = 1 (grey) or 3 (RGB).
"""

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
        raise ValueError(
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


def save_png(image, path, scale=1):
    """Write a float `(H, W, C)` image to a PNG, atomically (a temporary file, then a rename)."""
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Image.fromarray(to_uint8(image, scale)).save(tmp, format="PNG")
    except OSError as exc:
        raise VaekitError(f"Cannot write image to {path}: {exc.strerror or exc}.") from None
    return path


def _default_scale(image_size):
    # Small images (MNIST's 28 px) are enlarged so a grid is legible without zooming.
    return max(1, 64 // max(image_size))


def save_image_grid(images, path, ncols=None, scale=None):
    """Tile images into a grid and write it as a PNG. Returns the path."""
    images = np.asarray(images)
    scale = scale or _default_scale(images.shape[1:3])
    return save_png(image_grid(images, ncols=ncols), path, scale=scale)


def save_reconstruction_grid(originals, reconstructions, path, ncols=None, scale=None):
    """Originals in the odd rows, their reconstructions right below them. Returns the path."""
    originals, reconstructions = np.asarray(originals), np.asarray(reconstructions)
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
    return save_png(image_grid(np.concatenate(rows), ncols=ncols), path, scale=scale)
