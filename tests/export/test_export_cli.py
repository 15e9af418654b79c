"""``keras-text-lrp export MODEL DIR --method ... [--dimensions] [--text]``."""

from __future__ import annotations

import keras
import pytest
from export_helpers import TENSORFLOW_ONLY, bag_of_words, text_vectorization_model

from keras_text_lrp import cli


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, vocab):
    folder = tmp_path_factory.mktemp("cli_models")
    path = folder / "bow.keras"
    bag_of_words(len(vocab), classes=5).save(path)  # models.load: SST-5 labels by default
    vocab.save(folder / "bow.vocab.json")
    return path


def _signatures(folder):
    from tensorflow.core.protobuf import saved_model_pb2

    graph = saved_model_pb2.SavedModel.FromString((folder / "saved_model.pb").read_bytes())
    sigs = graph.meta_graphs[0].signature_def
    return {k: sigs[k] for k in sigs if not k.startswith("__")}


@TENSORFLOW_ONLY
def test_export_command_writes_the_signatures(tmp_path, model_file, capsys):
    out = tmp_path / "bow" / "1"
    code = cli.main(["export", str(model_file), str(out), "--method", "lrp.epsilon,gradient", "--text",
                     "--dimensions"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    sigs = _signatures(out)
    methods = ("lrp_epsilon", "gradient")
    assert set(sigs) == {"serve", "serving_default"} | {
        f"explain{k}_{m}{t}" for k in ("", "_text") for m in methods for t in ("", "_target")}
    assert "relevance_dimensions" in sigs["explain_gradient"].outputs
    assert "explain_text_lrp_epsilon_target" in printed.out and "saved_model_cli show --all" in printed.out

    code = cli.main(["export", str(model_file), str(out), "--method", "gradient"])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert cli.main(["export", str(model_file), str(out), "--method", "gradient", "--overwrite"]) == 0
    assert set(_signatures(out)) == {"serve", "serving_default", "explain_gradient",
                                     "explain_gradient_target"}
    assert cli.main(["export", str(model_file), str(tmp_path / "x"), "--method", "lrp.nope"]) == 2
    assert "unknown method" in capsys.readouterr().err


@TENSORFLOW_ONLY
def test_export_command_text_vectorization_model_needs_no_vocabulary(tmp_path, capsys):
    path = tmp_path / "tv.keras"
    text_vectorization_model().save(path)
    assert cli.main(["export", str(path), str(tmp_path / "tv")]) == 0, capsys.readouterr().err
    assert "explain_text_lrp_epsilon" in _signatures(tmp_path / "tv")


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX refusal of the command (JAX run only)")
def test_export_command_refuses_jax(tmp_path, model_file, capsys):
    assert cli.main(["export", str(model_file), str(tmp_path / "x")]) == 2
    assert "KERAS_BACKEND=tensorflow" in capsys.readouterr().err
