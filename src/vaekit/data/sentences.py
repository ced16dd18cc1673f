"""`sentences`: a generated text corpus with known factors, the text counterpart of `shapes`.

Every sentence follows one template, "the SUBJECT VERB a(n) ADJECTIVE OBJECT", with the verb in
the past, present or future: "the dog chased a red ball", "the cat watches an old kite", "the
farmer will carry a small box". Its five factors are returned as labels, so what a text VAE's
latent units capture can be checked against the truth. Nothing is downloaded.

Factors (columns of the label array, float32 indices into `SENTENCE_FACTORS[name]`):
    subject:   8 nouns (dog, cat, ...).
    verb:      8 verbs (chase, see, ...).
    object:    8 nouns (ball, stick, ...), none of them a subject.
    adjective: 8 adjectives of the object (red, small, old, ...); "an" before a vowel.
    tense:     past, present or future ("chased", "chases", "will chase").

The 8 * 8 * 8 * 8 * 3 = 12,288 sentences are all different; `make_sentences(n, seed)` draws `n` of
them without repeats, so the 5,000 training and 1,000 test sentences of `load_dataset("sentences")`
never overlap (validation is carved from the training ones).
"""

from __future__ import annotations

import numbers

import numpy as np

from vaekit.data.dataset import Source, as_labels
from vaekit.data.text import as_lines
from vaekit.errors import DataError

# name -> values; the label of a factor is the index of its value
SENTENCE_FACTORS = {
    "subject": ("dog", "cat", "bird", "fox", "horse", "child", "farmer", "teacher"),
    "verb": ("chase", "see", "find", "carry", "watch", "follow", "push", "like"),
    "object": ("ball", "stick", "box", "hat", "cup", "book", "kite", "shoe"),
    "adjective": ("red", "blue", "green", "small", "big", "old", "new", "soft"),
    "tense": ("past", "present", "future"),
}
FACTOR_NAMES = list(SENTENCE_FACTORS)
TRAIN_SIZE = 5_000  # the training pool (validation is carved from it)
TEST_SIZE = 1_000
# verb -> (past, present third person); the future is "will" and the verb
_VERB_FORMS = {
    "chase": ("chased", "chases"),
    "see": ("saw", "sees"),
    "find": ("found", "finds"),
    "carry": ("carried", "carries"),
    "watch": ("watched", "watches"),
    "follow": ("followed", "follows"),
    "push": ("pushed", "pushes"),
    "like": ("liked", "likes"),
}
_SIZES = [len(values) for values in SENTENCE_FACTORS.values()]  # [8, 8, 8, 8, 3]
CORPUS_SIZE = int(np.prod(_SIZES))  # every distinct sentence


def make_sentences(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """`n` different random sentences and their factors.

    The same `seed` always gives the same sentences; the first `k` of `make_sentences(n, seed)`
    are `make_sentences(k, seed)`.

    Args:
        n: number of sentences, from 1 to `CORPUS_SIZE` (12,288).
        seed: a non-negative integer.

    Returns:
        `(sentences, factors)`: a list of `n` strings and float32 factors `(n, 5)` ordered as
        `FACTOR_NAMES`.

    Example:

    >>> sentences, factors = make_sentences(2, seed=1)
    >>> render_sentences(factors) == sentences
    True
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= CORPUS_SIZE:
        raise DataError(f"Expected n in [1, {CORPUS_SIZE}]. Received: n={n!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DataError(f"Expected seed to be a non-negative integer. Received: seed={seed!r}")
    picks = np.random.default_rng([int(seed), 7]).permutation(CORPUS_SIZE)[:n]
    factors = np.stack(np.unravel_index(picks, _SIZES), axis=1).astype(np.float32)  # (n, 5)
    return render_sentences(factors), factors


def render_sentences(factors) -> list[str]:
    """The sentences of given factors `(n, 5)` (indices ordered as `FACTOR_NAMES`)."""
    factors = np.asarray(factors)
    if (
        factors.ndim != 2
        or factors.shape[1] != len(FACTOR_NAMES)
        or factors.dtype.kind not in "iuf"
    ):
        raise DataError(
            f"Expected numeric factors of shape (n, {len(FACTOR_NAMES)}). "
            f"Received: shape={factors.shape}, dtype={factors.dtype}"
        )
    index = np.rint(factors) if factors.dtype.kind == "f" else factors
    if not np.isfinite(index).all() or (index < 0).any() or (index >= _SIZES).any():
        raise DataError(f"Expected factor indices in [0, size) per factor {_SIZES}.")
    names = [SENTENCE_FACTORS[name] for name in FACTOR_NAMES]
    return [
        _sentence(*(values[int(i)] for values, i in zip(names, row, strict=True))) for row in index
    ]


def _sentence(subject, verb, obj, adjective, tense) -> str:
    past, present = _VERB_FORMS[verb]
    verb_text = {"past": past, "present": present, "future": f"will {verb}"}[tense]
    article = "an" if adjective[0] in "aeiou" else "a"
    return f"the {subject} {verb_text} {article} {adjective} {obj}"


def load_sentences(*, seed: int, **_) -> Source:
    """The `sentences` dataset: a 5,000 sentence training pool and 1,000 other test sentences."""
    lines, factors = make_sentences(TRAIN_SIZE + TEST_SIZE, seed)
    splits = {}
    for split, part in (("train", slice(0, TRAIN_SIZE)), ("test", slice(TRAIN_SIZE, None))):
        rows = as_lines(lines[part])  # (n,) strings
        splits[split] = (rows, as_labels(factors[part], len(rows), f"sentences y_{split}"))
    return Source(
        splits=splits,
        source="generated (vaekit.data.sentences)",
        label_names=list(FACTOR_NAMES),
        kind="text",
        extra_info={"factor_values": {name: list(v) for name, v in SENTENCE_FACTORS.items()}},
    )
