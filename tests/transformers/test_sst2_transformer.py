"""The shipped ``sst2-transformer``: card accuracy, logits through the analysis, autodiff, conservation, CLI.

The autodiff reference re-runs the model's layers by hand from the embedding output with the padding
mask passed explicitly (``query_mask``/``value_mask`` of each MultiHeadAttention, ``mask`` of the
pooling) and differentiates it with ``tf.GradientTape`` / ``jax.grad``.
"""

import json
import re

import keras
import numpy as np
import pytest
from keras import ops

import keras_text_lrp as ktl
from keras_text_lrp import cli, models
from keras_text_lrp.datasets import SST2_LABEL_NAMES, load_sst2

NAME = "sst2-transformer"


@pytest.fixture(scope="module")
def shipped():
    return models.load(NAME)


@pytest.fixture(scope="module")
def test_ids(shipped):
    texts, labels = load_sst2("test")
    with pytest.warns(UserWarning, match="not in the vocabulary"):
        return shipped.encode(texts), labels


def _card_accuracy(card, split):
    match = re.search(rf"^\| {split} \| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$", card, re.MULTILINE)
    assert match, f"no {split} row in the model card"
    return int(match.group(1)), float(match.group(2))


def test_loads_with_labels_card_and_reaches_the_target_accuracy(shipped, test_ids):
    assert models.list_models() == ["sst2-transformer", "sst5-bilstm", "sst5-cnn"]
    assert shipped.labels == SST2_LABEL_NAMES and shipped.max_len == 64
    assert shipped.path.stat().st_size < 8 * 2**20
    assert "python -m keras_text_lrp.pretrained.train transformer" in shipped.card
    ids, labels = test_ids
    assert ids.shape == (1821, 64)
    logits = ops.convert_to_numpy(shipped.model(ids, training=False))
    accuracy = float(np.mean(logits.argmax(1) == labels))
    n, card = _card_accuracy(shipped.card, "test")
    assert n == 1821 and accuracy == pytest.approx(card, abs=1e-3)
    assert accuracy >= 0.78


def test_analysis_scores_are_the_models_own_logits(shipped, test_ids):
    # The analysis keeps the functional graph's masks; Keras's own call must agree (pre-LN blocks).
    ids = test_ids[0][:128]
    an = ktl.create_analyzer("lrp.epsilon", shipped.model)
    np.testing.assert_allclose(an.scores(ids), ops.convert_to_numpy(shipped.model(ids)), rtol=1e-5, atol=1e-5)


def _by_hand(model, e, mask):
    layer = model.get_layer
    x = layer("position_embedding")(e)
    for i in range(2):
        h = layer(f"block{i}_attention_norm")(x)
        x = x + layer(f"block{i}_attention")(h, h, query_mask=mask, value_mask=mask)
        h = layer(f"block{i}_ffn_norm")(x)
        x = x + layer(f"block{i}_ffn_out")(layer(f"block{i}_ffn_in")(h))
    x = layer("final_norm")(x)
    return layer("logits")(layer("mean_pool")(x, mask=mask))


def _autodiff(model, e, mask, target):
    def selected(e_):
        return ops.sum(_by_hand(model, e_, mask) * ops.one_hot(target, 2))

    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(selected)(e))
    import tensorflow as tf

    e = tf.convert_to_tensor(e)
    with tf.GradientTape() as tape:
        tape.watch(e)
        y = selected(e)
    return tape.gradient(y, e).numpy()


def test_gradient_equals_autodiff(shipped, test_ids):
    ids = test_ids[0][:6]
    an = ktl.create_analyzer("gradient", shipped.model)
    g = an.analyze(ids)
    mask = ids != 0
    e = ops.convert_to_numpy(shipped.model.get_layer("embedding")(ids))
    logits = ops.convert_to_numpy(_by_hand(shipped.model, e, mask))
    np.testing.assert_allclose(logits, an.scores(ids), rtol=1e-5, atol=1e-5)
    want = _autodiff(shipped.model, e, mask, logits.argmax(1)) * mask[..., None]
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert np.all(g[~mask] == 0)


def test_cp_lrp_with_bias_factor_1_conserves_the_logit(shipped, test_ids):
    """SEMANTICS.md: cp with bias_factor=1 conserves to float32 precision (biases of every Dense,
    MultiHeadAttention projection and LayerNorm spread, the position embedding's share kept)."""
    ids = test_ids[0][:32]
    an = ktl.create_analyzer("lrp.epsilon", shipped.model, epsilon=1e-9, bias_factor=1.0)
    r = an.analyze(ids)
    np.testing.assert_allclose(r.sum((1, 2)), an.scores(ids).max(1), rtol=1e-5, atol=1e-5)
    assert np.all(r[ids == 0] == 0)


@pytest.mark.parametrize("name", ["lrp.epsilon", "lrp.attnlrp", "attention.rollout"])
def test_padded_batch_equals_each_text_alone(shipped, test_ids, name):
    ids = test_ids[0][:4]
    an = ktl.create_analyzer(name, shipped.model)
    batch = an.analyze(ids)
    assert np.all(np.isfinite(batch)) and np.any(batch)
    for i in range(len(ids)):
        # The model's input length is fixed (64): "alone" is the text in a batch of its own.
        np.testing.assert_allclose(batch[i], an.analyze(ids[i : i + 1])[0], rtol=1e-4,
                                   atol=1e-6 * np.abs(batch[i]).max())
    assert np.all(batch[ids == 0] == 0)


def test_cli_explains_the_shipped_transformer(tmp_path, capsys):
    out = tmp_path / "out.json"
    rc = cli.main(["explain", "a gorgeous , witty , seductive movie .", "--model", NAME,
                   "--method", "lrp.epsilon", "--method", "lrp.attnlrp", "--method", "attention.last_layer",
                   "--json", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    (record,) = json.loads(out.read_text(encoding="utf-8"))
    assert record["tokens"] == "a gorgeous , witty , seductive movie .".split()
    assert captured.out.startswith("[text 1] pred: positive (1)")
    an = ktl.create_analyzer("lrp.epsilon", models.load(NAME).model)
    ids = models.load(NAME).encode(["a gorgeous , witty , seductive movie ."])
    np.testing.assert_allclose(record["scores"]["lrp.epsilon"], an.analyze(ids)[0].sum(-1)[:8],
                               rtol=1e-4, atol=1e-6)
    assert sum(record["scores"]["attention.last_layer"]) == pytest.approx(1.0, abs=1e-5)
