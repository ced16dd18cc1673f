"""Test log-likelihood of named recipes on static binarized MNIST (train 50k, val 10k, test 10k).

Each recipe is a `vaekit train` command (early stopping and every other choice on the validation
split) followed by `vaekit evaluate RUN --split test -k 5000 --json` (the test split is touched only
for this final number). The script prints one Markdown row per recipe (recipe, parameters, epochs
run, wall time, test negative ELBO, test NLL, and the exact commands) and, with `--write`, puts the
table into BENCHMARKS.md between its likelihood markers, keeping rows of recipes not run this time.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/likelihood.py [--recipes seed,vae] [--write]
        [--epochs-scale 0.1] [--runs runs/likelihood]

`--epochs-scale` shortens every recipe (for a smoke test); the table records the epochs actually run.
"""

import argparse
import csv
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- likelihood-table:begin -->", "<!-- likelihood-table:end -->"
COMMON = ["--dataset", "binarized_mnist"]


def _hvae_local_ar(epochs, window=None, iw_samples=1, warmup=50, hidden=0):
    """Flags of the two-layer VampPrior + local AR recipes, which differ in epochs, window, the
    likelihood's non-linear term (`hidden` units), training bound (IWAE with `iw_samples` > 1)
    and KL warm-up."""
    extra = "" if window is None else f"--likelihood-option window={window} "
    if hidden:
        extra += f"--likelihood-option hidden={hidden} "
    if iw_samples > 1:
        extra += f"--iw-samples {iw_samples} "
    return (
        f"--model hvae_vampprior --likelihood local_ar_bernoulli {extra}--epochs {epochs} "
        "--batch-size 100 --learning-rate 1e-3 --learning-rate-schedule cosine "
        f"--kl-warmup-epochs {warmup} --patience 30"
    )


# name -> (description, flags). Epoch budgets fit this 2-core machine (but GPU_RECIPES'); see
# BENCHMARKS.md.
RECIPES = {
    "seed": (
        "the classic recipe's model (784-128-64, 10-d latent), true ELBO, to convergence",
        "--model seed --epochs 200 --batch-size 100 --patience 20",
    ),
    "vae": (
        "gated MLP 300-300, 40-d latent, standard normal prior, KL warm-up",
        "--model vae --epochs 300 --batch-size 100 --learning-rate 5e-4 --kl-warmup-epochs 50 "
        "--patience 30",
    ),
    "vampprior": (
        "gated MLP 300-300, 40-d latent, VampPrior (500 pseudo-inputs), KL warm-up",
        "--model vampprior --epochs 300 --batch-size 100 --learning-rate 5e-4 "
        "--kl-warmup-epochs 50 --patience 30",
    ),
    "vae_local_ar": (
        "the vae recipe with the local autoregressive Bernoulli (each pixel also sees the 24 "
        "before it in a 7x7 causal window)",
        "--model vae --likelihood local_ar_bernoulli --epochs 300 --batch-size 100 "
        "--learning-rate 5e-4 --kl-warmup-epochs 50 --patience 30",
    ),
    "vampprior_local_ar": (
        "VampPrior and the local autoregressive Bernoulli, 180 epochs (2 hours here) on a cosine "
        "learning-rate schedule",
        "--model vampprior --likelihood local_ar_bernoulli --epochs 180 --batch-size 100 "
        "--learning-rate 1e-3 --learning-rate-schedule cosine --kl-warmup-epochs 50 --patience 30",
    ),
    "vampprior_reference": (
        "the vampprior recipe with the settings of the paper's code: log-variances clipped to "
        "[-6, 2], Adam on per-tensor normalised gradients, 100-epoch warm-up, patience 50",
        "--model vampprior --log-var-range=-6,2 --optimizer adam_normgrad --epochs 300 "
        "--batch-size 100 --learning-rate 5e-4 --kl-warmup-epochs 100 --patience 50",
    ),
    "vampprior_reference_iw5": (
        "the trained vampprior_reference model fine-tuned on the IWAE bound (K = 5) for 30 epochs "
        "(`--init-from`: run vampprior_reference first)",
        "--model vampprior --log-var-range=-6,2 --init-from {runs}/vampprior_reference "
        "--iw-samples 5 --epochs 30 --batch-size 100 --learning-rate 2e-4 "
        "--learning-rate-schedule cosine --patience 10",
    ),
    "hvae_vampprior": (
        "two stochastic layers (40 + 40), gated MLP 300-300, VampPrior, KL warm-up",
        "--model hvae_vampprior --epochs 300 --batch-size 100 --learning-rate 5e-4 "
        "--kl-warmup-epochs 50 --patience 30",
    ),
    "hvae_vampprior_local_ar": (
        "two stochastic layers (40 + 40), VampPrior and the local autoregressive Bernoulli, 140 "
        "epochs (under 2 hours here) on a cosine learning-rate schedule",
        _hvae_local_ar(epochs=140),
    ),
    "hvae_vampprior_local_ar_w5": (
        "the hvae_vampprior_local_ar model with a wider local window (each pixel sees the 60 "
        "before it in an 11x11 causal window), 240 epochs on a cosine learning-rate schedule",
        _hvae_local_ar(epochs=240, window=5),
    ),
    "hvae_vampprior_local_ar_w5_e140": (
        "the hvae_vampprior_local_ar_w5 model and schedule over 140 epochs instead of 240",
        _hvae_local_ar(epochs=140, window=5),
    ),
    "hvae_vampprior_local_ar_w5_iw5": (
        "the hvae_vampprior_local_ar_w5 model trained on the IWAE bound (K = 5) for 100 epochs "
        "(each epoch costs about 4x an ELBO epoch), KL warm-up 25",
        _hvae_local_ar(epochs=100, window=5, iw_samples=5, warmup=25),
    ),
    "hvae_vampprior_local_ar_w5_h32": (
        "the hvae_vampprior_local_ar_w5_e140 model and schedule with a non-linear local term "
        "(a masked convolution of 32 units over each pixel's causal 11x11 window)",
        _hvae_local_ar(epochs=140, window=5, hidden=32),
    ),
    "resconv_hvae_vampprior": (
        "two stochastic layers (40 + 40), gated residual conv networks, VampPrior, KL warm-up "
        "(the family of the paper's 81.09; a GPU recipe: ~2.6 s a step on this CPU)",
        "--model resconv_vampprior --stochastic-layers 2 --epochs 300 --batch-size 100 "
        "--learning-rate 5e-4 --kl-warmup-epochs 50 --patience 30",
    ),
    "iwae_vampprior": (
        "VampPrior model trained on the IWAE bound (K = 5)",
        "--model vampprior --iw-samples 5 --epochs 200 --batch-size 100 --learning-rate 5e-4 "
        "--kl-warmup-epochs 50 --patience 30",
    ),
}


# Recipes meant for a GPU (days on this CPU): run only when named in --recipes.
GPU_RECIPES = {"resconv_hvae_vampprior"}


def run(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if out.returncode:
        raise SystemExit(f"failed ({out.returncode}): {shlex.join(cmd)}\n{out.stderr[-3000:]}")
    return out.stdout, time.perf_counter() - start


def scaled(flags, scale):
    """The recipe's flags with --epochs (and the schedules tied to it) scaled by `scale`."""
    if scale == 1:
        return flags

    def shrink(match):
        return f"{match.group(1)} {max(1, math.ceil(int(match.group(2)) * scale))}"

    return re.sub(r"(--epochs|--kl-warmup-epochs|--patience) (\d+)", shrink, flags)


def run_recipe(name, args):
    description, flags = RECIPES[name]
    flags = scaled(flags, args.epochs_scale).replace("{runs}", args.runs)  # a run it starts from
    run_dir = os.path.join(args.runs, name)
    if args.existing:  # trained already (perhaps in parts, with `vaekit train --resume`)
        train_wall = existing_train_seconds(run_dir)
    else:
        train = [sys.executable, "-m", "vaekit", "train", *COMMON, *flags.split()]
        train += ["--out", run_dir, "--overwrite", "--verbose", "0"]
        _, train_wall = run(train)
    evaluate = [sys.executable, "-m", "vaekit", "evaluate", run_dir, "--split", "test"]
    evaluate += [
        "-k",
        str(args.k),
        "--json",
        "--out",
        os.path.join(run_dir, "evaluation-test.json"),
    ]
    evaluate += ["--overwrite"]
    if args.test_limit:
        evaluate += ["--limit", str(args.test_limit)]
    out, eval_wall = run(evaluate)
    result = json.loads(out.strip().splitlines()[-1])
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run_dir, "history.csv")) as f:
        epochs = sum(1 for _ in f) - 1
    params = param_count(run_dir)
    shown_train = shlex.join(["vaekit", "train", *COMMON, *flags.split(), "--out", run_dir])
    shown_eval = f"vaekit evaluate {run_dir} --split test -k {args.k}"
    if args.test_limit:
        shown_eval += f" --limit {args.test_limit}"
    return (
        f"| {name} | {description} | {params:,} | {epochs} (best {metrics['best_epoch']}) | "
        f"{'?' if math.isnan(train_wall) else f'{train_wall / 60:.1f}'} + {eval_wall / 60:.1f} | "
        f"{result['elbo']:.2f} | "
        f"**{result['nll']:.2f}** ± {result['nll_standard_error']:.2f} (n={result['n']}) | "
        f"{result['active_units']}/{result['latent_dim']} | `{shown_train}` then `{shown_eval}` |"
    )


def existing_train_seconds(run_dir):
    """Training seconds of a run trained already: metrics.json's total, unless the run was resumed
    (that times only its last part); then the sum of history.csv's epoch_seconds (each epoch's
    training and validation, which add up across the parts) when every epoch has one; else NaN."""
    with open(os.path.join(run_dir, "metrics.json")) as f:
        trained = json.load(f)
    if not trained["resumed_from_epoch"]:
        return trained["train_seconds"]
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        seconds = [float(row.get("epoch_seconds") or "nan") for row in csv.DictReader(f)]
    return math.fsum(seconds) if seconds and all(map(math.isfinite, seconds)) else math.nan


def param_count(run_dir):
    code = (
        "import sys; from vaekit.models.saving import load_model; "
        "m = load_model(sys.argv[1]); "
        "print(sum(int(__import__('math').prod(w.shape)) for w in m.trainable_weights))"
    )
    out, _ = run([sys.executable, "-c", code, run_dir])
    return int(out.strip().splitlines()[-1])


HEADER = (
    "| recipe | model | parameters | epochs | wall min (train + eval) | test -ELBO | "
    "test NLL (K=5000) | active units | command |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def write_table(rows):
    path = os.path.join(REPO, "BENCHMARKS.md")
    with open(path) as f:
        text = f.read()
    old = {}
    if BEGIN in text:
        block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
        for line in block.splitlines():
            if line.startswith("| ") and not line.startswith("| recipe") and "---" not in line:
                old[line.split("|")[1].strip()] = line
    old.update(rows)
    ordered = [old[name] for name in [*RECIPES, *sorted(set(old) - set(RECIPES))] if name in old]
    table = f"{BEGIN}\n{HEADER}\n" + "\n".join(ordered) + f"\n{END}"
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + table + text[text.index(END) + len(END) :]
    else:
        text += f"\n## Test log-likelihood, static binarized MNIST\n\n{table}\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--recipes",
        default=",".join(name for name in RECIPES if name not in GPU_RECIPES),
        help=f"comma-separated, of {', '.join(RECIPES)} (default: all but {', '.join(sorted(GPU_RECIPES))})",
    )
    p.add_argument("--runs", default="runs/likelihood", help="where the run directories go")
    p.add_argument("-k", type=int, default=5000, help="importance samples of the test NLL")
    p.add_argument("--epochs-scale", type=float, default=1.0)
    p.add_argument(
        "--test-limit",
        type=int,
        help="score N test images spread over the split (quicker, noisier)",
    )
    p.add_argument(
        "--existing",
        action="store_true",
        help="evaluate the run directories already under --runs instead of training them "
        "(the training time comes from their metrics.json, or for a run resumed in parts from "
        "the sum of history.csv's epoch_seconds)",
    )
    p.add_argument("--write", action="store_true", help="update the table in BENCHMARKS.md")
    args = p.parse_args()
    rows = {}
    print(HEADER, flush=True)
    for name in args.recipes.split(","):
        if name not in RECIPES:
            raise SystemExit(f"Unknown recipe {name!r}; expected one of {', '.join(RECIPES)}")
        rows[name] = run_recipe(name, args)
        print(rows[name], flush=True)
        if args.write:
            write_table({name: rows[name]})


if __name__ == "__main__":
    main()
