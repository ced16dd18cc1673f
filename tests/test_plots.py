import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vaekit.errors import VaekitError
from vaekit.pictures.figures import (
    curves_png,
    interpolation_png,
    latent_map_png,
    manifold_png,
    save_curves,
    save_interpolation,
    save_latent_map,
    save_manifold,
    save_traversal,
    traversal_png,
)
from vaekit.pictures.plots import (
    grid_png,
    image_grid,
    reconstruction_png,
    save_image_grid,
    save_reconstruction_grid,
    write_png_bytes,
)


def test_image_grid_layout():
    images = np.zeros((5, 4, 3, 1), "float32")
    images[2] = 1.0
    grid = image_grid(images, ncols=3, pad=1, pad_value=0.5)
    assert grid.shape == (2 * 5 + 1, 3 * 4 + 1, 1)
    # The third image (row 0, column 2) is white, the padding grey.
    assert grid[1:5, 9:12].min() == 1.0 and grid[0, 0, 0] == 0.5
    # Unused cells of the last row stay at the padding value.
    assert grid[6:10, 9:12].min() == 0.5


def test_save_grids_write_pngs_of_the_expected_size(tmp_path):
    rgb = np.random.default_rng(0).random((6, 10, 12, 3)).astype("float32")
    path = save_image_grid(rgb, tmp_path / "sub" / "g.png", ncols=3, scale=2)
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == ((3 * 14 + 2) * 2, (2 * 12 + 2) * 2)
    grey = rgb[..., :1]
    path = save_reconstruction_grid(grey[:5], 1 - grey[:5], tmp_path / "r.png", ncols=5, scale=1)
    with Image.open(path) as im:
        assert im.mode == "L" and im.size == (5 * 14 + 2, 2 * 12 + 2)
        assert np.asarray(im).std() > 10  # not blank


def test_bad_output_paths(tmp_path):
    images = np.zeros((1, 4, 4, 1), "float32")
    with pytest.raises(VaekitError, match=r"ending in \.png"):
        save_image_grid(images, tmp_path / "g.jpg")
    with pytest.raises(VaekitError, match="is a directory"):
        save_image_grid(images, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VaekitError, match="Cannot write image"):
        save_image_grid(images, blocker / "g.png")
    assert blocker.read_text() == "x"


# --- Labelled figures -----------------------------------------------------------------------------


def _blobs(shape, rgb=False):
    """`(*shape, 16, 16, C)` images: a bright disc whose position moves with the flat index."""
    n = int(np.prod(shape))
    yy, xx = np.mgrid[0:16, 0:16]
    images = np.zeros((n, 16, 16, 3 if rgb else 1), "float32")
    for i in range(n):
        cx = 3 + (i * 5) % 10
        images[i, ..., 0] = ((yy - 8) ** 2 + (xx - cx) ** 2 < 12).astype("float32")
        if rgb:  # a red disc on a blue-green gradient
            images[i, ..., 2] = xx / 15
            images[i, ..., 1] = 0.3
    return images.reshape(*shape, 16, 16, -1)


def _pixels(path_or_bytes):
    """The written PNG as an `(H, W, 3)` int array, after checking it is a sensible, non-blank PNG."""
    if isinstance(path_or_bytes, bytes):
        path_or_bytes = io.BytesIO(path_or_bytes)
    with Image.open(path_or_bytes) as im:
        assert im.format == "PNG"
        pixels = np.asarray(im.convert("RGB")).astype(int)
    h, w, _ = pixels.shape
    assert 150 <= w <= 2000 and 100 <= h <= 2500, pixels.shape
    assert pixels.std() > 20  # not blank
    return pixels


def _is_grey(pixels):
    return (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


def _hues(pixels, min_share=0.002):
    """How many of 12 hue bins hold at least `min_share` of the pixels (saturated pixels only)."""
    high, low = pixels.max(-1), pixels.min(-1)
    saturated = (high - low) > 60
    r, g, b = (pixels[..., i][saturated] / 255 for i in range(3))
    hue = np.degrees(np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)) % 360
    counts = np.histogram(hue, bins=12, range=(0, 360))[0]
    return int((counts > min_share * pixels[..., 0].size).sum())


def _image_box(pixels):
    """Rows and columns spanned by the big dark area (the drawn image, not the thin text)."""
    dark = pixels.mean(-1) < 100
    rows, cols = dark.sum(1), dark.sum(0)
    rows, cols = np.flatnonzero(rows > rows.max() / 3), np.flatnonzero(cols > cols.max() / 3)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def test_traversal_rows_labels_and_colours(tmp_path):
    values = np.linspace(-3, 3, 5)
    grey = _blobs((3, 5))
    path = save_traversal(grey, [4, 0, 2], [2.5, 1.0, 0.01], values, tmp_path / "t.png")
    assert path == tmp_path / "t.png"
    three = _pixels(path)
    assert _is_grey(three)  # grey tiles, black text: no colour anywhere
    six = _pixels(traversal_png(_blobs((6, 5)), range(6), np.ones(6), values))
    assert six.shape[0] > three.shape[0] * 1.5
    rgb = _pixels(traversal_png(_blobs((3, 5), rgb=True), [4, 0, 2], [2.5, 1.0, 0.01], values))
    assert (rgb[..., 0] != rgb[..., 1]).any() and not _is_grey(rgb)


def test_manifold_is_one_image_with_z_up_and_right(tmp_path):
    n = 6
    images = np.zeros((n, n, 12, 12, 1), "float32")
    images[0, n - 1] = 1.0  # z[dims[0]] largest (right), z[dims[1]] largest (top)
    pixels = _pixels(save_manifold(images, (3, 1), np.linspace(-2, 2, n), tmp_path / "m.png"))
    rows, cols = _image_box(pixels)
    grid = pixels[rows, cols].mean(-1)
    h, w = grid.shape
    assert grid[: h // n, -(w // n) :].mean() > 200  # the white tile is drawn top right
    assert grid[h // n :, : -(w // n)].mean() < 30  # and no gaps between the other tiles
    big = _pixels(manifold_png(_blobs((30, 30)), (0, 1), np.linspace(-2, 2, 30)))
    assert big.shape[0] > 500  # 30 x 30 tiles stay visible


def test_interpolation_rows_and_labels(tmp_path):
    rows = _blobs((2, 7))
    plain = _pixels(save_interpolation(rows, tmp_path / "i.png"))
    labelled = _pixels(interpolation_png(rows, labels=["linear", "slerp"]))
    for pixels, has_labels in [(plain, False), (labelled, True)]:
        rows_, cols = _image_box(pixels)
        left_of_image = pixels[rows_, : cols.start].mean(-1)
        assert (left_of_image < 100).any() == has_labels  # the row labels, in dark text
    assert _pixels(interpolation_png(rows[:1])).shape[0] < plain.shape[0]
    assert not _is_grey(_pixels(interpolation_png(_blobs((1, 7), rgb=True))))


def test_latent_map_colours_by_class(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    labels = np.repeat(np.arange(3), 200)
    points = centres[labels] + rng.normal(size=(600, 2))
    path = save_latent_map(points, tmp_path / "l.png", labels, ["a", "b", "c"], explained=0.42)
    assert _hues(_pixels(path)) >= 3  # one colour per class
    assert _hues(_pixels(latent_map_png(points))) <= 2  # one colour (and its anti-aliased edge)
    continuous = _pixels(latent_map_png(points, labels=points[:, 0]))  # a colour map and bar
    assert _hues(continuous) >= 3
    many = rng.integers(0, 50, 600)  # more than 20 classes: a colour map too
    assert _hues(_pixels(latent_map_png(points, labels=many[:, None], title="Latent"))) >= 3
    _pixels(latent_map_png(points[:1], labels=np.array(["only"])))  # a single point still draws


def test_curves_panels_and_validation(tmp_path):
    epochs = np.arange(12)
    train = {
        "epoch": list(epochs),
        "loss": list(200 * 0.8**epochs + 90),
        "kl": list(10 - 0.8**epochs),
    }
    valid = {"val_loss": [x + 5 for x in train["loss"]], "val_kl": [x + 1 for x in train["kl"]]}
    without = _pixels(save_curves(train, tmp_path / "c.png"))
    with_val = _pixels(curves_png({**train, **valid}))
    assert without.shape == with_val.shape and (without != with_val).any()
    assert _hues(with_val) > _hues(without)  # the dashed validation curves have their own colour
    four = _pixels(curves_png({**train, "reconstruction": train["loss"], "beta": [1.0] * 12}))
    assert four.shape[0] > without.shape[0] * 1.5  # 2 x 2 panels
    timed = _pixels(curves_png({**train, "epoch_seconds": [30.0] * 12}))
    assert timed.shape == without.shape  # an epoch's wall time is not a training curve
    _pixels(curves_png({"loss": [150.0], "val_loss": [160.0]}))  # a single epoch still draws


def test_grid_bytes_match_the_written_files(tmp_path):
    images = _blobs((6,), rgb=True)
    path = save_image_grid(images, tmp_path / "g.png", ncols=3)
    assert path.read_bytes() == grid_png(images, ncols=3)
    titled = _pixels(grid_png(images, ncols=3, title="Prior samples"))
    assert titled.shape[0] > _pixels(path).shape[0]
    path = save_reconstruction_grid(images, images[::-1], tmp_path / "r.png")
    assert path.read_bytes() == reconstruction_png(images, images[::-1])


def test_figures_leave_matplotlib_state_alone():
    import matplotlib

    before = dict(matplotlib.rcParams)
    curves_png({"loss": [3.0, 2.0]})
    assert dict(matplotlib.rcParams) == before
    code = (
        "import sys, vaekit.pictures.figures as p; assert 'matplotlib' not in sys.modules; "
        "p.curves_png({'loss': [1.0]}); assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


IMAGES5 = np.zeros((2, 3, 8, 8, 1), "float32")


@pytest.mark.parametrize(
    "draw, match",
    [
        (
            lambda: traversal_png(IMAGES5[0], [0, 1], [1, 1], [0, 1, 2]),
            r"Expected traversal images",
        ),
        (lambda: traversal_png(IMAGES5, [0], [1, 1], [0, 1, 2]), r"Expected dims .* \(2\)"),
        (lambda: traversal_png(IMAGES5, [0, 1], [1], [0, 1, 2]), r"Expected kl"),
        (lambda: traversal_png(IMAGES5, [0, 1], [1, 1], [0, 1]), r"Expected values .* \(3\)"),
        (lambda: traversal_png(IMAGES5[..., [0, 0]], [0, 1], [1, 1], [0, 1, 2]), "C = 1 or 3"),
        (lambda: manifold_png(IMAGES5, (0, 1), [0, 1, 2]), r"\(n, n, H, W, C\)"),
        (lambda: manifold_png(IMAGES5[:, :2], (0,), [0, 1]), r"Expected dims"),
        (lambda: interpolation_png(IMAGES5, labels=["a"]), r"Expected labels"),
        (lambda: latent_map_png(np.zeros((5, 3))), r"Expected points of shape \(n, 2\)"),
        (lambda: latent_map_png(np.zeros((5, 2)), labels=[1, 2]), r"Expected labels"),
        (lambda: latent_map_png(np.full((2, 2), np.nan)), r"finite"),
        (lambda: curves_png({}), r"Expected a history"),
        (lambda: curves_png({"epoch": [1, 2], "loss": []}), r"Received: keys"),
        (lambda: curves_png({"loss": ["a"]}), r"list of numbers"),
        (lambda: curves_png([1.0, 2.0]), r"history dict"),
        (lambda: grid_png(np.zeros((0, 4, 4, 1))), r"Expected images"),
        (lambda: reconstruction_png(IMAGES5[0], IMAGES5[1, :2]), r"one shape"),
    ],
)
def test_bad_figure_inputs(draw, match):
    with pytest.raises(VaekitError, match=match) as error:
        draw()
    assert "Received" in str(error.value)


def test_figures_refuse_bad_paths_like_grids(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for path, match in [
        (tmp_path / "c.jpg", r"ending in \.png"),
        (tmp_path, "is a directory"),
        (blocker / "c.png", "is a file, not a folder"),
    ]:
        with pytest.raises(VaekitError, match=match):
            save_curves({"loss": [1.0]}, path)
        with pytest.raises(VaekitError, match=match):
            write_png_bytes(b"", path)
    assert blocker.read_text() == "x" and sorted(tmp_path.iterdir()) == [blocker]
