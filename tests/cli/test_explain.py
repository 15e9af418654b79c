"""explain(): raw texts to word relevances, checked against the analyzers called directly."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest

from keras_text_lrp import models
from keras_text_lrp.analyzers.registry import create_analyzer
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.explain import Explanation, explain
from keras_text_lrp.text import tokenize, word_relevance

pytestmark = pytest.mark.filterwarnings("ignore:Layer .bigram_conv.:UserWarning")

TEXTS = [
    "A good movie, not a boring film.",
    "It's very dull (and the acting is bad).",
    "Great fun!",
]
METHODS = ["lrp.epsilon", "gradient", "integrated_gradients", "lrp.alpha_2_beta_1"]


def _direct(pretrained, ids, method, selection):
    """Word scores computed without explain(): analyzer on the ids, pooled with word_relevance."""
    analyzer = create_analyzer(method, pretrained.model, neuron_selection_mode="index")
    return word_relevance(analyzer.analyze(ids, neuron_selection=selection), pooling="sum", mask=ids != 0)


def _logits(pretrained, ids):
    return keras.ops.convert_to_numpy(pretrained.model(ids, training=False))


def test_tokens_ids_and_offsets(tiny):
    e = explain(tiny, TEXTS)
    assert isinstance(e, Explanation) and len(e) == 3 and e.methods == ["lrp.epsilon"]
    for text, tokens, offsets in zip(TEXTS, e.tokens, e.offsets, strict=True):
        expected, spans = tokenize(text, "treebank", lowercase=True)
        assert tokens == expected and offsets == [tuple(s) for s in spans]
        for token, (start, end) in zip(tokens, offsets, strict=True):
            surface = text[start:end].lower()
            assert surface == token or (surface, token) in {("(", "("), (")", ")")}
    width = max(len(t) for t in e.tokens)
    assert e.ids.shape == (3, width) and e.ids.dtype == np.int32
    vocab = tiny.vocabulary
    for row, tokens in zip(e.ids, e.tokens, strict=True):
        forms = {"(": "-lrb-", ")": "-rrb-"}
        assert list(row[: len(tokens)]) == [vocab.token_to_id(forms.get(t, t)) for t in tokens]
        assert not row[len(tokens):].any()
    # raw-text brackets are looked up under their PTB escapes, which the vocabulary holds
    second = e.tokens[1]
    assert e.ids[1, second.index("(")] == vocab.token_to_id("-lrb-") != vocab.oov_id
    assert e.label_names == list(tiny.labels)


@pytest.mark.parametrize("method", METHODS)
def test_word_scores_equal_direct_analysis(tiny, method):
    e = explain(tiny, TEXTS, method)
    logits = _logits(tiny, e.ids)
    np.testing.assert_allclose(e.logits, logits, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(e.predicted, np.argmax(logits, axis=1))
    np.testing.assert_array_equal(e.target, e.predicted)
    words = _direct(tiny, e.ids, method, e.predicted)
    for i, tokens in enumerate(e.tokens):
        assert e.scores[method][i].shape == (len(tokens),)
        np.testing.assert_allclose(e.scores[method][i], words[i, : len(tokens)], rtol=1e-6, atol=1e-6)
        assert not words[i, len(tokens):].any()
    # "pred" explains the predicted class: the same as max_activation
    plain = create_analyzer(method, tiny.model).analyze(e.ids)
    pooled = word_relevance(plain, mask=e.ids != 0)
    for i, tokens in enumerate(e.tokens):
        np.testing.assert_allclose(e.scores[method][i], pooled[i, : len(tokens)], rtol=1e-6, atol=1e-6)


def test_target_int_and_per_text(tiny):
    e = explain(tiny, TEXTS, "lrp.epsilon", target=2)
    np.testing.assert_array_equal(e.target, [2, 2, 2])
    words = _direct(tiny, e.ids, "lrp.epsilon", 2)
    for i, tokens in enumerate(e.tokens):
        np.testing.assert_allclose(e.scores["lrp.epsilon"][i], words[i, : len(tokens)], atol=1e-6)
    same = explain(tiny, TEXTS, "lrp.epsilon", target=np.int64(2))
    np.testing.assert_array_equal(same.scores["lrp.epsilon"][0], e.scores["lrp.epsilon"][0])
    per_text = [0, 3, 1]
    e = explain(tiny, TEXTS, ["lrp.epsilon", "gradient"], target=per_text)
    np.testing.assert_array_equal(e.target, per_text)
    for method in ("lrp.epsilon", "gradient"):
        words = _direct(tiny, e.ids, method, np.array(per_text))
        for i, tokens in enumerate(e.tokens):
            np.testing.assert_allclose(e.scores[method][i], words[i, : len(tokens)], atol=1e-6)
    # another target gives other scores
    other = explain(tiny, TEXTS, "lrp.epsilon", target=[1, 1, 1])
    assert not np.allclose(other.scores["lrp.epsilon"][0], e.scores["lrp.epsilon"][0])


@pytest.mark.parametrize(
    "target, message",
    [(5, "out of range"), (-1, "out of range"), ([0, 1], "2 entries for 3 texts"), ("first", "'pred'"),
     (1.5, "integers")],
)
def test_bad_target(tiny, target, message):
    with pytest.raises(InvalidArgumentError, match=message):
        explain(tiny, TEXTS, target=target)


def test_batch_size_streaming_equals_one_batch(tiny):
    whole = explain(tiny, TEXTS, METHODS[:2], batch_size=100)
    streamed = explain(tiny, TEXTS, METHODS[:2], batch_size=1)
    np.testing.assert_array_equal(whole.ids, streamed.ids)
    np.testing.assert_allclose(whole.logits, streamed.logits, rtol=1e-6, atol=1e-6)
    for method in METHODS[:2]:
        for a, b in zip(whole.scores[method], streamed.scores[method], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # a text explained alone (padded to its own length) gets the same numbers
    alone = explain(tiny, TEXTS[2], METHODS[:2])
    for method in METHODS[:2]:
        np.testing.assert_allclose(alone.scores[method][0], whole.scores[method][2], atol=1e-6)


def test_truncation_warns_and_keeps_offsets(model_files):
    fixed = models.load(model_files["fixed"])
    text = "a good movie , not a boring film , very fun ."
    with pytest.warns(UserWarning, match=r"text 1 has 12 tokens but the model takes at most 6: only the "
                                         r"first 6 are explained"):
        e = explain(fixed, ["good fun", text])
    assert e.ids.shape == (2, 6)
    assert e.tokens[1] == text.split()[:6]
    assert [text[s:t] for s, t in e.offsets[1]] == e.tokens[1]
    assert all(len(s) == len(t) for s, t in zip(e.scores["lrp.epsilon"], e.tokens, strict=True))
    # max_len shorter than a fixed input length cuts the text but still feeds the model 6 ids
    with pytest.warns(UserWarning, match="at most 3"):
        short = explain(fixed, text, max_len=3)
    assert short.ids.shape == (1, 6) and short.tokens[0] == ["a", "good", "movie"]
    assert not short.ids[0, 3:].any()


def test_max_len_on_a_variable_length_model(tiny):
    with pytest.warns(UserWarning, match="only the first 2 are explained"):
        e = explain(tiny, ["good fun", "a good movie"], max_len=2)
    assert e.ids.shape == (2, 2) and e.tokens[1] == ["a", "good"]
    with pytest.raises(InvalidArgumentError, match="max_len"):
        explain(tiny, "good", max_len=0)


def test_all_oov_text_warns(tiny):
    with pytest.warns(UserWarning, match="every token of text 1 is out of the vocabulary"):
        e = explain(tiny, ["good movie", "zzyzx qwfp"])
    assert e.ids[1, :2].tolist() == [1, 1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explain(tiny, "good movie")
    assert not [w for w in caught if "vocabulary" in str(w.message)]  # none for a known text


def test_keep_dimensions(tiny):
    e = explain(tiny, TEXTS, ["lrp.epsilon", "gradient"], keep_dimensions=True)
    assert set(e.relevance) == {"lrp.epsilon", "gradient"}
    for method, r in e.relevance.items():
        assert r.shape == (*e.ids.shape, 8)
        assert not r[e.ids == 0].any()  # padding is exactly 0
        for i, tokens in enumerate(e.tokens):
            np.testing.assert_allclose(r[i, : len(tokens)].sum(axis=-1), e.scores[method][i], atol=1e-6)
    assert explain(tiny, TEXTS).relevance == {}


def test_records_and_json(tiny, tmp_path):
    e = explain(tiny, TEXTS, ["lrp.epsilon", "gradient"])
    records = e.to_records()
    assert json.loads(e.to_json(tmp_path / "e.json")) == records
    assert json.loads((tmp_path / "e.json").read_text(encoding="utf-8")) == records
    for i, record in enumerate(records):
        assert record["text"] == TEXTS[i] and record["tokens"] == e.tokens[i]
        assert record["predicted"] == int(e.predicted[i]) and record["labels"] == list(tiny.labels)
        np.testing.assert_allclose(record["scores"]["gradient"], e.scores["gradient"][i], atol=1e-7)


def test_model_by_path_or_keras_model(tiny, model_files):
    by_path = explain(str(model_files["tiny"]), TEXTS[0])
    by_model = explain(tiny.model, TEXTS[0], vocabulary=tiny.vocabulary, lowercase=True)
    np.testing.assert_allclose(by_path.scores["lrp.epsilon"][0], by_model.scores["lrp.epsilon"][0],
                               atol=1e-6)
    assert by_model.label_names is None
    with pytest.raises(InvalidArgumentError, match="vocabulary"):
        explain(tiny.model, TEXTS[0])


@pytest.mark.parametrize(
    "texts, kwargs, error, message",
    [
        ([], {}, InvalidInputError, "no texts"),
        (["good", ""], {}, InvalidInputError, "text 1 is empty"),
        (["   \t"], {}, InvalidInputError, "whitespace"),
        (["good"], {"method": "lrp.nope"}, InvalidArgumentError, "unknown analyzer"),
        (["good"], {"method": []}, InvalidArgumentError, "at least one method"),
        (["good"], {"steps": 3}, InvalidArgumentError, "not taken by any"),
    ],
)
def test_errors(tiny, texts, kwargs, error, message):
    with pytest.raises(error, match=message):
        explain(tiny, texts, **kwargs)


def test_model_without_token_input(model_files):
    with pytest.raises(InvalidModelError, match="token ids"):
        explain(model_files["dense"], "good movie")
