"""Evaluation: honest figures for a trained model, written once for every model and likelihood.

- `nll`: the negative ELBO, the importance-sampled negative log-likelihood and active units;
- `information`: the mutual information I(x; z) between data and latents under the encoder;
- `scores`: each example's own score (its NLL), for finding the unusual ones;
- `disentanglement`: MIG, SAP, the FactorVAE score and DCI against ground-truth factors.
"""
