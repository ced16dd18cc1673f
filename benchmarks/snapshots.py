"""What per-epoch snapshots cost: the same training with and without `--snapshot-every 1`.

    python benchmarks/snapshots.py [--dataset shapes] [--epochs 5] [--repeats 3]

Runs `vaekit train` in fresh processes, alternating plain and snapshot runs, and prints the median
`fit` time of each, the median time spent inside the snapshot callback, and the overhead ratio.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(args, out, snapshots):
    cmd = [
        sys.executable,
        "-m",
        "vaekit",
        "train",
        "--dataset",
        args.dataset,
        "--epochs",
        str(args.epochs),
        "--out",
        str(out),
        "--verbose",
        "0",
        "--overwrite",
    ]
    if snapshots:
        cmd += ["--snapshot-every", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    return metrics["train_seconds"], metrics.get("snapshot_seconds_each") or []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vaekit-snapshots-"))
    plain, snap, first, later = [], [], [], []
    try:
        for i in range(args.repeats):
            plain.append(run(args, root / f"plain{i}", False)[0])
            fit, each = run(args, root / f"snap{i}", True)
            snap.append(fit)
            first.append(each[0])
            later.extend(each[1:])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    p, s = statistics.median(plain), statistics.median(snap)
    f, later_ms = statistics.median(first), 1000 * statistics.median(later)
    epoch = p / args.epochs
    print(f"{args.dataset}, {args.epochs} epochs, median of {args.repeats} runs each:")
    print(f"  fit without snapshots: {p:.2f} s ({epoch:.2f} s per epoch)")
    print(f"  fit with a snapshot every epoch: {s:.2f} s ({100 * (s - p) / p:+.1f}%)")
    print(
        f"  first snapshot (decoder warm-up): {f:.2f} s; each later one: {later_ms:.0f} ms "
        f"= {later_ms / 10 / epoch:.1f}% of an epoch"
    )


if __name__ == "__main__":
    main()
