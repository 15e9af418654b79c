"""Tiny saved models for the command line and explain() tests (tests/cli).

Each model is a ``.keras`` file with its ``.vocab.json`` beside it, as
``keras_text_lrp.models.load(path)`` expects; weights come from a numpy rng
so that every backend sees the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from keras_text_lrp.text import Vocabulary

WORDS = [
    "a", "good", "bad", "movie", "film", "great", "boring", "not", "it", "'s", "was", "very",
    ",", ".", "and", "the", "-lrb-", "-rrb-", "is", "fun", "dull", "n't", "story", "acting",
    "<", ">", "&", "``", "''", "script", "b",
]
"""The words of the tiny vocabulary (lowercased, as the models see them)."""

L = keras.layers


def _randomize(model: keras.Model, seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 0.7, w.shape).astype("float32") for w in model.get_weights()]
    for layer in model.layers:
        if isinstance(layer, L.Embedding):
            index = [id(v) for v in model.weights].index(id(layer.embeddings))
            weights[index][0] = 0.0  # padding row 0: the logits do not depend on padding
    model.set_weights(weights)
    return model


def token_model(vocab_size: int, length: int | None = None, seed: int = 0, classes: int = 5) -> keras.Model:
    """Embedding(mask_zero) -> Conv1D(2, "same", no bias, ReLU) -> GlobalMaxPooling1D -> Dense(classes).

    Built like the shipped CNN, so padding cannot change the logits (the
    padding row of the embedding is 0 and the convolution has no bias).
    """
    ids = keras.Input((length,), dtype="int32", name="token_ids")
    x = L.Embedding(vocab_size, 8, mask_zero=True, name="embedding")(ids)
    x = L.Conv1D(6, 2, padding="same", use_bias=False, activation="relu",
                 name="bigram_conv")(x)  # the shipped CNN's name: models.load silences Keras' mask notice
    x = L.GlobalMaxPooling1D(name="pool")(x)
    logits = L.Dense(classes, name="logits")(x)
    return _randomize(keras.Model(ids, logits, name="tiny_cnn"), seed)


def _save(folder: Path, stem: str, model: keras.Model | None, vocab: Vocabulary) -> Path:
    path = folder / f"{stem}.keras"
    if model is None:
        path.write_bytes(b"this is not a zip archive")
    else:
        model.save(path)
    vocab.save(folder / f"{stem}.vocab.json")
    return path


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return Vocabulary(WORDS)


@pytest.fixture(scope="session")
def model_files(tmp_path_factory, vocab) -> dict[str, Path]:
    """Saved models: ``tiny`` (any length), ``fixed`` (6 ids), ``dense`` (float input), ``broken``."""
    folder = tmp_path_factory.mktemp("models")
    dense_in = keras.Input((4,), name="features")
    dense = keras.Model(dense_in, L.Dense(5)(dense_in))
    return {
        "tiny": _save(folder, "tiny", token_model(len(vocab)), vocab),
        "fixed": _save(folder, "fixed", token_model(len(vocab), length=6, seed=1), vocab),
        "dense": _save(folder, "dense", dense, vocab),
        "broken": _save(folder, "broken", None, vocab),
    }


@pytest.fixture(scope="session")
def tiny(model_files):
    """The ``tiny`` model loaded with keras_text_lrp.models.load."""
    from keras_text_lrp import models

    return models.load(model_files["tiny"])


@pytest.fixture(scope="session")
def three_class_file(tmp_path_factory, vocab) -> Path:
    """A saved ``tiny`` model with 3 classes (``three.keras`` and ``three.vocab.json``)."""
    folder = tmp_path_factory.mktemp("three")
    return _save(folder, "three", token_model(len(vocab), seed=2, classes=3), vocab)
