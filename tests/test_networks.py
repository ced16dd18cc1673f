"""Encoder / decoder builders: shapes for any image size, a training step, safe-mode saving, bad input.

Kept fast on JAX, where every new weight shape costs a compilation of the initializer: the tests share
one set of small widths (so most weight shapes repeat) and reuse built networks through `networks()`.
"""

import functools

import keras
import numpy as np
import pytest
from keras import ops

from contract import check_config, check_layer
from vaekit.backends.keras_compat import set_seed, tensorflow_unprobed
from vaekit.errors import ConfigError
from vaekit.models.layers import GatedActivation, GatedDense, GaussianSampler
from vaekit.models.networks import ARCHITECTURES, ConvKernelInitializer, build_networks

CONV = ("conv", "resconv")
IMAGE_ARCHITECTURES = ["conv", "gated_mlp", "mlp", "resconv"]
DENSE = ("mlp", "gated_mlp")
LATENT = 3
BATCH = 2  # one batch size for every eager call, so JAX compiles each op once per network shape


@pytest.fixture(autouse=True)
def _no_tensorflow_probe():
    # Keras' serialization probes for TensorFlow (4 s to import) even on JAX and torch; vaekit's saving
    # tells it not to, and so do these tests.
    with tensorflow_unprobed():
        yield


def small_options(architecture):
    """Tiny widths so that every test builds and runs in well under a second."""
    if architecture in CONV:
        options = {"hidden_units": (4, 4)}
        if architecture == "resconv":
            options["blocks"] = 1
        return options
    return {"hidden_units": (16, 8)}


def param_shape(shape, params_per_value):
    return (*shape[:-1], shape[-1] * params_per_value)


def build(architecture, shape, params_per_value=1, **overrides):
    options = {**small_options(architecture), **overrides}
    return build_networks(
        architecture, shape, param_shape(shape, params_per_value), LATENT, **options
    )


@functools.cache
def _encoder(architecture, shape):
    make_encoder, _ = ARCHITECTURES[architecture]
    return make_encoder(shape, LATENT, **small_options(architecture))


@functools.cache
def _decoder(architecture, shape):
    _, make_decoder = ARCHITECTURES[architecture]
    return make_decoder(shape, LATENT, **small_options(architecture))


def networks(architecture, shape, params_per_value=1):
    """Like `build`, but built once per argument set and shared between tests (the training test
    changes their weights: the others only read shapes or compare a network with its saved copy)."""
    return _encoder(architecture, shape), _decoder(
        architecture, param_shape(shape, params_per_value)
    )


def numpy(x):
    return ops.convert_to_numpy(x)


CASES = [(a, s) for a in CONV for s in [(28, 28, 1), (32, 32, 3), (7, 9, 1)]] + [
    (a, s) for a in DENSE for s in [(784,), (7, 9, 1)]
]


def test_registry_has_every_architecture():
    # `recurrent` reads token sequences: tests/test_text_model.py covers it.
    assert set(ARCHITECTURES) == {*IMAGE_ARCHITECTURES, "recurrent"}


@pytest.mark.parametrize("architecture,shape", CASES)
def test_encoder_and_decoder_shapes(architecture, shape):
    x = np.random.default_rng(0).random((BATCH, *shape)).astype("float32")
    for params_per_value in (1, 2):
        encoder, decoder = networks(architecture, shape, params_per_value)
        mean, log_var = encoder(x)
        assert tuple(mean.shape) == tuple(log_var.shape) == (BATCH, LATENT)
        params = numpy(decoder(mean))
        assert params.shape == (BATCH, *param_shape(shape, params_per_value))
        assert np.isfinite(params).all()
        assert decoder.output_shape == (None, *param_shape(shape, params_per_value))
        # The final layer is linear: no activation between the last weights and the parameters.
        last = [layer for layer in decoder.layers if layer.weights][-1]
        assert last.name == "params" and last.activation is keras.activations.linear


def test_conv_networks_fit_more_stages_than_the_image_has_halvings():
    # 5x3 through three stages: 3x2, 2x1, 1x1 at the bottom; the decoder's 8x8 is cropped to 5x3.
    # (resconv shares the size plan; its odd 7x9 case is in the shape test.)
    shape, stages = (5, 3, 2), 3
    x = np.zeros((BATCH, *shape), "float32")
    encoder, decoder = build("conv", shape, 2, hidden_units=(4,) * stages)
    assert tuple(encoder.get_layer("flatten").input.shape[1:]) == (1, 1, 4)
    assert tuple(decoder.get_layer("reshape").output.shape[1:]) == (1, 1, 4)
    assert decoder.get_layer("crop").cropping == ((0, 3), (0, 5))
    assert numpy(decoder(encoder(x)[0])).shape == (BATCH, 5, 3, 4)


def test_conv_decoder_crops_the_bottom_right_margin():
    # 7x9 with two stages: 2x3 -> 8x12, so 1 row and 3 columns go, at the bottom and right.
    _, decoder = networks("conv", (7, 9, 1))
    assert decoder.get_layer("crop").cropping == ((0, 1), (0, 3))
    _, decoder = networks("conv", (28, 28, 1))  # 7x7 -> 28x28: nothing to crop
    assert "crop" not in [layer.name for layer in decoder.layers]


def test_resconv_stages_have_gated_residual_blocks():
    encoder, decoder = build("resconv", (7, 9, 1), blocks=2)
    for network in (encoder, decoder):
        adds = [layer for layer in network.layers if isinstance(layer, keras.layers.Add)]
        gates = [layer for layer in network.layers if isinstance(layer, GatedActivation)]
        assert len(adds) == 4  # 2 stages x 2 blocks
        assert len(gates) == 4 + 2  # one per block, one per down/up-sampling convolution
    assert isinstance(decoder.get_layer("project"), GatedDense)


def test_gated_mlp_uses_gated_dense_layers():
    encoder, decoder = networks("gated_mlp", (784,))  # widths (16, 8)
    widths = [layer.units for layer in encoder.layers if isinstance(layer, GatedDense)]
    assert widths == [16, 8]
    widths = [layer.units for layer in decoder.layers if isinstance(layer, GatedDense)]
    assert widths == [8, 16]
    assert decoder.get_layer("params").units == 784


@pytest.mark.parametrize("architecture", IMAGE_ARCHITECTURES)
def test_a_few_training_steps_fit_a_target_and_move_every_weight(architecture):
    set_seed(0)
    shape = (7, 9, 1)
    encoder, decoder = networks(architecture, shape)
    x_in = keras.Input(shape)
    mean, log_var = encoder(x_in)
    autoencoder = keras.Model(x_in, decoder(GaussianSampler(seed=0)(mean, log_var)))
    # Plain SGD: its train step compiles faster on JAX than Adam's.
    autoencoder.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    x = np.random.default_rng(1).random((16, *shape)).astype("float32")
    before = [w.copy() for w in autoencoder.get_weights()]
    # One batch per epoch, so the first epoch's loss is the loss of the initial weights.
    history = autoencoder.fit(x, x, batch_size=16, epochs=40, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    # Every weight gets a gradient: the gates, the residual branches and both heads are connected.
    paths = [w.path for w in autoencoder.weights]
    for path, old, new in zip(paths, before, autoencoder.get_weights(), strict=True):
        assert not np.array_equal(old, new), path


@pytest.mark.parametrize("architecture", IMAGE_ARCHITECTURES)
def test_networks_save_and_load_in_safe_mode(architecture, tmp_path):
    """The layer contract for both networks: config round trip, safe-mode save and load with the
    same layer classes, weights and outputs (exactly). The training test above trains them."""
    shape = (7, 9, 1)
    encoder, decoder = networks(architecture, shape, 2)
    x = np.random.default_rng(2).random((BATCH, *shape)).astype("float32")
    z = np.random.default_rng(3).normal(size=(BATCH, LATENT)).astype("float32")
    check_layer(encoder, x, expected_shape=[(BATCH, LATENT)] * 2, tmp_path=tmp_path, train=False)
    check_layer(decoder, z, expected_shape=(BATCH, 7, 9, 2), tmp_path=tmp_path, train=False)


@pytest.mark.parametrize("architecture", IMAGE_ARCHITECTURES)
def test_build_vae_accepts_every_architecture(architecture):
    from vaekit import build_vae

    widths = list(small_options(architecture)["hidden_units"])
    model = build_vae(
        (7, 9, 1), "seed", seed=0, architecture=architecture, latent_dim=LATENT, hidden_units=widths
    )
    x = (np.random.default_rng(4).random((BATCH, 7, 9, 1)) < 0.5).astype("float32")
    outputs = model(x)
    assert tuple(outputs["params"].shape) == (BATCH, 7, 9, 1)
    assert np.isfinite(float(numpy(model.compute_loss(x))))


# --- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ["nope", "", "CONV", None, ["conv"]])
def test_unknown_architecture_is_a_config_error(architecture):
    with pytest.raises(
        ConfigError, match=r"Expected one of: conv, gated_mlp, mlp, recurrent, resconv\. Received"
    ):
        build_networks(architecture, (4, 4, 1), (4, 4, 1), LATENT)


@pytest.mark.parametrize("architecture", CONV)
@pytest.mark.parametrize("shape", [(784,), (28, 28), (2, 28, 28, 1), (0, 4, 1), (None, 4, 1)])
def test_conv_architectures_need_an_image_shape(architecture, shape):
    encoder, decoder = ARCHITECTURES[architecture]
    with pytest.raises(ConfigError, match=r"Expected a 3-d image shape .* Received: input_shape="):
        encoder(shape, LATENT)
    with pytest.raises(ConfigError, match=r"Received: output_shape="):
        decoder(shape, LATENT)
    with pytest.raises(ConfigError, match="3-d image shape"):
        build_networks(architecture, shape, shape, LATENT)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"hidden_units": ()}, "at least one stage"),
        ({"hidden_units": (4, 0)}, "positive integers"),
        ({"hidden_units": (4.5,)}, "positive integers"),
        ({"hidden_units": 8}, "positive integers"),
        ({"kernel_size": 0}, "kernel_size"),
    ],
)
@pytest.mark.parametrize("architecture", CONV)
def test_bad_conv_options_are_config_errors(architecture, options, match):
    with pytest.raises(ConfigError, match=match):
        build(architecture, (8, 8, 1), **options)


def test_bad_dense_widths_are_config_errors():
    for architecture in DENSE:
        with pytest.raises(ConfigError, match=r"Expected `hidden_units`.*Received: hidden_units="):
            build(architecture, (784,), hidden_units=(16, -1))
    with pytest.raises(ConfigError, match="blocks"):
        build("resconv", (8, 8, 1), blocks=0)


# --- the gated layers ----------------------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_gated_dense_computes_value_times_sigmoid_gate(activation, tmp_path):
    layer = GatedDense(5, activation=activation, bias_initializer="random_normal")
    x = np.random.default_rng(5).normal(size=(4, 3)).astype("float32")
    out = numpy(layer(x))
    kernel, bias, gate_kernel, gate_bias = (numpy(w) for w in layer.weights)
    value = x @ kernel + bias
    value = value if activation is None else np.tanh(value)
    np.testing.assert_allclose(
        out, value * _sigmoid(x @ gate_kernel + gate_bias), rtol=1e-5, atol=1e-6
    )
    # The gated_mlp training test above trains it: no train step here.
    clone = check_layer(layer, x, expected_shape=(4, 5), tmp_path=tmp_path, train=False)
    assert clone.units == 5
    with pytest.raises(ValueError, match="units"):
        GatedDense(0)


def test_gated_activation_halves_the_last_axis(tmp_path):
    x = np.random.default_rng(6).normal(size=(2, 3, 3, 8)).astype("float32")
    out = numpy(GatedActivation()(x))
    np.testing.assert_allclose(out, x[..., :4] * _sigmoid(x[..., 4:]), rtol=1e-5, atol=1e-6)
    out = numpy(GatedActivation(activation="tanh")(x))
    np.testing.assert_allclose(
        out, np.tanh(x[..., :4]) * _sigmoid(x[..., 4:]), rtol=1e-5, atol=1e-6
    )
    clone = check_layer(GatedActivation("tanh"), x, expected_shape=(2, 3, 3, 4), tmp_path=tmp_path)
    assert clone.activation is keras.activations.tanh
    with pytest.raises(ValueError, match="even number of channels"):
        GatedActivation()(np.zeros((1, 3), "float32"))


def test_conv_kernel_initializer_is_glorot_uniform_with_the_kernel_shape():
    shape = (5, 5, 16, 32)  # fan_in 400, fan_out 800
    values = numpy(ConvKernelInitializer(seed=1)(shape))
    limit = np.sqrt(6 / (400 + 800))
    assert values.shape == shape and np.abs(values).max() <= limit
    np.testing.assert_allclose(values.std(), limit / np.sqrt(3), rtol=0.05)  # uniform's std
    np.testing.assert_array_equal(values, numpy(ConvKernelInitializer(seed=1)(shape)))
    clone = keras.initializers.deserialize(keras.initializers.serialize(ConvKernelInitializer(3)))
    assert isinstance(clone, ConvKernelInitializer)
    assert check_config(ConvKernelInitializer(3)).seed == 3
