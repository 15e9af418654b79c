"""Non-finite values refused at the door (issue 12, item 4) and the neutralising printer (item 3)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import keras_text_lrp as ktl
from keras_text_lrp import _safety
from keras_text_lrp.analyzers import lrp
from keras_text_lrp.analyzers.gradient import IntegratedGradients, SmoothGrad

HOSTILE = "\x1b]0;PWN\x07 \x1b[2J \x9b31m \x9d0;x\x9c \u202eevil\u202c \u2066iso\u2069 \udce9 \x00\x7f"


def test_printable_escapes_every_control_and_keeps_the_rest():
    out = _safety.printable(HOSTILE)
    assert not any(ch in out for ch in "\x1b\x07\x9b\x9d\x9c\u202e\u202c\u2066\u2069\udce9\x00\x7f")
    # each escaped as \xNN / \uNNNN, in place; plain characters untouched
    assert out.startswith("\\x1b]0;PWN\\x07 \\x1b[2J \\x9b31m \\x9d0;x\\x9c \\u202eevil\\u202c")
    assert out.endswith("\\u2066iso\\u2069 \\udce9 \\x00\\x7f")
    plain = "caf\u00e9 \u65e5\u672c \U0001f600\ttab\nline"
    assert _safety.printable(plain) == plain
    assert _safety.printable("a\tb\nc", one_line=True) == "a\\x09b\\x0ac"
    out.encode("utf-8")  # no lone surrogate left: always printable


def test_json_line_escapes_c1_and_bidi_and_round_trips():
    record = {"text": HOSTILE.replace("\udce9", ""), "labels": ["\x9b", "\u2028"]}
    line = _safety.json_line(record)
    assert not any(ch in line for ch in "\x1b\x9b\x9d\x9c\u202e\u2066\u2028")
    assert json.loads(line) == record
    assert json.loads(_safety.json_line({"s": "\udce9"})) == {"s": "\udce9"}
    with pytest.raises(ValueError):
        _safety.json_line({"id": float("nan")})  # NaN is not JSON


@pytest.mark.parametrize("name, options, named", [
    ("lrp.epsilon", {"epsilon": float("nan")}, "epsilon"),
    ("lrp.epsilon", {"epsilon": -1.0}, "epsilon"),
    ("lrp.epsilon", {"bias_factor": float("inf")}, "bias_factor"),
    ("lrp.alpha_beta", {"alpha": float("nan")}, "alpha"),
    ("lrp.alpha_beta", {"beta": float("-inf")}, "beta"),
    ("smoothgrad", {"noise_scale": float("nan")}, "noise_scale"),
    ("integrated_gradients", {"reference_inputs": np.nan}, "reference_inputs"),
    ("integrated_gradients", {"steps": 0}, "steps"),
])
def test_non_finite_or_out_of_range_options_refused(model, name, options, named):
    with pytest.raises(ktl.InvalidArgumentError, match=named):
        ktl.create_analyzer(name, model, **options)


def test_the_analyzer_classes_refuse_them_too(model):
    """Not only create_analyzer: the classes themselves check once their __init__ chain has run."""
    with pytest.raises(ktl.InvalidArgumentError, match="epsilon must be a finite number, got nan"):
        lrp.EpsilonLRP(model, epsilon=float("nan"))
    with pytest.raises(ktl.InvalidArgumentError, match="noise_scale"):
        SmoothGrad(model, noise_scale=float("inf"))
    with pytest.raises(ktl.InvalidArgumentError, match="reference_inputs holds NaN"):
        IntegratedGradients(model, reference_inputs=np.full((1, 3, 6), np.inf))


def _with_bad_row(model, value):
    bad = keras.models.clone_model(model)
    weights = [w.copy() for w in model.get_weights()]
    weights[0][4, 2] = value
    bad.set_weights(weights)
    return bad


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_embedding_refused_naming_the_layer(model, value):
    bad = _with_bad_row(model, value)
    for name in ("lrp.epsilon", "gradient", "integrated_gradients"):
        with pytest.raises(ktl.InvalidModelError, match=r"layer 'embedding' \(Embedding\).*index \(4, 2\)"):
            ktl.create_analyzer(name, bad)
    with pytest.raises(ktl.InvalidModelError, match="'embedding'"):
        lrp.EpsilonLRP(bad)


def test_non_finite_relevance_raises_instead_of_returning(model):
    """Weights turned NaN after the analyzer was built: analyze() refuses the NaN result."""
    analyzer = ktl.create_analyzer("lrp.epsilon", model)
    ids = np.array([[1, 2, 3, 0]])
    good = analyzer.analyze(ids)
    assert np.all(np.isfinite(good))
    original = [w.copy() for w in model.get_weights()]
    try:
        model.set_weights(_with_bad_row(model, np.nan).get_weights())
        with pytest.raises(ktl.InvalidModelError, match="EpsilonLRP produced NaN or inf relevance"):
            analyzer.analyze(np.array([[4, 1]]))
    finally:
        model.set_weights(original)
    np.testing.assert_array_equal(analyzer.analyze(ids), good)


def test_nan_and_fractional_ids_refused_in_streams(tmp_path, model, vocab):
    from keras_text_lrp.streaming import explain_dataset

    path = tmp_path / "out.jsonl"
    for rid, message in ((float("nan"), "id nan"), (float("inf"), "id inf"), (1.5, "id 1.5")):
        with pytest.raises(ktl.InvalidInputError, match=f"input 1 has the {message}"):
            explain_dataset(model, [(0, "good"), (rid, "bad")], path, vocabulary=vocab, progress=False,
                            resume=False)
        assert path.read_bytes() == b""  # the batch holding it was not written


def test_zero_length_token_ids_refused(model):
    analyzer = ktl.create_analyzer("gradient", model)
    with pytest.raises(ktl.InvalidInputError, match="length 0"):
        analyzer.analyze(np.zeros((2, 0), "int32"))
