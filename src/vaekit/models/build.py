"""`build_vae`: a model from a config, one layer of latents or two (`HierarchicalVAE`)."""

import inspect

import keras

from vaekit import config as config_lib
from vaekit.errors import ConfigError
from vaekit.models import likelihoods, networks, priors
from vaekit.models.hierarchical import build_hierarchical
from vaekit.models.vae import VAE

_PRESET_FOR = {"images": "seed", "text": "sentence", "table": "tabular"}  # for error messages


def build_vae(input_shape, config="seed", seed=None, codec=None, **overrides):
    """Build a VAE for data of `input_shape` from a `ModelConfig` or a preset name, plus overrides.

    `codec` is the data's codec where the model needs it (a text vocabulary: its size sets the
    embeddings, and the likelihood keeps it, so the saved model reads and writes sentences).

    Example:
    >>> model = build_vae((28, 28, 1), "seed", latent_dim=2)  # the recipe with a 2-d latent
    >>> model = build_vae(data.shape, "sentence", codec=data.codec)  # data: a text Dataset
    """
    if isinstance(config, str):
        config = config_lib.model_preset(config)
    if overrides:
        config = config_lib.update_section(config, "model", overrides)
    config.validate()
    try:
        keras.activations.get(config.activation)
    except ValueError:
        raise ConfigError(
            f"Unknown activation {config.activation!r}. Expected a Keras activation name such as 'relu'."
        ) from None
    input_shape = tuple(int(d) for d in input_shape)
    likelihood_options, network_options = dict(config.likelihood_options), {}
    make_encoder, _ = networks.ARCHITECTURES.lookup(config.architecture)
    reads_tokens = "vocab_size" in inspect.signature(make_encoder).parameters
    data_kind = getattr(codec, "kind", "images")
    likelihood_class = likelihoods.LIKELIHOODS.lookup(config.likelihood)
    if likelihood_class.data_kind != data_kind:
        raise ConfigError(
            f"Expected a likelihood for {data_kind} (e.g. the {_PRESET_FOR[data_kind]!r} preset). "
            f"Received: likelihood={config.likelihood!r}, which models {likelihood_class.data_kind}"
        )
    if codec is not None:  # what a model of this kind of data takes from its codec
        likelihood_options.setdefault(likelihood_class.codec_option, codec.get_config())
    if data_kind == "text":
        network_options["vocab_size"] = codec.size
        if not reads_tokens:
            raise ConfigError(
                f"Expected an architecture that reads token sequences (recurrent) for this data. "
                f"Received: architecture={config.architecture!r}"
            )
    elif reads_tokens:
        raise ConfigError(
            f"Expected text data (token sequences with a vocabulary) for architecture "
            f"{config.architecture!r}. Received data of shape {tuple(input_shape)} without one"
        )
    likelihood = likelihoods.get(
        config.likelihood, event_ndim=len(input_shape), options=likelihood_options
    )
    prior_options = {"num_components": config.prior_components} if config.prior_components else {}
    prior = priors.get(config.prior, **prior_options)
    options = {
        "likelihood": likelihood,
        "prior": prior,
        "beta": config.beta,
        "seed": seed,
        "free_bits": config.free_bits,
        "iw_samples": config.iw_samples,
        "log_var_range": config.log_var_range,
        "name": f"vae_{config.name}",
    }
    if config.stochastic_layers == 2:
        model = build_hierarchical(config, input_shape, **options)
        model.build((None, *input_shape))
        return model
    encoder, decoder = networks.build_networks(
        config.architecture,
        input_shape,
        likelihood.param_shape(input_shape),
        config.latent_dim,
        condition_dim=likelihood.condition_width,
        hidden_units=tuple(config.hidden_units),
        activation=config.activation,
        **network_options,
    )
    model = VAE(encoder, decoder, tc_weight=config.tc_weight, **options)
    model.build((None, *input_shape))
    return model
