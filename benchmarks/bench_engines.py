"""Benchmark: texts per second of the corpus engines on this machine.

For each shipped model (``sst5-cnn`` with ``lrp.epsilon``, ``sst5-bilstm``
with ``lrp.lstm``) the model is exported with text signatures, then the
first ``--n`` SST-5 test sentences are explained

* in one process by :func:`keras_text_lrp.streaming.explain_dataset`
  (the in-process Keras analyzer, JSON Lines out),
* by :func:`keras_text_lrp.dask.explain_bag` on a ``LocalCluster`` of 1, 2
  and 4 single-threaded worker processes (2 partitions per worker),
* by :func:`keras_text_lrp.spark.explain_dataframe` on ``local[1]`` and
  ``local[2]`` (2 partitions per slot).

Start-up (cluster or JVM start, TensorFlow import and SavedModel load in
each worker) is excluded from the rate: every worker loads the SavedModel
in a warm-up job first; its time is reported separately. The load average
is printed before and after: on a shared machine the rates are only
comparable within one run. Prints a markdown table::

    KERAS_BACKEND=tensorflow python benchmarks/bench_engines.py --n 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

MODELS = {"sst5-cnn": ["lrp.epsilon"], "sst5-bilstm": ["lrp.lstm"]}


def single_process(name: str, methods: list[str], texts: list[str], tmp: Path) -> tuple[float, float]:
    """(0, seconds) of explain_dataset on ``texts`` (after a warm-up on 64 of them)."""
    from keras_text_lrp.models import load
    from keras_text_lrp.streaming import explain_dataset

    model = load(name)
    explain_dataset(model, texts[:64], tmp / "warm.jsonl", methods, progress=False, resume=False)
    start = time.perf_counter()
    explain_dataset(model, texts, tmp / f"{name}.jsonl", methods, progress=False, resume=False)
    return 0.0, time.perf_counter() - start


def _load(path: str, methods: list[str]) -> int:
    """Load the SavedModel in this (worker) process; the count, not the model, goes back to the client."""
    from keras_text_lrp import exported

    exported.load(path, methods)
    return exported.load_count(path)


def dask_rate(path: str, methods: list[str], texts: list[str], workers: int) -> tuple[float, float]:
    """(start-up seconds, explain seconds) on a LocalCluster of ``workers`` processes."""
    import dask.bag as db
    from distributed import Client, LocalCluster

    from keras_text_lrp.dask import explain_bag

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(_load, path, methods)  # every worker loads the SavedModel once
        warm = db.from_sequence(texts[:8 * workers], npartitions=workers)
        explain_bag(warm, path, methods).compute()
        ready = time.perf_counter()
        bag = db.from_sequence(texts, npartitions=2 * workers)
        explain_bag(bag, path, methods).compute()
        done = time.perf_counter()
    return ready - start, done - ready


def spark_rate(path: str, methods: list[str], texts: list[str], slots: int) -> tuple[float, float]:
    """(start-up seconds, explain seconds) on Spark ``local[slots]``."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from keras_text_lrp.spark import explain_dataframe

    start = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{slots}]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.pyspark.python", sys.executable).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        warm = spark.createDataFrame([(t,) for t in texts[:8 * slots]], "text string").repartition(slots)
        explain_dataframe(warm, path, methods).collect()
        ready = time.perf_counter()
        df = spark.createDataFrame([(t,) for t in texts], "text string").repartition(2 * slots).cache()
        df.count()
        ready = time.perf_counter()
        explain_dataframe(df, path, methods).collect()
        done = time.perf_counter()
    finally:
        spark.stop()
        gateway = SparkContext._gateway
        if gateway is not None:
            gateway.shutdown()
            gateway.proc.stdin.close()
            gateway.proc.wait(timeout=60)
            SparkContext._gateway = SparkContext._jvm = None
    return ready - start, done - ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="SST-5 test sentences")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--dask", default="1,2,4", help="Dask worker counts")
    parser.add_argument("--spark", default="1,2", help="Spark local[N] slot counts")
    args = parser.parse_args(argv)

    from keras_text_lrp.datasets import load_sst5
    from keras_text_lrp.export import export_for_serving

    texts = load_sst5("test")[0][: args.n]
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}, texts: {len(texts)}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name in args.models.split(","):
            methods = MODELS[name]
            path = str(tmp / name / "1")
            export_for_serving(name, path, methods, text_signature=True)
            runs = [("explain_dataset (1 process)", partial(single_process, name, methods, texts, tmp))]
            runs += [(f"Dask, {n} worker(s)", partial(dask_rate, path, methods, texts, n))
                     for n in [int(v) for v in args.dask.split(",") if v]]
            runs += [(f"Spark local[{n}]", partial(spark_rate, path, methods, texts, n))
                     for n in [int(v) for v in args.spark.split(",") if v]]
            for engine, measure in runs:
                rows.append((name, engine, *measure()))
                print(rows[-1], f"load average {os.getloadavg()}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print("\n| model | engine | start-up s | explain s | texts/s |\n|---|---|---|---|---|")
    for name, engine, startup, seconds in rows:
        print(f"| {name} | {engine} | {startup:.1f} | {seconds:.1f} | {len(texts) / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
