"""Synthetic rows: vaekit's tabular VAE beside SDV's TVAE (the `ctgan` package), in one run.

Every generator runs in the same process, on the same splits, under one protocol:

- datasets: `diamonds` (53,940 rows; 7 numbers, 3 categories; efficacy target `price`,
  regression) and `penguins` (344 rows, mixed, with missing cells; target `species`,
  classification); `--limit-rows N` first keeps a random N rows of the table (random_state=0,
  the same rows for every seed);
- per dataset and seed: `train_test_split(rows, test_size=0.2, random_state=seed)`, stratified by
  the target for classification. Each generator is fit on the 80% "training rows" and samples as
  many rows as there are training rows;
- quality: SDMetrics' `QualityReport` of the synthetic rows against the training rows, with each
  column's sdtype (numerical for numbers, penguins' `year` included; categorical for text):
  "shapes" (Column Shapes: KSComplement per number, TVComplement per category), "pair trends"
  (Column Pair Trends: correlation similarity per pair of numbers, contingency similarity for
  the others) and "overall" (their mean). The report's own defaults: a pair counts only when the
  real rows relate it (|Pearson r| > 0.5 for two numbers, Cramér's V > 0.3 otherwise; diamonds:
  the 10 pairs among carat, price, x, y, z, cut / depth, and cut / table for some splits;
  `pairs_counted` in the results), and a number paired with a category is cut into 10
  equal-width bins over each table's own range, real and synthetic apart, so one far value in
  either moves every bin of that pair. On diamonds those one or two pairs make most of the
  spread: the held-out real rows score cut / depth 0.48, 0.38, 0.59 and cut / table 0.14
  (seeds 0, 1, 2), the numeric pairs 0.98-1.0. vaekit clips sampled numbers to the training
  range, which keeps its bins closer to the real ones;
- efficacy: a scikit-learn `HistGradientBoostingRegressor` (diamonds: R² of `price`) or
  `HistGradientBoostingClassifier` (penguins: accuracy on `species`), defaults and
  `random_state=seed`, categories as pandas categories with the whole table's category list
  (`categorical_features="from_dtype"`), missing cells left to the model; trained on the
  synthetic rows (rows without a target dropped), tested on the 20% held-out real rows;
- "real": the reference. Efficacy of the same model trained on the real training rows; its
  quality figures are the held-out real rows' report against the training rows (what an
  independent real sample of a fifth of the size scores);
- figures: mean and sample standard deviation (ddof=1) over seeds 0 .. seeds-1;
- time: wall seconds of fit and of sample, per generator and seed; modules are imported and each
  generator fit once on 200 rows for 1 epoch before the first timed fit (untimed). `--threads`
  (default 1) caps torch's, XLA's and OpenMP's (scikit-learn's) CPU threads. What stays in the
  times, as a user meets it: vaekit compiles each new model's train step (about 7 s of its
  first epoch on diamonds), and JAX compiles the sampling ops for each new row count once per
  process (diamonds' 43,152 rows: 6-9 s the first time, under 1 s after, so seed 0's sample time
  is the high one); TVAE fits a Bayesian GMM per number (diamonds: 50-60 s before its first
  epoch).

Generators:

- `vaekit`: through the public API, as a user would on a CSV file: the training rows written, as
  the file spells them, to a temporary CSV; `vaekit.load_dataset(csv, val_fraction=0.1,
  seed=seed)` fits the `TableSchema` (types and categories from those rows, scales from its own
  train split, 81% of them) and carves val and test splits out of them; the model trains on all
  three encoded splits (= every training row). `keras.utils.set_random_seed(seed)`,
  `build_vae(data.shape, "tabular", seed=seed, codec=data.codec)` (MLP 128-128, 8-d latent, one
  head per column), `compile(Adam(1e-3))`, `fit(x, epochs=--vaekit-epochs (100),
  batch_size=--vaekit-batch, verbose=0)`. The batch is fixed by rows, not tuned: by default
  `clip(training rows // 32, 32, 256)` (penguins 32, diamonds 256; at least 32 steps an epoch
  where the table allows). Sampling: `data.codec.decode(vaekit.prior_rows(model, n,
  seed=seed))`, what `vaekit sample` writes: z from the prior, then every cell drawn from
  p(x | z) (numbers with the decoder's learned scale, categories from their probabilities).
  Missing cells are fed as they are (modelled); samples have every cell observed. Its fit time
  includes reading the CSV, fitting the schema and building and compiling the model.
- `vaekit_mean` (not run by default): the same fitted model (a run with both fits once and
  reports that fit time for both), sampled as `vaekit sample` did before drawn rows:
  `data.codec.decode(model.sample(n, seed=seed))`, the likelihood's means at prior draws of z
  (numbers at the decoder's mean, categories at their most likely value).
- `tvae`: `ctgan.TVAE(epochs=--tvae-epochs)`, every other argument its default (128-d latent,
  128-128 networks, batch 500, 300 epochs, l2scale 1e-5, loss_factor 2), `torch.manual_seed(seed)`
  and `np.random.seed(seed)` before `fit(rows, discrete_columns=<the categorical columns>)`, then
  `set_random_state(seed)` and `sample(n)`. TVAE (ctgan 0.12.1) fits numeric columns with
  missing cells but fails to sample (its GMM normaliser adds a null column its decoder does not
  produce), so it gets the training rows with a missing number dropped (penguins: 2 of 344 rows
  in the whole table; missing `sex` cells stay, as a category). It still samples n rows.

Install (benchmark-only dependencies; pip keeps the venv's torch 2.13.0+cpu and numpy 2.4.6):

    pip install sdmetrics==0.32.0 ctgan==0.12.1 pandas==2.3.3

(which also brings rdt 2.0.0, copulas 0.14.1, plotly 7.1.0, Faker 40.63.0, pytz 2026.6).
First run with sdmetrics 0.32.0, ctgan 0.12.1, rdt 2.0.0, pandas 2.3.3, scikit-learn 1.9.1,
numpy 2.4.6, torch 2.13.0+cpu, keras 3.15.1 (JAX 0.10.2 backend), Python 3.11.7 (the script
prints the versions and the CPU of each run).

    python benchmarks/synthetic.py                                  # both tables, 3 seeds
    python benchmarks/synthetic.py --datasets penguins --generators vaekit,vaekit_mean,tvae \
        --out runs/synthetic.json
    python benchmarks/synthetic.py --datasets diamonds --limit-rows 5000 --seeds 1

The full run's time, estimated from timed pieces on 2 busy cores (AMD EPYC, load average about 5):
per diamonds seed, TVAE about 330 s (GMMs 50 s + 300 epochs at 0.9 s), vaekit about 55 s (7 s
compile + 100 epochs at 0.45 s), sampling, reports and efficacy under 20 s; so about 20 min for
diamonds x 3 seeds, plus 1.5 min for penguins.

`--out` keeps every (dataset, generator, seed) result as it is done (written atomically); a second
call with the same file skips what is there, so a long run can be resumed or extended (a result
counts as there when its settings, such as the epochs, match; a limited table is its own dataset,
`diamonds-5000`). A generator that raises is skipped for the rest of the call and reported at the
end (exit status 1). The tables come from `--data-dir` (default `$VAEKIT_DATA_DIR/tables`, else
`../shared/data/tables` beside the repo).
"""

import argparse
import math
import os
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np

from results import cell, environment, read_results, write_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = {  # file, efficacy target, task, categorical columns (the rest are numbers)
    "diamonds": ("diamonds.csv", "price", "regression", ("cut", "color", "clarity")),
    "penguins": ("penguins.csv", "species", "classification", ("species", "island", "sex")),
}
GENERATORS = ("vaekit", "vaekit_mean", "tvae")
DEFAULT_GENERATORS = ("vaekit", "tvae")
TEST_SIZE, LIMIT_SEED, WARM_UP_ROWS = 0.2, 0, 200
VAEKIT_LEARNING_RATE, VAEKIT_VAL_FRACTION = 1e-3, 0.1
TVAE_DEFAULT_EPOCHS = 300  # ctgan 0.12.1's TVAE(epochs=300)
PACKAGES = (
    "numpy", "pandas", "scikit-learn", "sdmetrics", "ctgan", "rdt", "torch", "keras", "jax",
    "vaekit",
)  # fmt: skip


# --- the tables ----------------------------------------------------------------------------------


class Table:
    """One dataset: the file's text cells (what vaekit reads), typed columns (what the metrics,
    TVAE and the efficacy model read), and the spec."""

    def __init__(self, name, data_dir, limit_rows=None):
        import pandas as pd

        file, self.target, self.task, self.categorical = DATASETS[name]
        path = os.path.join(data_dir, file)
        self.raw = pd.read_csv(path, dtype=str, keep_default_na=False)  # cells as written
        self.typed = pd.read_csv(path)  # empty cells are NaN
        if limit_rows and limit_rows < len(self.typed):
            keep = self.typed.sample(n=limit_rows, random_state=LIMIT_SEED).index
            self.raw, self.typed = self.raw.loc[keep], self.typed.loc[keep]
        self.raw, self.typed = self.raw.reset_index(drop=True), self.typed.reset_index(drop=True)
        self.name = name if not limit_rows else f"{name}-{limit_rows}"
        self.columns = list(self.typed.columns)
        self.numeric = [c for c in self.columns if c not in self.categorical]
        self.categories = {
            c: sorted(self.typed[c].dropna().astype(str).unique()) for c in self.categorical
        }
        self.typed = self.conform(self.typed)

    def split(self, seed):
        """`(train_idx, train, test)`: the training rows' indices, the training and the held-out
        rows (typed, indexed 0 .. n-1 like the synthetic rows)."""
        from sklearn.model_selection import train_test_split

        stratify = self.typed[self.target] if self.task == "classification" else None
        train_idx, test_idx = train_test_split(
            np.arange(len(self.typed)), test_size=TEST_SIZE, random_state=seed, stratify=stratify
        )
        rows = self.typed.iloc
        return (
            train_idx,
            rows[train_idx].reset_index(drop=True),
            rows[test_idx].reset_index(drop=True),
        )

    def conform(self, frame):
        """`frame` (real or synthetic) with the table's columns, in order: numbers as float,
        categories as text, missing cells as NaN."""
        import pandas as pd

        out = pd.DataFrame(index=range(len(frame)))
        for c in self.columns:
            values = frame[c].reset_index(drop=True)
            if c in self.categorical:
                out[c] = values.map(lambda v: np.nan if v is None or v != v else str(v)).astype(
                    object
                )
            else:
                out[c] = pd.to_numeric(values, errors="coerce").astype("float64")
        return out

    def metadata(self):
        return {
            "columns": {
                c: {"sdtype": "categorical" if c in self.categorical else "numerical"}
                for c in self.columns
            }
        }


# --- generators: fit(table, train_idx, seed) -> fitted; sample(fitted, n, seed) -> DataFrame ----


def vaekit_batch(rows, batch):
    return batch or int(np.clip(rows // 32, 32, 256))


def vaekit_fit(table, train_idx, seed, epochs, batch):
    import keras

    import vaekit

    rows = table.raw.iloc[train_idx]
    with tempfile.TemporaryDirectory(prefix="vaekit-synthetic-") as folder:
        path = os.path.join(folder, f"{table.name}.csv")
        rows.to_csv(path, index=False)
        data = vaekit.load_dataset(path, val_fraction=VAEKIT_VAL_FRACTION, seed=seed)
    x = np.concatenate([data.x_train, data.x_val, data.x_test])  # every training row
    if len(x) != len(rows):
        raise ValueError(f"Expected {len(rows)} encoded rows. Received: {len(x)}")
    keras.utils.set_random_seed(seed)
    model = vaekit.build_vae(data.shape, "tabular", seed=seed, codec=data.codec)
    model.compile(optimizer=keras.optimizers.Adam(VAEKIT_LEARNING_RATE))
    history = model.fit(x, epochs=epochs, batch_size=vaekit_batch(len(x), batch), verbose=0)
    return {"model": model, "codec": data.codec, "loss": float(history.history["loss"][-1])}


def vaekit_sample(fitted, n, seed, draw):
    import pandas as pd

    import vaekit

    model = fitted["model"]
    # draw: z ~ p(z), then x ~ p(x | z); mean: the likelihood's means at z ~ p(z)
    x = vaekit.prior_rows(model, n, seed=seed) if draw else model.sample(n, seed=seed)
    return pd.DataFrame(fitted["codec"].decode(x))


def tvae_fit(table, train_idx, seed, epochs):
    import torch
    from ctgan import TVAE

    rows = table.typed.iloc[train_idx].dropna(subset=table.numeric)  # see the docstring
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = TVAE(epochs=epochs)
    model.fit(rows, discrete_columns=list(table.categorical))
    losses = model.loss_values
    last = losses[losses["Epoch"] == losses["Epoch"].max()]["Loss"].mean()
    return {"model": model, "loss": float(last), "rows_dropped": len(train_idx) - len(rows)}


def tvae_sample(fitted, n, seed):
    fitted["model"].set_random_state(seed)
    return fitted["model"].sample(n)


def generators(vaekit_epochs, vaekit_batch_size, tvae_epochs):
    """name -> (fit, sample, settings recorded with each result, key of a fit it can share)."""

    def fit_vaekit(table, idx, seed):
        return vaekit_fit(table, idx, seed, vaekit_epochs, vaekit_batch_size)

    vaekit_settings = {
        "epochs": vaekit_epochs,
        "batch_size": vaekit_batch_size or "auto",
        "learning_rate": VAEKIT_LEARNING_RATE,
    }
    return {
        "vaekit": (
            fit_vaekit,
            lambda fitted, n, seed: vaekit_sample(fitted, n, seed, draw=True),
            {**vaekit_settings, "sampling": "draw"},
            "vaekit",
        ),
        "vaekit_mean": (
            fit_vaekit,
            lambda fitted, n, seed: vaekit_sample(fitted, n, seed, draw=False),
            {**vaekit_settings, "sampling": "mean"},
            "vaekit",
        ),
        "tvae": (
            lambda table, idx, seed: tvae_fit(table, idx, seed, tvae_epochs),
            tvae_sample,
            {"epochs": tvae_epochs},
            "tvae",
        ),
    }


# --- figures -------------------------------------------------------------------------------------


def quality(table, real, synthetic):
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic, table.metadata(), verbose=False)
    properties = dict(zip(*report.get_properties()[["Property", "Score"]].values.T, strict=True))
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    return {
        "shapes": _number(properties["Column Shapes"]),
        "pair_trends": _number(properties["Column Pair Trends"]),
        "overall": _number(report.get_score()),
        "column_shapes": {r["Column"]: _number(r["Score"]) for _, r in shapes.iterrows()},
        "pairs_counted": int((pairs["Meets Threshold?"].eq(True) & pairs["Score"].notna()).sum()),
        "pair_trends_detail": {  # None: a pair the report leaves out (see the docstring)
            f"{r['Column 1']} / {r['Column 2']}": _number(r["Score"]) for _, r in pairs.iterrows()
        },
    }


def efficacy(table, train, test, seed):
    """R² (regression) or accuracy (classification) on the real held-out rows `test` of a
    gradient-boosting model trained on `train`."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score

    def features(frame):
        x = frame.drop(columns=[table.target]).copy()
        for c in x.columns:
            if c in table.categorical:
                x[c] = pd.Categorical(x[c], categories=table.categories[c])
        return x

    train = train[train[table.target].notna()]
    y_train, y_test = train[table.target], test[table.target]
    if table.task == "regression":
        model = HistGradientBoostingRegressor(random_state=seed, categorical_features="from_dtype")
        return float(r2_score(y_test, model.fit(features(train), y_train).predict(features(test))))
    if y_train.nunique() < 2:  # one class only: every prediction is that class
        return float(np.mean(y_test.to_numpy() == y_train.iloc[0]))
    model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
    return float(
        accuracy_score(y_test, model.fit(features(train), y_train).predict(features(test)))
    )


def _number(value):
    value = float(value)
    return None if math.isnan(value) else value


# --- tables --------------------------------------------------------------------------------------


def print_tables(results, table, names, seeds):
    def runs(name):
        got = results.get(table.name, {}).get(name, {})
        return [got[str(s)] for s in range(seeds) if str(s) in got]

    figure = "R²" if table.task == "regression" else "accuracy"
    print(f"\n{table.name} ({len(table.typed)} rows; efficacy: {figure} of {table.target} on the")
    print(f"20% held-out real rows), mean ± std over the seeds done of {seeds}")
    print(f"| generator | seeds | shapes | pair trends | overall | {figure} | fit s | sample s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in [*names, "real"]:
        done = runs(name)
        if not done:
            continue
        keys = ("shapes", "pair_trends", "overall", "efficacy")
        cells = " | ".join(cell([r[k] for r in done]) for k in keys)
        times = " | ".join(cell([r.get(k) for r in done], 1) for k in ("fit_s", "sample_s"))
        label = "real (held-out rows; trained on real)" if name == "real" else name
        print(f"| {label} | {len(done)} | {cells} | {times} |")
    shown = [n for n in [*names, "real"] if runs(n)]
    if not shown:
        return
    print(f"\n{table.name}: Column Shapes per column (KS / TV complement), mean over seeds")
    print("| column | " + " | ".join(shown) + " |")
    print("| --- |" + " --- |" * len(shown))
    for c in table.columns:
        means = [np.mean([r["column_shapes"].get(c) or np.nan for r in runs(n)]) for n in shown]
        print(f"| {c} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


# --- main ----------------------------------------------------------------------------------------


def evaluate_real(table, seed):
    _, train, test = table.split(seed)
    return {**quality(table, train, test), "efficacy": efficacy(table, train, test, seed)}


def warm_up(tables, names, table_of):
    """Imports and one small fit of each generator (1 epoch on 200 rows), untimed. Returns name ->
    traceback of those that fail."""
    import sdmetrics.reports.single_table  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    table = tables[0]
    idx = np.arange(min(WARM_UP_ROWS, len(table.typed)))
    failed = {}
    for name in names:
        fit, sample, _, _ = table_of[name]
        try:
            table.conform(sample(fit(table, idx, 0), 50, 0))
        except Exception:
            failed[name] = f"warm-up:\n{traceback.format_exc()}"
    return failed


def main():
    data_root = os.environ.get("VAEKIT_DATA_DIR") or os.path.join(REPO, "..", "shared", "data")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="diamonds,penguins", help="names separated by commas")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    p.add_argument("--generators", default=",".join(DEFAULT_GENERATORS), help=", ".join(GENERATORS))
    p.add_argument("--vaekit-epochs", type=int, default=100)
    p.add_argument("--vaekit-batch", type=int, default=0, help="0: clip(rows // 32, 32, 256)")
    p.add_argument("--tvae-epochs", type=int, default=TVAE_DEFAULT_EPOCHS)
    p.add_argument("--limit-rows", type=int, help="keep a random N rows of each table first")
    p.add_argument("--out", help="results JSON: resumed if it exists, written after each fit")
    p.add_argument("--data-dir", default=os.path.join(data_root, "tables"))
    p.add_argument("--threads", type=int, default=1, help="torch, XLA, OpenMP threads (0: theirs)")
    args = p.parse_args()
    if args.threads:  # before torch, JAX or scikit-learn is imported
        flags = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={args.threads}"
        os.environ.setdefault("XLA_FLAGS", flags)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("KERAS_BACKEND", "jax")  # vaekit's default, before Keras is imported
    warnings.filterwarnings("ignore", category=FutureWarning)  # pandas/rdt/sdmetrics chatter
    warnings.filterwarnings("ignore", module="(sdmetrics|rdt|ctgan|copulas)")

    names = args.generators.split(",")
    datasets = args.datasets.split(",")
    unknown = [n for n in names if n not in GENERATORS] + [d for d in datasets if d not in DATASETS]
    if unknown:
        p.error(f"unknown generator or dataset: {', '.join(unknown)}")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    table_of = generators(args.vaekit_epochs, args.vaekit_batch, args.tvae_epochs)
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
    tables = [Table(d, args.data_dir, args.limit_rows) for d in datasets]

    def done(table, name, seed):
        old = store["results"].get(table.name, {}).get(name, {}).get(str(seed))
        settings = table_of[name][2] if name in table_of else {}
        return old is not None and old.get("settings") == settings

    todo = [n for n in names if not all(done(t, n, s) for t in tables for s in range(args.seeds))]
    failed = warm_up(tables, todo, generators(1, args.vaekit_batch, 1))
    print(f"warm-up (imports, one small fit each): {time.perf_counter() - started:.0f} s")
    for table in tables:
        for seed in range(args.seeds):
            train_idx, train, test = table.split(seed)
            runs = store["results"].setdefault(table.name, {})
            if not done(table, "real", seed):
                r = evaluate_real(table, seed)
                runs.setdefault("real", {})[str(seed)] = {**r, "settings": {}, "run": run_index}
            fits = {}  # a fit shared by generators of the same model (vaekit, vaekit_mean)
            for name in names:
                fit, sample, settings, shared = table_of[name]
                if name in failed or done(table, name, seed):
                    continue
                try:
                    if shared not in fits:
                        start = time.perf_counter()
                        fits[shared] = (fit(table, train_idx, seed), time.perf_counter() - start)
                    fitted, fit_s = fits[shared]
                    start = time.perf_counter()
                    synthetic = table.conform(sample(fitted, len(train_idx), seed))
                    sample_s = time.perf_counter() - start
                    r = {
                        **quality(table, train, synthetic),
                        "efficacy": efficacy(table, synthetic, test, seed),
                        "fit_s": fit_s,
                        "sample_s": sample_s,
                        "final_loss": fitted["loss"],
                        "rows_dropped": fitted.get("rows_dropped", 0),
                        "synthetic_missing_cells": int(synthetic.isna().to_numpy().sum()),
                    }
                except Exception:  # one generator's bug must not end a long run: reported below
                    failed[name] = f"{table.name}, seed {seed}:\n{traceback.format_exc()}"
                    print(f"{table.name:<14} {name:<11} seed {seed}: FAILED", flush=True)
                    continue
                runs.setdefault(name, {})[str(seed)] = {
                    **r,
                    "settings": settings,
                    "run": run_index,
                }
                print(
                    f"{table.name:<14} {name:<11} seed {seed}: shapes {r['shapes']:.3f} pairs "
                    f"{r['pair_trends']:.3f} efficacy {r['efficacy']:.3f} (real "
                    f"{runs['real'][str(seed)]['efficacy']:.3f}); fit {fit_s:.1f} s, sample "
                    f"{sample_s:.1f} s",
                    flush=True,
                )
                if args.out:
                    write_atomic(args.out, store)
            if args.out:
                write_atomic(args.out, store)
    for table in tables:
        print_tables(store["results"], table, names, args.seeds)
    wall = time.perf_counter() - started
    print(f"\nwall time of this call: {wall:.0f} s ({wall / 60:.1f} min)")
    for name, where in failed.items():
        print(f"\n{name} FAILED (no further fits of it in this call) at {where}", file=sys.stderr)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
