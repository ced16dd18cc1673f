"""Shared helpers for tests that train whole runs."""

from vaekit import config as config_lib


def small_config(epochs=3):
    """A run config that trains in seconds: 192 shapes images per split, a 2-d latent, 16 units."""
    cfg = config_lib.RunConfig()
    cfg.data.limit = 192
    cfg.model.latent_dim, cfg.model.hidden_units = 2, [16]
    cfg.train.epochs, cfg.train.batch_size, cfg.train.seed = epochs, 32, 5
    return cfg
