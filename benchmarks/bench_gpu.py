"""Accelerator benchmark: forward, gradient, lrp.epsilon, lrp.lstm, lrp.attnlrp and integrated gradients.

Models: the text CNN of ``bench_core.py`` (tokens -> Embedding(20000, 300) -> Conv1D(100, 3) ->
GlobalMaxPooling1D -> Dense(5), length 50) and a bi-LSTM (Embedding(20000, 300) ->
Bidirectional(LSTM(150)) -> Dense(5), length 50), on random token ids; and the shipped
``sst2-transformer`` (T = 64) on the first SST-2 test sentences (as in ``bench_transformer.py``), with
gradient, lrp.epsilon (cp-LRP) and lrp.attnlrp only. All at batch 256 and 1024. Prints one markdown table
of median ms per batch and the ratio to one compiled forward pass, measured in this one run, and
the devices the backend saw (it refuses to run on CPU unless ``--allow-cpu``).

Run on a machine with an accelerator: ``bash benchmarks/gpu.sh`` (both backends), or
``KERAS_BACKEND=jax python benchmarks/bench_gpu.py``. Smoke run on a CPU:
``python benchmarks/bench_gpu.py --allow-cpu --batch 4 --repeats 1``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import keras
import numpy as np
from _timing import best_time, compiled_forward, machine
from bench_transformer import sst2_batch

import keras_text_lrp as ktl
from keras_text_lrp import models

ANALYZERS = [
    ("gradient", {}),
    ("lrp.epsilon", {}),
    ("lrp.lstm", {}),
    ("integrated_gradients", {"steps": 64}),
]
"""Analyzers of the text CNN and the bi-LSTM (lrp.lstm on the bi-LSTM only)."""

TRANSFORMER_ANALYZERS = [
    ("gradient", {}),
    ("lrp.epsilon", {}),
    ("lrp.attnlrp", {}),
]
"""Analyzers of the transformer: the issue's goal is about cp-LRP and AttnLRP; integrated gradients is
left out so that both backends stay within gpu.sh's time limit."""


def devices() -> list[str]:
    if keras.backend.backend() == "jax":
        import jax

        return [f"{d.platform}:{d.device_kind}" for d in jax.devices()]
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices()]


def text_cnn() -> keras.Model:
    ids = keras.Input((50,), dtype="int32")
    x = keras.layers.Embedding(20000, 300)(ids)
    x = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(100, 3, activation="relu")(x))
    return keras.Model(ids, keras.layers.Dense(5)(x), name="text_cnn")


def bilstm() -> keras.Model:
    ids = keras.Input((50,), dtype="int32")
    x = keras.layers.Embedding(20000, 300)(ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(150))(x)
    return keras.Model(ids, keras.layers.Dense(5)(x), name="bilstm")


def random_ids(batch: int) -> np.ndarray:
    """Random token ids ``(batch, 50)`` for the text CNN and the bi-LSTM (id 0, padding, left out)."""
    return np.random.default_rng(0).integers(1, 20000, size=(batch, 50)).astype("int32")


def transformer() -> keras.Model:
    # The shipped model, not a fresh one: its T = 64 and padding mask are what users explain.
    return models.load("sst2-transformer").model


def run(batches: list[int], repeats: int) -> None:
    keras.utils.set_random_seed(0)
    print(f"Machine: {machine()}; devices: {', '.join(devices())}\n")
    print("| model | batch | analyzer | ms / batch | x forward |")
    print("| --- | ---: | --- | ---: | ---: |")
    cases: list[tuple[Callable[[], keras.Model], Callable[[int], np.ndarray], list]] = [
        (text_cnn, random_ids, ANALYZERS),
        (bilstm, random_ids, ANALYZERS),
        (transformer, sst2_batch, TRANSFORMER_ANALYZERS),
    ]
    for build, make_data, analyzers in cases:
        model = build()
        for batch in batches:
            data = make_data(batch)
            forward = compiled_forward(model)
            t_fwd = best_time(lambda f=forward, d=data: f(d), repeats)
            row = f"| {model.name} | {batch} | forward pass (compiled) | {t_fwd * 1e3:.2f} | 1.0 |"
            print(row, flush=True)
            for name, kwargs in analyzers:
                if name == "lrp.lstm" and model.name != "bilstm":
                    continue
                analyzer = ktl.create_analyzer(name, model, **kwargs)
                t = best_time(lambda a=analyzer, d=data: a.analyze(d), repeats)
                print(f"| {model.name} | {batch} | {name} | {t * 1e3:.2f} | {t / t_fwd:.1f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (default 256 and 1024)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--allow-cpu", action="store_true", help="run even when no accelerator is visible")
    args = parser.parse_args()
    if not args.allow_cpu and not any(("gpu" in d.lower() or "cuda" in d.lower()) for d in devices()):
        sys.exit(f"error: no accelerator visible to the {keras.backend.backend()} backend ({devices()}); "
                 "install tensorflow[and-cuda] or jax[cuda12], or pass --allow-cpu")
    run(args.batch or [256, 1024], args.repeats)
