"""Registries: the names a config may use for a model's parts, one way to add to them.

Each registry maps a name (a config's `likelihood = "bernoulli"`, `prior = "mog"`,
`architecture = "conv"`) to what builds that part. Classes register under their `kind` class
attribute; a module defining a new part registers it where it is defined, so a new kind of data adds
files, not branches.

Example:
>>> @likelihoods.LIKELIHOODS.register
... class Poisson(likelihoods.Likelihood):
...     kind = "poisson"
"""

import keras

from vaekit.errors import ConfigError


class Registry(dict):
    """Names to classes (or builders) of one kind of part.

    Args:
        what: What the entries are, for errors ("likelihood", "prior").
    """

    def __init__(self, what):
        super().__init__()
        self.what = what

    def register(self, entry, kind=None):
        """Add `entry` under `kind` (default: `entry.kind`); returns `entry`, so it decorates."""
        kind = kind if kind is not None else getattr(entry, "kind", None)
        if not isinstance(kind, str) or not kind:
            raise TypeError(
                f"Expected a {self.what} with a `kind` name to register. Received: {entry!r}"
            )
        self[kind] = entry
        return entry

    def lookup(self, kind):
        """The entry registered as `kind`; ConfigError naming the known ones if there is none."""
        if not isinstance(kind, str) or kind not in self:
            raise ConfigError(
                f"Unknown {self.what} {kind!r}. Expected one of: {', '.join(sorted(self))}. "
                f"Received: {self.what}={kind!r}"
            )
        return self[kind]

    def resolve(self, identifier, base, has_options=False):
        """An instance of `base` given as itself or as its Keras config dict; None for a name (the
        caller builds it from `lookup(name)` and its options). Options go with names only."""
        if not isinstance(identifier, base | dict):
            return None
        if has_options:
            raise ConfigError(
                f"Expected {self.what} options only with a {self.what} name. Received: options "
                f"with a {type(identifier).__name__}"
            )
        if isinstance(identifier, base):
            return identifier
        obj = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(obj, base):
            raise ConfigError(
                f"Expected a {self.what} config. Received one for {type(obj).__name__}."
            )
        return obj
