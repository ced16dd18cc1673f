"""Unsupervised anomaly detection on the 16 ODDS sets: vaekit's tabular VAE beside PyOD's detectors.

Every detector runs in the same process, on the same splits, under one protocol (ADBench's
unsupervised setting, Han et al. 2022, with the differences listed below):

- per dataset and seed: `train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)`;
- each detector is fit on the 70% without its labels (its outliers included, as in ADBench) and
  scores the 30%; higher score = more anomalous;
- figures: `roc_auc_score` and `average_precision_score` on the 30%, mean and sample standard
  deviation (ddof=1) over seeds 0 .. seeds-1; the "mean" rows average the per-dataset means over the
  datasets on which every detector shown has a result; "mean rank" ranks the detectors per dataset
  on that table's figure (1 = best; ties share the average rank);
- the PyOD detectors get features standardised with the mean and standard deviation of the
  training part (a column constant in the training part is only centred). IForest and ECOD do not
  need it (both are invariant to it up to float rounding), but all four get the same input;
- vaekit gets the raw features: its `TableSchema` codec fits its own scalers on the training part
  (a user's table goes in as it is);
- time: wall seconds of fit + score (standardising included), per detector and seed; modules are
  imported before the first fit, but vaekit's time includes building the codec and the model and
  compiling it (a new model for every fit). `--threads` (default 1) caps torch's and XLA's CPU
  threads: on this 2-core machine, with other work running, PyOD's VAE took 70 ms per training step
  with torch's default 2 threads against 4.5 ms with 1 (cardio, batch 32). Scores do not depend on
  it beyond float rounding.

Detectors, PyOD defaults except the seed (and `verbose=0`):

- `iforest`: `IForest(random_state=seed)`: 100 trees, max_samples="auto" (256), n_jobs=1.
- `ecod`: `ECOD()`: no parameters, deterministic, n_jobs=1.
- `pyod_vae`: `VAE(random_state=seed, verbose=0)`: 30 epochs, batch 32, Adam lr 1e-3 with weight
  decay 1e-5, encoder 128-64-32, decoder 32-64-128, 2-d latent, dropout 0.2, beta 1, its own
  standardisation (preprocessing=True); score = Euclidean distance between x and its reconstruction.
- `pyod_ae`: `AutoEncoder(random_state=seed, verbose=0)`: 10 epochs, batch 32, Adam lr 1e-3 with
  weight decay 1e-5, hidden 64-32, batch norm, dropout 0.2, preprocessing=True; score = the same
  reconstruction distance.
  Caveat of both (PyOD's own standardisation divides by std + 1e-8): a test row with a value in a
  column that is constant in the training part scores about 1e8, first in the ranking. Of the 16
  sets only arrhythmia has such rows: 5 to 13 of its 136 test rows per seed (seeds 0-4), 1 to 8 of
  them outliers.
- `vaekit`: the "tabular" preset of `vaekit.build_vae` on `TableSchema.fit_numeric`, Keras
  `compile` + `fit` (Adam 1e-3, batch 128, `--epochs`), score = `vaekit.score_examples(...,
  num_samples=100)["score"]`. Skipped, with a message, while vaekit has no tabular model.

Differences from ADBench's own code (`adbench/datasets/data_generator.py`): ADBench min-max scales
(here: z-scores), subsamples sets of more than 10,000 rows to 10,000 (here shuttle keeps its 49,097)
and repeats rows of sets under 1,000 rows up to 1,000 before splitting (here: no duplicates, so no
row can be in both parts).

Install (benchmark-only dependencies; the base `pyod` wheel does not pull torch, so the venv's torch
is left as it is; PyOD's VAE and AutoEncoder need torch installed):

    pip install pyod==3.6.7 scikit-learn==1.9.1 tqdm==4.70.1

(PyOD's deep detectors import tqdm without declaring it.)

First run with pyod 3.6.7, scikit-learn 1.9.1, numpy 2.4.6, scipy 1.17.1, torch 2.13.0+cpu,
keras 3.15.1 (JAX 0.10.2 backend), Python 3.11.7 (the script prints the versions and the CPU of each run).

    python benchmarks/tabular.py                          # 16 sets x 5 seeds x 5 detectors
    python benchmarks/tabular.py --datasets glass,wbc,vertebral --seeds 2 \
        --detectors iforest,ecod,pyod_vae,pyod_ae --out runs/odds.json

`--out` keeps every (dataset, detector, seed) result as it is done (written atomically); a second
call with the same file skips what is there, so a long run can be resumed or extended (a result
counts as there when its detector settings, such as vaekit's epochs, match). A detector that
raises is skipped for the rest of the call and reported at the end (exit status 1). The data
come from `--data-dir` (default `$VAEKIT_DATA_DIR/odds`, else `../shared/data/odds` beside the repo):
`.mat` files with `X` (n x d) and `y` (n x 1, 1 = outlier).
"""

import argparse
import importlib
import importlib.metadata
import os
import sys
import time
import traceback

import numpy as np

from results import cell, environment, read_results, write_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = [
    "arrhythmia",
    "cardio",
    "glass",
    "ionosphere",
    "letter",
    "lympho",
    "musk",
    "optdigits",
    "pendigits",
    "pima",
    "satellite",
    "satimage-2",
    "shuttle",
    "vertebral",
    "vowels",
    "wbc",
]
TEST_SIZE = 0.3
VAEKIT_BATCH_SIZE, VAEKIT_SAMPLES, VAEKIT_LEARNING_RATE = 128, 100, 1e-3
MODULES = {  # imported before the first fit, so that import time stays out of the timings
    "iforest": ("pyod.models.iforest",),
    "ecod": ("pyod.models.ecod",),
    "pyod_vae": ("pyod.models.vae",),
    "pyod_ae": ("pyod.models.auto_encoder",),
    "vaekit": ("keras", "vaekit"),
}
PACKAGES = ("numpy", "scipy", "scikit-learn", "pyod", "torch", "keras", "jax", "vaekit")


# --- detectors: fit_score(x_train, x_test, seed) -> test scores, higher = more anomalous ---------


def standardise(x_train, x_test):
    """z-scores with the training part's mean and std (a constant column is only centred)."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std


def pyod_fit_score(make):
    """A `fit_score` for the PyOD detector that `make(seed)` builds (on standardised features)."""

    def fit_score(x_train, x_test, seed):
        x_train, x_test = standardise(x_train, x_test)
        detector = make(seed)
        detector.fit(x_train)
        return detector.decision_function(x_test)

    return fit_score


def _iforest(seed):
    from pyod.models.iforest import IForest

    return IForest(random_state=seed)


def _ecod(seed):
    from pyod.models.ecod import ECOD

    return ECOD()


def _pyod_vae(seed):
    from pyod.models.vae import VAE

    return VAE(random_state=seed, verbose=0)


def _pyod_ae(seed):
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(random_state=seed, verbose=0)


def vaekit_fit_score(x_train, x_test, seed, epochs):
    """vaekit's tabular VAE, through the public API only, on the raw features."""
    import keras

    import vaekit

    keras.utils.set_random_seed(seed)
    schema = vaekit.TableSchema.fit_numeric(x_train)  # the codec fits its own scalers
    xt, xs = schema.encode_array(x_train), schema.encode_array(x_test)
    model = vaekit.build_vae(xt.shape[1:], "tabular", seed=seed, codec=schema)
    model.compile(optimizer=keras.optimizers.Adam(VAEKIT_LEARNING_RATE))
    model.fit(xt, epochs=epochs, batch_size=VAEKIT_BATCH_SIZE, verbose=0)
    scores = vaekit.score_examples(model, xs, num_samples=VAEKIT_SAMPLES, seed=seed, columns=False)[
        "score"
    ]
    return np.asarray(scores)


def vaekit_missing():
    """Why vaekit's tabular model cannot run here, or None when it can."""
    try:
        import vaekit

        missing = [n for n in ("TableSchema", "score_examples") if not hasattr(vaekit, n)]
    except ImportError as error:  # a module of the API that fails to import
        return f"{type(error).__name__}: {error}"
    return f"vaekit has no {', '.join(missing)}" if missing else None


def detectors(epochs):
    """name -> (fit_score, settings recorded with each result)."""
    return {
        "iforest": (pyod_fit_score(_iforest), {}),
        "ecod": (pyod_fit_score(_ecod), {}),
        "pyod_vae": (pyod_fit_score(_pyod_vae), {}),
        "pyod_ae": (pyod_fit_score(_pyod_ae), {}),
        "vaekit": (
            lambda x_train, x_test, seed: vaekit_fit_score(x_train, x_test, seed, epochs),
            {"epochs": epochs, "batch_size": VAEKIT_BATCH_SIZE, "num_samples": VAEKIT_SAMPLES},
        ),
    }


# --- data, protocol, results file ----------------------------------------------------------------


def load_odds(data_dir, name):
    import scipy.io

    mat = scipy.io.loadmat(os.path.join(data_dir, f"{name}.mat"))
    return np.asarray(mat["X"], dtype=np.float64), np.asarray(mat["y"]).ravel().astype(int)


def evaluate(fit_score, x, y, seed):
    """One (detector, dataset, seed): the split, fit on 70% unlabelled, figures on 30%."""
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    x_train, x_test, _, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    start = time.perf_counter()
    scores = np.asarray(fit_score(x_train, x_test, seed), dtype=np.float64).ravel()
    seconds = time.perf_counter() - start
    if scores.shape != (len(x_test),) or not np.all(np.isfinite(scores)):
        raise ValueError(
            f"Expected {len(x_test)} finite scores. Received: shape={scores.shape}, "
            f"non-finite={int(np.sum(~np.isfinite(scores)))}"
        )
    return {
        "roc_auc": float(roc_auc_score(y_test, scores)),
        "ap": float(average_precision_score(y_test, scores)),
        "seconds": seconds,
    }


def print_tables(results, meta, names, seeds):
    def values(dataset, name, key):
        runs = results.get(dataset, {}).get(name, {})
        return [runs[str(s)][key] for s in range(seeds) if str(s) in runs]

    complete = [d for d in meta if all(len(values(d, n, "roc_auc")) == seeds for n in names)]
    for key, title in (("roc_auc", "ROC-AUC"), ("ap", "average precision")):
        print(f"\n{title} on the 30% test part, mean ± std over {seeds} seeds")
        print("| dataset | n | d | outliers % | " + " | ".join(names) + " |")
        print("| --- | --- | --- | --- |" + " --- |" * len(names))
        for dataset, (n, d, rate) in meta.items():
            cells = " | ".join(cell(values(dataset, name, key)) for name in names)
            print(f"| {dataset} | {n} | {d} | {100 * rate:.1f} | {cells} |")
        if complete:
            means = [np.mean([np.mean(values(d, n, key)) for d in complete]) for n in names]
            label = f"mean over {len(complete)} datasets"
            print(f"| {label} | | | | " + " | ".join(f"{m:.3f}" for m in means) + " |")
            if len(names) > 1:
                from scipy.stats import rankdata

                table = [[-np.mean(values(d, n, key)) for n in names] for d in complete]
                ranks = np.mean([rankdata(row) for row in table], axis=0)
                print("| mean rank | | | | " + " | ".join(f"{r:.2f}" for r in ranks) + " |")
    print(f"\nfit + score wall time, all {len(meta)} datasets x seeds shown")
    print("| detector | total s | mean s per fit |")
    print("| --- | --- | --- |")
    for name in names:
        times = [t for d in meta for t in values(d, name, "seconds")]
        mean = f"{np.mean(times):.2f}" if times else "-"
        print(f"| {name} | {sum(times):.1f} | {mean} |")


def warm_up(table, names):
    """Import each detector's modules and fit it once on a small random table, untimed (lazy
    initialisation stays out of the first dataset's time). Returns name -> traceback of those that
    fail."""
    x = np.random.default_rng(0).normal(size=(200, 5))
    failed = {}
    for name in names:
        try:
            for module in MODULES[name]:
                importlib.import_module(module)
            table[name][0](x[:140], x[140:], 0)  # (train, test, seed)
        except Exception:
            failed[name] = f"warm-up:\n{traceback.format_exc()}"
    return failed


# --- main ----------------------------------------------------------------------------------------


def main():
    data_root = os.environ.get("VAEKIT_DATA_DIR") or os.path.join(REPO, "..", "shared", "data")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="all", help="all, or names separated by commas")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    p.add_argument("--detectors", default="iforest,ecod,pyod_vae,pyod_ae,vaekit")
    p.add_argument("--epochs", type=int, default=100, help="vaekit's training epochs")
    p.add_argument("--out", help="results JSON: resumed if it exists, written after each fit")
    p.add_argument("--data-dir", default=os.path.join(data_root, "odds"))
    p.add_argument("--threads", type=int, default=1, help="torch and XLA CPU threads (0: theirs)")
    args = p.parse_args()
    if args.threads:  # before torch or JAX is imported
        flags = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={args.threads}"
        os.environ.setdefault("XLA_FLAGS", flags)

    os.environ.setdefault("KERAS_BACKEND", "jax")  # vaekit's default, before Keras is imported
    datasets = DATASETS if args.datasets == "all" else args.datasets.split(",")
    table = detectors(args.epochs)
    names = args.detectors.split(",")
    unknown = [n for n in names if n not in table] + [d for d in datasets if d not in DATASETS]
    if unknown:
        p.error(f"unknown detector or dataset: {', '.join(unknown)}")
    if "vaekit" in names and (why := vaekit_missing()):
        print(f"vaekit tabular model not available ({why}): no vaekit column", file=sys.stderr)
        names.remove("vaekit")

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    store = read_results(args.out, __doc__.split("\nInstall")[0])
    env = {**environment(PACKAGES), "keras_backend": os.environ["KERAS_BACKEND"]}
    store["runs"].append(env)
    run_index = len(store["runs"]) - 1
    print(
        f"CPU: {env['cpu']} ({env['cores']} cores, load average {env['load_average_1min']} at "
        f"start, torch threads {env['torch_threads']}); "
        + ", ".join(f"{k} {env[k]}" for k in ("python", *PACKAGES) if env[k])
        + f"; Keras backend {env['keras_backend']}"
    )

    started = time.perf_counter()

    def done(dataset, name, seed):
        old = store["results"].get(dataset, {}).get(name, {}).get(str(seed))
        return old is not None and old.get("settings") == table[name][1]

    todo = [n for n in names if not all(done(d, n, s) for d in datasets for s in range(args.seeds))]
    failed = warm_up(detectors(epochs=1), todo)  # the same detectors, vaekit trained 1 epoch
    print(f"warm-up (imports, one small fit each): {time.perf_counter() - started:.0f} s")
    meta = {}
    for dataset in datasets:
        x, y = load_odds(args.data_dir, dataset)
        meta[dataset] = (x.shape[0], x.shape[1], float(y.mean()))
        for name in names:
            fit_score, settings = table[name]
            runs = store["results"].setdefault(dataset, {}).setdefault(name, {})
            for seed in range(args.seeds):
                if name in failed or done(dataset, name, seed):
                    continue
                try:
                    r = evaluate(fit_score, x, y, seed)
                except Exception:  # one detector's bug must not end a long run: reported below
                    failed[name] = f"{dataset}, seed {seed}:\n{traceback.format_exc()}"
                    print(f"{dataset:<11} {name:<9} seed {seed}: FAILED", flush=True)
                    continue
                runs[str(seed)] = {**r, "settings": settings, "run": run_index}
                print(
                    f"{dataset:<11} {name:<9} seed {seed}: ROC-AUC {r['roc_auc']:.3f} "
                    f"AP {r['ap']:.3f} ({r['seconds']:.1f} s)",
                    flush=True,
                )
                if args.out:
                    write_atomic(args.out, store)
    print_tables(store["results"], meta, names, args.seeds)
    wall = time.perf_counter() - started
    print(f"\nwall time of this call: {wall:.0f} s ({wall / 60:.1f} min)")
    for name, where in failed.items():
        print(f"\n{name} FAILED (no further fits of it in this call) at {where}", file=sys.stderr)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
