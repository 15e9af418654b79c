"""The instant CLI (issue 15, item 1): help, models and argument errors without TensorFlow or Keras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_text_lrp import cli
from keras_text_lrp._names import METHOD_NAMES

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ["--help"], ["explain", "--help"], ["export", "--help"], ["models"],
    ["explain"],                                             # nothing to explain
    ["explain", "x", "--method", "nope"],                    # unknown method
    ["explain", "--file", "/nonexistent/in.txt"],            # missing file
    ["explain", "x", "--json", "/nonexistent/out.json"],     # unwritable output
    ["explain", "x", "--batch-size", "0"],                   # bad number
    ["explain", "x", "--labels", "a,,b"],                    # empty class name
    ["explain", "x", "--file", "f"],                         # texts and --file
]
_CHILD = """
import contextlib, io, json, sys
from keras_text_lrp import cli
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    results.append([code, out.getvalue(), err.getvalue()])
heavy = sorted(m for m in ("tensorflow", "keras", "jax") if m in sys.modules)
print(json.dumps({"results": results, "heavy": heavy}))
"""


def test_help_models_and_argument_errors_import_no_tensorflow_and_print_the_same(capsys):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    child = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(CASES)], capture_output=True, text=True,
                           env=env, timeout=300)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["heavy"] == []  # neither TensorFlow, Keras nor JAX was imported
    os.environ["COLUMNS"] = "100"
    try:
        for argv, (code, out, err) in zip(CASES, report["results"]):
            # the same as in this process, where Keras and TensorFlow are loaded
            assert [cli.main(argv), *capsys.readouterr()] == [code, out, err], argv
            assert code == (0 if "--help" in argv or argv == ["models"] else 2)
    finally:
        del os.environ["COLUMNS"]
    assert "sst5-cnn" in report["results"][3][1]


def test_method_help_lists_the_method_names_and_they_are_the_registry():
    from keras_text_lrp.analyzers.registry import ANALYZERS

    assert list(METHOD_NAMES) == sorted(ANALYZERS)
    help_text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["explain"]
                         .format_help().split())
    assert "one of: " + ", ".join(METHOD_NAMES) in help_text


@pytest.mark.parametrize("argv", [["explain", "x", "--method", "lrp.epsilon,nope"]])
def test_unknown_method_message_lists_every_name(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: unknown method 'nope'; the methods are: {', '.join(METHOD_NAMES)}\n"
