"""Benchmark of the transformer analyzers: time per batch and ratio to a forward pass.

Model: the shipped ``sst2-transformer`` (``keras_text_lrp.models.load("sst2-transformer")``: a 2-layer
pre-LN encoder, 4-head attention, token ids of fixed length T = 64 in, 2 logits out). Data: the first
``--batch`` (default 64) SST-2 test sentences, in the order of ``keras_text_lrp.datasets.load_sst2("test")``,
encoded by the model's own ``encode`` and so padded with id 0 to T = 64 (real sentences rather than random
ids, so that the padding mask is exercised as in use). For each analyzer it prints the median wall time of
one ``analyze`` call on the batch over ``--repeats`` rounds after one warm-up call (tracing and compilation
are not counted) and its ratio to one compiled forward pass of the same batch: each round times the
forward pass (median of 3 calls) and then every analyzer once, the ratio is taken within the round and
its median over the rounds is printed (the shared machine's load drifts less within a round). Analyzers:
``gradient``, ``input_t_gradient``, ``lrp.epsilon`` (cp-LRP: the default ``attention_rule="cp"``,
attention probabilities held constant) and ``lrp.attnlrp``; ``integrated_gradients`` (64 steps) too
with ``--ig``. Goal (issue 13 item 7, issue 14 item 5): cp-LRP and AttnLRP within 3x the forward pass.

Run: ``KERAS_BACKEND=tensorflow python benchmarks/bench_transformer.py --repeats 3 [--ig]`` (or jax).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable

# TensorFlow's C++ start-up chatter would be mixed into the Markdown table.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import best_time, compiled_forward, machine  # noqa: E402

import keras_text_lrp as ktl  # noqa: E402
from keras_text_lrp import models  # noqa: E402
from keras_text_lrp.datasets import load_sst2  # noqa: E402

ANALYZERS: list[tuple[str, dict]] = [
    ("gradient", {}),
    ("input_t_gradient", {}),
    ("lrp.epsilon", {}),
    ("lrp.attnlrp", {}),
]
"""Analyzers always timed; ``integrated_gradients`` is added by ``--ig`` (it costs about 64 gradients)."""

IG = ("integrated_gradients", {"steps": 64})

GOAL = 3.0
"""Issue goal: cp-LRP (``lrp.epsilon``) and AttnLRP at most this many forward passes."""


def sst2_batch(batch: int) -> np.ndarray:
    """The model's ids ``(batch, 64)`` of the first ``batch`` SST-2 test sentences (cycled past 1,821)."""
    texts, _ = load_sst2("test")
    texts = [texts[i % len(texts)] for i in range(batch)]
    with warnings.catch_warnings():
        # Out-of-vocabulary words become [UNK], as the model was tested; the warning is noise here.
        warnings.simplefilter("ignore")
        return models.load("sst2-transformer").encode(texts)


def run(repeats: int, batch: int, with_ig: bool) -> None:
    keras.utils.set_random_seed(0)
    model = models.load("sst2-transformer").model
    data = sst2_batch(batch)
    print(f"Machine: {machine()}\n")
    print(f"sst2-transformer, batch {data.shape[0]} x T {data.shape[1]} (SST-2 test sentences, padded)\n")
    forward = compiled_forward(model)
    timed: list[tuple[str, Callable[[], object]]] = [("forward pass (compiled)", lambda: forward(data))]
    for name, kwargs in ANALYZERS + ([IG] if with_ig else []):
        analyzer = ktl.create_analyzer(name, model, **kwargs)
        label = name + (f" ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")
        timed.append((label, lambda a=analyzer: a.analyze(data)))
    for _, fn in timed:  # warm-up (tracing and compilation are not timed); the timing itself is dropped
        best_time(fn, repeats=1, warmup=1)
    # Rounds, each timing the forward pass (median of 3) and then every analyzer once: the ratio is
    # taken within a round, so that the load of the shared machine drifting between the forward pass
    # and a later analyzer does not bias it. Reported: medians over the rounds.
    times: dict[str, list[float]] = {label: [] for label, _ in timed}
    ratios: dict[str, list[float]] = {label: [] for label, _ in timed}
    for _ in range(repeats):
        t_fwd = best_time(timed[0][1], repeats=3, warmup=0)
        for label, fn in timed:
            t = t_fwd if label == timed[0][0] else best_time(fn, repeats=1, warmup=0)
            times[label].append(t)
            ratios[label].append(t / t_fwd)
    print("| analyzer | ms / batch | x forward |")
    print("| --- | ---: | ---: |")
    for label, _ in timed:
        print(f"| {label} | {np.median(times[label]) * 1e3:.1f} | {np.median(ratios[label]):.1f} |")
    # The plain verdict on the goal, from this run's own numbers.
    verdict = ", ".join(
        f"{name} {np.median(ratios[name]):.1f}x ({'met' if np.median(ratios[name]) <= GOAL else 'not met'})"
        for name in ("lrp.epsilon", "lrp.attnlrp")
    )
    print(f"\nGoal <= {GOAL:.0f}x forward: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--ig", action="store_true", help="also time integrated_gradients (64 steps)")
    args = parser.parse_args()
    run(args.repeats, args.batch, args.ig)
