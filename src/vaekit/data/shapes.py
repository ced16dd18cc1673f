"""`shapes`: a dSprites-style dataset that vaekit renders itself, with known generative factors.

Each image is one white 2-D shape (square, ellipse, triangle or heart) on black, with a random
scale, rotation and x/y position. The five factors are returned as labels, so disentanglement and
latent traversals can be checked against the truth. Nothing is downloaded: the images are rendered
from a seed with vectorized numpy, anti-aliased by 3x3 supersampling and stored as 8-bit grey
levels.

Factors (columns of the label array, float32):
    shape:    0 square, 1 ellipse, 2 triangle, 3 heart.
    scale:    uniform in [0.6, 1]; at scale 1 the shape's bounding circle has radius 0.32 * size
        (about 9 pixels at 28: large enough that a small VAE tells a triangle from a heart).
    rotation: uniform in [0, 2*pi) radians, counter-clockwise on screen.
    pos_x, pos_y: uniform in [0, 1]: the centre moves over [r + 1, size - r - 1] pixels, r = 0.32 *
        size (left to right, top to bottom), so a black pixel always separates the shape from the
        border.
"""

from __future__ import annotations

import numbers

import numpy as np

from vaekit.data.dataset import Source, as_images
from vaekit.errors import DataError

SHAPE_NAMES = ["square", "ellipse", "triangle", "heart"]
FACTOR_NAMES = ["shape", "scale", "rotation", "pos_x", "pos_y"]
TRAIN_SIZE = 20_000  # the training pool (validation is carved from it)
TEST_SIZE = 2_000

_SUPERSAMPLE = 3  # sub-pixels per side used for anti-aliasing
_CHUNK = 128  # images rendered at once: (128, 84, 84) float32 arrays stay a few MB
_RADIUS = 0.32  # bounding-circle radius at scale 1, as a fraction of the image size
_SCALE_RANGE = (0.6, 1.0)
_ELLIPSE_RATIO = 0.5  # minor / major axis; not a circle, so that rotation is visible
# The heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 spans y in [-1, 1.236]; centred on its bounding
# box middle (y = 0.118), all of it lies within 1.337 of the centre.
_HEART_CENTER, _HEART_RADIUS = 0.118, 1.337


def make_shapes(n: int, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Renders `n` random shape images and returns them with their generative factors.

    The same `seed` always gives the same images; the first `k` images of `make_shapes(n, seed)`
    are the images of `make_shapes(k, seed)`.

    Args:
        n: number of images, a positive integer.
        seed: a non-negative integer seeding the factor sampling.
        size: image height and width in pixels (at least 8).

    Returns:
        `(images, factors)`: float32 images of shape `(n, size, size, 1)` with values in `[0, 1]`
        (multiples of 1/255), and float32 factors of shape `(n, 5)` ordered as `FACTOR_NAMES`.

    Example:

    >>> images, factors = make_shapes(16, seed=1)
    >>> images.shape, factors.shape
    ((16, 28, 28, 1), (16, 5))
    """
    images, factors = _make_uint8(n, seed, size)
    return as_images(images, "shapes")[0], factors


def render_shapes(factors, size: int = 28) -> np.ndarray:
    """Renders images for given factors, e.g. to draw a ground-truth traversal of one factor.

    Args:
        factors: `(n, 5)` array ordered as `FACTOR_NAMES`: shape id (0..3), scale in [0.6, 1],
            rotation in radians, pos_x and pos_y in [0, 1]. Values are clipped into range.
        size: image height and width in pixels (at least 8).

    Returns:
        float32 images of shape `(n, size, size, 1)` with values in `[0, 1]`.
    """
    factors = np.asarray(factors, dtype=np.float32)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES) or not len(factors):
        raise DataError(
            f"Expected factors of shape (n, {len(FACTOR_NAMES)}) with n >= 1. "
            f"Received: factors.shape={factors.shape}"
        )
    if not np.isfinite(factors).all():
        raise DataError("Expected finite factors. Received: factors with NaN or infinite values")
    _check_int("size", size, 8)
    lo, hi = _SCALE_RANGE
    factors = np.stack(
        [
            np.clip(np.rint(factors[:, 0]), 0, len(SHAPE_NAMES) - 1),
            np.clip(factors[:, 1], lo, hi),
            np.mod(factors[:, 2], 2 * np.pi),
            np.clip(factors[:, 3], 0, 1),
            np.clip(factors[:, 4], 0, 1),
        ],
        axis=1,
    ).astype(np.float32)
    images, _ = _render_factors(factors, int(size))
    return as_images(images, "shapes")[0]


def load_shapes(*, seed: int, limit: int | None, val_fraction: float, **_) -> Source:
    """The `shapes` dataset: a 20,000 image training pool and 2,000 test images.

    The training pool is `make_shapes(20000, seed)`; the test images come from an independent
    stream of the same seed. With `limit`, only as many images as needed are rendered.
    """
    n_train, n_test = TRAIN_SIZE, TEST_SIZE
    if limit is not None:
        n_test = min(n_test, limit)
        n_train = limit + 1  # enough that `limit` remain after carving validation
        while n_train - max(1, round(val_fraction * n_train)) < limit:
            n_train += 1
        n_train = min(n_train, TRAIN_SIZE)
    x_train, y_train = _make_uint8(n_train, seed, 28)
    x_test, y_test = _render_factors(_sample_factors(np.random.default_rng([seed, 1]), n_test), 28)
    return Source(
        splits={
            "train": (as_images(x_train, "shapes")[0], y_train),
            "test": (as_images(x_test, "shapes")[0], y_test),
        },
        source=f"vaekit.data.make_shapes (seed={seed})",
        label_names=list(FACTOR_NAMES),
        eight_bit=True,
        extra_info={"shape_names": list(SHAPE_NAMES)},
    )


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise DataError(f"Expected {name} to be an integer >= {low}. Received: {name}={value!r}")


def _make_uint8(n, seed, size):
    for name, value, low in (("n", n, 1), ("seed", seed, 0), ("size", size, 8)):
        _check_int(name, value, low)
    factors = _sample_factors(np.random.default_rng(int(seed)), int(n))
    return _render_factors(factors, int(size))


def _sample_factors(rng, n):
    """(n, 5) float32 factors; one `random((n, 5))` draw so a prefix of n rows is seed-stable."""
    u = rng.random((n, 5))  # (n, 5) in [0, 1)
    lo, hi = _SCALE_RANGE
    factors = np.empty((n, 5), np.float32)
    factors[:, 0] = np.minimum(np.floor(u[:, 0] * len(SHAPE_NAMES)), len(SHAPE_NAMES) - 1)
    factors[:, 1] = lo + (hi - lo) * u[:, 1]
    factors[:, 2] = 2 * np.pi * u[:, 2]
    factors[:, 3:] = u[:, 3:]
    return factors


def _render_factors(factors, size):
    """uint8 images (n, size, size, 1) for float32 factors (n, 5); returns (images, factors)."""
    n = len(factors)
    images = np.zeros((n, size, size, 1), np.uint8)
    shape_ids = factors[:, 0].astype(np.int64)
    for shape_id in range(len(SHAPE_NAMES)):  # one shape at a time: each pixel runs one test
        index = np.flatnonzero(shape_ids == shape_id)
        for start in range(0, len(index), _CHUNK):
            chunk = index[start : start + _CHUNK]
            window, rows, cols = _render_chunk(shape_id, factors[chunk], size)
            images[chunk[:, None, None], rows[:, :, None], cols[:, None, :], 0] = window
    return images, factors


def _render_chunk(shape_id, factors, size):
    """Renders `b` images of one shape in the square window around each shape.

    Returns:
        `(window, rows, cols)`: uint8 `(b, w, w)` grey levels and the int `(b, w)` image rows and
        columns they belong to. Pixels outside the window are black.
    """
    b, ss = len(factors), _SUPERSAMPLE
    max_radius = _RADIUS * size
    radius = max_radius * factors[:, 1].astype(np.float64)  # (b,) pixels
    angle = factors[:, 2].astype(np.float64)
    low, high = max_radius + 1, size - max_radius - 1  # one black pixel between shape and edge
    cx = low + (high - low) * factors[:, 3].astype(np.float64)  # (b,) centre, pixel coordinates
    cy = low + (high - low) * factors[:, 4].astype(np.float64)

    # Only the w x w pixels around the centre can be covered (a third of the work at size 28).
    half = int(np.ceil(max_radius)) + 1
    w = 2 * half
    x0 = np.clip(np.floor(cx).astype(np.int64) - half, 0, size - w)  # (b,) window corner
    y0 = np.clip(np.floor(cy).astype(np.int64) - half, 0, size - w)
    sub = (np.arange(w * ss, dtype=np.float64) + 0.5) / ss  # (S,) sub-pixel centres, S = w * ss
    dx = (x0 - cx)[:, None, None] + sub[None, None, :]  # (b, 1, S)
    dy = (y0 - cy)[:, None, None] + sub[None, :, None]  # (b, S, 1)

    def linear(a, c, offset=0.0):
        """a * dx + c * dy + offset for per-image a, c: the only full-size (b, S, S) work."""
        row = (a[:, None, None] * dx + offset).astype(np.float32)  # (b, 1, S)
        col = (c[:, None, None] * dy).astype(np.float32)  # (b, S, 1)
        return row + col  # (b, S, S)

    # Shape coordinates: rotate the offset by -angle and divide by the radius. On screen y points
    # down, so this turns the shape counter-clockwise by `angle`.
    cos, sin = np.cos(angle) / radius, np.sin(angle) / radius
    if shape_id == 0:  # square with corners on the unit circle
        u, v = linear(cos, -sin), linear(sin, cos)
        np.abs(u, out=u)
        np.abs(v, out=v)
        inside = np.maximum(u, v, out=u) <= np.float32(np.sqrt(0.5))
    elif shape_id == 1:  # ellipse with semi-axes 1 and _ELLIPSE_RATIO
        u = linear(cos, -sin)
        v = linear(sin / _ELLIPSE_RATIO, cos / _ELLIPSE_RATIO)
        u *= u
        v *= v
        inside = (u + v) <= 1
    elif shape_id == 2:  # equilateral triangle, apex up, vertices on the unit circle
        edge = None
        for normal in (np.pi / 2, np.pi * 7 / 6, np.pi * 11 / 6):  # outward normals in (u, v)
            nu, nv = np.cos(normal), np.sin(normal)
            dist = linear(nu * cos + nv * sin, -nu * sin + nv * cos)  # distance along the normal
            edge = dist if edge is None else np.maximum(edge, dist, out=edge)
        inside = edge <= 0.5
    else:  # heart curve, scaled into the unit circle; its y axis points up
        k = _HEART_RADIUS
        x = linear(k * cos, -k * sin)
        y = linear(-k * sin, -k * cos, offset=_HEART_CENTER)
        x *= x  # x^2
        t = x + y * y - 1
        inside = t * t * t <= x * (y * y * y)

    # Anti-aliasing: count covered sub-pixels per pixel (ss x ss blocks), as an 8-bit grey level.
    blocks = inside.view(np.uint8).reshape(b, w, ss, w, ss)
    counts = blocks[..., 0].copy()  # (b, w, ss, w)
    for i in range(1, ss):
        counts += blocks[..., i]
    counts = counts.sum(axis=2, dtype=np.uint8)  # (b, w, w)
    levels = np.round(np.arange(ss * ss + 1) * 255 / (ss * ss)).astype(np.uint8)
    rows = y0[:, None] + np.arange(w)  # (b, w)
    cols = x0[:, None] + np.arange(w)
    return levels[counts], rows, cols
