"""Benchmark of the core analyzers: time per batch and ratio to a forward pass.

Models (issue "Core"): a text CNN (tokens -> Embedding(20000, 300) ->
Conv1D(100, 3) -> GlobalMaxPooling1D -> Dense(5)), batch 256, length 50; and a
3-layer MLP. For each analyzer it prints the median wall time of one
``analyze`` call on the batch (the compiled function is warmed up first, so
tracing is not counted), its ratio to one compiled forward pass of the same
batch, and for integrated gradients its ratio to the gradient analyzer.

Run: ``KERAS_BACKEND=tensorflow python benchmarks/bench_core.py`` (or jax).
"""

from __future__ import annotations

import argparse

import keras
import numpy as np
from _timing import best_time, compiled_forward, machine

import keras_text_lrp as ktl

ANALYZERS = [
    ("gradient", {}),
    ("input_t_gradient", {}),
    ("lrp.z", {}),
    ("lrp.epsilon", {}),
    ("lrp.alpha_2_beta_1", {}),
    ("lrp.sequential_preset_a", {}),
    ("deep_taylor", {}),
    ("guided_backprop", {}),
    ("integrated_gradients", {"steps": 64}),
    ("smoothgrad", {"augment_by_n": 16, "seed": 0}),
]


def text_cnn() -> tuple[keras.Model, np.ndarray]:
    ids = keras.Input((50,), dtype="int32")
    x = keras.layers.Embedding(20000, 300)(ids)
    x = keras.layers.Conv1D(100, 3, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    out = keras.layers.Dense(5)(x)
    data = np.random.default_rng(0).integers(1, 20000, size=(256, 50)).astype("int32")
    return keras.Model(ids, out, name="text_cnn"), data


def mlp() -> tuple[keras.Model, np.ndarray]:
    inp = keras.Input((300,))
    x = keras.layers.Dense(512, activation="relu")(inp)
    x = keras.layers.Dense(512, activation="relu")(x)
    out = keras.layers.Dense(10)(x)
    data = np.random.default_rng(0).normal(size=(256, 300)).astype("float32")
    return keras.Model(inp, out, name="mlp3"), data


def run(repeats: int) -> None:
    keras.utils.set_random_seed(0)
    print(f"Machine: {machine()}\n")
    print("| model | analyzer | ms / batch | x forward | x gradient |")
    print("| --- | --- | ---: | ---: | ---: |")
    for build in (text_cnn, mlp):
        model, data = build()
        forward = compiled_forward(model)
        t_fwd = best_time(lambda f=forward, d=data: f(d), repeats)
        print(f"| {model.name} | forward pass (compiled) | {t_fwd * 1e3:.1f} | 1.0 | |")
        t_grad = None
        for name, kwargs in ANALYZERS:
            analyzer = ktl.create_analyzer(name, model, **kwargs)
            t = best_time(lambda a=analyzer, d=data: a.analyze(d), repeats)
            if name == "gradient":
                t_grad = t
            vs_grad = f"{t / t_grad:.1f}" if t_grad and name != "gradient" else ""
            label = name + (f" ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")
            print(f"| {model.name} | {label} | {t * 1e3:.1f} | {t / t_fwd:.1f} | {vs_grad} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    run(parser.parse_args().repeats)
