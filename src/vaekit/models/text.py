"""Text: token sequences modelled by a categorical distribution, autoregressive given z.

A sentence is an int sequence `(L,)`: its tokens, `<eos>`, then `<pad>` (ids from
`vaekit.data.text`: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<unk>` 3). The VAE's decoder maps z to a
conditioning vector `(hidden,)`; this likelihood owns the recurrent decoder (Bowman et al. 2016):
the vector is the GRU's initial state and is also fed beside each input token, so z speaks at every
step. `log_prob` scores a sentence by teacher forcing (one GRU pass, no per-token Python); `mean`
decodes greedily and `sample` draws token by token.

The encoder (`recurrent` architecture) embeds tokens and reads them with a GRU; its last state gives
the posterior's mean and log-variance. The decoder is the `mlp` one (z -> conditioning vector).

With `condition=False` the likelihood ignores z: the same decoder is then a language model, the
baseline a text VAE is judged against (its KL falls to zero and its NLL is the LM's).
"""

import keras
import numpy as np
from keras import layers, ops

from vaekit.errors import ConfigError
from vaekit.models import likelihoods
from vaekit.models.networks import ARCHITECTURES, mlp_decoder

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # the special token ids every vocabulary starts with


@keras.saving.register_keras_serializable(package="vaekit")
class AutoregressiveCategorical(keras.layers.Layer, likelihoods.Likelihood):
    """p(x | z) = prod_t Categorical(x_t | x_<t, z) over a vocabulary, from a GRU given z.

    Args:
        vocab_size: Tokens in the vocabulary, specials included (>= 5).
        event_ndim: 1: a data point is one sequence (the VAE checks it).
        hidden: Units of the GRU, and the size of the conditioning vector the decoder outputs.
        embedding_dim: Size of the token embeddings.
        word_dropout: While training, each input token (not `<bos>`) is replaced by `<unk>` with this
            probability (Bowman et al.), so the decoder must lean on z.
        condition: False ignores z: a language model of the same size.
        vocabulary: The codec's config (`vaekit.data.vocabulary.Vocabulary.get_config()`), kept with the
            model so a loaded model reads and writes sentences; or None.
        seed: Seed of the word dropout.

    Example:
    >>> model = build_vae((51,), "sentence", codec=data.codec)  # data from load_dataset("x.txt")
    """

    kind = "autoregressive_categorical"
    data_kind = "text"
    codec_option = "vocabulary"
    is_discrete = True
    per_token = True  # evaluation reports perplexity per token (`<eos>` counted, as is the custom)

    def __init__(
        self,
        vocab_size=None,
        event_ndim=1,
        hidden=256,
        embedding_dim=128,
        word_dropout=0.0,
        condition=True,
        vocabulary=None,
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("name", type(self).kind)
        super().__init__(**kwargs)
        likelihoods.Likelihood.__init__(self, event_ndim=event_ndim)
        if vocab_size is None and vocabulary is not None:
            vocab_size = len(vocabulary.get("tokens", ()))
        self.vocab_size = _integer("vocab_size", vocab_size, minimum=5)
        self.hidden = _integer("hidden", hidden, minimum=1)
        self.embedding_dim = _integer("embedding_dim", embedding_dim, minimum=1)
        word_dropout = float(word_dropout)
        if not 0.0 <= word_dropout < 1.0:
            raise ConfigError(
                f"Expected `word_dropout` in [0, 1). Received: word_dropout={word_dropout}"
            )
        self.word_dropout = word_dropout
        self.condition = bool(condition)
        self.vocabulary = vocabulary
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.embedding = layers.Embedding(self.vocab_size, self.embedding_dim, name="embedding")
        self.gru = layers.GRU(self.hidden, return_sequences=True, name="gru")
        self.logits = layers.Dense(self.vocab_size, name="logits")

    def bind(self, data_shape):
        if len(data_shape) != 1:
            raise ConfigError(
                f"Expected token sequences of shape (length,) for {self.kind}. "
                f"Received data of shape {tuple(data_shape)}"
            )
        if not self.built:
            self.build(data_shape)

    def build(self, data_shape):
        length = int(data_shape[-1])
        self.length = length
        # Which tokens may come next, per position: never <pad> or <bos>, and at the last position
        # only <eos>. The distribution is then normalised over well-formed sentences exactly.
        allowed = np.zeros((length, self.vocab_size), "float32")
        allowed[:, [PAD, BOS]] = -np.inf
        allowed[-1, :] = -np.inf
        allowed[-1, EOS] = 0.0
        self._allowed = allowed
        self.embedding.build((None, length))
        self.gru.build((None, length, self.embedding_dim + self.hidden))
        self.logits.build((None, length, self.hidden))
        self.built = True

    def param_shape(self, data_shape):
        return (self.hidden,)

    # --- scoring ------------------------------------------------------------------------------------
    def _context(self, params):
        return params if self.condition else ops.zeros_like(params)

    def _step_logits(self, inputs, context, training=False):
        """Logits `(n, T, vocab)` of each next token, given input tokens `(n, T)` and z's
        conditioning vectors `(n, hidden)`."""
        embedded = self.embedding(inputs)  # (n, T, embedding_dim)
        steps = ops.shape(embedded)[1]
        tiled = ops.repeat(ops.expand_dims(context, 1), steps, axis=1)  # (n, T, hidden)
        states = self.gru(
            ops.concatenate([embedded, tiled], axis=-1), initial_state=[context], training=training
        )
        return self.logits(states)

    def log_prob(self, x, params, training=False):
        """Summed log-probabilities of the tokens up to and including `<eos>`: `x` `(..., L)` and
        `params` `(..., hidden)` broadcast over their leading axes; returns their leading shape."""
        params = ops.convert_to_tensor(params)
        x = ops.cast(ops.convert_to_tensor(x), "int32")
        lead = ops.shape(params)[:-1]  # dynamic where a graph leaves the batch size unknown
        x = ops.broadcast_to(x, (*lead, self.length))
        targets = ops.reshape(x, (-1, self.length))  # (n, L)
        context = self._context(ops.reshape(params, (-1, self.hidden)))  # (n, hidden)
        inputs = ops.concatenate(
            [ops.full((ops.shape(targets)[0], 1), BOS, dtype="int32"), targets[:, :-1]], axis=1
        )  # (n, L): <bos>, then the tokens before each target
        if training and self.word_dropout > 0:
            drop = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
            drop = ops.logical_and(drop < self.word_dropout, inputs > EOS)  # words only
            inputs = ops.where(drop, ops.full_like(inputs, UNK), inputs)
        logits = self._step_logits(inputs, context, training=training)  # (n, L, vocab)
        logits = logits + ops.cast(self._allowed, logits.dtype)  # (L, vocab): -inf where never
        mask = ops.cast(targets != PAD, logits.dtype)  # (n, L): after <eos>, nothing is scored
        gather = ops.where(targets == PAD, EOS, targets)  # a finite stand-in (<pad> is never next)
        log_p = ops.take_along_axis(
            ops.log_softmax(logits, axis=-1), ops.expand_dims(gather, -1), axis=-1
        )[..., 0]  # (n, L)
        return ops.reshape(ops.sum(log_p * mask, axis=-1), lead)

    def values_scored(self, x):
        """Tokens scored per sentence: up to and including `<eos>` (`(n,)` ints)."""
        return (np.asarray(x) != PAD).sum(axis=-1).astype("int64")

    # --- generation ---------------------------------------------------------------------------------
    def mean(self, params):
        """The greedy decoding of each conditioning vector: token ids `(n, L)`."""
        return self.generate(params, greedy=True)

    def sample(self, params, seed=None, temperature=1.0):
        """Sentences drawn token by token: ids `(n, L)` (`<eos>` then `<pad>` after the end)."""
        return self.generate(params, seed=seed, temperature=temperature)

    def generate(self, params, greedy=False, temperature=1.0, seed=None):
        """Decode token by token, each next token the most likely (`greedy`) or drawn from the
        softmax at `temperature`. Returns int32 numpy ids `(n, L)`."""
        context = self._context(ops.reshape(ops.convert_to_tensor(params), (-1, self.hidden)))
        n = int(context.shape[0])
        rng = np.random.default_rng(seed if isinstance(seed, int) else None)
        cell = self.gru.cell
        state = context
        token = np.full((n,), BOS, "int32")
        out = np.full((n, self.length), PAD, "int32")
        done = np.zeros(n, bool)
        for t in range(self.length):
            step_in = ops.concatenate([self.embedding(ops.convert_to_tensor(token)), context], -1)
            h, new_state = cell(step_in, [state])
            state = new_state[0] if isinstance(new_state, list | tuple) else new_state
            logits = ops.convert_to_numpy(self.logits(h)).astype("float64")  # (n, vocab)
            logits += self._allowed[t]  # as log_prob scores them
            if greedy or temperature <= 0:
                token = logits.argmax(-1).astype("int32")
            else:
                p = np.exp((logits - logits.max(-1, keepdims=True)) / temperature)
                p /= p.sum(-1, keepdims=True)
                token = (p.cumsum(-1) > rng.random((n, 1))).argmax(-1).astype("int32")
            out[:, t] = np.where(done, PAD, token)
            done |= token == EOS
            if done.all():
                break
        return out

    def get_config(self):
        return {
            **keras.layers.Layer.get_config(self),
            "vocab_size": self.vocab_size,
            "event_ndim": self.event_ndim,
            "hidden": self.hidden,
            "embedding_dim": self.embedding_dim,
            "word_dropout": self.word_dropout,
            "condition": self.condition,
            "vocabulary": self.vocabulary,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def recurrent_encoder(
    input_shape,
    latent_dim,
    hidden_units=(256,),
    activation="tanh",
    name="encoder",
    vocab_size=None,
    embedding_dim=128,
):
    """Token ids `(L,)` -> embedding -> GRU (`hidden_units[0]` units, padding masked) -> Dense heads.

    `vocab_size` comes from the data's codec (`build_vae(..., codec=data.codec)`).
    """
    vocab_size = _integer("vocab_size", vocab_size, minimum=5)
    embedding_dim = _integer("embedding_dim", embedding_dim, minimum=1)
    units = tuple(hidden_units)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(x_in)
    h = layers.GRU(units[0], name="gru")(h)
    for i, width in enumerate(units[1:]):
        h = layers.Dense(width, activation=activation, name=f"dense_{i}")(h)
    mean = layers.Dense(latent_dim, name="mean")(h)
    log_var = layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(x_in, [mean, log_var], name=name)


def conditioning_decoder(output_shape, latent_dim, hidden_units=(256,), activation="tanh", **kw):
    """z -> the likelihood's conditioning vector: the `mlp` decoder without its hidden layers beyond
    the first (a recurrent model's decoding happens in its likelihood)."""
    kw.pop("vocab_size", None)
    kw.pop("embedding_dim", None)
    return mlp_decoder(output_shape, latent_dim, tuple(hidden_units)[:1], activation, **kw)


def _integer(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(
            f"Expected `{name}` to be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


likelihoods.LIKELIHOODS.register(AutoregressiveCategorical)
ARCHITECTURES.register((recurrent_encoder, conditioning_decoder), "recurrent")
