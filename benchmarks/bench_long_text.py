"""Benchmark: one long text through the shipped bi-LSTM (issue 14, "long sequences").

The SST-5 test sentences are joined into one text and cut to ``T`` tokens
(real words, the model's vocabulary); for each ``T`` a fresh process loads
``sst5-bilstm``, builds the analyzer, runs it once on the ``(1, T)`` ids
(tracing and compiling for that shape) and then times a second call. It
prints, per method and ``T``: the seconds of the timed call, tokens per
second, the peak resident memory of the process, and whether the relevance
is finite, with its sum beside the explained logit (for the LRP methods the
sum should stay near the logit; a sum far larger shows the epsilon rule's
cancelling sums compounding over time steps).

    KERAS_BACKEND=tensorflow python benchmarks/bench_long_text.py
    KERAS_BACKEND=tensorflow python benchmarks/bench_long_text.py --lengths 500,5000 --methods lrp.lstm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
import keras_text_lrp as ktl
from keras_text_lrp.datasets import load_sst5
from keras_text_lrp.errors import KerasTextLRPError
from keras_text_lrp.models import load

method, length = sys.argv[1], int(sys.argv[2])
model = load("sst5-bilstm")
texts, _ = load_sst5("test")
words = " ".join(texts).split(" ")
while len(words) < length:
    words = words + words
ids, _ = model.vocabulary.encode([words[:length]])
ids = np.asarray(ids, "int32")
analyzer = ktl.create_analyzer(method, model.model)
row = {"method": method, "T": length}
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        analyzer.analyze(ids)
        row["first_s"] = time.perf_counter() - start
        start = time.perf_counter()
        r = analyzer.analyze(ids)
        row["seconds"] = time.perf_counter() - start
    row["finite"] = True
    row["sum"] = float(np.asarray(r, "float64").sum())
except KerasTextLRPError as error:
    row["finite"] = False
    row["error"] = str(error).split(":")[0]
row["logit"] = float(np.max(np.asarray(analyzer.scores(ids))))
row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("ROW " + json.dumps(row))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="50,500,5000,50000")
    parser.add_argument("--methods", default="lrp.lstm,lrp.epsilon,gradient")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per (method, T) process")
    args = parser.parse_args()
    print(f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}; load average before "
          f"{' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("| method | T | first call s (with compile) | timed call s | tokens/s | peak RSS MB | finite | "
          "sum of relevance | explained logit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for method in args.methods.split(","):
        for length in (int(t) for t in args.lengths.split(",")):
            try:
                done = subprocess.run([sys.executable, "-c", CHILD, method, str(length)], capture_output=True,
                                      text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"| {method} | {length} | > {args.timeout} s | | | | | | |", flush=True)
                continue
            rows = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
            if not rows:
                last = done.stderr.strip().splitlines()[-1:]
                print(f"| {method} | {length} | failed: {last} | | | | | | |")
                continue
            row = json.loads(rows[0])
            if row["finite"]:
                timed = f"{row['seconds']:.2f} | {length / row['seconds']:,.0f}"
                total = f"{row['sum']:.4g}"
            else:
                timed, total = "- | -", row["error"]
            first = f"{row['first_s']:.2f}" if "first_s" in row else "-"
            print(f"| {method} | {length} | {first} | {timed} | {row['peak_mb']:,.0f} | "
                  f"{'yes' if row['finite'] else 'no'} | {total} | {row['logit']:.3f} |", flush=True)
    print(f"load average after {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
