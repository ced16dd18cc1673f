"""The fast training engine agrees with plain `fit` and honours callbacks; training options."""

import keras
import numpy as np
import pytest

from vaekit.backends.fast_loop import fit_fast
from vaekit.data.order import EpochBatches
from vaekit.errors import ConfigError
from vaekit.models.build import build_vae
from vaekit.training.callbacks import EarlyStop, KLWarmup, cosine_decay


def _model(shape, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    model = build_vae(shape, "seed", seed=seed, hidden_units=[16], latent_dim=3, **overrides)
    # TensorFlow's random ops draw other numbers under XLA, and its fast engine runs MLPs like this
    # one under XLA: the plain path then compiles with XLA too, so both see the same noise.
    jit = True if keras.backend.backend() == "tensorflow" else "auto"
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=jit)
    return model


def _assert_traced_on_torch(model):
    """On PyTorch the fast engine replays a trace of the step for this model, not `train_step`."""
    if keras.backend.backend() == "torch":
        from vaekit.backends.torch_backend import Runner as TorchRunner

        assert TorchRunner(model).lean


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.random((200, 6, 6, 1)) < 0.4).astype("float32")  # 200 = 6 batches of 32 + 8


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))


@pytest.mark.parametrize(
    "likelihood, iw_samples",
    [("bernoulli", 1), ("local_ar_bernoulli", 1), ("bernoulli", 3)],
)
def test_fast_engine_matches_plain_fit(data, likelihood, iw_samples):
    """Same seed, same batches, same steps: the fast path ends where plain `fit` ends (on the
    IWAE bound too, which PyTorch's engine traces without `train_step`'s unused forward pass)."""
    batches = EpochBatches(data, 32, seed=4)
    options = {"likelihood": likelihood, "iw_samples": iw_samples}
    plain = _model(data.shape[1:], **options)
    expected = plain.fit(
        batches.stream(0), steps_per_epoch=len(batches), epochs=3, shuffle=False, verbose=0
    )
    fast = _model(data.shape[1:], **options)
    _assert_traced_on_torch(fast)
    history = fit_fast(fast, batches, epochs=3, verbose=0, steps_per_call=2)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    # The epoch figures too: the padded last batch (8 real examples of 32) counts as 8.
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(history.history[name], expected.history[name], rtol=1e-4)
    x = data[:50]
    a = plain.evaluate(x, verbose=0, return_dict=True)["reconstruction"]
    b = fast.evaluate(x, verbose=0, return_dict=True)["reconstruction"]
    assert a == pytest.approx(b, rel=1e-3)


def test_a_dataset_smaller_than_a_batch(data):
    """5 examples, batch 32: the one (padded) batch is those 5, as in `fit`."""
    batches = EpochBatches(data[:5], 32, seed=0)
    plain = _model(data.shape[1:])
    expected = plain.fit(batches.stream(0), steps_per_epoch=1, epochs=2, shuffle=False, verbose=0)
    fast = _model(data.shape[1:])
    history = fit_fast(fast, batches, epochs=2, verbose=0)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-4)


def test_dynamic_binarization_batches_match(data):
    grey = np.random.default_rng(1).random((100, 6, 6, 1)).astype("float32")
    batches = EpochBatches(grey, 32, seed=2, binarize=True)
    plain = _model(grey.shape[1:])
    plain.fit(batches.stream(0), steps_per_epoch=len(batches), epochs=2, shuffle=False, verbose=0)
    fast = _model(grey.shape[1:])
    fit_fast(fast, batches, epochs=2, verbose=0)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_callbacks_see_chunks_epochs_and_validation(data):
    model = _model(data.shape[1:])
    recorder = Recorder()
    fit_fast(
        model,
        EpochBatches(data, 32, seed=0),
        epochs=2,
        validation_data=(data[:40],),
        callbacks=[recorder],
        verbose=0,
        steps_per_call=4,
    )
    ends = [e[1] for e in recorder.events if e[0] == "batch_end"]
    assert ends == [3, 5, 6, 3, 5, 6]  # chunks of 4 and 2 full batches, then the last, smaller one
    epoch_ends = [e for e in recorder.events if e[0] == "epoch_end"]
    assert [e[1] for e in epoch_ends] == [0, 1]
    assert {"loss", "kl", "reconstruction", "val_loss", "val_kl"} <= set(epoch_ends[0][2])
    assert all(np.isfinite(e[2]) for e in recorder.events if e[0] == "batch_end")


class StopAt(keras.callbacks.Callback):
    """Asks for a stop at the end of the first chunk that ends at or after batch `batch`."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.batch:
            self.model.stop_training = True


def test_stop_training_stops_at_the_next_chunk(data):
    model = _model(data.shape[1:])
    recorder = Recorder()
    fit_fast(
        model,
        EpochBatches(data, 32, seed=0),
        epochs=5,
        callbacks=[StopAt(0), recorder],
        verbose=0,
        steps_per_call=2,
    )
    assert [e[1] for e in recorder.events if e[0] == "batch_end"] == [1]
    assert model.optimizer.iterations.numpy() == 2


@pytest.mark.parametrize("stop_at, validated", [(6, True), (3, False)])
def test_a_stop_in_the_last_steps_still_validates_the_whole_epoch(data, stop_at, validated):
    """Ctrl-C during an epoch's last steps ends a whole epoch: it gets its validation scores, so its
    checkpoint has every metric (a run once wrote a history without them and failed). A stop
    mid-epoch ends a partial epoch, which is not validated (nor checkpointed)."""
    model = _model(data.shape[1:])
    recorder = Recorder()
    fit_fast(
        model,
        EpochBatches(data, 32, seed=0),
        epochs=3,
        validation_data=(data[:40],),
        callbacks=[StopAt(stop_at), recorder],
        verbose=0,
        steps_per_call=4,
    )
    epoch_ends = [e for e in recorder.events if e[0] == "epoch_end"]
    assert [e[1] for e in epoch_ends] == [0]
    assert ("val_loss" in epoch_ends[0][2]) is validated


def test_kl_warmup_schedule_and_true_validation(data):
    model = _model(data.shape[1:])
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(keras.ops.convert_to_numpy(self.model.kl_scale)))

    history = fit_fast(
        model,
        EpochBatches(data, 32, seed=0),
        epochs=4,
        validation_data=(data[:64],),
        callbacks=[KLWarmup(2), Watch()],
        verbose=0,
    )
    assert seen == [0.5, 1.0, 1.0, 1.0]
    assert float(keras.ops.convert_to_numpy(model.kl_scale)) == 1.0
    # Validation always scores the true ELBO: loss = reconstruction + KL, whatever the warm-up.
    h = history.history
    np.testing.assert_allclose(
        h["val_loss"], np.add(h["val_reconstruction"], h["val_kl"]), rtol=1e-5
    )
    # Training during warm-up weighs the KL by half: loss < reconstruction + KL.
    assert h["loss"][0] < h["reconstruction"][0] + h["kl"][0] - 1e-3


def test_free_bits_floor_and_gradient(data):
    model = _model(data.shape[1:], free_bits=5.0)  # 3 units: floor 15 nats
    x = keras.ops.convert_to_tensor(data[:32])
    out = model(x, training=True)
    reconstruction, kl = (keras.ops.convert_to_numpy(t) for t in model.elbo_terms(x, out))
    assert kl.mean() < 15.0  # an untrained encoder sits near the prior
    loss = float(keras.ops.convert_to_numpy(model.compute_loss(x, y_pred=out, training=True)))
    assert loss == pytest.approx(reconstruction.mean() + 15.0, rel=1e-5)
    loss_eval = float(keras.ops.convert_to_numpy(model.compute_loss(x, y_pred=out, training=False)))
    assert loss_eval == pytest.approx(reconstruction.mean() + kl.mean(), rel=1e-5)


def test_free_bits_and_the_iwae_bound_are_exclusive(data):
    with pytest.raises(ConfigError, match="free bits apply to the ELBO, not the IWAE bound"):
        _model(data.shape[1:], free_bits=1.0, iw_samples=2)
    # a model saved before they were exclusive still loads (its free bits never applied)
    model = _model(data.shape[1:], iw_samples=2)
    old = {**model.get_config(), "free_bits": 1.0}
    assert type(model).from_config(old).free_bits == 0


@pytest.mark.parametrize("free_bits", [0.0, 5.0])
def test_zero_weighted_rows_change_nothing(data, free_bits):
    """A padded batch (real rows, then rows of weight 0) scores exactly its real rows: the fast
    engine relies on it for an epoch's smaller last batch."""
    model = _model(data.shape[1:], free_bits=free_bits)
    real = data[:8]
    out = model(keras.ops.convert_to_tensor(data[:32]), training=True)
    weights = np.r_[np.ones(8), np.zeros(24)].astype("float32")
    padded = model.compute_loss(data[:32], y_pred=out, sample_weight=weights, training=True)
    alone = {k: v[:8] for k, v in out.items()}
    expected = model.compute_loss(real, y_pred=alone, training=True)
    assert float(keras.ops.convert_to_numpy(padded)) == pytest.approx(
        float(keras.ops.convert_to_numpy(expected)), rel=1e-6
    )


def test_iwae_training_loss_is_tighter_than_the_elbo(data):
    x = keras.ops.convert_to_tensor(data[:64])
    iwae = _model(data.shape[1:], iw_samples=50)
    elbo = _model(data.shape[1:])  # the same weights (same seed)
    for a, b in zip(iwae.get_weights(), elbo.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    losses = [float(keras.ops.convert_to_numpy(iwae.compute_loss(x))) for _ in range(5)]
    elbos = [float(keras.ops.convert_to_numpy(elbo.compute_loss(x))) for _ in range(5)]
    assert np.mean(losses) < np.mean(elbos) - 0.1
    model = _model(data.shape[1:], iw_samples=4)
    history = fit_fast(model, EpochBatches(data, 32, seed=0), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_cosine_schedule_and_early_stop_logic():
    schedule = cosine_decay(1e-3, 11)
    assert schedule(0) == pytest.approx(1e-3)
    assert schedule(10) == pytest.approx(1e-5)
    assert schedule(0) > schedule(5) > schedule(10)

    class FakeCheckpoint:
        state = {"best_epoch": 3}

    stop = EarlyStop(FakeCheckpoint(), patience=2)
    stop.set_model(keras.Sequential())
    stop.model.stop_training = False
    stop.on_epoch_end(3)  # epoch 4 done: 1 epoch without improvement
    assert not stop.model.stop_training
    stop.on_epoch_end(4)  # epoch 5 done: 2 epochs without improvement
    assert stop.model.stop_training and stop.stopped_epoch == 5


@pytest.mark.parametrize("preset", ["seed", "hvae_vampprior"])
def test_training_noise_is_the_draw_call_makes(preset):
    """`call(x, noise=training_noise(n))` is the step `call(x)` takes: the traced PyTorch engine
    feeds the samplers' draws in as inputs."""
    from vaekit.models.layers import is_seed_state

    model = build_vae((6, 6, 1), preset, seed=3, hidden_units=[8], latent_dim=2)
    x = (np.random.default_rng(0).random((5, 6, 6, 1)) < 0.5).astype("float32")
    seeds = [v for v in model.non_trainable_variables if is_seed_state(v)]
    start = [keras.ops.convert_to_numpy(v) for v in seeds]
    drawn = model(x, training=True)
    for v, value in zip(seeds, start, strict=True):
        v.assign(value)
    given = model(x, training=True, noise=model.training_noise(len(x)))
    for key in ("z", "params"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(drawn[key]),
            keras.ops.convert_to_numpy(given[key]),
            atol=1e-6,
        )


def test_only_models_a_trace_reproduces_are_traced(data):
    from keras import layers

    from vaekit.backends.torch_backend import traceable
    from vaekit.models.vae import VAE

    assert traceable(_model(data.shape[1:]))
    assert traceable(_model(data.shape[1:], iw_samples=2))
    two_layers = build_vae(data.shape[1:], "hvae_vampprior", hidden_units=[8], iw_samples=2)
    two_layers.compile(optimizer="adam")
    assert traceable(two_layers)
    # The trace of the IWAE bound skips train_step's unused forward pass: not for a model whose
    # forward pass updates state (here a normalisation's moving statistics).
    inputs = keras.Input(data.shape[1:])
    h = layers.BatchNormalization()(layers.Flatten()(inputs))
    encoder = keras.Model(inputs, [layers.Dense(3)(h), layers.Dense(3)(h)])
    z = keras.Input((3,))
    decoder = keras.Model(z, layers.Reshape(data.shape[1:])(layers.Dense(36)(z)))
    for iw_samples, expected in ((1, True), (2, False)):
        model = VAE(encoder, decoder, seed=0, iw_samples=iw_samples)
        model.compile(optimizer="adam")
        assert traceable(model) is expected
    inputs = keras.Input(data.shape[1:])
    h = layers.Dropout(0.2, seed=1)(layers.Flatten()(inputs))  # randomness of its own
    encoder = keras.Model(inputs, [layers.Dense(3)(h), layers.Dense(3)(h)])
    z = keras.Input((3,))
    decoder = keras.Model(z, layers.Reshape(data.shape[1:])(layers.Dense(36)(z)))
    model = VAE(encoder, decoder, seed=0)
    model.compile(optimizer="adam")
    assert not traceable(model)


def test_hierarchical_and_other_optimizers_match_plain_fit(data):
    """The fast engine with a two-layer model, and with an optimizer other than plain Adam (which
    the PyTorch engine then applies through Keras), ends where `fit` ends."""
    batches = EpochBatches(data[:96], 32, seed=1)
    from vaekit.training.optimizers import NormalizedAdam

    cases = (
        ("hvae_vampprior", lambda: "adam", {}),
        ("hvae_vampprior", lambda: "adam", {"iw_samples": 2}),  # both layers' draws, K of each
        ("seed", lambda: "rmsprop", {}),
        ("seed", lambda: NormalizedAdam(1e-3), {}),  # an Adam subclass: not the fused Adam's maths
    )
    for preset, optimizer, overrides in cases:
        models = []
        for _ in range(2):
            keras.utils.set_random_seed(0)
            model = build_vae(
                data.shape[1:], preset, seed=0, hidden_units=[8], latent_dim=2, **overrides
            )
            jit = True if keras.backend.backend() == "tensorflow" else "auto"
            model.compile(optimizer=optimizer(), jit_compile=jit)
            models.append(model)
        plain, fast = models
        _assert_traced_on_torch(fast)
        plain.fit(
            batches.stream(0), steps_per_epoch=len(batches), epochs=2, shuffle=False, verbose=0
        )
        fit_fast(fast, batches, epochs=2, verbose=0)
        for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "preset, likelihood",
    [
        ("conv", {}),
        ("resconv_vampprior", {}),
        # an MLP whose likelihood convolves (the local autoregressive term's hidden layer)
        ("seed", {"likelihood": "local_ar_bernoulli", "likelihood_options": {"hidden": 3}}),
    ],
)
def test_convolutional_models_match_plain_fit(data, preset, likelihood):
    """Convolutional models (one compiled step per batch on JAX and TensorFlow, whose XLA loops
    slow convolutions tenfold) end where `fit` ends."""
    from vaekit.backends import has_convolutions

    batches = EpochBatches(data[:72], 32, seed=2)  # 2 full batches and a padded one of 8
    models = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        model = build_vae(
            data.shape[1:], preset, seed=0, hidden_units=[4], latent_dim=2, **likelihood
        )
        # TensorFlow's engine steps conv models without XLA, whose random draws differ from XLA's
        jit = False if keras.backend.backend() == "tensorflow" else "auto"
        model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=jit)
        models.append(model)
    plain, fast = models
    assert has_convolutions(fast) and not has_convolutions(_model(data.shape[1:]))
    expected = plain.fit(
        batches.stream(0), steps_per_epoch=len(batches), epochs=2, shuffle=False, verbose=0
    )
    history = fit_fast(fast, batches, epochs=2, verbose=0)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-4)
