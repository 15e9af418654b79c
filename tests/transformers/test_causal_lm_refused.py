"""A causal language model (one next-token distribution per position) is not a classifier: every
analyzer and explain() refuse it with one line that says what would be right."""

import keras
import numpy as np
import pytest
from keras import layers

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidModelError
from keras_text_lrp.text import Vocabulary


def _causal_lm():
    ids = keras.Input((None,), dtype="int32")
    x = layers.Embedding(20, 8)(ids)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True))
    return keras.Model(ids, layers.Dense(20)(x), name="tiny_lm")  # (batch, T, vocabulary)


@pytest.mark.parametrize("name", ["lrp.epsilon", "lrp.attnlrp", "gradient"])
def test_causal_lm_is_refused_by_every_analyzer(name):
    with pytest.raises(InvalidModelError) as err:
        ktl.create_analyzer(name, _causal_lm())
    message = str(err.value)
    assert "\n" not in message
    assert "'tiny_lm' gives one output per position, shape (None, None, 20)" in message
    assert "language model" in message and "(batch, classes) logits" in message


def test_causal_lm_is_refused_by_explain():
    with pytest.raises(InvalidModelError, match="one output per position"):
        ktl.explain(_causal_lm(), ["a b"], vocabulary=Vocabulary(["a", "b"]))
    # the same blocks pooled into a classifier head are explained
    ids = keras.Input((None,), dtype="int32")
    x = layers.Embedding(20, 8)(ids)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True))
    clf = keras.Model(ids, layers.Dense(2)(layers.GlobalAveragePooling1D()(x)))
    e = ktl.explain(clf, ["a b"], "gradient", vocabulary=Vocabulary(["a", "b"]))
    assert e.tokens == [["a", "b"]] and np.all(np.isfinite(e.scores["gradient"][0]))
