"""Which recurrent layers and calls LSTM-aware LRP supports, and the gate rules' names."""

from __future__ import annotations

from typing import Any

import keras

from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError

#: How the relevance of a product ``gate * signal`` is shared (SEMANTICS.md).
GATE_RULES = ("signal_take_all", "proportional", "abs", "half")

_kl = keras.layers
_CELLS = (_kl.LSTMCell, _kl.GRUCell, _kl.SimpleRNNCell)
_RNN_CALLS = (_kl.LSTM.call, _kl.GRU.call, _kl.SimpleRNN.call, _kl.RNN.call)
_RECURRENT_ACTIVATIONS = ("sigmoid", "hard_sigmoid")
_SIMPLE_ACTIVATIONS = ("tanh", "relu", "linear")


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def check_gate_rule(gate_rule: str) -> str:
    """Return ``gate_rule`` if it is one of :data:`GATE_RULES`, else raise."""
    if gate_rule not in GATE_RULES:
        raise InvalidArgumentError(f"gate_rule must be one of {GATE_RULES}, got {gate_rule!r}.")
    return gate_rule


def _refuse(layer: Any, reason: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"recurrent layer {layer.name!r} ({type(layer).__name__}) cannot be explained by LRP: "
        f"{reason} Explain it with the gradient family (e.g. 'gradient', 'integrated_gradients'), "
        "or register a rule with keras_text_lrp.register_rule."
    )


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", repr(fn))


def check_recurrent_layer(layer: Any) -> None:
    """Raise :class:`UnsupportedLayerError` if LSTM-aware LRP cannot handle ``layer``.

    Supported: ``LSTM``, ``GRU`` (``reset_after`` True or False), ``SimpleRNN``
    and ``RNN`` over a standard ``LSTMCell``/``GRUCell``/``SimpleRNNCell``, each
    with zero initial states; ``Bidirectional`` of those with merge mode
    ``concat``, ``sum``, ``ave`` or ``None``.
    """
    if isinstance(layer, _kl.Bidirectional):
        if layer.merge_mode == "mul":
            raise _refuse(
                layer,
                "merge_mode='mul' multiplies the two directions, which has no sound relevance rule; "
                "use merge_mode 'concat', 'sum' or 'ave'.",
            )
        check_recurrent_layer(layer.forward_layer)
        check_recurrent_layer(layer.backward_layer)
        return
    if not isinstance(layer, _kl.RNN):
        raise _refuse(layer, "it is not a keras RNN layer.")
    if type(layer).call not in _RNN_CALLS:
        raise _refuse(layer, f"its class {type(layer).__name__} overrides call().")
    if getattr(layer, "stateful", False):
        raise _refuse(
            layer,
            "stateful=True carries states across batches, but the rule assumes zero initial "
            "states; rebuild the layer with stateful=False and copy the weights.",
        )
    cell = layer.cell
    if type(cell) not in _CELLS:
        raise _refuse(
            layer,
            f"its cell is {type(cell).__name__}, not one of the standard cells "
            "LSTMCell, GRUCell, SimpleRNNCell (custom and stacked cells have no rule); "
            "stack LSTM/GRU/SimpleRNN layers instead of cells.",
        )
    act = _fn_name(cell.activation)
    allowed = _SIMPLE_ACTIVATIONS if isinstance(cell, _kl.SimpleRNNCell) else ("tanh",)
    if act not in allowed:
        raise _refuse(layer, f"activation {act!r} is not supported (use one of {allowed}).")
    if not isinstance(cell, _kl.SimpleRNNCell):
        ract = _fn_name(cell.recurrent_activation)
        if ract not in _RECURRENT_ACTIVATIONS:
            raise _refuse(
                layer,
                f"recurrent_activation {ract!r} is not supported (use one of {_RECURRENT_ACTIVATIONS}).",
            )


def _primary_outputs(layer: Any) -> int:
    return 2 if isinstance(layer, _kl.Bidirectional) and layer.merge_mode is None else 1


def check_recurrent_calls(graph: Any, kinds: dict, output_key: Any) -> list:
    """Check every recurrent call that the explained output depends on; return their layers.

    Raises :class:`UnsupportedLayerError` for unsupported layers
    (:func:`check_recurrent_layer`), for calls given an ``initial_state``, and
    for ``return_state=True`` calls whose state outputs feed the explained
    output.
    """
    found = []
    live = {output_key}
    for step in reversed(graph.steps):
        if not any(k in live for k in step.outputs):
            continue
        if step.layer is not None and kinds.get(step) == "recurrent":
            layer = step.layer
            check_recurrent_layer(layer)
            if len(step.inputs) != 1:
                raise _refuse(
                    layer,
                    "it is called with an initial_state (or other extra tensors); the rule supports "
                    "zero initial states only.",
                )
            if any(k in live for k in step.outputs[_primary_outputs(layer):]):
                raise _refuse(
                    layer,
                    "return_state=True and its state outputs feed the explained output; only the "
                    "sequence / last-step output can carry relevance.",
                )
            found.append(layer)
        live.update(step.inputs)
    return found
