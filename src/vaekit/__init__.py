"""vaekit: variational autoencoders on Keras 3, on JAX, TensorFlow or PyTorch.

The public API is listed in `__all__`. Names are imported lazily, so `import vaekit` does not import
Keras: a program (the CLI's `--backend`) can still choose the Keras backend after importing vaekit.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "VAE": "vaekit.model",
    "build_vae": "vaekit.model",
    "HierarchicalVAE": "vaekit.hierarchical",
    "GaussianSampler": "vaekit.layers",
    "Bernoulli": "vaekit.likelihoods",
    "Gaussian": "vaekit.likelihoods",
    "GaussianLearnedScale": "vaekit.likelihoods",
    "DiscretizedLogistic": "vaekit.likelihoods",
    "LocalAutoregressiveBernoulli": "vaekit.autoregressive",
    "StandardNormal": "vaekit.priors",
    "MixtureOfGaussians": "vaekit.priors",
    "VampPrior": "vaekit.priors",
    "evaluate": "vaekit.evaluation",
    "importance_sampled": "vaekit.evaluation",
    "fit_fast": "vaekit.engine",
    "RunConfig": "vaekit.config",
    "DataConfig": "vaekit.config",
    "ModelConfig": "vaekit.config",
    "TrainConfig": "vaekit.config",
    "Dataset": "vaekit.data",
    "load_dataset": "vaekit.data",
    "train": "vaekit.training",
    "resume": "vaekit.training",
    "prior_samples": "vaekit.generation",
    "interpolate": "vaekit.generation",
    "traverse": "vaekit.generation",
    "manifold": "vaekit.generation",
    "latent_map": "vaekit.generation",
    "TrainResult": "vaekit.training",
    "save_model": "vaekit.saving",
    "load_model": "vaekit.saving",
    "load_run_config": "vaekit.saving",
    "save_image_grid": "vaekit.plots",
    "save_reconstruction_grid": "vaekit.plots",
    "VaekitError": "vaekit.errors",
    "DataError": "vaekit.errors",
    "ConfigError": "vaekit.errors",
    "ModelFileError": "vaekit.errors",
    "TrainingInterrupted": "vaekit.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaekit' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
