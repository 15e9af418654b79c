"""GroupQueryAttention: the cp and attnlrp rules equal a float64 numpy implementation written here
(key/value heads repeated for their query heads, a repeated head's relevance the sum over its copies),
and on a model the analyzers' scores are its logits and the gradient family equals autodiff.
"""

import keras
import numpy as np
import pytest
import transformer_reference as ref
from gradient_reference import autodiff
from keras import layers, ops

import keras_text_lrp as ktl
from keras_text_lrp.engine import Engine
from keras_text_lrp.rules.attention import AttentionRule
from keras_text_lrp.rules.linear import EpsilonRule

# Keras notes that the projections drop the mask of a mask_zero input (the layer takes it itself).
pytestmark = pytest.mark.filterwarnings("ignore:Layer '(query|key|value)' \\(of type EinsumDense\\)")

EPS = 1e-3
B, T, D = 3, 5, 6
HQ, HKV, HD = 4, 2, 3


def _proj(x, dense):
    w, b = ref.dense_params(dense)
    z = np.einsum("btd,dnh->btnh", x, w)
    return z if b is None else z + b


def _back(x, dense, z, r, eps):
    """Epsilon rule through one EinsumDense projection ``z = x W + b``."""
    w, _ = ref.dense_params(dense)
    return x * np.einsum("dnh,btnh->btd", w, r / ref.stab(z, eps))


def gqa_relevance(layer, x, r_y, mode, eps, mask):
    """Self-attention by GroupQueryAttention's formula, in numpy, and the relevance at its input."""
    q, k, v = _proj(x, layer._query_dense), _proj(x, layer._key_dense), _proj(x, layer._value_dense)
    groups = HQ // HKV
    # query head n reads key/value head n // groups
    kr, vr = np.repeat(k, groups, axis=2), np.repeat(v, groups, axis=2)
    qs = q / np.sqrt(HD)
    s = np.einsum("btnh,bsnh->bnts", qs, kr)
    p = ref.softmax(s + (1.0 - mask[:, None].astype("float64")) * -1e9)
    c = np.einsum("bnts,bsnh->btnh", p, vr)
    wo, bo = ref.dense_params(layer._output_dense)
    y = np.einsum("btnh,nhe->bte", c, wo) + (0 if bo is None else bo)
    r_c = c * np.einsum("nhe,bte->btnh", wo, r_y / ref.stab(y, eps))

    def unrepeat(r):  # (B, S, HQ, HD) -> (B, S, HKV, HD): the copies of a head summed
        return r.reshape(B, T, HKV, groups, HD).sum(3)

    if mode == "cp":
        r_v = vr * np.einsum("bnts,btnh->bsnh", p, r_c / ref.stab(c, eps))
        return y, _back(x, layer._value_dense, v, unrepeat(r_v), eps)
    ratio = r_c / (2 * ref.stab(c, eps))
    r_p = p * np.einsum("bsnh,btnh->bnts", vr, ratio)
    r_v = vr * np.einsum("bnts,btnh->bsnh", p, ratio)
    r_s = s * (r_p - p * r_p.sum(-1, keepdims=True))
    ratio = r_s / (2 * ref.stab(s, eps))
    r_k = kr * np.einsum("btnh,bnts->bsnh", qs, ratio)
    r_q = qs * np.einsum("bsnh,bnts->btnh", kr, ratio)
    total = (_back(x, layer._value_dense, v, unrepeat(r_v), eps)
             + _back(x, layer._key_dense, k, unrepeat(r_k), eps) + _back(x, layer._query_dense, q, r_q, eps))
    return y, total


def _layer_case():
    rng = np.random.default_rng(11)
    x_in = keras.Input((T, D))
    gqa = layers.GroupQueryAttention(head_dim=HD, num_query_heads=HQ, num_key_value_heads=HKV)
    model = keras.Model(x_in, gqa(x_in, x_in, use_causal_mask=True))
    for w in gqa.weights:
        w.assign(rng.normal(0, 0.6, w.shape).astype("float32"))
    x = rng.normal(size=(B, T, D)).astype("float32")
    pad = np.ones((B, T), bool)
    pad[0, -2:] = False  # key padding on the first text
    mask = pad[:, :, None] & pad[:, None, :] & np.tril(np.ones((T, T), bool))[None]
    return model, gqa, x, pad, mask


@pytest.mark.parametrize("mode", ["cp", "attnlrp"])
def test_group_query_attention_rule_equals_numpy(mode):
    model, gqa, x, pad, mask = _layer_case()
    engine = Engine(model)
    record = engine.forward([ops.convert_to_tensor(x)], [ops.convert_to_tensor(pad)])
    step = next(s for s in engine.graph.steps if isinstance(s.layer, layers.GroupQueryAttention))
    ctx = record["steps"][step]
    r_y = np.random.default_rng(7).normal(size=(B, T, D)) * pad[:, :, None]
    y, want = gqa_relevance(gqa, x.astype("float64"), r_y, mode, EPS, mask)
    np.testing.assert_allclose(ref.np_(ctx.ys[0])[pad], y[pad], rtol=1e-4, atol=1e-5)
    out = AttentionRule(EpsilonRule(EPS), mode, EPS)(ctx, [ops.convert_to_tensor(r_y.astype("float32"))])
    got = sum(ref.np_(r) for r in out if r is not None)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    if mode == "cp":  # padded keys receive nothing from any query
        assert np.all(got[~pad] == 0)


def test_group_query_attention_model_scores_gradient_and_padding():
    """The engine's expansion gives the model's logits; gradient = autodiff of the same layers called
    on the embeddings (with the Keras masks of mask_zero); the LRP analyzers run, a padded batch equals
    each text alone, and padding gets exactly 0."""
    keras.utils.set_random_seed(4)
    emb = layers.Embedding(30, 8, mask_zero=True)
    gqa = layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
    ln, pool, dense = layers.LayerNormalization(), layers.GlobalAveragePooling1D(), layers.Dense(3)
    ids_in = keras.Input((None,), dtype="int32")
    x = emb(ids_in)
    model = keras.Model(ids_in, dense(pool(ln(layers.Add()([x, gqa(x, x)])))))
    ids = np.array([[3, 4, 5, 0, 0], [7, 8, 9, 10, 11]], "int32")
    mask = ids != 0

    def fn(e):
        return dense(pool(ln(e + gqa(e, e, query_mask=mask, value_mask=mask)), mask=mask))

    E = ops.convert_to_numpy(emb(ids))
    logits = ops.convert_to_numpy(model(ids))
    np.testing.assert_allclose(ops.convert_to_numpy(fn(E)), logits, rtol=1e-5, atol=1e-6)
    target = logits.argmax(-1)
    want = autodiff(fn, E, target)
    gradient = ktl.create_analyzer("gradient", model)
    np.testing.assert_allclose(np.asarray(gradient.scores(ids)), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient.analyze(ids), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    for name in ("lrp.epsilon", "lrp.attnlrp"):
        analyzer = ktl.create_analyzer(name, model, neuron_selection_mode="index")
        r = analyzer.analyze(ids, neuron_selection=target)
        assert np.all(r[~mask] == 0) and np.all(np.isfinite(r)) and np.abs(r).max() > 0
        alone = analyzer.analyze(ids[:1, :3], neuron_selection=target[:1])
        np.testing.assert_allclose(r[:1, :3], alone, rtol=1e-5, atol=1e-6)
