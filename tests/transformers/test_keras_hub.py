"""keras-hub text classifiers (BERT, DistilBERT) built from a config, explained from raw text.

Nothing is downloaded: the backbones are tiny configs and the WordPiece vocabulary is written here.
Skipped without ``keras_hub`` (the ``[hub]`` extra; ``scripts/test.sh`` installs it).

What is checked, on both backends:

- ``explain()`` encodes with the model's own preprocessor: the words are the texts' words, their
  scores are the sums of their pieces' relevances from ``analyze()`` on the preprocessor's output
  (summed here by hand), and ``[CLS]``/``[SEP]``/padding are no words: their relevance is the
  explanation's ``padding_relevance``.
- cp-LRP with ``bias_factor=1`` conserves the explained logit (token, position and segment shares all
  reach the words); padding columns get exactly 0.
- The gradient equals the backend's autodiff of the real Keras model in its token embeddings.
"""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
from gradient_reference import autodiff

import keras_text_lrp as ktl
from keras_text_lrp import cli, models
from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError

keras_hub = pytest.importorskip("keras_hub")

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "bad", "fun", "##ny", "not",
    "a", "film", "un", "##believ", "##able", ".", "!", "plot",
]
TEXTS = ["The movie was FUNNY .", "not a great zzz film", "an unbelievable plot !"]
LENGTH = 16


def _scaled(model: keras.Model, layer: str) -> None:
    """Scale the output layer so that the logits are not ~1e-3 (random init): values to compare."""
    dense = model.get_layer(layer)
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 20.0, bias + 0.1])


def _classifier(family: str, classes: int, seed: int) -> keras.Model:
    """keras-hub's ``{family}TextClassifier`` with its preprocessor, from a tiny config (no download)."""
    keras.utils.set_random_seed(seed)
    hub = keras_hub.models
    tokenizer = getattr(hub, f"{family}Tokenizer")(vocabulary=VOCAB, lowercase=True)
    pre = getattr(hub, f"{family}TextClassifierPreprocessor")(tokenizer=tokenizer, sequence_length=LENGTH)
    backbone = getattr(hub, f"{family}Backbone")(
        vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=LENGTH,
    )
    model = getattr(hub, f"{family}TextClassifier")(backbone=backbone, num_classes=classes, preprocessor=pre)
    _scaled(model, "logits")
    return model


@pytest.fixture(scope="module")
def bert() -> keras.Model:
    return _classifier("Bert", 3, seed=3)


@pytest.fixture(scope="module")
def distilbert() -> keras.Model:
    return _classifier("DistilBert", 2, seed=4)


def _inputs(model: keras.Model, texts: list[str]) -> dict:
    packed = model.preprocessor(texts)
    return {k: np.asarray(v).astype("int32") for k, v in packed.items()}


# The words of TEXTS and the columns of their pieces ([CLS] is column 0), written out by hand.
WORDS = [
    (["The", "movie", "was", "FUNNY", "."], [[1], [2], [3], [4, 5], [6]]),
    (["not", "a", "great", "zzz", "film"], [[1], [2], [3], [4], [5]]),
    # "an" is not in the vocabulary either: [UNK].
    (["an", "unbelievable", "plot", "!"], [[1], [2, 3, 4], [5], [6]]),
]


@pytest.mark.parametrize("fixture", ["bert", "distilbert"])
@pytest.mark.parametrize("method", ["lrp.epsilon", "lrp.attnlrp", "gradient", "input_t_gradient"])
def test_words_are_the_sums_of_their_pieces(fixture, method, request):
    model = request.getfixturevalue(fixture)
    with pytest.warns(UserWarning, match="not in the vocabulary"):
        e = ktl.explain(model, TEXTS, method)
    x = _inputs(model, TEXTS)
    index = [t.name for t in model.inputs].index("token_ids")
    r = np.asarray(ktl.create_analyzer(method, model, neuron_selection_mode="index").analyze(
        x, neuron_selection=e.target)[index])
    per_column = r.sum(-1)
    for i, (words, columns) in enumerate(WORDS):
        assert e.tokens[i] == words
        expected = np.array([per_column[i, c].sum() for c in columns])
        np.testing.assert_allclose(e.scores[method][i], expected, rtol=1e-5, atol=1e-7)
        # [CLS], [SEP] and the padding are not words; what analyze() gives them is kept apart.
        rest = np.ones(LENGTH, bool)
        rest[[c for cs in columns for c in cs]] = False
        np.testing.assert_allclose(e.padding_relevance[method][i], per_column[i, rest].sum(), rtol=1e-5,
                                   atol=1e-7)
    assert e.oov == [[False] * 5, [False, False, False, True, False], [True, False, False, False]]
    assert e.display_tokens[1][3] == "zzz"
    np.testing.assert_allclose(e.logits, np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fixture", ["bert", "distilbert"])
def test_cp_lrp_conserves_the_logit_with_every_embedding_share(fixture, request):
    model = request.getfixturevalue(fixture)
    x = _inputs(model, TEXTS)
    logits = np.asarray(model(x, training=False))
    target = logits.argmax(-1)
    analyzer = ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="index", bias_factor=1)
    relevances = analyzer.analyze(x, neuron_selection=target)
    names = [t.name for t in model.inputs]
    r = np.asarray(relevances[names.index("token_ids")])
    np.testing.assert_allclose(r.sum((1, 2)), logits[np.arange(3), target], rtol=1e-4)
    # The position and segment embeddings' shares went to the tokens: other inputs get none.
    for name, other in zip(names, relevances):
        if name != "token_ids":
            assert not np.asarray(other).any(), name
    # Padding columns (past [SEP]) get exactly 0.
    pad = x["padding_mask"] == 0
    assert pad.any() and np.all(r[pad] == 0)


@pytest.mark.parametrize("fixture", ["bert", "distilbert"])
def test_gradient_equals_autodiff_of_the_keras_model(fixture, request, monkeypatch):
    model = request.getfixturevalue(fixture)
    x = _inputs(model, TEXTS)
    target = np.asarray(model(x, training=False)).argmax(-1)
    names = [t.name for t in model.inputs]
    ours = np.asarray(ktl.create_analyzer("gradient", model, neuron_selection_mode="index").analyze(
        x, neuron_selection=target)[names.index("token_ids")])
    # The reference: the real model with its token embedding's output replaced by a variable.
    backbone = model.backbone  # BERT holds its token embedding; DistilBERT's is in TokenAndPositionEmbedding
    layer = getattr(backbone, "token_embedding", None)
    layer = layer or backbone.get_layer("token_and_position_embedding").token_embedding
    table = np.asarray(layer.embeddings)
    embedded = table[x["token_ids"]]
    holder: dict = {}
    monkeypatch.setattr(layer, "call", lambda ids, *a, **k: holder["value"])

    def scores(v):
        holder["value"] = v
        return model(x, training=False)

    np.testing.assert_allclose(ours, autodiff(scores, embedded, target), rtol=1e-4, atol=1e-6)


def test_a_batch_equals_each_text_alone(bert):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the out-of-vocabulary notes
        for method in ("lrp.epsilon", "lrp.attnlrp", "gradient"):
            batch = ktl.explain(bert, TEXTS, method)
            for i, text in enumerate(TEXTS):
                alone = ktl.explain(bert, [text], method)
                np.testing.assert_allclose(alone.scores[method][0], batch.scores[method][i], rtol=1e-5,
                                           atol=1e-7)


def test_a_cut_text_is_reported_in_pieces(bert):
    long = " ".join(["the movie was great"] * 5)  # 20 pieces; 14 fit between [CLS] and [SEP]
    with pytest.warns(UserWarning, match="text 0 has 20 tokens but the model takes at most 14"):
        e = ktl.explain(bert, [long], "lrp.epsilon")
    assert len(e.tokens[0]) == 14


@pytest.mark.parametrize("option", [{"max_len": 8}, {"min_len": 8}, {"padding": "pre"}])
def test_options_the_preprocessor_owns_are_refused(bert, option):
    name = next(iter(option))
    with pytest.raises(InvalidArgumentError, match=rf"{name} cannot be set .* BertTextClassifierPreproc"):
        ktl.explain(bert, TEXTS[:1], "lrp.epsilon", **option)


def test_the_command_line_explains_a_saved_keras_hub_classifier(bert, tmp_path, capsys):
    """``keras-text-lrp explain --model bert.keras``: the saved file (keras-hub's own serialisation)
    loads without a vocabulary, and its records equal ``explain()`` on the model in memory."""
    path = tmp_path / "bert.keras"
    bert.save(path)
    out = tmp_path / "out.json"
    rc = cli.main(["explain", *TEXTS, "--model", str(path), "--json", str(out), "--no-color",
                   "--method", "lrp.epsilon"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "~zzz" in captured.out  # the out-of-vocabulary mark of the terminal view
    records = json.loads(out.read_text(encoding="utf-8"))
    with pytest.warns(UserWarning):
        e = ktl.explain(bert, TEXTS, "lrp.epsilon")
    for i, record in enumerate(records):
        assert record["tokens"] == e.tokens[i]
        np.testing.assert_allclose(record["scores"]["lrp.epsilon"], e.scores["lrp.epsilon"][i], rtol=1e-4,
                                   atol=1e-6)
    assert [r["oov"] for r in records] == [0, 1, 1]
    loaded = models.load(path)
    assert loaded.vocabulary is None and loaded.labels == ("0", "1", "2")
    with pytest.raises(InvalidArgumentError, match="keras-hub classifier: encode texts with its own"):
        loaded.encode(TEXTS)
    with pytest.raises(InvalidArgumentError, match="do not pass a vocabulary"):
        models.load(path, vocabulary=tmp_path / "x.vocab.json")


def test_a_byte_pair_tokenizer_is_refused_naming_it():
    """RoBERTa's byte-pair pieces mark word starts (``Ġ``): they are not merged by the WordPiece rule."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "Ġ": 5, "m": 6, "o": 7, "Ġm": 8,
             "Ġmo": 9}
    tokenizer = keras_hub.models.RobertaTokenizer(vocabulary=vocab, merges=["Ġ m", "Ġm o"])
    pre = keras_hub.models.RobertaTextClassifierPreprocessor(tokenizer=tokenizer, sequence_length=8)
    backbone = keras_hub.models.RobertaBackbone(
        vocabulary_size=len(vocab), num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=8,
    )
    model = keras_hub.models.RobertaTextClassifier(backbone=backbone, num_classes=2, preprocessor=pre)
    with pytest.raises(InvalidModelError, match="uses a RobertaTokenizer; keras_text_lrp merges"):
        ktl.explain(model, ["mo mo"], "lrp.epsilon")
