"""Progress output that suits where it goes: a live bar on a terminal, plain lines in a log.

Keras' progress bar colours itself with ANSI escapes and redraws with backspaces even when its output
is a file or a pipe (`vaekit latent RUN 2>&1 | tail`); there vaekit prints plain lines instead.
"""

import sys
import time

import keras

PLAIN_LINES = 10  # lines a plain progress report prints over its whole span, at most


def interactive(stream=None):
    """Whether `stream` (default: stdout, where Keras writes its bars) is a terminal."""
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def fit_verbosity(verbose):
    """Keras' `fit` verbosity: its progress bar (1, "auto") becomes one plain line per epoch (2)
    when stdout is not a terminal."""
    if verbose in (1, "auto") and not interactive():
        return 2
    return verbose


def progress_bar(total, unit_name="step"):
    """`keras.utils.Progbar` on a terminal; else a `PlainProgress` with the same `update`."""
    if interactive():
        return keras.utils.Progbar(total, unit_name=unit_name)
    return PlainProgress(total, unit_name)


class PlainProgress:
    """Progress as plain lines (`encoded 5000/10000 images, 3 s`), one per tenth of the way.

    Args:
        total: The count at completion.
        unit_name: What is counted, singular ("image").
        stream: Where the lines go (default stdout, like Keras' bar).
    """

    def __init__(self, total, unit_name="step", stream=None):
        self.total, self.unit_name, self.stream = int(total), unit_name, stream
        self._start = time.perf_counter()
        self._next = 0

    def update(self, current, values=None):
        current = int(current)
        if current < self._next and current < self.total:
            return
        self._next = current + max(1, self.total // PLAIN_LINES)
        unit = self.unit_name if self.total == 1 else f"{self.unit_name}s"
        seconds = time.perf_counter() - self._start
        stream = sys.stdout if self.stream is None else self.stream
        print(f"{current}/{self.total} {unit}, {seconds:.0f} s", file=stream, flush=True)
