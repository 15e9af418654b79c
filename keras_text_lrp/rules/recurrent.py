"""LSTM-aware LRP: rules for LSTM, GRU, SimpleRNN and Bidirectional.

Implements SEMANTICS.md, "Recurrent layers" (Arras et al. 2017): the layer's
forward recurrence is run with its own weights, keeping the gates and states,
then the relevance recurrence runs backwards in time. The LRP analyzers run
the forward part in the engine's forward pass
(:meth:`RecurrentRule.forward`, ``Composite.recurrent_forward``), so the
recurrence is computed once; as a plain rule it is recomputed.

Batching. Both recurrences run inside the traced analysis function as one
``keras.ops.scan`` each over the time axis, batched over the sentences (padded
to one length; masked steps carry the state and its relevance unchanged).
Everything that does not depend on the carried relevance is taken out of the
loops and computed for all steps at once: the input projections ``x W``
before the forward scan; gate values, the split fractions of every sum and
product and the linear rules' denominators before the backward scan; and the
input relevances after it, from the per-step scaled relevances ``s_t`` that
the backward scan emits (``R_x = x * (s W^T) [+ bias share]``). Inside the
backward loop only the ``h_{t-1}`` part remains: element-wise products and one
``(batch, k) @ (k, units)`` matmul per step (``k = units`` under
``signal_take_all``, where only the LSTM candidate receives relevance).

Linear maps inside a cell (gate and candidate pre-activations) take the
analyzer's linear rule (:func:`cell_rules`): epsilon (with ``bias_factor``,
fan-in ``N = input_dim + units``), z, alpha-beta, w-square or flat; the sums
``c_t = f*c_{t-1} + i*g`` (LSTM) and ``h_t = z*h_{t-1} + (1-z)*hh`` (GRU) are
split by the epsilon rule of epsilon analyzers and by the z rule (safe
divide, as for ``Add``) otherwise.

Where SEMANTICS.md is silent: with ``bias_factor > 0`` the stabiliser share of
the GRU's ``h_t`` sum is spread over its ``2*units`` lower units as for the
LSTM's ``c_t``; the GRU candidate with ``reset_after=True`` is a map over ``x``
and one reset product ``r_j*(h U_h + b_rh)_j`` per unit (fan-in
``input_dim + 1``), ``h U_h + b_rh`` a map of its own (fan-in ``units``), and with
``reset_after=False`` one map over ``x`` and ``r*h_{t-1}`` (fan-in
``input_dim + units``); relevance given to the gate ``1 - z`` joins ``z``'s
pre-activation; "proportional" and "abs" use the safe divide. Relevance at a
masked step's output joins the carried state (keras outputs the carried
state there), except where keras outputs 0 (Bidirectional sequences,
``zero_output_for_mask``). Relevance reaching the zero initial states is dropped.
"""

from __future__ import annotations

import types
from typing import Any

import keras
from keras import ops

from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError
from keras_text_lrp.rules.base import SAFE_EPSILON, safe_divide, sign, stabilize
from keras_text_lrp.rules.linear import AlphaBetaRule, EpsilonRule, FlatRule, WSquareRule, ZRule

__all__ = [
    "GATE_RULES",
    "RecurrentRule",
    "cell_rules",
    "check_gate_rule",
    "check_recurrent_layer",
    "check_recurrent_calls",
]

#: How the relevance of a product ``gate * signal`` is shared (SEMANTICS.md).
GATE_RULES = ("signal_take_all", "proportional", "abs", "half")

_kl = keras.layers
_CELLS = (_kl.LSTMCell, _kl.GRUCell, _kl.SimpleRNNCell)
_RNN_CALLS = (_kl.LSTM.call, _kl.GRU.call, _kl.SimpleRNN.call, _kl.RNN.call)
_RECURRENT_ACTIVATIONS = ("sigmoid", "hard_sigmoid")
_SIMPLE_ACTIVATIONS = ("tanh", "relu", "linear")


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def check_gate_rule(gate_rule: str) -> str:
    """Return ``gate_rule`` if it is one of :data:`GATE_RULES`, else raise."""
    if gate_rule not in GATE_RULES:
        raise InvalidArgumentError(f"gate_rule must be one of {GATE_RULES}, got {gate_rule!r}.")
    return gate_rule


def _refuse(layer: Any, reason: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"recurrent layer {layer.name!r} ({type(layer).__name__}) cannot be explained by LRP: "
        f"{reason} Explain it with the gradient family (e.g. 'gradient', 'integrated_gradients'), "
        "or register a rule with keras_text_lrp.register_rule."
    )


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", repr(fn))


def check_recurrent_layer(layer: Any) -> None:
    """Raise :class:`UnsupportedLayerError` if LSTM-aware LRP cannot handle ``layer``.

    Supported: ``LSTM``, ``GRU`` (``reset_after`` True or False), ``SimpleRNN``
    and ``RNN`` over a standard ``LSTMCell``/``GRUCell``/``SimpleRNNCell``, each
    with zero initial states; ``Bidirectional`` of those with merge mode
    ``concat``, ``sum``, ``ave`` or ``None``.
    """
    if isinstance(layer, _kl.Bidirectional):
        if layer.merge_mode == "mul":
            raise _refuse(
                layer,
                "merge_mode='mul' multiplies the two directions, which has no sound relevance rule; "
                "use merge_mode 'concat', 'sum' or 'ave'.",
            )
        check_recurrent_layer(layer.forward_layer)
        check_recurrent_layer(layer.backward_layer)
        return
    if not isinstance(layer, _kl.RNN):
        raise _refuse(layer, "it is not a keras RNN layer.")
    if type(layer).call not in _RNN_CALLS:
        raise _refuse(layer, f"its class {type(layer).__name__} overrides call().")
    if getattr(layer, "stateful", False):
        raise _refuse(
            layer,
            "stateful=True carries states across batches, but the rule assumes zero initial "
            "states; rebuild the layer with stateful=False and copy the weights.",
        )
    cell = layer.cell
    if type(cell) not in _CELLS:
        raise _refuse(
            layer,
            f"its cell is {type(cell).__name__}, not one of the standard cells "
            "LSTMCell, GRUCell, SimpleRNNCell (custom and stacked cells have no rule); "
            "stack LSTM/GRU/SimpleRNN layers instead of cells.",
        )
    act = _fn_name(cell.activation)
    allowed = _SIMPLE_ACTIVATIONS if isinstance(cell, _kl.SimpleRNNCell) else ("tanh",)
    if act not in allowed:
        raise _refuse(layer, f"activation {act!r} is not supported (use one of {allowed}).")
    if not isinstance(cell, _kl.SimpleRNNCell):
        ract = _fn_name(cell.recurrent_activation)
        if ract not in _RECURRENT_ACTIVATIONS:
            raise _refuse(
                layer,
                f"recurrent_activation {ract!r} is not supported (use one of {_RECURRENT_ACTIVATIONS}).",
            )


def _primary_outputs(layer: Any) -> int:
    return 2 if isinstance(layer, _kl.Bidirectional) and layer.merge_mode is None else 1


def check_recurrent_calls(graph: Any, kinds: dict, output_key: Any) -> list:
    """Check every recurrent call that the explained output depends on; return their layers.

    Raises :class:`UnsupportedLayerError` for unsupported layers
    (:func:`check_recurrent_layer`), for calls given an ``initial_state``, and
    for ``return_state=True`` calls whose state outputs feed the explained
    output.
    """
    found = []
    live = {output_key}
    for step in reversed(graph.steps):
        if not any(k in live for k in step.outputs):
            continue
        if step.layer is not None and kinds.get(step) == "recurrent":
            layer = step.layer
            check_recurrent_layer(layer)
            if len(step.inputs) != 1:
                raise _refuse(
                    layer,
                    "it is called with an initial_state (or other extra tensors); the rule supports "
                    "zero initial states only.",
                )
            if any(k in live for k in step.outputs[_primary_outputs(layer):]):
                raise _refuse(
                    layer,
                    "return_state=True and its state outputs feed the explained output; only the "
                    "sequence / last-step output can carry relevance.",
                )
            found.append(layer)
        live.update(step.inputs)
    return found


# ---------------------------------------------------------------------------
# linear maps inside a cell and their rules
# ---------------------------------------------------------------------------
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
    """The gate rule for a product ``gate * signal`` (SEMANTICS.md, ``gate_rule``)."""

    def __init__(self, gate_rule: str):
        self.gate_rule = gate_rule

    def prepare(self, gate: Any, signal: Any) -> tuple:
        """Per-step fractions ``(gate share, signal share)``; empty when they are constants."""
        if self.gate_rule in ("signal_take_all", "half"):
            return ()
        if self.gate_rule == "abs":
            gate, signal = ops.abs(gate), ops.abs(signal)
        den = gate + signal
        return safe_divide(gate, den), safe_divide(signal, den)

    def split(self, r: Any, fractions: tuple) -> tuple:
        """``(R_gate, R_signal)``; ``R_gate`` is ``None`` under signal_take_all."""
        if self.gate_rule == "signal_take_all":
            return None, r
        if self.gate_rule == "half":
            return 0.5 * r, 0.5 * r
        return fractions[0] * r, fractions[1] * r


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


# ---------------------------------------------------------------------------
# the recurrences
# ---------------------------------------------------------------------------
def _scan(step: Any, init: tuple, xs: dict, reverse: bool = False, keep: int = 0) -> tuple:
    """``keras.ops.scan`` over the time axis of the ``(T, ...)`` tensors in ``xs``.

    ``step(carry, inputs)`` returns the new carry; its entries from ``keep`` on
    are stacked over time and returned. On TensorFlow keras' scan stacks
    outputs shaped like the carry, so the whole carry is stacked, and ``xs`` is
    packed into one tensor, as keras' scan there fails on several sequences of
    unknown length (the traced analysis sees ``T = None``); JAX reads the
    sequences as they are (packing costs it a copy per step).
    """
    if keras.backend.backend() != "tensorflow":

        def body(carry, inp):
            new = tuple(step(carry, inp))
            return new, new[keep:]

        return tuple(ops.scan(body, tuple(init), xs, reverse=reverse)[1])
    leaves = keras.tree.flatten(xs)
    kinds = [ops.dtype(v) == "bool" for v in leaves]
    widths = [int(v.shape[-1]) for v in leaves]
    dtype = init[0].dtype
    packed = ops.concatenate([ops.cast(v, dtype) for v in leaves], axis=-1)

    def unpack(carry, inp):
        parts, start = [], 0
        for width, is_bool in zip(widths, kinds):
            part = inp[..., start : start + width]
            parts.append(part > 0.5 if is_bool else part)
            start += width
        new = tuple(step(carry, keras.tree.pack_sequence_as(xs, parts)))
        return new, new

    return tuple(ops.scan(unpack, tuple(init), packed, reverse=reverse)[1])[keep:]


def _shift(seq: Any) -> Any:
    """``seq[t-1]`` for every step, zeros (the initial state) at ``t = 0``."""
    return ops.concatenate([ops.zeros_like(seq[:1]), seq[:-1]], axis=0)


def _tensor(v: Any) -> Any:
    return ops.convert_to_tensor(v)


def _active(x: dict) -> dict:
    """``x`` without absent (``None``) or empty entries, for ``ops.scan``."""
    return {k: v for k, v in x.items() if v is not None and not (isinstance(v, tuple) and not v)}


class _Recurrence:
    """One RNN layer's cell: forward recomputation and relevance recurrence.

    Sequences are time-major ``(T, batch, k)`` in the layer's processing order
    (reversed input with ``go_backwards``); per-step tensors ``(batch, k)``.
    """

    def __init__(self, cell: Any, cell_rule: Any, sum_rule: _SumSplit, gate_rule: str):
        self.cell = cell
        self.units = int(cell.units)
        self.rule, self.sums, self.gate_rule = cell_rule, sum_rule, gate_rule
        self.product = _Product(gate_rule)
        self.kernel = _tensor(cell.kernel)
        self.recurrent = _tensor(cell.recurrent_kernel)
        self.bias = _tensor(cell.bias) if cell.use_bias else None
        self.input_dim = int(self.kernel.shape[0])

    @staticmethod
    def _zeros(x: Any, n: int) -> Any:
        return ops.zeros((ops.shape(x)[1], n), dtype=x.dtype)

    @staticmethod
    def _masked(m: Any, new: Any, old: Any) -> Any:
        return new if m is None else ops.where(m, new, old)


class _SimpleRNN(_Recurrence):
    """``h_t = act(x_t W + h_{t-1} U + b)``: the linear rule on one map."""

    def forward(self, x: Any, mask: Any) -> dict:
        zx = ops.matmul(x, self.kernel)
        if self.bias is not None:
            zx = zx + self.bias
        act, u = self.cell.activation, self.recurrent

        def step(carry, inp):
            h = carry[0]
            z = inp["zx"] + ops.matmul(h, u)
            return self._masked(inp.get("m"), act(z), h), z

        zeros = self._zeros(x, self.units)
        h, z = _scan(step, (zeros, zeros), _active({"zx": zx, "m": mask}))
        return {"x": x, "m": mask, "h": h, "z": z}

    def backward(self, fw: dict, r_ext: Any, r_last: Any) -> Any:
        x, h_prev, rule = fw["x"], _shift(fw["h"]), self.rule
        cmap = _CellMap([_Pair(self.kernel), _Pair(self.recurrent)], self.bias, self.input_dim + self.units)
        aux = rule.prepare(cmap, [x, h_prev], fw["z"])

        def step(carry, inp):
            r_h = carry[0] + inp["ext"] if "ext" in inp else carry[0]
            scaled = rule.scale(r_h, inp["aux"])
            r_hp = rule.back(cmap, 1, inp["hp"], scaled, inp["aux"])
            return _pass_masked(inp.get("m"), (r_hp,), (r_h,), scaled)

        zeros = self._zeros(x, self.units)
        init = (_or(r_last, zeros),) + (zeros,) * rule.n_scaled
        xs = _active({"ext": r_ext, "m": fw["m"], "hp": h_prev, "aux": aux})
        scaled = _scan(step, init, xs, reverse=True, keep=1)
        return rule.back(cmap, 0, x, scaled, aux)


class _LSTM(_Recurrence):
    """Keras LSTM, gate order i, f, c (candidate g), o."""

    def forward(self, x: Any, mask: Any) -> dict:
        zx = ops.matmul(x, self.kernel)
        if self.bias is not None:
            zx = zx + self.bias
        ract, act, u, n = self.cell.recurrent_activation, self.cell.activation, self.recurrent, self.units
        # Under signal_take_all the backward pass needs only the two summands of
        # c_t and the candidate's pre-activation; otherwise every gate.
        take_all = self.gate_rule == "signal_take_all"

        def step(carry, inp):
            c, h = carry[0], carry[1]
            z = inp["zx"] + ops.matmul(h, u)
            zi, zf, zg, zo = ops.split(z, 4, axis=-1)
            fc, ig = ract(zf) * c, ract(zi) * act(zg)
            c_new = fc + ig
            h_new = ract(zo) * act(c_new)
            m = inp.get("m")
            c_new, h_new = self._masked(m, c_new, c), self._masked(m, h_new, h)
            return (c_new, h_new, fc, ig, zg) if take_all else (c_new, h_new, z)

        zeros = self._zeros(x, n)
        xs = _active({"zx": zx, "m": mask})
        if take_all:
            h, fc, ig, zg = _scan(step, (zeros,) * 5, xs, keep=1)
            return {"x": x, "m": mask, "h": h, "fc": fc, "ig": ig, "zg": zg}
        c, h, z = _scan(step, (zeros, zeros, self._zeros(x, 4 * n)), xs)
        return {"x": x, "m": mask, "h": h, "c": c, "z": z}

    def backward(self, fw: dict, r_ext: Any, r_last: Any) -> Any:
        ract, act, n = self.cell.recurrent_activation, self.cell.activation, self.units
        x, rule, sums, prod = fw["x"], self.rule, self.sums, self.product
        h_prev = _shift(fw["h"])
        take_all = self.gate_rule == "signal_take_all"
        xs = {"m": fw["m"], "ext": r_ext, "hp": h_prev}
        if take_all:
            # Only the candidate g receives relevance: only its columns enter the linear rule.
            fc, ig, z = fw["fc"], fw["ig"], fw["zg"]
            cols = slice(2 * n, 3 * n)
        else:
            z, c_prev = fw["z"], _shift(fw["c"])
            zi, zf, zg, zo = ops.split(z, 4, axis=-1)
            i, f, g, o = ract(zi), ract(zf), act(zg), ract(zo)
            fc, ig = f * c_prev, i * g
            xs.update(o=prod.prepare(o, act(fc + ig)), f=prod.prepare(f, c_prev), i=prod.prepare(i, g))
            cols = slice(None)
        xs["sum"] = sums.prepare(fc, ig, fc + ig)
        bias = None if self.bias is None else self.bias[..., cols]
        cmap = _CellMap(
            [_Pair(self.kernel[..., cols]), _Pair(self.recurrent[..., cols])], bias, self.input_dim + n
        )
        xs["aux"] = aux = rule.prepare(cmap, [x, h_prev], z)

        def step(carry, inp):
            r_h, r_c = carry[0], carry[1]
            if "ext" in inp:
                r_h = r_h + inp["ext"]
            r_o, r_tc = prod.split(r_h, inp.get("o", ()))  # h = o * tanh(c)
            r_fc, r_ig = sums.split(r_c + r_tc, inp["sum"])  # c = f*c_prev + i*g
            r_f, r_cp = prod.split(r_fc, inp.get("f", ()))
            r_i, r_g = prod.split(r_ig, inp.get("i", ()))
            r_pre = r_g if take_all else ops.concatenate([r_i, r_f, r_g, r_o], axis=-1)
            scaled = rule.scale(r_pre, inp["aux"])
            r_hp = rule.back(cmap, 1, inp["hp"], scaled, inp["aux"])
            return _pass_masked(inp.get("m"), (r_hp, r_cp), (r_h, r_c), scaled)

        zeros = self._zeros(x, n)
        k = zeros if take_all else self._zeros(x, 4 * n)
        init = (_or(r_last, zeros), zeros) + (k,) * rule.n_scaled
        scaled = _scan(step, init, _active(xs), reverse=True, keep=2)
        return rule.back(cmap, 0, x, scaled, aux)


class _GRU(_Recurrence):
    """Keras GRU, gate order z (update), r (reset), h (candidate); both ``reset_after``."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        n = self.units
        self.reset_after = bool(self.cell.reset_after)
        if self.bias is None:
            self.b_in = self.b_rec = None
        elif self.reset_after:  # (2, 3 units): input and recurrent biases
            self.b_in, self.b_rec = self.bias[0], self.bias[1]
        else:
            self.b_in, self.b_rec = self.bias, None
        self.w_zr, self.w_h = self.kernel[..., : 2 * n], self.kernel[..., 2 * n :]
        self.u_zr, self.u_h = self.recurrent[..., : 2 * n], self.recurrent[..., 2 * n :]

    def forward(self, x: Any, mask: Any) -> dict:
        n, ract, act = self.units, self.cell.recurrent_activation, self.cell.activation
        zx = ops.matmul(x, self.kernel)
        if self.b_in is not None:
            zx = zx + self.b_in
        b_rec, reset_after = self.b_rec, self.reset_after

        def step(carry, inp):
            h = carry[0]
            xzr, xh = inp["zx"][..., : 2 * n], inp["zx"][..., 2 * n :]
            if reset_after:
                hz = ops.matmul(h, self.recurrent)
                if b_rec is not None:
                    hz = hz + b_rec
                zr, a = xzr + hz[..., : 2 * n], hz[..., 2 * n :]
                cand = xh + ract(zr[..., n:]) * a
            else:
                zr = xzr + ops.matmul(h, self.u_zr)
                a = ract(zr[..., n:]) * h  # the reset state that U_h reads
                cand = xh + ops.matmul(a, self.u_h)
            zg = ract(zr[..., :n])
            h_new = zg * h + (1.0 - zg) * act(cand)
            return self._masked(inp.get("m"), h_new, h), zr, a, cand

        zeros = self._zeros(x, n)
        init = (zeros, self._zeros(x, 2 * n), zeros, zeros)
        h, zr, a, cand = _scan(step, init, _active({"zx": zx, "m": mask}))
        return {"x": x, "m": mask, "h": h, "zr": zr, "a": a, "cand": cand}

    def backward(self, fw: dict, r_ext: Any, r_last: Any) -> Any:
        n, d, ract, act = self.units, self.input_dim, self.cell.recurrent_activation, self.cell.activation
        rule, sums, prod, reset_after = self.rule, self.sums, self.product, self.reset_after
        x, zr, a, cand = fw["x"], fw["zr"], fw["a"], fw["cand"]
        h_prev = _shift(fw["h"])
        zg, r, hh = ract(zr[..., :n]), ract(zr[..., n:]), act(cand)
        keep, new = zg * h_prev, (1.0 - zg) * hh
        b_h = None if self.b_in is None else self.b_in[..., 2 * n :]
        if reset_after:
            # x W_h + b_h + r*(h U_h + b_rh): the reset product is one more input
            # of each candidate unit (fan-in d + 1); h U_h + b_rh a map of its own.
            mm = r * a
            ones = ops.ones((n,), dtype=x.dtype)
            cand_map = _CellMap([_Pair(self.w_h), _Pair(ones, diagonal=True)], b_h, d + 1)
            b_rh = None if self.b_rec is None else self.b_rec[..., 2 * n :]
            a_map = _CellMap([_Pair(self.u_h)], b_rh, n)
            a_aux = rule.prepare(a_map, [h_prev], a)
        else:
            # x W_h + (r*h) U_h + b_h: one map over x and r*h (fan-in d + units).
            mm = a
            cand_map = _CellMap([_Pair(self.w_h), _Pair(self.u_h)], b_h, d + n)
            a_map, a_aux = None, ()
        cand_aux = rule.prepare(cand_map, [x, mm], cand)
        gates = self.gate_rule != "signal_take_all"
        zr_map, zr_aux = None, ()
        if gates:
            b_zr = None
            if self.b_in is not None:
                b_zr = self.b_in[..., : 2 * n]
                if self.b_rec is not None:
                    b_zr = b_zr + self.b_rec[..., : 2 * n]
            zr_map = _CellMap([_Pair(self.w_zr), _Pair(self.u_zr)], b_zr, d + n)
            zr_aux = rule.prepare(zr_map, [x, h_prev], zr)
        xs = {
            "m": fw["m"], "ext": r_ext, "hp": h_prev, "mm": mm,
            "sum": sums.prepare(keep, new, keep + new),
            "keep": prod.prepare(zg, h_prev), "new": prod.prepare(1.0 - zg, hh),
            "reset": prod.prepare(r, a if reset_after else h_prev),
            "cand_aux": cand_aux, "a_aux": a_aux, "zr_aux": zr_aux,
        }

        def step(carry, inp):
            r_h = carry[0] + inp["ext"] if "ext" in inp else carry[0]
            r_keep, r_new = sums.split(r_h, inp["sum"])  # h = z*h_prev + (1-z)*hh
            r_z1, r_hp = prod.split(r_keep, inp.get("keep", ()))
            r_z2, r_hh = prod.split(r_new, inp.get("new", ()))
            s_cand = rule.scale(r_hh, inp["cand_aux"])
            r_mm = rule.back(cand_map, 1, inp["mm"], s_cand, inp["cand_aux"])
            r_r, r_sig = prod.split(r_mm, inp.get("reset", ()))
            s_a = s_zr = ()
            if reset_after:
                s_a = rule.scale(r_sig, inp["a_aux"])
                r_hp = r_hp + rule.back(a_map, 0, inp["hp"], s_a, inp["a_aux"])
            else:
                r_hp = r_hp + r_sig
            if gates:
                # The gate (1 - z) is a function of z's pre-activation too.
                s_zr = rule.scale(ops.concatenate([r_z1 + r_z2, r_r], axis=-1), inp["zr_aux"])
                r_hp = r_hp + rule.back(zr_map, 1, inp["hp"], s_zr, inp["zr_aux"])
            return _pass_masked(inp.get("m"), (r_hp,), (r_h,), (*s_cand, *s_a, *s_zr))

        zeros = self._zeros(x, n)
        nc = rule.n_scaled
        na = nc if reset_after else 0
        init = (_or(r_last, zeros),) + (zeros,) * (nc + na)
        init = init + (self._zeros(x, 2 * n),) * (nc if gates else 0)
        ys = _scan(step, init, _active(xs), reverse=True, keep=1)
        r_x = rule.back(cand_map, 0, x, ys[:nc], cand_aux)
        if gates:
            r_x = r_x + rule.back(zr_map, 0, x, ys[nc + na :], zr_aux)
        return r_x


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _pass_masked(m: Any, new: tuple, old: tuple, scaled: tuple) -> tuple:
    """A masked step hands the carried relevance back unchanged; its input gets nothing."""
    if m is None:
        return (*new, *scaled)
    carried = tuple(ops.where(m, a, b) for a, b in zip(new, old))
    return (*carried, *(ops.where(m, s, ops.zeros_like(s)) for s in scaled))


_RECURRENCES = {_kl.LSTMCell: _LSTM, _kl.GRUCell: _GRU, _kl.SimpleRNNCell: _SimpleRNN}


class RecurrentRule:
    """LSTM-aware LRP for one ``LSTM``/``GRU``/``SimpleRNN``/``RNN``/``Bidirectional`` call.

    :meth:`forward` (the engine's forward-pass hook, ``Composite.recurrent_forward``)
    runs the layer with its own weights and keeps every gate and state for the
    backward pass; called as a rule without it, the forward pass is recomputed.

    Parameters
    ----------
    linear_rule : rule
        The analyzer's rule for linear layers; it decides the rules inside the
        cells (:func:`cell_rules`).
    gate_rule : {"signal_take_all", "proportional", "abs", "half"}
        How the relevance of each product ``gate * signal`` is shared.

    Raises
    ------
    UnsupportedLayerError
        For a linear rule with no counterpart inside cells, and (when called)
        for layers :func:`check_recurrent_layer` refuses or calls given an
        ``initial_state``.
    """

    def __init__(self, linear_rule: Any, gate_rule: str = "signal_take_all"):
        rules = cell_rules(linear_rule)
        if rules is None:
            raise UnsupportedLayerError(
                f"the linear rule {type(linear_rule).__name__} has no counterpart inside recurrent "
                "cells; LSTM-aware LRP uses the epsilon, z, alpha-beta, w-square or flat rule."
            )
        self.cell_rule, self.sum_rule = rules
        self.gate_rule = check_gate_rule(gate_rule)

    def forward(self, layer: Any, xs: list, masks: list) -> tuple | None:
        """The layer's outputs and, in ``extra``, its relevance recurrence.

        Returns ``(outputs, extra)``, or ``None`` (keras then runs the layer
        and the rule, if relevance reaches it, recomputes or refuses) for calls
        with an ``initial_state``, ``return_state=True`` or unsupported layers.
        """
        if len(xs) != 1 or getattr(layer, "return_state", False):
            return None
        try:
            check_recurrent_layer(layer)
        except UnsupportedLayerError:
            return None
        outs, backward = self._forward(layer, xs[0], masks[0] if masks else None)
        return outs, {"recurrent_backward": backward}

    def __call__(self, ctx: Any, relevances: list) -> list:
        backward = ctx.extra.get("recurrent_backward")
        if backward is None:
            layer = ctx.layer
            check_recurrent_layer(layer)
            if len(ctx.xs) != 1:
                raise _refuse(
                    layer, "it is called with an initial_state; the rule supports zero initial states only."
                )
            _, backward = self._forward(layer, ctx.xs[0], ctx.masks[0] if ctx.masks else None)
        return backward(relevances)

    def _forward(self, layer: Any, x: Any, mask: Any) -> tuple:
        """Outputs of ``layer`` (as keras gives them) and ``backward(relevances) -> [R_x]``."""
        x = ops.transpose(x, (1, 0, 2))  # time-major
        if mask is not None:
            mask = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)
        if not isinstance(layer, _kl.Bidirectional):
            y, back = self._direction(layer, x, mask)
            return [y], lambda rs: [ops.transpose(back(rs[0]), (1, 0, 2))]
        y_f, back_f = self._direction(layer.forward_layer, x, mask)
        y_b, back_b = self._direction(layer.backward_layer, x, mask)
        seq, mode = bool(layer.return_sequences), layer.merge_mode
        if seq:  # the backward half's sequence in input order, as keras merges it
            y_b = ops.flip(y_b, 1)
        if mode == "concat":
            outs = [ops.concatenate([y_f, y_b], axis=-1)]
        elif mode == "sum":
            outs = [y_f + y_b]
        elif mode == "ave":
            outs = [(y_f + y_b) / 2.0]
        else:
            outs = [y_f, y_b]

        def backward(rs: list) -> list:
            r = rs[0]
            if mode == "concat":
                n = int(y_f.shape[-1])
                r_f, r_b = r[..., :n], r[..., n:]
            elif mode == "sum":  # as Add: proportional split, safe divide
                ratio = safe_divide(r, outs[0])
                r_f, r_b = y_f * ratio, y_b * ratio
            elif mode == "ave":  # as Average
                ratio = 0.5 * safe_divide(r, outs[0])
                r_f, r_b = y_f * ratio, y_b * ratio
            else:  # merge_mode None: two outputs
                r_f, r_b = r, rs[1]
            if seq:
                r_b = ops.flip(r_b, 1)
            return [ops.transpose(back_f(r_f) + back_b(r_b), (1, 0, 2))]

        return outs, backward

    def _direction(self, layer: Any, x: Any, mask: Any) -> tuple:
        """One RNN layer on time-major ``x``: its output and ``back(R_output) -> R_x``.

        The output is keras' (batch-major; a sequence in the layer's processing
        order); ``R_x`` is time-major, in input order.
        """
        rec = _RECURRENCES[type(layer.cell)](layer.cell, self.cell_rule, self.sum_rule, self.gate_rule)
        rev = bool(layer.go_backwards)
        xp = ops.flip(x, 0) if rev else x
        mp = None if mask is None else (ops.flip(mask, 0) if rev else mask)
        fw = rec.forward(xp, mp)
        seq = bool(layer.return_sequences)
        zero_masked = seq and mp is not None and bool(getattr(layer, "zero_output_for_mask", False))
        h = fw["h"]
        if zero_masked:  # outputs forced to 0 at masked steps (and they pass nothing back)
            h = ops.where(mp, h, ops.zeros_like(h))
        out = ops.transpose(h, (1, 0, 2)) if seq else h[-1]

        def back(r_out: Any) -> Any:
            if seq:
                r_ext = ops.transpose(r_out, (1, 0, 2))
                if zero_masked:
                    r_ext = ops.where(mp, r_ext, ops.zeros_like(r_ext))
                r_x = rec.backward(fw, r_ext, None)
            else:
                r_x = rec.backward(fw, None, r_out)
            return ops.flip(r_x, 0) if rev else r_x

        return out, back


def is_factory(rule: Any) -> bool:
    """Whether an analyzer's linear rule is a ``layer -> rule`` function."""
    return isinstance(rule, types.FunctionType)
