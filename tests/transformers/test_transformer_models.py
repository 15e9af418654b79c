"""Whole transformer classifiers: conservation, masking and padding, autodiff, refusals.

A small encoder (Embedding with mask_zero, MultiHeadAttention, residual Adds, LayerNormalization,
GELU feed-forward, masked GlobalAveragePooling1D, logits) with bias-free projections and
scale-only LayerNorms, so that cp-LRP must conserve the logit to float32 precision and AttnLRP
must lose exactly what its softmax rule absorbs (measured in the pass itself).
"""

import keras
import numpy as np
import pytest
from gradient_reference import autodiff
from keras import layers, ops

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError
from keras_text_lrp.rules import attention as attention_rules

V, D = 50, 8


def _encoder(x, bias=False, **attention_kwargs):
    a = layers.MultiHeadAttention(2, key_dim=4, use_bias=bias)(x, x, **attention_kwargs)
    x = layers.LayerNormalization(center=bias)(layers.Add()([x, a]))
    f = layers.Dense(D, use_bias=bias)(layers.Dense(12, activation="gelu", use_bias=bias)(x))
    return layers.LayerNormalization(center=bias)(layers.Add()([x, f]))


@pytest.fixture(scope="module")
def padded_model():
    keras.utils.set_random_seed(11)
    ids = keras.Input((None,), dtype="int32")
    x = layers.Embedding(V, D, mask_zero=True)(ids)
    x = _encoder(_encoder(x))
    out = layers.Dense(2, use_bias=False)(layers.GlobalAveragePooling1D()(x))
    return keras.Model(ids, out)


def _texts():
    rng = np.random.default_rng(0)
    return [rng.integers(1, V, n) for n in (3, 6, 5)]


def _pad(texts, width):
    out = np.zeros((len(texts), width), "int32")
    for i, t in enumerate(texts):
        out[i, : len(t)] = t
    return out


def test_scores_are_the_models_logits(padded_model):
    # Unpadded texts: there Keras's own call and the analysis agree whatever the masks. (With
    # padding, Keras's MultiHeadAttention strips the Keras mask off its query tensor in eager
    # calls, so the second block of the model's own call sees padded keys; the analysis keeps
    # the functional graph's masks, and a padded text scores as the text alone.)
    an = ktl.create_analyzer("lrp.epsilon", padded_model)
    for t in _texts():
        ids = _pad([t], len(t))
        np.testing.assert_allclose(an.scores(ids), ops.convert_to_numpy(padded_model(ids)), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(an.scores(_pad([t], 8)), an.scores(ids), rtol=1e-5, atol=1e-6)


def test_cp_lrp_conserves_the_logit(padded_model):
    batch = _pad(_texts(), 8)
    an = ktl.create_analyzer("lrp.epsilon", padded_model, epsilon=1e-9)
    r = an.analyze(batch)
    np.testing.assert_allclose(r.sum((1, 2)), an.scores(batch).max(1), rtol=1e-5, atol=1e-6)


def test_attnlrp_loses_exactly_its_softmax_absorption(padded_model, monkeypatch):
    """sum of word relevances = logit - sum over attention calls of (sum R_p - sum R_s)."""
    batch = _pad(_texts(), 8)
    an = ktl.create_analyzer("lrp.attnlrp", padded_model, epsilon=1e-9)
    absorbed = []
    softmax = attention_rules.softmax_relevance

    def recording(s, p, r_p):
        r_s = softmax(s, p, r_p)
        absorbed.append(ops.sum(r_p, (1, 2, 3)) - ops.sum(r_s, (1, 2, 3)))
        return r_s

    monkeypatch.setattr(attention_rules, "softmax_relevance", recording)
    engine = an._engine
    points, masks = engine.embed([ops.convert_to_tensor(batch)])
    composite = an.composite()
    record = engine.forward(points, masks, composite)
    logits = record["values"][an._output_key]
    seed = an._seed(logits, an._select(logits, None))
    r = engine.backward(record, {an._output_key: seed}, composite)[0]
    r = ops.convert_to_numpy(r) * ops.convert_to_numpy(masks[0])[..., None]
    monkeypatch.undo()
    assert len(absorbed) == 2
    loss = sum(ops.convert_to_numpy(a) for a in absorbed)
    logit = ops.convert_to_numpy(ops.max(logits, axis=1))
    np.testing.assert_allclose(r.sum((1, 2)), logit - loss, rtol=1e-5, atol=1e-5)
    assert np.abs(loss).max() > 1e-4  # the softmax rule is not conservative
    # the compiled analysis gives the same numbers
    np.testing.assert_allclose(an.analyze(batch), r, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lrp.epsilon", "lrp.attnlrp", "gradient"])
def test_padded_batch_equals_each_text_alone(padded_model, name):
    texts = _texts()
    an = ktl.create_analyzer(name, padded_model)
    batch = an.analyze(_pad(texts, 8))
    for i, t in enumerate(texts):
        alone = an.analyze(_pad([t], len(t)))[0]
        np.testing.assert_allclose(batch[i, : len(t)], alone, rtol=1e-4, atol=1e-6 * np.abs(alone).max())
        assert np.all(batch[i, len(t):] == 0)  # padding: exactly 0


def test_gradient_family_equals_autodiff_with_attention_mask_and_causal_mask():
    keras.utils.set_random_seed(5)
    T = 6
    ids = keras.Input((T,), dtype="int32")
    am = keras.Input((T, T), dtype="bool")
    emb = layers.Embedding(V, D)
    mha = layers.MultiHeadAttention(2, key_dim=4)
    ln = layers.LayerNormalization()
    pool, dense = layers.GlobalAveragePooling1D(), layers.Dense(2)
    x = emb(ids)
    y = dense(pool(ln(layers.Add()([x, mha(x, x, attention_mask=am, use_causal_mask=True)]))))
    model = keras.Model([ids, am], y)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, V, (3, T)).astype("int32")
    mask = rng.random((3, T, T)) > 0.4
    mask[:, :, 0] = True
    E = ops.convert_to_numpy(emb(tokens))

    def fn(e):
        return dense(pool(ln(e + mha(e, e, attention_mask=mask, use_causal_mask=True))))

    an = ktl.create_analyzer("gradient", model)
    scores = an.scores([tokens, mask])
    np.testing.assert_allclose(scores, ops.convert_to_numpy(fn(E)), rtol=1e-5, atol=1e-6)
    want = autodiff(fn, E, scores.argmax(1))
    got = an.analyze([tokens, mask])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    ixg = ktl.create_analyzer("input_t_gradient", model).analyze([tokens, mask])[0]
    np.testing.assert_allclose(ixg, E * want, rtol=1e-5, atol=1e-5 * np.abs(E * want).max())
    # the mask matters: LRP through the same model differs when it is dropped
    r = ktl.create_analyzer("lrp.epsilon", model).analyze([tokens, mask])[0]
    r_open = ktl.create_analyzer("lrp.epsilon", model).analyze([tokens, np.ones_like(mask)])[0]
    assert np.abs(r - r_open).max() > 1e-4


def test_attention_scores_used_downstream_are_refused():
    T = 4
    ids = keras.Input((T,), dtype="int32")
    x = layers.Embedding(V, D)(ids)
    mha = layers.MultiHeadAttention(2, key_dim=4, name="scored_attention")
    y, scores = mha(x, x, return_attention_scores=True)
    feats = layers.Concatenate()([layers.GlobalAveragePooling1D()(y), layers.Flatten()(scores)])
    model = keras.Model(ids, layers.Dense(2)(feats))
    with pytest.raises(UnsupportedLayerError) as err:
        ktl.create_analyzer("lrp.epsilon", model)
    msg = str(err.value)
    assert "scored_attention" in msg and "return_attention_scores" in msg and "\n" not in msg
    # the gradient family still differentiates it
    tokens = np.arange(8, dtype="int32").reshape(2, T)
    assert np.abs(ktl.create_analyzer("gradient", model).analyze(tokens)).max() > 0


def test_unused_attention_scores_are_fine_and_change_nothing():
    keras.utils.set_random_seed(3)
    ids = keras.Input((None,), dtype="int32")
    emb, mha, pool, dense = (layers.Embedding(V, D), layers.MultiHeadAttention(2, key_dim=4),
                             layers.GlobalAveragePooling1D(), layers.Dense(2))
    x = emb(ids)
    y, _ = mha(x, x, return_attention_scores=True)
    with_scores = keras.Model(ids, dense(pool(y)))
    plain = keras.Model(ids, dense(pool(mha(x, x))))
    tokens = np.arange(1, 11, dtype="int32").reshape(2, 5)
    for name in ("lrp.epsilon", "lrp.attnlrp"):
        np.testing.assert_allclose(ktl.create_analyzer(name, with_scores).analyze(tokens),
                                   ktl.create_analyzer(name, plain).analyze(tokens), rtol=1e-6, atol=1e-7)


def test_bad_attention_rule_is_refused(padded_model):
    with pytest.raises(InvalidArgumentError) as err:
        ktl.create_analyzer("lrp.epsilon", padded_model, attention_rule="rollout")
    assert "attention_rule" in str(err.value) and "'cp'" in str(err.value)
