"""Decode requests over HTTP: throughput and latency at 1, 8 and 64 concurrent clients, with and
without micro-batching, against calling `decode` in-process on the same batches.

    python benchmarks/serve.py [--run RUN] [--rounds 3] [--seconds 3] [--out runs/serve.json]

Two `vaekit serve` processes (merging on, and `--no-batching`) serve the same run on loopback; wrk
(`apt-get install wrk`: a C load generator, so the client is not what is measured) keeps C requests
in flight, each decoding one latent to a 28x28 image (JSON lists), for a fixed time per level
(bounded, self-stopping). Rounds interleave the servers
and levels; figures are medians over rounds. The HTTP cost is the latency of `GET /health` at one
client (routing, JSON, loopback, the client's own work). Without `--run`, a seed model is trained
on `shapes` for one epoch first.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import environment, write_atomic  # noqa: E402

LEVELS = (1, 8, 64)


def start_server(run, batching):
    args = [sys.executable, "-m", "vaekit", "serve", f"m={run}", "--port", "0", "--warm-up"]
    if not batching:
        args.append("--no-batching")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if " at http://" not in line:
        process.kill()
        raise SystemExit(f"vaekit serve did not start: {line!r}")
    return process, line.split(" at ")[1].split()[0]


WRK_SCRIPT = """
math.randomseed(%(seed)d)
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  if wrk.method == "GET" then return wrk.format(nil, "%(path)s") end
  local z = {}
  for i = 1, %(latent_dim)d do z[i] = string.format("%%.4f", 4 * math.random() - 2) end
  return wrk.format(nil, "%(path)s", nil, '{"z": [[' .. table.concat(z, ",") .. ']]}')
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"completed": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, '
    .. '"failed": %%d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def load(url, clients, seconds, latent_dim, seed, path="/v1/models/m/decode", method="POST"):
    """C connections of wrk (one thread), each sending its next request when the last returns,
    for `seconds`; each request decodes one latent drawn uniformly in [-2, 2]."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            WRK_SCRIPT % {"seed": seed, "method": method, "path": path, "latent_dim": latent_dim}
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "60s", "-s", f.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    result = json.loads(out.split("RESULT ", 1)[1])
    result["requests_per_s"] = result["completed"] / result["seconds"]
    return result


def in_process(run, batch_sizes, repeats=200):
    """Median milliseconds per batch in this process, per batch size: `model.decode` (the eager
    library call) and the server's own decode (`ServedModel.decode_batch`, Keras' compiled predict
    step), without HTTP."""
    import vaekit
    from vaekit.serve import ServedModel

    model = vaekit.load_model(run)
    served = ServedModel("m", model)
    rng = np.random.default_rng(0)
    out = {"decode": {}, "served": {}}
    for size in batch_sizes:
        z = rng.standard_normal((size, model.latent_dim)).astype("float32")
        for name, fn in (("decode", model.decode), ("served", served.decode_batch)):
            fn(z)  # warm up
            times = []
            for _ in range(repeats if size == 1 else max(10, repeats // 10)):
                start = time.perf_counter()
                fn(z)
                times.append(time.perf_counter() - start)
            out[name][size] = 1e3 * statistics.median(times)
    served.close()
    return out, model.latent_dim


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a trained image run (default: train one on shapes)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="per level and round")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()

    backend = os.environ.setdefault("KERAS_BACKEND", "jax")
    run = args.run
    if run is None:
        run = os.path.join(tempfile.mkdtemp(prefix="vaekit-serve-"), "seed")
        subprocess.run(
            [sys.executable, "-m", "vaekit", "train", "--dataset", "shapes", "--epochs", "1",
             "--out", run, "--verbose", "0"],
            check=True,
        )  # fmt: skip
    direct, latent_dim = in_process(run, (1, 64))
    servers = {"batched": start_server(run, True), "unbatched": start_server(run, False)}
    try:
        for _, url in servers.values():  # warm up: each batch shape compiles on first use
            for clients in LEVELS:
                load(url, clients, 2, latent_dim, seed=99)
        http_ms = load(servers["batched"][1], 1, 2, 0, 0, "/health", "GET")["p50_ms"]
        rounds = {mode: {c: [] for c in LEVELS} for mode in servers}
        for r in range(args.rounds):
            for mode, (_, url) in servers.items():
                for clients in LEVELS:
                    result = load(url, clients, args.seconds, latent_dim, seed=r)
                    rounds[mode][clients].append(result)
                    print(f"round {r} {mode:9s} {clients:2d} clients: {json.dumps(result)}")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)

    def median(mode, clients, key):
        values = [x[key] for x in rounds[mode][clients] if x[key] is not None]
        return statistics.median(values) if values else None

    table = {
        mode: {
            c: {
                "requests_per_s": median(mode, c, "requests_per_s"),
                "p50_ms": median(mode, c, "p50_ms"),
                "p99_ms": median(mode, c, "p99_ms"),
                "failed": sum(x["failed"] for x in rounds[mode][c]),
            }
            for c in LEVELS
        }
        for mode in rounds
    }
    print(f"\nbackend {backend}; in-process model.decode: batch 1 {direct['decode'][1]:.2f} ms, "
          f"batch 64 {direct['decode'][64]:.2f} ms; the server's decode: batch 1 "
          f"{direct['served'][1]:.2f} ms, batch 64 {direct['served'][64]:.2f} ms; "
          f"HTTP cost (GET /health p50) {http_ms:.2f} ms")  # fmt: skip
    print("| server | clients | requests/s | p50 ms | p99 ms | failed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode, levels in table.items():
        for c, row in levels.items():
            print(
                f"| {mode} | {c} | {row['requests_per_s']:.0f} | {row['p50_ms']:.2f} | "
                f"{row['p99_ms']:.2f} | {row['failed']} |"
            )
    b = table["batched"]
    bound = 2 * direct["decode"][1] + http_ms
    print(f"\n1 client p50 {b[1]['p50_ms']:.2f} ms vs 2 x in-process + HTTP = {bound:.2f} ms: "
          f"{'met' if b[1]['p50_ms'] <= bound else 'NOT met'}")  # fmt: skip
    scale = b[64]["requests_per_s"] / b[1]["requests_per_s"]
    print(f"64 clients / 1 client throughput (batched): {scale:.1f}x (goal 5x): "
          f"{'met' if scale >= 5 else 'NOT met'}")  # fmt: skip
    unbatched = table["unbatched"][64]["requests_per_s"] / table["unbatched"][1]["requests_per_s"]
    print(f"64 clients / 1 client throughput (unbatched): {unbatched:.1f}x")
    failed = sum(row["failed"] for levels in table.values() for row in levels.values())
    print(f"failed requests: {failed}")
    if args.out:
        write_atomic(
            args.out,
            {
                "environment": environment(
                    ["keras", "jax", "torch", "tensorflow", "fastapi", "uvicorn"]
                ),  # fmt: skip
                "backend": backend,
                "in_process_ms": direct,
                "http_ms": http_ms,
                "table": table,
                "rounds": rounds,
            },
        )


if __name__ == "__main__":
    main()
