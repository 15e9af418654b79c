"""Cost of ExplainCallback per epoch: model.fit with and without it, in one run.

A text CNN (ids (N, 50) -> Embedding(5000, 64) -> Conv1D(64, 3) -> GlobalMaxPooling1D -> Dense(5)),
trained on random data for a few epochs; the callback explains 8 texts with lrp.epsilon and gradient
every epoch and writes the HTML timeline and the TensorBoard summaries (text, images, AOPC). Prints the
median epoch time without and with the callback, the callback's own analysis time per epoch (from its
``history``) and the load average.

Run: ``KERAS_BACKEND=tensorflow python benchmarks/bench_callback.py`` (or jax).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import keras
import numpy as np
from _timing import machine

from keras_text_lrp.callbacks import ExplainCallback
from keras_text_lrp.text import Vocabulary


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times = getattr(self, "times", []) + [time.perf_counter() - self._start]


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    ids = keras.Input((50,), dtype="int32")
    x = keras.layers.Embedding(5000, 64)(ids)
    x = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(64, 3, activation="relu")(x))
    model = keras.Model(ids, keras.layers.Dense(5)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4096)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(4998)]
    vocab = Vocabulary(words)
    x = rng.integers(1, 5000, (args.samples, 50)).astype("int32")
    y = rng.integers(0, 5, args.samples).astype("int32")
    texts = [" ".join(rng.choice(words, 20)) for _ in range(8)]
    print(machine(), "| load average before:", os.getloadavg())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("without", "with"):
            model = _model(1)
            timer = _EpochTimer()
            callbacks = [timer]
            cb = None
            if name == "with":
                cb = ExplainCallback(texts, labels=[0, 1, 2, 3, 4, 0, 1, 2],
                                     methods=["lrp.epsilon", "gradient"], log_dir=f"{tmp}/logs",
                                     html=f"{tmp}/timeline.html", vocabulary=vocab)
                callbacks.insert(0, cb)
            model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0, callbacks=callbacks)
            # The first epoch includes tracing and the callback's set-up: report the others.
            results[name] = (float(np.median(timer.times[1:])), cb)
    base, (with_cb, cb) = results["without"][0], results["with"]
    analysis = float(np.median([h["seconds"] for h in cb.history[1:]]))
    aopc = float(np.median([h["seconds_aopc"] for h in cb.history[1:]]))
    writing = float(np.median([h["seconds_writing"] for h in cb.history[1:]]))
    print(f"epoch without callback: {base * 1000:.0f} ms; with: {with_cb * 1000:.0f} ms; "
          f"callback {1000 * (with_cb - base):.0f} ms/epoch of which analysis {analysis * 1000:.1f} ms "
          f"(8 texts, 2 methods), AOPC {aopc * 1000:.0f} ms, "
          f"TensorBoard + HTML writing {writing * 1000:.0f} ms; "
          f"first-epoch analysis {cb.history[0]['seconds'] * 1000:.0f} ms (tracing)")
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()
