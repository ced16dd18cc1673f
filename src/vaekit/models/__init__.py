"""Models: the VAE and its parts, each a registered, serializable Keras object.

- `vae`: the `VAE` model (the ELBO, the IWAE bound, `encode`, `decode`, `sample`, `reconstruct`);
- `hierarchical`: `HierarchicalVAE`, two layers of latents;
- `build`: `build_vae`, a model from a `ModelConfig` or a preset name;
- `networks`: encoder and decoder builders per architecture; `layers`: the layers they use;
- `likelihoods` (and `autoregressive`): p(x | z) for images; `text`: token sequences (a
  categorical likelihood autoregressive given z, and the recurrent encoder); `tabular`: table rows
  (one head per column); `priors`: p(z);
- `ops`: backend-neutral densities; `saving`: safe save and load.

Importing the package imports every module that registers a class, so a saved model loads whichever
module a program imported first.
"""

from vaekit.models import (  # noqa: F401
    autoregressive,
    hierarchical,
    likelihoods,
    priors,
    tabular,
    text,
    vae,
)
