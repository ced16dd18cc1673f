"""Training and evaluation speed on static binarized MNIST (50k), one fresh process per measurement.

Prints, for each installed backend and batch size: vaekit's fast engine (warm samples/s, first-epoch
overhead, peak memory), Keras 3 `fit` of the same model on in-memory arrays, and a hand-written
reference without Keras (PyTorch: a plain eager loop; JAX: one `lax.scan` per epoch, the issue's
bound for this machine), with ratios to vaekit. Then the end-to-end wall time of
`vaekit train --dataset binarized_mnist --model seed` (10 epochs, batch 32, default backend) and the
speed of the K = 5000 importance-sampled NLL. Run it on a quiet machine: figures are medians of
`--repeats` warm epochs, and with `--rounds N` medians over N fresh processes of each kind, run in
turn (vaekit, fit, reference, then reference, fit, vaekit, ...), each ratio the median of the
rounds' own ratios.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/throughput.py [--backends jax,torch]
        [--batch-sizes 32,256] [--repeats 3] [--rounds 3] [--nll-images 1000]
        [--models seed,conv] [--iw-samples 5] [--images 5000]

Tables: `--dataset ../shared/data/tables/diamonds.csv --models tabular --nll-images 0 --skip-cli`
(samples/s are rows/s; the hand-written references train the seed model only).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args):
    """One measurement in this process; prints one JSON line."""
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    from vaekit.backends.fast_loop import fit_fast
    from vaekit.data import load_dataset
    from vaekit.data.order import EpochBatches
    from vaekit.models.build import build_vae

    data = load_dataset(args.dataset)
    x = data.x_train[: args.images] if args.images else data.x_train
    result = {"backend": args.backend, "batch": args.batch, "kind": args.kind, "model": args.model}

    def model_():
        keras.utils.set_random_seed(0)
        model = build_vae(
            data.shape, args.model, seed=0, codec=data.codec, iw_samples=args.iw_samples
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    times = []
    if args.kind == "vaekit":
        model = model_()
        batches = EpochBatches(x, args.batch, seed=0)
        for epoch in range(args.repeats + 1):
            start = time.perf_counter()
            fit_fast(model, batches, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            times.append(time.perf_counter() - start)
    elif args.kind == "keras_fit":
        model = model_()
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            model.fit(x, epochs=1, batch_size=args.batch, shuffle=True, verbose=0)
            times.append(time.perf_counter() - start)
    elif args.kind == "torch_loop":
        times = torch_loop(x, args.batch, args.repeats + 1)
    elif args.kind == "jax_scan":
        times = jax_scan(x, args.batch, args.repeats + 1)
    elif args.kind == "nll":
        from vaekit.evaluation.nll import importance_sampled

        model = model_()
        fit_fast(model, EpochBatches(x, 100, seed=0), epochs=1, verbose=0)
        xs = data.x_test[: args.nll_images]
        importance_sampled(model, xs[:8], 5000, seed=0)  # compile
        start = time.perf_counter()
        scores = importance_sampled(model, xs, 5000, seed=0)
        seconds = time.perf_counter() - start
        result.update(
            nll_seconds=seconds,
            images=len(xs),
            samples_per_second=len(xs) * 5000 / seconds,
            nll=float(-scores["log_likelihood"].mean()),
            decoder_rows_per_second=decoder_rows_per_second(model),
        )
    if times:
        warm = statistics.median(times[1:])
        result.update(
            samples_per_second=len(x) / warm,
            warm_epoch_seconds=warm,
            first_epoch_seconds=times[0],
            startup_overhead_seconds=times[0] - warm,
        )
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def torch_loop(x, batch, epochs):
    """A plain PyTorch eager training loop of the seed architecture (the issue's baseline)."""
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    heads = nn.Linear(64, 20)
    dec = nn.Sequential(
        nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 784)
    )
    params = [*enc.parameters(), *heads.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    data = torch.as_tensor(x.reshape(len(x), -1))
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.as_tensor(np.random.default_rng(epoch).permutation(len(x)))
        for i in range(0, len(x), batch):
            xb = data[order[i : i + batch]]
            mean, log_var = heads(enc(xb)).chunk(2, dim=1)
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
            logits = dec(z)
            rec = nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
            kl = 0.5 * (log_var.exp() + mean**2 - 1 - log_var).sum()
            loss = (rec + kl) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def decoder_rows_per_second(model, repeats=20):
    """Latents the compiled decoder alone maps to logits per second, in calls of the NLL's size.

    The NLL decodes every one of its K samples, so this is the floor under its time: what is left
    above it is the likelihood's scoring, the encoder, the prior and q, and the host's work."""
    import keras
    import numpy as np

    from vaekit.evaluation.nll import rows_per_call

    backend = keras.backend.backend()
    rows = rows_per_call()
    decoder = model.decoder
    z = np.random.default_rng(0).standard_normal((rows, model.latent_dim), "float32")
    if backend == "jax":
        import jax

        fn = jax.jit(lambda values, z: decoder.stateless_call(values, [], z)[0])
        values = [v.value for v in decoder.trainable_variables]
        run = lambda: fn(values, z).block_until_ready()  # noqa: E731
    elif backend == "tensorflow":
        import tensorflow as tf

        fn, zt = tf.function(decoder, jit_compile=True), tf.constant(z)
        run = lambda: fn(zt).numpy()  # noqa: E731
    else:
        import torch

        zt = keras.ops.convert_to_tensor(z)

        def run():
            with torch.no_grad():
                return decoder(zt)

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return rows / statistics.median(times)


def jax_scan(x, batch, epochs):
    """The seed model as one hand-written JAX function per epoch: data on the device, `lax.scan`
    over its full batches, Adam by hand. No framework at all: the issue's reference for what the
    machine can do (its 69,000 samples/s at batch 32 were measured this way on its machine)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    sizes = [(784, 128), (128, 64), (64, 20), (10, 64), (64, 128), (128, 784)]
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes))
    params = [
        (jax.random.normal(k, s) * np.sqrt(2.0 / (s[0] + s[1])), jnp.zeros(s[1]))
        for k, s in zip(keys, sizes, strict=True)
    ]

    def loss_fn(params, xb, key):
        h = xb
        for w, b in params[:2]:
            h = jax.nn.relu(h @ w + b)
        mean, log_var = jnp.split(h @ params[2][0] + params[2][1], 2, axis=1)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        h = z
        for w, b in params[3:5]:
            h = jax.nn.relu(h @ w + b)
        logits = h @ params[5][0] + params[5][1]
        softplus = jnp.maximum(logits, 0) + jnp.log1p(jnp.exp(-jnp.abs(logits)))
        rec = -jnp.sum(xb * logits - softplus, axis=1)
        kl = 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1 - log_var, axis=1)
        return jnp.mean(rec + kl)

    def step(carry, inputs):
        params, m, v, t = carry
        index, key = inputs
        loss, grads = jax.value_and_grad(loss_fn)(params, data[index], key)
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        lr = 1e-3 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        params = jax.tree.map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-7), params, m, v)
        return (params, m, v, t), loss

    @jax.jit
    def epoch(carry, order, key):
        keys = jax.random.split(key, order.shape[0])
        return jax.lax.scan(step, carry, (order, keys))

    data = jax.device_put(x.reshape(len(x), -1))
    zeros = jax.tree.map(jnp.zeros_like, params)
    carry = (params, zeros, zeros, jnp.float32(0))
    steps = len(x) // batch
    times = []
    for e in range(epochs):
        start = time.perf_counter()
        order = np.random.default_rng(e).permutation(len(x))[: steps * batch]
        carry, losses = epoch(carry, order.reshape(steps, batch), jax.random.PRNGKey(e))
        losses.block_until_ready()
        times.append(time.perf_counter() - start)
    return times


def run_worker(backend, kind, batch, model, args):
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--backend",
        backend,
        "--kind",
        kind,
        "--batch",
        str(batch),
        "--model",
        model,
        "--repeats",
        str(args.repeats),
        "--nll-images",
        str(args.nll_images),
        "--images",
        str(args.images),
        "--iw-samples",
        str(args.iw_samples),
        "--dataset",
        args.dataset,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        print(f"  {backend} {kind} batch {batch}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


HAND_WRITTEN = {"torch": "torch_loop", "jax": "jax_scan"}  # the reference without Keras


def training_row(backend, model, batch, args):
    """One table row: vaekit, Keras `fit` and the hand-written reference, `--rounds` times.

    The workers of a round run one after another, in reverse order every other round, so a drift in
    the machine's speed reaches all three alike: each ratio is the median of the rounds' own ratios.
    """
    plain_seed = model == "seed" and args.iw_samples == 1  # what the references train
    reference = HAND_WRITTEN.get(backend) if plain_seed else None
    kinds = ["vaekit", "keras_fit", *([reference] if reference else [])]
    rounds = {kind: [] for kind in kinds}
    for number in range(args.rounds):
        for kind in kinds if number % 2 == 0 else kinds[::-1]:  # a steady drift cancels out
            rounds[kind].append(run_worker(backend, kind, batch, model, args))
    fast = [r for r in rounds["vaekit"] if r]
    if not fast:
        return None
    median = statistics.median
    row = [
        backend, model + (f" (IWAE, K={args.iw_samples})" if args.iw_samples > 1 else ""), batch,
        f"{median(r['samples_per_second'] for r in fast):,.0f}",
        f"{median(r['startup_overhead_seconds'] for r in fast):.2f}",
        f"{max(r['peak_rss_mib'] for r in fast):.0f}",
    ]  # fmt: skip
    for kind in ("keras_fit", reference):  # the table's two columns
        others = rounds.get(kind, [None] * args.rounds)
        pairs = [(f, o) for f, o in zip(rounds["vaekit"], others, strict=True) if f and o]
        if not pairs:
            row += ["", ""]
            continue
        other = median(o["samples_per_second"] for _, o in pairs)
        ratio = median(f["samples_per_second"] / o["samples_per_second"] for f, o in pairs)
        row += [f"{other:,.0f}", f"{ratio:.2f}x"]
    return row


def cli_wall_time(args):
    """Two runs of the CLI with one fresh compile cache: cold (compiling) and warm (cache hits)."""
    import tempfile

    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "VAEKIT_CACHE_DIR": os.path.join(tmp, "cache")}
        for run in ("cold", "warm"):
            out_dir = os.path.join(tmp, run)
            cmd = [
                sys.executable, "-m", "vaekit", "train", "--dataset", "binarized_mnist",
                "--model", "seed", "--out", out_dir, "--verbose", "0",
            ]  # fmt: skip
            start = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
            walls.append(time.perf_counter() - start)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                return None
            with open(os.path.join(out_dir, "metrics.json")) as f:
                metrics = json.load(f)
    return walls, metrics


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", default="jax")
    p.add_argument("--kind", default="vaekit")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--model", default="seed")
    p.add_argument("--backends", default="jax,tensorflow,torch")
    p.add_argument("--batch-sizes", default="32,256")
    p.add_argument("--models", default="seed", help="presets to time with the fast engine")
    p.add_argument(
        "--dataset",
        default="binarized_mnist",
        help="the training data (a name or path; e.g. a CSV with --models tabular)",
    )
    p.add_argument(
        "--iw-samples",
        type=int,
        default=1,
        help="train the models on the IWAE bound with K samples",
    )
    p.add_argument("--repeats", type=int, default=3, help="warm epochs per figure (median)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="fresh processes per figure, interleaved with the other kinds (median of the ratios)",
    )
    p.add_argument("--nll-images", type=int, default=1000, help="test images for the NLL speed")
    p.add_argument(
        "--images", type=int, default=0, help="training images per epoch (0: all 50,000)"
    )
    p.add_argument("--skip-cli", action="store_true")
    p.add_argument(
        "--skip-training", action="store_true", help="no training table (NLL and CLI only)"
    )
    args = p.parse_args()
    if args.rounds < 1:
        p.error(f"--rounds: expected an integer >= 1, got {args.rounds}")
    if args.worker:
        return worker(args)

    import importlib.util

    backends = [b for b in args.backends.split(",") if importlib.util.find_spec(b)]
    batch_sizes = [] if args.skip_training else [int(b) for b in args.batch_sizes.split(",")]
    if batch_sizes:
        print(
            "| backend | model | batch | vaekit samples/s | first-epoch overhead s | peak MiB | "
            "Keras fit samples/s | vaekit / fit | hand-written samples/s | vaekit / hand-written |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend in backends:
        for model in args.models.split(","):
            for batch in batch_sizes:
                row = training_row(backend, model, batch, args)
                if row:
                    print("| " + " | ".join(str(c) for c in row) + " |", flush=True)
    print()
    for backend in backends if args.nll_images else ():
        nll = run_worker(backend, "nll", 0, "seed", args)
        if nll:
            full = 10_000 * 5000 / nll["samples_per_second"]
            floor = 10_000 * 5000 / nll["decoder_rows_per_second"]
            print(
                f"NLL K=5000, {backend}: {nll['samples_per_second']:,.0f} importance samples/s "
                f"({nll['images']} images in {nll['nll_seconds']:.1f} s; 10k test images: "
                f"~{full:.0f} s), peak {nll['peak_rss_mib']:.0f} MiB; the decoder alone on "
                f"the same 50M latents: ~{floor:.0f} s (the NLL takes {full / floor:.2f}x that)",
                flush=True,
            )
    if not args.skip_cli:
        timed = cli_wall_time(args)
        if timed:
            (cold, warm), metrics = timed
            print(
                f"\n`vaekit train --dataset binarized_mnist --model seed` ({metrics['backend']}, "
                f"10 epochs, batch 32): {cold:.1f} s wall with an empty compile cache, {warm:.1f} s "
                f"with it filled (fit {metrics['train_seconds']:.1f} s), "
                f"test loss {metrics['test']['loss']:.2f}"
            )


if __name__ == "__main__":
    main()
