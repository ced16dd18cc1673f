"""Starting a run from a trained model's weights (`--init-from`): fine-tuning, e.g. on the IWAE bound."""

import keras

from vaekit.backends.keras_compat import all_layers
from vaekit.errors import VaekitError
from vaekit.models.layers import is_seed_state


def start_from(model, trained, source):
    """Set `model`'s weights to those of the `trained` VAE (loaded from `source`, which errors
    name): fine-tuning starts there. The architecture must be the same: model class, layers and
    their activations, weight shapes, likelihood and prior with their options. Objective settings
    (beta, the IWAE bound, free bits, the log-variance clip) may differ. The samplers' random
    states and the KL warm-up factor are not copied: they belong to the new run.

    Raises:
        VaekitError: the trained model's architecture is not `model`'s.
    """
    refuse = lambda what: VaekitError(  # noqa: E731
        f"Cannot start from {source}: {what}; expected a model of the same architecture "
        f"(layers, sizes, activations, likelihood and prior options)."
    )
    for part, mine, theirs in zip(
        ("model", "likelihood", "prior", "layers"),
        _architecture(model),
        _architecture(trained),
        strict=True,
    ):
        if mine != theirs:
            verb = "differ" if part == "layers" else "differs"
            raise refuse(f"its {part} {verb} ({_first_difference(theirs, mine)})")

    def weights(m):
        return [v for v in m.weights if not is_seed_state(v) and v is not m.kl_scale]

    mine, theirs = weights(model), weights(trained)
    if len(mine) != len(theirs):
        raise refuse(f"its model has {len(theirs)} weights where this one has {len(mine)}")
    for a, b in zip(mine, theirs, strict=True):
        if tuple(a.shape) != tuple(b.shape):
            raise refuse(
                f"its weight {b.path} has shape {tuple(b.shape)} where this model's {a.path} has "
                f"{tuple(a.shape)}"
            )
    for a, b in zip(mine, theirs, strict=True):
        a.assign(keras.ops.convert_to_numpy(b.value))


def _architecture(model):
    """What must match for one model's weights to serve another: the model's class, the
    likelihood's and the prior's configs (names aside) and each layer's class and activation."""

    def config(layer):
        return {k: v for k, v in layer.get_config().items() if k not in ("name", "dtype")}

    def activation(layer):
        return getattr(getattr(layer, "activation", None), "__name__", "")

    layers = sorted(  # as a multiset: a loaded model may list its layers in another order
        f"{type(layer).__name__}({activation(layer)})"
        for layer in all_layers(model)
        if layer is not model.likelihood and layer is not model.prior
    )
    return type(model).__name__, config(model.likelihood), config(model.prior), layers


def _first_difference(theirs, mine):
    if isinstance(theirs, list):  # layers: what one has and the other lacks
        only_theirs = sorted(set(theirs) - set(mine)) or theirs
        only_mine = sorted(set(mine) - set(theirs)) or mine
        return f"{', '.join(only_theirs[:3])} where this one has {', '.join(only_mine[:3])}"
    return f"{theirs} where this one has {mine}"
