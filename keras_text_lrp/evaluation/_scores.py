"""Word scores for the evaluation functions, and the deletion order they define.

A relevance is given as an analyzer name, an :class:`~keras_text_lrp.analyzers.Analyzer`,
a callable ``fn(ids, targets)`` or a precomputed array; every form ends as one
float score per token position, ``(texts, T)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.analyzers.registry import create_analyzer
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.text.relevance import POOLINGS, word_relevance

__all__ = [
    "Relevance", "check_targets", "deletion_ranks", "relevance_name", "relevance_values", "word_scores",
]

Relevance = str | Analyzer | Callable[[np.ndarray, np.ndarray], Any] | np.ndarray
"""An analyzer name, an Analyzer, ``fn(ids, targets) -> (B, T)`` scores, or a ``(N, T)`` array."""


def check_targets(targets: Any, n: int, n_classes: int, what: str = "labels") -> np.ndarray:
    """``targets`` as ``n`` int32 class indices in ``[0, n_classes)``."""
    array = np.asarray(targets)
    if array.dtype.kind not in "iu":
        raise InvalidInputError(
            f"{what} must be integer class indices, got dtype {array.dtype}"
            + ("; for one-hot labels pass labels.argmax(-1)." if array.ndim == 2 else ".")
        )
    if array.shape != (n,):
        raise InvalidInputError(f"{what} must have shape ({n},), one class per text, got {array.shape}.")
    if array.min() < 0 or array.max() >= n_classes:
        bad = array.min() if array.min() < 0 else array.max()
        raise InvalidInputError(
            f"{what} hold class {bad}, out of range: the model has {n_classes} classes (0..{n_classes - 1})."
        )
    return array.astype("int32")


def relevance_name(relevance: Relevance) -> str:
    """A short name of a relevance for results and plot legends."""
    if isinstance(relevance, str):
        return relevance
    if isinstance(relevance, Analyzer):
        return type(relevance).__name__
    if isinstance(relevance, np.ndarray):
        return "precomputed"
    return getattr(relevance, "__name__", type(relevance).__name__)


def _checked(values: Any, ids: np.ndarray, source: str) -> np.ndarray:
    """``values`` as a float array ``(B, T)`` or ``(B, T, D)`` aligned with ``ids``."""
    array = np.asarray(values)
    if array.ndim not in (2, 3) or array.shape[:2] != ids.shape:
        raise InvalidInputError(
            f"{source} gave relevances of shape {array.shape}; expected word scores {ids.shape} "
            f"(texts, T) or per-dimension relevances {ids.shape + ('D',)}."
        )
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"{source} gave relevances of dtype {array.dtype}; expected numbers.")
    return array.astype(np.float64, copy=False)


def relevance_values(
    model: Any,
    ids: np.ndarray,
    targets: np.ndarray,
    relevance: Relevance,
    *,
    rows: np.ndarray,
    batch_size: int = 256,
    analyzer_kwargs: dict | None = None,
) -> np.ndarray:
    """The relevances of the texts ``ids[rows]`` for the classes ``targets[rows]``, as given.

    Parameters
    ----------
    model : keras.Model
    ids : numpy.ndarray of int32, shape (N, T)
        All texts (a precomputed ``relevance`` array is aligned with them).
    targets : numpy.ndarray of int32, shape (N,)
        The class explained for each text.
    relevance : str, Analyzer, callable or numpy.ndarray
        - ``str``: an analyzer name, created with ``neuron_selection_mode="index"``
          and ``analyzer_kwargs``;
        - :class:`Analyzer` with ``neuron_selection_mode`` ``"index"`` or ``"all"``;
        - ``fn(ids_batch, targets_batch)``, called on batches of ``batch_size``
          texts, returning ``(B, T)`` scores or ``(B, T, D)`` relevances;
        - an array ``(N, T)`` or ``(N, T, D)`` aligned with ``ids``.
    rows : numpy.ndarray of int
        The texts to explain.
    batch_size : int
    analyzer_kwargs : dict, optional
        Options of the analyzer created from a name.

    Returns
    -------
    numpy.ndarray, shape (len(rows), T) or (len(rows), T, D)
    """
    sub_ids, sub_targets = ids[rows], targets[rows]
    if analyzer_kwargs and not isinstance(relevance, str):
        raise InvalidArgumentError("analyzer_kwargs only apply when relevance is an analyzer name.")
    if isinstance(relevance, np.ndarray):
        if relevance.ndim not in (2, 3) or relevance.shape[:2] != ids.shape:
            raise InvalidInputError(
                f"the precomputed relevance has shape {relevance.shape}; it must be aligned with ids "
                f"{ids.shape}: (texts, T) word scores or (texts, T, D)."
            )
        return _checked(relevance[rows], sub_ids, "the precomputed relevance")
    if isinstance(relevance, (str, Analyzer)):
        analyzer = relevance
        if isinstance(relevance, str):
            analyzer = create_analyzer(
                relevance, model, neuron_selection_mode="index", **(analyzer_kwargs or {})
            )
        mode = analyzer.neuron_selection_mode
        if mode not in ("index", "all"):
            raise InvalidArgumentError(
                f"the analyzer explains the {mode!r} neuron, but the evaluation explains given classes; "
                "create it with neuron_selection_mode='index' (or pass its name)."
            )
        if len(rows) == 0:
            return np.zeros(sub_ids.shape)
        if mode == "index":
            values = analyzer.analyze(sub_ids, neuron_selection=sub_targets, batch_size=batch_size)
        else:
            values = analyzer.analyze(sub_ids, batch_size=batch_size)[np.arange(len(rows)), sub_targets]
        return _checked(values, sub_ids, f"analyzer {relevance_name(relevance)!r}")
    if callable(relevance):
        if len(rows) == 0:
            return np.zeros(sub_ids.shape)
        parts = []
        for start in range(0, len(rows), batch_size):
            chunk = sub_ids[start:start + batch_size]
            out = relevance(chunk, sub_targets[start:start + batch_size])
            parts.append(_checked(out, chunk, f"relevance function {relevance_name(relevance)!r}"))
        return np.concatenate(parts)
    raise InvalidArgumentError(
        "relevance must be an analyzer name, an Analyzer, a function fn(ids, targets) or an array "
        f"aligned with ids; got {type(relevance).__name__}."
    )


def word_scores(
    model: Any,
    ids: np.ndarray,
    targets: np.ndarray,
    relevance: Relevance,
    *,
    rows: np.ndarray,
    pooling: str = "sum",
    batch_size: int = 256,
    analyzer_kwargs: dict | None = None,
) -> np.ndarray:
    """One score per token position of the texts ``ids[rows]``, for the classes ``targets[rows]``.

    :func:`relevance_values`, with per-dimension relevances ``(.., T, D)``
    pooled by :func:`~keras_text_lrp.text.word_relevance` (``pooling``).

    Returns
    -------
    numpy.ndarray of float64, shape (len(rows), T)
        Scores; padding positions (id 0) are set to 0.

    Raises
    ------
    InvalidInputError
        If a real token's score is NaN or infinite.
    """
    if pooling not in POOLINGS:
        raise InvalidArgumentError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    values = relevance_values(model, ids, targets, relevance, rows=rows, batch_size=batch_size,
                              analyzer_kwargs=analyzer_kwargs)
    sub_ids = ids[rows]
    real = sub_ids != 0
    if values.ndim == 3:
        values = word_relevance(values, pooling=pooling, mask=real)
    scores = values.astype(np.float64)
    if not np.all(np.isfinite(scores[real])):
        raise InvalidInputError(
            f"the relevance of {relevance_name(relevance)!r} holds NaN or inf at real tokens; "
            "a deletion order needs finite scores."
        )
    return np.where(real, scores, 0.0)


def deletion_ranks(scores: np.ndarray, real: np.ndarray, descending: bool) -> np.ndarray:
    """The place of each token in the deletion order (0 = deleted first); padding never comes.

    Tokens are sorted by score, decreasing when ``descending``; equal scores
    are deleted left to right. Padding (``real`` False) gets the largest
    int64, so no number of deletions reaches it.

    Parameters
    ----------
    scores : numpy.ndarray, shape (N, T)
    real : numpy.ndarray of bool, shape (N, T)
        True for real tokens.
    descending : bool

    Returns
    -------
    numpy.ndarray of int64, shape (N, T)
        Position ``t`` of text ``i`` is deleted at step ``k`` iff ``ranks[i, t] < k``
        (padding: never).
    """
    key = np.where(real, -scores if descending else scores, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty(key.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, np.arange(key.shape[1])[None, :].repeat(key.shape[0], 0), axis=1)
    big = np.iinfo(np.int64).max
    return np.where(real, ranks, big)
