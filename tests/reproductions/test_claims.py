"""Claims of Arras et al. (2016, 2017) checked on the shipped SST-5 models.

The word-deletion protocol of Arras et al. (2016, Sec. 3.3; 2017): relevances explain the
**true** class; a word is deleted by zeroing its embedding vector. Starting from the test sentences the
model classifies correctly, words are deleted in decreasing relevance and the accuracy should fall
fast; starting from the misclassified ones, in increasing relevance (most negative first) and the
accuracy should rise fast. Random deletion (10 fixed seeds) is the baseline.

Each method is summarised by the area under its accuracy curve over the first five deletions
(trapezoid rule over k = 0..5 words, so the area lies in [0, 5]): *small* is good in the "correct"
experiment, *large* in the "misclassified" one.

- LRP: ``lrp.lstm`` (epsilon 1e-3, signal-take-all) on the bi-LSTM; on the CNN the rule of Arras et
  al. (2016): epsilon 0.01 with the bias spread over the inputs (``bias_factor=1``). Word relevance =
  sum over the embedding dimensions.
- SA (sensitivity analysis): squared l2 norm of the gradient of the true-class logit per word.

All 2,210 SST-5 test sentences are used (about 40-45 s for the bi-LSTM and 10 s for the CNN on two
busy CPU cores, TensorFlow or JAX). The areas, identical on both backends to three decimals (random:
mean over the seeds ± their standard deviation; see docs/reproductions.md):

==========  =============  =========  ===========  =====  ============
model       experiment     sentences  LRP          SA     random
==========  =============  =========  ===========  =====  ============
bi-LSTM     correct        983        2.128        4.146  4.296 ± 0.025
bi-LSTM     misclassified  1227       1.054        0.367  0.334 ± 0.012
CNN         correct        951        1.847        3.155  4.107 ± 0.016
CNN         misclassified  1259       1.679        0.268  0.471 ± 0.026
==========  =============  =========  ===========  =====  ============

Every ordering the papers claim holds and is asserted. One pair is reported and not asserted: on the
bi-LSTM's misclassified sentences SA is only slightly above random (0.367 vs 0.334, under three seed
standard deviations); unsigned SA cannot single out the words that speak against the true class. The
CNN reproduces the observation of Arras et al. (2016, Sec. 3.3) that deleting the words of *lowest* SA
first raises the accuracy more slowly than random deletion.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pytest

import keras_text_lrp as ktl
from keras_text_lrp.datasets import load_sst5
from keras_text_lrp.evaluation import DeletionCurve, deletion_curve, random_baseline
from keras_text_lrp.models import load
from keras_text_lrp.text import word_relevance

STEPS = 5
"""Words deleted per sentence (the area is taken over k = 0..STEPS)."""

SEEDS = tuple(range(10))
"""Seeds of the random baseline (10 runs, as in Arras et al. 2016, Fig. 1)."""

BATCH = 512

LRP_METHOD = {
    "sst5-bilstm": ("lrp.lstm", {}),
    "sst5-cnn": ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
}


def area(accuracy: list[float]) -> float:
    """Area under an accuracy curve over k = 0..STEPS deleted words (trapezoid rule)."""
    acc = np.asarray(accuracy[: STEPS + 1], dtype=float)
    return float(((acc[1:] + acc[:-1]) / 2).sum())


@dataclass
class Results:
    """Deletion curves and their areas, per experiment and method."""

    curves: dict[str, dict[str, DeletionCurve]]

    def area(self, experiment: str, method: str) -> float:
        return area(self.curves[experiment][method].accuracy)

    def random_std(self, experiment: str) -> float:
        """Standard deviation of the area over the random seeds."""
        return float(np.std([area(c) for c in self.curves[experiment]["random"].per_seed]))

    def table(self) -> str:
        rows = []
        for experiment, curves in self.curves.items():
            cells = ", ".join(f"{m} {area(c.accuracy):.3f}" for m, c in curves.items())
            rows.append(f"{experiment} (n={next(iter(curves.values())).n_texts}): {cells}")
        return "; ".join(rows)


@pytest.fixture(scope="module")
def sst5_test() -> tuple[list[str], np.ndarray]:
    texts, labels = load_sst5("test")
    return texts, labels.astype("int32")


def _run(name: str, sst5_test: tuple[list[str], np.ndarray]) -> Results:
    keras.utils.set_random_seed(0)
    texts, labels = sst5_test
    pretrained = load(name)
    model, ids = pretrained.model, pretrained.encode(texts)
    real = ids != 0
    method, options = LRP_METHOD[name]
    scores = {}
    for key, analyzer_name, kwargs, pooling in (
        ("LRP", method, options, "sum"),
        ("SA", "gradient", {}, "l2_squared"),
    ):
        analyzer = ktl.create_analyzer(analyzer_name, model, neuron_selection_mode="index", **kwargs)
        relevance = analyzer.analyze(ids, neuron_selection=labels, batch_size=BATCH)
        scores[key] = word_relevance(relevance, pooling=pooling, mask=real)
    curves: dict[str, dict[str, DeletionCurve]] = {}
    for experiment in ("correct", "misclassified"):
        curves[experiment] = {
            key: deletion_curve(model, ids, labels, value, experiment=experiment, steps=STEPS,
                                batch_size=BATCH, progress=False)
            for key, value in scores.items()
        }
        curves[experiment]["random"] = random_baseline(
            model, ids, labels, experiment=experiment, steps=STEPS, seeds=SEEDS, batch_size=BATCH,
            progress=False,
        )
    return Results(curves)


@pytest.fixture(scope="module")
def bilstm(sst5_test: tuple[list[str], np.ndarray]) -> Results:
    return _run("sst5-bilstm", sst5_test)


@pytest.fixture(scope="module")
def cnn(sst5_test: tuple[list[str], np.ndarray]) -> Results:
    return _run("sst5-cnn", sst5_test)


# ---------------------------------------------------------------- bi-LSTM (Arras et al. 2017)
def test_bilstm_experiments_split_the_test_set(bilstm: Results) -> None:
    correct = bilstm.curves["correct"]["LRP"]
    wrong = bilstm.curves["misclassified"]["LRP"]
    assert correct.n_total == wrong.n_total == 2210
    assert correct.n_texts + wrong.n_texts == 2210
    # The model card's test accuracy, 0.4448 (983 of 2210 sentences).
    assert correct.n_texts / 2210 == pytest.approx(0.4448, abs=0.005)


def test_bilstm_correct_lrp_deletes_faster_than_sa_and_random(bilstm: Results) -> None:
    """Correctly classified sentences: deleting by LRP lowers accuracy fastest (Arras et al. 2017)."""
    lrp, sa, rnd = (bilstm.area("correct", m) for m in ("LRP", "SA", "random"))
    assert lrp < sa, bilstm.table()
    assert lrp < rnd, bilstm.table()
    # SA also finds relevant words: below random by several seed standard deviations (Arras 2016).
    assert sa < rnd - 3 * bilstm.random_std("correct"), bilstm.table()


def test_bilstm_misclassified_lrp_raises_accuracy_faster_than_sa_and_random(bilstm: Results) -> None:
    """Misclassified sentences: deleting the least LRP-relevant words raises accuracy fastest."""
    lrp, sa, rnd = (bilstm.area("misclassified", m) for m in ("LRP", "SA", "random"))
    assert lrp > sa, bilstm.table()
    assert lrp > rnd, bilstm.table()
    # Not asserted: SA against random (measured 0.367 vs 0.334 ± 0.012, slightly above random; unsigned
    # SA cannot point at the words that speak against the true class).


# -------------------------------------------------------------------- CNN (Arras et al. 2016)
def test_cnn_correct_lrp_deletes_faster_than_sa_and_random(cnn: Results) -> None:
    lrp, sa, rnd = (cnn.area("correct", m) for m in ("LRP", "SA", "random"))
    assert lrp < sa < rnd, cnn.table()
    assert sa < rnd - 3 * cnn.random_std("correct"), cnn.table()


def test_cnn_misclassified_lrp_raises_accuracy_faster_than_sa_and_random(cnn: Results) -> None:
    lrp, sa, rnd = (cnn.area("misclassified", m) for m in ("LRP", "SA", "random"))
    assert lrp > rnd > sa, cnn.table()
    # Arras et al. (2016, Sec. 3.3): "small SA values point to words that have less influence on the
    # classification performance than random word selection".
    assert sa < rnd - 3 * cnn.random_std("misclassified"), cnn.table()
