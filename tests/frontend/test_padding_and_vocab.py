"""Padding as the model was trained, the least length of strided CNNs, padding relevance, and
vocabularies that fit an Embedding with more rows (not fewer).

References: the model called directly on ids padded by Keras's own ``pad_sequences`` (the way the
bi-LSTM was trained), the model's layer arithmetic for the least length, ``analyze()`` on the same
ids, and the closed-form logit of frontend_models.py.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from frontend_models import (
    BILSTM_LEN,
    BILSTM_TEXTS,
    STRIDED_CNN_MIN,
    VOCAB,
    bilstm,
    sentiment_ids,
    sentiment_logit,
    strided_cnn,
    text_strided_cnn,
)
from gradient_reference import autodiff

import keras_text_lrp as ktl
from keras_text_lrp import models
from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.text import Vocabulary
from keras_text_lrp.text.pipeline import model_lengths


def cached(name, model):
    """The analyzer explain() used (create_analyzer(name, model, neuron_selection_mode="index")),
    from its cache, so that the test does not trace it a second time."""
    from keras_text_lrp.explain import _analyzer

    return _analyzer(name, model, {})


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def lstm():
    return bilstm()


def _logit(p):
    p = np.asarray(p, "float64")
    return np.log(p) - np.log1p(-p)


def test_pre_padding_gives_the_numbers_of_the_model_as_trained(lstm):
    sequences = [[VOCAB.token_to_id(t) for t in text.split()] for text in BILSTM_TEXTS]
    trained = keras.utils.pad_sequences(sequences, maxlen=BILSTM_LEN)  # how the model saw its data
    e = _quiet(ktl.explain, lstm, BILSTM_TEXTS, "lrp.epsilon", vocabulary=VOCAB, tokenizer="space",
               padding="pre", min_len=BILSTM_LEN)
    np.testing.assert_array_equal(e.ids, trained)
    z = _logit(keras.ops.convert_to_numpy(lstm(trained))[:, 0])
    np.testing.assert_allclose(e.logits[:, 1], z, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e.logits[:, 0], -z, rtol=1e-4, atol=1e-5)
    analyzer = cached("lrp.epsilon", lstm)
    r = analyzer.analyze(trained, neuron_selection=e.target).sum(-1)
    assert r.shape == trained.shape
    for i, tokens in enumerate(e.tokens):
        n = len(tokens)
        np.testing.assert_array_equal(e.positions[i], np.arange(BILSTM_LEN - n, BILSTM_LEN))
        np.testing.assert_allclose(e.scores["lrp.epsilon"][i], r[i, BILSTM_LEN - n:], rtol=1e-5, atol=1e-7)
        # no mask_zero: the padding columns carry relevance, reported apart
        np.testing.assert_allclose(e.padding_relevance["lrp.epsilon"][i], r[i, : BILSTM_LEN - n].sum(),
                                   rtol=1e-5, atol=1e-7)
    assert np.any(np.abs(e.padding_relevance["lrp.epsilon"]) > 1e-4)
    # post-padding (the default) would be another input, with other logits
    post, _ = VOCAB.encode([t.split() for t in BILSTM_TEXTS], max_len=BILSTM_LEN)
    assert np.max(np.abs(_logit(keras.ops.convert_to_numpy(lstm(post))[:, 0]) - z)) > 1e-3


def test_strided_cnn_pads_a_short_text_to_its_least_length():
    model = strided_cnn()
    assert model_lengths(model) == (None, STRIDED_CNN_MIN)
    e = _quiet(ktl.explain, model, ["good movie"], ["lrp.epsilon", "gradient"], vocabulary=VOCAB)
    assert e.ids.shape == (1, STRIDED_CNN_MIN)
    ids = np.zeros((1, STRIDED_CNN_MIN), "int32")
    ids[0, :2] = [VOCAB.token_to_id("good"), VOCAB.token_to_id("movie")]
    np.testing.assert_array_equal(e.ids, ids)
    np.testing.assert_allclose(e.logits, keras.ops.convert_to_numpy(model(ids)), rtol=1e-5, atol=1e-6)
    analyzer = cached("lrp.epsilon", model)
    r = analyzer.analyze(ids, neuron_selection=e.target).sum(-1)
    np.testing.assert_allclose(e.scores["lrp.epsilon"][0], r[0, :2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(e.padding_relevance["lrp.epsilon"][0], r[0, 2:].sum(), rtol=1e-5, atol=1e-7)
    # one step shorter than the least length is the backend's own failure: the probe found the edge
    with pytest.raises(Exception):  # noqa: B017 - whatever the backend raises for an empty convolution
        out = keras.ops.convert_to_numpy(model(ids[:, : STRIDED_CNN_MIN - 1]))
        assert np.all(np.isfinite(out))
    with pytest.raises(InvalidArgumentError, match="need at least 9 steps"):
        ktl.explain(model, ["good movie"], vocabulary=VOCAB, min_len=4)


def test_text_vectorization_without_length_pads_to_the_strided_cnns_least_length():
    """The layer makes ids as long as the longest text (2 here); the CNN needs 9: padded after the
    tokens, as the layer pads, instead of the backend's "negative output size" error."""
    model, inner = text_strided_cnn()
    texts = ["good movie", "bad"]
    ids = np.zeros((2, STRIDED_CNN_MIN), "int32")
    ids[0, :2] = [VOCAB.token_to_id("good"), VOCAB.token_to_id("movie")]
    ids[1, 0] = VOCAB.token_to_id("bad")
    for name in ("lrp.epsilon", "gradient"):
        analyzer = ktl.create_analyzer(name, model, neuron_selection_mode="index")
        np.testing.assert_array_equal(analyzer.vectorize(texts), ids)
        assert analyzer.tokens(texts) == [["good", "movie"], ["bad"]]
        got = _quiet(analyzer.analyze, texts, neuron_selection=[0, 2])
        want = cached(name, inner).analyze(ids, neuron_selection=np.array([0, 2]))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    # the gradient is the backend's autodiff of the inner CNN at the padded ids' embeddings
    embedding = inner.layers[1]
    E = keras.ops.convert_to_numpy(embedding.embeddings)
    rest = keras.Model(embedding.output, inner.outputs)
    got = _quiet(ktl.create_analyzer("gradient", model, neuron_selection_mode="index").analyze,
                 texts, neuron_selection=[0, 2])
    np.testing.assert_allclose(got, autodiff(rest, E[ids], [0, 2]), rtol=1e-5, atol=1e-7)
    e = _quiet(ktl.explain, model, texts, "lrp.epsilon")
    assert e.tokens == [["good", "movie"], ["bad"]]
    np.testing.assert_array_equal(e.ids, ids)
    np.testing.assert_allclose(e.logits, keras.ops.convert_to_numpy(inner(ids)), rtol=1e-5, atol=1e-6)


def test_bad_padding_is_one_line():
    model, _ = sentiment_ids()
    with pytest.raises(InvalidArgumentError, match=r"padding must be one of \('post', 'pre'\), got 'left'"):
        ktl.explain(model, ["good"], vocabulary=VOCAB, padding="left")


def test_embedding_with_more_rows_than_the_vocabulary(tmp_path):
    model, E = sentiment_ids(extra_rows=7, mask_zero=False)
    path = tmp_path / "wide.keras"
    model.save(path)
    VOCAB.save(path.with_suffix(".vocab.json"))
    loaded = models.load(path, tokenizer="whitespace", lowercase=True)
    assert loaded.labels == ("0", "1")  # one sigmoid unit: two classes
    texts = ["Good movie", "bad plot the"]
    e = _quiet(ktl.explain, loaded, texts, "lrp.epsilon")
    ids, _ = VOCAB.encode([t.lower().split() for t in texts])
    np.testing.assert_array_equal(e.ids, ids)
    z = sentiment_logit(ids, E, mask_zero=False)
    np.testing.assert_allclose(e.logits, np.stack([-z, z], 1), rtol=1e-5, atol=1e-6)
    r = ktl.create_analyzer("lrp.epsilon", loaded.model, neuron_selection_mode="index").analyze(
        ids, neuron_selection=e.target).sum(-1)
    for i, tokens in enumerate(e.tokens):
        np.testing.assert_allclose(e.scores["lrp.epsilon"][i], r[i, : len(tokens)], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(e.padding_relevance["lrp.epsilon"][i], r[i, len(tokens):].sum(), atol=1e-7)


def test_embedding_with_fewer_rows_is_a_clear_error(tmp_path):
    model, _ = sentiment_ids()
    big = Vocabulary(VOCAB.words + ["extra", "words"])
    path = tmp_path / "narrow.keras"
    model.save(path)
    big.save(path.with_suffix(".vocab.json"))
    with pytest.raises(models.ModelFileError) as caught:
        models.load(path)
    message = str(caught.value)
    assert "has 12 rows but the vocabulary has 14 tokens" in message and "\n" not in message
    with pytest.raises(InvalidArgumentError,
                       match="the vocabulary has 14 tokens but Embedding .* has only 12 rows"):
        ktl.explain(model, ["good movie"], vocabulary=big)


def test_out_of_vocabulary_tokens_are_counted_and_warned_about():
    model, _ = sentiment_ids()
    with pytest.warns(UserWarning, match=r"3 of 7 tokens \(in 1 text\) are not in the vocabulary and were "
                                         r"encoded as \[UNK\]: 'gorgeous', ',', 'witty'"):
        e = ktl.explain(model, ["good movie", "a gorgeous , witty movie"], vocabulary=VOCAB,
                        tokenizer="space")
    assert e.oov_words == [[], ["gorgeous", ",", "witty"]]
    a, movie = VOCAB.token_to_id("a"), VOCAB.token_to_id("movie")
    np.testing.assert_array_equal(e.ids[1], [a, 1, 1, 1, movie])
    pretrained = models.load("sst5-cnn")
    with pytest.warns(UserWarning, match=r"2 of 4 tokens are not in the vocabulary and were "
                                         r"encoded as \[UNK\]: 'gorgeous,', 'movie.'"):
        ids = pretrained.encode(["A gorgeous, witty movie."])
    np.testing.assert_array_equal(ids[0, [1, 3]], [pretrained.vocabulary.oov_id] * 2)
