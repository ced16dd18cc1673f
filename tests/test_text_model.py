"""The text model: a categorical likelihood autoregressive given z, and the sentence VAE around it."""

import itertools

import keras
import numpy as np
import pytest

from vaekit import config as config_lib
from vaekit.errors import ConfigError
from vaekit.evaluation.nll import evaluate
from vaekit.models.build import build_vae
from vaekit.models.saving import load_model, save_model
from vaekit.models.text import BOS, EOS, PAD, AutoregressiveCategorical


class _Codec:
    """What a model takes from a text codec: its kind, its size and its config."""

    kind = "text"

    def __init__(self, size):
        self.size = size

    def get_config(self):
        return {
            "tokens": ["<pad>", "<bos>", "<eos>", "<unk>"] + [f"w{i}" for i in range(self.size - 4)]
        }


def _likelihood(length, vocab=6, **options):
    lik = AutoregressiveCategorical(vocab_size=vocab, hidden=8, embedding_dim=4, seed=1, **options)
    lik.bind((length,))
    return lik


def _sentences(n, length, vocab, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, length), "int32")
    for row in x:
        words = rng.integers(0, length)  # 0 .. length - 1 words, then <eos>
        row[:words] = rng.integers(3, vocab, words)  # <unk> and words
        row[words] = EOS
    return x


def _well_formed(length, vocab):
    """Every sentence the model can write: 0 .. length-1 tokens from <unk> and words, then <eos>."""
    for words in range(length):
        for tokens in itertools.product(range(3, vocab), repeat=words):
            yield [*tokens, EOS] + [PAD] * (length - words - 1)


def test_the_distribution_sums_to_one_over_well_formed_sentences():
    lik = _likelihood(length=3, vocab=6)
    x = np.array(list(_well_formed(3, 6)), "int32")  # 1 + 3 + 9 sentences
    params = np.random.default_rng(0).normal(size=(1, 8)).astype("float32")
    log_p = keras.ops.convert_to_numpy(lik.log_prob(x, np.repeat(params, len(x), axis=0)))
    assert np.all(log_p < 0)
    np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(), 1.0, rtol=1e-5)


def test_scores_broadcast_ignore_padding_and_follow_z_unless_a_language_model():
    lik = _likelihood(length=5)
    x = _sentences(4, 5, 6)
    params = np.random.default_rng(1).normal(size=(4, 3, 8)).astype("float32")
    scores = keras.ops.convert_to_numpy(lik.log_prob(x[:, None, :], params))  # (4, 3)
    assert scores.shape == (4, 3)
    one = keras.ops.convert_to_numpy(lik.log_prob(x, params[:, 1]))
    np.testing.assert_allclose(scores[:, 1], one, rtol=1e-5, atol=1e-5)
    assert np.ptp(scores, axis=1).max() > 0  # z changes the score
    lm = _likelihood(length=5, condition=False)
    lm_scores = keras.ops.convert_to_numpy(lm.log_prob(x[:, None, :], params))
    np.testing.assert_allclose(lm_scores, lm_scores[:, :1].repeat(3, 1), rtol=1e-6)


def test_word_dropout_acts_only_while_training():
    lik = _likelihood(length=6, vocab=12, word_dropout=0.5)
    x = _sentences(16, 6, 12, seed=2)
    params = np.zeros((16, 8), "float32")
    scored = [keras.ops.convert_to_numpy(lik.log_prob(x, params)) for _ in range(2)]
    np.testing.assert_array_equal(scored[0], scored[1])
    trained = keras.ops.convert_to_numpy(lik.log_prob(x, params, training=True))
    assert not np.allclose(trained, scored[0])


def test_generation_writes_well_formed_sentences():
    lik = _likelihood(length=7, vocab=9)
    params = np.random.default_rng(3).normal(size=(20, 8)).astype("float32")
    for ids in (lik.sample(params, seed=4), lik.mean(params)):
        assert ids.shape == (20, 7) and ids.dtype == np.int32
        for row in ids:
            end = list(row).index(EOS)  # every sentence ends, at the latest in the last slot
            assert (row[end + 1 :] == PAD).all() and BOS not in row and PAD not in row[:end]
    np.testing.assert_array_equal(lik.sample(params, seed=4), lik.sample(params, seed=4))


def _config(**overrides):
    cfg = config_lib.model_preset("sentence")
    cfg.latent_dim, cfg.hidden_units = 4, [16]
    cfg.likelihood_options = {"hidden": 16, "embedding_dim": 8, "word_dropout": 0.25}
    return config_lib.update_section(cfg, "model", overrides) if overrides else cfg


def test_a_sentence_vae_trains_scores_samples_and_reloads_with_its_vocabulary(tmp_path):
    x = _sentences(64, 9, 20, seed=5)
    model = build_vae(x.shape[1:], _config(), seed=0, codec=_Codec(20))
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    result = evaluate(model, x[:8], num_samples=4)
    assert np.isfinite(result["nll"]) and result["nll"] <= result["elbo"] + 1e-4
    tokens = (x[:8] != PAD).sum()  # <eos> counted
    assert result["perplexity"] == pytest.approx(np.exp(result["nll"] * 8 / tokens), rel=1e-6)
    assert model.sample(5, seed=1).shape == (5, 9)
    save_model(model, tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.likelihood.vocabulary == _Codec(20).get_config()
    np.testing.assert_allclose(
        loaded.encode(x[:4])[0], model.encode(x[:4])[0], rtol=1e-5, atol=1e-6
    )


def test_a_text_codec_needs_an_architecture_that_reads_tokens():
    with pytest.raises(ConfigError, match="reads token sequences"):
        build_vae((9,), _config(architecture="mlp"), codec=_Codec(20))
    with pytest.raises(ConfigError, match="word_dropout"):
        AutoregressiveCategorical(vocab_size=10, word_dropout=1.0)
    with pytest.raises(ConfigError, match="vocab_size"):
        AutoregressiveCategorical(vocab_size=3)
