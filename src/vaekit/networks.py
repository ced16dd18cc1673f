"""Encoder and decoder builders, picked by name from a registry.

An encoder maps data of `input_shape` to `[mean, log_var]`, each `(batch, latent_dim)`. A decoder maps
`(batch, latent_dim)` latents to the likelihood's parameters, shaped like the data (times the number of
parameters per value). Both are functional `keras.Model`s, so they summarise, save and load on their own.
"""

import math

import keras
from keras import layers

from vaekit.errors import ConfigError


def mlp_encoder(input_shape, latent_dim, hidden_units=(128, 64), activation="relu", name="encoder"):
    """Dense encoder: flatten -> hidden Dense layers -> two Dense heads (mean, log-variance).

    With the defaults this is the classic recipe's encoder (784 -> 128 -> 64 -> 10 + 10).
    """
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Flatten(name="flatten")(x_in)
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    mean = layers.Dense(latent_dim, name="z_mean")(h)
    log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x_in, [mean, log_var], name=name)


def mlp_decoder(
    output_shape, latent_dim, hidden_units=(128, 64), activation="relu", name="decoder"
):
    """Dense decoder, the encoder's mirror: hidden layers in reverse order -> Dense -> reshape.

    `output_shape` is the shape of the likelihood parameters for one example; the final layer is linear
    (logits for a Bernoulli likelihood: the sigmoid of the recipe lives in the likelihood).
    """
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, units in enumerate(reversed(tuple(hidden_units))):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    h = layers.Dense(math.prod(output_shape), name="params")(h)
    out = layers.Reshape(tuple(output_shape), name="reshape")(h)
    return keras.Model(z_in, out, name=name)


ARCHITECTURES = {"mlp": (mlp_encoder, mlp_decoder)}


def build_networks(architecture, input_shape, param_shape, latent_dim, **options):
    """Build `(encoder, decoder)` for a registered architecture name."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"Unknown architecture {architecture!r}. Expected one of: {', '.join(sorted(ARCHITECTURES))}."
        )
    make_encoder, make_decoder = ARCHITECTURES[architecture]
    return make_encoder(input_shape, latent_dim, **options), make_decoder(
        param_shape, latent_dim, **options
    )
