"""The tiny token-id model of tests/safety (a module of its own: ``conftest`` is not importable by name
when several test folders have one)."""

from __future__ import annotations

import keras
import numpy as np

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
