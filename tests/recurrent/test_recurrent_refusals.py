"""What LSTM-aware LRP refuses, with errors that name the layer and the reason.

The checks run when the analyzer is created, so none of these compiles anything.
"""

import keras
import pytest
from rnn_cases import DIM, VOCAB, L, case

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError


def _model(*layers, T=None, batch=None):
    inp = keras.Input((T,), dtype="int32", batch_size=batch)
    h = L.Embedding(VOCAB, DIM, mask_zero=True)(inp)
    for lay in layers:
        h = lay(h)
    return keras.Model(inp, L.Dense(3)(h))


class _MyCell(L.Layer):
    """A custom cell: h_t = tanh(x W + h U)."""

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.u = self.add_weight(shape=(self.units, self.units))

    def call(self, x, states):
        h = keras.ops.tanh(x @ self.w + states[0] @ self.u)
        return h, [h]


def test_stateful_is_refused():
    model = _model(L.LSTM(3, stateful=True, name="my_lstm"), T=5, batch=2)
    with pytest.raises(UnsupportedLayerError, match=r"'my_lstm'.*stateful=True"):
        ktl.create_analyzer("lrp.lstm", model)


@pytest.mark.parametrize("cell", [
    lambda: _MyCell(3), lambda: L.StackedRNNCells([L.LSTMCell(3), L.LSTMCell(3)])
],
                         ids=["custom_cell", "stacked_cells"])
def test_non_standard_cells_are_refused(cell):
    model = _model(L.RNN(cell(), name="my_rnn"))
    with pytest.raises(UnsupportedLayerError, match=r"'my_rnn'.*not one of the standard cells"):
        ktl.create_analyzer("lrp.epsilon", model)
    ktl.create_analyzer("gradient", model)  # the gradient family takes it by autodiff


@pytest.mark.parametrize("layer,what", [
    (lambda: L.LSTM(3, activation="relu", name="bad"), r"activation 'relu'"),
    (lambda: L.GRU(3, recurrent_activation="relu", name="bad"), r"recurrent_activation 'relu'"),
    (lambda: L.SimpleRNN(3, activation="sigmoid", name="bad"), r"activation 'sigmoid'"),
], ids=["lstm_relu", "gru_recurrent_relu", "simple_rnn_sigmoid"])
def test_unsupported_activations_are_refused(layer, what):
    with pytest.raises(UnsupportedLayerError, match=r"'bad'.*" + what):
        ktl.create_analyzer("lrp.lstm", _model(layer()))


def test_bidirectional_mul_is_refused():
    model = _model(L.Bidirectional(L.LSTM(3), merge_mode="mul", name="bi"))
    with pytest.raises(UnsupportedLayerError, match=r"'bi'.*merge_mode='mul'"):
        ktl.create_analyzer("lrp.lstm", model)


def test_used_return_state_is_refused():
    inp = keras.Input((None,), dtype="int32")
    e = L.Embedding(VOCAB, DIM)(inp)
    _, h, c = L.LSTM(3, return_state=True, name="stateful_out")(e)
    model = keras.Model(inp, L.Dense(3)(L.Concatenate()([h, c])))
    with pytest.raises(UnsupportedLayerError, match=r"'stateful_out'.*return_state=True"):
        ktl.create_analyzer("lrp.lstm", model)


def test_initial_state_is_refused():
    inp = keras.Input((None,), dtype="int32")
    init = keras.Input((3,))
    e = L.Embedding(VOCAB, DIM)(inp)
    h = L.GRU(3, name="seeded")(e, initial_state=[init])
    model = keras.Model([inp, init], L.Dense(3)(h))
    with pytest.raises(UnsupportedLayerError, match=r"'seeded'.*initial_state"):
        ktl.create_analyzer("lrp.lstm", model)


def test_bad_gate_rule_is_refused():
    model, _ = case("lstm")
    with pytest.raises(InvalidArgumentError, match=r"gate_rule must be one of"):
        ktl.create_analyzer("lrp.epsilon", model, gate_rule="gate_takes_all")


def test_linear_rule_without_cell_counterpart_is_refused():
    model, _ = case("lstm")

    class MyRule:
        def __call__(self, ctx, relevances):
            return relevances

    with pytest.raises(UnsupportedLayerError, match=r"MyRule has no counterpart inside recurrent cells"):
        ktl.analyzers.LRP(model, rule=MyRule())


def test_error_is_a_value_error():
    model = _model(L.LSTM(3, activation="relu"))
    with pytest.raises(ValueError):
        ktl.create_analyzer("lrp.lstm", model)
