"""Train the seed model on binarized MNIST with the CLI on each backend; print wall time and losses.

    python benchmarks/seed_backends.py [--backends jax tensorflow torch] [--epochs 10] [--out runs/bench]

Each backend runs `vaekit train --dataset binarized_mnist --model seed` (10 epochs, batch 32) in a fresh
process, one after another (never two at once: the figures are wall times). Prints a Markdown table:
backend, whole-command wall time, the `fit` time, final validation loss and test loss (negative ELBO
with one posterior sample, nats per image).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow", "torch"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-seed")
    args = parser.parse_args()

    vaekit = [sys.executable, "-m", "vaekit"]
    rows = []
    for backend in args.backends:
        out = Path(args.out) / backend
        shutil.rmtree(out, ignore_errors=True)
        cmd = [
            *vaekit,
            "--backend",
            backend,
            "train",
            "--dataset",
            "binarized_mnist",
            "--model",
            "seed",
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--seed",
            str(args.seed),
            "--out",
            str(out),
            "--verbose",
            "2",
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"{backend}: vaekit train failed with exit status {proc.returncode}")
        m = json.loads((out / "metrics.json").read_text())
        rows.append(
            (
                backend,
                wall,
                m["train_seconds"],
                m["val"]["loss"],
                m["test"]["loss"],
                m["test"]["reconstruction"],
                m["test"]["kl"],
            )
        )
        print(f"{backend}: {wall:.1f} s", file=sys.stderr, flush=True)

    print(
        f"`vaekit train --dataset binarized_mnist --model seed` ({args.epochs} epochs, batch "
        f"{args.batch_size}, seed {args.seed}); times in seconds, losses in nats per image\n"
    )
    print(
        "| backend | wall (whole command) | fit | val loss | test loss | test reconstruction | test KL |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend, wall, fit, val, test, rec, kl in rows:
        print(
            f"| {backend} | {wall:.1f} | {fit:.1f} | {val:.2f} | {test:.2f} | {rec:.2f} | {kl:.2f} |"
        )


if __name__ == "__main__":
    main()
