"""Benchmark: batched LSTM-aware LRP (``lrp.lstm``) on a bi-LSTM text classifier.

The model is shaped like Arras et al. (2017)'s: ``Embedding(vocab, 60,
mask_zero=True) -> Bidirectional(LSTM(60)) -> Dense(5, use_bias=False)`` with
random weights (and random non-zero LSTM biases), run over the 2,210 sentences
of the SST-5 test set (their real lengths; token ids from a vocabulary of the
test set's words). Sentences are sorted by length and cut into batches (128
by default), each padded to a multiple of 8 tokens; the same batches go through

* a compiled forward pass of the model (the baseline),
* ``lrp.lstm`` (``keras_text_lrp``; one compiled analysis per padded length),
* the per-sentence float64 numpy reference of the test suite
  (``tests/recurrent/reference.py``), timed on a random subset and
  extrapolated to all sentences by their token count.

Compilation is excluded (one warm-up pass over every batch shape), and its
time reported separately. Wall time gives the throughput; the CPU time of the
process is reported too, as a steadier measure on a shared machine. Prints a
markdown table. Run with either backend::

    KERAS_BACKEND=tensorflow python benchmarks/bench_lstm.py
    KERAS_BACKEND=jax python benchmarks/bench_lstm.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_text_lrp as ktl
from keras_text_lrp import backend

ROOT = Path(__file__).resolve().parents[1]


def load_reference():
    """The test suite's numpy reference, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        "recurrent_reference", ROOT / "tests" / "recurrent" / "reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sst5_test_sentences() -> list[list[str]]:
    """The SST-5 test sentences as token lists (the shipped loader when present)."""
    try:
        from keras_text_lrp.datasets import load_sst5
    except ImportError:
        load_sst5 = None
    if load_sst5 is not None:
        texts, _ = load_sst5("test")
    else:  # fall back to the shared copy
        path = Path("/work/shared/data/sst5/test.tsv")
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in path.open(encoding="utf-8")]
    return [t.split(" ") for t in texts]


def build_model(vocab: int, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vocab, 60, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.LSTM(60)),
        keras.layers.Dense(5, use_bias=False),
    ])
    rng = np.random.default_rng(seed)
    for sub in (model.layers[1].forward_layer, model.layers[1].backward_layer):
        kernel, recurrent, bias = sub.get_weights()
        sub.set_weights([kernel, recurrent, rng.normal(0, 0.3, bias.shape).astype("float32")])
    return model


def make_batches(sentences: list[list[str]], batch_size: int, multiple: int = 8) -> tuple[list, list]:
    """Token-id batches of length-sorted sentences, padded to a multiple of ``multiple``."""
    words = {w: i + 1 for i, w in enumerate(sorted({w for s in sentences for w in s}))}
    order = np.argsort([len(s) for s in sentences], kind="stable")
    batches, index = [], []
    for start in range(0, len(order), batch_size):
        ids = order[start : start + batch_size]
        T = -(-max(len(sentences[i]) for i in ids) // multiple) * multiple
        X = np.zeros((len(ids), T), "int32")
        for row, i in enumerate(ids):
            X[row, : len(sentences[i])] = [words[w] for w in sentences[i]]
        batches.append(X)
        index.append(ids)
    return batches, index, len(words) + 1


def timed(fns: dict, batches, repeats: int) -> dict:
    """Best-of-``repeats`` (wall, CPU) seconds of each function over all batches.

    The functions take turns within each repeat, so that load from other
    processes hits them alike.
    """
    best = {name: [float("inf"), float("inf")] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for X in batches:
                fn(X)
            best[name][0] = min(best[name][0], time.perf_counter() - wall)
            best[name][1] = min(best[name][1], time.process_time() - cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--reference-sentences", type=int, default=40,
                        help="size of the random subset the numpy reference is timed on")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sentences = sst5_test_sentences()
    batches, index, vocab = make_batches(sentences, args.batch_size)
    model = build_model(vocab)
    n = len(sentences)
    tokens = sum(len(s) for s in sentences)

    forward = backend.compile_fn(lambda x: model(x, training=False), model.variables)
    analyzer = ktl.create_analyzer("lrp.lstm", model)

    def run_forward(X):
        keras.ops.convert_to_numpy(forward(X))

    t = time.perf_counter()
    for X in batches:
        run_forward(X)
    compile_forward = time.perf_counter() - t
    t = time.perf_counter()
    for X in batches:
        analyzer.analyze(X)
    compile_lrp = time.perf_counter() - t

    best = timed({"forward": run_forward, "lrp": analyzer.analyze}, batches, args.repeats)
    (t_forward, c_forward), (t_lrp, c_lrp) = best["forward"], best["lrp"]

    # numpy reference on a random subset, extrapolated by token count
    ref = load_reference()
    rule = ref.rule_for("lrp.lstm")
    rng = np.random.default_rng(0)
    subset = rng.choice(n, size=min(args.reference_sentences, n), replace=False)
    position = {int(i): (b, row) for b, ids in enumerate(index) for row, i in enumerate(ids)}
    ref_model = ref.Model(model)
    worst = 0.0
    sub_tokens = 0
    t, c = time.perf_counter(), time.process_time()
    ref_out = []
    for i in subset:
        b, row = position[int(i)]
        x = batches[b][row, : len(sentences[i])]
        sub_tokens += len(x)
        ref_out.append((b, row, x, ref_model.analyze(x, None, rule)))
    t_ref = (time.perf_counter() - t) * tokens / sub_tokens
    c_ref = (time.process_time() - c) * tokens / sub_tokens
    ours = {b: analyzer.analyze(batches[b]) for b in {b for b, _, _, _ in ref_out}}
    for b, row, x, res in ref_out:  # sanity: the batched library equals the reference
        scale = max(1e-3, float(np.abs(res["R"]).max()))
        worst = max(worst, float(np.abs(ours[b][row, : len(x)] - res["R"]).max()) / scale)

    name = keras.backend.backend()
    rows = [
        ("compiled forward pass", t_forward, c_forward),
        ("lrp.lstm (batched, keras_text_lrp)", t_lrp, c_lrp),
        (f"numpy reference, per sentence (timed on {len(subset)}, extrapolated)", t_ref, c_ref),
    ]
    print(f"\n### bi-LSTM LRP on SST-5 test ({n} sentences, {tokens} tokens), backend `{name}`, "
          f"batch {args.batch_size}, {os.cpu_count()} CPU cores\n")
    print("| method | wall time (s) | sentences / s | wall / forward | CPU time (s) | CPU / forward |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.3f} | {n / wall:,.0f} | {wall / t_forward:.2f}x | {cpu:.3f} | "
              f"{cpu / c_forward:.2f}x |")
    print(f"\nlrp.lstm vs numpy reference: **{t_ref / t_lrp:.0f}x** the throughput "
          f"(goal >= 50x); lrp.lstm / forward: **{t_lrp / t_forward:.2f}x** wall, "
          f"{c_lrp / c_forward:.2f}x CPU (goal <= 4x).")
    print(f"Compilation (first pass over {len({X.shape for X in batches})} batch shapes): forward "
          f"{compile_forward:.1f} s, lrp.lstm {compile_lrp:.1f} s. Best of {args.repeats} timed passes; "
          f"load average {os.getloadavg()[0]:.1f}.")
    print(f"Max relative difference lrp.lstm vs reference on the subset: {worst:.1e}.")

if __name__ == "__main__":
    main()
