"""LSTM-aware LRP (keras_text_lrp) against the float64 numpy reference.

Every analyzer is compiled once per input shape, which dominates the run time,
so each test explains a whole batch (sentences of different lengths, padded)
and the models are small.
"""

import keras
import numpy as np
import pytest
from rnn_cases import (
    CASES,
    DIM,
    UNMASKED_CASES,
    L,
    assert_close,
    case,
    float_inputs,
    float_model,
    ref,
    selection_for,
    token_model,
    tokens,
)

import keras_text_lrp as ktl


def explain(model, X, name, sel=None, **kw):
    """Library relevances (index mode when ``sel`` is given) and the reference's."""
    mode = "max_activation" if sel is None else "index"
    analyzer = ktl.create_analyzer(name, model, neuron_selection_mode=mode, **kw)
    R = analyzer.analyze(X, neuron_selection=sel)
    if sel is None:
        sel = np.argmax(ref.forward_batch(model, X), axis=1)
    return R, ref.analyze_batch(model, X, ref.rule_for(name, **kw), sel)


# ---------------------------------------------------------------------------
# every layer configuration, with the lrp.lstm defaults
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES) + sorted(UNMASKED_CASES))
def test_lrp_lstm_matches_reference(name):
    model, X = case(name)
    R, expected = explain(model, X, "lrp.lstm", selection_for(len(X)))
    assert_close(R, expected["R"], err_msg=name)
    if name in CASES:  # padding gets exactly 0
        assert np.all(R[X == 0] == 0)


def test_masking_layer_matches_reference():
    model = float_model(lambda: [L.LSTM(4), L.Dense(3)], T=6)
    X = float_inputs([6, 2, 4], T=6)
    R, expected = explain(model, X, "lrp.epsilon", [0, 1, 2], epsilon=1e-3, bias_factor=1.0,
                          gate_rule="abs")
    assert_close(R, expected["R"])
    assert np.all(R[1, 2:] == 0) and np.all(R[2, 4:] == 0)


# ---------------------------------------------------------------------------
# gate rules x bias_factor, on LSTM (both directions) and GRU (reset_after=False;
# reset_after=True takes the gate rules in the analyzer tests below)
# ---------------------------------------------------------------------------
def _matrix_model():
    return token_model(lambda: [
        L.Bidirectional(L.LSTM(3, return_sequences=True)),
        L.GRU(3, reset_after=False),
        L.Dense(3),
    ], seed=3)


# every gate rule and both bias factors (their 8 combinations conserve in the
# reference's own tests)
@pytest.mark.parametrize("gate_rule,bias_factor", [
    ("signal_take_all", 0.0), ("signal_take_all", 1.0), ("proportional", 1.0), ("abs", 1.0),
    ("half", 0.0),
])
def test_gate_rules_and_bias_factor(gate_rule, bias_factor):
    model = _matrix_model()
    X = tokens([5, 2, 4], seed=3)
    R, expected = explain(model, X, "lrp.epsilon", [0, 1, 2], epsilon=1e-2, bias_factor=bias_factor,
                          gate_rule=gate_rule)
    assert_close(R, expected["R"])
    if bias_factor == 1.0:  # conserved, given the relevance left on the zero initial states
        logit = expected["logits"][np.arange(3), [0, 1, 2]]
        np.testing.assert_allclose(expected["R"].reshape(3, -1).sum(1) + expected["init"], logit,
                                   rtol=1e-9)
        # "proportional" divides by gate + signal, which comes near 0 for signed
        # signals: its relevances grow large and cancel, beyond float32's reach.
        if gate_rule != "proportional":
            total = R.reshape(3, -1).sum(1) + expected["init"]
            np.testing.assert_allclose(total, logit, rtol=1e-5, atol=1e-5 * np.abs(logit).max())


# ---------------------------------------------------------------------------
# every LRP analyzer handles recurrent layers (its linear rule inside the cells)
# ---------------------------------------------------------------------------
ANALYZERS = [
    ("lrp.epsilon", {}),
    ("lrp.z", {}),
    ("lrp.alpha_2_beta_1", {"gate_rule": "abs"}),
    ("lrp.z_plus", {"gate_rule": "half"}),
    ("deep_taylor", {}),
    ("lrp.w_square", {"gate_rule": "half"}),
    ("lrp.flat", {}),
    ("lrp.sequential_preset_a", {}),
]


@pytest.mark.parametrize("name,kw", ANALYZERS, ids=[a for a, _ in ANALYZERS])
def test_lrp_analyzers_match_reference(name, kw):
    model = token_model(lambda: [L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(3)], seed=5)
    X = tokens([5, 3, 4], seed=5)
    R, expected = explain(model, X, name, None, **kw)
    assert_close(R, expected["R"], err_msg=name)
    assert np.all(R[X == 0] == 0)


# ---------------------------------------------------------------------------
# conservation
# ---------------------------------------------------------------------------
def test_conservation_bias_factor_one():
    """Embedding -> Bi-LSTM -> SimpleRNN -> Dense with biases: with bias_factor=1
    everywhere, R_in + R(initial states) == logit (GRU: in the gate-rule tests)."""
    model = token_model(lambda: [
        L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.SimpleRNN(3),
        L.Dense(3),
    ], seed=7)
    X = tokens([6, 3, 5, 1], seed=7)
    R, expected = explain(model, X, "lrp.epsilon", None, epsilon=1e-3, bias_factor=1.0)
    logit = expected["logits"][np.arange(len(X)), expected["selection"]]
    np.testing.assert_allclose(R.reshape(len(X), -1).sum(1) + expected["init"], logit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("lrp.z", {}), ("lrp.epsilon", {"epsilon": 1e-9})])
def test_conservation_no_bias(name, kw):
    """All biases zero and no output bias, bias_factor=0: R_in == logit (zero initial
    states receive nothing)."""
    model = token_model(lambda: [
        L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="sum"),
        L.GRU(3),
        L.Dense(3, use_bias=False),
    ], seed=8, zero_bias=True)
    X = tokens([6, 3, 5], seed=8)
    R = ktl.create_analyzer(name, model, **kw).analyze(X)
    logits = ref.forward_batch(model, X)
    logit = logits[np.arange(len(X)), np.argmax(logits, axis=1)]
    np.testing.assert_allclose(R.reshape(len(X), -1).sum(1), logit, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# padding: a padded batch gives each sentence's own numbers
# ---------------------------------------------------------------------------
def test_padded_batch_equals_sentences_alone():
    """Rows padded after, before and around the sentence (different pad lengths)."""
    model = token_model(lambda: [
        L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"),
        L.GlobalAveragePooling1D(),
        L.Dense(3),
    ], seed=9)
    analyzer = ktl.create_analyzer("lrp.lstm", model, neuron_selection_mode="index")
    sentences = [tokens([ell], seed=9 + ell)[0] for ell in (3, 5, 7)]
    padded = np.zeros((3, 11), "int32")
    padded[0, :3] = sentences[0]  # 8 after
    padded[1, 6:] = sentences[1]  # 6 before
    padded[2, 2:9] = sentences[2]  # 2 before, 2 after
    R = analyzer.analyze(padded, neuron_selection=[0, 1, 2])
    for n, sentence in enumerate(sentences):
        real = padded[n] != 0
        alone = analyzer.analyze(sentence[None], neuron_selection=[n])[0]
        np.testing.assert_allclose(R[n, real], alone, rtol=1e-5, atol=1e-7)
        assert np.all(R[n, ~real] == 0)


# ---------------------------------------------------------------------------
# the gradient family on recurrent models (autodiff), masks included
# ---------------------------------------------------------------------------
def test_gradient_on_recurrent_models():
    """Autodiff through Bidirectional(LSTM) with a mask equals central differences
    of the reference's forward pass; padding gets exactly 0."""
    model = token_model(lambda: [L.Bidirectional(L.LSTM(3)), L.Dense(3)], seed=11)
    X = tokens([4, 2], seed=11)
    analyzer = ktl.create_analyzer("gradient", model, neuron_selection_mode="index")
    sel = np.array([2, 0])
    G = analyzer.analyze(X, neuron_selection=sel)
    np.testing.assert_allclose(G, ref.finite_difference_gradient(model, X, sel), rtol=1e-3, atol=1e-5)
    assert np.all(G[X == 0] == 0)


# ---------------------------------------------------------------------------
# the preset
# ---------------------------------------------------------------------------
def test_lstm_preset_defaults_and_registration():
    model, _ = case("lstm")
    a = ktl.create_analyzer("lrp.lstm", model)
    assert isinstance(a, ktl.LSTMLRP) and isinstance(a, ktl.analyzers.EpsilonLRP)
    assert (a.epsilon, a.bias_factor, a.gate_rule) == (1e-3, 0.0, "signal_take_all")
    assert ktl.ANALYZERS["lrp.lstm"] is ktl.LSTMLRP
    b = ktl.LSTMLRP(model, epsilon=1e-2, bias_factor=1.0, gate_rule="abs")
    assert (b.epsilon, b.bias_factor, b.gate_rule) == (1e-2, 1.0, "abs")


def test_return_state_unused_is_fine():
    keras.utils.set_random_seed(0)
    inp = keras.Input((None,), dtype="int32")
    e = L.Embedding(30, DIM, mask_zero=True)(inp)
    seq, h, c = L.LSTM(3, return_state=True)(e)
    model = keras.Model(inp, L.Dense(3)(seq))
    X = tokens([4, 2])
    R, expected = explain(model, X, "lrp.lstm", [0, 1])
    assert_close(R, expected["R"])
