"""The text codec: a `Vocabulary` turns lines into token ids and ids back into lines.

Ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<unk>` 3, then the tokens, most frequent first. Its
`get_config()` is plain JSON, so a model keeps it in its own config (safe mode, no pickles) and a
loaded model reads and writes sentences by itself.
"""

from __future__ import annotations

import collections
import numbers

import numpy as np

from vaekit.config import MAX_TEXT_LENGTH, MIN_VOCAB_SIZE, TOKEN_LEVELS
from vaekit.errors import DataError

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")  # ids 0, 1, 2, 3 in every vocabulary
PAD, BOS, EOS, UNK = range(len(SPECIALS))
MAX_LINE_BYTES = 1 << 20  # 1 MB: longer lines are refused rather than tokenized


class Vocabulary:
    """The text codec: tokens to ids and back.

    Ids 0-3 are the specials `<pad>`, `<bos>`, `<eos>`, `<unk>`; then the tokens, most frequent
    first. Word tokens are whitespace-separated (PTB's convention; punctuation stays attached);
    character tokens are the characters of the line without its leading and trailing whitespace.
    A token of the text that is not in the vocabulary, or that spells a special (PTB's `<unk>`),
    becomes `<unk>`.

    Args:
        tokens: every token by id, starting with `SPECIALS`.
        level: `"word"` or `"char"`.
        max_length: tokens per example; `encode` gives `max_length + 1` ids (room for `<eos>`).

    Example:

    >>> vocab = Vocabulary.build(["the cat sat", "the dog"], max_length=4)
    >>> ids, n_truncated = vocab.encode(["the cat ran"])
    >>> ids.tolist(), vocab.decode(ids)
    ([[4, 5, 3, 2, 0]], ['the cat <unk>'])
    """

    kind = "text"  # the kind of data this codec reads (`Dataset.kind`)

    def __init__(self, tokens, level: str = "word", max_length: int = 50):
        _check_level(level, "level")
        check_text_options(level, None, 1, max_length)
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"Expected tokens to be a list of strings. Received: {tokens!r:.80}")
        tokens = tuple(tokens)
        if tokens[: len(SPECIALS)] != SPECIALS or len(tokens) < MIN_VOCAB_SIZE:
            raise DataError(
                f"Expected tokens to start with {', '.join(SPECIALS)} and hold at least one more. "
                f"Received: {list(tokens[:5])}"
            )
        if level == "char":
            bad = [t for t in tokens[len(SPECIALS) :] if len(t) != 1]
            what = "a single character"
        else:
            bad = [t for t in tokens[len(SPECIALS) :] if t.split() != [t]]
            what = "a non-empty word without whitespace"
        if bad:
            raise DataError(f"Expected each {level} token to be {what}. Received: {bad[0]!r}")
        if len(set(tokens)) != len(tokens):
            twice = next(t for t, n in collections.Counter(tokens).items() if n > 1)
            raise DataError(
                f"Expected each token once in the vocabulary. Received: {twice!r} twice"
            )
        self._tokens = tokens
        self.level = level
        self.max_length = int(max_length)
        # Text -> id. The specials' spellings are not there, so text can never write <eos> or
        # <pad>; PTB's own "<unk>" maps to <unk>.
        self._ids = {token: i for i, token in enumerate(tokens) if i >= len(SPECIALS)}

    @classmethod
    def build(
        cls, lines, *, level="word", vocab_size=None, min_count=1, max_length=50
    ) -> Vocabulary:
        """The vocabulary of `lines` (a training split): the most frequent tokens.

        Only the tokens an example keeps (its first `max_length`) are counted, so every token of
        the vocabulary occurs at least `min_count` times in the encoded training split. Ties in
        frequency are broken by the tokens' order as strings, so the result depends only on the
        counts.

        Args:
            lines: the training lines (strings).
            level: `"word"` or `"char"`.
            vocab_size: at most this many ids, the 4 specials included; None keeps every token.
            min_count: tokens occurring fewer times become `<unk>`.
            max_length: tokens per example (see `Vocabulary`).
        """
        _check_level(level, "level")
        check_text_options(level, vocab_size, min_count, max_length)
        tokenize = _TOKENIZERS[level]
        counts = collections.Counter()
        for line in lines:
            if not isinstance(line, str):
                raise DataError(f"Expected lines of text. Received: {line!r:.80}")
            counts.update(tokenize(line)[:max_length])
        for special in SPECIALS:
            counts.pop(special, None)
        if not counts:
            raise DataError("The training split holds no tokens: expected some non-blank lines.")
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [token for token, count in ranked if count >= min_count]
        if not kept:
            raise DataError(
                f"No training token occurs min_count={min_count} times (the most frequent occurs "
                f"{ranked[0][1]} times): expected a smaller min_count."
            )
        if vocab_size is not None:
            kept = kept[: vocab_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept], level=level, max_length=max_length)

    @property
    def size(self) -> int:
        """The number of ids, specials included."""
        return len(self._tokens)

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token by id (the specials first)."""
        return self._tokens

    def __len__(self) -> int:
        return self.size

    def tokenize(self, line: str) -> list[str]:
        """The tokens of one line (words split on whitespace, or characters), untruncated."""
        return _TOKENIZERS[self.level](line)

    def encode(self, lines) -> tuple[np.ndarray, int]:
        """Token ids of `lines`: int32 `(n, max_length + 1)`, and how many lines were truncated.

        Each row holds the line's first `max_length` tokens, then `<eos>`, then `<pad>`.

        Raises:
            DataError: `lines` is a single string, holds a non-string or a line over 1 MB.
        """
        if isinstance(lines, str):
            raise DataError("Expected a list of lines. Received: a single string")
        lines = list(lines)
        out = np.full((len(lines), self.max_length + 1), PAD, np.int32)  # (n, L + 1)
        truncated, get = 0, self._ids.get
        for i, line in enumerate(lines):
            if not isinstance(line, str):
                raise DataError(f"Expected lines of text. Received: line {i} = {line!r:.80}")
            if len(line) > MAX_LINE_BYTES:
                raise DataError(
                    f"Line {i} has {len(line)} characters: expected at most {MAX_LINE_BYTES}."
                )
            tokens = self.tokenize(line)
            if len(tokens) > self.max_length:
                truncated += 1
                tokens = tokens[: self.max_length]
            out[i, : len(tokens)] = [get(token, UNK) for token in tokens]
            out[i, len(tokens)] = EOS
        return out, truncated

    def encode_examples(self, lines) -> np.ndarray:
        """`encode` without the count: the ids of `lines`, `(n, max_length + 1)`."""
        return self.encode(lines)[0]

    def decode(self, ids) -> list[str]:
        """Text of token ids `(n, T)` (or one example `(T,)`): one string per example.

        Reading stops at `<eos>`; `<pad>` and `<bos>` are dropped; `<unk>` reads `<unk>`. Words are
        joined with single spaces, characters with nothing.
        """
        try:
            ids = np.asarray(ids)
        except ValueError as error:  # ragged lists
            raise DataError(
                f"Expected token ids of shape (n, T) or (T,). Received: {error}"
            ) from None
        if ids.ndim == 1:
            ids = ids[None]  # (1, T)
        if ids.size and ids.dtype.kind not in "iu" or ids.ndim != 2:
            raise DataError(
                f"Expected integer token ids of shape (n, T) or (T,). Received: dtype={ids.dtype}, "
                f"shape={ids.shape}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise DataError(
                f"Expected token ids in [0, {self.size}). Received: ids in "
                f"[{ids.min()}, {ids.max()}]"
            )
        join = " ".join if self.level == "word" else "".join
        texts = []
        for row in ids.tolist():
            end = row.index(EOS) if EOS in row else len(row)
            texts.append(join(self._tokens[t] for t in row[:end] if t not in (PAD, BOS)))
        return texts

    def get_config(self) -> dict:
        """Plain JSON-able config: `{"tokens": [...], "level": ..., "max_length": ...}`."""
        return {"tokens": list(self._tokens), "level": self.level, "max_length": self.max_length}

    @classmethod
    def from_config(cls, config) -> Vocabulary:
        """The vocabulary of a `get_config()` dict (checked: it may come from a file)."""
        keys = {"tokens", "level", "max_length"}
        if not isinstance(config, dict) or set(config) != keys:
            got = sorted(config) if isinstance(config, dict) else type(config).__name__
            raise DataError(
                f"Expected a vocabulary config with keys {sorted(keys)}. Received: {got}"
            )
        return cls(config["tokens"], level=config["level"], max_length=config["max_length"])

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self._tokens, self.level, self.max_length) == (
            other._tokens,
            other.level,
            other.max_length,
        )

    def __hash__(self) -> int:
        return hash((self._tokens, self.level, self.max_length))

    def describe(self) -> str:
        """One line for people: size, level, length."""
        return (
            f"vocabulary {self.size} tokens ({self.level} level, specials included), "
            f"max length {self.max_length} tokens"
        )

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={self.size}, max_length={self.max_length})"


_TOKENIZERS = {"word": str.split, "char": lambda line: list(line.strip())}


def check_text_options(tokens, vocab_size, min_count, max_length) -> None:
    """Raises `DataError` when a text option of `load_dataset` is out of range."""
    _check_level(tokens, "tokens")
    if vocab_size is not None and not _integer_at_least(vocab_size, MIN_VOCAB_SIZE):
        raise DataError(
            f"Expected vocab_size to be an integer >= {MIN_VOCAB_SIZE} (the 4 special tokens and "
            f"at least one more), or None for all. Received: vocab_size={vocab_size!r}"
        )
    if not _integer_at_least(min_count, 1):
        raise DataError(
            f"Expected min_count to be an integer >= 1. Received: min_count={min_count!r}"
        )
    if not _integer_at_least(max_length, 1) or max_length > MAX_TEXT_LENGTH:
        raise DataError(
            f"Expected max_length to be an integer in [1, {MAX_TEXT_LENGTH}]. "
            f"Received: max_length={max_length!r}"
        )


def _check_level(level, name):
    if level not in TOKEN_LEVELS:
        raise DataError(
            f"Expected {name} to be one of {', '.join(TOKEN_LEVELS)}. Received: {name}={level!r}"
        )


def _integer_at_least(value, low) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
