"""export_for_serving: one SavedModel, checked from a Python without keras_text_lrp.

The three exports (a CNN, a masked bi-LSTM, a TextVectorization model) are
written once per session; one isolated child process (``python -I -S``, cwd
outside the repository) loads each twice with plain ``tf.saved_model.load``
and runs every call, while ``saved_model_cli show --all`` runs beside it.
The tests compare what came back with ``analyzer.analyze`` / ``explain()`` in
this process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from export_helpers import (
    HERE,
    TENSORFLOW_ONLY,
    bag_of_words,
    bilstm,
    cnn,
    isolated_python,
    site_packages_env,
    text_vectorization_model,
)

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError

ATOL = 1e-5
CNN_METHODS = {"lrp.epsilon": {}, "integrated_gradients": {"steps": 8, "path_batch_size": 4},
               "smoothgrad": {"augment_by_n": 4, "noise_scale": 0.1, "seed": 7}}
CNN_TEXTS = [
    "A gorgeous, witty movie -- I cannot say it's bad!",
    "The plot (if any) isn't fun: it was \"boring\" and / dull.",
    "Good.",
]


def _spec(value, dtype):
    array = np.asarray(value, dtype=object if dtype == "string" else dtype)
    return {"dtype": dtype, "shape": list(array.shape), "value": array.ravel().tolist()}


class Served:
    """Everything the session exported, expected and got back."""

    def __init__(self, tmp, vocab):
        from keras_text_lrp.export import export_for_serving

        self.tmp = tmp
        self.vocab = vocab
        self.models = {"cnn": cnn(len(vocab)), "bilstm": bilstm(len(vocab)), "tv": text_vectorization_model()}
        tv = self.models["tv"].get_layer("vectorize")
        self.analysis = {"cnn": self.models["cnn"], "bilstm": self.models["bilstm"],
                         "tv": keras.Model(tv.output, self.models["tv"].outputs)}
        self.methods = {"cnn": CNN_METHODS, "bilstm": {"lrp.lstm": {}}, "tv": {"lrp.epsilon": {}}}
        self.dirs = {case: tmp / case for case in self.models}
        self.export_seconds = {}
        options = {k: v for m in CNN_METHODS.values() for k, v in m.items()}
        started = time.perf_counter()
        export_for_serving(self.models["cnn"], self.dirs["cnn"], list(CNN_METHODS), vocabulary=vocab,
                           text_signature=True, dimensions=True, lowercase=True, **options)
        self.export_seconds["cnn"] = time.perf_counter() - started
        # saved_model_cli (a TensorFlow start-up of its own) runs while the other models are exported
        cli = shutil.which("saved_model_cli")
        cli = [cli] if cli else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
        outside = tmp / "elsewhere"
        outside.mkdir()
        show = subprocess.Popen([*cli, "show", "--all", "--dir", str(self.dirs["cnn"])], cwd=outside,
                                env=site_packages_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        started = time.perf_counter()
        export_for_serving(self.models["bilstm"], self.dirs["bilstm"], ["lrp.lstm"], dimensions=True)
        self.export_seconds["bilstm"] = time.perf_counter() - started
        started = time.perf_counter()
        export_for_serving(self.models["tv"], self.dirs["tv"], "lrp.epsilon")
        self.export_seconds["tv"] = time.perf_counter() - started

        rng = np.random.default_rng(0)
        v = len(vocab)
        ids_a = rng.integers(2, v, (3, 6)).astype("int32")
        ids_a[1, 4:] = 0
        ids_a[2, 2:] = 0
        ids_b = rng.integers(1, v, (2, 9)).astype("int32")
        ids_b[0, 7:] = 0
        ids_pad = np.array([[5, 9, 11], [0, 0, 0]], "int32")  # a row of padding only
        self.tv_texts = ["A good movie, really good!", "bad acting", "unknown words here and the plot"]
        self.tv_ids = np.asarray(tv(np.array(self.tv_texts)[:, None]), "int32")
        self.inputs = {"cnn": [ids_a, ids_b], "bilstm": [ids_a, ids_b, ids_pad], "tv": [self.tv_ids]}
        self.targets = {"cnn": np.array([3, 0, 1], "int32"), "bilstm": np.array([2, 0, 1], "int32"),
                        "tv": np.array([2, 2, 0], "int32")}
        self.calls: list[dict] = []
        self.index: dict = {}
        for case, batches in self.inputs.items():
            for method in self.methods[case]:
                name = "explain_" + re.sub(r"\W", "_", method)
                for b, ids in enumerate(batches):
                    self._call(("token", case, method, b), case, name, token_ids=_spec(ids, "int32"))
                t = self.targets[case]
                self._call(("target", case, method), case, name + "_target",
                           token_ids=_spec(batches[0], "int32"), target=_spec(t[: len(batches[0])], "int32"))
            self._call(("serve", case), case, "serving_default",
                       **({"text": _spec(np.array(self.tv_texts)[:, None], "string")} if case == "tv"
                          else {"token_ids": _spec(batches[0], "int32")}))
        self._call(("text", "cnn"), "cnn", "explain_text_lrp_epsilon", text=_spec(CNN_TEXTS, "string"))
        self._call(("text_target", "cnn"), "cnn", "explain_text_lrp_epsilon_target",
                   text=_spec(CNN_TEXTS, "string"), target=_spec([1, 2, 3], "int32"))
        self._call(("text", "tv"), "tv", "explain_text_lrp_epsilon", text=_spec(self.tv_texts, "string"))
        # what must be refused inside the graph
        ids = _spec(ids_a, "int32")
        texts = _spec(["good", "bad"], "string")
        eps, lstm, text_eps = "explain_lrp_epsilon", "explain_lrp_lstm", "explain_text_lrp_epsilon"
        bad = {  # key: (case, signature, inputs)
            "target_too_big": ("cnn", eps + "_target",
                               {"token_ids": ids, "target": _spec([0, 4, 1], "int32")}),
            "target_negative": ("bilstm", lstm + "_target",
                                {"token_ids": ids, "target": _spec([0, -1, 1], "int32")}),
            "target_length": ("cnn", eps + "_target", {"token_ids": ids, "target": _spec([0, 1], "int32")}),
            "text_target_too_big": ("tv", "explain_text_lrp_epsilon_target",
                                    {"text": texts, "target": _spec([3, 0], "int32")}),
            "empty_batch": ("cnn", eps, {"token_ids": _spec(np.zeros((0, 5)), "int32")}),
            "zero_length": ("bilstm", lstm, {"token_ids": _spec(np.zeros((2, 0)), "int32")}),
            "empty_text_batch": ("cnn", text_eps, {"text": _spec(np.array([], str), "string")}),
            "all_texts_empty": ("cnn", text_eps, {"text": _spec(["", "   "], "string")}),
            "all_texts_empty_fixed_length": ("tv", text_eps, {"text": _spec(["", "?!"], "string")}),
            "id_too_big": ("cnn", eps, {"token_ids": _spec([[2, v]], "int32")}),
            "id_negative": ("cnn", "explain_integrated_gradients", {"token_ids": _spec([[2, -3]], "int32")}),
            # one row given flat, a batch of one-column texts (as a Keras example's Input((1,))), a
            # target per row as a column: refused naming the shape, not answered from a broadcast
            "ids_rank_1": ("cnn", eps, {"token_ids": _spec([2, 3, 4], "int32")}),
            "ids_rank_3": ("bilstm", lstm, {"token_ids": _spec([[[2], [3]]], "int32")}),
            "text_rank_2": ("tv", text_eps, {"text": _spec([["a good movie"], ["bad"]], "string")}),
            "target_rank_2": ("cnn", eps + "_target",
                              {"token_ids": ids, "target": _spec([[0], [1], [1]], "int32")}),
        }
        for key, (case, name, inputs) in bad.items():
            self._call(("bad", key), case, name, fails=True, **inputs)

        spec_path = tmp / "calls.json"
        spec_path.write_text(json.dumps({
            "exports": {case: str(folder) for case, folder in self.dirs.items()},
            "twice": ["cnn", "bilstm"], "calls": self.calls, "out": str(tmp / "results"),
        }))
        started = time.perf_counter()
        child = subprocess.Popen(
            [*isolated_python(), str(HERE / "_serving_child.py"), str(spec_path)], cwd=outside,
            env=site_packages_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        log, _ = child.communicate(timeout=400)
        self.child_seconds = time.perf_counter() - started
        self.cli_output, cli_log = show.communicate(timeout=300)
        assert child.returncode == 0, log[-4000:]
        assert show.returncode == 0, cli_log[-4000:]
        with np.load(tmp / "results.npz") as data:
            self.arrays = dict(data)
        report = json.loads((tmp / "results.json").read_text())
        self.facts, self.errors = report["facts"], report["errors"]

    def _call(self, key, case, signature, fails=False, **inputs):
        self.index[key] = len(self.calls)
        self.calls.append({"case": case, "signature": signature, "inputs": inputs, "fails": fails})

    def got(self, key, name, load=0):
        return self.arrays[f"{self.index[key]}/{load}/{name}"]

    def error(self, key):
        i = self.index[key]
        assert f"{i}/0" in self.errors, f"{key} was not refused; outputs: {sorted(self.arrays)[:3]}"
        return self.errors[f"{i}/0"]


@pytest.fixture(scope="module")
def served(tmp_path_factory, vocab):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export needs KERAS_BACKEND=tensorflow")
    return Served(tmp_path_factory.mktemp("served"), vocab)


_ANALYZERS: dict = {}


def _analyze(served, case, method, ids, target=None):
    """``analyzer.analyze`` in this process (analyzers built once per case, method and mode)."""
    mode = "max_activation" if target is None else "index"  # max_activation: the largest logit
    key = (id(served), case, method, mode)
    if key not in _ANALYZERS:
        _ANALYZERS[key] = ktl.create_analyzer(method, served.analysis[case], neuron_selection_mode=mode,
                                              **served.methods[case][method])
    return _ANALYZERS[key].analyze(ids, neuron_selection=target)


def _close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=ATOL, atol=ATOL, err_msg=what)


CASES = [("cnn", m, b) for m in CNN_METHODS for b in range(2)] + [
    ("bilstm", "lrp.lstm", b) for b in range(3)] + [("tv", "lrp.epsilon", 0)]


@TENSORFLOW_ONLY
def test_child_process_cannot_import_keras_text_lrp(served):
    facts = served.facts
    assert facts["keras_text_lrp_import"].startswith("failed: ModuleNotFoundError"), facts
    assert facts["isolated"] and facts["no_site"]
    assert "work/main" not in facts["cwd"]


@TENSORFLOW_ONLY
def test_signatures_of_each_export(served):
    sigs = served.facts["signatures"]
    def explain(methods, text):
        kinds = ("", "_text") if text else ("",)
        return {"serving_default", "serve"} | {
            f"explain{k}_{m}{t}" for k in kinds for m in methods for t in ("", "_target")}

    assert set(sigs["cnn"]) == explain(("lrp_epsilon", "integrated_gradients", "smoothgrad"), text=True)
    assert set(sigs["bilstm"]) == explain(("lrp_lstm",), text=False)  # no text_signature asked for
    assert set(sigs["tv"]) == explain(("lrp_epsilon",), text=True)  # TextVectorization: on by default


def _cli_signatures(text):
    """{signature: {"inputs"|"outputs": {name: (dtype, shape)}}} from ``saved_model_cli show --all``."""
    out = {}
    for block in re.split(r"\n(?=signature_def\[)", text):
        head = re.match(r"signature_def\['([^']+)'\]", block)
        if not head:
            continue
        sig = out.setdefault(head.group(1), {"inputs": {}, "outputs": {}})
        part = None
        for line in block.splitlines():
            if "contains the following input(s)" in line:
                part = "inputs"
            elif "contains the following output(s)" in line:
                part = "outputs"
            m = re.match(r"\s+(inputs|outputs)\['([^']+)'\] tensor_info:", line)
            if m:
                name = m.group(2)
            m = re.match(r"\s+dtype: (\w+)", line)
            if m:
                dtype = m.group(1)
            m = re.match(r"\s+shape: (.+)", line)
            if m and part:
                sig[part][name] = (dtype, m.group(1).strip())
    return out


@TENSORFLOW_ONLY
def test_saved_model_cli_lists_signatures_with_dtypes_and_shapes(served):
    sigs = _cli_signatures(served.cli_output)
    outputs = {"logits": ("DT_FLOAT", "(-1, 4)"), "relevance": ("DT_FLOAT", "(-1, -1)"),
               "mask": ("DT_BOOL", "(-1, -1)"), "target": ("DT_INT32", "(-1)"),
               "padding_relevance": ("DT_FLOAT", "(-1)"), "relevance_dimensions": ("DT_FLOAT", "(-1, -1, 8)")}
    for m in ("lrp_epsilon", "integrated_gradients", "smoothgrad"):
        # inputs declare no rank: the graph checks it (a declared rank is not checked when served)
        assert sigs[f"explain_{m}"] == {"inputs": {"token_ids": ("DT_INT32", "unknown_rank")},
                                        "outputs": outputs}
        assert sigs[f"explain_{m}_target"]["inputs"] == {
            "token_ids": ("DT_INT32", "unknown_rank"), "target": ("DT_INT32", "unknown_rank")}
        assert sigs[f"explain_{m}_target"]["outputs"] == outputs
        assert sigs[f"explain_text_{m}"] == {
            "inputs": {"text": ("DT_STRING", "unknown_rank")},
            "outputs": {**outputs, "tokens": ("DT_STRING", "(-1, -1)")}}
    assert sigs["serving_default"] == {"inputs": {"token_ids": ("DT_INT32", "(-1, -1)")},
                                       "outputs": {"output_0": ("DT_FLOAT", "(-1, 4)")}}


@TENSORFLOW_ONLY
@pytest.mark.parametrize(("case", "method", "batch"), CASES)
def test_explain_signature_equals_analyze(served, case, method, batch):
    ids = served.inputs[case][batch]
    key = ("token", case, method, batch)
    logits = keras.ops.convert_to_numpy(served.analysis[case](ids))
    expected = _analyze(served, case, method, ids)
    mask = ids != 0
    _close(served.got(key, "logits"), logits, "logits")
    np.testing.assert_array_equal(served.got(key, "target"), logits.argmax(-1))
    np.testing.assert_array_equal(served.got(key, "mask"), mask)
    _close(served.got(key, "relevance"), expected.sum(-1) * mask, "word relevance")
    assert np.all(served.got(key, "relevance")[~mask] == 0)
    if case == "tv":
        assert f"{served.index[key]}/0/relevance_dimensions" not in served.arrays  # dimensions=False
    else:
        _close(served.got(key, "relevance_dimensions"), expected, "relevance_dimensions")


@TENSORFLOW_ONLY
@pytest.mark.parametrize(("case", "method"), sorted({(c, m) for c, m, _ in CASES}))
def test_target_signature_equals_analyze(served, case, method):
    ids = served.inputs[case][0]
    target = served.targets[case][: len(ids)]
    key = ("target", case, method)
    expected = _analyze(served, case, method, ids, target)
    np.testing.assert_array_equal(served.got(key, "target"), target)
    _close(served.got(key, "relevance"), expected.sum(-1) * (ids != 0), "word relevance")
    if case != "tv":
        _close(served.got(key, "relevance_dimensions"), expected, "relevance_dimensions")


@TENSORFLOW_ONLY
@pytest.mark.parametrize("case", ["cnn", "bilstm", "tv"])
def test_serving_default_is_the_model(served, case):
    model = served.models[case]
    x = np.array(served.tv_texts)[:, None] if case == "tv" else served.inputs[case][0]
    _close(served.got(("serve", case), "output_0"), keras.ops.convert_to_numpy(model(x)), "logits")


@TENSORFLOW_ONLY
def test_text_signature_tokenizes_like_explain(served):
    """In-graph Penn-Treebank rules + vocabulary look-up = explain()'s NLTK tokens and scores."""
    from keras_text_lrp.explain import explain

    e = explain(served.models["cnn"], CNN_TEXTS, "lrp.epsilon", vocabulary=served.vocab, lowercase=True)
    tokens = served.got(("text", "cnn"), "tokens")
    mask = served.got(("text", "cnn"), "mask")
    for i, expected in enumerate(e.tokens):
        got = [t for t in tokens[i] if t]
        assert got == expected
        # tokens the vocabulary knows only PTB-escaped ("(" -> "-lrb-", "/" -> "\\/") are found
        assert mask[i].sum() == len(expected)
        _close(served.got(("text", "cnn"), "relevance")[i, : len(expected)], e.scores["lrp.epsilon"][i],
               f"text {i}")
    np.testing.assert_array_equal(served.got(("text", "cnn"), "target"), e.target)
    _close(served.got(("text", "cnn"), "logits"), e.logits, "logits")
    # the target signature: explain(..., target=[1, 2, 3]) runs analyze(e.ids, neuron_selection=[1, 2, 3])
    relevance = _analyze(served, "cnn", "lrp.epsilon", e.ids, np.array([1, 2, 3])).sum(-1) * (e.ids != 0)
    _close(served.got(("text_target", "cnn"), "relevance"), relevance, "text signature with targets")


@TENSORFLOW_ONLY
def test_text_vectorization_signature_uses_the_layer(served):
    key = ("text", "tv")
    ids = served.tv_ids
    expected = _analyze(served, "tv", "lrp.epsilon", ids)
    _close(served.got(key, "relevance"), expected.sum(-1) * (ids != 0), "word relevance")
    tokens = served.got(key, "tokens")
    assert tokens.shape == (3, 7)  # output_sequence_length=7
    assert list(tokens[0][:5]) == ["a", "good", "movie", "really", "good"]  # lowered, punctuation stripped
    assert list(tokens[2][:3]) == ["unknown", "words", "here"]  # out of vocabulary: surface form, id 1
    assert ids[2, 0] == 1
    np.testing.assert_array_equal(tokens == "", ids == 0)


@TENSORFLOW_ONLY
def test_two_loads_give_identical_outputs(served):
    compared = set()
    for key in served.arrays:
        i, load, name = key.split("/")
        if load == "1":
            np.testing.assert_array_equal(served.arrays[key], served.arrays[f"{i}/0/{name}"], err_msg=key)
            compared.add(served.calls[int(i)]["signature"])
    # every signature of the CNN (seeded SmoothGrad and integrated gradients among them) and the bi-LSTM
    assert {"explain_smoothgrad", "explain_integrated_gradients_target", "explain_text_lrp_epsilon",
            "explain_lrp_lstm", "explain_lrp_lstm_target", "serving_default"} <= compared


@TENSORFLOW_ONLY
@pytest.mark.parametrize("bad", ["target_too_big", "target_negative", "target_length", "text_target_too_big"])
def test_target_out_of_range_is_invalid_argument(served, bad):
    error = served.error(("bad", bad))
    assert error["type"] == "InvalidArgumentError"
    assert "target" in error["message"]


@TENSORFLOW_ONLY
@pytest.mark.parametrize(("bad", "words"), [
    ("empty_batch", "batch is empty"), ("zero_length", "length 0"), ("empty_text_batch", "batch is empty"),
    ("all_texts_empty", "no text of the batch has a token"),
    ("all_texts_empty_fixed_length", "no text of the batch has a token"),
    ("id_too_big", "token ids must be <"),
    ("id_negative", "token ids must be >= 0"),
])
def test_empty_inputs_and_bad_ids_are_invalid_argument(served, bad, words):
    error = served.error(("bad", bad))
    assert error["type"] == "InvalidArgumentError"
    assert words in error["message"]


@TENSORFLOW_ONLY
@pytest.mark.parametrize(("bad", "words"), [
    ("ids_rank_1", "token_ids: expected shape (batch, T) int32, got a tensor of rank] [1]"),
    ("ids_rank_3", "token_ids: expected shape (batch, T) int32, got a tensor of rank] [3]"),
    ("text_rank_2", "text: expected shape (batch,) strings, one text per row, got a tensor of rank] [2]"),
    ("target_rank_2", "target: expected shape (batch,) int32, one class per row, got a tensor of rank] [2]"),
])
def test_wrong_rank_inputs_are_refused_naming_the_expected_shape(served, bad, words):
    error = served.error(("bad", bad))
    assert error["type"] == "InvalidArgumentError"
    assert words in error["message"]


@TENSORFLOW_ONLY
def test_row_of_padding_only_gets_zero_relevance(served):
    key = ("token", "bilstm", "lrp.lstm", 2)
    assert not served.got(key, "mask")[1].any()
    assert np.all(served.got(key, "relevance")[1] == 0)
    assert np.all(np.isfinite(served.got(key, "logits")))


@TENSORFLOW_ONLY
def test_report_timings(served, capsys):
    with capsys.disabled():
        seconds = {k: round(v, 1) for k, v in served.export_seconds.items()}
        child = {k: round(v, 1) for k, v in served.facts.items() if k.startswith("seconds")}
        print(f"\nexport seconds {seconds}, child process {served.child_seconds:.1f}s, in it {child}")


# ---------------------------------------------------------------------------
# refusals before anything is written
# ---------------------------------------------------------------------------
@TENSORFLOW_ONLY
def test_unsupported_models_and_options_are_refused(tmp_path, vocab):
    from keras_text_lrp.export import export_for_serving

    features = keras.Input((4,), name="features")
    dense = keras.Model(features, keras.layers.Dense(3)(features))
    with pytest.raises(InvalidModelError, match="token ids feeding an Embedding"):
        export_for_serving(dense, tmp_path / "a")
    bow = bag_of_words(len(vocab))
    with pytest.raises(InvalidArgumentError, match="vocabulary"):
        export_for_serving(bow, tmp_path / "c", text_signature=True)
    with pytest.raises(InvalidArgumentError, match="one row per sample"):
        export_for_serving(bow, tmp_path / "d", "integrated_gradients",
                           reference_inputs=np.ones((3, 5, 8), "float32"))
    with pytest.raises(InvalidArgumentError, match="unknown analyzer"):
        export_for_serving(bow, tmp_path / "e", "lrp.nonsense")
    with pytest.raises(InvalidArgumentError, match="not taken by any"):
        export_for_serving(bow, tmp_path / "f", "lrp.epsilon", steps=3)
    assert not any(tmp_path.iterdir())


def test_jax_backend_is_refused_naming_the_fix(tmp_path, vocab, monkeypatch):
    """On JAX for real (the JAX run of the suite); on TensorFlow with the backend name patched."""
    from keras_text_lrp.export import BackendNotSupportedError, export_for_serving

    bow = bag_of_words(len(vocab))
    if keras.backend.backend() == "tensorflow":
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(BackendNotSupportedError, match="KERAS_BACKEND=tensorflow"):
        export_for_serving(bow, tmp_path / "x")
    if keras.backend.backend() == "jax":
        analyzer = ktl.create_analyzer("lrp.epsilon", bow)
        with pytest.raises(BackendNotSupportedError, match="KERAS_BACKEND=tensorflow"):
            analyzer.export(tmp_path / "y")
    assert not (tmp_path / "x").exists()


@TENSORFLOW_ONLY
def test_analyzer_export_method(tmp_path, vocab):
    import tensorflow as tf

    bow = bag_of_words(len(vocab))
    analyzer = ktl.create_analyzer("lrp.epsilon", bow, epsilon=0.01)
    path = analyzer.export(tmp_path / "bow", vocabulary=vocab, text_signature=True)
    loaded = tf.saved_model.load(str(path))
    assert {"explain_lrp_epsilon", "explain_text_lrp_epsilon"} <= set(loaded.signatures)
    ids = np.array([[4, 5, 6, 0], [7, 2, 0, 0]], "int32")
    out = loaded.signatures["explain_lrp_epsilon"](token_ids=tf.constant(ids))
    _close(out["relevance"].numpy(), analyzer.analyze(ids).sum(-1), "Analyzer.export")
    named = ktl.create_analyzer("gradient", bow).export(tmp_path / "named", name="grad.v2")
    assert set(tf.saved_model.load(str(named)).signatures) == {
        "serve", "serving_default", "explain_grad_v2", "explain_grad_v2_target"}  # no text signature
    with pytest.raises(InvalidArgumentError, match="overwrite=True"):
        analyzer.export(named)  # (the CLI test replaces an export with --overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bow", "named"]  # no staging folders left


@TENSORFLOW_ONLY
def test_in_graph_treebank_rules_match_nltk_on_newsgroup_lines():
    """The text signatures' tokenizer gives NLTK's Treebank tokens (what explain() uses)."""
    import tensorflow as tf

    from keras_text_lrp.datasets import load_20newsgroups
    from keras_text_lrp.export import _tf_tokenize
    from keras_text_lrp.text import tokenize

    texts = load_20newsgroups("test")[0][:60]
    lines = [line for t in texts for line in t.split("\n") if line.strip()][:600]
    lines += ["He said \"hi\"\tthere.", "I wanna go... gonna? 'Tis fine.", "cannot(do) it!", "x''y",
              "costs $3.88, 3,000 (approx).", "end with 'quote'", "Ünïcödé wörds’ «quotes» — dash"]
    got = _tf_tokenize(tf.constant(lines), "treebank", lowercase=True).to_list()
    for line, tokens in zip(lines, got):
        assert [t.decode() for t in tokens] == tokenize(line, "treebank", lowercase=True)[0], line


@TENSORFLOW_ONLY
@pytest.mark.parametrize(("method", "options"), [("integrated_gradients", {"steps": 3}),
                                                  ("smoothgrad", {"augment_by_n": 2, "seed": 1})])
def test_analyze_takes_any_length_after_retracing(vocab, method, options):
    """Regression: on TensorFlow the third length traces with T = None (reduce_retracing); IG and
    SmoothGrad reshaped with the static shape and failed there (an export always has T = None)."""
    analyzer = ktl.create_analyzer(method, bag_of_words(len(vocab)), **options)
    for length in (3, 5, 7, 9):
        assert analyzer.analyze(np.ones((2, length), "int32")).shape == (2, length, 8)


def test_squashed_head_exports_its_logits(tmp_path):
    """A softmax model exports: explain signatures return the pre-softmax logits they explain."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export needs KERAS_BACKEND=tensorflow (the JAX refusal is tested)")
    import tensorflow as tf

    from keras_text_lrp.export import export_for_serving

    keras.utils.set_random_seed(3)
    ids = keras.Input((None,), dtype="int32")
    emb = keras.layers.Embedding(10, 4)
    head = keras.layers.Dense(3, activation="softmax")
    soft = keras.Model(ids, head(keras.layers.GlobalAveragePooling1D()(emb(ids))))
    export_for_serving(soft, tmp_path / "soft", ["lrp.epsilon"])
    loaded = tf.saved_model.load(str(tmp_path / "soft"))
    x = np.array([[1, 2, 3], [4, 5, 6]], "int32")
    out = loaded.signatures["explain_lrp_epsilon"](token_ids=tf.constant(x))
    W, b = head.get_weights()
    logits = np.asarray(emb(x)).mean(1) @ W + b
    np.testing.assert_allclose(out["logits"].numpy(), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["target"].numpy(), logits.argmax(1))
    import keras_text_lrp as ktl

    expected = ktl.create_analyzer("lrp.epsilon", soft).analyze(x).sum(-1)
    np.testing.assert_allclose(out["relevance"].numpy(), expected, rtol=1e-5, atol=1e-6)
