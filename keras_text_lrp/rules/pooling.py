"""Rules for pooling layers.

Max pooling (local and global) sends all relevance of a window to its
maximum: winner takes all. On a tie the first maximum takes all, for local
and global pooling alike (autodiff of a global max would split ties evenly,
and tied n-grams are common in text CNNs). Average pooling splits relevance
in proportion to the inputs, like ``Add``.
"""

from __future__ import annotations

from typing import Any

from keras import layers as kl
from keras import ops

from keras_text_lrp.rules.base import Route
from keras_text_lrp.rules.merge import Proportional

__all__ = ["WinnerTakesAll", "AveragePoolingRule"]

_GLOBAL_MAX = tuple(
    getattr(kl, n)
    for n in ("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")
    if hasattr(kl, n)
)


class WinnerTakesAll(Route):
    """All relevance of a pooling window to the window's (first) maximum."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        if not isinstance(ctx.layer, _GLOBAL_MAX):
            return super().__call__(ctx, relevances)
        x, r = ctx.xs[0], relevances[0]
        channels_last = getattr(ctx.layer, "data_format", "channels_last") == "channels_last"
        if not channels_last:
            x = ops.moveaxis(x, 1, -1)
        shape = ops.shape(x)
        flat = ops.reshape(x, (shape[0], -1, shape[-1]))
        winner = ops.one_hot(ops.argmax(flat, axis=1), ops.shape(flat)[1], axis=1, dtype=x.dtype)
        out = ops.reshape(winner * ops.reshape(r, (shape[0], 1, shape[-1])), shape)
        return [out if channels_last else ops.moveaxis(out, -1, 1)]


class AveragePoolingRule(Proportional):
    """``R_i = x_i / sum(x) R`` over each pooling window."""
