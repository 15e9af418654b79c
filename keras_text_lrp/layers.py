"""The layer registry: what *kind* of layer each Keras layer class is.

The kind decides which slot of an analyzer's rule mapping handles the layer:

``"linear"``
    ``z = lin(x, W) + b`` then an activation (Dense, EinsumDense, Conv*,
    BatchNormalization); registered with a factory for its
    :class:`~keras_text_lrp.rules.linear.LinearForm`.
``"activation"``
    a stand-alone activation (Activation, ReLU, ...).
``"max"``
    max pooling: winner takes all.
``"proportional"``
    weightless sums: average pooling, Add, Average, Subtract.
``"route"``
    relevance routed as the gradient routes it: Flatten, Reshape, Permute,
    padding, cropping, Concatenate, Dropout and noise layers, Masking.
``"embedding"``
    token ids to vectors: the analysis is taken at its output.
``"recurrent"``
    LSTM, GRU, SimpleRNN and Bidirectional.
``"custom"``
    a rule given by the user that every analyzer applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import layers as kl

from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError
from keras_text_lrp.rules.linear import LinearForm, linear_form
from keras_text_lrp.rules.normalization import batch_normalization_form

__all__ = ["register_rule", "register_linear", "kind_of", "form_of", "KINDS"]

KINDS = ("linear", "activation", "max", "proportional", "route", "embedding", "recurrent", "custom")

_KIND: dict[type, str] = {}
_FORM: dict[type, Callable[[Any, int], LinearForm]] = {}
_CUSTOM: dict[type, Any] = {}


def _register(kind: str, *classes: type) -> None:
    for cls in classes:
        _KIND[cls] = kind


def _maybe(*names: str) -> list[type]:
    return [getattr(kl, n) for n in names if hasattr(kl, n)]


_register(
    "linear",
    *_maybe(
        "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
        "SeparableConv1D", "SeparableConv2D",
    ),
)
for _cls in _maybe(
    "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D",
):
    _FORM[_cls] = lambda layer, rank: linear_form(layer)
_register("linear", kl.BatchNormalization)
_FORM[kl.BatchNormalization] = batch_normalization_form
_register("activation", *_maybe("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"))
_register(
    "max",
    *_maybe(
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
        "GlobalMaxPooling3D",
    ),
)
_register(
    "proportional",
    *_maybe(
        "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
        "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Add", "Average", "Subtract",
    ),
)
_register(
    "route",
    *_maybe(
        "Flatten", "Reshape", "Permute", "RepeatVector", "ZeroPadding1D", "ZeroPadding2D",
        "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Concatenate", "Dropout",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "ActivityRegularization", "Masking", "Identity",
    ),
)
_register("embedding", kl.Embedding)
# RNN too, so that RNN(cell) gets the gradient family and a clear LRP error for non-standard cells.
_register("recurrent", kl.LSTM, kl.GRU, kl.SimpleRNN, kl.RNN, kl.Bidirectional)

_NAMED_RULES = ("route", "proportional", "max", "pass")


def register_rule(layer_class: type, rule: str | Callable[[Any, list], list]) -> None:
    """Tell keras_text_lrp how relevance passes through ``layer_class``.

    Parameters
    ----------
    layer_class : type
        A ``keras.layers.Layer`` subclass (its subclasses inherit the rule).
    rule : str or callable
        ``"route"`` (relevance routed as the gradient routes it: reshapes,
        slices, identities), ``"proportional"`` (split in proportion to the
        inputs, for weightless sums), ``"max"`` (winner takes all),
        ``"pass"`` (handed through unchanged, for element-wise activations),
        or a callable ``rule(ctx, relevances) -> input_relevances`` applied
        by every analyzer (see :mod:`keras_text_lrp.rules.base`).

    Examples
    --------
    >>> class Scale(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2.0 * x
    >>> register_rule(Scale, "proportional")
    """
    _check_class(layer_class)
    if isinstance(rule, str):
        if rule not in _NAMED_RULES:
            raise InvalidArgumentError(
                f"unknown rule name {rule!r}; use one of {_NAMED_RULES} or a callable "
                "rule(ctx, relevances) -> list."
            )
        _KIND[layer_class] = {"pass": "activation", "max": "max"}.get(rule, rule)
        return
    if not callable(rule):
        raise InvalidArgumentError(f"rule must be a rule name or a callable, got {rule!r}.")
    _KIND[layer_class] = "custom"
    _CUSTOM[layer_class] = rule


def register_linear(layer_class: type, form: Callable[[Any, int], LinearForm]) -> None:
    """Register a linear layer class so that every LRP rule applies to it.

    Parameters
    ----------
    layer_class : type
        A ``keras.layers.Layer`` subclass computing ``act(lin(x, W) + b)``.
    form : callable
        ``form(layer, input_rank) -> LinearForm`` giving the weights, the
        linear map, the bias, the fan-in and the activation.
    """
    _check_class(layer_class)
    _KIND[layer_class] = "linear"
    _FORM[layer_class] = form


def _check_class(layer_class: Any) -> None:
    if not (isinstance(layer_class, type) and issubclass(layer_class, keras.Operation)):
        raise InvalidArgumentError(
            f"layer_class must be a keras.layers.Layer subclass, got {layer_class!r}."
        )


def _lookup(table: dict, layer: Any) -> Any:
    for cls in type(layer).__mro__:
        if cls in table:
            return table[cls]
    return None


def kind_of(layer: Any) -> str:
    """The kind of ``layer``; raises :class:`UnsupportedLayerError` if it has none."""
    kind = _lookup(_KIND, layer)
    if kind is None:
        supported = sorted({c.__name__ for c in _KIND})
        raise UnsupportedLayerError(
            f"layer {getattr(layer, 'name', layer)!r} of class {type(layer).__name__} has no "
            f"relevance rule. Supported classes: {', '.join(supported)}. Register one with "
            f"keras_text_lrp.register_rule({type(layer).__name__}, 'route' | 'proportional' | 'max' | "
            f"'pass' | rule_fn), or, for a linear layer, keras_text_lrp.register_linear("
            f"{type(layer).__name__}, form_fn)."
        )
    return kind


def form_of(layer: Any, input_rank: int) -> LinearForm:
    """The linear form of a layer of kind ``"linear"``."""
    return _lookup(_FORM, layer)(layer, input_rank)


def custom_rule(layer: Any) -> Any:
    """The user's rule for a layer of kind ``"custom"``."""
    return _lookup(_CUSTOM, layer)
