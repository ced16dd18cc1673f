"""Named starting points for `--model`: each preset is a set of `ModelConfig` overrides."""

from vaekit.config.sections import ModelConfig
from vaekit.errors import ConfigError

# Named starting points for `--model`. Each is a set of ModelConfig overrides.
MODEL_PRESETS = {
    # The classic Keras recipe: 784-128-64 ReLU encoder, 10-d latent, mirrored decoder, Bernoulli.
    "seed": {},
    # Tomczak & Welling (2018)'s one-layer VAE: gated 300-300 MLP, 40-d latent.
    "vae": {"architecture": "gated_mlp", "hidden_units": [300, 300], "latent_dim": 40},
    # The same with a VampPrior of 500 learned pseudo-inputs.
    "vampprior": {
        "architecture": "gated_mlp",
        "hidden_units": [300, 300],
        "latent_dim": 40,
        "prior": "vampprior",
    },
    # Their two-stochastic-layer HVAE with a VampPrior on the top layer.
    "hvae_vampprior": {
        "architecture": "gated_mlp",
        "hidden_units": [300, 300],
        "latent_dim": 40,
        "prior": "vampprior",
        "stochastic_layers": 2,
    },
    # Convolutional encoder/decoder (grey or RGB images).
    "conv": {"architecture": "conv", "hidden_units": [32, 64], "latent_dim": 32},
    # Gated residual convolutional networks with a VampPrior: vaekit's strongest image model.
    "resconv_vampprior": {
        "architecture": "resconv",
        "hidden_units": [32, 64],
        "latent_dim": 40,
        "prior": "vampprior",
    },
    # Bowman et al. (2016)'s sentence VAE: a GRU reads the tokens, z sets a GRU decoder's initial
    # state and is fed at every step; word dropout makes the decoder lean on z. Sized for a CPU.
    # Tables: an MLP over the encoded row (values and observed flags), one head per column
    "tabular": {
        "architecture": "mlp",
        "hidden_units": [128, 128],
        "latent_dim": 8,
        "likelihood": "tabular",
    },
    "sentence": {
        "architecture": "recurrent",
        "hidden_units": [256],
        "activation": "tanh",
        "latent_dim": 32,
        "likelihood": "autoregressive_categorical",
        "likelihood_options": {"hidden": 256, "embedding_dim": 128, "word_dropout": 0.25},
    },
    # Its baseline: the same decoder with z ignored, a language model of the same size (its KL
    # falls to zero, so its NLL is the LM's).
    "sentence_lm": {
        "architecture": "recurrent",
        "hidden_units": [256],
        "activation": "tanh",
        "latent_dim": 32,
        "likelihood": "autoregressive_categorical",
        "likelihood_options": {"hidden": 256, "embedding_dim": 128, "condition": False},
    },
}


def model_preset(name):
    """A ModelConfig for a preset name; ConfigError for an unknown one."""
    if not isinstance(name, str) or name not in MODEL_PRESETS:
        raise ConfigError(
            f"Unknown model {name!r}. Expected one of: {', '.join(sorted(MODEL_PRESETS))}."
        )
    return ModelConfig(name=name, **MODEL_PRESETS[name])
