"""Small layers vaekit models are made of."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vaekit")
class GaussianSampler(keras.layers.Layer):
    """Draws `z = mean + exp(log_var / 2) * eps`, `eps ~ N(0, I)`: the reparameterization trick.

    Replaces the anonymous `Lambda` sampling layer of the classic Keras 2 recipe: this one is registered,
    serializable in safe mode, and owns its randomness through a `keras.random.SeedGenerator`, so a
    seeded model draws the same noise on the same backend.

    Args:
        seed: Optional integer seed for the layer's `SeedGenerator`.

    Call arguments:
        mean: Tensor `(batch, ..., latent_dim)`, the posterior means.
        log_var: Tensor of the same shape, the posterior log-variances.

    Returns:
        A tensor of the same shape as `mean`, one sample per row.

    Example:
    >>> sampler = GaussianSampler(seed=1)
    >>> z = sampler(keras.ops.zeros((4, 2)), keras.ops.zeros((4, 2)))  # (4, 2), ~ N(0, I)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, mean_shape, log_var_shape=None):
        # No weights: the only state is the seed generator's, created in __init__.
        self.built = True

    def call(self, mean, log_var):
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, mean_shape, log_var_shape=None):
        return mean_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
