"""Creating and running many analyzers in a loop prints no tf.function retracing warning.

TensorFlow counts traces per code object of the traced function; every analyzer's
compiled function is traced once, and :func:`keras_text_lrp.backend.compile_fn` makes
each one count on its own, so 20 analyzers in a loop (as ``explain_dataset`` and the
README snippets do) must not log "triggered tf.function retracing". TensorFlow only.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from keras_text_lrp import create_analyzer

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a tf.function warning")


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_twenty_analyzers_in_a_loop_do_not_retrace():
    import tensorflow as tf

    x = keras.Input((6,))
    y = keras.layers.Dense(3)(keras.layers.Dense(4, activation="relu")(x))
    model = keras.Model(x, y)
    X = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    W1, b1 = model.layers[1].get_weights()
    W2, _ = model.layers[2].get_weights()
    names = ["gradient", "lrp.epsilon", "guided_backprop", "input_t_gradient"]
    capture = _Capture()
    logger = tf.get_logger()
    logger.addHandler(capture)
    try:
        results = [create_analyzer(names[i % 4], model).analyze(X) for i in range(20)]
    finally:
        logger.removeHandler(capture)
    assert not [m for m in capture.messages if "retracing" in m], capture.messages
    # The analyses are right, too: the gradient of the selected logit by hand.
    z = X @ W1 + b1
    top = np.argmax(model(X).numpy(), axis=1)
    grad = ((z > 0) * W2[:, top].T) @ W1.T
    for r in results[0::4]:
        np.testing.assert_allclose(r, grad, rtol=1e-5, atol=1e-6)
