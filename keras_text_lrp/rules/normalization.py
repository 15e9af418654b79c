"""BatchNormalization as a linear layer (SEMANTICS.md, "Layers without weights").

In inference mode BatchNormalization is the affine map ``y = k*x + c`` with
``k = gamma / sqrt(var + eps)`` and ``c = beta - mean*k``: a linear layer with
one input per unit, so every linear rule applies to it with ``N = 1``.
Unlike iNNvestigate, whose fused surrogate squares the variance and drops gamma
from ``c``.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.linear import LinearForm

__all__ = ["batch_normalization_form"]


def batch_normalization_form(layer: Any, input_rank: int) -> LinearForm:
    """The :class:`LinearForm` of an inference-mode BatchNormalization layer."""
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    axes = [a % input_rank for a in axes]
    shape = [1] * input_rank
    for a in axes:
        shape[a] = -1
    if len(axes) > 1:
        raise NotImplementedError  # pragma: no cover - Keras 3 BN takes one axis

    def param(v, default):
        return default if v is None else ops.convert_to_tensor(v)

    var = ops.convert_to_tensor(layer.moving_variance)
    mean = ops.convert_to_tensor(layer.moving_mean)
    gamma = param(layer.gamma, ops.ones_like(var))
    beta = param(layer.beta, ops.zeros_like(var))
    k = gamma / ops.sqrt(var + layer.epsilon)
    c = beta - mean * k
    return LinearForm(
        ops.reshape(k, shape),
        lambda x, w: x * w,
        ops.reshape(c, shape),
        1,
        None,
    )
