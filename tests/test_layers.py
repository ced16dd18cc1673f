import keras
import numpy as np
import pytest
from keras import ops

from contract import check_layer
from vaekit.models.layers import GaussianSampler


def test_sampler_draws_from_the_given_gaussian():
    n = 50_000
    mean = np.tile(np.array([[1.0, -2.0]], "float32"), (n, 1))
    log_var = np.tile(np.array([[0.0, np.log(0.25)]], "float32"), (n, 1))
    z = ops.convert_to_numpy(GaussianSampler(seed=0)(mean, log_var))
    assert z.shape == (n, 2)
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 0.5], rtol=0.02)


def test_sampler_is_seeded_and_advances():
    mean = np.zeros((4, 3), "float32")
    a1 = ops.convert_to_numpy(GaussianSampler(seed=7)(mean, mean))
    b = GaussianSampler(seed=7)
    b1, b2 = ops.convert_to_numpy(b(mean, mean)), ops.convert_to_numpy(b(mean, mean))
    np.testing.assert_array_equal(a1, b1)  # same seed, same first draw
    assert not np.allclose(b1, b2)  # the generator's state moves on


def test_sampler_gradient_flows_through_mean_and_log_var():
    # Reparameterization: z = mean + exp(log_var / 2) * eps, so at mean = log_var = 0,
    # dz/dmean = 1 and dz/dlog_var = eps / 2, with eps the draw itself.
    zeros = np.zeros((8, 2), "float32")
    eps = ops.convert_to_numpy(GaussianSampler(seed=1)(zeros, zeros))
    layer = GaussianSampler(seed=1)  # the same first draw
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        g_mean, g_log_var = jax.grad(lambda m, lv: layer(m, lv).sum(), argnums=(0, 1))(zeros, zeros)
    elif backend == "tensorflow":
        import tensorflow as tf

        m, lv = tf.Variable(zeros), tf.Variable(zeros)
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(layer(m, lv))
        g_mean, g_log_var = tape.gradient(out, [m, lv])
    else:
        import torch

        m = torch.zeros((8, 2), requires_grad=True)
        lv = torch.zeros((8, 2), requires_grad=True)
        layer(m, lv).sum().backward()
        g_mean, g_log_var = m.grad, lv.grad
    np.testing.assert_allclose(ops.convert_to_numpy(g_mean), np.ones((8, 2)))
    np.testing.assert_allclose(ops.convert_to_numpy(g_log_var), eps / 2, rtol=1e-5, atol=1e-6)


def test_sampler_config_round_trip_and_bad_seed(tmp_path):
    mean = np.zeros((4, 3), "float32")
    layer = GaussianSampler(seed=5, name="s")
    # A draw: the reloaded sampler restarts from its seed, so its draws are not compared.
    clone = check_layer(
        layer, mean, mean, expected_shape=(4, 3), tmp_path=tmp_path, deterministic=False
    )
    assert clone.seed == 5 and clone.name == "s"
    with pytest.raises(ValueError, match="seed"):
        GaussianSampler(seed="abc")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("seed", [1234, 2**31 - 2])  # the second: the third draw's seed sum wraps
def test_seeded_normal_is_keras_draw(dtype, seed):
    """`keras_compat.seeded_normal` (a direct draw on eager PyTorch) gives Keras' values and leaves
    the generator's state where Keras leaves it, draw after draw."""
    from vaekit.backends.keras_compat import seeded_normal

    ours, theirs = keras.random.SeedGenerator(seed), keras.random.SeedGenerator(seed)
    for shape in [(3, 4), (5,), (2, 3, 2)]:
        a = seeded_normal(shape, ours, dtype=dtype)
        b = keras.random.normal(shape, seed=theirs, dtype=dtype)
        assert keras.backend.standardize_dtype(a.dtype) == dtype
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours.state.value),
            keras.ops.convert_to_numpy(theirs.state.value),
        )


@pytest.mark.parametrize(
    "kernel_size, strides, size",
    [
        (3, 2, (7, 7)),
        (4, 2, (4, 5)),
        (5, 2, (3, 3)),
        (1, 2, (4, 4)),
        (3, 3, (3, 4)),
        ((3, 2), (2, 1), (5, 4)),
        (2, 1, (4, 4)),
    ],
)
def test_subpixel_transposed_convolution_is_conv2d_transpose(kernel_size, strides, size):
    """The same weights give `Conv2DTranspose(padding="same")`'s output: kernels smaller than,
    equal to and larger than the stride, odd sizes, per-axis strides."""
    from vaekit.models.layers import SubpixelConv2DTranspose

    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    reference = keras.layers.Conv2DTranspose(4, kernel_size, strides=strides, padding="same")
    expected = ops.convert_to_numpy(reference(x))
    layer = SubpixelConv2DTranspose(4, kernel_size, strides=strides, activation="relu")
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in reference.get_weights()]
    layer.set_weights(reference.get_weights())
    got = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, np.maximum(expected, 0), atol=1e-5)
    assert layer.compute_output_shape(x.shape) == got.shape


def test_subpixel_transposed_convolution_round_trips_and_checks_arguments(tmp_path):
    from vaekit.models.layers import SubpixelConv2DTranspose

    x = np.random.default_rng(1).normal(size=(2, 5, 5, 2)).astype("float32")
    layer = SubpixelConv2DTranspose(3, 3, strides=2, activation="tanh")
    check_layer(layer, x, expected_shape=(2, 10, 10, 3), tmp_path=tmp_path, atol=1e-6)
    for bad in ({"filters": 0, "kernel_size": 3}, {"filters": 2, "kernel_size": (3, 3, 3)}):
        with pytest.raises(ValueError, match="Expected"):
            SubpixelConv2DTranspose(**bad)
