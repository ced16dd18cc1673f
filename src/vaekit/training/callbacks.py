"""Keras callbacks that keep a training run safe: NaN detection and a clean stop on Ctrl-C."""

import math
import signal
import threading

import keras


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite, and remembers where.

    After `fit`, `epoch` and `batch` (both counted from 1) say where it happened, or are None.
    """

    def __init__(self):
        super().__init__()
        self.epoch = self.batch = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and self.epoch is None and not math.isfinite(float(loss)):
            self.epoch, self.batch = self._current_epoch + 1, batch + 1
            self.model.stop_training = True

    def message(self, learning_rate):
        return (
            f"Training diverged: the loss became NaN or infinite in epoch {self.epoch}, batch "
            f"{self.batch}. Likely causes: a learning rate too high (now {learning_rate}; try 10x "
            f"lower), data not scaled to [0, 1], or an exploding log-variance. The last good "
            f"checkpoint is kept."
        )


class InterruptGuard(keras.callbacks.Callback):
    """Turns the first Ctrl-C (SIGINT) into a clean stop at the end of the current batch.

    Use as a context manager around `fit`: it installs its SIGINT handler on entry (main thread
    only) and restores the previous one on exit. A second Ctrl-C interrupts at once, as usual.
    After `fit`, `interrupted` says whether training was stopped this way.
    """

    def __init__(self):
        super().__init__()
        self.interrupted = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum, frame):
        self.interrupted = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def on_train_batch_end(self, batch, logs=None):
        if self.interrupted:
            self.model.stop_training = True


class Snapshots(keras.callbacks.Callback):
    """Pictures of training progress: every `every` epochs, a sample grid from fixed prior noise and
    reconstructions of fixed validation images, as `samples-NNNN.png` and `recon-NNNN.png`.

    The noise and images stay the same all run, so successive snapshots show the model changing,
    not the draws. `times` holds the seconds each snapshot took, to report the overhead.

    Args:
        folder: Where the PNGs go (created when missing).
        x_fixed: The images to reconstruct, `(k, H, W, C)`.
        every: Epochs between snapshots.
        num: Prior samples per grid.
        seed: Seed of the fixed prior noise.
        tensorboard_dir: Also log the two grids as TensorBoard images there (needs TensorFlow).
    """

    def __init__(self, folder, x_fixed, every=1, num=64, seed=0, tensorboard_dir=None):
        super().__init__()
        self.folder = folder
        self.x_fixed = x_fixed
        self.every = every
        self.num = num
        self.seed = seed
        self.tensorboard_dir = tensorboard_dir
        self.times = []  # seconds per snapshot; the first includes the decoder's warm-up
        self._z = self._writer = None

    def on_train_begin(self, logs=None):
        import numpy as np

        self.folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(self.seed)
        self._z = rng.standard_normal((self.num, self.model.latent_dim)).astype("float32")
        if self.tensorboard_dir is not None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(self.tensorboard_dir))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import time

        from vaekit.pictures import plots

        start = time.perf_counter()
        samples = self.model.decode(self._z)
        recon = self.model.reconstruct(self.x_fixed)
        grids = {
            "samples": plots.grid_png(samples, ncols=8),
            "recon": plots.reconstruction_png(self.x_fixed, recon),
        }
        for name, png in grids.items():
            plots.write_png_bytes(png, self.folder / f"{name}-{epoch + 1:04d}.png")
        if self._writer is not None:
            self._log_images(grids, epoch + 1)
        self.times.append(time.perf_counter() - start)

    @property
    def seconds(self):
        return sum(self.times)

    def _log_images(self, grids, step):
        import tensorflow as tf

        with self._writer.as_default():
            for name, png in grids.items():
                image = tf.io.decode_png(png)[None]  # (1, H, W, C) uint8
                tf.summary.image(f"snapshots/{name}", image, step=step)
        self._writer.flush()


class KLWarmup(keras.callbacks.Callback):
    """KL warm-up: the KL weight grows linearly from 0 to the model's `beta` over `epochs` epochs.

    Epoch e (from 0) trains with weight beta * min(1, (e + 1) / epochs), so the first epoch already
    sees some KL and epoch `epochs` onwards the true (beta-)ELBO. The weight follows from the epoch
    alone, so a resumed run continues the schedule where it stopped.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.kl_scale.assign(min(1.0, (epoch + 1) / self.epochs))

    def on_train_end(self, logs=None):
        self.model.kl_scale.assign(1.0)  # a saved model always scores the true ELBO


class KLCycles(KLWarmup):
    """Cyclical KL schedule (Fu et al. 2019): the run's epochs split into `cycles` cycles, and
    within each the KL weight grows linearly from 0 to `beta` over the first half, then holds.

    Epoch e (from 0) sits at position i = e mod L of its cycle of L = epochs // cycles epochs and
    trains with weight beta * min(1, (i + 1) / ceil(L / 2)); the last cycle takes any leftover
    epochs. The weight follows from the epoch alone, so a resumed run keeps the schedule.
    """

    def __init__(self, cycles, epochs):
        keras.callbacks.Callback.__init__(self)
        self.cycles, self.total = int(cycles), int(epochs)
        self.length = max(1, self.total // self.cycles)

    def scale(self, epoch):
        i = min(epoch // self.length, self.cycles - 1)  # the cycle; the last one is the longest
        position = epoch - i * self.length
        return min(1.0, (position + 1) / math.ceil(self.length / 2))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.kl_scale.assign(self.scale(epoch))


def cosine_decay(learning_rate, epochs, final_fraction=0.01):
    """An epoch -> learning rate function: cosine from `learning_rate` to 1% of it at the last epoch."""

    def schedule(epoch, lr=None):
        progress = epoch / max(1, epochs - 1)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return float(learning_rate * (final_fraction + (1 - final_fraction) * cosine))

    return schedule


class EarlyStop(keras.callbacks.Callback):
    """Stops when the validation loss has not improved for `patience` epochs.

    It reads the best epoch from the run's `RunCheckpoint` (place it after that callback), so the
    count survives a resume; the trainer then keeps the best checkpoint's weights.
    """

    def __init__(self, checkpoint, patience):
        super().__init__()
        self.checkpoint, self.patience = checkpoint, int(patience)
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        best = self.checkpoint.state.get("best_epoch")
        if best is not None and epoch + 1 - best >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
