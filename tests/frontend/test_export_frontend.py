"""Exports of the front-end cases, served from a Python that cannot import keras_text_lrp.

A TextVectorization model (raw strings in, one-unit sigmoid head) and a strided CNN without
``mask_zero``: its padding carries relevance (returned as ``padding_relevance``, never dropped) and
its text and token-id signatures pre-pad short inputs to the CNN's least length; the same CNN behind a
TextVectorization without ``output_sequence_length`` pads the layer's short ids. Every served number equals
``analyze()`` / ``explain()`` in this process. The SavedModel is a TensorFlow graph: TensorFlow
backend only (as tests/export).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from frontend_models import STRIDED_CNN_MIN, VOCAB, sentiment_text, strided_cnn, text_strided_cnn

import keras_text_lrp as ktl

HERE = Path(__file__).resolve().parent
EXPORT_TESTS = HERE.parent / "export"
sys.path.insert(0, str(EXPORT_TESTS))
from export_helpers import isolated_python, site_packages_env  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="SavedModel export needs the TensorFlow backend")

TEXTS = ["Good movie!", "A bad, dull plot.", "the acting: GREAT"]
SPACED = ["good movie", "bad dull plot the", "great"]
SHORT = ["good movie", "bad"]
SHORT_IDS = [[2, 4], [3, 0]]  # "good movie", "bad": shorter than the CNN's least length


def _spec(value, dtype):
    value = np.asarray(value)
    return {"value": value.tolist(), "dtype": dtype, "shape": list(value.shape)}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from keras_text_lrp.export import export_for_serving

    tmp = tmp_path_factory.mktemp("frontend_export")
    tv_model, _ = sentiment_text()
    cnn = strided_cnn()  # no mask_zero: padding carries relevance
    tv_cnn, tv_cnn_inner = text_strided_cnn()  # ids only as long as the longest text
    models = {"tv": tv_model, "cnn": cnn, "tv_cnn": tv_cnn, "tv_cnn_inner": tv_cnn_inner}
    dirs = {
        "tv": export_for_serving(tv_model, tmp / "tv" / "1", ["lrp.epsilon"]),
        "tv_cnn": export_for_serving(tv_cnn, tmp / "tv_cnn" / "1", ["lrp.epsilon"]),
        "cnn": export_for_serving(cnn, tmp / "cnn" / "1", ["lrp.epsilon"], vocabulary=VOCAB,
                                  text_signature=True, text_tokenizer="space", padding="pre"),
    }
    ids, _ = VOCAB.encode([t.split() for t in SPACED], max_len=STRIDED_CNN_MIN + 2)  # post-padded ids
    text_sig, ids_sig = "explain_text_lrp_epsilon", "explain_lrp_epsilon"
    calls = [
        {"case": "tv", "signature": text_sig, "inputs": {"text": _spec(TEXTS, "string")}},
        {"case": "cnn", "signature": ids_sig, "inputs": {"token_ids": _spec(ids, "int32")}},
        {"case": "cnn", "signature": text_sig, "inputs": {"text": _spec(SPACED, "string")}},
        {"case": "tv_cnn", "signature": text_sig, "inputs": {"text": _spec(SHORT, "string")}},
        {"case": "cnn", "signature": ids_sig, "inputs": {"token_ids": _spec(SHORT_IDS, "int32")}},
    ]
    spec_path = tmp / "calls.json"
    spec_path.write_text(json.dumps({"exports": {k: str(v) for k, v in dirs.items()}, "twice": [],
                                     "calls": calls, "out": str(tmp / "results")}))
    outside = tmp_path_factory.mktemp("cwd")
    child = subprocess.run([*isolated_python(), str(EXPORT_TESTS / "_serving_child.py"), str(spec_path)],
                           cwd=outside, env=site_packages_env(), capture_output=True, text=True, timeout=400)
    assert child.returncode == 0, (child.stdout + child.stderr)[-4000:]
    report = json.loads((tmp / "results.json").read_text())
    assert report["errors"] == {}, report["errors"]
    assert report["facts"]["keras_text_lrp_import"].startswith("failed")
    with np.load(tmp / "results.npz") as data:
        arrays = dict(data)
    return models, ids, (lambda i, name: arrays[f"{i}/0/{name}"])


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_text_vectorization_model_served_equals_analyze(served):
    models, _, got = served
    e = _quiet(ktl.explain, models["tv"], TEXTS, "lrp.epsilon", keep_dimensions=True)
    np.testing.assert_allclose(got(0, "logits"), e.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got(0, "target"), e.target)
    r = e.relevance["lrp.epsilon"]
    np.testing.assert_allclose(got(0, "relevance"), r.sum(-1) * (e.ids != 0), rtol=1e-5, atol=1e-7)
    for i, tokens in enumerate(e.tokens):
        assert list(got(0, "tokens")[i][: len(tokens)]) == tokens


def test_padding_relevance_is_returned_not_dropped(served):
    models, ids, got = served
    from keras_text_lrp.explain import _analyzer

    analyzer = _analyzer("lrp.epsilon", models["cnn"], {})  # create_analyzer(..., "index"), cached
    target = got(1, "target")
    r = analyzer.analyze(ids, neuron_selection=target).sum(-1)
    pad = ids == 0
    assert pad.any() and np.abs(r[pad]).max() > 1e-4  # no mask_zero: padding carries relevance
    np.testing.assert_allclose(got(1, "relevance"), r * ~pad, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got(1, "padding_relevance"), (r * pad).sum(-1), rtol=1e-5, atol=1e-6)
    # together: analyze()'s total
    np.testing.assert_allclose(got(1, "relevance").sum(-1) + got(1, "padding_relevance"), r.sum(-1),
                               rtol=1e-5, atol=1e-6)


def test_short_texts_pre_padded_to_the_cnns_least_length(served):
    models, _, got = served
    e = _quiet(ktl.explain, models["cnn"], SPACED, "lrp.epsilon", vocabulary=VOCAB, tokenizer="space",
               padding="pre")
    pre, _ = VOCAB.encode([t.split() for t in SPACED], max_len=STRIDED_CNN_MIN, padding="pre")
    np.testing.assert_array_equal(e.ids, pre)
    assert got(2, "relevance").shape == pre.shape
    np.testing.assert_array_equal(got(2, "mask"), pre != 0)
    np.testing.assert_allclose(got(2, "logits"), e.logits, rtol=1e-5, atol=1e-6)
    for i, scores in enumerate(e.scores["lrp.epsilon"]):
        np.testing.assert_allclose(got(2, "relevance")[i][pre[i] != 0], scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got(2, "padding_relevance")[i], e.padding_relevance["lrp.epsilon"][i],
                                   rtol=1e-5, atol=1e-6)


def test_short_token_ids_padded_to_the_cnns_least_length(served):
    """Token ids shorter than the CNN needs: padded (pre, as exported) in the graph; the columns given
    come back, the added padding's relevance is in ``padding_relevance``."""
    models, _, got = served
    short = np.asarray(SHORT_IDS, "int32")
    assert [VOCAB.id_to_token(i) for i in (2, 4, 3)] == ["good", "movie", "bad"]
    full = np.zeros((2, STRIDED_CNN_MIN), "int32")
    full[:, -2:] = short
    from keras_text_lrp.explain import _analyzer

    logits = keras.ops.convert_to_numpy(models["cnn"](full))
    np.testing.assert_allclose(got(4, "logits"), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got(4, "target"), logits.argmax(-1))
    r = _analyzer("lrp.epsilon", models["cnn"], {}).analyze(full, neuron_selection=logits.argmax(-1)).sum(-1)
    assert got(4, "relevance").shape == short.shape
    np.testing.assert_array_equal(got(4, "mask"), short != 0)
    np.testing.assert_allclose(got(4, "relevance"), r[:, -2:] * (short != 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got(4, "padding_relevance"), (r * (full == 0)).sum(-1), rtol=1e-5, atol=1e-6)


def test_text_vectorization_short_ids_padded_to_the_cnns_least_length(served):
    models, _, got = served
    e = _quiet(ktl.explain, models["tv_cnn"], SHORT, "lrp.epsilon")
    assert e.ids.shape == (2, STRIDED_CNN_MIN)  # the layer made 2 columns; padded after them, as it pads
    np.testing.assert_allclose(got(3, "logits"), e.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got(3, "target"), e.target)
    width = got(3, "relevance").shape[1]
    assert width == 2 and list(got(3, "tokens")[0]) == ["good", "movie"]
    for i, scores in enumerate(e.scores["lrp.epsilon"]):
        np.testing.assert_allclose(got(3, "relevance")[i][: len(scores)], scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got(3, "padding_relevance")[i], e.padding_relevance["lrp.epsilon"][i],
                                   rtol=1e-5, atol=1e-6)
