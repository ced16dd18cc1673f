"""Priors p(z) over the latent space.

A prior scores latents (`log_prob`), draws them (`sample`) and gives the KL term of the ELBO (`kl`):
analytic where it exists, else the single-sample estimate log q(z|x) - log p(z) at the sampled `z`.
"""

import keras

from vaekit import ops as vops
from vaekit.errors import ConfigError


class Prior:
    """Base class for priors over a `latent_dim`-dimensional latent space."""

    name = None

    def log_prob(self, z):
        raise NotImplementedError

    def sample(self, num, latent_dim, seed=None):
        raise NotImplementedError

    def kl(self, mean, log_var, z):
        """KL(q(z|x) || p(z)) per example. Default: the one-sample Monte Carlo estimate at `z`."""
        return vops.diag_gaussian_log_prob(z, mean, log_var) - self.log_prob(z)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="vaekit")
class StandardNormal(Prior):
    """p(z) = N(0, I), with the analytic KL summed over latent dimensions."""

    name = "standard_normal"

    def log_prob(self, z):
        return vops.standard_normal_log_prob(z)

    def sample(self, num, latent_dim, seed=None):
        return keras.random.normal((num, latent_dim), seed=seed)

    def kl(self, mean, log_var, z):
        return vops.kl_diag_gaussian_standard_normal(mean, log_var)


PRIORS = {cls.name: cls for cls in (StandardNormal,)}


def get(identifier):
    """A prior from a name, a config dict or an instance."""
    if isinstance(identifier, Prior):
        return identifier
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(obj, Prior):
            raise ConfigError(f"Expected a prior config. Received one for {type(obj).__name__}.")
        return obj
    if identifier not in PRIORS:
        raise ConfigError(
            f"Unknown prior {identifier!r}. Expected one of: {', '.join(sorted(PRIORS))}."
        )
    return PRIORS[identifier]()
