"""explain_dataset: corpora streamed into JSON Lines, equal to explain(), flat memory, resumable."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from export_helpers import HERE, cnn

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.explain import explain
from keras_text_lrp.streaming import explain_dataset

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tests/export runs on TensorFlow only (explain_dataset is backend-neutral; its numbers are "
        "explain()'s, tested on both backends)",
    ),
    pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'"),
]

TEXTS = [
    "A good movie.", "It was boring, very boring!", "Not a great film (the acting is dull).",
    "I do like it.", "The story isn't fun", "bad", "A very, very good plot and great acting -- really.",
    "It's a movie", "Dull.", "Good acting, bad story.", "The film was n't great.", "Fun!", "What?",
]
METHODS = ["lrp.epsilon", "gradient"]


@pytest.fixture(scope="module")
def model(vocab):
    return cnn(len(vocab), seed=5)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _same_records(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert set(g) == set(e)
        for key in e:
            if key in ("scores", "logits"):
                continue
            assert g[key] == e[key], key
        np.testing.assert_allclose(g["logits"], e["logits"], rtol=1e-5, atol=1e-5)
        assert g["scores"].keys() == e["scores"].keys()
        for m in e["scores"]:
            np.testing.assert_allclose(g["scores"][m], e["scores"][m], rtol=1e-5, atol=1e-5)


def _stream(model, vocab, data, path, **kwargs):
    options = {"vocabulary": vocab, "lowercase": True, "batch_size": 5, "progress": False, **kwargs}
    return explain_dataset(model, data, path, METHODS, **options)


def test_records_equal_explain(tmp_path, model, vocab, capsys):
    path = tmp_path / "out.jsonl"
    summary = _stream(model, vocab, iter(TEXTS), path, progress=True, total=len(TEXTS))
    assert (summary.resumed_from, summary.written, summary.total) == (0, len(TEXTS), len(TEXTS))
    assert f"{len(TEXTS)}/{len(TEXTS)}" in capsys.readouterr().err  # the tqdm bar
    expected = explain(model, TEXTS, METHODS, vocabulary=vocab, lowercase=True).to_records()
    records = _read(path)
    assert [r["id"] for r in records] == list(range(len(TEXTS)))
    _same_records(records, [{"id": i, **e} for i, e in enumerate(expected)])


def test_dataset_of_pairs_dicts_and_targets(tmp_path, model, vocab):
    import tensorflow as tf

    ids = [f"doc-{i}" for i in range(len(TEXTS))]
    _stream(model, vocab, tf.data.Dataset.from_tensor_slices((ids, TEXTS)), tmp_path / "a.jsonl", target=2,
            include_text=False)
    expected = explain(model, TEXTS, METHODS, target=2, vocabulary=vocab, lowercase=True).to_records()
    for e in expected:
        del e["text"]
    _same_records(_read(tmp_path / "a.jsonl"), [{"id": i, **e} for i, e in zip(ids, expected)])

    targets = [i % 4 for i in range(len(TEXTS))]
    items = [{"id": i * 10, "text": t, "target": k} for i, (t, k) in enumerate(zip(TEXTS, targets))]
    _stream(model, vocab, items, tmp_path / "b.jsonl")
    expected = explain(model, TEXTS, METHODS, target=targets, vocabulary=vocab, lowercase=True).to_records()
    _same_records(_read(tmp_path / "b.jsonl"), [{"id": i * 10, **e} for i, e in enumerate(expected)])


def test_resume_after_interruption_and_a_cut_line(tmp_path, model, vocab):
    reference = tmp_path / "reference.jsonl"
    _stream(model, vocab, TEXTS, reference)

    def interrupted():
        for i, text in enumerate(TEXTS):
            if i == 12:
                raise RuntimeError("the input went away")
            yield text

    path = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="went away"):
        _stream(model, vocab, interrupted(), path)
    assert len(_read(path)) == 10  # two whole batches were flushed, the third never finished
    with path.open("ab") as handle:  # a write cut short by a kill: part of a record, no newline
        handle.write(b'{"id": 10, "text": "Good acting, b')
    summary = _stream(model, vocab, TEXTS, path)
    assert (summary.resumed_from, summary.written, summary.total) == (10, len(TEXTS) - 10, len(TEXTS))
    _same_records(_read(path), _read(reference))

    # a finished file: nothing to do; the same file from other data: refused
    assert _stream(model, vocab, TEXTS, path).written == 0
    assert len(_read(path)) == len(TEXTS)
    with pytest.raises(InvalidArgumentError, match="other data"):
        _stream(model, vocab, [(f"x{i}", t) for i, t in enumerate(TEXTS)], path)
    with pytest.raises(InvalidArgumentError, match="other data"):  # same positions, other texts
        _stream(model, vocab, TEXTS[::-1], path)
    with pytest.raises(InvalidArgumentError, match="fewer inputs"):
        _stream(model, vocab, TEXTS[:5], path)
    assert _stream(model, vocab, TEXTS[:5], path, resume=False).total == 5


def test_empty_texts_and_bad_inputs(tmp_path, model, vocab):
    path = tmp_path / "out.jsonl"
    summary = _stream(model, vocab, ["Good.", "", "   ", "Bad."], path)
    records = _read(path)
    assert summary.empty == 2 and [r["id"] for r in records] == [0, 1, 2, 3]
    assert records[1]["error"] == "empty text" and records[1]["tokens"] == [] and records[1]["logits"] is None
    assert records[3]["tokens"] == ["bad", "."]
    with pytest.raises(InvalidArgumentError, match="not one string"):
        _stream(model, vocab, "Good.", tmp_path / "x.jsonl")
    with pytest.raises(InvalidInputError, match="input 6 is a int"):
        _stream(model, vocab, [*TEXTS[:6], 7], path, resume=False)
    assert len(_read(path)) == 5  # the batch holding the bad input was not written
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        _stream(model, vocab, TEXTS, path, batch_size=0)


def test_peak_memory_does_not_grow_with_the_corpus(tmp_path):
    """Peak RSS (resource.getrusage, in a child) after N texts and after 10N more."""
    n = 300
    result = subprocess.run(
        [sys.executable, str(HERE / "_stream_memory_child.py"), str(tmp_path / "run"), str(n), str(10 * n)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    (small, large), (small_bytes, large_bytes) = report["peak"], report["bytes"]
    assert large_bytes > 9 * small_bytes  # ten times the output ...
    assert large < 1.3 * small, report  # ... not ten times the memory
    # holding the records would raise the peak by more than the file they make (KiB vs bytes)
    assert (large - small) * 1024 < 0.25 * large_bytes, report
