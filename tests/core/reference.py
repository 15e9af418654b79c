"""Plain-numpy float64 reference implementations of SEMANTICS.md (feed-forward part).

Clean room: everything here is written from the formulas in ``SEMANTICS.md`` and
uses nothing from ``keras_text_lrp``.  Keras is used only to read a layer's
configuration and ``layer.get_weights()``.

Design
------
Every linear layer (Dense, Conv1D/2D, DepthwiseConv1D/2D, SeparableConv1D/2D,
EinsumDense, BatchNormalization) is turned into an explicit per-sample matrix

    z = x_flat @ M + b                (x_flat: (n_in,), M: (n_in, n_out))

built with explicit loops over output positions and kernel offsets, plus

    C  (n_in, n_out) bool   connectivity (which real input feeds which unit;
                            padded positions are not real inputs)
    N  (n_out,)             fan-in N_j as the spec defines it (for a conv the
                            kernel volume x input channels, padded positions
                            included)

All LRP rules are then written directly on (x, M, b, C, N).  A small DAG
interpreter (``RefGraph``) chains the ops; tests either build the graph by hand
or with ``RefGraph.from_layers`` for a plain chain of layers.
"""

from __future__ import annotations

import itertools

import numpy as np

SAFE_EPS = 1e-7  # the replacement of exact zeros in the z rule (safe divide)

LRP_NAMES = (
    "deep_taylor",
    "lrp.z",
    "lrp.epsilon",
    "lrp.alpha_beta",
    "lrp.alpha_2_beta_1",
    "lrp.alpha_2_beta_1_IB",
    "lrp.alpha_1_beta_0",
    "lrp.alpha_1_beta_0_IB",
    "lrp.z_plus",
    "lrp.w_square",
    "lrp.flat",
    "lrp.sequential_preset_a",
    "lrp.sequential_preset_b",
)
GRADIENT_NAMES = (
    "gradient",
    "input_t_gradient",
    "integrated_gradients",
    "smoothgrad",
    "guided_backprop",
    "deconvnet",
)
ALL_NAMES = GRADIENT_NAMES + LRP_NAMES


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def sign(z):
    """sign with sign(0) = +1 (SEMANTICS.md notation)."""
    return np.where(z >= 0, 1.0, -1.0)


def safe(z):
    """Exact zeros replaced by 1e-7 (the z rule's safe divide)."""
    return np.where(z == 0, SAFE_EPS, z)


def div_or_zero(a, d):
    """a / d where d != 0, else 0 ("a zero denominator contributes nothing")."""
    d = np.asarray(d, dtype=np.float64)
    out = np.zeros(np.broadcast(a, d).shape)
    nz = np.broadcast_to(d != 0, out.shape)
    a_b = np.broadcast_to(a, out.shape)
    d_b = np.broadcast_to(d, out.shape)
    out[nz] = a_b[nz] / d_b[nz]
    return out


def _tuple(v, n):
    if isinstance(v, int):
        return (v,) * n
    return tuple(int(t) for t in v)


def conv_geometry(size, k, s, d, padding):
    """(output size, padding before) along one axis, Keras/TF conventions."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        out = (size - eff) // s + 1
        return out, 0
    if padding == "same":
        out = -(-size // s)
        pad_total = max((out - 1) * s + eff - size, 0)
        return out, pad_total // 2
    raise NotImplementedError(padding)


def act_fn(name, z):
    if name in (None, "linear"):
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    raise NotImplementedError(f"activation {name!r}")


def act_grad(name, z, g, mode):
    """Backward signal through an activation.

    mode "plain": ordinary gradient; "guided": at a ReLU relu(g) masked by the
    forward ReLU; "deconvnet": at a ReLU relu(g) without the forward mask.
    """
    if name in (None, "linear"):
        return g
    if name == "relu":
        if mode == "plain":
            return g * (z > 0)
        if mode == "guided":
            return np.maximum(g, 0.0) * (z > 0)
        if mode == "deconvnet":
            return np.maximum(g, 0.0)
        raise ValueError(mode)
    if name == "tanh":
        return g * (1.0 - np.tanh(z) ** 2)
    raise NotImplementedError(f"activation {name!r}")


# ----------------------------------------------------------------------------
# explicit matrices of the linear layers
# ----------------------------------------------------------------------------
def dense_matrix(W, in_shape):
    """Dense on the last axis of in_shape=(*S, Cin); W (Cin, Cout)."""
    *S, cin = in_shape
    cout = W.shape[1]
    P = int(np.prod(S)) if S else 1
    M = np.zeros((P * cin, P * cout))
    C = np.zeros_like(M, dtype=bool)
    for p in range(P):
        M[p * cin:(p + 1) * cin, p * cout:(p + 1) * cout] = W
        C[p * cin:(p + 1) * cin, p * cout:(p + 1) * cout] = True
    N = np.full(P * cout, float(cin))
    return M, C, N, tuple(S) + (cout,)


def conv_matrix(kernel, in_shape, strides, padding, dilation, depthwise=False):
    """N-d convolution (channels_last) as an explicit matrix.

    kernel: (*K, Cin, Cout) for a plain conv, (*K, Cin, dm) for a depthwise one
    (output channel c*dm + m).
    """
    nd = len(in_shape) - 1
    S = in_shape[:nd]
    cin = in_shape[nd]
    K = kernel.shape[:nd]
    strides = _tuple(strides, nd)
    dilation = _tuple(dilation, nd)
    geo = [conv_geometry(S[a], K[a], strides[a], dilation[a], padding) for a in range(nd)]
    OUT = tuple(g[0] for g in geo)
    pad = tuple(g[1] for g in geo)
    if depthwise:
        dm = kernel.shape[-1]
        cout = cin * dm
    else:
        cout = kernel.shape[-1]
    n_in = int(np.prod(S)) * cin
    n_out = int(np.prod(OUT)) * cout
    M = np.zeros((n_in, n_out))
    C = np.zeros((n_in, n_out), dtype=bool)
    for o in itertools.product(*[range(n) for n in OUT]):
        o_flat = int(np.ravel_multi_index(o, OUT))
        for k in itertools.product(*[range(n) for n in K]):
            p = tuple(o[a] * strides[a] - pad[a] + k[a] * dilation[a] for a in range(nd))
            if any(p[a] < 0 or p[a] >= S[a] for a in range(nd)):
                continue  # a padded position: no real input
            p_flat = int(np.ravel_multi_index(p, S))
            rows = slice(p_flat * cin, (p_flat + 1) * cin)
            if depthwise:
                for c in range(cin):
                    for m in range(dm):
                        col = o_flat * cout + c * dm + m
                        M[p_flat * cin + c, col] += kernel[k + (c, m)]
                        C[p_flat * cin + c, col] = True
            else:
                cols = slice(o_flat * cout, (o_flat + 1) * cout)
                M[rows, cols] += kernel[k]
                C[rows, cols] = True
    kvol = int(np.prod(K))
    N = np.full(n_out, float(kvol * (1 if depthwise else cin)))
    return M, C, N, OUT + (cout,)


def einsum_matrix(equation, W, in_shape):
    """EinsumDense's linear map (batch axis = first letter) by applying the
    equation to every basis vector."""
    n_in = int(np.prod(in_shape))
    rows, crow = [], []
    ones = np.ones_like(W)
    for i in range(n_in):
        e = np.zeros(n_in)
        e[i] = 1.0
        e = e.reshape((1,) + tuple(in_shape))
        rows.append(np.einsum(equation, e, W).reshape(-1))
        crow.append(np.einsum(equation, e, ones).reshape(-1))
    out_shape = np.einsum(equation, np.zeros((1,) + tuple(in_shape)), W).shape[1:]
    M = np.array(rows)
    C = np.array(crow) != 0
    N = C.sum(axis=0).astype(np.float64)
    return M, C, N, tuple(out_shape)


# ----------------------------------------------------------------------------
# ops
# ----------------------------------------------------------------------------
class Op:
    n_inputs = 1
    name = "op"

    def forward(self, xs):
        raise NotImplementedError

    def lrp(self, xs, y, R, cfg):
        raise NotImplementedError

    def grad(self, xs, y, g, mode):
        raise NotImplementedError


class LinearOp(Op):
    """A linear layer y = act(x M + b) with its spec metadata.

    family: "dense", "conv", "einsum" or "bn" (used by the sequential presets).
    """

    def __init__(self, M, b, C, N, in_shape, out_shape, activation="linear",
                 family="dense", name="linear"):
        self.M = np.asarray(M, np.float64)
        self.b = np.asarray(b, np.float64).reshape(-1)
        self.C = np.asarray(C, bool)
        self.N = np.asarray(N, np.float64)
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        self.activation = activation
        self.family = family
        self.name = name
        assert self.M.shape == (int(np.prod(in_shape)), int(np.prod(out_shape)))
        assert self.b.shape == (self.M.shape[1],)

    # -- forward
    def z(self, x):
        B = x.shape[0]
        return x.reshape(B, -1) @ self.M + self.b

    def forward(self, xs):
        x = xs[0]
        z = self.z(x)
        return act_fn(self.activation, z).reshape((x.shape[0],) + self.out_shape)

    # -- gradient
    def grad(self, xs, y, g, mode):
        x = xs[0]
        B = x.shape[0]
        z = self.z(x)
        gz = act_grad(self.activation, z, g.reshape(B, -1), mode)
        return [(gz @ self.M.T).reshape(x.shape)]

    # -- LRP
    def lrp(self, xs, y, R, cfg):
        x = xs[0]
        B = x.shape[0]
        xf = x.reshape(B, -1)
        Rz = R.reshape(B, -1)
        rule = cfg.rule_for(self)
        # deep_taylor applies z+ to the layer's linear part without masking by its ReLU
        # (as iNNvestigate; SEMANTICS.md, deep_taylor).
        kind = rule[0]
        if kind in ("z", "epsilon"):
            cfg.track(np.abs(xf)[:, :, None] * np.abs(self.M)[None], self.z(x), Rz,
                      np.abs(self.b))
        if kind == "z":
            out = lrp_z(xf, self.M, self.b, Rz)
        elif kind == "epsilon":
            out = lrp_epsilon(xf, self.M, self.b, self.C, self.N, Rz, rule[1], rule[2])
        elif kind == "alpha_beta":
            out = lrp_alpha_beta(xf, self.M, self.b, Rz, rule[1], rule[2], rule[3])
        elif kind == "w_square":
            out = lrp_v_rule(self.M ** 2, Rz)
        elif kind == "flat":
            out = lrp_v_rule(self.C.astype(np.float64), Rz)
        else:
            raise ValueError(rule)
        return [out.reshape(x.shape)]


# -- the linear rules, straight from SEMANTICS.md ---------------------------
def lrp_z(x, M, b, R):
    """R_i = sum_j x_i w_ij / z_j R_j, exact zeros of z replaced by 1e-7."""
    B, n_in = x.shape
    out = np.zeros((B, n_in))
    for s in range(B):
        contrib = x[s][:, None] * M            # x_i w_ij
        z = contrib.sum(axis=0) + b
        out[s] = (contrib / safe(z)[None, :] * R[s][None, :]).sum(axis=1)
    return out


def lrp_epsilon(x, M, b, C, N, R, eps, bias_factor):
    """R_i = sum_j [x_i w_ij + bf (b_j + eps sign z_j)/N_j] / (z_j + eps sign z_j) R_j.

    The sum runs over the units j that input i really feeds (C_ij).
    """
    B, n_in = x.shape
    out = np.zeros((B, n_in))
    for s in range(B):
        contrib = x[s][:, None] * M
        z = contrib.sum(axis=0) + b
        stab = eps * sign(z)
        share = bias_factor * (b + stab) / N          # per (i, j) with C_ij
        num = contrib + C * share[None, :]
        out[s] = (num / (z + stab)[None, :] * R[s][None, :]).sum(axis=1)
    return out


def lrp_alpha_beta(x, M, b, R, alpha, beta, use_bias):
    """Spec's activator/inhibitor rule (NOT iNNvestigate's)."""
    xp, xn = np.maximum(x, 0), np.minimum(x, 0)
    Wp, Wn = np.maximum(M, 0), np.minimum(M, 0)
    bp, bn = np.maximum(b, 0), np.minimum(b, 0)
    za = xp @ Wp + xn @ Wn + (bp if use_bias else 0.0)
    zi = xp @ Wn + xn @ Wp + (bn if use_bias else 0.0)
    ra = div_or_zero(R, za)
    ri = div_or_zero(R, zi)
    act = xp * (ra @ Wp.T) + xn * (ra @ Wn.T)
    inh = xp * (ri @ Wn.T) + xn * (ri @ Wp.T)
    return alpha * act - beta * inh


def lrp_v_rule(V, R):
    """R_i = sum_j V_ij R_j / sum_i' V_i'j (V-layer applied to ones)."""
    denom = V.sum(axis=0)
    return div_or_zero(R, denom[None, :]) @ V.T


class MaxPoolOp(Op):
    """Max pooling; windows[j] = flat input indices (real positions only) of
    output unit j (flat over (*spatial, C))."""

    def __init__(self, windows, in_shape, out_shape, name="maxpool"):
        self.windows = windows
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.name = name

    def winners(self, x):
        B = x.shape[0]
        xf = x.reshape(B, -1)
        win = np.zeros((B, len(self.windows)), dtype=int)
        for j, w in enumerate(self.windows):
            win[:, j] = w[np.argmax(xf[:, w], axis=1)]
        return xf, win

    def forward(self, xs):
        xf, win = self.winners(xs[0])
        B = xf.shape[0]
        return np.take_along_axis(xf, win, axis=1).reshape((B,) + self.out_shape)

    def _route(self, x, S):
        xf, win = self.winners(x)
        B = xf.shape[0]
        Sf = S.reshape(B, -1)
        out = np.zeros_like(xf)
        for s in range(B):
            for j in range(win.shape[1]):
                out[s, win[s, j]] += Sf[s, j]   # winner takes all
        return [out.reshape(x.shape)]

    def lrp(self, xs, y, R, cfg):
        return self._route(xs[0], R)

    def grad(self, xs, y, g, mode):
        return self._route(xs[0], g)


class AvgPoolOp(Op):
    """Average pooling over the real positions of each window (Keras excludes
    padding); optional mask (B, T) for masked global average pooling."""

    def __init__(self, windows, in_shape, out_shape, name="avgpool", mask=None):
        self.windows = windows
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.name = name
        self.mask_elem = mask  # (B, n_in) 0/1 weights or None

    def _weights(self, B):
        n_in = int(np.prod(self.in_shape))
        if self.mask_elem is None:
            return np.ones((B, n_in))
        return np.asarray(self.mask_elem, np.float64).reshape(B, n_in)

    def forward(self, xs):
        x = xs[0]
        B = x.shape[0]
        xf = x.reshape(B, -1)
        m = self._weights(B)
        out = np.zeros((B, len(self.windows)))
        for j, w in enumerate(self.windows):
            out[:, j] = (xf[:, w] * m[:, w]).sum(1) / m[:, w].sum(1)
        return out.reshape((B,) + self.out_shape)

    def lrp(self, xs, y, R, cfg):
        if cfg.merges_by_gradient:  # deep_taylor: pooling by the gradient
            return self.grad(xs, y, R, "plain")
        # proportional split R_i = x_i / sum(x) R (z rule with safe divide)
        x = xs[0]
        B = x.shape[0]
        xf = x.reshape(B, -1)
        m = self._weights(B)
        Rf = R.reshape(B, -1)
        out = np.zeros_like(xf)
        for j, w in enumerate(self.windows):
            cnt = m[:, w].sum(1, keepdims=True)
            contrib = xf[:, w] * m[:, w] / cnt
            z = contrib.sum(1, keepdims=True)
            cfg.track(np.abs(contrib)[:, :, None], z, Rf[:, j:j + 1])
            out[:, w] += contrib / safe(z) * Rf[:, j:j + 1]
        return [out.reshape(x.shape)]

    def grad(self, xs, y, g, mode):
        x = xs[0]
        B = x.shape[0]
        m = self._weights(B)
        gf = g.reshape(B, -1)
        out = np.zeros((B, int(np.prod(self.in_shape))))
        for j, w in enumerate(self.windows):
            out[:, w] += m[:, w] / m[:, w].sum(1, keepdims=True) * gf[:, j:j + 1]
        return [out.reshape(x.shape)]


def pool_windows(in_shape, pool, strides, padding):
    """Windows (flat input indices, real positions only) of an N-d pooling."""
    nd = len(in_shape) - 1
    S, cch = in_shape[:nd], in_shape[nd]
    pool = _tuple(pool, nd)
    strides = _tuple(strides if strides is not None else pool, nd)
    geo = [conv_geometry(S[a], pool[a], strides[a], 1, padding) for a in range(nd)]
    OUT = tuple(g[0] for g in geo)
    pad = tuple(g[1] for g in geo)
    windows = []
    for o in itertools.product(*[range(n) for n in OUT]):
        pos = []
        for k in itertools.product(*[range(n) for n in pool]):
            p = tuple(o[a] * strides[a] - pad[a] + k[a] for a in range(nd))
            if all(0 <= p[a] < S[a] for a in range(nd)):
                pos.append(int(np.ravel_multi_index(p, S)))
        for c in range(cch):
            windows.append(np.array([q * cch + c for q in pos]))
    return windows, OUT + (cch,)


def global_windows(in_shape):
    nd = len(in_shape) - 1
    P = int(np.prod(in_shape[:nd]))
    cch = in_shape[nd]
    return [np.array([q * cch + c for q in range(P)]) for c in range(cch)], (cch,)


class ActivationOp(Op):
    def __init__(self, activation, shape, name="activation"):
        self.activation = activation
        self.in_shape = self.out_shape = tuple(shape)
        self.name = name

    def forward(self, xs):
        return act_fn(self.activation, xs[0])

    def lrp(self, xs, y, R, cfg):
        if cfg.relu_by_gradient and self.activation == "relu":
            return [R * (xs[0] > 0)]
        return [R]  # activations pass relevance unchanged

    def grad(self, xs, y, g, mode):
        return [act_grad(self.activation, xs[0], g, mode)]


class ReshapeOp(Op):
    def __init__(self, in_shape, out_shape, name="reshape"):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.name = name

    def forward(self, xs):
        return xs[0].reshape((xs[0].shape[0],) + self.out_shape)

    def lrp(self, xs, y, R, cfg):
        return [R.reshape(xs[0].shape)]

    def grad(self, xs, y, g, mode):
        return [g.reshape(xs[0].shape)]


class RoutingOp(Op):
    """A layer that only moves values: y_flat = x_flat @ P with a 0/1 matrix P
    (ZeroPadding, Cropping, Permute, RepeatVector).  Relevance and gradient are
    routed as the gradient routes them: R_in = R_out @ P^T."""

    def __init__(self, P, in_shape, out_shape, name="routing"):
        self.P = np.asarray(P, np.float64)
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.name = name

    def forward(self, xs):
        B = xs[0].shape[0]
        return (xs[0].reshape(B, -1) @ self.P).reshape((B,) + self.out_shape)

    def _back(self, x, S):
        B = x.shape[0]
        return [(S.reshape(B, -1) @ self.P.T).reshape(x.shape)]

    def lrp(self, xs, y, R, cfg):
        return self._back(xs[0], R)

    def grad(self, xs, y, g, mode):
        return self._back(xs[0], g)


def routing_matrix(in_shape, out_shape, source):
    """P[i, j] = 1 where output element j (multi-index) copies input element
    source(j) (a multi-index, or None for a padded zero)."""
    P = np.zeros((int(np.prod(in_shape)), int(np.prod(out_shape))))
    for j_idx in itertools.product(*[range(n) for n in out_shape]):
        src = source(j_idx)
        if src is None:
            continue
        P[np.ravel_multi_index(src, in_shape), np.ravel_multi_index(j_idx, out_shape)] = 1.0
    return P


def _pairs(v, nd):
    """Keras padding/cropping argument -> ((before, after),) * nd."""
    if isinstance(v, int):
        return ((v, v),) * nd
    v = list(v)
    if nd == 1 and len(v) == 2 and all(isinstance(t, int) for t in v):
        return (tuple(v),)
    out = []
    for t in v:
        out.append((t, t) if isinstance(t, int) else tuple(t))
    return tuple(out)


class IdentityOp(ReshapeOp):
    def __init__(self, shape, name="identity"):
        super().__init__(shape, shape, name)


class MergeOp(Op):
    """Add / Subtract / Average (proportional split) and Concatenate (routing)."""

    def __init__(self, kind, shapes, axis=-1, name=None):
        self.kind = kind
        self.n_inputs = len(shapes)
        self.shapes = [tuple(s) for s in shapes]
        self.axis = axis
        self.name = name or kind
        if kind == "concatenate":
            ax = axis % len(shapes[0])
            out = list(shapes[0])
            out[ax] = sum(s[ax] for s in shapes)
            self.out_shape = tuple(out)
        else:
            self.out_shape = self.shapes[0]

    def _signs(self):
        if self.kind == "subtract":
            return [1.0, -1.0]
        if self.kind == "average":
            return [1.0 / self.n_inputs] * self.n_inputs
        return [1.0] * self.n_inputs

    def forward(self, xs):
        if self.kind == "concatenate":
            ax = self.axis if self.axis < 0 else self.axis + 1
            return np.concatenate(xs, axis=ax)
        return sum(c * x for c, x in zip(self._signs(), xs))

    def lrp(self, xs, y, R, cfg):
        if self.kind == "concatenate":
            return self._split(R)
        if cfg.merges_by_gradient:  # deep_taylor: Add/Average/Subtract by the gradient
            return self.grad(xs, y, R, "plain")
        contribs = [c * x for c, x in zip(self._signs(), xs)]
        z = sum(contribs)
        B = R.shape[0]
        cfg.track(np.stack([np.abs(c).reshape(B, -1) for c in contribs], axis=1),
                  z.reshape(B, -1), R.reshape(B, -1))
        return [ci / safe(z) * R for ci in contribs]

    def grad(self, xs, y, g, mode):
        if self.kind == "concatenate":
            return self._split(g)
        return [c * g for c in self._signs()]

    def _split(self, S):
        ax = self.axis if self.axis < 0 else self.axis + 1
        sizes = [s[self.axis] for s in self.shapes]
        idx = np.cumsum(sizes)[:-1]
        return np.split(S, idx, axis=ax)


# ----------------------------------------------------------------------------
# layer -> op (the reference's own reading of a Keras layer)
# ----------------------------------------------------------------------------
def op_from_layer(layer, in_shape, mask=None):
    """Build the reference op of a built Keras layer for a given input shape
    (without batch axis).  Uses only the layer's config and get_weights()."""
    import keras

    L = keras.layers
    cfg = layer.get_config()
    w = [np.asarray(v, np.float64) for v in layer.get_weights()]
    in_shape = tuple(int(s) for s in in_shape)
    name = layer.name
    act = cfg.get("activation", "linear")
    if isinstance(act, dict):  # serialized activation
        act = act.get("config", {}).get("name", act)

    if isinstance(layer, L.Dense):
        M, C, N, out = dense_matrix(w[0], in_shape)
        b = w[1] if len(w) > 1 else np.zeros(w[0].shape[1])
        b = np.tile(b, int(np.prod(out[:-1])) if len(out) > 1 else 1)
        return LinearOp(M, b, C, N, in_shape, out, act, "dense", name)
    if isinstance(layer, L.EinsumDense):
        M, C, N, out = einsum_matrix(cfg["equation"], w[0], in_shape)
        b = np.broadcast_to(w[1], out).reshape(-1) if len(w) > 1 else np.zeros(M.shape[1])
        return LinearOp(M, b, C, N, in_shape, out, act, "einsum", name)
    if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):
        nd = len(in_shape) - 1
        Md, Cd, _, mid = conv_matrix(w[0], in_shape, cfg["strides"], cfg["padding"],
                                     cfg["dilation_rate"], depthwise=True)
        Mp, Cp, _, out = conv_matrix(w[1], mid, 1, "valid", 1)
        M = Md @ Mp                       # the layer's linear part, as one map
        C = (Cd.astype(float) @ Cp.astype(float)) > 0
        kvol = int(np.prod(w[0].shape[:nd]))
        N = np.full(M.shape[1], float(kvol * in_shape[-1]))
        b = np.tile(w[2], int(np.prod(out[:-1]))) if len(w) > 2 else np.zeros(M.shape[1])
        return LinearOp(M, b, C, N, in_shape, out, act, "conv", name)
    if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        M, C, N, out = conv_matrix(w[0], in_shape, cfg["strides"], cfg["padding"],
                                   cfg["dilation_rate"], depthwise=True)
        b = np.tile(w[1], int(np.prod(out[:-1]))) if len(w) > 1 else np.zeros(M.shape[1])
        return LinearOp(M, b, C, N, in_shape, out, act, "conv", name)
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        assert cfg.get("groups", 1) == 1
        M, C, N, out = conv_matrix(w[0], in_shape, cfg["strides"], cfg["padding"],
                                   cfg["dilation_rate"])
        b = np.tile(w[1], int(np.prod(out[:-1]))) if len(w) > 1 else np.zeros(M.shape[1])
        return LinearOp(M, b, C, N, in_shape, out, act, "conv", name)
    if isinstance(layer, L.BatchNormalization):
        assert cfg["axis"] in (-1, len(in_shape)) or cfg["axis"] == [len(in_shape)]
        ch = in_shape[-1]
        it = iter(w)
        gamma = next(it) if cfg["scale"] else np.ones(ch)
        beta = next(it) if cfg["center"] else np.zeros(ch)
        mean, var = next(it), next(it)
        k = gamma / np.sqrt(var + cfg["epsilon"])
        c = beta - mean * k
        P = int(np.prod(in_shape[:-1])) if len(in_shape) > 1 else 1
        n = P * ch
        M = np.diag(np.tile(k, P))
        C = np.eye(n, dtype=bool)
        return LinearOp(M, np.tile(c, P), C, np.ones(n), in_shape, in_shape,
                        "linear", "bn", name)
    if isinstance(layer, (L.MaxPooling1D, L.MaxPooling2D)):
        win, out = pool_windows(in_shape, cfg["pool_size"], cfg["strides"], cfg["padding"])
        return MaxPoolOp(win, in_shape, out, name)
    if isinstance(layer, (L.AveragePooling1D, L.AveragePooling2D)):
        win, out = pool_windows(in_shape, cfg["pool_size"], cfg["strides"], cfg["padding"])
        return AvgPoolOp(win, in_shape, out, name)
    if isinstance(layer, (L.GlobalMaxPooling1D, L.GlobalMaxPooling2D)):
        assert not cfg.get("keepdims", False)
        win, out = global_windows(in_shape)
        return MaxPoolOp(win, in_shape, out, name)
    if isinstance(layer, (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D)):
        assert not cfg.get("keepdims", False)
        win, out = global_windows(in_shape)
        elem_mask = None
        if mask is not None:  # (B, T) -> per element (B, T*C)
            elem_mask = np.repeat(np.asarray(mask, np.float64), in_shape[-1], axis=1)
        return AvgPoolOp(win, in_shape, out, name, mask=elem_mask)
    if isinstance(layer, L.Flatten):
        return ReshapeOp(in_shape, (int(np.prod(in_shape)),), name)
    if isinstance(layer, L.Reshape):
        tgt = list(cfg["target_shape"])
        if -1 in tgt:
            known = int(np.prod([t for t in tgt if t != -1]))
            tgt[tgt.index(-1)] = int(np.prod(in_shape)) // known
        return ReshapeOp(in_shape, tuple(tgt), name)
    if isinstance(layer, (L.ZeroPadding1D, L.ZeroPadding2D, L.Cropping1D, L.Cropping2D)):
        nd = len(in_shape) - 1
        crop = isinstance(layer, (L.Cropping1D, L.Cropping2D))
        pairs = _pairs(cfg["cropping"] if crop else cfg["padding"], nd)
        if crop:
            out = tuple(in_shape[a] - pairs[a][0] - pairs[a][1] for a in range(nd))

            def src(j):
                return tuple(j[a] + pairs[a][0] for a in range(nd)) + (j[nd],)
        else:
            out = tuple(in_shape[a] + pairs[a][0] + pairs[a][1] for a in range(nd))

            def src(j):
                p = tuple(j[a] - pairs[a][0] for a in range(nd))
                if any(p[a] < 0 or p[a] >= in_shape[a] for a in range(nd)):
                    return None
                return p + (j[nd],)
        out = out + (in_shape[nd],)
        return RoutingOp(routing_matrix(in_shape, out, src), in_shape, out, name)
    if isinstance(layer, L.Permute):
        dims = [d - 1 for d in cfg["dims"]]  # output axis a = input axis dims[a]
        out = tuple(in_shape[d] for d in dims)

        def src(j):
            p = [0] * len(dims)
            for a, d in enumerate(dims):
                p[d] = j[a]
            return tuple(p)
        return RoutingOp(routing_matrix(in_shape, out, src), in_shape, out, name)
    if isinstance(layer, L.RepeatVector):
        out = (cfg["n"],) + in_shape
        return RoutingOp(routing_matrix(in_shape, out, lambda j: j[1:]), in_shape, out, name)
    if isinstance(layer, (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
                          L.GaussianNoise, L.GaussianDropout, L.Masking)):
        return IdentityOp(in_shape, name)
    if isinstance(layer, L.ReLU):
        assert cfg.get("negative_slope", 0) == 0 and cfg.get("max_value") is None
        assert cfg.get("threshold", 0) == 0
        return ActivationOp("relu", in_shape, name)
    if isinstance(layer, L.Activation):
        return ActivationOp(act, in_shape, name)
    raise NotImplementedError(f"reference has no op for {type(layer).__name__}")


# ----------------------------------------------------------------------------
# the DAG interpreter
# ----------------------------------------------------------------------------
class RefGraph:
    """Nodes in topological order (creation order).  Node = (op, input ids)."""

    def __init__(self):
        self.nodes = []      # list of (op or None for inputs, [ids], shape)
        self.inputs = []
        self.outputs = []

    def input(self, shape):
        self.nodes.append((None, [], tuple(shape)))
        nid = len(self.nodes) - 1
        self.inputs.append(nid)
        return nid

    def shape(self, nid):
        return self.nodes[nid][2]

    def apply(self, op, *ids):
        assert len(ids) == op.n_inputs, (op, ids)
        self.nodes.append((op, list(ids), tuple(op.out_shape)))
        return len(self.nodes) - 1

    def layer(self, layer, nid, mask=None):
        """Apply a Keras layer (read with op_from_layer) to node nid."""
        return self.apply(op_from_layer(layer, self.shape(nid), mask=mask), nid)

    def chain(self, layers, nid, mask=None):
        import keras

        for lay in layers:
            if isinstance(lay, keras.layers.InputLayer):
                continue
            nid = self.layer(lay, nid, mask=mask)
        return nid

    @classmethod
    def from_layers(cls, layers, input_shape, mask=None):
        g = cls()
        i = g.input(input_shape)
        g.outputs = [g.chain(layers, i, mask=mask)]
        return g

    # -- passes
    def forward(self, xs):
        vals = {}
        for nid, (op, ins, _) in enumerate(self.nodes):
            if op is None:
                vals[nid] = np.asarray(xs[self.inputs.index(nid)], np.float64)
            else:
                vals[nid] = op.forward([vals[i] for i in ins])
        return vals

    def output(self, xs):
        vals = self.forward(xs)
        return [vals[o] for o in self.outputs]

    def backward(self, xs, seeds, fn):
        """Generic reverse pass; seeds {out_id: array}; fn(op, inputs, y, S)."""
        vals = self.forward(xs)
        S = {k: np.array(v, np.float64) for k, v in seeds.items()}
        for nid in range(len(self.nodes) - 1, -1, -1):
            op, ins, _ = self.nodes[nid]
            if op is None or nid not in S:
                continue
            parts = fn(op, [vals[i] for i in ins], vals[nid], S[nid])
            for i, p in zip(ins, parts):
                S[i] = S[i] + p if i in S else np.array(p)   # summed at fan-out
        return [S.get(i, np.zeros_like(vals[i])) for i in self.inputs]

    def lrp(self, xs, seeds, cfg):
        return self.backward(xs, seeds, lambda op, xi, y, R: op.lrp(xi, y, R, cfg))

    def grad(self, xs, seeds, mode="plain"):
        return self.backward(xs, seeds, lambda op, xi, y, g: op.grad(xi, y, g, mode))


# ----------------------------------------------------------------------------
# analyzer configurations
# ----------------------------------------------------------------------------
class RuleConfig:
    def __init__(self, name, **kw):
        self.name = name
        self.kw = kw
        self.relu_by_gradient = name == "deep_taylor"
        self.merges_by_gradient = name == "deep_taylor"
        self.amplification = 0.0

    def track(self, abs_contrib, z, R, abs_bias=0.0):
        """Record how much a division by a cancelling z_j can amplify float32
        rounding: max_j |R_j| * scale_j / |z_j| (scale_j = sum_i |x_i w_ij| + |b_j|),
        over units that carry relevance.  abs_contrib: (B, n_in, n_out)."""
        scale = abs_contrib.sum(axis=1) + abs_bias
        live = (R != 0) & (scale > 0)
        if live.any():
            amp = np.abs(R[live]) * scale[live] / np.maximum(np.abs(z[live]), 1e-300)
            self.amplification = max(self.amplification, float(amp.max()))

    def rule_for(self, op):
        n, kw = self.name, self.kw
        if n == "lrp.z":
            return ("z",)
        if n == "lrp.epsilon":
            return ("epsilon", kw.get("epsilon", 1e-7), kw.get("bias_factor", 0.0))
        if n == "lrp.alpha_beta":
            return ("alpha_beta", kw["alpha"], kw["beta"], True)
        if n == "lrp.alpha_2_beta_1":
            return ("alpha_beta", 2.0, 1.0, True)
        if n == "lrp.alpha_2_beta_1_IB":
            return ("alpha_beta", 2.0, 1.0, False)
        if n == "lrp.alpha_1_beta_0":
            return ("alpha_beta", 1.0, 0.0, True)
        if n == "lrp.alpha_1_beta_0_IB":
            return ("alpha_beta", 1.0, 0.0, False)
        if n in ("lrp.z_plus", "deep_taylor"):
            return ("alpha_beta", 1.0, 0.0, False)
        if n == "lrp.w_square":
            return ("w_square",)
        if n == "lrp.flat":
            return ("flat",)
        if n in ("lrp.sequential_preset_a", "lrp.sequential_preset_b"):
            if op.family == "dense":
                return ("epsilon", 0.1, 0.0)
            if op.family == "conv":
                if n.endswith("_a"):
                    return ("alpha_beta", 1.0, 0.0, True)
                return ("alpha_beta", 2.0, 1.0, True)
            raise NotImplementedError(f"preset rule for {op.family} is not specified")
        raise ValueError(n)


# ----------------------------------------------------------------------------
# analyses
# ----------------------------------------------------------------------------
def _as_list(X):
    if isinstance(X, (list, tuple)):
        return [np.asarray(x, np.float64) for x in X]
    return [np.asarray(X, np.float64)]


def select(logits, mode, neuron_selection=None):
    """Indices (B,) or, for mode "all", None."""
    B = logits.shape[0]
    if mode == "max_activation":
        return np.argmax(logits, axis=1)
    if mode == "index":
        idx = np.asarray(neuron_selection)
        if idx.ndim == 0:
            return np.full(B, int(idx))
        return idx.astype(int).reshape(B)
    raise ValueError(mode)


def gradient_at(graph, xs, idx, mode="plain", output_index=0):
    """d y_idx / d x for every input (list)."""
    out = graph.output(xs)[output_index]
    seed = np.zeros_like(out)
    seed[np.arange(out.shape[0]), idx] = 1.0
    return graph.grad(xs, {graph.outputs[output_index]: seed}, mode)


def ig_nodes(method, m):
    """(alphas, weights) of the path quadrature, SEMANTICS.md."""
    if method == "riemann_left":
        k = np.arange(m)
        return k / m, np.full(m, 1.0 / m)
    if method == "riemann_right":
        k = np.arange(1, m + 1)
        return k / m, np.full(m, 1.0 / m)
    if method == "riemann_middle":
        k = np.arange(m)
        return (k + 0.5) / m, np.full(m, 1.0 / m)
    if method == "riemann_trapezoid":
        k = np.arange(m + 1)
        w = np.full(m + 1, 1.0 / m)
        w[0] = w[-1] = 1.0 / (2 * m)
        return k / m, w
    if method == "gausslegendre":
        t, w = np.polynomial.legendre.leggauss(m)
        return (t + 1.0) / 2.0, w / 2.0
    raise ValueError(method)


def _analyze_one(graph, name, xs, idx, kw, oi=0):
    """One analysis for the selected indices idx (B,) of output oi."""
    out = graph.output(xs)[oi]
    B = out.shape[0]
    rows = np.arange(B)
    if name == "gradient":
        g = gradient_at(graph, xs, idx, output_index=oi)
        pp = kw.get("postprocess")
        if pp == "abs":
            g = [np.abs(a) for a in g]
        elif pp == "square":
            g = [a ** 2 for a in g]
        return g
    if name == "input_t_gradient":
        g = gradient_at(graph, xs, idx, output_index=oi)
        return [x * a for x, a in zip(xs, g)]
    if name in ("guided_backprop", "deconvnet"):
        # Seeded with the selected output's value (as iNNvestigate), or 1 with seed="one".
        seed = np.zeros_like(out)
        seed[rows, idx] = 1.0 if kw.get("seed", "value") == "one" else out[rows, idx]
        mode = "guided" if name == "guided_backprop" else "deconvnet"
        return graph.grad(xs, {graph.outputs[oi]: seed}, mode)
    if name == "integrated_gradients":
        ref = kw.get("reference_inputs", 0)
        refs = ref if isinstance(ref, (list, tuple)) else [ref] * len(xs)
        refs = [np.broadcast_to(np.asarray(r, np.float64), x.shape) for r, x in zip(refs, xs)]
        alphas, weights = ig_nodes(kw.get("method", "riemann_trapezoid"), kw.get("steps", 64))
        acc = [np.zeros_like(x) for x in xs]
        for a, wk in zip(alphas, weights):
            pts = [r + a * (x - r) for x, r in zip(xs, refs)]
            g = gradient_at(graph, pts, idx, output_index=oi)      # selection held from clean input
            acc = [s + wk * gi for s, gi in zip(acc, g)]
        return [(x - r) * s for x, r, s in zip(xs, refs, acc)]
    if name == "smoothgrad":
        noises = kw["noise"]  # explicit list (per sample draw) of lists per input
        acc = [np.zeros_like(x) for x in xs]
        for nz in noises:
            g = gradient_at(graph, [x + n for x, n in zip(xs, nz)], idx, output_index=oi)
            acc = [s + gi for s, gi in zip(acc, g)]
        return [s / len(noises) for s in acc]
    if name in LRP_NAMES:
        seed = np.zeros_like(out)
        val = out[rows, idx]
        if name == "deep_taylor":
            val = np.maximum(val, 0.0)
        seed[rows, idx] = val
        cfg = RuleConfig(name, **kw)
        res = graph.lrp(xs, {graph.outputs[oi]: seed}, cfg)
        global last_amplification
        last_amplification = max(last_amplification, cfg.amplification)
        return res
    raise ValueError(name)


last_amplification = 0.0  # see RuleConfig.track; set by every analyze()


def analyze(graph, name, X, neuron_selection_mode="max_activation",
            neuron_selection=None, output_index=0, **kw):
    """Reference analysis.  Returns an array (one input) or a list.

    After the call ``last_amplification`` tells how ill-conditioned the z /
    epsilon / proportional divisions were (see ``RuleConfig.track``)."""
    global last_amplification
    last_amplification = 0.0
    xs = _as_list(X)
    oi = output_index
    logits = graph.output(xs)[oi]
    if neuron_selection_mode == "all":
        res = [_analyze_one(graph, name, xs, np.full(logits.shape[0], k), kw, oi)
               for k in range(logits.shape[1])]
        res = [np.stack([r[i] for r in res], axis=1) for i in range(len(xs))]
    else:
        idx = select(logits, neuron_selection_mode, neuron_selection)
        res = _analyze_one(graph, name, xs, idx, kw, oi)
    return res[0] if len(res) == 1 else res


def smoothgrad_sigma(x, noise_scale):
    """sigma = noise_scale * (max(x) - min(x)) per sample."""
    B = x.shape[0]
    xf = x.reshape(B, -1)
    return noise_scale * (xf.max(1) - xf.min(1))


def finite_difference_gradient(graph, xs, idx, h=1e-6):
    """Central differences of the reference forward (float64) for self-checks."""
    res = []
    for k, x in enumerate(xs):
        g = np.zeros_like(x)
        flat = g.reshape(x.shape[0], -1)
        for i in range(flat.shape[1]):
            xp = [a.copy() for a in xs]
            xm = [a.copy() for a in xs]
            xp[k].reshape(x.shape[0], -1)[:, i] += h
            xm[k].reshape(x.shape[0], -1)[:, i] -= h
            op_ = graph.output(xp)[0]
            om = graph.output(xm)[0]
            rows = np.arange(x.shape[0])
            flat[:, i] = (op_[rows, idx] - om[rows, idx]) / (2 * h)
        res.append(g)
    return res

