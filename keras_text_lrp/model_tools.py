"""Checks and surgery on Keras models: logits outputs, ``model_wo_softmax``."""

from __future__ import annotations

from typing import Any

import keras

from keras_text_lrp.errors import InvalidModelError

__all__ = ["model_wo_softmax", "output_squashing"]

_SQUASHING = ("softmax", "sigmoid", "log_softmax")


def _producer(tensor: Any) -> tuple[Any, Any]:
    """The layer and node that made the symbolic ``tensor``."""
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index]


def _squashing_name(layer: Any) -> str | None:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    return name if name in _SQUASHING else None


def _squashed_inside(model: keras.Model) -> bool:
    layer, _ = _producer(model.outputs[0])
    if isinstance(layer, keras.Model):
        return _squashed_inside(layer)
    return _squashing_name(layer) is not None


def output_squashing(model: keras.Model) -> list[tuple[int, str, str]]:
    """``(output index, layer name, activation)`` for outputs ending in softmax/sigmoid."""
    found = []
    for i, out in enumerate(model.outputs):
        layer, _ = _producer(out)
        name = _squashing_name(layer)
        if name:
            found.append((i, layer.name, name))
    return found


def model_wo_softmax(model: keras.Model) -> keras.Model:
    """The same model ending in logits: its final softmax (or sigmoid) removed.

    The returned functional model shares every layer (and so every weight)
    with ``model``, except the output layers that carried the squashing
    activation: a Dense(..., activation="softmax") is replaced by a copy with
    a linear activation and the same weights; a trailing ``Softmax`` or
    ``Activation("softmax")`` layer is dropped; a nested model that ends in
    the squashing is replaced by its own ``model_wo_softmax`` (at any depth).

    The analyzers do not need it (they recognise squashed heads and explain
    the logits); it is kept for code ported from iNNvestigate.

    Parameters
    ----------
    model : keras.Model
        A built Functional or Sequential model.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> logits_model = model_wo_softmax(model)
    >>> analyzer = create_analyzer("lrp.epsilon", logits_model)
    """
    if not getattr(model, "outputs", None):
        raise InvalidModelError(
            f"model {getattr(model, 'name', model)!r} has no symbolic outputs; build it as a "
            "functional or Sequential model with an input shape first."
        )
    outputs = []
    for out in model.outputs:
        layer, node = _producer(out)
        name = _squashing_name(layer)
        if isinstance(layer, keras.Model) and len(layer.outputs) == 1 and _squashed_inside(layer):
            # A nested model ending in the squashing: strip it there, call the copy here.
            outputs.append(model_wo_softmax(layer)(*node.arguments.args, **node.arguments.kwargs))
        elif name is None:
            outputs.append(out)
        elif isinstance(layer, keras.layers.Softmax) or type(layer) is keras.layers.Activation:
            outputs.append(node.arguments.args[0])
        else:
            config = dict(layer.get_config(), activation="linear")
            config["name"] = f"{layer.name}_logits"
            clone = type(layer).from_config(config)
            new = clone(*node.arguments.args, **node.arguments.kwargs)
            clone.set_weights(layer.get_weights())
            outputs.append(new)
    return keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0], name=f"{model.name}_logits")
