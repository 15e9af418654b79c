"""attention.last_layer and attention.rollout against a numpy implementation from the layers' weights.

The reference recomputes the embeddings, both MultiHeadAttention calls (``mha_forward`` of
transformer_reference.py, float64) and the residual sum in numpy, then head-averages, rolls out
(Abnar and Zuidema 2020: ``A' = 0.5 (A + I)``, rows renormalised, ``A'_2 A'_1``) and reads the
rows out (mean over the real query positions, or row 0).
"""

import keras
import numpy as np
import pytest
from keras import layers
from transformer_reference import mha_forward, np_

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError
from keras_text_lrp.text.relevance import word_relevance

V, D = 40, 8


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int32")
    e = layers.Embedding(V, D, mask_zero=True, name="embedding")(ids)
    x = layers.Add()([e, layers.MultiHeadAttention(2, key_dim=4, name="mha1")(e, e)])
    x = layers.Add()([x, layers.MultiHeadAttention(3, key_dim=4, name="mha2")(x, x)])
    out = layers.Dense(2)(layers.GlobalAveragePooling1D()(x))
    return keras.Model(ids, out)


BATCH = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2], [11, 12, 0, 0, 0]], "int32")


def _reference(model, ids, method, readout):
    keep = ids != 0
    mask = keep[:, :, None] & keep[:, None, :]
    e = np_(model.get_layer("embedding").embeddings)[ids]
    first = mha_forward(model.get_layer("mha1"), e, e, mask)
    x = e + first["y"]
    second = mha_forward(model.get_layer("mha2"), x, x, mask)
    if method == "attention.last_layer":
        a = second["p"].mean(1)
    else:
        a = None
        for p in (first["p"], second["p"]):
            step = 0.5 * (p.mean(1) + np.eye(p.shape[-1]))
            step = step / step.sum(-1, keepdims=True)
            a = step if a is None else step @ a
    if readout == "first":
        score = a[:, 0]
    else:
        score = (a * keep[:, :, None]).sum(1) / keep.sum(1, keepdims=True)
    return score * keep


@pytest.mark.parametrize("readout", ["mean", "first"])
@pytest.mark.parametrize("method", ["attention.last_layer", "attention.rollout"])
def test_attention_baselines_equal_numpy(model, method, readout):
    r = ktl.create_analyzer(method, model, readout=readout).analyze(BATCH)
    want = _reference(model, BATCH, method, readout)
    assert r.shape == BATCH.shape + (D,)
    np.testing.assert_allclose(r[..., 0], want, rtol=1e-5, atol=1e-6)
    assert np.all(r[..., 1:] == 0)
    assert np.all(r[BATCH == 0] == 0)  # padding: exactly 0
    # every word pooling gives the attention score itself
    for pooling in ("sum", "max_abs", "l2"):
        np.testing.assert_allclose(word_relevance(r, pooling=pooling), r[..., 0], rtol=1e-6, atol=0)
    if readout == "mean":  # a mean of rows that each sum to 1 over the real tokens
        np.testing.assert_allclose(r.sum((1, 2)), 1.0, rtol=1e-5)


@pytest.mark.parametrize("method", ["attention.last_layer", "attention.rollout"])
def test_padded_batch_equals_each_text_alone_and_class_is_irrelevant(model, method):
    an = ktl.create_analyzer(method, model, neuron_selection_mode="index")
    batch = an.analyze(BATCH, neuron_selection=0)
    np.testing.assert_array_equal(an.analyze(BATCH, neuron_selection=1), batch)
    for i, row in enumerate(BATCH):
        n = int((row != 0).sum())
        alone = an.analyze(row[None, :n], neuron_selection=0)[0]
        np.testing.assert_allclose(batch[i, :n], alone, rtol=1e-5, atol=1e-7)


def test_models_without_attention_and_bad_readout_are_refused(model):
    ids = keras.Input((None,), dtype="int32")
    x = layers.GlobalAveragePooling1D()(layers.Embedding(V, D, mask_zero=True)(ids))
    plain = keras.Model(ids, layers.Dense(2)(x))
    with pytest.raises(InvalidModelError, match="needs a model with a MultiHeadAttention layer"):
        ktl.create_analyzer("attention.rollout", plain)
    with pytest.raises(InvalidArgumentError, match="readout must be one of"):
        ktl.create_analyzer("attention.last_layer", model, readout="cls")
