"""Shipped pretrained models: loading, SST-5 accuracy against the model card, logits, encoding, errors."""

import re
import shutil

import keras
import numpy as np
import pytest

from keras_text_lrp import models
from keras_text_lrp.datasets import SST5_LABEL_NAMES, load_sst5
from keras_text_lrp.errors import InvalidArgumentError, KerasTextLRPError
from keras_text_lrp.models import ModelFileError, UnknownModelError
from keras_text_lrp.text import Vocabulary

TARGETS = {"sst5-cnn": 0.40, "sst5-bilstm": 0.42}

# The shipped CNN's Conv1D drops the Embedding mask by design (see its card); models.load silences
# Keras' warning globally, but pytest restores the warning filters after each test.
pytestmark = pytest.mark.filterwarnings("ignore:Layer 'bigram_conv' \\(of type Conv1D\\):UserWarning")


@pytest.fixture(scope="module", params=sorted(TARGETS))
def pretrained(request):
    return models.load(request.param)


def _logits(model, ids):
    return keras.ops.convert_to_numpy(model(ids, training=False))


def _card_number(card, split, column):
    # | split | sentences | accuracy | loss |
    match = re.search(rf"^\| {split} \| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$", card, re.MULTILINE)
    assert match, f"no {split} row in the model card"
    return float(match.group(column))


def test_list_models():
    assert models.list_models() == ["sst2-transformer", "sst5-bilstm", "sst5-cnn"]
    assert set(models.MODELS) == set(TARGETS) | {"sst2-transformer"}  # tests/transformers tests that one


def test_load_gives_model_vocabulary_labels_card(pretrained):
    assert isinstance(pretrained.model, keras.Model)
    assert isinstance(pretrained.vocabulary, Vocabulary)
    assert pretrained.labels == tuple(SST5_LABEL_NAMES)
    assert pretrained.name in TARGETS and pretrained.path.name == f"{pretrained.name}.keras"
    assert pretrained.card.startswith(f"# {pretrained.name}")
    kind = pretrained.name.removeprefix("sst5-")
    assert f"python -m keras_text_lrp.pretrained.train {kind}" in pretrained.card
    (model_input,) = pretrained.model.inputs
    assert tuple(model_input.shape) == (None, None) and "int32" in str(model_input.dtype)
    embedding = pretrained.model.get_layer("embedding")
    assert embedding.mask_zero and embedding.input_dim == len(pretrained.vocabulary)
    # padding and OOV rows are 0, as the card says
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding.embeddings)[:2], 0.0)
    assert "sst5" in repr(pretrained)


def test_bilstm_card_states_the_embedding_size():
    card = (models.PRETRAINED_DIR / "sst5-bilstm.md").read_text(encoding="utf-8")
    assert "60-dimensional" in card and "50-dimensional" in card


def test_test_accuracy_matches_card_and_target(pretrained):
    texts, labels = load_sst5("test")
    ids = pretrained.encode(texts)
    assert ids.shape[0] == len(texts) == 2210
    accuracy = float(np.mean(np.argmax(_logits(pretrained.model, ids), axis=1) == labels))
    assert _card_number(pretrained.card, "test", 1) == len(texts)
    assert accuracy == pytest.approx(_card_number(pretrained.card, "test", 2), abs=1e-3)
    assert accuracy >= TARGETS[pretrained.name]


def test_outputs_are_logits(pretrained):
    model = pretrained.model
    assert not any(isinstance(layer, keras.layers.Softmax) for layer in model.layers)
    last = model.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.units == 5
    assert last.activation in (keras.activations.linear, None)
    logits = pretrained.predict_logits(["a gorgeous , witty , seductive movie .", "dull and bad ."])
    assert logits.shape == (2, 5)
    assert (logits < 0).any() and not np.allclose(logits.sum(axis=1), 1.0)


def test_tokenize_and_encode(pretrained):
    vocab = pretrained.vocabulary
    assert pretrained.tokenize("It 's a GREAT film -LRB- really -RRB- .") == [
        "it", "'s", "a", "great", "film", "-lrb-", "really", "-rrb-", ".",
    ]
    ids = pretrained.encode(["the film is good .", "good", "zzzunknownzzz film"])
    assert ids.dtype == np.int32 and ids.shape == (3, 5)
    np.testing.assert_array_equal(ids[1, 1:], 0)
    np.testing.assert_array_equal(ids[2, 2:], 0)
    assert ids[1, 0] == vocab.token_to_id("good") >= 2
    assert ids[2, 0] == vocab.oov_id == 1
    assert (ids[0] > 1).all()
    assert pretrained.encode("good").shape == (1, 1)
    np.testing.assert_array_equal(pretrained.encode([""]), [[0]])
    assert pretrained.encode(["the film is good ."], max_len=8).shape == (1, 8)
    assert vocab.pad_id == 0 and vocab.decode(ids[1]) == ["good"]


def test_padding_does_not_change_logits(pretrained):
    sentence = "the acting is superb but the plot is a mess ."
    alone = _logits(pretrained.model, pretrained.encode(sentence))
    batch = pretrained.encode([sentence, "ok ."], max_len=28)  # 17 padding ids after the sentence
    np.testing.assert_allclose(_logits(pretrained.model, batch)[:1], alone, atol=1e-5)


def test_unknown_name_lists_the_models():
    with pytest.raises(UnknownModelError, match=r"sst5-bilstm.*sst5-cnn") as info:
        models.load("sst5-transformer")
    assert isinstance(info.value, ValueError) and isinstance(info.value, KerasTextLRPError)
    with pytest.raises(UnknownModelError, match="sst5-cnn"):
        models.load(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="only for a .keras path"):
        models.load("sst5-cnn", labels=["a", "b"])


def _copy_shipped(name, folder):
    for suffix in (".keras", ".vocab.json", ".md"):
        shutil.copy(models.PRETRAINED_DIR / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder / f"{name}.keras"


def test_load_from_path(tmp_path):
    path = _copy_shipped("sst5-cnn", tmp_path)
    shipped = models.load("sst5-cnn")
    copy = models.load(path)
    assert copy.name == "sst5-cnn" and copy.card == shipped.card and copy.vocabulary == shipped.vocabulary
    ids = shipped.encode(["a gorgeous , witty , seductive movie ."])
    np.testing.assert_allclose(_logits(copy.model, ids), _logits(shipped.model, ids), atol=1e-6)
    other = tmp_path / "renamed.keras"
    shutil.copy(path, other)
    with pytest.raises(ModelFileError, match="renamed.vocab.json"):
        models.load(other)
    loaded = models.load(str(other), vocabulary=tmp_path / "sst5-cnn.vocab.json")
    assert loaded.name == "renamed" and loaded.card == ""
    # an Embedding with more rows than the vocabulary is fine (issue 10, item 7); fewer is not
    assert len(models.load(other, vocabulary=Vocabulary(["a", "b"])).vocabulary) == 4
    with pytest.raises(ModelFileError, match="they do not belong together"):
        models.load(other, vocabulary=Vocabulary(shipped.vocabulary.words + ["zz-extra-1", "zz-extra-2"]))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing", "text"])
def test_corrupt_file_error_names_the_file(tmp_path, damage):
    path = _copy_shipped("sst5-cnn", tmp_path)
    if damage == "garbage":
        path.write_bytes(b"\x00not a zip archive" * 50)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "missing":
        path.unlink()
    else:
        path.write_text("{}", encoding="utf-8")
    with pytest.raises(ModelFileError) as info:
        models.load(path)
    error = info.value
    assert str(path) in str(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_corrupt_vocabulary_error_names_the_file(tmp_path):
    path = _copy_shipped("sst5-cnn", tmp_path)
    (tmp_path / "sst5-cnn.vocab.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(ModelFileError, match="sst5-cnn.vocab.json") as info:
        models.load(path)
    assert info.value.__suppress_context__


def test_damaged_shipped_file_fails_the_checksum(tmp_path, monkeypatch):
    for name in TARGETS:
        _copy_shipped(name, tmp_path)
    shutil.copy(models.PRETRAINED_DIR / "checksums.json", tmp_path / "checksums.json")
    monkeypatch.setattr(models, "PRETRAINED_DIR", tmp_path)
    data = bytearray((tmp_path / "sst5-bilstm.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "sst5-bilstm.keras").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"sst5-bilstm\.keras.*damaged"):
        models.load("sst5-bilstm")
    (tmp_path / "sst5-cnn.vocab.json").unlink()
    with pytest.raises(ModelFileError, match=r"sst5-cnn\.vocab\.json.*missing"):
        models.load("sst5-cnn")
