"""Word-deletion curves: accuracy as the most (or least) relevant words are deleted.

The protocol of Arras et al. (2016, Sec. 3.3; 2017): relevances are computed
for the **true** class; starting from the test texts the model classifies
correctly, words are deleted in *decreasing* order of relevance and the
accuracy should fall fast; starting from the misclassified texts, words are
deleted in *increasing* order (the most negative first) and the accuracy
should rise. A word is deleted by setting its embedding vector to zero
(``deletion="zero_embedding"``, the papers' choice); replacing its id by the
unknown or padding id is offered too. Random deletion, averaged over several
seeds, is the baseline (:func:`random_baseline`; 10 runs in Arras et al. 2016).

References
----------
L. Arras, F. Horn, G. Montavon, K.-R. Müller, W. Samek (2016). Explaining
Predictions of Non-Linear Classifiers in NLP. Workshop on Representation
Learning for NLP, ACL.

L. Arras, G. Montavon, K.-R. Müller, W. Samek (2017). Explaining Recurrent
Neural Network Predictions in Sentiment Analysis. WASSA, EMNLP.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.evaluation._forward import (
    Perturber,
    check_batch_size,
    check_ids,
    get_perturber,
    logits_of_variants,
)
from keras_text_lrp.evaluation._result import PlainResult
from keras_text_lrp.evaluation._scores import (
    Relevance,
    check_targets,
    deletion_ranks,
    relevance_name,
    word_scores,
)

__all__ = ["EXPERIMENTS", "DeletionCurve", "deletion_curve", "random_baseline"]

EXPERIMENTS = ("correct", "misclassified")
"""``"correct"``: delete in decreasing relevance from the correctly classified texts;
``"misclassified"``: in increasing relevance from the misclassified ones."""


@dataclass
class DeletionCurve(PlainResult):
    """Accuracy after deleting ``k = 0, 1, ..., K`` words of each text.

    Every field is plain data (str, int, float, None, lists):
    ``json.dumps(curve.to_dict())`` works, and :meth:`from_dict` reads it back.

    Attributes
    ----------
    method : str
        The relevance (analyzer name, class or function name,
        ``"precomputed"``, or ``"random"``).
    experiment : {"correct", "misclassified"}
    deletion : {"zero_embedding", "unk", "pad"}
    k : list of int
        Words deleted per text, ``0..K``.
    accuracy : list of float or None
        Accuracy on the experiment's texts after ``k[i]`` deletions (the mean
        over seeds for a random baseline); ``None`` when no text qualified.
    n_texts : int
        Texts in the experiment (correctly resp. wrongly classified ones).
    n_total : int
        Texts given.
    accuracy_std : list of float, optional
        Random baseline: the standard deviation over seeds (``ddof=0``).
    seeds : list of int, optional
        Random baseline: the seeds.
    per_seed : list of list of float, optional
        Random baseline: the curve of each seed.
    """

    method: str
    experiment: str
    deletion: str
    k: list[int]
    accuracy: list[float | None]
    n_texts: int
    n_total: int
    accuracy_std: list[float] | None = None
    seeds: list[int] | None = None
    per_seed: list[list[float]] | None = None


def _check_common(model: Any, ids: Any, labels: Any, experiment: str, steps: Any, deletion: str,
                  batch_size: Any, unk_id: int) -> tuple:
    if experiment not in EXPERIMENTS:
        raise InvalidArgumentError(f"experiment must be one of {EXPERIMENTS}, got {experiment!r}.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise InvalidArgumentError(f"steps (the largest number of words deleted) must be an int >= 0, "
                                   f"got {steps!r}.")
    batch_size = check_batch_size(batch_size)
    perturber = get_perturber(model, deletion, unk_id=unk_id)
    ids = check_ids(ids, perturber.input_dim)
    labels = check_targets(labels, ids.shape[0], perturber.n_classes, "labels")
    return perturber, ids, labels, int(steps), batch_size


def _selected_rows(perturber: Perturber, ids: np.ndarray, labels: np.ndarray, experiment: str,
                   batch_size: int) -> np.ndarray:
    """The texts the experiment starts from: the correctly resp. wrongly classified ones."""
    logits = logits_of_variants(
        perturber, ids, lambda a, b, j: np.ones(ids[a:b].shape, bool), 1, batch_size, progress=False
    )[0]
    correct = ~np.isnan(logits).any(axis=-1) & (logits.argmax(-1) == labels)
    return np.flatnonzero(correct if experiment == "correct" else ~correct)


def _accuracies(perturber: Perturber, ids: np.ndarray, labels: np.ndarray, ranks: np.ndarray, steps: int,
                batch_size: int, progress: bool, desc: str) -> list[float]:
    logits = logits_of_variants(
        perturber, ids, lambda a, b, k: ranks[a:b] >= k, steps + 1, batch_size, progress, desc
    )
    predicted = np.where(np.isnan(logits).any(axis=-1), -1, logits.argmax(-1))
    return [float(v) for v in (predicted == labels[None, :]).mean(axis=1)]


def deletion_curve(
    model: keras.Model,
    ids: Any,
    labels: Any,
    relevance: Relevance,
    experiment: str = "correct",
    steps: int = 10,
    deletion: str = "zero_embedding",
    pooling: str = "sum",
    batch_size: int = 256,
    progress: bool = True,
    *,
    unk_id: int = 1,
    analyzer_kwargs: dict | None = None,
) -> DeletionCurve:
    """Accuracy as words are deleted in the order of their relevance for the true class.

    The protocol of Arras et al. (2016, Sec. 3.3): relevances are computed for
    the *true* class ``labels``. ``experiment="correct"`` keeps the texts the
    model classifies correctly and deletes their words in decreasing relevance
    (a good explanation makes the accuracy fall fast); ``"misclassified"``
    keeps the misclassified texts and deletes in increasing relevance (the
    accuracy should rise). Only real tokens (id != 0) are deleted; a text
    with fewer than ``k`` words has all of them deleted. Equal scores are
    deleted left to right.

    Parameters
    ----------
    model : keras.Model
        A model with one input of token ids ``(texts, T)`` and one output of
        class scores (logits; a softmax output is fine for the accuracy, but
        analyzers refuse it).
    ids : array_like of int, shape (texts, T)
        Token ids, 0 = padding.
    labels : array_like of int, shape (texts,)
        The true classes.
    relevance : str, Analyzer, callable or numpy.ndarray
        Which words are relevant:

        - an analyzer name (``"lrp.epsilon"``), created with
          ``neuron_selection_mode="index"`` and ``analyzer_kwargs``;
        - an :class:`~keras_text_lrp.analyzers.Analyzer` made with
          ``neuron_selection_mode="index"`` (or ``"all"``);
        - a function ``fn(ids, targets)`` returning ``(B, T)`` word scores
          (or ``(B, T, D)`` relevances), called on batches of ``batch_size``
          texts with the true classes as ``targets``;
        - a precomputed array ``(texts, T)`` (or ``(texts, T, D)``) aligned with
          ``ids``, computed for the true classes.
    experiment : {"correct", "misclassified"}, default "correct"
    steps : int, default 10
        The largest number ``K`` of words deleted; the curve has ``K + 1`` points.
    deletion : {"zero_embedding", "unk", "pad"}, default "zero_embedding"
        ``"zero_embedding"``: the word's embedding vector becomes zero (the
        papers' choice; the model is run from the Embedding output and the
        word stays unmasked); ``"unk"``: its id becomes ``unk_id``; ``"pad"``:
        its id becomes 0 (masked under ``mask_zero=True``).
    pooling : {"sum", "l2", "l2_squared", "max_abs"}, default "sum"
        How per-dimension relevances ``(.., T, D)`` become word scores
        (:func:`~keras_text_lrp.text.word_relevance`): ``"sum"`` for LRP,
        ``"l2_squared"`` for sensitivity analysis as in the paper.
    batch_size : int, default 256
        Texts per forward pass and per analysis batch.
    progress : bool, default True
        Show a tqdm progress bar.
    unk_id : int, default 1
        The out-of-vocabulary id (``deletion="unk"``).
    analyzer_kwargs : dict, optional
        Options of the analyzer created from a name (``epsilon=...``).

    Returns
    -------
    DeletionCurve
        ``accuracy[k]`` for ``k = 0..steps`` (1.0 resp. 0.0 at ``k = 0`` by
        construction) and ``n_texts``, the number of texts in the experiment.
        If no text qualifies, the accuracies are ``None`` (with a warning). A
        text whose perturbed logits are NaN (e.g. a masked average over a text
        whose words were all pad-deleted) counts as misclassified, with a
        warning.

    Examples
    --------
    >>> lrp = deletion_curve(model, ids, labels, "lrp.epsilon", steps=10)  # doctest: +SKIP
    >>> rnd = random_baseline(model, ids, labels, steps=10, seeds=range(10))  # doctest: +SKIP
    >>> plot_deletion_curves({"LRP": lrp, "random": rnd})  # doctest: +SKIP
    """
    perturber, ids, labels, steps, batch_size = _check_common(
        model, ids, labels, experiment, steps, deletion, batch_size, unk_id
    )
    rows = _selected_rows(perturber, ids, labels, experiment, batch_size)
    result = DeletionCurve(
        method=relevance_name(relevance), experiment=experiment, deletion=deletion,
        k=list(range(steps + 1)), accuracy=[None] * (steps + 1), n_texts=int(len(rows)),
        n_total=int(ids.shape[0]),
    )
    if len(rows) == 0:
        warnings.warn(f"no text is {experiment} by the model: the {experiment} deletion curve is empty.",
                      stacklevel=2)
        return result
    scores = word_scores(model, ids, labels, relevance, rows=rows, pooling=pooling, batch_size=batch_size,
                         analyzer_kwargs=analyzer_kwargs)
    sub_ids = ids[rows]
    ranks = deletion_ranks(scores, sub_ids != 0, descending=experiment == "correct")
    result.accuracy = list(_accuracies(perturber, sub_ids, labels[rows], ranks, steps, batch_size, progress,
                                       f"deletion ({result.method})"))
    return result


def random_baseline(
    model: keras.Model,
    ids: Any,
    labels: Any,
    experiment: str = "correct",
    steps: int = 10,
    deletion: str = "zero_embedding",
    seeds: Sequence[int] = tuple(range(10)),
    batch_size: int = 256,
    progress: bool = True,
    *,
    unk_id: int = 1,
) -> DeletionCurve:
    """The deletion curve of random word orders, averaged over seeds.

    For each seed ``s`` the words of every text are deleted in the order of
    the scores ``numpy.random.default_rng(s).random(ids.shape)`` (drawn for
    all texts given, so a seed fixes each text's order whatever the
    experiment), through the same protocol as :func:`deletion_curve`. Arras
    et al. (2016, Fig. 1) average 10 runs.

    Parameters
    ----------
    model, ids, labels, experiment, steps, deletion, batch_size, progress, unk_id
        As in :func:`deletion_curve`.
    seeds : sequence of int, default ``range(10)``
        One random order per seed; the same seed gives the same curve.

    Returns
    -------
    DeletionCurve
        ``method="random"``; ``accuracy`` is the mean over seeds,
        ``accuracy_std`` the standard deviation (``ddof=0``), ``per_seed``
        each seed's curve and ``seeds`` the seeds.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InvalidArgumentError("random_baseline needs at least one seed.")
    perturber, ids, labels, steps, batch_size = _check_common(
        model, ids, labels, experiment, steps, deletion, batch_size, unk_id
    )
    rows = _selected_rows(perturber, ids, labels, experiment, batch_size)
    result = DeletionCurve(
        method="random", experiment=experiment, deletion=deletion, k=list(range(steps + 1)),
        accuracy=[None] * (steps + 1), n_texts=int(len(rows)), n_total=int(ids.shape[0]), seeds=seeds,
    )
    if len(rows) == 0:
        warnings.warn(f"no text is {experiment} by the model: the random baseline is empty.", stacklevel=2)
        return result
    sub_ids = ids[rows]
    curves = []
    for s in seeds:
        scores = np.random.default_rng(s).random(ids.shape)[rows]
        ranks = deletion_ranks(scores, sub_ids != 0, descending=experiment == "correct")
        curves.append(_accuracies(perturber, sub_ids, labels[rows], ranks, steps, batch_size, progress,
                                  f"random deletion (seed {s})"))
    table = np.asarray(curves)
    result.accuracy = [float(v) for v in table.mean(axis=0)]
    result.accuracy_std = [float(v) for v in table.std(axis=0)]
    result.per_seed = [list(c) for c in curves]
    return result
