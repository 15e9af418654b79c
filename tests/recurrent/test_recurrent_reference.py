"""The reference checked against keras' forward pass and against its own identities.

These tests do not use keras_text_lrp: they make sure the numpy reference is
right before it judges the library.
"""

import numpy as np
import pytest
from rnn_cases import CASES, UNMASKED_CASES, case, ref, selection_for

ALL_CASES = sorted(CASES) + sorted(UNMASKED_CASES)


@pytest.mark.parametrize("name", ALL_CASES)
def test_reference_forward_equals_keras(name):
    model, X = case(name)
    np.testing.assert_allclose(ref.forward_batch(model, X), np.asarray(model(X)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "stacked_rnn_cell_gru", "gru_reset_before_backwards",
                                  "simple_rnn_relu_seq_tanh", "bi_lstm_concat", "bi_gru_sum_seq",
                                  "stacked_bi_ave_sum", "lstm_seq_gmp", "bi_lstm_seq_flatten"])
@pytest.mark.parametrize("gate_rule", ["signal_take_all", "proportional"])
def test_reference_bias_factor_one_conserves(name, gate_rule):
    """bias_factor=1: input relevance + relevance on the zero initial states == logit."""
    model, X = case(name)
    sel = selection_for(len(X))
    rule = ref.rule_for("lrp.epsilon", epsilon=1e-2, bias_factor=1.0, gate_rule=gate_rule)
    out = ref.analyze_batch(model, X, rule, sel)
    logit = out["logits"][np.arange(len(X)), sel]
    total = out["R"].reshape(len(X), -1).sum(1) + out["init"]
    # rtol 1e-7: "proportional" can make relevances large that cancel (float64 still holds)
    np.testing.assert_allclose(total, logit, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", ["lstm", "bi_gru_sum_seq", "stacked_bi_ave_sum"])
def test_reference_masked_steps_get_nothing_and_padding_is_invisible(name):
    model, X = case(name)
    lengths = (X != 0).sum(1)
    rule = ref.rule_for("lrp.lstm")
    batch = ref.analyze_batch(model, X, rule, selection_for(len(X)))
    for n, ell in enumerate(lengths):
        assert np.all(batch["R"][n, ell:] == 0)
        alone = ref.analyze_batch(model, X[n : n + 1, :ell], rule, selection_for(len(X))[n : n + 1])
        np.testing.assert_allclose(batch["R"][n, :ell], alone["R"][0], rtol=1e-10, atol=1e-12)
