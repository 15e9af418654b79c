"""Splits inside a cell: the sums (``c_t = f*c_{t-1} + i*g``) and the products
``gate * signal`` (SEMANTICS.md, "Recurrent layers", ``gate_rule``)."""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.base import SAFE_EPSILON, sign, stabilize


class _SumSplit:
    """Split the relevance of ``total = a + b`` between the two summands.

    Epsilon rule with denominator ``total + eps*sign(total)``; with
    ``bias_factor`` the stabiliser share is spread evenly over all ``2*units``
    lower units of both summands. ``safe=True``: the z rule (safe divide).
    """

    def __init__(self, epsilon: float, bias_factor: float, safe: bool = False):
        self.epsilon, self.bias_factor, self.safe = float(epsilon), float(bias_factor), safe

    def prepare(self, a: Any, b: Any, total: Any) -> tuple:
        """Per-step ``(fa, fb[, e])``: the summands' fractions and the stabiliser share."""
        if self.safe:
            den = ops.where(total == 0, ops.full_like(total, SAFE_EPSILON), total)
        else:
            den = stabilize(total, self.epsilon)
        if self.safe or not self.bias_factor:
            return a / den, b / den
        units = int(total.shape[-1])
        return a / den, b / den, self.bias_factor * self.epsilon * sign(total) / den / (2 * units)

    @staticmethod
    def split(r: Any, parts: tuple) -> tuple:
        ra, rb = parts[0] * r, parts[1] * r
        if len(parts) > 2:
            share = ops.sum(parts[2] * r, axis=-1, keepdims=True)
            ra, rb = ra + share, rb + share
        return ra, rb


class _Product:
    """The gate rule for a product ``gate * signal`` (SEMANTICS.md, ``gate_rule``).

    ``"proportional"`` and ``"abs"`` split with the stabilised, bounded shares
    of SEMANTICS.md: with ``a, b`` the two factors (their absolute values for
    ``"abs"``), ``d = a + b + eps*sign(a + b)`` and ``e = bias_factor*eps*sign(a + b)/2``,
    the gate's share is ``s_g = clip((a + e)/d, 0, T)`` and the signal's
    ``T - s_g``, where ``T = (a + b + 2e)/d`` (``T = 1`` with ``bias_factor = 1``).
    The clip only acts where ``a`` and ``b`` have opposite signs (a share of
    a cancelling sum would be unbounded): each share stays within ``[0, T]``,
    so a product never amplifies relevance.
    """

    def __init__(self, gate_rule: str, epsilon: float = SAFE_EPSILON, bias_factor: float = 0.0):
        self.gate_rule = gate_rule
        self.epsilon, self.bias_factor = float(epsilon), float(bias_factor)

    def prepare(self, gate: Any, signal: Any) -> tuple:
        """Per-step shares ``(gate share, signal share)``; empty when they are constants."""
        if self.gate_rule in ("signal_take_all", "half"):
            return ()
        if self.gate_rule == "abs":
            gate, signal = ops.abs(gate), ops.abs(signal)
        total = gate + signal
        s = sign(total)
        den = total + self.epsilon * s
        half_stab = 0.5 * self.bias_factor * self.epsilon * s
        whole = (total + 2.0 * half_stab) / den
        share = ops.minimum(ops.maximum((gate + half_stab) / den, 0.0), whole)
        return share, whole - share

    def split(self, r: Any, fractions: tuple) -> tuple:
        """``(R_gate, R_signal)``; ``R_gate`` is ``None`` under signal_take_all."""
        if self.gate_rule == "signal_take_all":
            return None, r
        if self.gate_rule == "half":
            return 0.5 * r, 0.5 * r
        return fractions[0] * r, fractions[1] * r


def product_rule(gate_rule: str, sum_rule: _SumSplit) -> _Product:
    """The product rule matching a cell's sum rule: its epsilon and bias_factor
    (epsilon analyzers), else the safe-divide epsilon 1e-7 and no bias share."""
    if sum_rule.safe:
        return _Product(gate_rule, SAFE_EPSILON, 0.0)
    return _Product(gate_rule, sum_rule.epsilon or SAFE_EPSILON, sum_rule.bias_factor)
