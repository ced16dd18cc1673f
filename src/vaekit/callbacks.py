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
