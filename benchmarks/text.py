"""The sentence VAE against the language model of the same size: same data, split and budget.

Trains `sentence` and `sentence_lm` (the same decoder, z ignored) with `vaekit train`, scores each on
the test split with `vaekit evaluate` (importance-sampled NLL), and prints one table: test NLL (nats
per sentence), perplexity per token (`<eos>` counted), KL, active units, training time and tokens
per second of training.

    python benchmarks/text.py --dataset shakespeare --epochs 5 --max-length 20 --vocab-size 10000 \
        --kl-warmup-epochs 2 --out runs/text
    python benchmarks/text.py --dataset sentences --epochs 5 --limit 5000   # a quick look

Runs already finished in `--out` are scored again, not retrained.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

MODELS = ("sentence", "sentence_lm")


def vaekit(*args):
    cmd = [sys.executable, "-m", "vaekit", *map(str, args)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="shakespeare")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-length", type=int, default=30)
    p.add_argument("--limit", type=int)
    p.add_argument("--vocab-size", type=int, help="keep the most frequent words (default: all)")
    p.add_argument("--kl-warmup-epochs", type=int, default=0)
    p.add_argument("--importance-samples", type=int, default=100)
    p.add_argument("--out", default="runs/text")
    args = p.parse_args()

    rows = []
    for model in MODELS:
        run = Path(args.out) / model
        if not (run / "model.keras").is_file():
            train = ["train", "--dataset", args.dataset, "--model", model, "--out", run]
            train += ["--epochs", args.epochs, "--max-length", args.max_length, "--verbose", 2]
            train += ["--kl-warmup-epochs", args.kl_warmup_epochs] if model == "sentence" else []
            train += ["--limit", args.limit] if args.limit else []
            train += ["--vocab-size", args.vocab_size] if args.vocab_size else []
            train += ["--overwrite"] if run.exists() else []
            vaekit(*train)
        metrics = json.loads((run / "metrics.json").read_text())
        score = vaekit(
            "evaluate",
            run,
            "--split",
            "test",
            "--importance-samples",
            args.importance_samples,
            "--json",
            "--verbose",
            0,
        )
        result = json.loads(score.strip().splitlines()[-1])
        tokens = tokens_per_epoch(run)
        seconds = metrics["train_seconds"]
        rows.append((model, result, seconds, tokens * metrics["epochs"] / seconds))
    print(
        f"dataset {args.dataset}, {args.epochs} epochs, max length {args.max_length}, "
        f"vocabulary {args.vocab_size or 'all'}, K={args.importance_samples}"
    )
    print(
        "| model | test NLL (nats) | perplexity | KL | I(x; z) | active units | train s | tokens/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, r, seconds, rate in rows:
        print(
            f"| {model} | {r['nll']:.2f} ± {r['nll_standard_error']:.2f} | {r['perplexity']:.2f} "
            f"| {r['kl']:.2f} | {r['mutual_information']:.2f} | {r['active_units']} of "
            f"{r['latent_dim']} | {seconds:.0f} | {rate:.0f} |"
        )


def tokens_per_epoch(run):
    """Tokens (with `<eos>`) in the run's training split, from its own data options."""
    import vaekit

    cfg = vaekit.load_run_config(run)
    data = vaekit.load_configured(cfg.data, cfg.train.seed)
    return int((data.x_train != 0).sum())


if __name__ == "__main__":
    main()
