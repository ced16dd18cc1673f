import keras
import numpy as np
import pytest

from vaekit.errors import ConfigError
from vaekit.training import optimizers
from vaekit.training.optimizers import NormalizedAdam


def test_normalized_adam_is_adam_on_unit_norm_gradients():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4)).astype("float32")
    ours, reference = keras.Variable(start), keras.Variable(start)
    normalized, adam = NormalizedAdam(learning_rate=0.1), keras.optimizers.Adam(learning_rate=0.1)
    for scale in (1e-3, 1.0, 50.0):  # the step's size must not depend on the gradient's
        gradient = (scale * rng.normal(size=(3, 4))).astype("float32")
        normalized.apply([keras.ops.convert_to_tensor(gradient)], [ours])
        unit = gradient / np.linalg.norm(gradient)
        adam.apply([keras.ops.convert_to_tensor(unit)], [reference])
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours.numpy(), start)


def test_normalized_adam_leaves_a_zero_gradient_at_rest():
    variable = keras.Variable(np.ones((2,), "float32"))
    NormalizedAdam(learning_rate=0.1).apply([keras.ops.zeros((2,))], [variable])
    np.testing.assert_array_equal(variable.numpy(), np.ones(2))


def test_optimizers_by_name_and_serialization():
    optimizer = optimizers.get("adam_normgrad", 5e-4)
    assert isinstance(optimizer, NormalizedAdam)
    assert float(optimizer.learning_rate) == pytest.approx(5e-4)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is NormalizedAdam
    assert restored.get_config() == optimizer.get_config()
    adam = optimizers.get("adam", 1e-3)
    assert isinstance(adam, keras.optimizers.Adam) and not isinstance(adam, NormalizedAdam)
    with pytest.raises(ConfigError, match="Unknown optimizer 'sgd'"):
        optimizers.get("sgd", 1e-3)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the PyTorch engine's own update")
def test_the_pytorch_engine_fuses_only_keras_own_adam(binary_images):
    """The PyTorch engine's fused update is Keras' Adam maths: used for Keras' Adam (a subclass of
    it on PyTorch), never for an Adam subclass with its own update."""
    from vaekit.backends.torch_backend import _TorchAdam
    from vaekit.models.build import build_vae

    model = build_vae(binary_images.shape[1:], "seed", hidden_units=[4], latent_dim=2)
    variables = model.trainable_variables
    for optimizer, fused in ((keras.optimizers.Adam(), True), (NormalizedAdam(), False)):
        optimizer.build(variables)
        assert (_TorchAdam.for_optimizer(optimizer, variables) is not None) == fused
