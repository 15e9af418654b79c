"""keras_text_lrp.spark on a real local[2] Spark (JVM + Python worker processes): rows equal explain().

One Spark session per module; afterwards the JVM and every Python worker it
started are gone. Spark needs a Java runtime: without one the tests fail and
say what to install (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest
from engine_support import METHODS, TENSORFLOW_ONLY, assert_same

pyspark = pytest.importorskip("pyspark", reason="the spark extra (pyspark, pandas, pyarrow) is not installed")
psutil = pytest.importorskip("psutil")

from keras_text_lrp.errors import InvalidArgumentError  # noqa: E402

pytestmark = [TENSORFLOW_ONLY]


def _running_children() -> set[int]:
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture(scope="module")
def spark():
    """A local[2] SparkSession whose Python workers run this interpreter; stopped with its JVM after."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Spark needs a Java runtime (17 or later) and none is on PATH: install it, e.g. "
                    "`apt-get install -y openjdk-17-jre-headless` (Debian), or set JAVA_HOME.")
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    before = _running_children()
    session = (SparkSession.builder.master("local[2]").appName("keras_text_lrp tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.pyspark.python", sys.executable)
               .config("spark.pyspark.driver.python", sys.executable)
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    gateway = SparkContext._gateway
    if gateway is not None:  # the JVM outlives stop(); it exits when its stdin closes
        gateway.shutdown()
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=60)
        SparkContext._gateway = SparkContext._jvm = None
    deadline = time.monotonic() + 30
    while _running_children() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _running_children() - before
    assert not left, f"Spark processes {sorted(left)} still running after the session stopped"


def test_1000_sst5_sentences_on_local_2_equal_explain(spark, saved_model, sst5_texts, expected):
    from keras_text_lrp import exported
    from keras_text_lrp.spark import explain_dataframe

    labels = expected[0]["labels"]
    df = spark.createDataFrame(list(enumerate(sst5_texts)), "id long, text string").repartition(4)
    out = explain_dataframe(df, saved_model, METHODS, id_col="id", include_text=True, label_names=labels,
                            batch_size=50)
    assert out.columns == ["id", "text", "tokens", "scores", "logits", "predicted", "target", "labels",
                           "error"]
    rows = {row["id"]: row.asDict(recursive=True) for row in out.collect()}
    assert sorted(rows) == list(range(1000))
    for i, want in enumerate(expected):
        got = rows[i]
        del got["id"]
        assert got.pop("error") is None
        assert_same(got, want)
    # 4 tasks on 2 slots: Spark reused its Python workers, and none loaded the SavedModel twice
    sc = spark.sparkContext
    loads = sc.parallelize(range(4), 4).map(lambda _: (os.getpid(), exported.load_count(saved_model)))
    loads = loads.collect()
    assert all(count <= 1 for _, count in loads), loads


def test_targets_nulls_and_an_empty_text(spark, saved_model, sst5_texts):
    from keras_text_lrp.explain import explain
    from keras_text_lrp.spark import explain_dataframe

    texts = sst5_texts[:30]
    targets = [i % 5 if i % 3 == 0 else None for i in range(30)]
    df = spark.createDataFrame([(f"s{i}", t, c) for i, (t, c) in enumerate(zip(texts, targets))]
                               + [("empty", "  ", None)], "key string, sentence string, cls int")
    out = explain_dataframe(df, saved_model, METHODS, text_col="sentence", id_col="key", target_col="cls")
    assert out.columns == ["key", "tokens", "scores", "logits", "predicted", "target", "error"]
    rows = {row["key"]: row.asDict(recursive=True) for row in out.collect()}
    free = [i for i, c in enumerate(targets) if c is None]
    fixed = [i for i, c in enumerate(targets) if c is not None]
    want = dict(zip(free, explain("sst5-cnn", [texts[i] for i in free], METHODS).to_records()))
    want.update(zip(fixed, explain("sst5-cnn", [texts[i] for i in fixed], METHODS,
                                   [targets[i] for i in fixed]).to_records()))
    for i, record in want.items():
        for key in ("offsets", "text", "labels"):
            del record[key]
        got = rows[f"s{i}"]
        del got["key"]
        assert got.pop("error") is None
        assert_same(got, record)
        assert targets[i] is None or got["target"] == targets[i]
    assert rows["empty"] == {"key": "empty", "tokens": [], "scores": {m: [] for m in METHODS}, "logits": None,
                             "predicted": None, "target": None, "error": "empty text"}


def test_bad_input_is_refused_naming_the_problem(spark, saved_model, tmp_path):
    from keras_text_lrp.spark import explain_dataframe

    df = spark.createDataFrame([(1, "Good .", 1), (2, "Bad .", 5)], "id int, text string, cls int")
    with pytest.raises(InvalidArgumentError, match="not a SavedModel folder"):
        explain_dataframe(df, str(tmp_path / "nowhere"), METHODS)
    with pytest.raises(InvalidArgumentError, match=r"no signature\(s\) \['explain_text_lrp_z'"):
        explain_dataframe(df, saved_model, ["lrp.z"])
    not_a_column = r"text_col='review' is not a column.*\['id', 'text', 'cls'\]"
    with pytest.raises(InvalidArgumentError, match=not_a_column):
        explain_dataframe(df, saved_model, METHODS, text_col="review")
    with pytest.raises(InvalidArgumentError, match="target_col='text' is a string column"):
        explain_dataframe(df, saved_model, METHODS, target_col="text")
    with pytest.raises(InvalidArgumentError, match="text_col='id' is a int column"):
        explain_dataframe(df, saved_model, METHODS, text_col="id")
    # a target outside the 5 classes fails the job on the executor, with the executor's message
    with pytest.raises(Exception, match=r"target 5: the model has 5 classes \(0..4\)"):
        explain_dataframe(df, saved_model, METHODS, id_col="id", target_col="cls").collect()
