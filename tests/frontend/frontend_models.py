"""Models for the front-end tests: what a user of Keras's text examples has in hand.

- :func:`sentiment_ids`: ``Input(int) -> Embedding -> GlobalAveragePooling1D -> Dense(1, sigmoid)``
  with chosen weights, so that ``good`` pushes the logit up and ``bad`` down, and the logit is known
  in closed form (the plain-numpy reference of the tests).
- :func:`sentiment_text`: the same behind a ``TextVectorization`` layer (raw strings in), as the
  Keras examples' end-to-end models.
- :func:`strided_cnn`: a CNN whose strided convolutions need at least 9 steps; :func:`text_strided_cnn`
  the same behind a ``TextVectorization`` that makes ids only as long as the longest text.
- :func:`bilstm`: a bi-LSTM without ``mask_zero``, trained a few steps on pre-padded ids
  (Keras's ``pad_sequences`` default), as in "Bidirectional LSTM on IMDB".
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from keras_text_lrp.text import Vocabulary

WORDS = ["good", "bad", "movie", "the", "plot", "great", "dull", "a", "not", "acting"]
VOCAB = Vocabulary(WORDS)  # ids: 0 padding, 1 [UNK], 2.. the words
DIM = 4


def _embedding_matrix(rows: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    E = rng.normal(0, 0.3, (rows, DIM)).astype("float32")
    E[VOCAB.token_to_id("good")] = [2.0, 0.5, 0.0, 0.1]
    E[VOCAB.token_to_id("great")] = [1.5, 0.2, 0.3, 0.0]
    E[VOCAB.token_to_id("bad")] = [-2.0, 0.1, -0.4, 0.2]
    E[VOCAB.token_to_id("dull")] = [-1.5, 0.0, 0.2, -0.1]
    return E


HEAD_W = np.array([[1.0], [0.5], [-0.3], [0.2]], "float32")
HEAD_B = np.array([0.05], "float32")


def sentiment_logit(ids: np.ndarray, E: np.ndarray, mask_zero: bool) -> np.ndarray:
    """The pre-sigmoid logit in plain numpy: the (masked) mean embedding times the head."""
    vectors = E[ids]
    if mask_zero:
        keep = (ids != 0)[..., None]
        mean = (vectors * keep).sum(1) / np.maximum(keep.sum(1), 1)
    else:
        mean = vectors.mean(1)
    return (mean @ HEAD_W + HEAD_B)[:, 0]


def sentiment_ids(extra_rows: int = 0, mask_zero: bool = True) -> tuple[keras.Model, np.ndarray]:
    rows = len(VOCAB) + extra_rows
    E = _embedding_matrix(rows)
    inputs = keras.Input(shape=(None,), dtype="int32")
    embedding = layers.Embedding(rows, DIM, mask_zero=mask_zero)
    x = layers.GlobalAveragePooling1D()(embedding(inputs))
    head = layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, head(x))
    embedding.set_weights([E])
    head.set_weights([HEAD_W, HEAD_B])
    return model, E


def sentiment_text(sequence_length: int | None = None) -> tuple[keras.Model, np.ndarray]:
    """TextVectorization (its vocabulary = WORDS) in front of :func:`sentiment_ids`, nested."""
    tv = layers.TextVectorization(vocabulary=WORDS, output_sequence_length=sequence_length)
    inner, E = sentiment_ids()
    text = keras.Input(shape=(1,), dtype="string")
    return keras.Model(text, inner(tv(text))), E


def strided_cnn() -> keras.Model:
    """Conv1D(5, strides 2) -> Conv1D(3) -> GlobalMaxPooling1D -> Dense(3): needs 9 steps."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(len(VOCAB), DIM)(inputs)
    x = layers.Conv1D(6, 5, strides=2, activation="relu")(x)
    x = layers.Conv1D(6, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    return keras.Model(inputs, layers.Dense(3)(x))


STRIDED_CNN_MIN = 9  # ((N - 5) // 2 + 1) - 3 + 1 >= 1  <=>  N >= 9


def text_strided_cnn() -> tuple[keras.Model, keras.Model]:
    """TextVectorization without ``output_sequence_length`` (ids as long as the longest text of the
    batch, as in "Text classification from scratch") in front of :func:`strided_cnn`, nested.

    Returns the end-to-end model and the inner token-id CNN.
    """
    tv = layers.TextVectorization(vocabulary=WORDS)
    inner = strided_cnn()
    text = keras.Input(shape=(1,), dtype="string")
    return keras.Model(text, inner(tv(text))), inner


BILSTM_LEN = 12
BILSTM_TEXTS = ["good movie", "bad plot", "a great movie , the acting good", "dull", "not good", "the plot"]


def bilstm() -> keras.Model:
    """Bidirectional LSTM for pre-padded ids (no mask_zero), as the Keras IMDB example builds it.

    Weights from a numpy rng (training would not change what is tested: that explain() feeds the
    ids as ``pad_sequences`` made them); the padding row is not zero, so padding matters.
    """
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(len(VOCAB), 6)(inputs)
    x = layers.Bidirectional(layers.LSTM(4))(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    return model
