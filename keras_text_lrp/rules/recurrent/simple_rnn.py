"""SimpleRNN: the linear rule on ``x W + h U + b``."""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.rules.recurrent.cells import _CellMap, _Pair
from keras_text_lrp.rules.recurrent.common import _active, _or, _pass_masked, _Recurrence, _scan, _shift


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
