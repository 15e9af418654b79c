"""Model builders, random weights and tolerances for the recurrent suite.

Every model gets random weights (keras.utils.set_random_seed) and non-zero
random biases; the numpy reference (``reference.py`` in this folder) is loaded
under the unique module name ``recurrent_reference`` so that it never clashes
with other suites' ``reference`` modules.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_reference():
    name = "recurrent_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "reference.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ref = _load_reference()
L = keras.layers

RTOL = 1e-4
ATOL = 1e-5
VOCAB = 30
DIM = 4


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, err_msg=""):
    """float32 library vs float64 reference; atol relative to the largest reference value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape} {err_msg}"
    scale = max(1e-3, float(np.abs(expected).max()) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=err_msg)


def randomize(model, seed=0, bias_scale=0.5, zero_bias=False):
    """Random non-zero biases (or all zero) on every layer that has one."""
    rng = np.random.default_rng(seed + 100)
    for lay in model.layers:
        subs = [lay.forward_layer, lay.backward_layer] if isinstance(lay, L.Bidirectional) else [lay]
        for sub in subs:
            ws = sub.weights
            if not ws:
                continue
            vals = sub.get_weights()
            new = []
            for v, val in zip(ws, vals):
                if v.name == "bias":
                    val = np.zeros(val.shape) if zero_bias else rng.normal(0.0, bias_scale, val.shape)
                new.append(np.asarray(val, "float32"))
            sub.set_weights(new)
    return model


def tokens(lengths, T=None, seed=0, pre=False):
    """Token ids (batch, T), 1..VOCAB-1, padded with 0 after (or before) each sentence."""
    rng = np.random.default_rng(seed)
    T = max(lengths) if T is None else T
    X = np.zeros((len(lengths), T), "int32")
    for n, ell in enumerate(lengths):
        ids = rng.integers(1, VOCAB, ell)
        if pre:
            X[n, T - ell:] = ids
        else:
            X[n, :ell] = ids
    return X


def token_model(body, T=None, mask_zero=True, seed=0, zero_bias=False, bias_scale=0.5):
    """Input(T) -> Embedding(VOCAB, DIM, mask_zero) -> body layers (the last gives 3 logits)."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((T,), dtype="int32"), L.Embedding(VOCAB, DIM, mask_zero=mask_zero)]
    model = keras.Sequential(layers + body())
    return randomize(model, seed, bias_scale=bias_scale, zero_bias=zero_bias)


def float_model(body, T, seed=0):
    """Input(T, DIM) floats -> Masking(0) -> body."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((T, DIM)), L.Masking(0.0)] + body())
    return randomize(model, seed)


def float_inputs(lengths, T, seed=0):
    """Random vectors with all-zero (masked) steps after each sentence."""
    rng = np.random.default_rng(seed)
    X = np.zeros((len(lengths), T, DIM), "float32")
    for n, ell in enumerate(lengths):
        X[n, :ell] = rng.normal(0, 1, (ell, DIM))
    return X


# ---------------------------------------------------------------------------
# the cases: name -> (body factory, kwargs of token_model or "float")
# ---------------------------------------------------------------------------
def _head():
    return L.Dense(3)


CASES = {
    "lstm": lambda: [L.LSTM(5), _head()],
    "lstm_backwards_hard_sigmoid_nobias": lambda: [
        L.LSTM(4, go_backwards=True, recurrent_activation="hard_sigmoid", use_bias=False), _head()],
    "lstm_seq_gap": lambda: [L.LSTM(4, return_sequences=True, unit_forget_bias=True),
                             L.GlobalAveragePooling1D(), _head()],
    "lstm_seq_backwards_gap": lambda: [L.LSTM(4, return_sequences=True, go_backwards=True),
                                       L.GlobalAveragePooling1D(), _head()],
    "gru_reset_before_backwards": lambda: [L.GRU(4, reset_after=False, go_backwards=True), _head()],
    "gru_nobias_hard_sigmoid": lambda: [L.GRU(4, use_bias=False, recurrent_activation="hard_sigmoid"),
                                        _head()],
    "simple_rnn_relu_seq_tanh": lambda: [L.SimpleRNN(4, activation="relu", return_sequences=True),
                                         L.SimpleRNN(3), _head()],
    "bi_lstm_concat": lambda: [L.Bidirectional(L.LSTM(4)), _head()],
    "bi_gru_sum_seq": lambda: [L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"),
                               L.GlobalAveragePooling1D(), _head()],
    "stacked_rnn_cell_gru": lambda: [L.RNN(L.LSTMCell(4), return_sequences=True), L.Dropout(0.3),
                                     L.GRU(3), _head()],
    "stacked_bi_ave_sum": lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="ave"),
                                   L.Bidirectional(L.SimpleRNN(3), merge_mode="sum"), _head()],
}

# fixed-length cases without masks (GlobalMaxPooling1D / Flatten ignore masks)
UNMASKED_CASES = {
    "lstm_seq_gmp": lambda: [L.LSTM(4, return_sequences=True), L.GlobalMaxPooling1D(), _head()],
    "bi_lstm_seq_flatten": lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True)), L.Flatten(),
                                    _head()],
    "gru_seq_backwards_flatten": lambda: [L.GRU(3, return_sequences=True, go_backwards=True),
                                          L.Flatten(), _head()],
}

LENGTHS = [6, 3, 5, 1]
T_FIXED = 5

_CACHE: dict = {}


def case(name, seed=0):
    """(model, X) of a case, cached."""
    key = (name, seed)
    if key not in _CACHE:
        if name in CASES:
            model = token_model(CASES[name], seed=seed)
            X = tokens(LENGTHS, seed=seed)
        else:
            model = token_model(UNMASKED_CASES[name], T=T_FIXED, mask_zero=False, seed=seed)
            X = tokens([T_FIXED] * 3, seed=seed)
        _CACHE[key] = (model, X)
    return _CACHE[key]


def selection_for(n, k=3):
    return np.arange(n) % k
