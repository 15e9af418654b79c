"""Keras LSTM: forward recomputation and the relevance recurrence (Arras et al. 2017)."""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.recurrent.cells import _CellMap, _Pair
from keras_text_lrp.rules.recurrent.common import _active, _or, _pass_masked, _Recurrence, _scan, _shift


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
