"""Each transformer rule equals its float64 numpy implementation (reference.py).

MultiHeadAttention by cp and attnlrp (one head and two, self- and cross-attention, with key padding
masks, an attention_mask input and use_causal_mask), LayerNormalization with and without
scale/center, RMSNormalization; the projections by the epsilon rule. The rules are applied to one
layer call of a real Keras model through the engine's forward pass.
"""

import keras
import numpy as np
import pytest
import transformer_reference as ref
from keras import layers, ops

from keras_text_lrp.engine import Engine
from keras_text_lrp.rules.attention import AttentionRule
from keras_text_lrp.rules.linear import EpsilonRule
from keras_text_lrp.rules.normalization import NormalizationRule

EPS = 1e-3  # large enough that a wrong stabiliser would show
B, T, S, D = 3, 5, 4, 6


def _step(engine, cls):
    return next(s for s in engine.graph.steps if isinstance(s.layer, cls))


def _per_input(step, out):
    """Input relevances summed over the argument slots reading one tensor."""
    total = {}
    for k, r in zip(step.inputs, out):
        if r is not None:
            total[k] = total.get(k, 0) + ref.np_(r)
    return total


def _mha_case(heads, masked, cross):
    rng = np.random.default_rng(heads * 10 + masked + 2 * cross)
    xq_in = keras.Input((T, D))
    xv_in = keras.Input((S, D)) if cross else xq_in
    am_in = keras.Input((T, T), dtype="bool") if masked else None
    mha = layers.MultiHeadAttention(heads, key_dim=3)  # value_dim != key_dim breaks Keras on JAX
    kwargs = {"attention_mask": am_in, "use_causal_mask": True} if masked else {}
    y = mha(xq_in, xv_in, **kwargs)
    inputs = [xq_in] + ([xv_in] if cross else []) + ([am_in] if masked else [])
    model = keras.Model(inputs, y)
    for w in mha.weights:  # biases too: they must be absorbed as the epsilon rule says
        w.assign(rng.normal(0, 0.6, w.shape).astype("float32"))
    xq = rng.normal(size=(B, T, D)).astype("float32")
    xv = rng.normal(size=(B, S, D)).astype("float32") if cross else xq
    values, masks, mask = [xq], [None], None
    if cross:
        values.append(xv)
        masks.append(None)
    if masked:
        pad = np.ones((B, T), bool)
        pad[0, -2:] = False  # key padding (a mask_zero mask) on the first text
        pad[1, -1:] = False
        am = rng.random((B, T, T)) > 0.3
        am[:, :, 0] = True
        values.append(am)
        masks = [pad]
        mask = pad[:, :, None] & pad[:, None, :] & am & np.tril(np.ones((T, T), bool))[None]
    return model, mha, values, masks, xq, xv, mask


@pytest.mark.parametrize("heads,masked,cross", [(1, False, False), (2, False, False), (1, True, False),
                                                (2, True, False), (2, False, True)])
@pytest.mark.parametrize("mode", ["cp", "attnlrp"])
def test_attention_rule_equals_numpy(heads, masked, cross, mode):
    model, mha, values, masks, xq, xv, mask = _mha_case(heads, masked, cross)
    engine = Engine(model)
    record = engine.forward([ops.convert_to_tensor(v) for v in values],
                            [None if m is None else ops.convert_to_tensor(m) for m in masks])
    step = _step(engine, layers.MultiHeadAttention)
    ctx = record["steps"][step]
    f = ref.mha_forward(mha, xq.astype("float64"), xv.astype("float64"), mask)
    # Padded query rows attend to nothing (their outputs are never used downstream): left out.
    live = np.ones((B, T), bool) if not masked else masks[0]
    np.testing.assert_allclose(ref.np_(ctx.ys[0])[live], f["y"][live], rtol=1e-4, atol=1e-5)
    if not masked:  # and the layer's own call agrees with the expansion
        np.testing.assert_allclose(ref.np_(model(values)), f["y"], rtol=1e-4, atol=1e-5)
    r_y = np.random.default_rng(7).normal(size=f["y"].shape) * live[:, :, None]
    out = AttentionRule(EpsilonRule(EPS), mode, EPS)(ctx, [ops.convert_to_tensor(r_y.astype("float32"))])
    got = _per_input(step, out)
    want_q, want_v, _, _ = ref.mha_relevance(mha, xq.astype("float64"), xv.astype("float64"), r_y, mode, EPS,
                                             mask)
    kq, kv = step.inputs[0], step.inputs[1]
    if cross:
        np.testing.assert_allclose(got.get(kq, np.zeros_like(want_q)), want_q, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(got[kv], want_v, rtol=2e-4, atol=2e-5)
    else:
        np.testing.assert_allclose(got[kq], want_q + want_v, rtol=2e-4, atol=2e-5)
    if masked:  # the attention mask input gets nothing; padded keys get exactly 0 from every query
        assert all(r is None for k, r in zip(step.inputs, out) if k == step.inputs[-1])
        pad = masks[0]
        if mode == "cp":
            assert np.all(got[kq][~pad] == 0)


def test_cp_attention_conserves_and_attnlrp_absorbs_its_softmax_term():
    """Bias-free projections: cp hands all relevance to the values (float32 precision); attnlrp
    loses exactly what its softmax rule absorbs, sum(R_p) - sum(R_s), measured by the reference."""
    rng = np.random.default_rng(3)
    x_in = keras.Input((T, D))
    mha = layers.MultiHeadAttention(2, key_dim=3, use_bias=False)
    model = keras.Model(x_in, mha(x_in, x_in))
    x = rng.normal(size=(B, T, D)).astype("float32")
    engine = Engine(model)
    record = engine.forward([ops.convert_to_tensor(x)], [None])
    step = _step(engine, layers.MultiHeadAttention)
    r_y = ref.np_(record["steps"][step].ys[0])  # R = y: the total is sum(y)
    for mode in ("cp", "attnlrp"):
        out = AttentionRule(EpsilonRule(1e-9), mode, 1e-9)(record["steps"][step],
                                                           [ops.convert_to_tensor(r_y.astype("float32"))])
        total = sum(ref.np_(r).sum((1, 2)) for r in out if r is not None)
        _, _, r_p, r_s = ref.mha_relevance(mha, x.astype("float64"), x.astype("float64"), r_y, mode, 1e-9)
        absorbed = 0.0 if mode == "cp" else r_p.sum((1, 2, 3)) - r_s.sum((1, 2, 3))
        np.testing.assert_allclose(total, r_y.sum((1, 2)) - absorbed, rtol=1e-5, atol=1e-5)
        if mode == "attnlrp":
            assert np.abs(absorbed).max() > 1e-3  # the softmax rule is not conservative


@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
@pytest.mark.parametrize("bias_factor", [0.0, 1.0])
def test_layer_norm_rule_equals_numpy(center, scale, bias_factor):
    rng = np.random.default_rng(int(center) + 2 * int(scale))
    x_in = keras.Input((T, D))
    ln = layers.LayerNormalization(epsilon=1e-3, center=center, scale=scale)
    model = keras.Model(x_in, ln(x_in))
    for w in ln.weights:
        w.assign(rng.normal(0, 1, w.shape).astype("float32"))
    x = (rng.normal(size=(B, T, D)) * 2 + 0.5).astype("float32")
    engine = Engine(model)
    record = engine.forward([ops.convert_to_tensor(x)], [None])
    ctx = record["steps"][_step(engine, layers.LayerNormalization)]
    r = rng.normal(size=(B, T, D))
    got = ref.np_(NormalizationRule(EPS, bias_factor)(ctx, [ops.convert_to_tensor(r.astype("float32"))])[0])
    gamma = ref.np_(ln.gamma) if scale else None
    beta = ref.np_(ln.beta) if center else None
    want, z = ref.layer_norm_relevance(x.astype("float64"), gamma, beta, 1e-3, r, EPS, bias_factor)
    np.testing.assert_allclose(ref.np_(ctx.ys[0]), z, rtol=1e-4, atol=1e-5)  # the rule's map is the layer
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if bias_factor:  # conserves exactly, stabiliser included
        np.testing.assert_allclose(got.sum(-1), r.sum(-1), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not hasattr(layers, "RMSNormalization"), reason="this Keras has no RMSNormalization")
def test_rms_norm_rule_equals_numpy():
    rng = np.random.default_rng(5)
    x_in = keras.Input((T, D))
    rms = layers.RMSNormalization(epsilon=1e-3)
    model = keras.Model(x_in, rms(x_in))
    rms.scale.assign(rng.normal(0, 1, rms.scale.shape).astype("float32"))
    x = rng.normal(size=(B, T, D)).astype("float32")
    engine = Engine(model)
    record = engine.forward([ops.convert_to_tensor(x)], [None])
    ctx = record["steps"][_step(engine, layers.RMSNormalization)]
    r = rng.normal(size=(B, T, D))
    got = ref.np_(NormalizationRule(EPS, 0.0)(ctx, [ops.convert_to_tensor(r.astype("float32"))])[0])
    want, z = ref.layer_norm_relevance(x.astype("float64"), ref.np_(rms.scale), None, 1e-3, r, EPS, 0.0,
                                       centred=False)
    np.testing.assert_allclose(ref.np_(ctx.ys[0]), z, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
