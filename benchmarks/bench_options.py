"""Benchmark of two speed/memory options: IG's ``path_batch_size`` and XLA on TensorFlow.

On the models of ``bench_core.py`` (text CNN, batch 256 x 50, and the MLP):

- integrated gradients (steps=64) with all 65 path points in one pass and in
  chunks of ``path_batch_size`` k, as ms per batch and the ratio to the
  gradient analyzer measured in the same run;
- on TensorFlow, ``jit_compile=False`` (the default) against ``True`` (XLA)
  for a few analyzers, against the compiled forward pass.

Run: ``KERAS_BACKEND=tensorflow python benchmarks/bench_options.py`` (or jax;
the XLA table is TensorFlow only, JAX always compiles with XLA).
"""

from __future__ import annotations

import argparse

import keras
from _timing import best_time, compiled_forward, machine
from bench_core import mlp, text_cnn

import keras_text_lrp as ktl

CHUNKS = (None, 4, 8, 16, 33)
XLA_ANALYZERS = [("gradient", {}), ("lrp.epsilon", {}), ("lrp.alpha_2_beta_1", {}),
                 ("integrated_gradients", {"steps": 64})]


def _ms(analyzer: ktl.Analyzer, data, repeats: int) -> float:
    return best_time(lambda: analyzer.analyze(data), repeats) * 1e3


def run(repeats: int) -> None:
    keras.utils.set_random_seed(0)
    print(f"Machine: {machine()}\n")
    heads = ["all at once" if k is None else f"k={k}" for k in CHUNKS]
    print("| model | gradient ms | " + " | ".join(heads) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in CHUNKS) + " |")
    for build in (text_cnn, mlp):
        model, data = build()
        t_grad = _ms(ktl.create_analyzer("gradient", model), data, repeats)
        cells = []
        for k in CHUNKS:
            ig = ktl.create_analyzer("integrated_gradients", model, steps=64, path_batch_size=k)
            t = _ms(ig, data, repeats)
            cells.append(f"{t:.0f} ({t / t_grad:.1f}x)")
        print(f"| {model.name} | {t_grad:.1f} | " + " | ".join(cells) + " |")
    if keras.backend.backend() != "tensorflow":
        return
    model, data = text_cnn()
    forward = compiled_forward(model)
    t_fwd = best_time(lambda: forward(data), repeats) * 1e3
    print(f"\ntext_cnn, compiled forward pass {t_fwd:.1f} ms\n")
    print("| analyzer | ms (tf.function) | x forward | ms (XLA) | x forward |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, kwargs in XLA_ANALYZERS:
        plain = _ms(ktl.create_analyzer(name, model, **kwargs), data, repeats)
        xla = _ms(ktl.create_analyzer(name, model, jit_compile=True, **kwargs), data, repeats)
        print(f"| {name} | {plain:.1f} | {plain / t_fwd:.1f} | {xla:.1f} | {xla / t_fwd:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    run(parser.parse_args().repeats)
