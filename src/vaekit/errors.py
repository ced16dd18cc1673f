"""Errors that mean "the user gave us something wrong", as opposed to a bug in vaekit.

The CLI turns a `VaekitError` into one line on stderr and exit status 2; anything else is a bug
(exit 1, traceback under `--debug`). Messages follow Keras' style: what was wrong, what was expected,
and what was received.
"""


class VaekitError(ValueError):
    """Bad input from the user: a dataset, a config value, a file, an argument."""


class DataError(VaekitError):
    """A dataset could not be found, read or validated."""


class ConfigError(VaekitError):
    """A configuration value or file is invalid."""


class ModelFileError(VaekitError):
    """A model file or run directory could not be loaded."""


class TrainingInterrupted(VaekitError):
    """Ctrl-C stopped training; the run's checkpoints are intact and can be resumed (CLI exit 130)."""


class StorageError(VaekitError):
    """A file could not be written: the storage is full or read-only. What was there is intact.

    `errno` is the operating system's error number (`errno.ENOSPC`, `errno.EROFS`, ...).
    """

    def __init__(self, message, errno=None):
        super().__init__(message)
        self.errno = errno
