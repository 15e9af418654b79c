"""keras_text_lrp.beam: RunInference over exported explainers equals explain() on the same texts.

Models are exported once per module with text signatures; pipelines run on
Beam's DirectRunner, in this process and (one test) in two worker processes
that load the SavedModel themselves.
"""

from __future__ import annotations

import glob
import json

import keras
import numpy as np
import pytest
from export_helpers import bilstm, cnn, text_vectorization_model

beam = pytest.importorskip("apache_beam", reason="the beam extra (apache-beam) is not installed")

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError  # noqa: E402
from keras_text_lrp.explain import explain  # noqa: E402

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="the exported SavedModels are written with KERAS_BACKEND=tensorflow"),
    pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'"),
    pytest.mark.filterwarnings("ignore:every token of text"),  # "unknown words only", on purpose
]

METHODS = ["lrp.epsilon", "gradient"]
TEXTS = [
    "A good movie.", "It was boring, very boring!", "Not a great film (the acting is dull).",
    "I do like it.", "The story isn't fun", "bad", "A very, very good plot and great acting -- really.",
    "It's a movie", "Dull.", "Good acting, bad story.", "The film was n't great.", "Fun!", "What?",
    "unknown words only",
]
LABELS = ["neg", "mixed", "pos", "great"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, vocab):
    from keras_text_lrp.export import export_for_serving

    tmp = tmp_path_factory.mktemp("beam")
    models = {"cnn": cnn(len(vocab), seed=5), "bilstm": bilstm(len(vocab), seed=6)}
    export_for_serving(models["cnn"], tmp / "cnn", METHODS, vocabulary=vocab, text_signature=True,
                       lowercase=True)
    export_for_serving(models["bilstm"], tmp / "bilstm", ["lrp.lstm"], vocabulary=vocab,
                       text_signature=True, lowercase=True)
    return tmp, models


def _expected(model, vocab, texts, methods, target="pred"):
    """explain()'s records, without the offsets (the in-graph tokenizers give none)."""
    records = explain(model, texts, methods, target, vocabulary=vocab, lowercase=True).to_records()
    for record in records:
        del record["offsets"]
        del record["oov"]  # the in-graph tokenizer's ids are not returned: Beam records do not count OOV
    return records


def _assert_same(got, expected):
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key in expected:
        if key not in ("scores", "logits"):
            assert got[key] == expected[key], key
    np.testing.assert_allclose(got["logits"], expected["logits"], rtol=1e-5, atol=1e-5)
    assert got["scores"].keys() == expected["scores"].keys()
    for method in expected["scores"]:
        np.testing.assert_allclose(got["scores"][method], expected["scores"][method], rtol=1e-5, atol=1e-5,
                                   err_msg=f"{method}: {got['tokens']}")


def _read_shards(prefix):
    records = []
    for path in sorted(glob.glob(f"{prefix}*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


def _collect(elements, transform, tmp_path):
    """Run ``Create(elements) | transform`` on the DirectRunner; the records it wrote."""
    prefix = str(tmp_path / "out")
    with beam.Pipeline(runner="DirectRunner") as pipeline:
        (pipeline | beam.Create(elements) | transform | beam.Map(json.dumps)
         | beam.io.WriteToText(prefix, file_name_suffix=".jsonl"))
    return _read_shards(prefix)


def test_pipeline_from_files_equals_explain(exported, vocab, tmp_path):
    """The command-line pipeline: JSON Lines in (ids, some targets, an empty text), JSON Lines out."""
    from keras_text_lrp.beam import run

    folder, models = exported
    targets = {3: 0, 7: 2, 8: 1}
    rows = [{"id": f"doc-{i}", "text": t, **({"target": targets[i]} if i in targets else {})}
            for i, t in enumerate(TEXTS)]
    rows.append({"id": "doc-empty", "text": "  "})
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run(["--saved_model", str(folder / "cnn"), "--input", str(corpus), "--output", str(tmp_path / "scores"),
         "--input_format", "jsonl", "--methods", ",".join(METHODS), "--labels", ",".join(LABELS),
         "--max_batch_size", "4", "--runner", "DirectRunner"])
    got = {r["id"]: r for r in _read_shards(tmp_path / "scores")}
    assert sorted(got) == sorted(r["id"] for r in rows)
    target = [targets.get(i, -1) for i in range(len(TEXTS))]
    free = [i for i, t in enumerate(target) if t < 0]
    fixed = [i for i, t in enumerate(target) if t >= 0]
    model = models["cnn"]
    expected = dict(zip(free, _expected(model, vocab, [TEXTS[i] for i in free], METHODS)))
    expected.update(zip(fixed, _expected(model, vocab, [TEXTS[i] for i in fixed], METHODS,
                                         target=[target[i] for i in fixed])))
    for i in range(len(TEXTS)):
        _assert_same({k: v for k, v in got[f"doc-{i}"].items() if k != "id"},
                     {**expected[i], "labels": LABELS})
    for i in fixed:
        assert got[f"doc-{i}"]["target"] == targets[i]
    assert got["doc-empty"] == {"id": "doc-empty", "text": "  ", "tokens": [],
                                "scores": {m: [] for m in METHODS}, "logits": None, "predicted": None,
                                "target": None, "error": "empty text"}


def test_plain_text_lines_in_two_worker_processes(exported, vocab, tmp_path):
    """One text per line; two DirectRunner worker processes each load the SavedModel."""
    from keras_text_lrp.beam import run

    folder, models = exported
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    run(["--saved_model", str(folder / "cnn"), "--input", str(corpus), "--output", str(tmp_path / "scores"),
         "--methods", "gradient", "--no_text", "--num_shards", "2", "--runner", "DirectRunner",
         "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    got = _read_shards(tmp_path / "scores")
    assert len(got) == len(TEXTS) and len(glob.glob(str(tmp_path / "scores*.jsonl"))) == 2
    expected = _expected(models["cnn"], vocab, TEXTS, ["gradient"])
    # no ids and no texts in the records: match them by their tokens, which differ for every text
    by_tokens = {tuple(e["tokens"]): e for e in expected}
    assert len(by_tokens) == len(TEXTS)
    for record in got:
        assert "text" not in record and "id" not in record
        want = by_tokens.pop(tuple(record["tokens"]))
        del want["text"]
        _assert_same(record, want)
    assert not by_tokens


def test_bilstm_with_masking_under_explain_texts(exported, vocab, tmp_path):
    from keras_text_lrp.beam import ExplainTexts

    folder, models = exported
    elements = list(enumerate(TEXTS))  # (id, text) pairs
    got = {r["id"]: r for r in _collect(elements, ExplainTexts(str(folder / "bilstm"), "lrp.lstm",
                                                               max_batch_size=5), tmp_path)}
    for i, want in enumerate(_expected(models["bilstm"], vocab, TEXTS, ["lrp.lstm"])):
        record = got.pop(i)
        del record["id"]
        _assert_same(record, want)
    assert not got


def test_text_vectorization_model_through_the_transform_equals_explain(tmp_path):
    """A model that begins with its TextVectorization, exported as is (its text signatures are on by
    default): ExplainTexts records equal explain(model, texts) on the layer's own tokens."""
    from keras_text_lrp.beam import ExplainTexts
    from keras_text_lrp.export import export_for_serving

    model = text_vectorization_model()
    export_for_serving(model, tmp_path / "tv", METHODS)
    texts = ["a good movie, really good!", "A bad plot and bad acting.", "the film was fun", "Dull story",
             "a movie the film was fun and good"]  # the last is cut at the layer's 7 ids
    got = {r["id"]: r for r in _collect(list(enumerate(texts)),
                                         ExplainTexts(str(tmp_path / "tv"), METHODS, max_batch_size=2),
                                         tmp_path)}
    expected = explain(model, texts, METHODS).to_records()
    assert sorted(got) == list(range(len(texts)))
    for i, want in enumerate(expected):
        del want["offsets"], want["oov"]
        record = got[i]
        del record["id"]
        _assert_same(record, want)
    assert got[4]["tokens"] == ["a", "movie", "the", "film", "was", "fun", "and"]


def test_text_with_no_token_gets_an_error_record(tmp_path):
    """A TextVectorization model drops punctuation: '?!' has no token, beside texts that have some."""
    from keras_text_lrp.beam import ExplainTextHandler, TextExample
    from keras_text_lrp.export import export_for_serving

    model = text_vectorization_model()
    export_for_serving(model, tmp_path / "tv", "lrp.epsilon")
    handler = ExplainTextHandler(str(tmp_path / "tv"), "lrp.epsilon")
    loaded = handler.load_model()
    results = list(handler.run_inference([TextExample("a good movie", 1), TextExample("?!", 2)], loaded))
    assert [r.example.id for r in results] == [1, 2]
    good, none = (r.inference for r in results)
    assert good["tokens"] == ["a", "good", "movie"]
    # the same as the analyzer on the layer's ids, summed over the embedding axis
    from keras_text_lrp import create_analyzer

    tv = model.get_layer("vectorize")
    ids = np.asarray(tv(np.array([["a good movie"]])), "int32")
    analysis = keras.Model(tv.output, model.outputs)
    logits = keras.ops.convert_to_numpy(analysis(ids))[0]
    relevance = create_analyzer("lrp.epsilon", analysis, neuron_selection_mode="max_activation").analyze(ids)
    np.testing.assert_allclose(good["scores"]["lrp.epsilon"], relevance.sum(-1)[0, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(good["logits"], logits, rtol=1e-5, atol=1e-5)
    assert good["predicted"] == good["target"] == int(np.argmax(logits))
    assert none == {"id": 2, "text": "?!", "tokens": [], "scores": {"lrp.epsilon": []}, "logits": None,
                    "predicted": None, "target": None, "error": "no tokens"}


def test_missing_signatures_and_bad_folders_fail_when_built(exported, tmp_path):
    from keras_text_lrp.beam import ExplainTexts
    from keras_text_lrp.export import export_for_serving

    folder, models = exported
    with pytest.raises(InvalidArgumentError, match=r"explain_text_lrp_z.*text_signature=True"):
        ExplainTexts(str(folder / "cnn"), ["lrp.epsilon", "lrp.z"])
    export_for_serving(models["cnn"], tmp_path / "tokens_only", "gradient")
    with pytest.raises(InvalidArgumentError, match=r"text signatures are none.*--text"):
        ExplainTexts(str(tmp_path / "tokens_only"), "gradient")
    with pytest.raises(InvalidArgumentError, match="not a SavedModel folder"):
        ExplainTexts(str(tmp_path / "nowhere"), "gradient")
    with pytest.raises(InvalidArgumentError, match="max_batch_size"):
        ExplainTexts(str(folder / "cnn"), "gradient", max_batch_size=0)


def test_bad_inputs_are_refused_naming_the_problem(exported, tmp_path):
    from keras_text_lrp.beam import ExplainTexts, to_example

    folder, _ = exported
    with pytest.raises(InvalidInputError, match="no 'text' key"):
        to_example({"id": 3})
    with pytest.raises(InvalidInputError, match="3 parts"):
        to_example((1, "a", "b"))
    with pytest.raises(InvalidInputError, match="not a str"):
        to_example(42)
    with pytest.raises(InvalidInputError, match="class index"):
        to_example({"text": "good", "target": "pos"})
    # a target outside the model's classes is refused inside the graph, not answered
    with pytest.raises(Exception, match=r"the model has 4 classes \(0..3\)"):
        _collect([{"text": "good", "target": 4}], ExplainTexts(str(folder / "cnn"), "gradient"), tmp_path)
