"""Import cost of ``keras_text_lrp`` against ``import keras``, and of the CLI's ``--help`` (issue 15).

Each measurement is a fresh interpreter (``python -c``), timed from outside, best of ``--repeat``; the
cases alternate so that machine load hits them alike. Prints a Markdown table and the load average.

    PYTHONPATH=$PWD python benchmarks/bench_import.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

CASES = {
    "python (nothing)": "pass",
    "import keras": "import keras",
    "import keras_text_lrp": "import keras_text_lrp",
    "import keras_text_lrp; create_analyzer": "import keras_text_lrp as k; k.create_analyzer",
    "keras-text-lrp --help": "from keras_text_lrp import cli; cli.main(['--help'])",
}


def _time(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    best = {name: float("inf") for name in CASES}
    load_before = os.getloadavg()
    for _ in range(args.repeat):
        for name, code in CASES.items():
            best[name] = min(best[name], _time(code))
    load_after = os.getloadavg()
    keras_s = best["import keras"]
    print(f"backend: {os.environ.get('KERAS_BACKEND', 'tensorflow (default)')}; best of {args.repeat}")
    print("| what | seconds | / import keras |\n| --- | ---: | ---: |")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} | {seconds / keras_s:.2f}x |")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f} "
          f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
