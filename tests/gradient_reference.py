"""The backend's own autodiff, the reference every gradient-family test compares with."""

import keras
import numpy as np


def autodiff(fn, x, index):
    """``d fn(x)[b, index[b]] / dx`` by ``jax.grad`` or ``tf.GradientTape`` (one row per sample).

    ``fn`` maps a float array ``(batch, ...)`` to class scores ``(batch, classes)``; ``index`` holds
    one class per row.
    """
    x = np.asarray(x, "float32")
    hot = np.eye(np.asarray(keras.ops.convert_to_numpy(fn(x))).shape[-1], dtype="float32")[index]
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: (fn(v) * hot).sum())(x))
    import tensorflow as tf

    v = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = tf.reduce_sum(fn(v) * hot)
    return tape.gradient(y, v).numpy()
