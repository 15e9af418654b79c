"""BatchNormalization as a linear layer (SEMANTICS.md, "Layers without weights").

In inference mode BatchNormalization is the affine map ``y = k*x + c`` with
``k = gamma / sqrt(var + eps)`` and ``c = beta - mean*k``: a linear layer with
one input per unit, so every linear rule applies to it with ``N = 1``.
Unlike iNNvestigate, whose fused surrogate squares the variance and drops gamma
from ``c``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from keras import ops

from keras_text_lrp.rules.linear import LinearForm

__all__ = ["batch_normalization_form", "innvestigate_batch_normalization_form", "InnvestigateBatchNorm"]


def batch_normalization_form(layer: Any, input_rank: int, innvestigate: bool = False) -> LinearForm:
    """The :class:`LinearForm` of an inference-mode BatchNormalization layer.

    ``innvestigate=True`` gives iNNvestigate 2.1.2's surrogate instead
    (SEMANTICS.md, "iNNvestigate compatibility switch"):
    ``k = gamma / sqrt(var**2 + eps)``, ``c = beta - mean / sqrt(var**2 + eps)``.
    """
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
    if innvestigate:
        root = ops.sqrt(ops.square(var) + layer.epsilon)
        k, c = gamma / root, beta - mean / root
    else:
        k = gamma / ops.sqrt(var + layer.epsilon)
        c = beta - mean * k
    return LinearForm(
        ops.reshape(k, shape),
        lambda x, w: x * w,
        ops.reshape(c, shape),
        1,
        None,
    )


def innvestigate_batch_normalization_form(layer: Any, input_rank: int) -> LinearForm:
    """iNNvestigate 2.1.2's BatchNormalization surrogate as a :class:`LinearForm`."""
    return batch_normalization_form(layer, input_rank, innvestigate=True)


class InnvestigateBatchNorm:
    """Apply a linear rule to a BatchNormalization call through iNNvestigate's surrogate.

    The forward values stay the layer's own; only the backward pass sees the
    surrogate ``y' = k*x + c`` (its weight, bias and pre-activation), as
    iNNvestigate's rule does. Used under ``compat="innvestigate"``.
    """

    def __init__(self, rule: Any):
        self.rule = rule

    def __call__(self, ctx: Any, relevances: list) -> list:
        form = innvestigate_batch_normalization_form(ctx.layer, len(ctx.xs[0].shape))
        return self.rule(dataclasses.replace(ctx, form=form, z=form.z(ctx.xs[0])), relevances)
