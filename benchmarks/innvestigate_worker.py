"""iNNvestigate side of ``bench_vs_innvestigate.py``; runs in the iNNvestigate virtualenv.

Usage (done by the driver): ``python innvestigate_worker.py WORKDIR REPEATS OUT.json``.
Imports only TensorFlow 2.14 / Keras 2, iNNvestigate 2.1.2 and numpy.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()  # iNNvestigate 2.x builds graph-mode Keras 2 models

import innvestigate  # noqa: E402
from _vs_models import ANALYZERS, NAMES, batch, build  # noqa: E402


def main(workdir: str, repeats: int, out: str) -> None:
    times, outputs = {}, {}
    for name in NAMES:
        model = build(tf.keras, name, embedded_ids=True)
        weights = np.load(f"{workdir}/{name}.weights.npz")
        model.set_weights([weights[f"w{i}"] for i in range(len(weights.files))])
        x = batch(name)
        if name == "cnn_ids":  # the lookup runs outside iNNvestigate, inside the timing
            table = np.load(f"{workdir}/cnn_ids.embedding.npy")

            def prepare(x=x, table=table):
                return table[x]
        else:

            def prepare(x=x):
                return x

        for method, options in ANALYZERS:
            analyzer = innvestigate.create_analyzer(method, model, **options)
            first = analyzer.analyze(prepare())  # builds the graph; not timed
            if method in ("gradient", "lrp.epsilon"):
                outputs[f"{name}/{method}"] = first
            spent = []
            for _ in range(repeats):
                start = time.perf_counter()
                analyzer.analyze(prepare())
                spent.append(time.perf_counter() - start)
            times[f"{name}/{method}"] = float(np.median(spent))
    np.savez(out.replace(".json", ".npz"), **{k.replace("/", "__"): v for k, v in outputs.items()})
    with open(out, "w") as f:
        json.dump(times, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
