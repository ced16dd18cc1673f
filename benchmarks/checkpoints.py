"""What a checkpoint costs: saving a compiled model (weights and optimizer state), with and without
the `fsync` calls that make it durable, against copying the file it saved (how a run writes its best
checkpoint and its `model.keras`).

Prints, per model preset, the archive's size and the median seconds of `vaekit.models.saving.save_model`
with `fsync` (as vaekit writes), without it (`vaekit.atomic.FSYNC = False`), their difference, and
`vaekit.atomic.copy` of the same archive. The two kinds of save alternate within each round, so a
drift of the machine falls on both. Run it on a quiet machine.

    python benchmarks/checkpoints.py [--models seed,vampprior,hvae_vampprior] [--repeats 7]
"""

import argparse
import os
import statistics
import tempfile
import time


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="seed,vampprior,hvae_vampprior")
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()

    import keras

    from vaekit import atomic
    from vaekit.models.build import build_vae
    from vaekit.models.saving import save_model

    print(f"backend {keras.backend.backend()}, medians of {args.repeats}")
    print("| model | archive MB | save s (fsync) | save s (no fsync) | fsync cost s | copy s |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        saved, copied = os.path.join(folder, "a.keras"), os.path.join(folder, "b.keras")
        for name in args.models.split(","):
            model = build_vae((28, 28, 1), name)
            model.compile(optimizer=keras.optimizers.Adam())
            model.optimizer.build(model.trainable_variables)  # its state is saved too
            durable, loose = [], []
            for _ in range(args.repeats):
                for fsync, times in ((True, durable), (False, loose)):
                    atomic.FSYNC = fsync
                    times.append(median_seconds(lambda m=model: save_model(m, saved), 1))
            atomic.FSYNC = True
            copy = median_seconds(lambda: atomic.copy(saved, copied), args.repeats)
            size = os.path.getsize(saved) / 1e6
            on, off = statistics.median(durable), statistics.median(loose)
            print(f"| {name} | {size:.1f} | {on:.3f} | {off:.3f} | {on - off:.4f} | {copy:.4f} |")


if __name__ == "__main__":
    main()
