"""Deletion AOPC of every method on the shipped ``sst2-transformer`` (the table of docs/reproductions.md).

``python benchmarks/faithfulness_transformer.py [--n N] [--json PATH]``

For the SST-2 test sentences (all 1,821 by default; the first ``--n`` otherwise), in the order of
``keras_text_lrp.datasets.load_sst2("test")``: AOPC of :func:`keras_text_lrp.evaluation.aopc` with its
defaults (the predicted class's logit, K = 10 deletions, the word's embedding zeroed, word score =
sum over the embedding dimensions) for random orders (the mean over seeds 0..4 of
``numpy.random.default_rng(seed).random(ids.shape)``), last-layer attention, attention rollout,
gradient, gradient x input, integrated gradients (64 steps, zero reference), cp-LRP
(``lrp.epsilon``, epsilon 1e-7, attention probabilities constant) and AttnLRP (``lrp.attnlrp``).
Prints a Markdown table (AOPC, its standard error over the texts, seconds per method).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_text_lrp import models  # noqa: E402
from keras_text_lrp.datasets import load_sst2  # noqa: E402
from keras_text_lrp.evaluation import aopc  # noqa: E402

METHODS = ("attention.last_layer", "attention.rollout", "gradient", "input_t_gradient",
           "integrated_gradients", "lrp.epsilon", "lrp.attnlrp")
"""The methods of the table, beside ``random``."""

RANDOM_SEEDS = (0, 1, 2, 3, 4)


def sst2_test_ids(n: int | None = None) -> np.ndarray:
    """The shipped transformer's ids of the first ``n`` SST-2 test sentences (all by default)."""
    texts, _ = load_sst2("test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # out-of-vocabulary words are [UNK], as the model was tested
        return models.load("sst2-transformer").encode(texts[:n])


def measure(ids: np.ndarray, methods: tuple = ("random", *METHODS), batch_size: int = 256) -> dict:
    """``{method: {"aopc", "se", "seconds"}}`` on ``ids`` (see the module docstring)."""
    model = models.load("sst2-transformer").model
    out = {}
    for method in methods:
        start = time.perf_counter()
        if method == "random":
            runs = [aopc(model, ids, np.random.default_rng(seed).random(ids.shape), progress=False,
                         batch_size=batch_size) for seed in RANDOM_SEEDS]
            per_text = np.mean([r.per_text for r in runs], axis=0)
        else:
            per_text = np.asarray(aopc(model, ids, method, progress=False, batch_size=batch_size).per_text)
        out[method] = {
            "aopc": float(per_text.mean()),
            "se": float(per_text.std(ddof=1) / np.sqrt(len(per_text))),
            "seconds": time.perf_counter() - start,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=None, help="the first N test sentences (default: all)")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    ids = sst2_test_ids(args.n)
    results = measure(ids)
    print(f"sst2-transformer, {len(ids)} SST-2 test sentences, AOPC (logit, K = 10, zero embedding)\n")
    print("| method | AOPC | s.e. | seconds |\n| --- | ---: | ---: | ---: |")
    for method, r in sorted(results.items(), key=lambda kv: kv[1]["aopc"]):
        print(f"| `{method}` | {r['aopc']:.3f} | {r['se']:.3f} | {r['seconds']:.0f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"n": len(ids), "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
