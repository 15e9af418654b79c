"""The model under deletion: zero-embedded words keep their mask, padding stays masked."""

import functools
import gc

import keras
import numpy as np
import pytest
from bow_models import IDS, bow_model

from keras_text_lrp import backend
from keras_text_lrp.errors import InvalidModelError
from keras_text_lrp.evaluation._forward import _PERTURBERS, Perturber, get_perturber

L = keras.layers
T = 5


def test_bow_logits_by_hand():
    p = get_perturber(bow_model(), "zero_embedding")
    keep = np.ones(IDS.shape, bool)
    keep[0, 0] = False                          # t0 without great, still 4 unmasked positions
    keep[2, 2:] = False                         # padding of t2: masked anyway, nothing changes
    out = p.logits(IDS, keep)
    assert out[0] == pytest.approx([(2 + 1) / 4 + 0.1, (2 + 0.5) / 4])
    assert out[2] == pytest.approx([2 / 2 + 0.1, 4 / 2])
    np.testing.assert_allclose(out[1:2], [[0.6, 2.0]], atol=1e-6)
    pad = get_perturber(bow_model(), "pad").logits(IDS[:1], keep[:1])
    assert pad[0] == pytest.approx([(2 + 1) / 3 + 0.1, (2 + 0.5) / 3])   # "pad" masks the word
    assert get_perturber(bow_model(), "pad") is get_perturber(bow_model(), "pad")


@functools.lru_cache(maxsize=1)
def _rnn_model():
    keras.utils.set_random_seed(3)
    ids = keras.Input((T,), dtype="int32")
    emb = L.Embedding(9, 3, mask_zero=True)
    # (glorot rather than the default orthogonal recurrent kernel: no QR to compile on JAX)
    rnn = L.SimpleRNN(4, unroll=True, recurrent_initializer="glorot_uniform")
    dense = L.Dense(3)
    model = keras.Model(ids, dense(rnn(emb(ids))))
    # The reference: the same layers, the embedding multiplied by a keep input and the RNN given the
    # padding mask of the ids explicitly (Multiply drops the mask when one input has none, so a bare
    # Multiply wrapper would unmask the padding).
    keep = keras.Input((T, 1))
    zeroed = L.Multiply()([emb(ids), keep])
    reference = keras.Model([ids, keep], dense(rnn(zeroed, mask=keras.ops.not_equal(ids, 0))))
    return model, reference


def test_zero_embedding_matches_a_functional_keep_mask_reference():
    model, reference = _rnn_model()
    ids = np.array([[3, 5, 8, 2, 0], [7, 1, 0, 0, 0], [4, 4, 6, 2, 5]], "int32")
    keep = np.array([[1, 0, 1, 1, 1], [0, 1, 1, 1, 1], [1, 1, 0, 0, 1]], bool)
    p = Perturber(model, "zero_embedding")
    got = p.logits(ids, keep)
    # compiled rather than eager calls: eager JAX compiles every op of the unrolled RNN on its own
    call = backend.compile_fn(lambda a, b: reference([a, b]), reference.variables)
    want = keras.ops.convert_to_numpy(call(ids, keep[..., None].astype("float32")))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    full = p.logits(ids, np.ones_like(keep))
    plain = Perturber(model, "unk").logits(ids, np.ones_like(keep))       # the model's own call
    np.testing.assert_allclose(full, plain, rtol=1e-5, atol=1e-6)
    # a zero vector is an RNN step; a padded (masked) position is skipped: they differ
    padded = Perturber(model, "pad").logits(ids, keep)
    assert not np.allclose(got[0], padded[0], atol=1e-4)


def test_embedding_inside_a_nested_model():
    model, _ = _rnn_model()
    inner = keras.Sequential([keras.Input((T,), dtype="int32"), model.layers[1]])
    ids = keras.Input((T,), dtype="int32")
    outer = keras.Model(ids, model.layers[-1](model.layers[-2](inner(ids))))
    x = np.array([[3, 5, 8, 2, 0]], "int32")
    keep = np.array([[1, 0, 1, 1, 1]], bool)
    np.testing.assert_allclose(Perturber(outer, "zero_embedding").logits(x, keep),
                               Perturber(model, "zero_embedding").logits(x, keep), rtol=1e-5, atol=1e-6)


def test_models_without_embedding_need_id_deletion():
    ids = keras.Input((T,), dtype="int32")
    x = L.CategoryEncoding(9, output_mode="count")(ids)
    model = keras.Model(ids, L.Dense(2)(x))
    with pytest.raises(InvalidModelError, match="deletion='unk'"):
        Perturber(model, "zero_embedding")
    p = Perturber(model, "unk")
    out = p.logits(np.array([[3, 4, 0, 0, 0]], "int32"), np.array([[0, 1, 1, 1, 1]], bool))
    want = p.logits(np.array([[1, 4, 0, 0, 0]], "int32"), np.ones((1, T), bool))   # 3 -> [UNK] = 1
    np.testing.assert_allclose(out, want, rtol=1e-6)
    assert not np.allclose(out, p.logits(np.array([[3, 4, 0, 0, 0]], "int32"), np.ones((1, T), bool)))


def test_the_perturber_cache_does_not_keep_models_alive():
    ids = keras.Input((T,), dtype="int32")
    model = keras.Model(ids, L.Dense(2)(L.GlobalAveragePooling1D()(L.Embedding(9, 2, mask_zero=True)(ids))))
    for deletion in ("zero_embedding", "unk"):
        get_perturber(model, deletion).logits(np.array([[3, 4, 0, 0, 0]], "int32"), np.ones((1, T), bool))
    assert model in _PERTURBERS
    count = len(_PERTURBERS)
    del model
    gc.collect()
    assert len(_PERTURBERS) == count - 1
