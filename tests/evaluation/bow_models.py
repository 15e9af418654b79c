"""Hand-built models whose evaluation numbers are known exactly (tests/evaluation).

``bow_model()``: Embedding(8, 2, mask_zero=True) -> masked GlobalAveragePooling1D
-> Dense(2) with kernel I and bias (0.1, 0), so the logits of a text with real
words w_1..w_n are ``mean_t e(w_t) + (0.1, 0)``: class 0 reads the first
embedding coordinate, class 1 the second. The relevance of word t for class c
(LRP-epsilon and input x gradient alike) is exactly ``e(w_t)[c] / n``: the bias
is absorbed, padding gets 0.
"""

from __future__ import annotations

import keras
import numpy as np

L = keras.layers

#: id -> embedding; 0 = padding, 1 = [UNK]
EMBEDDINGS = {
    0: [0.0, 0.0],
    1: [0.5, 1.5],   # [UNK]
    2: [4.0, 0.0],   # great
    3: [2.0, 0.0],   # good
    4: [1.0, 0.5],   # fine
    5: [0.0, 2.0],   # bad
    6: [0.0, 4.0],   # awful
    7: [1.0, 1.5],   # so-so
}
BIAS = np.array([0.1, 0.0])

#: six texts (T = 5) and their true classes
IDS = np.array([
    [2, 5, 3, 4, 0],   # t0 great bad good fine   -> (7, 2.5)/4 + b = (1.85, 0.625): correct (0)
    [6, 4, 5, 7, 0],   # t1 awful fine bad so-so  -> (2, 8)/4 + b = (0.6, 2.0): correct (1)
    [3, 6, 0, 0, 0],   # t2 good awful            -> (2, 4)/2 + b = (1.1, 2.0): wrong (label 0)
    [5, 2, 7, 3, 0],   # t3 bad great so-so good  -> (7, 3.5)/4 + b = (1.85, 0.875): wrong (label 1)
    [4, 0, 0, 0, 0],   # t4 fine                  -> (1.1, 0.5): correct (0)
    [6, 3, 7, 0, 0],   # t5 awful good so-so      -> (3, 5.5)/3 + b = (1.1, 1.8333): correct (1)
], dtype="int32")
LABELS = np.array([0, 1, 0, 1, 0, 1], dtype="int32")

_CACHE: dict = {}


def bow_model(seq_len: int | None = None) -> keras.Model:
    """The bag-of-words model above (cached per input length)."""
    if seq_len in _CACHE:
        return _CACHE[seq_len]
    ids = keras.Input((seq_len,), dtype="int32")
    x = L.Embedding(len(EMBEDDINGS), 2, mask_zero=True, name="emb")(ids)
    x = L.GlobalAveragePooling1D()(x)
    out = L.Dense(2, name="out")(x)
    model = keras.Model(ids, out, name=f"bow_{seq_len}")
    model.get_layer("emb").set_weights([np.array([EMBEDDINGS[i] for i in range(len(EMBEDDINGS))])])
    model.get_layer("out").set_weights([np.eye(2), BIAS])
    _CACHE[seq_len] = model
    return model


def true_word_relevance(ids: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``e(w_t)[c] / n`` per position (0 at padding), the exact relevances of bow_model."""
    table = np.array([EMBEDDINGS[i] for i in range(len(EMBEDDINGS))])
    n = (ids != 0).sum(axis=1, keepdims=True)
    values = table[ids][np.arange(len(ids))[:, None], np.arange(ids.shape[1])[None, :], classes[:, None]]
    return np.where(ids != 0, values / np.maximum(n, 1), 0.0)
