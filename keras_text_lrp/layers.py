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
``"product"``
    a product of two activations (``x * y``, ``ops.matmul(q, k)``,
    ``ops.einsum``): split between the factors (:class:`~keras_text_lrp.rules.ops.Product`).
``"attention"``
    ``MultiHeadAttention``, ``GroupQueryAttention``: expanded into its projections, scores, softmax and
    context (:mod:`keras_text_lrp.rules.attention`).
``"normalization"``
    ``LayerNormalization``, ``RMSNormalization``: the epsilon rule with the
    scale ``1/std`` held constant (:class:`~keras_text_lrp.rules.normalization.NormalizationRule`).
``"text"``
    string preprocessing (``TextVectorization``): run before the analysis.
``"opaque"``
    no LRP rule (a Keras layer such as ``MultiHeadAttention``, an operation
    such as ``ops.sort``, a custom layer whose ``call`` cannot be traced):
    the gradient family differentiates it; the LRP family refuses it.

Operations that Keras records in functional graphs (``x + y``,
``ops.mean``, ``ops.reshape``, ...) are steps like layers, named by their
operation class (:data:`OP_KINDS`); custom layers without a registered rule
are opened up (:func:`should_inline`) so that their sublayers and operations
get their own rules. The table is one way of naming rules on top of that
one mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import layers as kl

from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError
from keras_text_lrp.rules.linear import LinearForm, linear_form
from keras_text_lrp.rules.normalization import batch_normalization_form

__all__ = [
    "register_rule", "register_linear", "kind_of", "kind_of_step", "form_of", "should_inline", "unsupported",
    "KINDS", "OP_KINDS",
]

KINDS = (
    "linear", "activation", "max", "proportional", "route", "embedding", "recurrent", "custom", "product",
    "attention", "normalization", "text", "opaque",
)

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

_register("text", kl.TextVectorization)
# Transformer layers (SEMANTICS.md, "Transformer layers").
_register("attention", kl.MultiHeadAttention, *_maybe("GroupQueryAttention"))
_register("normalization", *_maybe("LayerNormalization", "RMSNormalization"))

_NAMED_RULES = ("route", "proportional", "max", "pass")

# Keras operations (keras.ops / operators recorded in functional graphs), by kind.
_OPS = {
    "route": {
        "numpy": (
            "Reshape", "Transpose", "Concatenate", "Take", "TakeAlongAxis", "GetItem", "ExpandDims",
            "Squeeze", "Stack", "Split", "ArraySplit", "Hsplit", "Vsplit", "Tile", "Repeat", "Moveaxis",
            "Swapaxes", "Flip", "Fliplr", "Flipud", "Roll", "Pad", "Ravel", "BroadcastTo", "Copy", "Where",
            "Hstack", "Vstack", "Tril", "Triu", "Select",
            # constants shaped like their input: their vector-Jacobian product is zero
            "ZerosLike", "OnesLike", "FullLike", "EmptyLike",
        ),
        "core": ("Cast", "ConvertToTensor", "Slice", "Unstack", "StopGradient"),
    },
    "proportional": {"numpy": ("Add", "Subtract", "Mean", "Sum", "Average", "Negative", "Cumsum")},
    # Linear in the one tensor they get (the other operand a constant or a weight); a product
    # of two activations when both operands are tensors.
    "linear_op": {"numpy": ("Multiply", "Matmul", "Einsum", "Dot", "Tensordot", "Inner", "Outer", "Vdot")},
    # Linear in the numerator only.
    "divide": {"numpy": ("Divide", "TrueDivide")},
    "activation": {
        "nn": (
            "Relu", "Relu6", "Sigmoid", "Softplus", "Softsign", "Silu", "LeakyRelu", "HardSigmoid",
            "HardSilu", "Elu", "Selu", "Gelu", "Celu", "HardTanh", "LogSigmoid",
        ),
        "numpy": ("Tanh",),
    },
    "max": {"numpy": ("Max", "Amax")},
}


def _op_classes() -> dict[type, str]:
    from keras.src.ops import core, nn
    from keras.src.ops import numpy as onp

    modules = {"numpy": onp, "core": core, "nn": nn}
    out = {}
    for kind, groups in _OPS.items():
        for module, names in groups.items():
            for n in names:
                cls = getattr(modules[module], n, None)
                if cls is not None:
                    out[cls] = kind
    return out


#: Keras operation class -> kind (``"linear_op"`` and ``"divide"`` are resolved per call).
OP_KINDS: dict[type, str] = _op_classes()


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


# Layers of other libraries, by "module.Class", so that the library need not be imported (keras-hub
# is an optional extra): the ones whose output depends on the *shape* of their input only, a position
# embedding read off the token embeddings' length. They route (their vector-Jacobian product is zero);
# the engine gives the sum they feed to the tokens (Engine._embedding_sums).
SHAPE_ONLY = frozenset({
    "keras_hub.src.layers.modeling.position_embedding.PositionEmbedding",
    "keras_hub.src.layers.modeling.sine_position_encoding.SinePositionEncoding",
})


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_shape_only(layer: Any) -> bool:
    """Whether ``layer``'s output depends on its input's shape only (a position embedding)."""
    return any(_qualified(cls) in SHAPE_ONLY for cls in type(layer).__mro__)


def _lookup(table: dict, layer: Any) -> Any:
    for cls in type(layer).__mro__:
        if cls in table:
            return table[cls]
    if table is _KIND and is_shape_only(layer):
        return "route"
    return None


def kind_of(layer: Any) -> str:
    """The kind of ``layer``; raises :class:`UnsupportedLayerError` if it has none."""
    kind = _lookup(_KIND, layer)
    if kind is None:
        raise unsupported(layer)
    return kind


def kind_of_step(layer: Any, n_tensors: int) -> str:
    """The kind of a call of ``layer`` (a layer or an operation) on ``n_tensors`` float tensors.

    ``"opaque"`` for anything without a rule: the gradient family takes it by
    autodiff, the LRP family refuses it (:func:`unsupported`).
    """
    kind = _lookup(_KIND, layer)
    if kind is not None:
        return kind
    kind = _lookup(OP_KINDS, layer)
    if kind == "linear_op":
        return "product" if n_tensors > 1 else "proportional"
    if kind == "divide":
        return "proportional" if n_tensors == 1 else "opaque"
    return kind or "opaque"


def should_inline(layer: Any) -> bool:
    """Whether a layer call is opened up by tracing its ``call``.

    Custom layers (classes defined outside Keras) without a registered rule
    are; Keras's own layers keep their rules or stay opaque steps.
    """
    if _lookup(_KIND, layer) is not None or isinstance(layer, keras.Model):
        return False
    module = type(layer).__module__ or ""
    return not (module == "keras" or module.startswith("keras."))


_NEAREST = {
    "UnitNormalization": "the transformer rules are not implemented yet",
    "Lambda": "write the computation as keras.ops calls in the functional model or in a custom "
              "layer's call, which keras_text_lrp traces",
    "Softmax": "a softmax inside the model has no LRP rule (a final softmax head is handled)",
    "TextVectorization": "TextVectorization must read the model's string input directly",
}


def unsupported(layer: Any, reason: str | None = None) -> UnsupportedLayerError:
    """The error for a layer or operation that the LRP family has no rule for."""
    cls = type(layer).__name__
    what = "operation" if not isinstance(layer, keras.layers.Layer) else "layer"
    hint = _NEAREST.get(cls)
    because = f" ({hint})" if hint else ""
    traced = f"; its call could not be traced: {reason}" if reason else ""
    register = (
        f"keras_text_lrp.register_rule({cls}, 'route' | 'proportional' | 'max' | 'pass' | rule_fn)"
        if what == "layer"
        else "keras_text_lrp.register_rule(its class, rule_fn)"
    )
    return UnsupportedLayerError(
        f"{what} {getattr(layer, 'name', layer)!r} of class {cls} has no LRP rule{because}{traced}. "
        f"The gradient family (gradient, input_t_gradient, integrated_gradients, smoothgrad) explains "
        f"it by autodiff; for LRP register a rule with {register}, or, for a linear layer "
        f"z = act(lin(x, W) + b), keras_text_lrp.register_linear({cls}, form_fn)."
    )


def form_of(layer: Any, input_rank: int) -> LinearForm:
    """The linear form of a layer of kind ``"linear"``."""
    return _lookup(_FORM, layer)(layer, input_rank)


def custom_rule(layer: Any) -> Any:
    """The user's rule for a layer of kind ``"custom"``."""
    return _lookup(_CUSTOM, layer)
