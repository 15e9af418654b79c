"""AOPC and ERASER comprehensiveness / sufficiency on bow_model, against hand-computed logits."""

import json

import keras
import numpy as np
import pytest
from bow_models import IDS, LABELS, bow_model, true_word_relevance

from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError
from keras_text_lrp.evaluation import AOPCResult, EraserResult, aopc, comprehensiveness_sufficiency
from keras_text_lrp.evaluation.aopc import _rationale_sizes

ROWS = [0, 1, 5]                  # t0 (class 0), t1 (1), t5 (1): predicted = true class
IDS3, LAB3 = IDS[ROWS], LABELS[ROWS]
EXACT3 = true_word_relevance(IDS3, LAB3)

# Logits after deleting the k most relevant words (k = 0, 1, 2), by hand (bias (0.1, 0)):
#   t0: great, good  zero: (1.85,.625) (.85,.625) (.35,.625)   pad: ... (1.1,.8333) (.6,1.25)
#   t1: awful, bad   zero: (.6,2) (.6,1) (.6,.5)                pad: ... (.7667,1.3333) (1.1,1)
#   t5: awful, so-so zero: (1.1,1.8333) (1.1,.5) (.7667,0)      pad: ... (1.6,.75) (2.1,0)
ZERO = np.array([
    [[1.85, 0.625], [0.6, 2.0], [1.1, 11 / 6]],
    [[0.85, 0.625], [0.6, 1.0], [1.1, 0.5]],
    [[0.35, 0.625], [0.6, 0.5], [0.7 + 1 / 15, 0.0]],
])
PAD = np.array([
    ZERO[0],
    [[1.1, 2.5 / 3], [2 / 3 + 0.1, 4 / 3], [1.6, 0.75]],
    [[0.6, 1.25], [1.1, 1.0], [2.1, 0.0]],
])


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _expected_aopc(logits, probability=False):
    values = _softmax(logits) if probability else logits
    f = values[:, [0, 1, 2], LAB3]                # (k, text): the true class
    drop = f[0] - f
    return drop.mean(axis=1), drop[1:].mean(), drop[1:].mean(axis=0)


@pytest.fixture(scope="module")
def model():
    return bow_model()


@pytest.mark.parametrize("deletion, table", [("zero_embedding", ZERO), ("pad", PAD)])
@pytest.mark.parametrize("output", ["logit", "probability"])
def test_aopc_by_hand(model, deletion, table, output):
    res = aopc(model, IDS3, EXACT3, steps=2, output=output, deletion=deletion, progress=False)
    mean_drop, value, per_text = _expected_aopc(table, output == "probability")
    assert res.mean_drop == pytest.approx(mean_drop.tolist(), abs=1e-6)
    assert res.aopc == pytest.approx(value, abs=1e-6)
    assert res.per_text == pytest.approx(per_text.tolist(), abs=1e-6)
    assert res.targets == "predicted" and res.n_texts == 3 and res.k == [0, 1, 2]
    if output == "logit" and deletion == "zero_embedding":
        # drops: t0 1, 1.5; t1 1, 1.5; t5 4/3, 11/6
        assert res.aopc == pytest.approx((1 + 1.5 + 1 + 1.5 + 4 / 3 + 11 / 6) / 6, abs=1e-6)
        assert res.mean_score[0] == pytest.approx((1.85 + 2 + 11 / 6) / 3, abs=1e-6)


def test_aopc_targets_and_relevance_for_them(model):
    # t2 is predicted 1 but labelled 0: explaining class 0, good (the only class-0 word) goes first:
    # (1.1, 2) -> (0 + .1, 2) for class 0: AOPC over K = 1 is 1.0
    seen = []

    def fn(ids, targets):
        seen.append(targets.tolist())
        return true_word_relevance(ids, targets)

    res = aopc(model, IDS[2:3], fn, targets=[0], steps=1, progress=False)
    assert seen == [[0]] and res.targets == "given" and res.aopc == pytest.approx(1.0, abs=1e-6)
    res = aopc(model, IDS[2:3], fn, steps=1, progress=False)      # predicted class 1: awful goes
    assert seen[-1] == [1] and res.aopc == pytest.approx(2.0, abs=1e-6)
    json.dumps(res.to_dict())
    assert AOPCResult.from_dict(json.loads(res.to_json())) == res


def test_comprehensiveness_sufficiency_by_hand(model):
    ids, target = IDS[:1], LABELS[:1]          # t0: great, good, fine, bad by class-0 relevance
    rel = true_word_relevance(ids, target)
    p = lambda z: _softmax(np.array(z))[0]  # noqa: E731
    full = p([1.85, 0.625])
    # fractions .1, .5, 1 of 4 words: 1, 2, 4 words
    res = comprehensiveness_sufficiency(model, ids, rel, fractions=(0.1, 0.5, 1.0), progress=False)
    comp = [full - p([0.85, 0.625]), full - p([0.35, 0.625]), full - p([0.1, 0.0])]
    # sufficiency keeps the rationale; the other words are zero vectors that still count in the mean
    suff = [full - p([1.1, 0.0]), full - p([1.6, 0.0]), 0.0]
    assert res.comprehensiveness == pytest.approx(comp, abs=1e-6)
    assert res.sufficiency == pytest.approx(suff, abs=1e-6)
    assert res.aggregate_comprehensiveness == pytest.approx(np.mean(comp), abs=1e-6)
    assert res.aggregate_sufficiency == pytest.approx(np.mean(suff), abs=1e-6)
    assert res.per_text_comprehensiveness == pytest.approx([np.mean(comp)], abs=1e-6)
    # "pad" takes the deleted words out of the mean: 1 and 2 words of 4 (fractions .25, .5)
    res = comprehensiveness_sufficiency(model, ids, rel, fractions=(0.25, 0.5), deletion="pad",
                                        progress=False)
    assert res.comprehensiveness == pytest.approx(
        [full - p([1.1, 2.5 / 3]), full - p([0.6, 1.25])], abs=1e-6)
    assert res.sufficiency == pytest.approx([full - p([4.1, 0.0]), full - p([3.1, 0.0])], abs=1e-6)
    assert EraserResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res


def test_rationale_sizes():
    n = np.array([30, 10, 4, 0, 1])
    assert _rationale_sizes(n, 0.1).tolist() == [3, 1, 1, 0, 1]    # 0.1 * 30 is 3.0000000000000004
    assert _rationale_sizes(n, 0.01).tolist() == [1, 1, 1, 0, 1]   # at least one word
    assert _rationale_sizes(n, 0.3).tolist() == [9, 3, 2, 0, 1]    # ceil(1.2) = 2
    assert _rationale_sizes(n, 1.0).tolist() == [30, 10, 4, 0, 1]


def test_errors(model):
    with pytest.raises(InvalidArgumentError, match="output"):
        aopc(model, IDS3, EXACT3, output="prob", progress=False)
    with pytest.raises(InvalidArgumentError, match="steps"):
        aopc(model, IDS3, EXACT3, steps=0, progress=False)
    with pytest.raises(InvalidArgumentError, match="fractions"):
        comprehensiveness_sufficiency(model, IDS3, EXACT3, fractions=(0.0, 0.5), progress=False)
    ids = keras.Input((None,), dtype="int32")
    soft = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(8, 2, mask_zero=True)(ids))))
    with pytest.raises(InvalidModelError, match="model_wo_softmax"):
        aopc(soft, IDS3, EXACT3, progress=False)
