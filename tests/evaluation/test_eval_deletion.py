"""Word-deletion curves on bow_model, whose relevances and logits are known by hand.

Relevance of word t for the true class c: e(w_t)[c] / n (see bow_models.py).
Logits: mean of the real words' embeddings (+ (0.1, 0)); a zero-embedded word
still counts in the mean (it is not masked), a "pad"-deleted one does not.
"""

import json
import warnings

import numpy as np
import pytest
from bow_models import IDS, LABELS, bow_model, true_word_relevance

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.evaluation import DeletionCurve, deletion_curve, random_baseline

# Correct experiment: t0, t1, t4, t5, words deleted in DEcreasing relevance for the true class.
#   t0 (0): great(1) good(.5) fine(.25) bad(0)   zero: k1 (.85,.625) ok  k2 (.35,.625) x   k3 (.1,.5) x
#                                                unk:  k1 (.975,1.0) x   k2 (.6,1.375) x   k3 (.475,1.625) x
#   t1 (1): awful(1) bad(.5) so-so(.375) fine    zero: k1 (.6,1.0) ok    k2 (.6,.5) x      k3 (.35,.125) x
#                                                unk:  k1 (.725,1.375) ok k2 (.85,1.25) ok k3 (.725,1.25) ok
#   t4 (0): fine, then nothing left              zero: k>=1 (.1, 0) ok;  unk: k>=1 (.6, 1.5) x
#   t5 (1): awful(1.33) so-so(.5) good(0)        zero: k1 (1.1,.5) x     k2 (.77,0) x      k3 (.1,0) x
#                                                unk:  k1 (1.27,1.0) x   k2 (1.1,1.0) x    k3 (.6,1.5) ok
CORRECT_ZERO = [1.0, 0.75, 0.25, 0.25]
CORRECT_UNK = [1.0, 0.25, 0.25, 0.5]
# Misclassified experiment: t2, t3, words deleted in INcreasing relevance for the true class.
#   t2 (0): awful(0) then good(1)                zero: k1 (1.1,0) ok      k2 (.1,0) ok
#                                                unk:  k1 (1.35,.75) ok   k2 (.6,1.5) x
#   t3 (1): great(0) good(0) [tie: left first], so-so(.375), bad(.5)
#                                                zero: k1 (.85,.875) ok k2 (.35,.875) ok k3 (.1,.5) ok
#                                                unk:  k1 (.975,1.25) ok k2 (.6,1.625) ok k3 (.475,1.625) ok
#   (deleting good before great at the tie would give k1 (1.35, .875): wrong)
MISCLASSIFIED_ZERO = [0.0, 1.0, 1.0, 1.0]
MISCLASSIFIED_UNK = [0.0, 1.0, 0.5, 0.5]


@pytest.fixture(scope="module")
def model():
    return bow_model()


@pytest.fixture(scope="module")
def lrp(model):
    return ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="index")


#: the exact word relevances for the true classes (test_hand_relevances_are_the_analyzers)
EXACT = true_word_relevance(IDS, LABELS)


def test_hand_relevances_are_the_analyzers(model, lrp):
    # The premise of every hand number below.
    ixg = ktl.create_analyzer("input_t_gradient", model, neuron_selection_mode="index")
    for analyzer in (lrp, ixg):
        np.testing.assert_allclose(analyzer.analyze(IDS, neuron_selection=LABELS).sum(-1), EXACT, atol=1e-6)


@pytest.mark.parametrize("deletion, experiment, expected", [
    ("zero_embedding", "correct", CORRECT_ZERO),
    ("unk", "correct", CORRECT_UNK),
    ("zero_embedding", "misclassified", MISCLASSIFIED_ZERO),
    ("unk", "misclassified", MISCLASSIFIED_UNK),
])
def test_accuracy_after_k_deletions_by_hand(model, lrp, deletion, experiment, expected):
    curve = deletion_curve(model, IDS, LABELS, lrp, experiment=experiment, steps=3,
                           deletion=deletion, batch_size=4, progress=False)
    assert curve.k == [0, 1, 2, 3]
    assert curve.accuracy == pytest.approx(expected, abs=1e-12)
    assert (curve.n_texts, curve.n_total) == ((4, 6) if experiment == "correct" else (2, 6))
    assert (curve.method, curve.experiment, curve.deletion) == ("EpsilonLRP", experiment, deletion)


def test_relevance_forms_agree_and_targets_are_the_true_classes(model, lrp):
    seen = []

    def fn(ids, targets):
        seen.append((ids.copy(), targets.copy()))
        return true_word_relevance(ids, targets)

    forms = {
        "name": "lrp.epsilon",
        "analyzer": lrp,
        "analyzer_all": ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="all"),
        "callable": fn,
        "scores": EXACT,
        "per_dimension": lrp.analyze(IDS, neuron_selection=LABELS),
    }
    for name, rel in forms.items():
        curve = deletion_curve(model, IDS, LABELS, rel, experiment="misclassified", steps=3, batch_size=1,
                               progress=False)
        assert curve.accuracy == pytest.approx(MISCLASSIFIED_ZERO), name
    # The callable got the misclassified texts, one per batch, with their TRUE classes (not the predicted).
    assert [s[0].tolist() for s in seen] == [[IDS[2].tolist()], [IDS[3].tolist()]]
    assert [s[1].tolist() for s in seen] == [[0], [1]]
    assert deletion_curve(model, IDS, LABELS, fn, steps=1, progress=False).method == "fn"


def test_padding_is_never_deleted_and_short_texts_lose_all_words(model):
    # Padding given the most (resp. least) relevance must still never be deleted: with unk deletion a
    # deleted padding position would become [UNK] and enter the mean.
    for experiment, pad_score, expected in (("correct", 100.0, CORRECT_UNK),
                                            ("misclassified", -100.0, MISCLASSIFIED_UNK)):
        rel = np.where(IDS == 0, pad_score, EXACT)
        curve = deletion_curve(model, IDS, LABELS, rel, experiment=experiment, steps=3, deletion="unk",
                               progress=False)
        assert curve.accuracy == pytest.approx(expected)
    # Past the longest text (4 words) every text is empty: (0.1, 0) = class 0, right for t0 and t4 only.
    many = deletion_curve(model, IDS, LABELS, EXACT, steps=12, progress=False)
    assert many.accuracy[:4] == pytest.approx(CORRECT_ZERO)
    assert many.accuracy[4:] == pytest.approx([0.5] * 9)


def test_pad_deletion_masks_the_word(model):
    # t0 without great: zero_embedding keeps 4 positions, pad leaves 3: the logit of class 0 is
    # (2+1)/4 + .1 = .85 resp. (2+1)/3 + .1 = 1.1; both still class 0, and after good too:
    # (.35, .625) x resp. (1/2 + .1, 2.5/2) = (.6, 1.25) x.
    ids, labels = IDS[:1], LABELS[:1]
    for deletion in ("zero_embedding", "pad"):
        curve = deletion_curve(model, ids, labels, EXACT[:1], steps=2, deletion=deletion, progress=False)
        assert curve.accuracy == [1.0, 1.0, 0.0]
    # a text whose words are all pad-deleted averages nothing: NaN logits count as wrong, with a warning
    with pytest.warns(UserWarning, match="NaN"):
        curve = deletion_curve(model, IDS[4:5], LABELS[4:5], EXACT[4:5], steps=1, deletion="pad",
                               progress=False)
    assert curve.accuracy == [1.0, 0.0]


def test_random_baseline_seeds_mean_and_std(model):
    seeds = [0, 1, 2, 3, 4]
    base = random_baseline(model, IDS, LABELS, steps=3, seeds=seeds, progress=False)
    again = random_baseline(model, IDS, LABELS, steps=3, seeds=[2], progress=False)
    assert again.per_seed[0] == base.per_seed[2]                    # same seed, same curve
    # each seed's curve is the deletion curve of its documented random order
    for s, per in zip(seeds, base.per_seed):
        scores = np.random.default_rng(s).random(IDS.shape)
        assert per == deletion_curve(model, IDS, LABELS, scores, steps=3, progress=False).accuracy
    table = np.array(base.per_seed)
    assert len({tuple(p) for p in base.per_seed}) > 1               # different seeds, different orders
    assert base.accuracy == pytest.approx(table.mean(0).tolist())
    assert base.accuracy_std == pytest.approx(table.std(0).tolist())
    assert base.seeds == seeds and base.method == "random" and base.n_texts == 4
    assert base.accuracy[0] == 1.0 and base.accuracy_std[0] == 0.0


def test_random_orders_differ_between_seeds():
    from keras_text_lrp.evaluation._scores import deletion_ranks

    real = IDS != 0
    ranks = [deletion_ranks(np.random.default_rng(s).random(IDS.shape), real, True) for s in (0, 1)]
    assert not np.array_equal(ranks[0], ranks[1])
    for r in ranks:   # a permutation of 0..n-1 on the real words of every text
        for row, keep in zip(r, real):
            assert sorted(row[keep]) == list(range(keep.sum()))


def test_deletion_ranks_order_and_ties():
    from keras_text_lrp.evaluation._scores import deletion_ranks

    scores = np.array([[0.5, -1.0, 0.5, 2.0, 9.0]])
    real = np.array([[True, True, True, True, False]])
    assert deletion_ranks(scores, real, True)[0, :4].tolist() == [1, 3, 2, 0]    # 2.0, .5 (left), .5, -1
    assert deletion_ranks(scores, real, False)[0, :4].tolist() == [1, 0, 2, 3]   # -1, .5 (left), .5, 2.0
    assert deletion_ranks(scores, real, False)[0, 4] > 10**12                   # padding: never


def test_result_is_plain_json(model, tmp_path):
    curve = deletion_curve(model, IDS, LABELS, EXACT, steps=2, progress=False)
    data = json.loads(json.dumps(curve.to_dict()))
    assert data["accuracy"] == CORRECT_ZERO[:3] and data["n_texts"] == 4
    assert DeletionCurve.from_dict(data) == curve
    curve.to_json(tmp_path / "c.json")
    assert DeletionCurve.from_dict(json.loads((tmp_path / "c.json").read_text())) == curve


def test_empty_experiment_and_errors(model):
    # (the names of analyzers are never reached: the errors come first or the texts are none)
    correct = LABELS.copy()
    correct[[2, 3]] = [1, 0]                      # now every text is classified correctly
    with pytest.warns(UserWarning, match="no text is misclassified"):
        curve = deletion_curve(model, IDS, correct, "lrp.epsilon", experiment="misclassified", steps=2,
                               progress=False)
    assert curve.n_texts == 0 and curve.accuracy == [None, None, None]
    json.dumps(curve.to_dict())
    with pytest.raises(InvalidArgumentError, match="experiment"):
        deletion_curve(model, IDS, LABELS, "lrp.epsilon", experiment="wrong", progress=False)
    with pytest.raises(InvalidArgumentError, match="deletion"):
        deletion_curve(model, IDS, LABELS, "lrp.epsilon", deletion="drop", progress=False)
    with pytest.raises(InvalidArgumentError, match="neuron_selection_mode='index'"):
        deletion_curve(model, IDS, LABELS, ktl.create_analyzer("lrp.z", model), progress=False)
    with pytest.raises(InvalidInputError, match="aligned with ids"):
        deletion_curve(model, IDS, LABELS, np.zeros((6, 4)), progress=False)
    with pytest.raises(InvalidInputError, match="labels"):
        deletion_curve(model, IDS, LABELS[:3], "lrp.epsilon", progress=False)
    with pytest.raises(InvalidInputError, match="NaN"):
        deletion_curve(model, IDS, LABELS, np.full(IDS.shape, np.nan), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deletion_curve(model, IDS, LABELS, EXACT, steps=1, progress=False)
