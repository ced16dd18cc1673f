"""The tabular likelihood (one head per column, a missing cell adds nothing) and the model around it."""

import keras
import numpy as np
import pytest

from contract import check_config, check_model
from vaekit.data.schema import TableSchema, as_table
from vaekit.errors import ConfigError, DataError
from vaekit.evaluation.nll import evaluate
from vaekit.models.build import build_vae
from vaekit.models.tabular import Tabular
from vaekit.pictures.generation import impute, prior_rows

ROWS = [
    ["1.5", "red", "yes", "3"],
    ["2.25", "blue", "no", "4"],
    ["", "red", "yes", ""],
    ["3.0", "green", "", "5"],
    ["0.5", "blue", "no", "7"],
]


def _schema():
    return TableSchema.fit(as_table(ROWS, ["size", "colour", "ok", "count"]))


def _x():
    schema = _schema()
    return schema, schema.encode(as_table(ROWS, schema.names))


def _numpy(t):
    return keras.ops.convert_to_numpy(t).astype("float64")


def test_log_prob_is_the_sum_of_the_observed_cells_terms():
    schema, x = _x()
    lik = Tabular(schema=schema.get_config())
    assert lik.param_shape((schema.size,)) == (2 + 3 + 1 + 2,)
    params = np.random.default_rng(0).normal(size=(len(x), 8)).astype("float32")
    terms = _numpy(lik.column_log_probs(x, params))  # (5, 4)

    # By hand: numeric [mean, log-scale], colour 3 logits, ok 1 logit, count [mean, log-scale].
    def gauss(v, m, s):
        return -0.5 * ((v - m) / np.exp(s)) ** 2 - s - 0.5 * np.log(2 * np.pi)

    p = params.astype("float64")
    logits = p[:, 2:5]
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = np.stack(
        [
            gauss(x[:, 0], p[:, 0], p[:, 1]),
            (log_softmax * x[:, 1:4]).sum(axis=1),
            x[:, 4] * p[:, 5] - np.log1p(np.exp(p[:, 5])),
            gauss(x[:, 5], p[:, 6], p[:, 7]),
        ],
        axis=1,
    )
    expected *= x[:, schema.width :]  # missing cells: no term
    np.testing.assert_allclose(terms, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_numpy(lik.log_prob(x, params)), expected.sum(axis=1), rtol=1e-5)
    assert terms[2, 0] == 0 and terms[2, 3] == 0 and terms[3, 2] == 0
    np.testing.assert_array_equal(lik.values_scored(x), [4, 4, 2, 3, 4])


def test_a_missing_cell_adds_no_loss_whatever_its_value():
    schema, x = _x()
    lik = Tabular(schema=schema.get_config())
    params = np.random.default_rng(1).normal(size=(len(x), 8)).astype("float32")
    changed = x.copy()
    changed[2, 0] = 100.0  # row 2's size is missing: its value must not matter
    np.testing.assert_allclose(
        _numpy(lik.log_prob(changed, params)), _numpy(lik.log_prob(x, params)), rtol=1e-6
    )


def test_the_categorical_head_is_a_distribution():
    schema, x = _x()
    lik = Tabular(schema=schema.get_config())
    params = np.random.default_rng(2).normal(size=(1, 8)).astype("float32")
    rows = np.repeat(x[:1], 3, axis=0)
    rows[:, 1:4] = np.eye(3)  # each colour once
    rows[:, [schema.width + j for j in (0, 2, 3)]] = 0  # only the colour observed
    log_p = _numpy(lik.log_prob(rows, np.repeat(params, 3, axis=0)))
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-5)


def test_samples_and_means_are_well_formed_rows():
    schema, _ = _x()
    lik = Tabular(schema=schema.get_config())
    params = np.random.default_rng(3).normal(size=(64, 8)).astype("float32")
    for rows in (_numpy(lik.sample(params, seed=0)), _numpy(lik.mean(params))):
        assert rows.shape == (64, schema.size)
        np.testing.assert_array_equal(rows[:, schema.width :], 1.0)  # every cell observed
        np.testing.assert_allclose(rows[:, 1:4].sum(axis=1), 1.0, rtol=1e-5)
        decoded = schema.decode(rows)
        assert set(decoded["colour"]) <= {"red", "blue", "green"}
        assert all(1 <= v <= 7 and isinstance(v, int) for v in decoded["count"])
        assert all(0.5 <= v <= 3.0 for v in decoded["size"])
    drawn = _numpy(lik.sample(params, seed=0))
    assert set(np.unique(drawn[:, 1:5])) <= {0.0, 1.0}  # one-hot colours, 0/1 booleans
    np.testing.assert_array_equal(drawn, _numpy(lik.sample(params, seed=0)))


def test_the_likelihood_config_round_trips():
    check_config(Tabular(schema=_schema().get_config()))
    with pytest.raises(ConfigError, match="Expected a table schema"):
        Tabular()


def test_the_model_contract_and_imputation(tmp_path):
    schema, x = _x()
    model = build_vae(x.shape[1:], "tabular", seed=0, codec=schema, hidden_units=[16])
    loaded = check_model(model, x, tmp_path)
    assert loaded.likelihood.schema == schema.get_config()
    filled = impute(loaded, x)
    observed = x[:, schema.width :][:, loaded.likelihood.value_columns] > 0.5
    np.testing.assert_array_equal(
        filled[:, : schema.width][observed], x[:, : schema.width][observed]
    )
    np.testing.assert_array_equal(filled[:, schema.width :], 1.0)
    rows = schema.decode(filled)
    assert None not in rows["size"] and None not in rows["ok"] and None not in rows["count"]
    scores = evaluate(loaded, x, num_samples=20)
    assert np.isfinite(scores["nll"]) and scores["bits_per_dim"] is None


def test_a_table_needs_a_tabular_likelihood_and_an_image_model_refuses_a_schema():
    schema, x = _x()
    with pytest.raises(ConfigError, match="Expected a likelihood for table .*'tabular' preset"):
        build_vae(x.shape[1:], "seed", codec=schema)
    with pytest.raises(ConfigError, match="Expected a likelihood for images"):
        build_vae(x.shape[1:], "tabular")
    with pytest.raises(ConfigError, match=r"Expected rows of shape \(10,\)"):
        build_vae((11,), "tabular", codec=schema)


def test_a_conditional_model_reads_its_condition_and_does_not_score_it(tmp_path):
    schema, x = _x()
    schema = schema.with_condition("colour")
    x = schema.encode(as_table(ROWS, schema.names))
    lik = Tabular(schema=schema.get_config())
    assert lik.condition_width == 3 and lik.param_shape((schema.size,)) == (2 + 1 + 2,)
    params = np.random.default_rng(4).normal(size=(len(x), 5)).astype("float32")
    terms = _numpy(lik.column_log_probs(x, params))
    np.testing.assert_array_equal(terms[:, 1], 0.0)  # the condition: given, not scored
    np.testing.assert_array_equal(lik.values_scored(x), [3, 3, 1, 2, 3])
    model = build_vae(x.shape[1:], "tabular", seed=0, codec=schema, hidden_units=[16])
    assert model.conditioned and model.decoder.inputs[0].shape[-1] == 8 + 3
    loaded = check_model(model, x, tmp_path)
    blue = schema.encode_condition(["blue"])[0]
    rows = schema.decode(prior_rows(loaded, 20, seed=0, condition=blue))
    assert rows["colour"] == ["blue"] * 20
    drawn = schema.decode(prior_rows(loaded, 200, seed=1))["colour"]  # as often as in training
    assert set(drawn) == {"red", "blue", "green"} and drawn.count("red") > drawn.count("green")
    with pytest.raises(ConfigError, match="Expected a condition: this model is conditioned on"):
        loaded.sample(3)
    with pytest.raises(ConfigError, match="unconditional model for two stochastic layers"):
        build_vae(x.shape[1:], "tabular", codec=schema, stochastic_layers=2)


def test_the_condition_must_be_a_present_category():
    schema, _ = _x()
    with pytest.raises(DataError, match="categorical or boolean condition column"):
        schema.with_condition("size")
    conditioned = schema.with_condition("ok")  # row 3 has no value for ok
    with pytest.raises(DataError, match="'ok', the condition, has a missing cell in row 3"):
        conditioned.encode(as_table(ROWS, schema.names))
