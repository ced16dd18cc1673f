"""vaekit: variational autoencoders on Keras 3, on JAX, TensorFlow or PyTorch.

The public API is listed in `__all__`. Names are imported lazily, so `import vaekit` does not import
Keras: a program (the CLI's `--backend`) can still choose the Keras backend after importing vaekit.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "VAE": "vaekit.models.vae",
    "build_vae": "vaekit.models.build",
    "HierarchicalVAE": "vaekit.models.hierarchical",
    "GaussianSampler": "vaekit.models.layers",
    "Bernoulli": "vaekit.models.likelihoods",
    "Gaussian": "vaekit.models.likelihoods",
    "GaussianLearnedScale": "vaekit.models.likelihoods",
    "DiscretizedLogistic": "vaekit.models.likelihoods",
    "LocalAutoregressiveBernoulli": "vaekit.models.autoregressive",
    "Tabular": "vaekit.models.tabular",
    "StandardNormal": "vaekit.models.priors",
    "MixtureOfGaussians": "vaekit.models.priors",
    "VampPrior": "vaekit.models.priors",
    "evaluate": "vaekit.evaluation.nll",
    "importance_sampled": "vaekit.evaluation.nll",
    "score_examples": "vaekit.evaluation.scores",
    "disentanglement_scores": "vaekit.evaluation.disentanglement",
    "mig": "vaekit.evaluation.disentanglement",
    "sap": "vaekit.evaluation.disentanglement",
    "factor_vae_score": "vaekit.evaluation.disentanglement",
    "dci": "vaekit.evaluation.disentanglement",
    "fit_fast": "vaekit.backends.fast_loop",
    "RunConfig": "vaekit.config",
    "DataConfig": "vaekit.config",
    "ModelConfig": "vaekit.config",
    "TrainConfig": "vaekit.config",
    "Dataset": "vaekit.data",
    "TableSchema": "vaekit.data",
    "load_dataset": "vaekit.data",
    "load_configured": "vaekit.data",
    "load_examples": "vaekit.data",
    "read_table": "vaekit.data",
    "scored_split": "vaekit.data.order",
    "train": "vaekit.training.run",
    "resume": "vaekit.training.run",
    "read_history": "vaekit.training.history",
    "prior_samples": "vaekit.pictures.generation",
    "prior_sentences": "vaekit.pictures.generation",
    "prior_rows": "vaekit.pictures.generation",
    "reconstruct_sentences": "vaekit.pictures.generation",
    "interpolate_sentences": "vaekit.pictures.generation",
    "reconstructions": "vaekit.pictures.generation",
    "interpolate": "vaekit.pictures.generation",
    "impute": "vaekit.pictures.generation",
    "traverse": "vaekit.pictures.generation",
    "manifold": "vaekit.pictures.generation",
    "latent_map": "vaekit.pictures.generation",
    "TrainResult": "vaekit.training.run",
    "save_model": "vaekit.models.saving",
    "load_model": "vaekit.models.saving",
    "load_run_config": "vaekit.models.saving",
    "resolve_model_path": "vaekit.models.saving",
    "export_model": "vaekit.export",
    "ExportError": "vaekit.export",
    "save_image_grid": "vaekit.pictures.plots",
    "save_reconstruction_grid": "vaekit.pictures.plots",
    "grid_png": "vaekit.pictures.plots",
    "reconstruction_png": "vaekit.pictures.plots",
    "save_interpolation": "vaekit.pictures.figures",
    "save_traversal": "vaekit.pictures.figures",
    "save_manifold": "vaekit.pictures.figures",
    "save_latent_map": "vaekit.pictures.figures",
    "save_curves": "vaekit.pictures.figures",
    "interpolation_png": "vaekit.pictures.figures",
    "traversal_png": "vaekit.pictures.figures",
    "manifold_png": "vaekit.pictures.figures",
    "latent_map_png": "vaekit.pictures.figures",
    "curves_png": "vaekit.pictures.figures",
    "kind_of": "vaekit.pictures.outputs",
    "model_codec": "vaekit.pictures.outputs",
    "write_lines": "vaekit.pictures.outputs",
    "write_samples": "vaekit.pictures.outputs",
    "as_rows": "vaekit.pictures.outputs",
    "as_sentences": "vaekit.pictures.outputs",
    "write_table": "vaekit.pictures.tables",
    "write_embeddings": "vaekit.pictures.tables",
    "check_table_path": "vaekit.pictures.tables",
    "Section": "vaekit.pictures.report",
    "write_report": "vaekit.pictures.report",
    "VaekitError": "vaekit.errors",
    "DataError": "vaekit.errors",
    "ConfigError": "vaekit.errors",
    "ModelFileError": "vaekit.errors",
    "TrainingInterrupted": "vaekit.errors",
    "StorageError": "vaekit.errors",
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
