"""Rules for activations: inside a layer, or stand-alone.

LRP hands relevance through an activation unchanged (``R_z = R_y``); the
gradient family multiplies by the derivative; guided backprop and deconvnet
rectify the signal at ReLUs.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp import backend

__all__ = ["ActivationPass", "ActivationGradient", "GuidedReLU", "DeconvReLU", "ReLUMask", "TaylorReLU"]


class ActivationPass:
    """LRP: relevance passes through the activation unchanged."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        return [relevances[0]]


class ActivationGradient:
    """The gradient: the signal times the activation's derivative at ``z``."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        _, pullback = backend.vjp(ctx.activation, ctx.z)
        return [pullback(relevances[0])[0]]


def _is_relu(ctx: Any) -> bool:
    return ctx.activation_name == "relu"


class GuidedReLU(ActivationGradient):
    """Guided backprop: at ReLUs ``relu(signal)`` masked by the forward ReLU."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        if not _is_relu(ctx):
            return super().__call__(ctx, relevances)
        r = relevances[0]
        return [ops.where((r > 0) & (ctx.z > 0), r, ops.zeros_like(r))]


class DeconvReLU(ActivationGradient):
    """Deconvnet: at ReLUs ``relu(signal)``, without the forward mask."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        if not _is_relu(ctx):
            return super().__call__(ctx, relevances)
        return [ops.relu(relevances[0])]


class ReLUMask(ActivationPass):
    """Deep Taylor: ReLUs by the gradient (relevance kept where ``z > 0``)."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        r = relevances[0]
        if not _is_relu(ctx):
            return [r]
        return [ops.where(ctx.z > 0, r, ops.zeros_like(r))]


class TaylorReLU(ActivationGradient):
    """Deep Taylor (as iNNvestigate): a kernel layer's own activation passes the
    relevance unmasked; stand-alone activations are taken by the gradient."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        if ctx.form is not None:  # the activation of a Dense/conv layer: z+ sees R_y unmasked
            return [relevances[0]]
        return super().__call__(ctx, relevances)
