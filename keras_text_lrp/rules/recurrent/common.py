"""What every recurrence shares: the time scan, shifts, masking, the base class."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_text_lrp.rules.recurrent.gates import _SumSplit, product_rule


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
        self.product = product_rule(gate_rule, sum_rule)
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


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _pass_masked(m: Any, new: tuple, old: tuple, scaled: tuple) -> tuple:
    """A masked step hands the carried relevance back unchanged; its input gets nothing."""
    if m is None:
        return (*new, *scaled)
    carried = tuple(ops.where(m, a, b) for a, b in zip(new, old))
    return (*carried, *(ops.where(m, s, ops.zeros_like(s)) for s in scaled))
