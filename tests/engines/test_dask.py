"""keras_text_lrp.dask on a real LocalCluster of two worker processes: records equal explain().

One cluster per module; the SavedModel and explain()'s records are session
fixtures (conftest.py). Beam's own DaskRunner is refused (see beam.py).
"""

from __future__ import annotations

import json
import os
import time

import pytest
from engine_support import METHODS, TENSORFLOW_ONLY, assert_same

db = pytest.importorskip("dask.bag", reason="the dask extra (dask[bag,distributed]) is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra (dask[distributed]) is not installed")

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError  # noqa: E402

pytestmark = [TENSORFLOW_ONLY]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes; afterwards no worker process is left."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as dask_client:
        pids = list(dask_client.run(os.getpid).values())
        assert len(set(pids)) == 2 and os.getpid() not in pids
        yield dask_client
    cluster.close()
    deadline = time.monotonic() + 30
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(_alive, pids)), f"Dask worker processes {pids} still running after the cluster closed"


def test_1000_sst5_sentences_on_two_workers_equal_explain(client, saved_model, sst5_texts, expected):
    from keras_text_lrp import exported
    from keras_text_lrp.dask import explain_bag

    labels = expected[0]["labels"]
    bag = db.from_sequence(sst5_texts, npartitions=8)
    with distributed.get_task_stream(client) as stream:
        got = explain_bag(bag, saved_model, METHODS, label_names=labels, batch_size=50).compute()
    assert len(got) == len(expected) == 1000
    for record, want in zip(got, expected):
        assert_same(record, want)
    # the cluster's task log: the 8 partition tasks ran on both worker processes
    tasks = [t for t in stream.data if t["key"][0].startswith("_explain_partition")]
    assert len(tasks) == 8
    assert len({t["worker"] for t in tasks}) == 2
    # ... and each worker loaded the SavedModel once, however many partitions it ran
    loads = client.run(exported.load_count, saved_model)
    assert sorted(loads.values()) == [1, 1]


def test_command_line_jsonl_with_ids_targets_and_an_empty_text(client, saved_model, sst5_texts, tmp_path):
    from keras_text_lrp.dask import main
    from keras_text_lrp.explain import explain

    texts = sst5_texts[:40]
    targets = {i: i % 5 for i in range(0, 40, 3)}
    rows = [{"id": f"s{i}", "text": t, **({"target": targets[i]} if i in targets else {})}
            for i, t in enumerate(texts)]
    rows.append({"id": "empty", "text": " "})
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--saved_model", saved_model, "--input", str(corpus), "--output", str(out),
                 "--input_format", "jsonl", "--methods", ",".join(METHODS), "--labels", "a,b,c,d,e",
                 "--no_text", "--blocksize", "2KiB", "--scheduler", client.scheduler.address]) == 0
    parts = sorted(out.glob("part-*.jsonl"))
    assert len(parts) > 1
    got = {}
    for part in parts:
        for line in part.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            got[record.pop("id")] = record
    assert sorted(got) == sorted(r["id"] for r in rows)
    free = [i for i in range(40) if i not in targets]
    fixed = sorted(targets)
    want = dict(zip(free, explain("sst5-cnn", [texts[i] for i in free], METHODS).to_records()))
    want.update(zip(fixed, explain("sst5-cnn", [texts[i] for i in fixed], METHODS,
                                   [targets[i] for i in fixed]).to_records()))
    for i, record in want.items():
        del record["offsets"], record["text"]
        assert_same(got[f"s{i}"], {**record, "labels": list("abcde")})
    assert all(got[f"s{i}"]["target"] == t for i, t in targets.items())
    assert got["empty"] == {"tokens": [], "scores": {m: [] for m in METHODS}, "logits": None,
                            "predicted": None, "target": None, "error": "empty text"}


def test_bad_input_is_refused_with_one_line(client, saved_model, tmp_path, capsys):
    from keras_text_lrp.dask import explain_bag, main

    bag = db.from_sequence(["A good movie .", "Dull ."], npartitions=2)
    with pytest.raises(InvalidArgumentError, match="not a SavedModel folder"):
        explain_bag(bag, str(tmp_path / "nowhere"), METHODS)
    missing = r"no signature\(s\) \['explain_text_lrp_z'.*text_signature=True"
    with pytest.raises(InvalidArgumentError, match=missing):
        explain_bag(bag, saved_model, ["lrp.z"])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        explain_bag(bag, saved_model, METHODS, batch_size=0)
    # a target outside the 5 classes is refused on the worker; the client gets the same error
    bad = db.from_sequence([{"text": "Good .", "target": 1}, {"text": "Bad .", "target": 5}], npartitions=1)
    with pytest.raises(InvalidInputError, match=r"target 5: the model has 5 classes \(0..4\)"):
        explain_bag(bad, saved_model, METHODS).compute()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("A good movie .\n", encoding="utf-8")
    args = ["--input", str(corpus), "--output", str(tmp_path / "out"),
            "--scheduler", client.scheduler.address]
    assert main(["--saved_model", str(tmp_path / "nowhere"), *args]) == 2
    assert main(["--saved_model", saved_model, "--methods", "lrp.z", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "not a SavedModel folder" in err[0] and "explain_text_lrp_z" in err[1]
    assert not (tmp_path / "out").exists()


def test_beam_dask_runner_is_refused_naming_the_dask_path():
    pytest.importorskip("apache_beam", reason="the beam extra (apache-beam) is not installed")
    from keras_text_lrp.beam import run

    with pytest.raises(InvalidArgumentError, match=r"DaskRunner cannot run.*keras_text_lrp\.dask"):
        run(["--saved_model", "x", "--input", "x", "--output", "x", "--runner", "DaskRunner"])
