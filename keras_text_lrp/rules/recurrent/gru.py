"""Keras GRU (``reset_after`` True or False): forward recomputation and relevance recurrence."""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.recurrent.cells import _CellMap, _Pair
from keras_text_lrp.rules.recurrent.common import _active, _or, _pass_masked, _Recurrence, _scan, _shift


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
