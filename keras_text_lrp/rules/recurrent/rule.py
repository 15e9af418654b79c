"""The rule the engine calls: :class:`RecurrentRule` for LSTM/GRU/SimpleRNN/RNN/Bidirectional."""

from __future__ import annotations

import types
from typing import Any

from keras import ops

from keras_text_lrp.errors import UnsupportedLayerError
from keras_text_lrp.rules.base import safe_divide
from keras_text_lrp.rules.recurrent.cells import cell_rules
from keras_text_lrp.rules.recurrent.gru import _GRU
from keras_text_lrp.rules.recurrent.lstm import _LSTM
from keras_text_lrp.rules.recurrent.simple_rnn import _SimpleRNN
from keras_text_lrp.rules.recurrent.support import _kl, _refuse, check_gate_rule, check_recurrent_layer

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
