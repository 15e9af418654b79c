"""The command line tool: nothing injected, outputs never over inputs, one clean error (issue 12)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from keras_text_lrp import cli

pytestmark = pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'")

ROOT = Path(__file__).resolve().parents[2]
OSC = "\x1b]0;PWNLABEL\x07"
CSI = "\x1b[31m"
C1 = "\x9b2J\x9d0;t\x9c"
TEXTS = ["a good movie .", "not a bad film", "very dull story and acting"]
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="a subprocess test of process handling, the same on every backend (run on TensorFlow)",
)


def _main(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _no_controls(*texts):
    for text in texts:
        assert "\x1b" not in text and "\x9b" not in text and "\x9d" not in text and "\x07" not in text


def test_labels_with_osc_csi_and_c1_are_printed_escaped(model_file, capsys, tmp_path):
    labels = [f"neg{OSC}", f"mid{CSI}", f"pos{C1}"]
    code, out, err = _main(["explain", TEXTS[0], "--model", model_file, "--labels", ",".join(labels),
                            "--json", "-"], capsys)
    assert code == 0, err
    _no_controls(out, err)
    # the JSON on stdout keeps the names exactly (escaped as \u009b, never raw)
    records = json.loads(out)
    assert records[0]["labels"] == labels
    assert "\\u009b" in out
    # the printed heading (on stderr with --json -) shows them escaped
    assert "\\x1b]0;PWNLABEL\\x07" in err
    code, out, err = _main(["explain", TEXTS[0], "--model", model_file, "--labels", ",".join(labels),
                            "--target", f"x{OSC}"], capsys)
    assert code == 2
    _no_controls(out, err)
    assert err.count("\n") == 1 and "neg\\x1b]0;PWNLABEL\\x07" in err


def test_model_names_and_paths_with_controls_are_printed_escaped(model_file, capsys, tmp_path):
    hostile = tmp_path / f"ev{OSC}il{C1}.keras"
    shutil.copy(model_file, hostile)
    shutil.copy(model_file.with_suffix(".vocab.json"), hostile.with_suffix(".vocab.json"))
    code, out, err = _main(["explain", TEXTS[1], "--model", hostile, "--labels", "a,b"], capsys)
    assert code == 2
    _no_controls(out, err)
    assert "has 3 classes" in err and "ev\\x1b]0;PWNLABEL\\x07il\\x9b2J" in err
    html = tmp_path / f"page{CSI}.html"
    code, out, err = _main(["explain", TEXTS[1], "--model", hostile, "--html", html], capsys)
    assert code == 0, err
    _no_controls(out, err)
    assert html.is_file() and "page\\x1b[31m.html" in err


@pytest.mark.parametrize("option", ["--json", "--jsonl", "--html"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, model_file, capsys, option):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    original = source.read_bytes()
    link = tmp_path / "link.txt"
    link.symlink_to(source)
    for output in (source, link, tmp_path / "." / "in.txt"):
        code, out, err = _main(["explain", "--file", source, option, output, "--model", model_file], capsys)
        assert code == 2
        assert f"error: {option} '{output}' is the same file as --file '{source}'" in err
        assert source.read_bytes() == original
    for victim in (model_file, model_file.with_suffix(".vocab.json")):
        before = victim.read_bytes()
        code, _, err = _main(["explain", TEXTS[0], "--model", model_file, option, victim], capsys)
        assert code == 2 and "is the same file as " in err and victim.read_bytes() == before


def test_non_utf8_arguments_are_one_clean_error(model_file, capsys, tmp_path):
    text = os.fsdecode(b"caf\xe9")  # what Python makes of the byte 0xe9 in argv
    code, out, err = _main(["explain", text, "--json", tmp_path / "x.json", "--model", model_file], capsys)
    assert code == 2
    assert err == ("error: argument 2 ('caf\\udce9') is not UTF-8 text: it has the byte 0xe9 at character 4; "
                   "give UTF-8 (e.g. convert with iconv -f latin1 -t utf-8)\n")
    assert not (tmp_path / "x.json").exists()


def test_max_tokens_cuts_long_texts_with_a_warning(model_file, capsys):
    words = ["good", "movie", "and", "story"] * 5
    code, out, err = _main(["explain", " ".join(words), "--model", model_file, "--max-tokens", "6",
                            "--json", "-"], capsys)
    assert code == 0, err
    record = json.loads(out)[0]
    assert record["tokens"] == words[:6]
    assert "warning:" in err and "6" in err


def test_unsafe_deserialization_and_custom_objects_are_for_keras_files(capsys):
    code, _, err = _main(["explain", "x", "--unsafe-deserialization"], capsys)
    assert code == 2 and "are for a .keras file, not the shipped model 'sst5-cnn'" in err
    assert "off by default" in " ".join(cli.build_parser()._subparsers._group_actions[0]
                                         .choices["explain"].format_help().split())


def test_corrupt_and_truncated_keras_files_say_so(model_file, tmp_path, capsys):
    vocab = model_file.with_suffix(".vocab.json")
    text_file = tmp_path / "text.keras"
    text_file.write_text("not a model")
    cut = tmp_path / "cut.keras"
    cut.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    for path, message in ((text_file, "not a zip archive"), (cut, "not a zip archive")):
        code, _, err = _main(["explain", "good", "--model", path, "--vocab", vocab], capsys)
        assert code == 2 and f"Cannot load the Keras model file '{path}': it is not a readable .keras " \
            f"archive ({message}" in err
    damaged = tmp_path / "damaged.keras"
    data = bytearray(model_file.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])  # a member's CRC fails
    damaged.write_bytes(bytes(data))
    code, _, err = _main(["explain", "good", "--model", damaged, "--vocab", vocab], capsys)
    assert code == 2 and "truncated or damaged" in err


def test_an_unknown_custom_class_is_named(tmp_path, vocab, capsys):
    @keras.saving.register_keras_serializable(package="safetytest")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(len(vocab), 4)(ids)
    x = keras.layers.GlobalAveragePooling1D()(Doubler()(x))
    path = tmp_path / "custom.keras"
    keras.Model(ids, keras.layers.Dense(3)(x)).save(path)
    vocab.save(tmp_path / "custom.vocab.json")
    keras.saving.get_custom_objects().pop("safetytest>Doubler")
    code, _, err = _main(["explain", "good", "--model", path], capsys)
    assert code == 2
    assert "uses the custom class 'Doubler'" in err and "--custom-objects module:Doubler" in err


# --------------------------------------------------------------------------- processes
def _cli_process(args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "keras_text_lrp.cli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@TF_ONLY
def test_ctrl_c_during_start_up_is_interrupted_exit_130_no_traceback(tmp_path, model_file):
    import signal
    import time

    process = _cli_process(["explain", "good movie", "--model", model_file, "--json", tmp_path / "x.json"])
    time.sleep(1.5)  # the light start is over; Keras / TensorFlow are being imported
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert (process.returncode, err.strip()) == (130, "interrupted"), err
    assert not list(tmp_path.iterdir())


@TF_ONLY
def test_sigkill_leaves_a_temporary_file_that_the_next_run_removes(tmp_path, model_file, capsys):
    import time

    out = tmp_path / "out.jsonl"
    process = _cli_process(["explain", "--file", "-", "--jsonl", out, "--model", model_file,
                            "--batch-size", "1", "-q"], stdin=subprocess.PIPE)
    process.stdin.write("a good movie\n")
    process.stdin.flush()
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.jsonl.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.2)
    stale = list(tmp_path.glob(".out.jsonl.*.tmp"))
    assert len(stale) == 1 and f".{process.pid}." in stale[0].name
    process.kill()
    process.communicate(timeout=60)
    assert stale[0].exists()  # SIGKILL: nothing could clean up
    code, _, err = _main(["explain", "good", "--jsonl", out, "--model", model_file], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert json.loads(out.read_text())["tokens"] == ["good"]


@pytest.fixture()
def small_tmpfs(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_is_one_error_naming_the_file_and_leaves_no_temporary_file(small_tmpfs, tmp_path,
                                                                            model_file, capsys):
    source = tmp_path / "many.txt"
    source.write_text("\n".join(TEXTS * 150) + "\n", encoding="utf-8")
    for option in ("--jsonl", "--json", "--html"):
        target = small_tmpfs / f"scores.{option.strip('-')}"
        code, out, err = _main(["explain", "--file", source, option, target, "--model", model_file, "-q"],
                               capsys)
        assert code == 2
        assert err.startswith(f"error: cannot write {option} '{target}': No space left on device"), err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert os.listdir(small_tmpfs) == []
