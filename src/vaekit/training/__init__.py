"""Training: a config in, a run directory out.

- `run`: `train` and `resume`, the run and its phases;
- `checkpoints`: crash-safe checkpoints, the resume state and the history;
- `callbacks`: NaN and Ctrl-C guards, KL warm-up, early stopping, snapshots;
- `optimizers`: the optimizers a config names;
- `init_from`: starting a run from a trained model's weights.

The file names of a run directory live in `vaekit.run_dir`; the data order in `vaekit.data.order`.
"""
