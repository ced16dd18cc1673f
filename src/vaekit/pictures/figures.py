"""Labelled figures from numpy arrays: traversals, manifolds, interpolations, latent maps, curves.

Drawn with matplotlib's object API (never pyplot, so no global state changes), imported inside the
functions so that importing vaekit stays cheap. As in `vaekit.pictures.plots`, each `X_png(...)` returns PNG
bytes and `save_X(..., path)` writes them atomically. Nothing here knows about models or Keras.
"""

import io
import math

import numpy as np

from vaekit.errors import VaekitError
from vaekit.pictures.plots import _image_array, image_grid, write_png_bytes

_DPI = 100
_FIRST_METRICS = ("loss", "reconstruction", "kl")  # curves drawn first, in "nats"
# history.csv columns that are not training curves: the epoch number, the wall time of each epoch
_NOT_CURVES = {"epoch", "epoch_seconds"}


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _figure_png(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


def _vector(values, length, name, what):
    values = np.asarray(values)
    if values.shape != (length,):
        raise VaekitError(
            f"Expected {name} with one entry per {what} ({length}). Received: shape={values.shape}"
        )
    return values


def _value_labels(values):
    """Short labels for numbers ("-3.0", "-2.25", "0.5"), with enough decimals to tell them apart."""
    for decimals in (2, 3, 4):
        labels = [f"{float(v):.{decimals}f}".rstrip("0") for v in values]
        labels = [
            "0.0" if x in ("0.", "-0.") else x + "0" if x.endswith(".") else x for x in labels
        ]
        if len(set(labels)) == len(labels):
            break
    return [label.replace("-", "\N{MINUS SIGN}") for label in labels]


def _tiles_figure(tiles, pad, min_tile):
    """A figure showing `(R, S, H, W, C)` tiles as one image; returns it, its axes and tile centres.

    Tiles are `pad` pixels apart (`None`: about 1/16 of a tile) and drawn up to 1.1 inches wide, so
    the grid stays within about 9 x 11 inches when it can, but never under `min_tile` inches a side.
    The figure has room for labels and titles around the grid; `_figure_png` crops white space.
    """
    rows, cols, h, w, c = tiles.shape
    pad = max(1, round(max(h, w) / 16)) if pad is None else pad
    grid = image_grid(tiles.reshape(rows * cols, h, w, c), ncols=cols, pad=pad)
    tile = max(min_tile * max(1.0, w / h), min(1.1, 9.0 / cols, 11.0 * w / (h * rows)))
    fig = _figure(max(5.5, cols * tile + 1.0), rows * tile * h / w + 0.9)
    ax = fig.add_subplot()
    if c == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(grid)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(pad == 0)
    xs = pad + np.arange(cols) * (w + pad) + (w - 1) / 2
    ys = pad + np.arange(rows) * (h + pad) + (h - 1) / 2
    return fig, ax, xs, ys


def _column_header(ax, xs, labels, title):
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xticks(xs, labels)
    ax.set_xlabel(title)


def traversal_png(images, dims, kl, values):
    """Latent traversals: row i sweeps dimension `dims[i]` (average KL `kl[i]`) over `values`.

    Args:
        images: `(D, V, H, W, C)`, `images[i, j]` decoded with z[dims[i]] = values[j].
        dims: `(D,)` latent dimensions, most informative first.
        kl: `(D,)` their average KL (nats).
        values: `(V,)` the values swept.
    """
    images = _image_array(images, 5, "traversal images", "(dims, values, H, W, C)")
    dims = _vector(dims, images.shape[0], "dims", "row of images")
    kl = _vector(kl, images.shape[0], "kl", "row of images")
    values = _vector(values, images.shape[1], "values", "column of images")
    fig, ax, xs, ys = _tiles_figure(images, None, min_tile=0.5)
    _column_header(ax, xs, _value_labels(values), "value of the latent dimension")
    ax.set_yticks(ys, [f"z{int(d)}\nKL {float(k):.2f}" for d, k in zip(dims, kl, strict=True)])
    ax.set_title("Latent traversals (rows ordered by average KL)")
    return _figure_png(fig)


def manifold_png(images, dims, values):
    """A 2-D latent manifold drawn as one image with the latent values on its axes.

    Args:
        images: `(n, n, H, W, C)`; `images[i, j]` decoded with z[dims[0]] = values[j] (left to
            right) and z[dims[1]] = values[n - 1 - i] (top to bottom), as `generation.manifold`.
        dims: The two latent dimensions.
        values: `(n,)` the values of the grid, increasing.
    """
    images = _image_array(images, 5, "manifold images", "(n, n, H, W, C)")
    if images.shape[0] != images.shape[1]:
        raise VaekitError(
            f"Expected manifold images of shape (n, n, H, W, C). Received: shape={images.shape}"
        )
    dims = _vector(dims, 2, "dims", "axis of the manifold")
    values = _vector(values, images.shape[0], "values", "row and column of images")
    fig, ax, xs, ys = _tiles_figure(images, 0, min_tile=0.12)
    n = len(values)
    step = 1 if n <= 12 else math.ceil(n / 7)  # every tile up to 12, then about 7 ticks
    shown = np.arange(((n - 1) % step) // 2, n, step)  # evenly spaced, centred
    labels = _value_labels(values)
    ax.set_xticks(xs[shown], [labels[j] for j in shown])
    ax.set_yticks(ys[shown], [labels[n - 1 - i] for i in shown])
    ax.tick_params(length=4, direction="out")
    ax.set_xlabel(f"z{int(dims[0])}")
    ax.set_ylabel(f"z{int(dims[1])}")
    ax.set_title("2-D latent manifold")
    return _figure_png(fig)


def interpolation_png(rows, labels=None):
    """Interpolations, one path per row from its first image to its last.

    Args:
        rows: `(R, S, H, W, C)` decoded points along each path (the end points included).
        labels: Optional `(R,)` names for the rows, e.g. `["linear", "slerp"]`.
    """
    rows = _image_array(rows, 5, "interpolation rows", "(rows, steps, H, W, C)")
    if labels is not None:
        labels = [str(label) for label in _vector(labels, len(rows), "labels", "row of images")]
    fig, ax, xs, ys = _tiles_figure(rows, None, min_tile=0.5)
    fractions = np.linspace(0.0, 1.0, rows.shape[1]) if rows.shape[1] > 1 else np.zeros(1)
    _column_header(ax, xs, [f"{t:.2g}" for t in fractions], "fraction of the way")
    ax.set_yticks([] if labels is None else ys, labels)
    ax.set_title("Interpolation between two points")
    return _figure_png(fig)


def latent_map_png(points, labels=None, label_names=None, explained=None, title=None):
    """A scatter plot of 2-D latent points, coloured by label.

    Args:
        points: `(n, 2)` latent means (or their 2-D PCA projection).
        labels: Optional `(n,)` labels: integer class ids (or strings) with at most 20 classes
            get one colour each and a legend; floats (or more classes) a colour map and colour bar.
        label_names: Optional names for integer class ids: a list indexed by id, or a dict.
        explained: The share of variance the 2-D view keeps; below 1 the axes are "PC1"/"PC2".
        title: The figure title; default says what the axes are.
    """
    import matplotlib

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise VaekitError(f"Expected points of shape (n, 2). Received: shape={points.shape}")
    if not np.isfinite(points).all():
        raise VaekitError("Expected finite points. Received: points with NaN or infinite values")
    n = len(points)
    pca = explained is not None and float(explained) < 1.0
    if title is None:
        title = f"Latent means (PCA, {float(explained):.0%} of variance)" if pca else "Latent means"
    fig = _figure(7.5, 6.0)
    ax = fig.add_subplot()
    size, alpha = float(np.clip(12000 / n, 6, 30)), float(np.clip(1500 / n, 0.45, 0.9))
    style = dict(s=size, alpha=alpha, linewidths=0, rasterized=True)
    if labels is not None:
        labels = np.asarray(labels)
        labels = _vector(labels[:, 0] if labels.shape[1:] == (1,) else labels, n, "labels", "point")
    classes = None if labels is None else np.unique(labels)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], color="C0", **style)
    elif labels.dtype.kind in "biuUSO" and len(classes) <= 20:
        from matplotlib.lines import Line2D

        k = len(classes)
        cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
        shades = np.arange(k) if k <= 10 else (2 * np.arange(k)) % 20 + (2 * np.arange(k)) // 20
        colours = cmap(shades[np.searchsorted(classes, labels)])  # tab20: the dark shades first
        order = np.random.default_rng(0).permutation(n)  # no class hides under the next one
        ax.scatter(points[order, 0], points[order, 1], color=colours[order], **style)
        names = [_class_name(cls, label_names) for cls in classes]
        handles = [Line2D([], [], ls="", marker="o", color=cmap(i)) for i in shades]
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        if labels.dtype.kind not in "biuf":
            raise VaekitError(
                f"Expected numeric labels or at most 20 classes. Received: {len(classes)} classes"
            )
        order = np.argsort(labels, kind="stable")  # draw high values last, on top
        drawn = ax.scatter(
            points[order, 0], points[order, 1], c=labels[order], cmap="viridis", **style
        )
        opaque = matplotlib.cm.ScalarMappable(norm=drawn.norm, cmap=drawn.cmap)
        fig.colorbar(opaque, ax=ax, label="label")
    ax.set_xlabel("PC1" if pca else "z1")
    ax.set_ylabel("PC2" if pca else "z2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def _class_name(cls, label_names):
    cls = cls.item()  # a numpy scalar -> int / str
    try:
        return str(cls if label_names is None else label_names[cls])
    except (KeyError, IndexError, TypeError):
        return str(cls)


def curves_png(history):
    """Training curves, one panel per metric: training solid, validation dashed.

    Args:
        history: `{metric: per-epoch values}` as in history.csv, e.g. `loss`, `val_loss`, `kl`;
            the `epoch` and `epoch_seconds` columns are not drawn; epochs are numbered from 1.
    """
    if not hasattr(history, "items"):
        raise VaekitError(
            f"Expected a history dict of metric -> per-epoch values. Received: {type(history)}"
        )
    series = {}
    for key, values in history.items():
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            values = np.empty((0, 0))
        if values.ndim != 1:
            raise VaekitError(
                f"Expected a list of numbers per epoch for {key!r}. Received: {history[key]!r:.80}"
            )
        if key not in _NOT_CURVES and values.size:
            series[str(key)] = values
    if not series:
        raise VaekitError(
            f"Expected a history with at least one epoch of a metric. Received: keys={list(history)}"
        )
    bases = sorted(  # loss, reconstruction, kl first, then the others in their order
        dict.fromkeys(k.removeprefix("val_") for k in series),
        key=lambda m: _FIRST_METRICS.index(m) if m in _FIRST_METRICS else len(_FIRST_METRICS),
    )
    ncols = 2 if len(bases) == 4 else min(3, len(bases))
    nrows = math.ceil(len(bases) / ncols)
    fig = _figure(4.0 * ncols, 3.0 * nrows + 0.4)
    for i, metric in enumerate(bases):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for key, label, style in ((metric, "training", "-"), (f"val_{metric}", "validation", "--")):
            if key in series:
                values = series[key]
                epochs = np.arange(1, len(values) + 1)
                marker = "o" if len(values) <= 30 else None
                ax.plot(epochs, values, style, marker=marker, markersize=3, label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        if metric in _FIRST_METRICS:
            ax.set_ylabel("nats")
        ax.xaxis.get_major_locator().set_params(integer=True, min_n_ticks=1)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Training curves")
    return _figure_png(fig)


def save_traversal(images, dims, kl, values, path):
    """Write `traversal_png(images, dims, kl, values)` to `path`. Returns the path."""
    return write_png_bytes(traversal_png(images, dims, kl, values), path)


def save_manifold(images, dims, values, path):
    """Write `manifold_png(images, dims, values)` to `path`. Returns the path."""
    return write_png_bytes(manifold_png(images, dims, values), path)


def save_interpolation(rows, path, labels=None):
    """Write `interpolation_png(rows, labels)` to `path`. Returns the path."""
    return write_png_bytes(interpolation_png(rows, labels=labels), path)


def save_latent_map(points, path, labels=None, label_names=None, explained=None, title=None):
    """Write `latent_map_png(...)` to `path`. Returns the path."""
    png = latent_map_png(points, labels, label_names, explained=explained, title=title)
    return write_png_bytes(png, path)


def save_curves(history, path):
    """Write `curves_png(history)` to `path`. Returns the path."""
    return write_png_bytes(curves_png(history), path)
