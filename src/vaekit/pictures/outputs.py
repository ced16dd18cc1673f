"""Generated data written in the user's own form: a PNG grid for images, lines of text for text.

A model's outputs are numpy arrays; the data's codec (`Dataset.codec`, or the vocabulary a text
model keeps) turns them back into what the user brought. Which form is the data's kind's, decided
here once for training, the CLI and reports.
"""

from pathlib import Path

import numpy as np

from vaekit import atomic
from vaekit.data import CODECS
from vaekit.pictures.plots import save_image_grid
from vaekit.pictures.tables import write_table

SAMPLE_SUFFIXES = {"images": ".png", "text": ".txt", "table": ".csv"}


def model_codec(model):
    """The codec a trained model carries (a text model's vocabulary, a table model's schema), or
    None (images)."""
    config = getattr(model.likelihood, "codec_config", None)
    return CODECS[kind_of(model)].from_config(config) if config else None


def kind_of(model):
    """The kind of data `model` models: `"images"`, `"text"` or `"table"`."""
    return getattr(model.likelihood, "data_kind", "images")


def as_sentences(model, ids):
    """Token ids `(n, L)` of a text model as a list of strings."""
    codec = model_codec(model)
    if codec is None:
        raise ValueError("Expected a text model (one that keeps a vocabulary).")
    return codec.decode(ids)


def write_lines(lines, path):
    """Write strings to a text file, one per line, atomically. Returns the path."""
    path = Path(path)
    atomic.write_text(path, "".join(f"{line}\n" for line in lines))
    return path


def as_rows(model, x, observed=True):
    """Encoded rows `(n, size)` of a table model as `{column: list}` in the table's own form
    (category names, integers as integers, numbers within the training range)."""
    codec = model_codec(model)
    if kind_of(model) != "table":
        raise ValueError("Expected a table model (one that keeps a table schema).")
    return codec.decode(np.asarray(x), observed=observed)


def write_samples(model, samples, path, ncols=10):
    """Write generated `samples` of `model` to `path`: a PNG grid of images, one sentence per
    line for text, CSV rows for a table (the suffix should be `SAMPLE_SUFFIXES[kind_of(model)]`).
    Returns the path."""
    path = Path(path)
    if kind_of(model) == "table":
        write_table(as_rows(model, samples), path)
    elif kind_of(model) == "text":
        write_lines(as_sentences(model, samples), path)
    else:
        save_image_grid(samples, path, ncols=ncols)
    return path
