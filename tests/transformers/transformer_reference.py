"""Plain float64 numpy implementations of the transformer rules (SEMANTICS.md, "Transformer layers").

Written from the formulas, independently of keras_text_lrp's keras.ops code: the weights are read
off the Keras layers, everything else is numpy.
"""

import numpy as np


def stab(z, eps):
    return z + eps * np.where(z >= 0, 1.0, -1.0)


def np_(t):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(t), dtype="float64")


def dense_params(dense):
    w = np_(dense.kernel)
    b = None if dense.bias is None else np_(dense.bias)
    return w, b


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def mha_forward(layer, xq, xv, mask=None):
    """MultiHeadAttention (default attention axes) on (B, T, D) / (B, S, D); mask (B, T, S) bool."""
    wq, bq = dense_params(layer._query_dense)
    wk, bk = dense_params(layer._key_dense)
    wv, bv = dense_params(layer._value_dense)
    wo, bo = dense_params(layer._output_dense)

    def proj(x, w, b):  # (B, T, D) x (D, N, H)
        z = np.einsum("btd,dnh->btnh", x, w)
        return z if b is None else z + b

    q, k, v = proj(xq, wq, bq), proj(xv, wk, bk), proj(xv, wv, bv)
    qs = q / np.sqrt(wq.shape[-1])
    s = np.einsum("bsnh,btnh->bnts", k, qs)
    sm = s if mask is None else s + (1.0 - mask[:, None].astype("float64")) * -1e9
    p = softmax(sm)
    c = np.einsum("bnts,bsnh->btnh", p, v)
    y = np.einsum("btnh,nhe->bte", c, wo)
    if bo is not None:
        y = y + bo
    return dict(q=q, k=k, v=v, qs=qs, s=s, p=p, c=c, y=y, w=dict(q=wq, k=wk, v=wv, o=wo))


def mha_relevance(layer, xq, xv, r_y, mode, eps, mask=None):
    """Relevance at (query input, value input) by the cp or attnlrp rule, epsilon rule on projections.

    Also returns the relevance entering (``R_p``) and leaving (``R_s``) the softmax.
    """
    f = mha_forward(layer, xq, xv, mask)
    w = f["w"]
    # output projection: R_c = c * W_o (R_y / stab(y))
    r_c = f["c"] * np.einsum("nhe,bte->btnh", w["o"], r_y / stab(f["y"], eps))
    if mode == "cp":
        r_v = f["v"] * np.einsum("bnts,btnh->bsnh", f["p"], r_c / stab(f["c"], eps))
        r_p = r_s = None
    else:
        ratio = r_c / (2 * stab(f["c"], eps))
        r_p = f["p"] * np.einsum("bsnh,btnh->bnts", f["v"], ratio)
        r_v = f["v"] * np.einsum("bnts,btnh->bsnh", f["p"], ratio)
        r_s = f["s"] * (r_p - f["p"] * r_p.sum(-1, keepdims=True))
        ratio = r_s / (2 * stab(f["s"], eps))
        r_k = f["k"] * np.einsum("btnh,bnts->bsnh", f["qs"], ratio)
        r_q = f["qs"] * np.einsum("bsnh,bnts->btnh", f["k"], ratio)
    r_xv = xv * np.einsum("dnh,bsnh->bsd", w["v"], r_v / stab(f["v"], eps))
    if mode == "cp":
        return np.zeros_like(xq), r_xv, None, None
    r_xq = xq * np.einsum("dnh,btnh->btd", w["q"], r_q / stab(f["q"], eps))
    r_xk = xv * np.einsum("dnh,bsnh->bsd", w["k"], r_k / stab(f["k"], eps))
    return r_xq, r_xv + r_xk, r_p, r_s


def layer_norm_relevance(x, gamma, beta, eps_ln, r, eps, bias_factor, centred=True):
    """LayerNorm (last axis) with 1/std constant: W_ij = k_j (delta_ij - 1/D), epsilon rule.

    ``centred=False`` is RMS normalisation (W = diag(k), N = 1).
    """
    d = x.shape[-1]
    if centred:
        xc = x - x.mean(-1, keepdims=True)
        k = 1.0 / np.sqrt((xc**2).mean(-1, keepdims=True) + eps_ln)
        w_apply = np.eye(d) - 1.0 / d  # (i, j)
    else:
        xc = x
        k = 1.0 / np.sqrt((x**2).mean(-1, keepdims=True) + eps_ln)
        w_apply = np.eye(d)
    k = k * (np.ones(d) if gamma is None else gamma)  # (..., D): k_j
    b = np.zeros(d) if beta is None else beta
    z = k * xc + b
    s = r / stab(z, eps)
    # W_ij = w_apply_ij * k_j
    r_in = x * np.einsum("ij,...j->...i", w_apply, k * s)
    if bias_factor:
        share = bias_factor * (b + eps * np.where(z >= 0, 1.0, -1.0)) * s
        fan = (w_apply != 0).sum(0)  # N_j: inputs of unit j
        r_in = r_in + np.einsum("ij,...j->...i", (w_apply != 0).astype(float), share / fan)
    return r_in, z
