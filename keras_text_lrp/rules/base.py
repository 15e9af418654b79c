"""The rule protocol and the rules shared by every family.

A rule maps the relevance of a layer call's outputs to the relevance of its
inputs. It is called as ``rule(ctx, relevances)`` where ``ctx`` is the
:class:`~keras_text_lrp.engine.StepContext` of the call (its inputs, outputs,
masks and, for linear layers, the linear form and pre-activation) and
``relevances`` is the list of output relevances; it returns one relevance per
input (``None`` for inputs that get nothing, such as token ids).
"""

from __future__ import annotations

from typing import Any, Protocol

from keras import ops

__all__ = ["Rule", "Route", "PassThrough", "safe_divide", "stabilize", "sign"]

#: iNNvestigate's safe divide: exact zeros of a denominator are replaced by this.
SAFE_EPSILON = 1e-7


class Rule(Protocol):
    """What a rule is: a callable from output relevances to input relevances."""

    def __call__(self, ctx: Any, relevances: list) -> list: ...


def sign(z: Any) -> Any:
    """``sign`` with ``sign(0) = +1``, as the stabilisers need."""
    return ops.where(z >= 0, ops.ones_like(z), -ops.ones_like(z))


def stabilize(z: Any, epsilon: float) -> Any:
    """``z + epsilon * sign(z)``."""
    return z + epsilon * sign(z)


def safe_divide(a: Any, b: Any) -> Any:
    """``a / b`` with exact zeros of ``b`` replaced by 1e-7."""
    return a / ops.where(b == 0, ops.full_like(b, SAFE_EPSILON), b)


class Route:
    """Route relevance the way the gradient routes it (reshape, slice, max).

    The relevance of the outputs is pulled back through the layer's
    vector-Jacobian product: a reshape reshapes it, a crop pads it, a
    concatenation slices it, a max picks the winner.
    """

    def __call__(self, ctx: Any, relevances: list) -> list:
        return ctx.pullback(relevances)


class PassThrough:
    """Hand the relevance of the single output to the single input unchanged."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        return [relevances[0]]
