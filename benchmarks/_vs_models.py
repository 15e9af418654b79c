"""The models of the iNNvestigate comparison, written once for Keras 3 and for tf.keras 2.

Both benchmark workers import this file and pass their own ``keras`` module, so the two
libraries see the same architecture; the weights travel as an ``.npz`` file in layer order.
"""

from __future__ import annotations

import numpy as np

T, D, VOCAB, CLASSES, BATCH = 50, 300, 20000, 5, 256
NAMES = ("cnn_embedded", "cnn_ids", "kim_cnn", "mlp3")

# Analyzers both libraries have, with the same options (iNNvestigate's names).
ANALYZERS = (
    ("gradient", {}),
    ("input_t_gradient", {}),
    ("integrated_gradients", {"steps": 64}),
    ("smoothgrad", {"augment_by_n": 16}),
    ("guided_backprop", {}),
    ("deconvnet", {}),
    ("deep_taylor", {}),
    ("lrp.z", {}),
    ("lrp.epsilon", {}),
    ("lrp.alpha_1_beta_0", {}),
    ("lrp.alpha_2_beta_1", {}),
)


def _cnn_body(keras, x):
    x = keras.layers.Conv1D(100, 3, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.layers.Dense(CLASSES)(x)


def build(keras, name: str, embedded_ids: bool = False):
    """Model ``name`` built with ``keras``.

    ``embedded_ids`` builds ``cnn_ids`` without its Embedding (input: the embedded
    batch), for iNNvestigate, which cannot differentiate through integer inputs.
    """
    if name == "cnn_embedded" or (name == "cnn_ids" and embedded_ids):
        inp = keras.Input((T, D))
        return keras.Model(inp, _cnn_body(keras, inp))
    if name == "cnn_ids":
        ids = keras.Input((T,), dtype="int32")
        return keras.Model(ids, _cnn_body(keras, keras.layers.Embedding(VOCAB, D)(ids)))
    if name == "kim_cnn":
        inp = keras.Input((T, D))
        branches = [
            keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(100, k, activation="relu")(inp))
            for k in (3, 4, 5)
        ]
        return keras.Model(inp, keras.layers.Dense(CLASSES)(keras.layers.Concatenate()(branches)))
    if name == "mlp3":
        inp = keras.Input((D,))
        x = keras.layers.Dense(512, activation="relu")(inp)
        x = keras.layers.Dense(512, activation="relu")(x)
        return keras.Model(inp, keras.layers.Dense(10)(x))
    raise ValueError(f"unknown model {name!r}; the models are {', '.join(NAMES)}")


def batch(name: str) -> np.ndarray:
    """The input batch of model ``name`` (token ids for ``cnn_ids``)."""
    rng = np.random.default_rng(0)
    if name == "cnn_ids":
        return rng.integers(1, VOCAB, size=(BATCH, T)).astype("int32")
    shape = (BATCH, D) if name == "mlp3" else (BATCH, T, D)
    return rng.normal(size=shape).astype("float32")
