"""Rules for operations between activations: products (SEMANTICS.md, "Operations").

Keras records ``x * y``, ``ops.multiply``, ``ops.matmul`` and ``ops.einsum``
in functional graphs as operations. With one tensor operand (the other a
constant or a weight) they are linear and take the proportional rule
(:class:`~keras_text_lrp.rules.merge.Proportional`); with two, they are
products of activations and take :class:`Product`.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.base import stabilize

__all__ = ["Product"]


class Product:
    """Split the relevance of a product of ``n`` activations evenly between the factors.

    For ``y = f(a, b)`` linear in each factor (elementwise product, matmul,
    einsum), ``R_a = a * (df/da)^T (R / (n (y + eps sign(y))))`` and the same
    for ``b``: each factor receives ``1/n`` of the relevance of every output
    it takes part in (the uniform product rule of Achtibat et al. 2024), so the
    split conserves relevance up to the stabiliser.

    Parameters
    ----------
    epsilon : float
        The stabiliser of the denominator (default 1e-7).

    Examples
    --------
    >>> x = keras.Input((4,))
    >>> model = keras.Model(x, keras.layers.Dense(2)(x * keras.layers.Dense(4)(x)))  # doctest: +SKIP
    >>> create_analyzer("lrp.epsilon", model)  # the product takes this rule  # doctest: +SKIP
    """

    def __init__(self, epsilon: float = 1e-7):
        self.epsilon = epsilon

    def __call__(self, ctx: Any, relevances: list) -> list:
        factors = [i for i, x in enumerate(ctx.xs) if "float" in str(ops.dtype(x))]
        n = max(len(factors), 1)
        ratios = [r / (n * stabilize(y, self.epsilon)) for r, y in zip(relevances, ctx.ys)]
        grads = ctx.pullback(ratios)
        return [None if g is None else x * g for x, g in zip(ctx.xs, grads)]
