"""Checks and surgery on Keras models: logits outputs, ``model_wo_softmax``, the token-id part."""

from __future__ import annotations

from typing import Any

import keras

from keras_text_lrp.errors import InvalidModelError

__all__ = ["model_wo_softmax", "output_squashing", "text_vectorization", "token_id_model"]

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
    >>> import keras
    >>> from keras_text_lrp import create_analyzer
    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(inputs))
    >>> model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    >>> logits_model = model_wo_softmax(model)
    >>> logits_model.layers[-1].activation.__name__
    'linear'
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


def text_vectorization(model: keras.Model) -> Any:
    """The model's ``TextVectorization`` layer reading its (only) input, or ``None``.

    Raises
    ------
    InvalidModelError
        For several such layers or inputs, one not at the top level, or an
        ``output_mode`` other than ``"int"``.
    """
    found = [
        layer for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.TextVectorization)
    ]
    if not found:
        return None
    layer = found[0]
    if len(found) > 1 or len(model.inputs) != 1 or layer not in model.layers:
        raise InvalidModelError(
            f"model {model.name!r} has {len(found)} TextVectorization layer(s) and "
            f"{len(model.inputs)} input(s); give a model with one string input and one TextVectorization "
            "layer at its top level."
        )
    if getattr(layer, "_output_mode", "int") != "int":
        raise InvalidModelError(
            f"TextVectorization {layer.name!r} has output_mode={layer._output_mode!r}; only "
            "output_mode='int' (token ids for an Embedding) can be explained."
        )
    return layer


def token_id_model(model: keras.Model, tv: Any = None) -> keras.Model:
    """The model from token ids to logits: past its ``TextVectorization`` layer ``tv``, if any.

    The sub-model shares the layers (and so the weights) of ``model``.

    Examples
    --------
    >>> import keras
    >>> tv = keras.layers.TextVectorization(vocabulary=["good", "bad"], name="tv")
    >>> inputs = keras.Input((1,), dtype="string")
    >>> x = keras.layers.Embedding(4, 2)(tv(inputs))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x)))
    >>> token_id_model(model, tv).inputs[0].dtype
    'int64'
    """
    if tv is not None:
        node = tv._inbound_nodes[0]
        if node.arguments.keras_tensors[0] is not model.inputs[0]:
            raise InvalidModelError(
                f"TextVectorization {tv.name!r} must read the model input directly."
            )
        model = keras.Model(tv.output, model.outputs, name=f"{model.name}_from_token_ids")
    from keras_text_lrp.engine import Engine  # the engine is heavy: only when a sub-model is made

    tokens = Engine(model).token_inputs()
    if len(model.inputs) != 1 or 0 not in tokens:
        raise InvalidModelError(
            f"explaining from token ids needs a model with one input of token ids feeding an Embedding (or "
            f"raw strings through a TextVectorization layer into an Embedding); {model.name!r} has "
            f"inputs {[(tuple(t.shape), t.dtype) for t in model.inputs]} and "
            f"{'an' if tokens else 'no'} Embedding at its input."
        )
    if len(model.inputs[0].shape) != 2:
        raise InvalidModelError(
            f"the token-id input must be (batch, T), but {model.name!r} takes {tuple(model.inputs[0].shape)}."
        )
    return model
