"""Plain-numpy float64 reference of SEMANTICS.md, "Recurrent layers" (and the few
feed-forward rules the recurrent test models need).

Clean room: written from the formulas in SEMANTICS.md only; nothing here comes
from keras_text_lrp. Keras is used only to read a layer's configuration and
``get_weights()``. One sample at a time, with explicit loops over time steps
and over the units of every map (inner products over a unit's inputs are numpy
dot products).

A *rule* is a dict::

    {"linear": "epsilon" | "z" | "alpha_beta" | "w_square" | "flat",
     "epsilon": float, "bias_factor": float,          # epsilon
     "alpha": float, "beta": float, "bias": bool,     # alpha_beta
     "gate_rule": "signal_take_all" | "proportional" | "abs" | "half",
     "seed": "logit" | "relu_logit"}

Inside recurrent cells every linear map (gate and candidate pre-activations)
takes the rule's linear rule; the sums ``c_t = f*c_{t-1} + i*g`` (LSTM) and
``h_t = z*h_{t-1} + (1-z)*hh`` (GRU) take the epsilon rule with the same
epsilon/bias_factor for epsilon rules, the z rule (safe divide) otherwise.

Where SEMANTICS.md leaves a detail open, this reference (and the library) take:

* the stabiliser share of a sum (bias_factor > 0) is spread over all 2*units
  lower units, for the GRU's ``h_t`` as for the LSTM's ``c_t``;
* GRU ``reset_after=True``: the candidate ``x W_h + b_h + r*(h U_h + b_rh)`` is a
  linear map over the inputs x and one more input per unit, ``m_j = r_j*a_j``
  (fan-in ``input_dim + 1``); ``a = h U_h + b_rh`` is a map of its own (fan-in
  ``units``); the product ``r*a`` has gate r and signal a.
  ``reset_after=False``: ``x W_h + (r*h) U_h + b_h`` is one map over x and
  ``r*h`` (fan-in ``input_dim + units``); the product ``r*h`` has gate r and
  signal ``h_{t-1}``;
* relevance given to the GRU gate ``(1 - z)`` joins z's pre-activation;
* "proportional"/"abs" use the stabilised, bounded shares of SEMANTICS.md (see ``gate_split``);
* a masked step's output is the carried state (keras' default), so relevance
  arriving there joins it; outputs keras sets to 0 at masked steps
  (Bidirectional with return_sequences, ``zero_output_for_mask``) pass nothing;
* relevance reaching the zero initial states is reported (``init``), not returned.
"""

from __future__ import annotations

import numpy as np

SAFE = 1e-7
GATE_RULES = ("signal_take_all", "proportional", "abs", "half")


def rule_for(name: str, **kw) -> dict:
    """The reference rule dict of a library analyzer name and its options."""
    gate = kw.get("gate_rule", "signal_take_all")
    base = {"gate_rule": gate, "seed": "logit"}
    if name == "lrp.lstm":
        return {**base, "linear": "epsilon", "epsilon": kw.get("epsilon", 1e-3),
                "bias_factor": kw.get("bias_factor", 0.0)}
    if name == "lrp.epsilon":
        return {**base, "linear": "epsilon", "epsilon": kw.get("epsilon", 1e-7),
                "bias_factor": kw.get("bias_factor", 0.0)}
    if name in ("lrp.sequential_preset_a", "lrp.sequential_preset_b"):
        return {**base, "linear": "epsilon", "epsilon": kw.get("epsilon", 0.1), "bias_factor": 0.0}
    if name == "lrp.z":
        return {**base, "linear": "z"}
    ab = {
        "lrp.alpha_2_beta_1": (2.0, 1.0, True), "lrp.alpha_2_beta_1_IB": (2.0, 1.0, False),
        "lrp.alpha_1_beta_0": (1.0, 0.0, True), "lrp.alpha_1_beta_0_IB": (1.0, 0.0, False),
        "lrp.z_plus": (1.0, 0.0, False), "deep_taylor": (1.0, 0.0, False),
    }
    if name in ab:
        a, b, bias = ab[name]
        out = {**base, "linear": "alpha_beta", "alpha": a, "beta": b, "bias": bias}
        if name == "deep_taylor":
            out["seed"] = "relu_logit"
        return out
    if name == "lrp.w_square":
        return {**base, "linear": "w_square"}
    if name == "lrp.flat":
        return {**base, "linear": "flat"}
    raise KeyError(name)


# ---------------------------------------------------------------------------
# scalar helpers
# ---------------------------------------------------------------------------
def sgn(v: float) -> float:
    return 1.0 if v >= 0 else -1.0


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _hard_sigmoid(v):
    return np.clip(v / 6.0 + 0.5, 0.0, 1.0)


ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "linear": lambda v: v,
}


def _act(config_value):
    name = config_value if isinstance(config_value, str) else config_value.get("config", config_value)
    return ACTIVATIONS[name]


# ---------------------------------------------------------------------------
# the linear rules, unit by unit
# ---------------------------------------------------------------------------
def linear_rule(groups, bias, R, rule):
    """Relevance of the inputs of ``z_j = sum_g sum_i x_gi W_g[i, j] + b_j``.

    ``groups``: list of ``(x, W, C)`` with ``x`` (n,), ``W`` (n, k) and the
    connectivity ``C`` (n, k) (which input feeds which unit). ``N_j`` is the
    number of inputs connected to unit j. Returns one array per group.
    """
    kind = rule["linear"]
    k = len(R)
    out = [np.zeros(len(x)) for x, _, _ in groups]
    for j in range(k):
        if R[j] == 0.0:
            continue
        b = 0.0 if bias is None else bias[j]
        if kind in ("epsilon", "z"):
            z = sum(float(x @ W[:, j]) for x, W, _ in groups) + b
            if kind == "z":
                den, bf, eps = (z if z != 0 else SAFE), 0.0, 0.0
            else:
                eps, bf = rule["epsilon"], rule["bias_factor"]
                den = z + eps * sgn(z)
            n_j = sum(int(C[:, j].sum()) for _, _, C in groups)
            for g, (x, W, C) in enumerate(groups):
                share = bf * (b + eps * sgn(z)) / n_j * C[:, j]
                out[g] += (x * W[:, j] + share) / den * R[j]
        elif kind == "alpha_beta":
            alpha, beta = rule["alpha"], rule["beta"]
            za = zi = 0.0
            for x, W, _ in groups:
                xp, xn = np.maximum(x, 0), np.minimum(x, 0)
                wp, wn = np.maximum(W[:, j], 0), np.minimum(W[:, j], 0)
                za += xp @ wp + xn @ wn
                zi += xp @ wn + xn @ wp
            if rule["bias"]:
                za += max(b, 0.0)
                zi += min(b, 0.0)
            for g, (x, W, _) in enumerate(groups):
                xp, xn = np.maximum(x, 0), np.minimum(x, 0)
                wp, wn = np.maximum(W[:, j], 0), np.minimum(W[:, j], 0)
                if za != 0:
                    out[g] += alpha * (xp * wp + xn * wn) / za * R[j]
                if zi != 0 and beta:
                    out[g] -= beta * (xp * wn + xn * wp) / zi * R[j]
        elif kind in ("w_square", "flat"):
            vs = [(W[:, j] ** 2 if kind == "w_square" else C[:, j].astype(float)) for _, W, C in groups]
            den = sum(v.sum() for v in vs)
            den = den if den != 0 else SAFE
            for g, v in enumerate(vs):
                out[g] += v / den * R[j]
        else:
            raise KeyError(kind)
    return out


def dense_groups(x, W):
    return (x, W, np.ones(W.shape, bool))


def diagonal_groups(x, k):
    return (x, np.eye(k), np.eye(k, dtype=bool))


def sum_split(a, b, total, R, rule):
    """``total = a + b`` unit by unit; the epsilon stabiliser share (bias_factor)
    is spread evenly over all 2*units lower units of both summands."""
    units = len(total)
    ra, rb = np.zeros(units), np.zeros(units)
    epsilon_rule = rule["linear"] == "epsilon"
    eps = rule["epsilon"] if epsilon_rule else 0.0
    bf = rule["bias_factor"] if epsilon_rule else 0.0
    stab = 0.0
    for j in range(units):
        if epsilon_rule:
            den = total[j] + eps * sgn(total[j])
        else:
            den = total[j] if total[j] != 0 else SAFE
        ra[j] = a[j] / den * R[j]
        rb[j] = b[j] / den * R[j]
        stab += bf * eps * sgn(total[j]) / den * R[j]
    return ra + stab / (2 * units), rb + stab / (2 * units)


def gate_split(gate: float, signal: float, r: float, rule: dict) -> tuple[float, float]:
    """Relevance ``r`` of ``gate * signal`` -> (gate's share, signal's share).

    "proportional"/"abs" (SEMANTICS.md, "Recurrent layers"): with a, b the two
    factors (absolute values for "abs"), the epsilon of the rule (epsilon rules;
    1e-7 otherwise) and its bias_factor (epsilon rules; 0 otherwise):
    d = a + b + eps*sign(a + b), e = bias_factor*eps*sign(a + b)/2,
    T = (a + b + 2e)/d, gate share clip((a + e)/d, 0, T), signal share T - it.
    """
    gate_rule = rule["gate_rule"]
    if gate_rule == "signal_take_all":
        return 0.0, r
    if gate_rule == "half":
        return 0.5 * r, 0.5 * r
    a, b = (abs(gate), abs(signal)) if gate_rule == "abs" else (gate, signal)
    epsilon_rule = rule["linear"] == "epsilon"
    eps = (rule["epsilon"] or SAFE) if epsilon_rule else SAFE
    bf = rule["bias_factor"] if epsilon_rule else 0.0
    s = sgn(a + b)
    d = a + b + eps * s
    e = bf * eps * s / 2.0
    total = (a + b + 2.0 * e) / d
    share = min(max((a + e) / d, 0.0), total)
    return share * r, (total - share) * r


# ---------------------------------------------------------------------------
# recurrent cells, one sample
# ---------------------------------------------------------------------------
class Cell:
    """Weights and activations of an LSTM/GRU/SimpleRNN cell (float64)."""

    def __init__(self, kind: str, config: dict, weights: list):
        self.kind = kind
        w = [np.asarray(v, np.float64) for v in weights]
        self.W, self.U = w[0], w[1]
        self.b = w[2] if len(w) > 2 else None
        self.units = config["units"]
        self.act = _act(config["activation"])
        self.ract = _act(config.get("recurrent_activation", "sigmoid"))
        self.reset_after = config.get("reset_after", True)
        if kind == "gru":
            u = self.units
            if self.b is None:
                self.b_in = self.b_rec = np.zeros(3 * u)
            elif self.reset_after:
                self.b_in, self.b_rec = self.b[0], self.b[1]
            else:
                self.b_in, self.b_rec = self.b, np.zeros(3 * u)

    # -- one forward step: returns the new state and what the backward step needs
    def step(self, x, h, c):
        u = self.units
        if self.kind == "simple_rnn":
            z = np.array([x @ self.W[:, j] + h @ self.U[:, j] + (0 if self.b is None else self.b[j])
                          for j in range(u)])
            h_new = self.act(z)
            return h_new, c, {}
        if self.kind == "lstm":
            b = np.zeros(4 * u) if self.b is None else self.b
            z = np.array([x @ self.W[:, j] + h @ self.U[:, j] + b[j] for j in range(4 * u)])
            i, f = self.ract(z[:u]), self.ract(z[u:2 * u])
            g, o = self.act(z[2 * u:3 * u]), self.ract(z[3 * u:])
            c_new = np.array([f[j] * c[j] + i[j] * g[j] for j in range(u)])
            h_new = np.array([o[j] * self.act(c_new[j]) for j in range(u)])
            return h_new, c_new, {"i": i, "f": f, "g": g, "o": o}
        # GRU, gate order z, r, h
        zg, r, a, cand = np.zeros(u), np.zeros(u), np.zeros(u), np.zeros(u)
        for j in range(u):
            pz = x @ self.W[:, j] + self.b_in[j] + h @ self.U[:, j] + self.b_rec[j]
            pr = x @ self.W[:, u + j] + self.b_in[u + j] + h @ self.U[:, u + j] + self.b_rec[u + j]
            zg[j], r[j] = self.ract(pz), self.ract(pr)
        for j in range(u):
            if self.reset_after:
                a[j] = h @ self.U[:, 2 * u + j] + self.b_rec[2 * u + j]
                cand[j] = x @ self.W[:, 2 * u + j] + self.b_in[2 * u + j] + r[j] * a[j]
            else:
                cand[j] = x @ self.W[:, 2 * u + j] + self.b_in[2 * u + j] + (r * h) @ self.U[:, 2 * u + j]
        hh = self.act(cand)
        h_new = np.array([zg[j] * h[j] + (1 - zg[j]) * hh[j] for j in range(u)])
        return h_new, c, {"z": zg, "r": r, "a": a, "hh": hh}

    # -- one backward step: (R_x, R_h_prev, R_c_prev)
    def back(self, x, h_prev, c_prev, c_new, h_new, st, R_h, R_c, rule):
        u = self.units
        if self.kind == "simple_rnn":
            rx, rh = linear_rule([dense_groups(x, self.W), dense_groups(h_prev, self.U)], self.b, R_h, rule)
            return rx, rh, R_c
        if self.kind == "lstm":
            i, f, g, o = st["i"], st["f"], st["g"], st["o"]
            r_o, r_ct = np.zeros(u), R_c.copy()
            for j in range(u):  # h = o * tanh(c)
                r_o[j], r_sig = gate_split(o[j], self.act(c_new[j]), R_h[j], rule)
                r_ct[j] += r_sig
            r_fc, r_ig = sum_split(f * c_prev, i * g, c_new, r_ct, rule)
            r_f, r_cp, r_i, r_g = np.zeros(u), np.zeros(u), np.zeros(u), np.zeros(u)
            for j in range(u):
                r_f[j], r_cp[j] = gate_split(f[j], c_prev[j], r_fc[j], rule)
                r_i[j], r_g[j] = gate_split(i[j], g[j], r_ig[j], rule)
            r_pre = np.concatenate([r_i, r_f, r_g, r_o])
            rx, rh = linear_rule([dense_groups(x, self.W), dense_groups(h_prev, self.U)], self.b, r_pre, rule)
            return rx, rh, r_cp
        zg, r, a, hh = st["z"], st["r"], st["a"], st["hh"]
        r_keep, r_new = sum_split(zg * h_prev, (1 - zg) * hh, h_new, R_h, rule)
        r_z, r_hp, r_hh = np.zeros(u), np.zeros(u), np.zeros(u)
        for j in range(u):
            g1, s1 = gate_split(zg[j], h_prev[j], r_keep[j], rule)
            g2, s2 = gate_split(1 - zg[j], hh[j], r_new[j], rule)
            r_z[j], r_hp[j], r_hh[j] = g1 + g2, s1, s2
        W_h, U_h = self.W[:, 2 * u:], self.U[:, 2 * u:]
        r_r = np.zeros(u)
        if self.reset_after:
            m = r * a
            groups = [dense_groups(x, W_h), diagonal_groups(m, u)]
            rx, r_m = linear_rule(groups, self.b_in[2 * u:], r_hh, rule)
            r_a = np.zeros(u)
            for j in range(u):
                r_r[j], r_a[j] = gate_split(r[j], a[j], r_m[j], rule)
            (rh,) = linear_rule([dense_groups(h_prev, U_h)], self.b_rec[2 * u:], r_a, rule)
            r_hp = r_hp + rh
        else:
            m = r * h_prev
            rx, r_m = linear_rule([dense_groups(x, W_h), dense_groups(m, U_h)], self.b_in[2 * u:], r_hh, rule)
            for j in range(u):
                r_r[j], sig = gate_split(r[j], h_prev[j], r_m[j], rule)
                r_hp[j] += sig
        b_zr = self.b_in[:2 * u] + self.b_rec[:2 * u] if self.b is not None else None
        rx2, rh2 = linear_rule(
            [dense_groups(x, self.W[:, :2 * u]), dense_groups(h_prev, self.U[:, :2 * u])],
            b_zr, np.concatenate([r_z, r_r]), rule,
        )
        return rx + rx2, r_hp + rh2, R_c


def rnn_forward(cell: Cell, X, mask, go_backwards: bool):
    """Run one direction; returns the per-step record in processing order."""
    T = X.shape[0]
    order = list(range(T))[::-1] if go_backwards else list(range(T))
    h, c = np.zeros(cell.units), np.zeros(cell.units)
    steps = []
    for t in order:
        if mask is not None and not mask[t]:
            steps.append({"t": t, "masked": True, "h": h, "c": c})
            continue
        h_new, c_new, st = cell.step(X[t], h, c)
        steps.append({"t": t, "masked": False, "h_prev": h, "c_prev": c, "h": h_new, "c": c_new,
                      "st": st})
        h, c = h_new, c_new
    return steps


def rnn_backward(cell: Cell, X, steps, R_seq, R_last, rule, zero_masked_outputs: bool):
    """Relevance recurrence back in time.

    ``R_seq``: relevance of each output in processing order (or None);
    ``R_last``: relevance of the last output (or None). Returns ``(R_x, R_init)``:
    the input relevances in input order and the relevance left on the zero
    initial states.
    """
    u = cell.units
    R_x = np.zeros(X.shape)
    R_h = np.zeros(u) if R_last is None else np.array(R_last, np.float64)
    R_c = np.zeros(u)
    for k in range(len(steps) - 1, -1, -1):
        s = steps[k]
        if R_seq is not None and not (s["masked"] and zero_masked_outputs):
            R_h = R_h + R_seq[k]
        if s["masked"]:
            continue  # the carried state and its relevance go straight back
        rx, R_h, R_c = cell.back(X[s["t"]], s["h_prev"], s["c_prev"], s["c"], s["h"], s["st"],
                                 R_h, R_c, rule)
        R_x[s["t"]] = rx
    return R_x, float(R_h.sum() + R_c.sum())


# ---------------------------------------------------------------------------
# models: a chain of layers
# ---------------------------------------------------------------------------
_RNN_KINDS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn",
              "LSTMCell": "lstm", "GRUCell": "gru", "SimpleRNNCell": "simple_rnn"}


def _rnn_spec(layer):
    """(cell, go_backwards, return_sequences, zero_output_for_mask) of an RNN layer."""
    cfg = layer.get_config()
    cls = type(layer).__name__
    if cls == "RNN":
        cell_layer = layer.cell
        kind = _RNN_KINDS[type(cell_layer).__name__]
        cell_cfg = cell_layer.get_config()
    else:
        kind = _RNN_KINDS[cls]
        cell_cfg = cfg
    cell = Cell(kind, cell_cfg, layer.get_weights())
    zero = bool(getattr(layer, "zero_output_for_mask", False))
    return cell, cfg["go_backwards"], cfg["return_sequences"], zero


class Model:
    """A chain model read from keras: Embedding/Masking, recurrent layers, pooling, Dense."""

    def __init__(self, keras_model):
        self.layers = [lay for lay in keras_model.layers if type(lay).__name__ != "InputLayer"]
        self._specs: dict = {}
        self._weights: dict = {}

    def spec(self, layer):
        """The cell and flags of an RNN layer, read once."""
        if id(layer) not in self._specs:
            self._specs[id(layer)] = _rnn_spec(layer)
        return self._specs[id(layer)]

    def weights(self, layer):
        """``layer.get_weights()`` in float64, read once."""
        if id(layer) not in self._weights:
            self._weights[id(layer)] = [np.asarray(w, np.float64) for w in layer.get_weights()]
        return self._weights[id(layer)]

    # -- forward, one sample; returns the logits and a record for the backward pass
    def forward(self, x, vectors=None):
        """``vectors``: use these as the Embedding output (finite differences)."""
        recs = []
        mask = None
        h = x
        for lay in self.layers:
            cls = type(lay).__name__
            rec = {"layer": lay, "cls": cls, "x": h, "mask": mask}
            if cls == "Embedding":
                E = self.weights(lay)[0]
                tokens = np.asarray(h)
                out = E[tokens] if vectors is None else vectors
                mask = (tokens != 0) if lay.get_config()["mask_zero"] else None
                rec["out"] = out
            elif cls == "Masking":
                mv = lay.get_config()["mask_value"]
                mask = np.any(h != mv, axis=-1)
                out = h * mask[:, None]
            elif cls in ("Dropout", "SpatialDropout1D"):
                out = h
            elif cls in ("LSTM", "GRU", "SimpleRNN", "RNN"):
                cell, back, seq, zero = self.spec(lay)
                steps = rnn_forward(cell, h, mask, back)
                outs = np.stack([s["h"] for s in steps])
                if zero and mask is not None:
                    outs = outs * np.array([not s["masked"] for s in steps], float)[:, None]
                rec.update(cell=cell, steps=steps, seq=seq, zero=zero and mask is not None)
                out = outs if seq else steps[-1]["h"]
                mask = mask if seq else None
            elif cls == "Bidirectional":
                merge = lay.merge_mode
                seq = lay.return_sequences
                dirs = []
                for sub in (lay.forward_layer, lay.backward_layer):
                    cell, back, _, _ = self.spec(sub)
                    steps = rnn_forward(cell, h, mask, back)
                    outs = np.stack([s["h"] for s in steps])
                    if seq and mask is not None:  # Bidirectional zeroes masked sequence outputs
                        outs = outs * np.array([not s["masked"] for s in steps], float)[:, None]
                    dirs.append((cell, steps, outs if seq else steps[-1]["h"]))
                y_f = dirs[0][2]
                y_b = dirs[1][2][::-1] if seq else dirs[1][2]
                rec.update(dirs=dirs, seq=seq, merge=merge, y_f=y_f, y_b=y_b)
                if merge == "concat":
                    out = np.concatenate([y_f, y_b], axis=-1)
                elif merge == "sum":
                    out = y_f + y_b
                elif merge == "ave":
                    out = (y_f + y_b) / 2
                else:
                    raise KeyError(merge)
                mask = mask if seq else None
            elif cls == "GlobalMaxPooling1D":
                out = h.max(axis=0)
                mask = None
            elif cls == "GlobalAveragePooling1D":
                w = np.ones(h.shape[0]) if mask is None else mask.astype(float)
                rec["w"] = w
                out = (h * w[:, None]).sum(0) / w.sum()
                mask = None
            elif cls == "Flatten":
                out = h.reshape(-1)
                mask = None
            elif cls == "Dense":
                ws = self.weights(lay)
                W = ws[0]
                b = ws[1] if len(ws) > 1 else None
                z = h @ W + (0 if b is None else b)
                act = lay.get_config()["activation"]
                rec.update(W=W, b=b, z=z, act=act)
                out = np.maximum(z, 0) if act == "relu" else z
                assert act in ("relu", "linear"), act
            else:
                raise KeyError(f"reference does not know {cls}")
            rec["out"] = out
            recs.append(rec)
            h = out
        return h, recs

    def analyze(self, x, selection: int | None, rule: dict) -> dict:
        """LRP of one sample: relevance at the Embedding output (or the input).

        Returns ``R`` (T, D), ``init`` (relevance on all zero initial states),
        ``logits`` and the selected index.
        """
        logits, recs = self.forward(x)
        sel = int(np.argmax(logits)) if selection is None else int(selection)
        R = np.zeros_like(logits)
        R[sel] = logits[sel] if rule["seed"] == "logit" else max(logits[sel], 0.0)
        init = 0.0
        for rec in reversed(recs):
            cls = rec["cls"]
            if cls == "Embedding":
                break
            h_in = rec["x"]
            if cls == "Dense":
                if rec["act"] == "relu" and rule["seed"] == "relu_logit":
                    R = R * (rec["z"] > 0)
                W = rec["W"]
                C = np.ones(W.shape, bool)
                (R,) = linear_rule([(h_in, W, C)], rec["b"], R, rule)
            elif cls == "Flatten":
                R = R.reshape(h_in.shape)
            elif cls == "GlobalMaxPooling1D":
                out = np.zeros(h_in.shape)
                for d in range(h_in.shape[1]):
                    out[int(np.argmax(h_in[:, d])), d] = R[d]
                R = out
            elif cls == "GlobalAveragePooling1D":
                w = rec["w"]
                y = rec["out"]
                ratio = np.where(y == 0, R / SAFE, R / np.where(y == 0, 1, y))
                R = h_in * (w[:, None] / w.sum()) * ratio[None, :]
            elif cls in ("Dropout", "SpatialDropout1D", "Masking"):
                pass
            elif cls in ("LSTM", "GRU", "SimpleRNN", "RNN"):
                seq_R = R if rec["seq"] else None
                last_R = None if rec["seq"] else R
                R, i0 = rnn_backward(rec["cell"], h_in, rec["steps"], seq_R, last_R, rule, rec["zero"])
                init += i0
            elif cls == "Bidirectional":
                y_f, y_b, merge = rec["y_f"], rec["y_b"], rec["merge"]
                if merge == "concat":
                    u = y_f.shape[-1]
                    r_f, r_b = R[..., :u], R[..., u:]
                else:  # as Add / Average: proportional, safe divide of the merged output
                    y = rec["out"]
                    ratio = np.where(y == 0, R / SAFE, R / np.where(y == 0, 1, y))
                    scale = 1.0 if merge == "sum" else 0.5
                    r_f, r_b = y_f * scale * ratio, y_b * scale * ratio
                total = np.zeros(h_in.shape)
                for (cell, steps, _), r in zip(rec["dirs"], (r_f, r_b)):
                    back_seq = rec["seq"]
                    if back_seq and cell is rec["dirs"][1][0]:
                        r = r[::-1]  # the backward layer's own (processing) order
                    zero = back_seq and rec["mask"] is not None
                    rx, i0 = rnn_backward(cell, h_in, steps, r if back_seq else None,
                                          None if back_seq else r, rule, zero)
                    total += rx
                    init += i0
                R = total
            else:
                raise KeyError(cls)
        return {"R": R, "init": init, "logits": logits, "selection": sel}


def analyze_batch(keras_model, X, rule: dict, selection=None) -> dict:
    """:meth:`Model.analyze` for every sample; ``X`` holds token ids or float inputs."""
    model = Model(keras_model)
    out = {"R": [], "init": [], "logits": [], "selection": []}
    for n in range(len(X)):
        sel = None if selection is None else np.broadcast_to(selection, (len(X),))[n]
        res = model.analyze(np.asarray(X[n]) if np.asarray(X).dtype.kind in "iu" else
                            np.asarray(X[n], np.float64), sel, rule)
        for k in out:
            out[k].append(res[k])
    return {k: np.array(v) for k, v in out.items()}


def forward_batch(keras_model, X) -> np.ndarray:
    """Reference logits for every sample."""
    model = Model(keras_model)
    return np.array([model.forward(np.asarray(x) if np.asarray(X).dtype.kind in "iu" else
                                   np.asarray(x, np.float64))[0] for x in X])


def finite_difference_gradient(keras_model, X, selection, h=1e-5) -> np.ndarray:
    """d logit[selection] / d(Embedding output) by central differences (float64)."""
    model = Model(keras_model)
    out = []
    for n, x in enumerate(X):
        _, recs = model.forward(np.asarray(x))
        vectors = recs[0]["out"]
        g = np.zeros(vectors.shape)
        for idx in np.ndindex(*vectors.shape):
            plus, minus = vectors.copy(), vectors.copy()
            plus[idx] += h
            minus[idx] -= h
            up = model.forward(np.asarray(x), vectors=plus)[0][selection[n]]
            down = model.forward(np.asarray(x), vectors=minus)[0][selection[n]]
            g[idx] = (up - down) / (2 * h)
        out.append(g)
    return np.array(out)
