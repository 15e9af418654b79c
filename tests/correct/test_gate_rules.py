"""Every ``gate_rule`` stays finite, and conserves where SEMANTICS.md claims it.

SEMANTICS.md, "Recurrent layers": the proportional/abs split of ``gate * signal`` is
stabilised (``+ eps*sign``) and each share bounded to ``[0, T]``. Checked

* on the shipped sst5-bilstm, all 2,210 SST-5 test sentences, one batched analysis per
  rule: finite; with ``bias_factor=1`` the sentence sum is the logit up to the documented
  tolerance (the relevance of the zero initial states, which the analysis drops). The
  numbers do not depend on the backend (the recurrent suite checks both backends against
  the same float64 reference), so all 2,210 run on TensorFlow and JAX runs 200 of them;
* on a 200-step random sequence: equal to the float64 numpy reference of
  ``tests/recurrent/reference.py`` (written independently of the library), whose
  relevances plus the initial-state relevance equal the logit exactly.
"""

from __future__ import annotations

import importlib.util
import os

import keras
import numpy as np
import pytest

from keras_text_lrp import create_analyzer, models
from keras_text_lrp.datasets import load_sst5

_REF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recurrent", "reference.py")
_spec = importlib.util.spec_from_file_location("correct_recurrent_reference", _REF)
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)

GATE_RULES = ("signal_take_all", "proportional", "abs", "half")
#: SEMANTICS.md's tolerance for the sentence sum with bias_factor=1 (the dropped share of the
#: zero initial states), relative to the logit.
CONSERVATION_RTOL = 0.2


@pytest.fixture(scope="module")
def sst5():
    pretrained = models.load("sst5-bilstm")
    texts, _ = load_sst5("test")
    ids = pretrained.encode(texts)
    assert ids.shape[0] == 2210
    if keras.backend.backend() != "tensorflow":
        ids = ids[:200]
    return pretrained.model, ids


@pytest.mark.parametrize(
    "gate_rule,epsilon,bias_factor,conserves",
    [
        ("signal_take_all", 1e-3, 1.0, True),
        ("proportional", 1e-3, 0.0, False),  # lrp.lstm's defaults: the case that gave NaN before
        ("proportional", 0.1, 1.0, True),
        ("abs", 1e-3, 0.0, False),
        ("half", 1e-3, 0.0, False),
    ],
)
def test_sst5_bilstm_every_sentence(sst5, gate_rule, epsilon, bias_factor, conserves):
    model, ids = sst5
    analyzer = create_analyzer(
        "lrp.lstm", model, gate_rule=gate_rule, epsilon=epsilon, bias_factor=bias_factor
    )
    R = analyzer.analyze(ids)
    assert np.isfinite(R).all()
    if conserves:
        logit = analyzer.scores(ids).max(axis=1)
        total = R.sum(axis=(1, 2))
        assert np.all(np.abs(total - logit) <= CONSERVATION_RTOL * np.abs(logit))


@pytest.fixture(scope="module")
def long_lstm():
    keras.utils.set_random_seed(21)
    x = keras.Input((200, 3))
    h = keras.layers.Bidirectional(keras.layers.LSTM(4), merge_mode="concat")(x)
    y = keras.layers.Dense(3)(h)
    model = keras.Model(x, y)
    rng = np.random.default_rng(22)
    for v in model.weights:  # larger weights than glorot: saturating gates, cancelling sums
        v.assign(rng.normal(0, 0.8, v.shape))
    return model, rng.normal(size=(1, 200, 3)).astype("float32")


@pytest.mark.parametrize("gate_rule", GATE_RULES)
@pytest.mark.parametrize("bias_factor", [0.0, 1.0])
def test_200_step_sequence_matches_reference(long_lstm, gate_rule, bias_factor):
    model, X = long_lstm
    rule = reference.rule_for("lrp.lstm", gate_rule=gate_rule, bias_factor=bias_factor)
    want = reference.analyze_batch(model, X, rule)
    got = create_analyzer("lrp.lstm", model, gate_rule=gate_rule, bias_factor=bias_factor).analyze(X)
    assert np.isfinite(got).all()
    scale = np.abs(want["R"]).max()
    np.testing.assert_allclose(got, want["R"], rtol=1e-3, atol=1e-4 * scale)
    if bias_factor == 1.0 and gate_rule in ("signal_take_all", "proportional"):
        logit = want["logits"][np.arange(len(X)), want["selection"]]
        # float64 reference: word relevances + zero-initial-state relevance = the logit
        np.testing.assert_allclose(want["R"].sum(axis=(1, 2)) + want["init"], logit, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got.sum(axis=(1, 2)) + want["init"], logit, rtol=1e-3, atol=1e-4)
