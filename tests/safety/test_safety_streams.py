"""explain_dataset streams: one writer, recorded parameters, validated resumes, exact records (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.streaming import explain_dataset

pytestmark = pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'")

TEXTS = [f"{a} {b} movie ." for a in ("a good", "not a bad", "very dull", "the fun") for b in
         ("story", "acting and story", "film", "")] + ["it was great", "boring"]
METHODS = ["lrp.epsilon", "gradient"]
ROOT = Path(__file__).resolve().parents[2]


def _run(model, vocab, data, path, **kwargs):
    methods = kwargs.pop("methods", METHODS)
    options = {"vocabulary": vocab, "batch_size": 4, "progress": False, **kwargs}
    return explain_dataset(model, data, path, methods, **options)


def test_resume_after_a_kill_mid_batch_equals_an_uninterrupted_run_exactly(tmp_path, model, vocab):
    reference = tmp_path / "reference.jsonl"
    _run(model, vocab, TEXTS, reference)
    lines = reference.read_bytes().splitlines(keepends=True)
    path = tmp_path / "out.jsonl"
    _run(model, vocab, TEXTS[:4], path)  # the first batch, its parameters recorded beside it
    # a kill in the middle of the second batch's write: two whole records, then half of one
    with path.open("ab") as handle:
        handle.write(b"".join(lines[4:6]) + lines[6][:17])
    summary = _run(model, vocab, TEXTS, path)
    # resumed at the batch boundary (4), so every batch is the uninterrupted run's: identical bytes
    assert (summary.resumed_from, summary.written) == (4, len(TEXTS) - 4)
    assert path.read_bytes() == reference.read_bytes()
    assert _run(model, vocab, TEXTS, path).written == 0  # complete (its last batch is partial)
    assert path.read_bytes() == reference.read_bytes()


def test_resume_with_other_parameters_refused_naming_them(tmp_path, model, vocab):
    path = tmp_path / "out.jsonl"
    _run(model, vocab, TEXTS[:8], path)
    before = path.read_bytes()
    with pytest.raises(InvalidArgumentError, match=r"other parameters \(methods: file \['lrp.epsilon', "
                       r"'gradient'\], now \['gradient'\]\)"):
        _run(model, vocab, TEXTS, path, methods=["gradient"])
    with pytest.raises(InvalidArgumentError, match=r"options: file \{\}, now \{'epsilon': 0.5\}"):
        _run(model, vocab, TEXTS, path, epsilon=0.5)
    with pytest.raises(InvalidArgumentError, match="pooling: file 'sum', now 'mean'"):
        _run(model, vocab, TEXTS, path, pooling="mean")
    from safety_models import tiny_model

    with pytest.raises(InvalidArgumentError, match="weights_sha256"):  # another model, same architecture
        _run(tiny_model(len(vocab), seed=1), vocab, TEXTS, path)
    assert path.read_bytes() == before


def test_an_unrelated_file_is_refused_untouched(tmp_path, model, vocab):
    notes = tmp_path / "notes.jsonl"
    original = b'{"id": 0, "name": "a"}\nsome line\n{"id": 3, "half'  # last line without newline
    notes.write_bytes(original)
    with pytest.raises(InvalidArgumentError, match="line 2 is not a record written by explain_dataset"):
        _run(model, vocab, TEXTS, notes)
    assert notes.read_bytes() == original
    single = tmp_path / "single.txt"
    single.write_bytes(b"one line, no newline")
    with pytest.raises(InvalidArgumentError, match="holds no record written by explain_dataset"):
        _run(model, vocab, TEXTS, single)
    assert single.read_bytes() == b"one line, no newline"


def test_output_that_is_the_input_refused_before_anything_is_read(tmp_path, model, vocab):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    original = source.read_bytes()

    def lines_of(name):
        with open(name, encoding="utf-8") as handle:
            yield from (line.rstrip("\n") for line in handle)

    for resume in (False, True):
        with pytest.raises(InvalidArgumentError, match="is the same file as the data"):
            _run(model, vocab, lines_of(source), source, resume=resume)
        assert source.read_bytes() == original
        with source.open(encoding="utf-8") as handle, pytest.raises(InvalidArgumentError, match="same file"):
            _run(model, vocab, handle, source, resume=resume)
        assert source.read_bytes() == original
    link = tmp_path / "link.jsonl"
    link.symlink_to(source)
    with pytest.raises(InvalidArgumentError, match="same file"):
        _run(model, vocab, lines_of(source), link, resume=False)
    assert source.read_bytes() == original


_WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from safety_models import WORDS, tiny_model
from keras_text_lrp.streaming import explain_dataset
from keras_text_lrp.text import Vocabulary
texts = {texts!r}
def slow():
    for i, t in enumerate(texts):
        if i == 4:
            print("started", flush=True)
            time.sleep(float(sys.argv[2]))
        yield t
vocab = Vocabulary(WORDS)
explain_dataset(tiny_model(len(vocab)), slow(), sys.argv[1], {methods!r}, vocabulary=vocab, batch_size=4,
                progress=False)
print("done", flush=True)
"""


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="a subprocess test of locking, the same on every backend (run on TensorFlow)")
def test_a_second_writer_is_refused_at_once_with_the_holders_pid(tmp_path, model, vocab):
    path = tmp_path / "out.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(tests=str(Path(__file__).parent), texts=TEXTS, methods=METHODS))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, str(script), str(path), "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert writer.stdout.readline().strip() == "started"  # it holds the lock now, mid-run
        began = time.monotonic()
        with pytest.raises(InvalidArgumentError, match=rf"another process \(PID {writer.pid}\) is writing"):
            _run(model, vocab, TEXTS, path)
        assert time.monotonic() - began < 3  # refused at once, not after waiting for the lock
        out, err = writer.communicate(timeout=300)
    finally:
        writer.kill()
    assert writer.returncode == 0, err
    assert out.strip() == "done"
    reference = tmp_path / "reference.jsonl"
    _run(model, vocab, TEXTS, reference)
    assert path.read_bytes() == reference.read_bytes()  # the writer's file is a single uninterrupted run
    assert json.loads(path.read_text().splitlines()[-1])["id"] == len(TEXTS) - 1
