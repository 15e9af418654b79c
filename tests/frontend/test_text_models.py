"""Models that take raw strings (TextVectorization first) and one-unit sigmoid heads, through every
front end: explain(), the CLI, explain_dataset.

The reference numbers are plain numpy (the logit of a mean-pooled embedding is known in closed form,
and so is its gradient) and the analyzer's own ``analyze()`` on the same texts.
"""

from __future__ import annotations

import json
import re
import string
import warnings

import numpy as np
import pytest
from frontend_models import DIM, HEAD_W, VOCAB, sentiment_ids, sentiment_logit, sentiment_text

import keras_text_lrp as ktl
from keras_text_lrp import cli
from keras_text_lrp.streaming import explain_dataset

TEXTS = ["Good movie!", "A bad, dull plot.", "the acting: GREAT", "not good , not bad"]


def standardise(text: str) -> list[str]:
    """TextVectorization's default standardisation and split, in plain Python."""
    return re.sub(f"[{re.escape(string.punctuation)}]", "", text.lower()).split()


@pytest.fixture(scope="module")
def text_model():
    return sentiment_text()


@pytest.fixture(scope="module")
def reference(text_model):
    """Tokens, ids and the pre-sigmoid logit z of TEXTS, in numpy."""
    _, E = text_model
    tokens = [standardise(t) for t in TEXTS]
    ids, _ = VOCAB.encode(tokens)
    return tokens, ids, sentiment_logit(ids, E, mask_zero=True)


def test_explain_takes_raw_strings_with_the_layers_tokens(text_model, reference):
    model, _ = text_model
    tokens, ids, z = reference
    assert z.min() < 0 < z.max()  # both classes predicted
    e = ktl.explain(model, TEXTS, ["lrp.epsilon", "gradient"])
    assert e.tokens == tokens
    np.testing.assert_array_equal(e.ids, ids)
    np.testing.assert_allclose(e.logits, np.stack([-z, z], 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(e.predicted, (z > 0).astype(int))
    # d(+-z)/dE_t = +-W / n at each of the n tokens (mean pooling over the unmasked tokens)
    n = np.array([len(t) for t in tokens])
    sign = np.where(e.target == 1, 1.0, -1.0)
    for i in range(len(TEXTS)):
        np.testing.assert_allclose(e.scores["gradient"][i], np.full(n[i], sign[i] * HEAD_W.sum() / n[i]),
                                   rtol=1e-5)
    from keras_text_lrp.explain import _analyzer

    # explain()'s own analyzer, create_analyzer("lrp.epsilon", model, neuron_selection_mode="index"),
    # from its cache (not traced twice)
    analyzer = _analyzer("lrp.epsilon", model, {})
    assert analyzer.tokens(TEXTS) == tokens
    r = analyzer.analyze(TEXTS, neuron_selection=e.target)
    assert r.shape == (len(TEXTS), ids.shape[1], DIM)
    for i in range(len(TEXTS)):
        np.testing.assert_allclose(e.scores["lrp.epsilon"][i], r[i, : n[i]].sum(-1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(e.padding_relevance["lrp.epsilon"], 0.0, atol=0)  # mask_zero: nothing there
    # the offsets point at the words in the original texts
    assert [TEXTS[2][a:b] for a, b in e.offsets[2]] == ["the", "acting", "GREAT"]


def test_explain_dataset_equals_explain(text_model, tmp_path):
    model, _ = text_model
    e = ktl.explain(model, TEXTS, ["lrp.epsilon", "gradient"])
    summary = explain_dataset(model, TEXTS, tmp_path / "out.jsonl", ["lrp.epsilon", "gradient"], batch_size=3,
                              progress=False)
    assert summary.written == len(TEXTS)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for got, want in zip(records, e.to_records()):
        assert got["tokens"] == want["tokens"] and got["predicted"] == want["predicted"]
        for m in ("lrp.epsilon", "gradient"):
            np.testing.assert_allclose(got["scores"][m], want["scores"][m], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-5, atol=1e-7)


def _cli_json(argv, tmp_path, capsys):
    out = tmp_path / "records.json"
    code = cli.main([*argv, "--json", str(out), "--no-color"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(out.read_text()), captured.out


def test_cli_text_model_without_vocab_file_and_sigmoid_pred(text_model, reference, tmp_path, capsys):
    model, _ = text_model
    _, _, z = reference
    path = tmp_path / "my_tv_model.keras"
    model.save(path)
    assert not path.with_suffix(".vocab.json").exists()
    records, shown = _cli_json(["explain", *TEXTS, "--model", str(path), "--labels", "neg,pos",
                                "--method", "lrp.epsilon,gradient"], tmp_path, capsys)
    e = ktl.explain(model, TEXTS, ["lrp.epsilon", "gradient"])
    for i, record in enumerate(records):
        assert record["predicted"] == int(z[i] > 0) == record["target"]
        assert record["labels"] == ["neg", "pos"]
        np.testing.assert_allclose(record["logits"], [-z[i], z[i]], rtol=1e-5, atol=1e-6)
        for m in ("lrp.epsilon", "gradient"):
            np.testing.assert_allclose(record["scores"][m], e.scores[m][i], rtol=1e-5, atol=1e-7)
    heads = re.findall(r"pred: (\w+) \((\d)\)", shown)
    assert heads == [("pos", "1") if v > 0 else ("neg", "0") for v in z]
    # --target by name: class 1 for every text, explained by +z
    records, _ = _cli_json(["explain", *TEXTS, "--model", str(path), "--labels", "neg,pos", "--target", "pos",
                            "--method", "gradient", "--quiet"], tmp_path, capsys)
    n = [len(r["tokens"]) for r in records]
    for record, k in zip(records, n):
        assert record["target"] == 1
        np.testing.assert_allclose(record["scores"]["gradient"], [HEAD_W.sum() / k] * k, rtol=1e-5)


def test_cli_id_model_sigmoid_pred_for_both_signs(tmp_path, capsys):
    model, E = sentiment_ids()
    path = tmp_path / "sentiment.keras"
    model.save(path)
    VOCAB.save(path.with_suffix(".vocab.json"))
    texts = ["good movie", "bad movie", "dull plot", "great acting"]
    ids, _ = VOCAB.encode([t.split() for t in texts])
    z = sentiment_logit(ids, E, mask_zero=True)
    assert z.min() < 0 < z.max()
    records, shown = _cli_json(["explain", *texts, "--model", str(path), "--labels", "negative,positive"],
                               tmp_path, capsys)
    assert [r["predicted"] for r in records] == [int(v > 0) for v in z]
    np.testing.assert_allclose([r["logits"] for r in records], np.stack([-z, z], 1), rtol=1e-5, atol=1e-6)
    assert re.findall(r"pred: (\w+)", shown) == ["positive" if v > 0 else "negative" for v in z]
    # without --labels the classes are "0" and "1"
    records, _ = _cli_json(["explain", *texts, "--model", str(path), "--quiet"], tmp_path, capsys)
    assert records[0]["labels"] == ["0", "1"]


@pytest.mark.parametrize("argv, message", [
    (["--labels", "a,b,c"], "--labels gives 3 class names but the model 'my_tv_model' has 2 classes"),
    (["--padding", "pre"], "its TextVectorization layer"),
    (["--max-len", "3"], "its TextVectorization layer"),
])
def test_cli_refuses_in_one_line(text_model, tmp_path, capsys, argv, message):
    model, _ = text_model
    path = tmp_path / "my_tv_model.keras"
    model.save(path)
    out = tmp_path / "never.json"
    assert cli.main(["explain", "good movie", "--model", str(path), *argv, "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not out.exists()


def test_string_model_given_ids_and_id_model_given_strings(text_model):
    model, _ = text_model
    analyzer = ktl.create_analyzer("gradient", model)
    with pytest.raises(ktl.errors.InvalidInputError, match="takes raw text strings"):
        analyzer.analyze(np.array([[2, 3]]))
    ids_model, _ = sentiment_ids()
    with pytest.raises(ktl.errors.InvalidArgumentError, match="needs the vocabulary of this token-id model"):
        ktl.explain(ids_model, ["good movie"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = ktl.explain(ids_model, ["good movie"], vocabulary=VOCAB)
    assert e.tokens == [["good", "movie"]]
