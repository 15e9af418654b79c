"""Fixtures of tests/safety: a tiny token-id model saved as ``.keras`` with its vocabulary.

Weights come from a numpy rng so that both backends see the same numbers; the
model is built like the shipped CNN (padding row 0, no convolution bias), so
padding cannot change its logits.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_text_lrp.text import Vocabulary

WORDS = ["a", "good", "bad", "movie", "film", "great", "boring", "not", "it", "was", "very", ",", ".",
         "and", "the", "is", "fun", "dull", "story", "acting"]
L = keras.layers


def tiny_model(vocab_size: int, seed: int = 0, classes: int = 3) -> keras.Model:
    """Embedding(mask_zero) -> Conv1D(4, 2, same, no bias, ReLU) -> GlobalMaxPooling1D -> Dense."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = L.Embedding(vocab_size, 6, mask_zero=True, name="embedding")(ids)
    x = L.Conv1D(4, 2, padding="same", use_bias=False, activation="relu", name="bigram_conv")(x)
    x = L.GlobalMaxPooling1D(name="pool")(x)
    model = keras.Model(ids, L.Dense(classes, name="logits")(x), name="tiny_safety")
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 0.7, w.shape).astype("float32") for w in model.get_weights()]
    weights[0][0] = 0.0  # the padding row
    model.set_weights(weights)
    return model


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return Vocabulary(WORDS)


@pytest.fixture(scope="session")
def model(vocab) -> keras.Model:
    return tiny_model(len(vocab))


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, model, vocab):
    """The tiny model as ``tiny.keras`` with ``tiny.vocab.json`` beside it (for the CLI)."""
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.keras"
    model.save(path)
    vocab.save(folder / "tiny.vocab.json")
    return path
