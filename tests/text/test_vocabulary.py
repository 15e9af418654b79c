"""Vocabulary: ids, encoding, TextVectorization round trips, JSON."""

import json

import keras
import numpy as np
import pytest

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.text import Vocabulary

DOCS = [["the", "film", "is", "good"], ["the", "film", "is", "bad"], ["the", "end"]]


def test_from_tokens_orders_by_count_then_alphabet():
    vocab = Vocabulary.from_tokens(DOCS)
    assert vocab.get_vocabulary() == ["", "[UNK]", "the", "film", "is", "bad", "end", "good"]
    assert (vocab.pad_id, vocab.oov_id, len(vocab)) == (0, 1, 8)
    assert "film" in vocab and "" not in vocab and "zzz" not in vocab
    small = Vocabulary.from_tokens(DOCS, min_count=2)
    assert small.words == ["the", "film", "is"]
    assert Vocabulary.from_counts({"a": 5, "b": 3, "c": 9}, max_size=4).words == ["c", "a"]


def test_encode_padding_and_truncation():
    vocab = Vocabulary(["the", "film", "good"])
    ids, lengths = vocab.encode([["the", "film", "xyz"], ["good"]], max_len=4)
    assert ids.dtype == np.int32 and lengths.dtype == np.int32
    np.testing.assert_array_equal(ids, [[2, 3, 1, 0], [4, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1])
    ids, _ = vocab.encode([["the", "film", "xyz"], ["good"]], max_len=2, padding="pre", truncating="pre")
    np.testing.assert_array_equal(ids, [[3, 1], [0, 4]])
    ids, lengths = vocab.encode([["the", "film", "xyz"]], max_len=2)
    np.testing.assert_array_equal(ids, [[2, 3]])
    assert lengths.tolist() == [2]
    ids, _ = vocab.encode([["film"], []])
    assert ids.shape == (2, 1)


def test_decode():
    vocab = Vocabulary(["the", "film"])
    assert vocab.decode([[2, 3, 1, 0], [0, 0, 3, 2]]) == [["the", "film", "[UNK]"], ["film", "the"]]
    assert vocab.decode([2, 0], skip_padding=False) == ["the", ""]
    with pytest.raises(InvalidArgumentError, match="out of range"):
        vocab.decode([7])


def test_to_text_vectorization_gives_same_ids():
    vocab = Vocabulary.from_tokens(DOCS)
    layer = vocab.to_text_vectorization(output_sequence_length=6)
    assert [str(t) for t in layer.get_vocabulary()] == vocab.get_vocabulary()
    texts = [["the", "film", "is", "awful"], ["good", "end"]]
    expected, _ = vocab.encode(texts, max_len=6)
    got = keras.ops.convert_to_numpy(layer([" ".join(t) for t in texts]))
    np.testing.assert_array_equal(got, expected)


def test_from_adapted_text_vectorization_round_trip():
    layer = keras.layers.TextVectorization(standardize=None, max_tokens=6)
    layer.adapt(["a a a b b c", "a b d"])
    vocab = Vocabulary.from_text_vectorization(layer)
    assert vocab.get_vocabulary() == [str(t) for t in layer.get_vocabulary()]
    ids, _ = vocab.encode([["a", "b", "zz", "c"]])
    np.testing.assert_array_equal(ids, keras.ops.convert_to_numpy(layer(["a b zz c"])))
    again = Vocabulary.from_text_vectorization(vocab.to_text_vectorization())
    assert again == vocab
    with pytest.raises(InvalidArgumentError, match="output_mode"):
        Vocabulary.from_text_vectorization(
            keras.layers.TextVectorization(output_mode="count", vocabulary=["a"])
        )


def test_json_save_load(tmp_path):
    vocab = Vocabulary(["caf\u00e9", '"quoted"', "\U0001f600"], pad_token="<pad>", oov_token="<unk>")
    path = vocab.save(tmp_path / "vocab.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "keras_text_lrp.Vocabulary" and data["words"][0] == "caf\u00e9"
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.oov_token == "<unk>" and loaded.token_to_id("<unk>") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]
    with pytest.raises(InvalidArgumentError, match="TextVectorization needs"):
        loaded.to_text_vectorization()
    with pytest.raises(InvalidArgumentError, match="not a keras_text_lrp.Vocabulary"):
        Vocabulary.from_json('{"words": []}')


def test_invalid_vocabularies():
    with pytest.raises(InvalidArgumentError, match="duplicate"):
        Vocabulary(["a", "a"])
    with pytest.raises(InvalidArgumentError, match="special"):
        Vocabulary(["[UNK]"])
    with pytest.raises(InvalidArgumentError, match="max_size"):
        Vocabulary.from_counts({"a": 1}, max_size=1)
    with pytest.raises(InvalidArgumentError, match="not strings"):
        Vocabulary(["a"]).encode(["a b"])
    with pytest.raises(InvalidArgumentError, match="padding"):
        Vocabulary(["a"]).encode([["a"]], padding="middle")
