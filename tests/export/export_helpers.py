"""Tiny models and helpers for the serving-export and streaming tests (tests/export).

Weights come from a numpy rng (the padding row of each Embedding is 0), so
the numbers do not depend on Keras' initialisers. Everything here needs the
TensorFlow backend (SavedModels are TensorFlow graphs): under
``KERAS_BACKEND=jax`` the tests are skipped, except the one checking that
export refuses JAX with a clear message.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

L = keras.layers
HERE = Path(__file__).resolve().parent

TENSORFLOW_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="SavedModel export and its checks need KERAS_BACKEND=tensorflow (the JAX refusal is tested)",
)

WORDS = [
    "a", "good", "bad", "movie", "film", "great", "boring", "not", "it", "'s", "was", "very", ",", ".",
    "and", "the", "-lrb-", "-rrb-", "is", "fun", "dull", "n't", "story", "acting", "``", "''", "plot",
    "\\/", "i", "do", "like", "!", "?", "cannot", "can", "gon", "na", "'re", ":",
]
"""Lowercased words of the tiny vocabulary (PTB escapes included, as in SST)."""


def randomize(model: keras.Model, seed: int) -> keras.Model:
    """Normal(0, 0.7) weights from a numpy rng; each Embedding's padding row 0."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 0.7, w.shape).astype("float32") for w in model.get_weights()]
    ids = [id(v) for v in model.weights]
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, L.Embedding):
            weights[ids.index(id(layer.embeddings))][0] = 0.0
    model.set_weights(weights)
    return model


def cnn(vocab_size: int, classes: int = 4, seed: int = 0) -> keras.Model:
    """Embedding(mask_zero) -> Conv1D(2, same, no bias, ReLU) -> GlobalMaxPooling1D -> Dense."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = L.Embedding(vocab_size, 8, mask_zero=True, name="embedding")(ids)
    x = L.Conv1D(6, 2, padding="same", use_bias=False, activation="relu", name="bigram_conv")(x)
    x = L.GlobalMaxPooling1D(name="pool")(x)
    return randomize(keras.Model(ids, L.Dense(classes, name="logits")(x), name="tiny_cnn"), seed)


def bilstm(vocab_size: int, classes: int = 3, seed: int = 1) -> keras.Model:
    """Embedding(mask_zero=True) -> Bidirectional(LSTM(5)) -> Dense."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = L.Embedding(vocab_size, 6, mask_zero=True, name="embedding")(ids)
    x = L.Bidirectional(L.LSTM(5), name="bilstm")(x)
    return randomize(keras.Model(ids, L.Dense(classes, name="logits")(x), name="tiny_bilstm"), seed)


def text_vectorization_model(seed: int = 2) -> keras.Model:
    """Strings (batch, 1) -> TextVectorization(length 7) -> Embedding -> GlobalAveragePooling1D -> Dense."""
    tv = L.TextVectorization(max_tokens=30, output_sequence_length=7, name="vectorize")
    tv.adapt(["a good movie , really good !", "a bad plot and bad acting", "the film was fun", "dull story"])
    text = keras.Input((1,), dtype="string", name="text")
    x = L.Embedding(30, 8, mask_zero=True, name="embedding")(tv(text))
    x = L.GlobalAveragePooling1D(name="pool")(x)
    return randomize(keras.Model(text, L.Dense(3, name="logits")(x), name="tiny_tv"), seed)


def bag_of_words(vocab_size: int, classes: int = 3, seed: int = 3) -> keras.Model:
    """Embedding(mask_zero) -> GlobalAveragePooling1D -> Dense: the cheapest token model."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = L.Embedding(vocab_size, 8, mask_zero=True, name="embedding")(ids)
    x = L.GlobalAveragePooling1D(name="pool")(x)
    return randomize(keras.Model(ids, L.Dense(classes, name="logits")(x), name="tiny_bow"), seed)


def isolated_python() -> list[str]:
    """A command line for a Python in which keras_text_lrp cannot be imported.

    ``-I`` drops PYTHONPATH, the user site and the script's folder from the
    path; ``-S`` skips site-packages' ``.pth`` files, among them the editable
    install's import hook. The child adds the site-packages folders itself
    (``KTL_SITE_PACKAGES``) so that TensorFlow imports, then checks that
    ``import keras_text_lrp`` fails.
    """
    return [sys.executable, "-I", "-S"]


def site_packages_env() -> dict[str, str]:
    """Environment for :func:`isolated_python` children (run with ``cwd`` outside the repository)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["KTL_SITE_PACKAGES"] = os.pathsep.join(site.getsitepackages())
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env
