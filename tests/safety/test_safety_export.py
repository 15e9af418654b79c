"""Exports and Beam (issue 12): no export over its source, umask permissions, Beam's one-line errors."""

from __future__ import annotations

import os
import shutil
import stat

import keras
import pytest

from keras_text_lrp.errors import InvalidArgumentError

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="SavedModel export and Beam need the TensorFlow backend"),
    pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'"),
]


def test_an_export_folder_holding_its_source_model_is_refused(model_file, tmp_path):
    from keras_text_lrp.export import export_for_serving

    folder = tmp_path / "victim"
    folder.mkdir()
    source = folder / "victim.keras"
    shutil.copy(model_file, source)
    shutil.copy(model_file.with_suffix(".vocab.json"), folder / "victim.vocab.json")
    before = source.read_bytes()
    for destination in (source, folder, tmp_path):
        with pytest.raises(InvalidArgumentError, match="is or contains the model file"):
            export_for_serving(str(source), destination, ["gradient"], overwrite=True)
    assert source.read_bytes() == before


def test_exports_are_readable_by_another_user_under_umask_022(model, vocab, tmp_path):
    from keras_text_lrp.export import export_for_serving

    old = os.umask(0o022)
    try:
        path = export_for_serving(model, tmp_path / "serving" / "1", ["gradient"], vocabulary=vocab,
                                  text_signature=False)
    finally:
        os.umask(old)
    entries = [path, *path.rglob("*")]
    assert len(entries) > 3
    for entry in entries:
        mode = stat.S_IMODE(entry.stat().st_mode)
        wanted = 0o755 if entry.is_dir() else 0o644
        assert mode & wanted == wanted & ~0o022 and mode & 0o004, (entry, oct(mode))
    assert sorted(p.name for p in path.parent.iterdir()) == ["1"]  # no staging folder left


def test_beam_failures_are_one_line_exit_2_and_leave_no_temporary_folders(tmp_path, capsys):
    pytest.importorskip("apache_beam")
    from keras_text_lrp import beam

    source = tmp_path / "in.txt"
    source.write_text("good\nbad\n")
    out = tmp_path / "out" / "scores"
    out.parent.mkdir()
    (out.parent / "beam-temp-scores-stale").mkdir()
    code = beam.main(["--saved_model", str(tmp_path / "missing"), "--input", str(source),
                      "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "missing" in err
    assert list(out.parent.iterdir()) == []
    shard = tmp_path / "scores-00000-of-00001.jsonl"
    shard.write_text('{"id": 0}\n')
    code = beam.main(["--saved_model", str(tmp_path / "missing"), "--input", str(tmp_path / "*"),
                      "--output", str(tmp_path / "scores")])
    err = capsys.readouterr().err
    assert code == 2 and "a shard of --output" in err
