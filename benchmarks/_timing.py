"""Shared timing helpers for the benchmark scripts."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import keras
import numpy as np

from keras_text_lrp import backend


def compiled_forward(model: keras.Model) -> Callable:
    """``model(x)`` traced the way analyzers are traced (tf.function / jax.jit)."""
    return backend.compile_fn(lambda x: model(x, training=False), model.variables)


def best_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` calls."""
    for _ in range(warmup):
        _block(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _block(out: object) -> None:
    for leaf in keras.tree.flatten(out):
        keras.ops.convert_to_numpy(leaf)


def machine() -> str:
    """One line describing where the benchmark ran."""
    import os

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Keras {keras.__version__}, backend {keras.backend.backend()}"
    )
