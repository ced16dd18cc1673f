"""Datasets from a folder of PNG / JPEG images.

Layout (files are sorted by path, so the order is the same on every machine):

- images directly in the folder: one pool, no labels;
- or one subfolder per class (`folder/cat/*.png`, `folder/dog/*.png`): labels are the class index
  in sorted subfolder order, `label_names` the subfolder names. Images deeper inside a class
  subfolder belong to that class; subfolders holding no images are ignored. A folder with both
  loose images and class subfolders is an error.

Files whose extension is not `.png`, `.jpg` or `.jpeg` (any case) are skipped, and so are hidden
files and folders (names starting with "."). All images must have the same height and width. Grey
images (modes 1, L, LA) have one channel; colour ones are read as RGB with any alpha channel
dropped; palette images become grey when their colours are all grey, else RGB. If any image is in
colour the whole dataset is RGB (C=3) and grey images are repeated over the three channels.
"""

from __future__ import annotations

import os

import numpy as np

from vaekit.data.dataset import Source, as_images, as_labels
from vaekit.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_GREY_MODES = ("1", "L", "LA", "La")
_PALETTE_MODES = ("P", "PA")
_UNSUPPORTED_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def load_image_folder(folder: str) -> Source:
    """Reads every image under `folder` (see the module docstring for the layout) as one pool."""
    loose, classes = _list_images(folder)
    if not loose and not classes:
        raise DataError(
            f"{folder} holds no images: expected PNG/JPEG files ({', '.join(IMAGE_EXTENSIONS)}), "
            "one subfolder of them per class, or MNIST IDX files (*images-idx3-ubyte[.gz])."
        )
    if loose and classes:
        raise DataError(
            f"{folder} has images both directly inside (e.g. {os.path.basename(loose[0])}) and in "
            f"subfolders ({', '.join(classes)}): expected either loose images (no labels) or one "
            "subfolder per class."
        )
    if loose:
        paths, labels, label_names = loose, None, None
    else:
        label_names = list(classes)
        paths = [path for name in label_names for path in classes[name]]
        labels = np.concatenate(
            [np.full(len(classes[name]), i, np.int64) for i, name in enumerate(label_names)]
        )
    x = _stack([_read_image(path) for path in paths], paths, folder)  # (n, H, W, C) uint8
    images, _ = as_images(x, folder)
    return Source(
        splits={"train": (images, as_labels(labels, len(images), f"labels of {folder}"))},
        source=folder,
        label_names=label_names,
        eight_bit=True,
    )


def _list_images(folder):
    """`(loose image paths, {class name: image paths})`, both sorted."""
    loose, classes = [], {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found = _walk_images(entry.path)
            if found:
                classes[entry.name] = found
        elif _is_image_name(entry.name):
            loose.append(entry.path)
    return loose, classes


def _walk_images(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # walk in a stable order
        found += [os.path.join(root, f) for f in sorted(files) if _is_image_name(f)]
    return found


def _is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _read_image(path):
    """One image as uint8 (H, W) for grey or (H, W, 3) for colour."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode in _UNSUPPORTED_MODES:
                raise DataError(
                    f"{path} is a {mode} image (16/32-bit or floating point): expected 8-bit "
                    "grey, palette or RGB(A) images."
                )
            if mode in _GREY_MODES:
                return np.asarray(image.convert("L"))  # (H, W); alpha dropped
            rgb = np.asarray(image.convert("RGB"))  # (H, W, 3); alpha dropped
            if mode in _PALETTE_MODES and _is_grey(rgb):
                return np.ascontiguousarray(rgb[..., 0])
            return rgb
    except DataError:
        raise
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, zlib errors, ...
        raise DataError(
            f"Could not read image {path}: {error} (expected a valid PNG or JPEG file)."
        ) from error


def _is_grey(rgb):
    return bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))


def _stack(arrays, paths, folder):
    """Stacks grey (H, W) and RGB (H, W, 3) images into (n, H, W, C); checks one size."""
    size = arrays[0].shape[:2]
    channels = 3 if any(a.ndim == 3 for a in arrays) else 1
    for array, path in zip(arrays, paths, strict=True):
        if array.shape[:2] != size:
            h, w = array.shape[:2]
            raise DataError(
                f"Images in {folder} have mixed sizes: expected all {size[0]}x{size[1]} like "
                f"{os.path.relpath(paths[0], folder)}, received {h}x{w} in "
                f"{os.path.relpath(path, folder)}."
            )
    out = np.empty((len(arrays), *size, channels), np.uint8)  # (n, H, W, C)
    for i, array in enumerate(arrays):
        out[i] = array[..., None] if array.ndim == 2 else array  # grey broadcasts over RGB
    return out
