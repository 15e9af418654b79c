"""Perturbation scores of explanations: AOPC, and ERASER comprehensiveness and sufficiency.

Both delete the most relevant words of each text (as
:mod:`keras_text_lrp.evaluation.deletion` deletes them: zeroed embedding,
unknown or padding id) and measure how much the model's score of the
explained class drops.

- **AOPC** (area over the MoRF perturbation curve, Samek et al. 2017):
  ``AOPC = 1/K * sum_{k=1..K} mean_texts [f(x) - f(x without its k most
  relevant words)]``, with ``f`` the logit (default) or the softmax
  probability of the target class. Samek et al. average over
  ``k = 0..K`` (``1/(K+1)``, the ``k = 0`` term being 0); their number is
  ``K/(K+1)`` times ours.
- **Comprehensiveness / sufficiency** (ERASER, DeYoung et al. 2020): for a
  fraction ``q`` of the words, the rationale ``r`` is the ``ceil(q * n)``
  most relevant of the ``n`` words; ``comprehensiveness = p(x) - p(x \\ r)``
  (delete the rationale; high is good) and ``sufficiency = p(x) - p(r)``
  (delete everything else; low is good), ``p`` the softmax probability of
  the target class. Each is averaged over the texts, and over the fractions
  for the aggregate (ERASER's AOPC-style aggregate over bins).

References
----------
W. Samek, A. Binder, G. Montavon, S. Lapuschkin, K.-R. Müller (2017).
Evaluating the Visualization of What a Deep Neural Network Has Learned.
IEEE TNNLS 28(11).

J. DeYoung, S. Jain, N. F. Rajani, E. Lehman, C. Xiong, R. Socher,
B. C. Wallace (2020). ERASER: A Benchmark to Evaluate Rationalized NLP
Models. ACL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError
from keras_text_lrp.evaluation._forward import (
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
from keras_text_lrp.model_tools import output_squashing

__all__ = [
    "AOPCResult", "ERASER_FRACTIONS", "EraserResult", "OUTPUTS", "aopc", "comprehensiveness_sufficiency",
    "softmax",
]

OUTPUTS = ("logit", "probability")
"""Which score of the target class AOPC follows."""

ERASER_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
"""The fractions of words (bins) of ERASER's aggregate comprehensiveness and sufficiency."""


@dataclass
class AOPCResult(PlainResult):
    """Area over the perturbation curve (most relevant words deleted first).

    Attributes
    ----------
    method : str
    output : {"logit", "probability"}
    deletion : str
    k : list of int
        ``0..K``.
    mean_score : list of float
        Mean ``f(x_k)`` over the texts, ``x_k`` = the text without its ``k`` most
        relevant words.
    mean_drop : list of float
        Mean ``f(x) - f(x_k)`` (0 at ``k = 0``).
    aopc : float
        Mean of ``mean_drop[1:]``.
    per_text : list of float
        Each text's AOPC (mean over ``k = 1..K`` of its drop).
    n_texts : int
    targets : {"predicted", "given"}
        Whether the explained classes were the predicted ones.
    """

    method: str
    output: str
    deletion: str
    k: list[int]
    mean_score: list[float]
    mean_drop: list[float]
    aopc: float
    per_text: list[float]
    n_texts: int
    targets: str


@dataclass
class EraserResult(PlainResult):
    """ERASER comprehensiveness and sufficiency at several fractions of the words.

    Attributes
    ----------
    method : str
    deletion : str
    fractions : list of float
    comprehensiveness, sufficiency : list of float
        Mean over the texts, one per fraction.
    aggregate_comprehensiveness, aggregate_sufficiency : float
        Mean over the fractions.
    per_text_comprehensiveness, per_text_sufficiency : list of float
        Each text's mean over the fractions.
    n_texts : int
    targets : {"predicted", "given"}
    """

    method: str
    deletion: str
    fractions: list[float]
    comprehensiveness: list[float]
    sufficiency: list[float]
    aggregate_comprehensiveness: float
    aggregate_sufficiency: float
    per_text_comprehensiveness: list[float]
    per_text_sufficiency: list[float]
    n_texts: int
    targets: str


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """The softmax of ``logits`` along ``axis`` (shifted by the maximum for stability)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _prepare(model: Any, ids: Any, targets: Any, deletion: str, batch_size: Any, unk_id: int) -> tuple:
    squashed = output_squashing(model) if isinstance(model, keras.Model) else []
    if squashed:
        raise InvalidModelError(
            f"the model's output layer {squashed[0][1]!r} ends in {squashed[0][2]}; AOPC and ERASER take "
            "logits (and apply the softmax themselves). Use keras_text_lrp.model_wo_softmax(model)."
        )
    batch_size = check_batch_size(batch_size)
    perturber = get_perturber(model, deletion, unk_id=unk_id)
    ids = check_ids(ids, perturber.input_dim)
    full = logits_of_variants(perturber, ids, lambda a, b, j: np.ones(ids[a:b].shape, bool), 1, batch_size,
                              progress=False)[0]
    if targets is None:
        chosen, kind = full.argmax(-1).astype("int32"), "predicted"
    else:
        chosen, kind = check_targets(targets, ids.shape[0], perturber.n_classes, "targets"), "given"
    return perturber, ids, chosen, kind, full, batch_size


def _pick(logits: np.ndarray, targets: np.ndarray, output: str) -> np.ndarray:
    """The target class's logit or probability, ``(..., N, C)`` -> ``(..., N)``."""
    values = softmax(logits) if output == "probability" else logits
    index = np.broadcast_to(targets[:, None], values.shape[:-1] + (1,))
    return np.take_along_axis(values, index, axis=-1)[..., 0]


def aopc(
    model: keras.Model,
    ids: Any,
    relevance: Relevance,
    targets: Any = None,
    *,
    steps: int = 10,
    output: str = "logit",
    deletion: str = "zero_embedding",
    pooling: str = "sum",
    batch_size: int = 256,
    progress: bool = True,
    unk_id: int = 1,
    analyzer_kwargs: dict | None = None,
) -> AOPCResult:
    """Area over the perturbation curve: mean score drop as the most relevant words go.

    ``AOPC = 1/K * sum_{k=1..K} mean_texts [f(x) - f(x_k)]``, ``x_k`` the
    text with its ``k`` most relevant words deleted (all of them when it has
    fewer than ``k``; equal scores left to right), ``f`` the target class's
    logit (``output="logit"``) or softmax probability (``"probability"``).
    Higher is better. Samek et al. (2017) normalise by ``K + 1`` (their
    ``k = 0`` term is 0): their number is ``K/(K+1)`` times this one.

    Parameters
    ----------
    model : keras.Model
        One input of token ids, one output of logits.
    ids : array_like of int, shape (texts, T)
        Token ids, 0 = padding. Every text is used.
    relevance : str, Analyzer, callable or numpy.ndarray
        As in :func:`~keras_text_lrp.evaluation.deletion_curve`, for the
        classes ``targets``.
    targets : array_like of int, shape (texts,), optional
        The explained classes; by default the predicted ones.
    steps : int, default 10
        ``K``.
    output : {"logit", "probability"}, default "logit"
    deletion : {"zero_embedding", "unk", "pad"}, default "zero_embedding"
    pooling : str, default "sum"
        Word pooling of ``(.., T, D)`` relevances.
    batch_size : int, default 256
    progress : bool, default True
    unk_id : int, default 1
    analyzer_kwargs : dict, optional

    Returns
    -------
    AOPCResult
    """
    if output not in OUTPUTS:
        raise InvalidArgumentError(f"output must be one of {OUTPUTS}, got {output!r}.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InvalidArgumentError(f"steps (K) must be an int >= 1, got {steps!r}.")
    steps = int(steps)
    perturber, ids, chosen, kind, full, batch_size = _prepare(
        model, ids, targets, deletion, batch_size, unk_id
    )
    rows = np.arange(ids.shape[0])
    scores = word_scores(model, ids, chosen, relevance, rows=rows, pooling=pooling, batch_size=batch_size,
                         analyzer_kwargs=analyzer_kwargs)
    ranks = deletion_ranks(scores, ids != 0, descending=True)
    name = relevance_name(relevance)
    # k = 0 is the unperturbed text, already run: the K deletions are variants 1..K.
    logits = logits_of_variants(perturber, ids, lambda a, b, j: ranks[a:b] >= j + 1, steps, batch_size,
                                progress, f"AOPC ({name})")
    f = np.concatenate([_pick(full, chosen, output)[None], _pick(logits, chosen, output)])
    drop = f[0][None] - f
    return AOPCResult(
        method=name, output=output, deletion=deletion, k=list(range(steps + 1)),
        mean_score=[float(v) for v in f.mean(axis=1)], mean_drop=[float(v) for v in drop.mean(axis=1)],
        aopc=float(drop[1:].mean()), per_text=[float(v) for v in drop[1:].mean(axis=0)],
        n_texts=int(ids.shape[0]), targets=kind,
    )


def _rationale_sizes(n_words: np.ndarray, fraction: float) -> np.ndarray:
    # round() first: 0.1 * 30 is 3.0000000000000004 in floating point, whose ceil would be 4.
    return np.minimum(np.ceil(np.round(fraction * n_words, 9)).astype(np.int64), n_words)


def comprehensiveness_sufficiency(
    model: keras.Model,
    ids: Any,
    relevance: Relevance,
    targets: Any = None,
    *,
    fractions: Sequence[float] = ERASER_FRACTIONS,
    deletion: str = "zero_embedding",
    pooling: str = "sum",
    batch_size: int = 256,
    progress: bool = True,
    unk_id: int = 1,
    analyzer_kwargs: dict | None = None,
) -> EraserResult:
    """ERASER comprehensiveness and sufficiency of the top-``q`` words, for several ``q``.

    For a text of ``n`` words and a fraction ``q``, the rationale ``r`` is its
    ``ceil(q * n)`` most relevant words (at least one; equal scores left to
    right). With ``p`` the softmax probability of the target class:

    - comprehensiveness ``p(x) - p(x \\ r)``: the rationale deleted (higher is better);
    - sufficiency ``p(x) - p(r)``: every other word deleted (lower is better).

    Words are deleted as in :func:`~keras_text_lrp.evaluation.deletion_curve`;
    ``deletion="pad"`` on a ``mask_zero`` model comes closest to ERASER's
    reduced texts, ``"zero_embedding"`` keeps the deleted positions as zero
    vectors.

    Parameters
    ----------
    model : keras.Model
        One input of token ids, one output of logits.
    ids : array_like of int, shape (texts, T)
    relevance : str, Analyzer, callable or numpy.ndarray
        As in :func:`~keras_text_lrp.evaluation.deletion_curve`, for ``targets``.
    targets : array_like of int, shape (texts,), optional
        The explained classes; by default the predicted ones.
    fractions : sequence of float in (0, 1], default (0.01, 0.05, 0.1, 0.2, 0.5)
        ERASER's bins.
    deletion : {"zero_embedding", "unk", "pad"}, default "zero_embedding"
    pooling : str, default "sum"
    batch_size : int, default 256
    progress : bool, default True
    unk_id : int, default 1
    analyzer_kwargs : dict, optional

    Returns
    -------
    EraserResult
    """
    fractions = [float(q) for q in fractions]
    if not fractions or any(not (0.0 < q <= 1.0) or math.isnan(q) for q in fractions):
        raise InvalidArgumentError(f"fractions must be numbers in (0, 1], at least one; got {fractions}.")
    perturber, ids, chosen, kind, full, batch_size = _prepare(
        model, ids, targets, deletion, batch_size, unk_id
    )
    rows = np.arange(ids.shape[0])
    scores = word_scores(model, ids, chosen, relevance, rows=rows, pooling=pooling, batch_size=batch_size,
                         analyzer_kwargs=analyzer_kwargs)
    real = ids != 0
    ranks = deletion_ranks(scores, real, descending=True)
    sizes = np.stack([_rationale_sizes(real.sum(axis=1), q) for q in fractions])  # (Q, N)

    def keep_of(a: int, b: int, j: int) -> np.ndarray:
        in_rationale = ranks[a:b] < sizes[j // 2, a:b, None]
        # Even variants delete the rationale, odd ones everything else (padding stays as it is).
        return ~in_rationale if j % 2 == 0 else in_rationale | ~real[a:b]

    logits = logits_of_variants(perturber, ids, keep_of, 2 * len(fractions), batch_size, progress,
                                f"ERASER ({relevance_name(relevance)})")
    p = _pick(full, chosen, "probability")
    comp = p[None] - _pick(logits[0::2], chosen, "probability")  # (Q, N)
    suff = p[None] - _pick(logits[1::2], chosen, "probability")
    return EraserResult(
        method=relevance_name(relevance), deletion=deletion, fractions=fractions,
        comprehensiveness=[float(v) for v in comp.mean(axis=1)],
        sufficiency=[float(v) for v in suff.mean(axis=1)],
        aggregate_comprehensiveness=float(comp.mean()), aggregate_sufficiency=float(suff.mean()),
        per_text_comprehensiveness=[float(v) for v in comp.mean(axis=0)],
        per_text_sufficiency=[float(v) for v in suff.mean(axis=0)],
        n_texts=int(ids.shape[0]), targets=kind,
    )
