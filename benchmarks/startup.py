"""What the CLI costs before it works, and how far one `vaekit train` call wanders through the code.

Prints, for a source tree (default: the installed vaekit; `--src DIR` another checkout's `src/`):

- the import time of `vaekit --help` (`python -X importtime`, the `vaekit.cli` entry's cumulative
  microseconds, median of `--rounds` fresh processes);
- for one short training (`shapes`, 64 examples, one epoch), how many vaekit modules it imports,
  how many of them it runs code in, and how many times the call moves from one vaekit file to
  another (Python calls traced with `sys.setprofile`; nested frames of one file count once).

    python benchmarks/startup.py [--src ../other/src] [--rounds 7]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TRACE = r"""
import json, os, sys, tempfile
from vaekit.cli import main

files, moves, last = set(), 0, None

def profile(frame, event, arg):
    global moves, last
    if event != "call":
        return
    name = frame.f_code.co_filename
    if "/vaekit/" not in name:
        return
    name = name.split("/vaekit/", 1)[1]
    files.add(name)
    if name != last:
        moves += 1
        last = name

out = os.path.join(tempfile.mkdtemp(), "run")
args = ["train", "--dataset", "shapes", "--limit", "64", "--epochs", "1", "--verbose", "0",
        "--out", out]
sys.setprofile(profile)
try:
    code = main(args)
finally:
    sys.setprofile(None)
imported = sorted(m for m in sys.modules if m == "vaekit" or m.startswith("vaekit."))
print(json.dumps({"code": code, "imported": len(imported), "entered": len(files), "moves": moves}))
"""


def import_microseconds(env):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import vaekit.cli; vaekit.cli.build_parser()"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "vaekit.cli":
            return int(parts[1])
    raise RuntimeError("vaekit.cli not in the import-time output")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", help="a source tree's src/ folder (default: the installed vaekit)")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.path.abspath(args.src)
    env.setdefault("KERAS_BACKEND", "jax")
    times = [import_microseconds(env) for _ in range(args.rounds)]
    with tempfile.TemporaryDirectory() as cache:
        env["VAEKIT_CACHE_DIR"] = cache
        traced = subprocess.run(
            [sys.executable, "-c", TRACE], env=env, capture_output=True, text=True, check=True
        ).stdout
    walk = json.loads(traced.strip().splitlines()[-1])
    print(f"source: {args.src or 'installed'}, backend {env['KERAS_BACKEND']}")
    print(
        f"vaekit --help imports: {statistics.median(times) / 1000:.1f} ms (median of {args.rounds})"
    )
    print(
        f"vaekit train: {walk['imported']} vaekit modules imported, code run in {walk['entered']} "
        f"files, {walk['moves']} moves between files (exit {walk['code']})"
    )


if __name__ == "__main__":
    main()
