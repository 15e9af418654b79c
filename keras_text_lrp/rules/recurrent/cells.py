"""The linear maps inside a cell (gate and candidate pre-activations) and their rules."""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.base import SAFE_EPSILON, safe_divide, sign, stabilize
from keras_text_lrp.rules.linear import AlphaBetaRule, EpsilonRule, FlatRule, WSquareRule, ZRule
from keras_text_lrp.rules.recurrent.gates import _SumSplit


class _Pair:
    """One input group of a cell's linear map: dense ``x @ K`` or diagonal ``x * k``."""

    def __init__(self, kernel: Any, diagonal: bool = False):
        self.kernel = kernel
        self.diagonal = diagonal

    def apply(self, x: Any, kernel: Any) -> Any:
        return x * kernel if self.diagonal else ops.matmul(x, kernel)

    def transpose(self, s: Any, kernel: Any) -> Any:
        return s * kernel if self.diagonal else ops.matmul(s, ops.swapaxes(kernel, -1, -2))

    def spread(self, share: Any, x: Any) -> Any:
        """Each input's sum of ``share`` over the units it feeds (all of them, if dense)."""
        if self.diagonal:
            return share
        return ops.sum(share, axis=-1, keepdims=True) * ops.ones_like(x)


class _CellMap:
    """``z = sum_p pair_p(x_p) + bias`` with fan-in ``N`` (one linear layer)."""

    def __init__(self, pairs: list, bias: Any, fan_in: int):
        self.pairs = pairs
        self.bias = bias
        self.fan_in = fan_in


class _CellEpsilon:
    """Epsilon rule (``safe=True``: the z rule, exact zeros of ``z`` -> 1e-7)."""

    n_scaled = 1  # scaled relevances per map: R / (z + eps sign z)

    def __init__(self, epsilon: float, bias_factor: float, safe: bool = False):
        self.epsilon, self.bias_factor, self.safe = float(epsilon), float(bias_factor), safe

    def prepare(self, cmap: _CellMap, xs: list, z: Any) -> tuple:
        if self.safe:
            return (ops.where(z == 0, ops.full_like(z, SAFE_EPSILON), z),)
        den = stabilize(z, self.epsilon)
        if not self.bias_factor:
            return (den,)
        b = 0.0 if cmap.bias is None else cmap.bias
        return den, self.bias_factor * (b + self.epsilon * sign(z)) / cmap.fan_in

    def scale(self, r: Any, aux: tuple) -> tuple:
        return (r / aux[0],)

    def back(self, cmap: _CellMap, p: int, x: Any, scaled: tuple, aux: tuple) -> Any:
        pair = cmap.pairs[p]
        out = x * pair.transpose(scaled[0], pair.kernel)
        if len(aux) > 1:
            out = out + pair.spread(aux[1] * scaled[0], x)
        return out


def _pos(t: Any) -> Any:
    return ops.maximum(t, 0.0)


def _neg(t: Any) -> Any:
    return ops.minimum(t, 0.0)


def _ratio_or_zero(r: Any, z: Any) -> Any:
    zero = z == 0
    return ops.where(zero, ops.zeros_like(r), r / ops.where(zero, ops.ones_like(z), z))


class _CellAlphaBeta:
    """Alpha-beta rule on the cell's linear maps (SEMANTICS.md, "Linear layers")."""

    def __init__(self, alpha: float, beta: float, bias: bool):
        self.alpha, self.beta, self.bias = float(alpha), float(beta), bool(bias)
        self.n_scaled = 2 if self.beta else 1  # R / za and R / zi

    def prepare(self, cmap: _CellMap, xs: list, z: Any) -> tuple:
        za = zi = 0.0
        for pair, x in zip(cmap.pairs, xs):
            kp, kn = _pos(pair.kernel), _neg(pair.kernel)
            xp, xn = _pos(x), _neg(x)
            za = za + pair.apply(xp, kp) + pair.apply(xn, kn)
            if self.beta:
                zi = zi + pair.apply(xp, kn) + pair.apply(xn, kp)
        if self.bias and cmap.bias is not None:
            za = za + _pos(cmap.bias)
            zi = zi + _neg(cmap.bias)
        return (za, zi) if self.beta else (za,)

    def scale(self, r: Any, aux: tuple) -> tuple:
        return tuple(_ratio_or_zero(r, d) for d in aux)

    def back(self, cmap: _CellMap, p: int, x: Any, scaled: tuple, aux: tuple) -> Any:
        pair = cmap.pairs[p]
        kp, kn = _pos(pair.kernel), _neg(pair.kernel)
        xp, xn = _pos(x), _neg(x)
        sa = scaled[0]
        out = self.alpha * (xp * pair.transpose(sa, kp) + xn * pair.transpose(sa, kn))
        if self.beta:
            si = scaled[1]
            out = out - self.beta * (xp * pair.transpose(si, kn) + xn * pair.transpose(si, kp))
        return out


class _CellDistribute:
    """w-square / flat: ``R_i = sum_j V_ij R_j / sum_i' V_i'j``, ``V = W**2`` or 1."""

    n_scaled = 1

    def __init__(self, square: bool):
        self.square = square

    def _v(self, kernel: Any) -> Any:
        return ops.square(kernel) if self.square else ops.ones_like(kernel)

    def prepare(self, cmap: _CellMap, xs: list, z: Any) -> tuple:
        den = 0.0
        for pair, x in zip(cmap.pairs, xs):
            den = den + pair.apply(ops.ones_like(x), self._v(pair.kernel))
        return (den,)

    def scale(self, r: Any, aux: tuple) -> tuple:
        return (safe_divide(r, aux[0]),)

    def back(self, cmap: _CellMap, p: int, x: Any, scaled: tuple, aux: tuple) -> Any:
        pair = cmap.pairs[p]
        return pair.transpose(scaled[0], self._v(pair.kernel)) * ops.ones_like(x)


def cell_rules(linear_rule: Any) -> tuple:
    """The rules for a cell's linear maps and sums, from an analyzer's linear rule.

    ``EpsilonRule`` -> epsilon (same ``epsilon``/``bias_factor``) for maps and sums;
    ``ZRule`` -> z rule for both; ``AlphaBetaRule`` -> alpha-beta on the maps;
    ``WSquareRule`` / ``FlatRule`` -> w-square / flat on the maps. The sums of
    the last three are split by the z rule (as ``Add`` is).
    """
    z_sum = _SumSplit(0.0, 0.0, safe=True)
    if isinstance(linear_rule, EpsilonRule):
        eps, bf = linear_rule.epsilon, linear_rule.bias_factor
        return _CellEpsilon(eps, bf), _SumSplit(eps, bf)
    if isinstance(linear_rule, ZRule):
        return _CellEpsilon(0.0, 0.0, safe=True), z_sum
    if isinstance(linear_rule, AlphaBetaRule):
        return _CellAlphaBeta(linear_rule.alpha, linear_rule.beta, linear_rule.bias), z_sum
    if isinstance(linear_rule, WSquareRule):
        return _CellDistribute(square=True), z_sum
    if isinstance(linear_rule, FlatRule):
        return _CellDistribute(square=False), z_sum
    return None
