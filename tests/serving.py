"""Tiny untrained models of each kind of data for the server's tests: serving needs no training."""

import vaekit
from vaekit import config as config_lib
from vaekit.data.schema import TableSchema, as_table
from vaekit.data.vocabulary import Vocabulary

COLUMNS = ["size", "colour", "ok", "count", "group"]
ROWS = [
    ["1.5", "red", "yes", "3", "a"],
    ["2.25", "blue", "no", "4", "b"],
    ["", "red", "yes", "", "a"],
    ["3.0", "green", "", "5", "b"],
    ["0.5", "blue", "no", "7", "a"],
]
LINES = ["the cat sees a dog", "a dog sees the cat", "the bird sings", "a cat sings"]


def image_model():
    """A seed model of 8x8 images with a 3-d latent."""
    cfg = config_lib.model_preset("seed")
    cfg.latent_dim, cfg.hidden_units = 3, [16]
    return vaekit.build_vae((8, 8, 1), cfg, seed=1)


def table_model():
    """`(model, x)`: a table model of `ROWS`, conditioned on `group`, and the rows encoded."""
    schema = TableSchema.fit(as_table(ROWS, COLUMNS)).with_condition("group")
    cfg = config_lib.model_preset("tabular")
    cfg.latent_dim, cfg.hidden_units = 2, [8]
    model = vaekit.build_vae((schema.size,), cfg, seed=2, codec=schema)
    return model, schema.encode(as_table(ROWS, COLUMNS))


def text_model():
    """`(model, ids)`: a sentence model with the vocabulary of `LINES`, and their token ids."""
    vocabulary = Vocabulary.build(LINES, max_length=8)
    cfg = config_lib.model_preset("sentence")
    cfg.latent_dim, cfg.hidden_units = 4, [16]
    cfg.likelihood_options = {"hidden": 16, "embedding_dim": 8}
    model = vaekit.build_vae((9,), cfg, seed=3, codec=vocabulary)
    return model, vocabulary.encode_examples(LINES)
