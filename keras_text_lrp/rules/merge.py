"""Rules for merge layers: proportional split (Add, Average, Subtract).

Concatenate routes relevance by position and needs no rule of its own
(:class:`~keras_text_lrp.rules.base.Route`).
"""

from __future__ import annotations

from typing import Any

from keras_text_lrp.rules.base import safe_divide

__all__ = ["Proportional"]


class Proportional:
    """Split relevance in proportion to each input's contribution (the z rule).

    For a weightless layer ``y = f(x_1, ..., x_n)`` that is linear in its
    inputs: ``R_i = x_i * df/dx_i^T (R / y)``. For a sum this is
    ``R_i = x_i / sum(x) R``; an average pool or ``Average`` gives the same
    shares; ``Subtract`` counts its second input negated. Exact zeros of the
    denominator are replaced by 1e-7, as in iNNvestigate, whatever rule the
    analyzer uses for linear layers.
    """

    def __call__(self, ctx: Any, relevances: list) -> list:
        ratios = [safe_divide(r, y) for r, y in zip(relevances, ctx.ys)]
        grads = ctx.pullback(ratios)
        return [None if g is None else x * g for x, g in zip(ctx.xs, grads)]
