"""Pooling per-dimension relevances ``(batch, T, D)`` into word relevances ``(batch, T)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["POOLINGS", "unmasked_scores", "unmasked_tokens", "word_relevance"]

POOLINGS = ("sum", "l2", "l2_squared", "max_abs")
"""Pooling names accepted by :func:`word_relevance`."""


def _check_mask(mask: np.ndarray | Sequence | None, shape: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.shape != shape:
        raise InvalidArgumentError(f"mask must have shape {shape} (batch, T), got {array.shape}")
    if array.dtype != bool and not np.issubdtype(array.dtype, np.integer):
        raise InvalidArgumentError(
            f"mask must be boolean (True = real word) or 0/1 integers, got {array.dtype}"
        )
    return array.astype(bool)


def word_relevance(
    R: np.ndarray, pooling: str = "sum", mask: np.ndarray | Sequence | None = None
) -> np.ndarray:
    """Pool the relevance of each embedding dimension into one score per word.

    Parameters
    ----------
    R : array_like, shape (batch, T, D)
        An analysis taken at the embedding output (e.g. from
        ``analyzer.analyze(ids)``).
    pooling : {"sum", "l2", "l2_squared", "max_abs"}, default "sum"
        - ``"sum"``: :math:`\\sum_d R_{t,d}`; keeps the sign and conserves
          relevance (the LRP word relevance).
        - ``"l2"``: :math:`\\sqrt{\\sum_d R_{t,d}^2}` (>= 0).
        - ``"l2_squared"``: :math:`\\sum_d R_{t,d}^2` (>= 0); sensitivity
          analysis as in Arras et al. (2016) when ``R`` is a gradient.
        - ``"max_abs"``: the entry with the largest magnitude, **with its
          sign** (``[0.1, -0.5, 0.3]`` gives ``-0.5``); on a tie of equal
          magnitudes the first dimension wins.
    mask : array_like of bool, shape (batch, T), optional
        True (or nonzero) for real words; positions where it is False are set
        to exactly 0 (e.g. ``mask=ids != 0`` for padded ids).

    Returns
    -------
    numpy.ndarray, shape (batch, T)
        Word relevances, in ``R``'s float dtype (float64 for integer input).

    Raises
    ------
    InvalidArgumentError
        If ``R`` is not 3-D, ``pooling`` is unknown or ``mask`` has the wrong shape.
    """
    if pooling not in POOLINGS:
        raise InvalidArgumentError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    values = np.asarray(R)
    if values.ndim != 3:
        raise InvalidArgumentError(
            f"R must have shape (batch, T, D), got {values.shape}; "
            "add a batch axis with R[None] for a single text"
        )
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    keep = _check_mask(mask, values.shape[:2])
    if pooling == "sum":
        words = values.sum(axis=-1)
    elif pooling == "l2_squared":
        words = np.square(values).sum(axis=-1)
    elif pooling == "l2":
        words = np.sqrt(np.square(values).sum(axis=-1))
    elif values.shape[-1] == 0:
        words = np.zeros(values.shape[:2], dtype=values.dtype)
    else:
        index = np.abs(values).argmax(axis=-1)
        words = np.take_along_axis(values, index[..., None], axis=-1)[..., 0]
    if keep is not None:
        words = np.where(keep, words, np.zeros((), dtype=words.dtype))
    return words


def unmasked_scores(word_scores: np.ndarray, mask: np.ndarray | Sequence) -> list[np.ndarray]:
    """Return each row's scores at the unmasked positions only.

    Parameters
    ----------
    word_scores : array_like, shape (batch, T)
        E.g. the output of :func:`word_relevance`.
    mask : array_like of bool, shape (batch, T)
        True for real words.

    Returns
    -------
    list of numpy.ndarray
        One 1-D array per row, padding left out.
    """
    scores = np.asarray(word_scores)
    if scores.ndim != 2:
        raise InvalidArgumentError(f"word_scores must have shape (batch, T), got {scores.shape}")
    keep = _check_mask(mask, scores.shape)
    return [row[k] for row, k in zip(scores, keep, strict=True)]


def unmasked_tokens(tokens: Sequence[Sequence[str]], mask: np.ndarray | Sequence) -> list[list[str]]:
    """Return each row's tokens at the unmasked positions only.

    Parameters
    ----------
    tokens : sequence of sequences of str, shape (batch, T)
        Tokens per position, e.g. ``vocab.decode(ids, skip_padding=False)``.
    mask : array_like of bool, shape (batch, T)
        True for real words.

    Returns
    -------
    list of list of str
        The real words of each row.
    """
    keep = np.asarray(mask)
    if keep.ndim != 2 or keep.shape[0] != len(tokens) or any(len(row) != keep.shape[1] for row in tokens):
        raise InvalidArgumentError(
            f"tokens must be {len(tokens)} rows of mask's length; mask has shape {keep.shape}"
        )
    keep = _check_mask(keep, keep.shape)
    return [
        [token for token, k in zip(row, ks, strict=True) if k] for row, ks in zip(tokens, keep, strict=True)
    ]
