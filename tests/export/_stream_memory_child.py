"""Peak memory of explain_dataset over N and then 10N texts (started by test_export_streaming.py).

``python _stream_memory_child.py OUT N1 N2 ...``: warms up (one batch, so that
the analysis is traced), then streams N1, N2, ... generated texts of 120 words
into ``OUT.<n>.jsonl``, one after the other, and prints one JSON object: the
peak resident set size (``resource.getrusage``, KiB on Linux) after the
warm-up (``"base"``) and after each run (``"peak"``, a list), and the sizes of
the files written (``"bytes"``). A stream that kept its records would raise
the peak with every run by about the size of its output.
"""

import json
import os
import resource
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from export_helpers import WORDS, bag_of_words  # noqa: E402

from keras_text_lrp.streaming import explain_dataset  # noqa: E402
from keras_text_lrp.text import Vocabulary  # noqa: E402


def texts(count, seed):
    """Texts made on the fly: the input is never held in memory."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield " ".join(rng.choice(WORDS, 120))


def main():
    out, counts = sys.argv[1], [int(n) for n in sys.argv[2:]]
    vocab = Vocabulary(WORDS)
    model = bag_of_words(len(vocab))
    options = {"vocabulary": vocab, "tokenizer": "whitespace", "batch_size": 100, "progress": False}
    explain_dataset(model, texts(100, 1), f"{out}.warm.jsonl", **options)
    report = {"base": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "peak": [], "bytes": []}
    for n in counts:
        path = f"{out}.{n}.jsonl"
        assert explain_dataset(model, texts(n, 2), path, **options).total == n
        report["peak"].append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        report["bytes"].append(os.path.getsize(path))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
