"""ExplainCallback during model.fit: TensorBoard events read back with TensorBoard's reader, the HTML
timeline against explain() with the weights saved after each epoch, and training left untouched."""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import keras
import numpy as np
import pytest
from keras import layers as L
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from keras_text_lrp import create_analyzer, explain
from keras_text_lrp.callbacks import ExplainCallback, _png
from keras_text_lrp.evaluation import aopc
from keras_text_lrp.text.vocab import Vocabulary

WORDS = ["good", "bad", "fine", "dull", "movie", "plot", "really", "not", "fun", "boring"]
TEXTS = ['a "really" good movie (not dull)', "bad <b>plot</b> & boring fun"]
LABELS = [2, 0]
METHODS = ["lrp.epsilon", "gradient"]
EPOCHS = 3


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    ids = keras.Input((12,), dtype="int32", name="token_ids")
    x = L.Embedding(len(WORDS) + 2, 6, name="embedding")(ids)
    x = L.Conv1D(5, 2, activation="relu", name="conv")(x)
    x = L.GlobalMaxPooling1D(name="pool")(x)
    x = L.Dropout(0.3, name="drop")(x)
    return keras.Model(ids, L.Dense(3, name="logits")(x), name="tiny_cnn")


class _SaveWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, len(WORDS) + 2, size=(48, 12)).astype("int32")
    y = (x[:, :3].sum(axis=1) % 3).astype("int32")
    return x, y


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("callback")
    vocab = Vocabulary(WORDS)
    x, y = _data()
    runs = {}
    for with_callback in (True, False):
        model = _model(7)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
        saver = _SaveWeights()
        callbacks = [saver]
        cb = None
        if with_callback:
            cb = ExplainCallback(TEXTS, labels=LABELS, methods=METHODS, every=1, log_dir=tmp / "logs",
                                 html=tmp / "timeline.html", vocabulary=vocab,
                                 label_names=["neg", "mid", "pos"], aopc_steps=3)
            callbacks.insert(0, cb)
        keras.utils.set_random_seed(11)
        model.fit(x, y, epochs=EPOCHS, batch_size=16, shuffle=False, verbose=0, callbacks=callbacks)
        runs[with_callback] = (model, saver.weights, cb)
    model, weights, cb = runs[True]
    reference = _model(7)
    expected = []
    for w in weights:
        reference.set_weights(w)
        e = explain(reference, TEXTS, METHODS, target=LABELS, vocabulary=vocab)
        ids = e.ids
        expected.append({
            "explanation": e,
            "aopc": {m: aopc(reference, ids, m, np.asarray(LABELS), steps=3, progress=False).aopc
                     for m in METHODS},
        })
    return {"tmp": tmp, "runs": runs, "cb": cb, "expected": expected}


def _events(log_dir):
    acc = EventAccumulator(str(log_dir / "explain"), size_guidance={"tensors": 0, "images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_training_with_the_callback_gives_the_same_weights(trained):
    with_cb, without = trained["runs"][True], trained["runs"][False]
    for a, b in zip(with_cb[0].get_weights(), without[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for wa, wb in zip(with_cb[1], without[1], strict=True):  # after every epoch, not only the last
        for a, b in zip(wa, wb, strict=True):
            np.testing.assert_array_equal(a, b)


def test_event_file_holds_one_step_per_epoch_per_text_and_tag(trained):
    acc = _events(trained["tmp"] / "logs")
    tags = set(acc.Tags()["tensors"])
    expected_tags = {f"{kind}/{m}/text_{i}" for kind in ("explain", "explain_image") for m in METHODS
                     for i in range(len(TEXTS))} | {f"aopc/{m}" for m in METHODS}
    assert expected_tags <= tags
    for tag in expected_tags:
        assert [e.step for e in acc.Tensors(tag)] == [1, 2, 3], tag


def _parse_markdown(md):
    rows = md.split("\n")
    assert len(rows) == 3 and rows[1].startswith("| ---")
    tokens = [re.sub(r"\\(.)", r"\1", t) for t in re.split(r"(?<!\\) \| ", rows[0][2:-2])]
    return tokens, np.array([float(v) for v in rows[2][2:-2].split(" | ")])


def test_markdown_heatmaps_and_aopc_scalars_equal_explain_with_the_saved_weights(trained):
    acc = _events(trained["tmp"] / "logs")
    for step, expected in enumerate(trained["expected"], start=1):
        e = expected["explanation"]
        for m in METHODS:
            for i in range(len(TEXTS)):
                event = acc.Tensors(f"explain/{m}/text_{i}")[step - 1]
                md = tensor_util.make_ndarray(event.tensor_proto).item().decode("utf-8")
                tokens, values = _parse_markdown(md)
                assert tokens == e.tokens[i]
                # The markdown holds 6 significant digits: that is the precision compared here.
                np.testing.assert_allclose(values, e.scores[m][i], rtol=5e-6, atol=1e-9)
            scalar = acc.Tensors(f"aopc/{m}")[step - 1]
            value = float(tensor_util.make_ndarray(scalar.tensor_proto))
            np.testing.assert_allclose(value, expected["aopc"][m], rtol=1e-5)


def test_images_are_the_heatmap_figures(trained):
    import io

    acc = _events(trained["tmp"] / "logs")
    e = trained["expected"][-1]["explanation"]
    event = acc.Tensors("explain_image/lrp.epsilon/text_0")[-1]
    width, height, png = tensor_util.make_ndarray(event.tensor_proto)
    image = (np.round(imread(io.BytesIO(png), format="png")[..., :3] * 255)).astype("uint8")
    assert image.shape == (int(height), int(width), 3)
    np.testing.assert_array_equal(image, _png(e.tokens[0], e.scores["lrp.epsilon"][0],
                                              "epoch 3, lrp.epsilon, text 0"))


class _Timeline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells = {}  # (text, epoch, method) -> [(token, score)]
        self.text = self.epoch = self.method = None
        self.in_token = False
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if "data-text" in a:
            self.text = int(a["data-text"])
        if "data-epoch" in a:
            self.epoch = int(a["data-epoch"])
        if "data-method" in a:
            self.method = a["data-method"]
            self.cells[(self.text, self.epoch, self.method)] = []
        if "data-score" in a:
            self.cells[(self.text, self.epoch, self.method)].append(["", float(a["data-score"])])
            self.in_token = True

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_token = False

    def handle_data(self, data):
        if self.in_token:
            self.cells[(self.text, self.epoch, self.method)][-1][0] += data


def _check_timeline(html, expected):
    parser = _Timeline()
    parser.feed(html)
    assert parser.scripts == 0
    assert len(parser.cells) == len(TEXTS) * EPOCHS * len(METHODS)
    for epoch, exp in enumerate(expected, start=1):
        e = exp["explanation"]
        for m in METHODS:
            for i in range(len(TEXTS)):
                cell = parser.cells[(i, epoch, m)]
                assert [t for t, _ in cell] == e.tokens[i]
                np.testing.assert_allclose([s for _, s in cell], e.scores[m][i], rtol=1e-6, atol=1e-9)


def test_timeline_scores_equal_explain_with_the_saved_weights(trained):
    html = (trained["tmp"] / "timeline.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;plot&lt;/b&gt;" in html and "<b>" not in html  # the texts are escaped
    _check_timeline(html, trained["expected"])
    assert [h["epoch"] for h in trained["cb"].history] == [1, 2, 3]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_browser_renders_the_timeline(trained, tmp_path):
    page = trained["tmp"] / "timeline.html"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", "--virtual-time-budget=2000",
               page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    # The DOM the browser built holds every row with the same scores: nothing in a text became markup.
    _check_timeline(result.stdout, trained["expected"])
    assert "<b>plot</b>" not in result.stdout


def test_text_vectorization_model(tmp_path):
    import keras_text_lrp.backend as kb

    if kb.name() != "tensorflow":
        pytest.skip("fitting a model with a TextVectorization layer inside needs the TensorFlow backend")
    tv = L.TextVectorization(max_tokens=20, output_sequence_length=6, name="vectorize")
    tv.adapt(["a good movie really good", "a bad plot bad acting", "the film was fun", "dull story"])
    keras.utils.set_random_seed(3)
    text = keras.Input((1,), dtype="string", name="text")
    x = L.Embedding(20, 4, name="embedding")(tv(text))
    x = L.GlobalAveragePooling1D(name="pool")(x)
    model = keras.Model(text, L.Dense(2, name="logits")(x))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    texts = ["a good movie", "bad plot, dull story"]
    labels = np.array([1, 0])
    cb = ExplainCallback(texts, labels=labels, target="pred", methods="lrp.epsilon", html=tmp_path / "t.html",
                         log_dir=tmp_path / "logs", aopc_steps=2)
    saver = _SaveWeights()
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices(
        (tf.constant([["good movie"], ["bad plot"], ["fun film"], ["dull story"]]), [1, 0, 1, 0])).batch(2)
    model.fit(train, epochs=2, verbose=0, shuffle=False, callbacks=[cb, saver])
    assert cb.tokens == [["a", "good", "movie"], ["bad", "plot", "dull", "story"]]
    for entry, weights in zip(cb.history, saver.weights, strict=True):
        model.set_weights(weights)
        fresh = create_analyzer("lrp.epsilon", model, neuron_selection_mode="index")
        pred = np.argmax(fresh.scores(np.array(texts, dtype=object)), axis=-1)
        r = fresh.analyze(np.array(texts, dtype=object), neuron_selection=pred).sum(axis=-1)
        for i, tokens in enumerate(cb.tokens):
            np.testing.assert_allclose(entry["scores"]["lrp.epsilon"][i], r[i, : len(tokens)],
                                       rtol=1e-6, atol=1e-9)
        # AOPC deletes the layer's token ids, through the model past the TextVectorization
        ids = fresh.vectorize(texts)
        words = np.where(ids != 0, r, 0.0)
        expected = aopc(keras.Model(tv.output, model.outputs), ids, words, labels, steps=2, progress=False)
        np.testing.assert_allclose(entry["aopc"]["lrp.epsilon"], expected.aopc, rtol=1e-5)
    acc = _events(tmp_path / "logs")
    scalars = [float(tensor_util.make_ndarray(t.tensor_proto)) for t in acc.Tensors("aopc/lrp.epsilon")]
    np.testing.assert_allclose(scalars, [entry["aopc"]["lrp.epsilon"] for entry in cb.history], rtol=1e-6)
    assert [e.step for e in acc.Tensors("explain/lrp.epsilon/text_1")] == [1, 2]
