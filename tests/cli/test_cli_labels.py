"""keras-text-lrp explain with a user's .keras model of 3 classes: --labels, default labels, --target NAME."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from keras_text_lrp import cli, models
from keras_text_lrp.explain import explain

pytestmark = pytest.mark.filterwarnings("ignore:Layer .bigram_conv.:UserWarning")

# Pre-tokenized, lowercase, every token in the vocabulary: the ids are computed below without the library.
TEXTS = ["a good movie , not a boring film .", "it was very dull and the acting is bad .", "great fun"]
LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def reference(three_class_file, vocab):
    """The saved model run directly by Keras on hand-made ids: (keras model, logits)."""
    model = keras.saving.load_model(three_class_file, compile=False)
    rows = [[vocab.token_to_id(word) for word in text.split(" ")] for text in TEXTS]
    assert all(vocab.oov_id not in row for row in rows)
    width = max(len(row) for row in rows)
    ids = np.array([row + [0] * (width - len(row)) for row in rows], "int32")
    logits = keras.ops.convert_to_numpy(model(ids, training=False))
    assert logits.shape == (len(TEXTS), 3)
    return model, logits


def _explain_json(path, tmp_path, capsys, *options):
    out = tmp_path / "out.json"
    rc = cli.main(["explain", *TEXTS, "--model", str(path), "--json", str(out), "--no-color", *options])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return json.loads(out.read_text(encoding="utf-8")), captured.out


def test_labels_name_the_classes_of_the_prediction(three_class_file, reference, tmp_path, capsys):
    _, logits = reference
    records, out = _explain_json(three_class_file, tmp_path, capsys, "--labels", " , ".join(LABELS))
    predicted = np.argmax(logits, axis=1)
    assert [r["predicted"] for r in records] == [int(k) for k in predicted]
    assert [r["target"] for r in records] == [int(k) for k in predicted]
    for record, row in zip(records, logits, strict=True):
        assert record["labels"] == LABELS
        np.testing.assert_allclose(record["logits"], row, rtol=1e-5, atol=1e-5)
    headings = [line for line in out.splitlines() if line.startswith("[text ")]
    assert len(headings) == len(TEXTS)
    for heading, k in zip(headings, predicted, strict=True):
        assert f"pred: {LABELS[k]} ({k})   target: {LABELS[k]} ({k})" in heading


def test_default_labels_are_the_class_indices(three_class_file, reference, tmp_path, capsys):
    assert models.load(three_class_file).labels == ("0", "1", "2")
    _, logits = reference
    records, out = _explain_json(three_class_file, tmp_path, capsys)
    predicted = np.argmax(logits, axis=1)
    assert [r["labels"] for r in records] == [["0", "1", "2"]] * len(TEXTS)
    assert [r["predicted"] for r in records] == [int(k) for k in predicted]
    assert f"pred: {predicted[0]} ({predicted[0]})" in out.splitlines()[0]


def test_target_by_given_name(three_class_file, reference, vocab, tmp_path, capsys):
    model, logits = reference
    k = int(np.argmin(logits[0]))  # a class that is not the prediction of text 1
    assert k != int(np.argmax(logits[0]))
    records, out = _explain_json(three_class_file, tmp_path, capsys, "--labels", ",".join(LABELS),
                                 "--target", LABELS[k].upper(), "--method", "lrp.epsilon,gradient")
    expected = explain(model, TEXTS, ["lrp.epsilon", "gradient"], target=k, vocabulary=vocab)
    predicted = explain(model, TEXTS, "lrp.epsilon", vocabulary=vocab)
    assert [r["target"] for r in records] == [k] * len(TEXTS)
    for i, record in enumerate(records):
        assert record["tokens"] == TEXTS[i].split(" ") == expected.tokens[i]
        for method in ("lrp.epsilon", "gradient"):
            np.testing.assert_allclose(record["scores"][method], expected.scores[method][i],
                                       rtol=1e-5, atol=1e-6)
    assert not np.allclose(records[0]["scores"]["lrp.epsilon"], predicted.scores["lrp.epsilon"][0])
    assert f"target: {LABELS[k]} ({k})" in out.splitlines()[0]


@pytest.mark.parametrize("labels, message", [
    ("negative,positive", "--labels gives 2 class names but the model 'three' has 3 classes"),
    ("a,b,c,d,e", "--labels gives 5 class names but the model 'three' has 3 classes"),
    ("negative,,positive", "a name is empty"),
    ("good,bad,Good", "class names must differ"),
])
def test_wrong_labels_are_refused_before_any_output(labels, message, three_class_file, tmp_path, capsys):
    argv = ["explain", *TEXTS, "--model", str(three_class_file), "--labels", labels,
            "--json", str(tmp_path / "out.json"), "--jsonl", str(tmp_path / "out.jsonl"),
            "--html", str(tmp_path / "out.html")]
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert list(tmp_path.iterdir()) == []


def test_target_name_must_be_a_given_label(three_class_file, tmp_path, capsys):
    rc = cli.main(["explain", TEXTS[0], "--model", str(three_class_file), "--labels", ",".join(LABELS),
                   "--target", "very positive", "--json", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "0=negative, 1=neutral, 2=positive" in err
    assert list(tmp_path.iterdir()) == []


def test_labels_rename_a_shipped_size_model(model_files, tmp_path, capsys):
    names = ["one", "two", "three", "four", "five"]
    out = tmp_path / "out.json"
    rc = cli.main(["explain", TEXTS[0], "--model", str(model_files["tiny"]), "--labels", ",".join(names),
                   "--target", "four", "--json", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    (record,) = json.loads(out.read_text(encoding="utf-8"))
    assert record["labels"] == names and record["target"] == 3


def test_help_names_the_labels_option(capsys):
    assert cli.main(["explain", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--labels NAME,NAME,..." in out and "class indices" in out
