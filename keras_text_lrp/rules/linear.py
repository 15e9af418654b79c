"""Rules for linear layers, and the linear forms of Dense, EinsumDense and convs.

Every rule here sees a layer as ``z = lin(x; W) + b`` followed by an activation
that hands relevance through unchanged (SEMANTICS.md, "Linear layers"). A
*linear form* (:class:`LinearForm`) gives a rule what it needs of a layer: the
weight tensor ``W``, the map ``lin(x, W)`` (so that ``W`` can be replaced by
``W+``, ``W-``, ``W**2`` or ones), the bias, and the fan-in ``N``.

The transpose of ``lin`` comes from the backend's vector-Jacobian product,
so one implementation serves Dense, EinsumDense, convolutions of every rank,
depthwise and separable convolutions and BatchNormalization alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from keras_text_lrp import backend
from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.rules.base import safe_divide, sign, stabilize

__all__ = [
    "LinearForm",
    "linear_form",
    "ZRule",
    "EpsilonRule",
    "AlphaBetaRule",
    "WSquareRule",
    "FlatRule",
    "LinearGradient",
]


class LinearForm:
    """A layer seen as ``z = lin(x, W) + b``, then ``activation``.

    Parameters
    ----------
    kernel : tensor
        The weights of the linear map.
    apply : callable
        ``apply(x, kernel) -> z`` without bias, linear in both arguments.
    bias : tensor or None
        Added to ``apply(x, kernel)``; broadcastable to ``z``.
    fan_in : int
        ``N``: the number of inputs each output unit sums over (for a conv:
        kernel volume times input channels, padded positions included).
    activation : callable or None
        The layer's activation; ``None`` for the identity.
    """

    def __init__(
        self,
        kernel: Any,
        apply: Callable[[Any, Any], Any],
        bias: Any,
        fan_in: int,
        activation: Callable[[Any], Any] | None,
    ):
        self.kernel = kernel
        self.apply = apply
        self.bias = bias
        self.fan_in = fan_in
        self.activation = activation

    def z(self, x: Any) -> Any:
        """The pre-activation ``lin(x, W) + b``."""
        z = self.apply(x, self.kernel)
        return z if self.bias is None else z + self.bias

    def transpose(self, x: Any, cotangent: Any, kernel: Any = None) -> Any:
        """``lin(., kernel)^T cotangent``: each input's sum over the outputs it feeds."""
        kernel = self.kernel if kernel is None else kernel
        _, pullback = backend.vjp(lambda v: self.apply(v, kernel), x)
        return pullback(cotangent)[0]


def _activation(layer: Any) -> Callable | None:
    act = getattr(layer, "activation", None)
    if act is None or act is keras.activations.linear:
        return None
    return act


def _channel_bias(layer: Any, bias: Any, rank: int) -> Any:
    if bias is None:
        return None
    if layer.data_format == "channels_last":
        return ops.reshape(bias, (1,) * (rank + 1) + (-1,))
    return ops.reshape(bias, (1, -1) + (1,) * rank)


def _dense(layer: Any) -> LinearForm:
    kernel = ops.convert_to_tensor(layer.kernel)
    return LinearForm(
        kernel,
        lambda x, w: ops.matmul(x, w),
        None if layer.bias is None else ops.convert_to_tensor(layer.bias),
        int(kernel.shape[0]),
        _activation(layer),
    )


def _einsum_dense(layer: Any) -> LinearForm:
    kernel = ops.convert_to_tensor(layer.kernel)
    equation = layer.equation
    inputs, out = equation.split("->")
    x_axes, w_axes = inputs.split(",")
    # Each output unit sums over the kernel axes that do not reach the output.
    summed = [kernel.shape[i] for i, a in enumerate(w_axes) if a not in out]
    return LinearForm(
        kernel,
        lambda x, w: ops.einsum(equation, x, w),
        None if layer.bias is None else ops.convert_to_tensor(layer.bias),
        int(math.prod(summed)),
        _activation(layer),
    )


def _conv(layer: Any) -> LinearForm:
    kernel = ops.convert_to_tensor(layer.kernel)
    padding = layer.padding

    def apply(x, w):
        pad = "valid" if padding == "causal" else padding
        if padding == "causal":
            x = ops.pad(x, layer._compute_causal_padding())
        return ops.conv(
            x,
            w,
            strides=list(layer.strides),
            padding=pad,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    bias = None if not layer.use_bias else ops.convert_to_tensor(layer.bias)
    return LinearForm(
        kernel,
        apply,
        _channel_bias(layer, bias, layer.rank),
        int(math.prod(kernel.shape[:-1])),
        _activation(layer),
    )


def _depthwise_conv(layer: Any) -> LinearForm:
    kernel = ops.convert_to_tensor(layer.kernel)

    def apply(x, w):
        return ops.depthwise_conv(
            x,
            w,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    bias = None if not layer.use_bias else ops.convert_to_tensor(layer.bias)
    return LinearForm(
        kernel,
        apply,
        _channel_bias(layer, bias, layer.rank),
        int(math.prod(kernel.shape[:-2])),
        _activation(layer),
    )


def _separable_conv(layer: Any) -> LinearForm:
    # One linear map: the depthwise and pointwise kernels folded into a dense
    # conv kernel, so that W+ / W- are the sign parts of the whole map.
    depthwise = ops.convert_to_tensor(layer.depthwise_kernel)
    pointwise = ops.convert_to_tensor(layer.pointwise_kernel)
    channels, multiplier = depthwise.shape[-2], depthwise.shape[-1]
    pointwise = ops.reshape(pointwise, (channels, multiplier, -1))
    kernel = ops.einsum("...cm,cmo->...co", depthwise, pointwise)

    def apply(x, w):
        return ops.conv(
            x,
            w,
            strides=list(layer.strides),
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    bias = None if not layer.use_bias else ops.convert_to_tensor(layer.bias)
    return LinearForm(
        kernel,
        apply,
        _channel_bias(layer, bias, layer.rank),
        int(math.prod(kernel.shape[:-1])),
        _activation(layer),
    )


def linear_form(layer: Any) -> LinearForm:
    """The :class:`LinearForm` of a Dense, EinsumDense or convolution layer."""
    from keras.layers import (
        Dense,
        DepthwiseConv1D,
        DepthwiseConv2D,
        EinsumDense,
        SeparableConv1D,
        SeparableConv2D,
    )

    if isinstance(layer, Dense):
        return _dense(layer)
    if isinstance(layer, EinsumDense):
        return _einsum_dense(layer)
    if isinstance(layer, (DepthwiseConv1D, DepthwiseConv2D)):
        return _depthwise_conv(layer)
    if isinstance(layer, (SeparableConv1D, SeparableConv2D)):
        return _separable_conv(layer)
    return _conv(layer)


def _positive(t: Any) -> Any:
    return ops.maximum(t, 0.0)


def _negative(t: Any) -> Any:
    return ops.minimum(t, 0.0)


def _ratio(r: Any, z: Any, bias: Any) -> Any:
    """``r / (z + bias)``, 0 where the denominator is 0."""
    if bias is not None:
        z = z + bias
    zero = z == 0
    return ops.where(zero, ops.zeros_like(z), r / ops.where(zero, ops.ones_like(z), z))


class LinearGradient:
    """The gradient through the linear part: ``W^T R``."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        return [ctx.form.transpose(ctx.xs[0], relevances[0])]


class ZRule:
    """``lrp.z``: ``R_i = sum_j x_i w_ij / z_j R_j`` (safe divide)."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        x = ctx.xs[0]
        s = safe_divide(relevances[0], ctx.z)
        return [x * ctx.form.transpose(x, s)]


class EpsilonRule:
    """``lrp.epsilon`` with a bias share spread evenly over the fan-in.

    ``R_i = sum_j [x_i w_ij + bias_factor (b_j + eps sign z_j) / N_j] / (z_j + eps sign z_j) R_j``.

    Parameters
    ----------
    epsilon : float
        The stabiliser, >= 0.
    bias_factor : float
        0 absorbs bias and stabiliser (iNNvestigate's rule); 1 spreads them
        over the inputs so that relevance is conserved exactly.
    """

    def __init__(self, epsilon: float = 1e-7, bias_factor: float = 0.0):
        if epsilon < 0:
            raise InvalidArgumentError(f"epsilon must be >= 0, got {epsilon!r}.")
        self.epsilon = float(epsilon)
        self.bias_factor = float(bias_factor)

    def __call__(self, ctx: Any, relevances: list) -> list:
        x, z, form = ctx.xs[0], ctx.z, ctx.form
        s = relevances[0] / stabilize(z, self.epsilon)
        r = x * form.transpose(x, s)
        if self.bias_factor:
            b = 0.0 if form.bias is None else form.bias
            share = self.bias_factor * (b + self.epsilon * sign(z)) / form.fan_in * s
            r = r + form.transpose(x, share, kernel=ops.ones_like(form.kernel))
        return [r]


class AlphaBetaRule:
    """``lrp.alpha_beta``: positive and negative contributions weighted apart.

    Activator ``za = x+ W+ + x- W- + b+``, inhibitor ``zi = x+ W- + x- W+ + b-``;
    a zero denominator contributes nothing.

    Parameters
    ----------
    alpha, beta : float
        With ``alpha - beta = 1``.
    bias : bool
        Whether ``b+`` / ``b-`` join the denominators (False for the ``_IB`` rules).
    full_bias : bool
        iNNvestigate 2.1.2's variant (``compat="innvestigate"``): the full bias
        ``b`` joins both denominators instead of ``b+`` / ``b-``.
    """

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, bias: bool = True, full_bias: bool = False):
        if not math.isclose(alpha - beta, 1.0, abs_tol=1e-9) or beta < 0:
            raise InvalidArgumentError(
                f"alpha-beta LRP needs alpha - beta = 1 and beta >= 0, got alpha={alpha!r}, "
                f"beta={beta!r} (alpha - beta = {alpha - beta!r}); e.g. alpha=2, beta=1 or alpha=1, beta=0."
            )
        self.alpha, self.beta, self.bias = float(alpha), float(beta), bool(bias)
        self.full_bias = bool(full_bias)

    def __call__(self, ctx: Any, relevances: list) -> list:
        # For an input known to be >= 0 (a ReLU output) x- is 0 and its maps
        # give exact zeros: skipping them halves the work, numbers unchanged.
        known = getattr(ctx, "nonnegative", None)
        signed = not (known and known[0])
        return [self._relevance(ctx.form, relevances[0], ctx.xs[0], signed)]

    def _relevance(self, form: LinearForm, r: Any, x: Any, signed: bool) -> Any:
        """The rule's input relevance; ``signed=False`` takes ``x- = 0``."""
        wp, wn = _positive(form.kernel), _negative(form.kernel)

        def maps(xp, xn=None):
            # The activator x+W+ + x-W- and the inhibitor x+W- + x-W+ (if beta).
            # Each sums terms of one sign, so it is exactly 0 iff all terms are.
            za = form.apply(xp, wp)
            zi = form.apply(xp, wn) if self.beta else None
            if xn is not None:
                za = za + form.apply(xn, wn)
                zi = None if zi is None else zi + form.apply(xn, wp)
            return [za] if zi is None else [za, zi]

        # One vjp over all maps: its forward gives the denominators and one
        # pullback every transpose, instead of a vjp (and forward) per transpose.
        parts = [_positive(x), _negative(x)] if signed else [_positive(x)]
        zs, pullback = backend.vjp(maps, *parts)
        bias = self.bias and form.bias is not None
        b_act = b_inh = None
        if bias:
            b_act, b_inh = (form.bias, form.bias) if self.full_bias else (
                _positive(form.bias), _negative(form.bias)
            )
        cotangents = [self.alpha * _ratio(r, zs[0], b_act)]
        if self.beta:
            cotangents.append(-self.beta * _ratio(r, zs[1], b_inh))
        # The pullback sums over the maps: alpha*sa W+^T - beta*si W-^T for x+,
        # alpha*sa W-^T - beta*si W+^T for x-.
        grads = pullback(cotangents)
        out = parts[0] * grads[0]
        return out + parts[1] * grads[1] if signed else out


class _DistributeRule:
    """``R_i = sum_j V_ij R_j / sum_i' V_i'j`` for a weight transform ``V``."""

    def weights(self, kernel: Any) -> Any:
        raise NotImplementedError

    def __call__(self, ctx: Any, relevances: list) -> list:
        x, form = ctx.xs[0], ctx.form
        v = self.weights(form.kernel)
        ones = ops.ones_like(x)
        s = safe_divide(relevances[0], form.apply(ones, v))
        return [form.transpose(ones, s, kernel=v)]


class WSquareRule(_DistributeRule):
    """``lrp.w_square``: relevance spread in proportion to ``w_ij**2``."""

    def weights(self, kernel: Any) -> Any:
        return ops.square(kernel)


class FlatRule(_DistributeRule):
    """``lrp.flat``: relevance spread evenly over each unit's inputs."""

    def weights(self, kernel: Any) -> Any:
        return ops.ones_like(kernel)
