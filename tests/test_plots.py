import numpy as np
import pytest
from PIL import Image

from vaekit.errors import VaekitError
from vaekit.plots import image_grid, save_image_grid, save_reconstruction_grid


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
