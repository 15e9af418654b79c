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

__all__ = ["batch_normalization_form", "NormalizationRule", "norm_parts"]


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


def _norm_axes(layer: Any, rank: int) -> list:
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return sorted(a % rank for a in axis)


def _param(v: Any, shape: list) -> Any:
    return None if v is None else ops.reshape(ops.convert_to_tensor(v), shape)


def norm_parts(layer: Any, x: Any) -> tuple:
    """LayerNormalization / RMSNormalization as ``z = k * (x - c*mean(x)) + b`` with ``k`` held constant.

    Returns ``(k, centred, b, axes)``: the per-sample scale ``gamma / std(x)``
    (``scale / rms(x)`` for RMS normalisation), whether the mean is taken off,
    the bias ``beta`` (or ``None``) and the normalised axes.
    """
    from keras import layers as kl

    rank = len(x.shape)
    axes = _norm_axes(layer, rank)
    shape = [x.shape[a] if a in axes else 1 for a in range(rank)]
    rms_layer = getattr(kl, "RMSNormalization", None)
    rms = (rms_layer is not None and isinstance(layer, rms_layer)) or getattr(layer, "rms_scaling", False)
    if rms:
        gamma = _param(getattr(layer, "scale", None) if rms_layer is not None and isinstance(
            layer, rms_layer) else layer.gamma, shape)
        beta = None if rms_layer is not None and isinstance(layer, rms_layer) else _param(layer.beta, shape)
        spread = ops.mean(ops.square(x), axis=axes, keepdims=True)
    else:
        gamma, beta = _param(layer.gamma, shape), _param(layer.beta, shape)
        spread = ops.var(x, axis=axes, keepdims=True)
    k = ops.rsqrt(spread + layer.epsilon)
    if gamma is not None:
        k = k * gamma
    return k, not rms, beta, axes


class NormalizationRule:
    """LayerNormalization / RMSNormalization by the epsilon rule, the scale ``1/std`` held constant.

    ``z_j = k_j (x_j - mean(x)) + b_j`` is then a linear map of ``x`` with
    ``W_ij = k_j (delta_ij - 1/D)`` (``W = diag(k)`` without centring, RMS
    normalisation), and ``R_i = x_i sum_j W_ij R_j/(z_j + eps sign z_j)`` plus,
    with ``bias_factor``, the share ``bias_factor (b_j + eps sign z_j)/N`` of each
    unit spread over its ``N`` inputs (``N = D`` centred, 1 for RMS).

    Parameters
    ----------
    epsilon : float
    bias_factor : float
    """

    def __init__(self, epsilon: float = 1e-7, bias_factor: float = 0.0):
        self.epsilon, self.bias_factor = float(epsilon), float(bias_factor)

    def __call__(self, ctx: Any, relevances: list) -> list:
        x = ctx.xs[0]
        k, centred, b, axes = norm_parts(ctx.layer, x)
        centre = x - ops.mean(x, axis=axes, keepdims=True) if centred else x
        z = k * centre if b is None else k * centre + b
        sgn = ops.where(z >= 0, ops.ones_like(z), -ops.ones_like(z))
        s = relevances[0] / (z + self.epsilon * sgn)
        ks = k * s
        back = ks - ops.mean(ks, axis=axes, keepdims=True) if centred else ks
        r = x * back
        if self.bias_factor:
            share = self.bias_factor * ((0.0 if b is None else b) + self.epsilon * sgn) * s
            r = r + (ops.mean(share, axis=axes, keepdims=True) if centred else share)
        return [r]
