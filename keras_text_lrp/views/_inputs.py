"""Checking and normalising the (tokens, scores, methods) inputs of the views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError

ScoresInput = Mapping[str, Sequence[Sequence[float]]] | Sequence[Sequence[float]] | np.ndarray


def _check_tokens(tokens: Sequence[Sequence[str]]) -> list[list[str]]:
    if isinstance(tokens, str) or any(isinstance(row, str) for row in tokens):
        raise InvalidArgumentError("tokens must be a list of token lists (one per text), not strings")
    rows = [list(row) for row in tokens]
    for i, row in enumerate(rows):
        for token in row:
            if not isinstance(token, str):
                raise InvalidArgumentError(f"text {i}: tokens must be str, got {type(token).__name__}")
    return rows


def _check_row(scores: object, tokens: list[str], where: str) -> np.ndarray:
    try:
        row = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"{where}: scores must be numbers ({error})") from None
    if row.ndim != 1 or row.shape[0] != len(tokens):
        raise InvalidArgumentError(
            f"{where}: {len(tokens)} tokens but scores of shape {row.shape}; "
            "give one score per token (strip padding first, e.g. with unmasked_scores)"
        )
    return row


def normalize(
    tokens: Sequence[Sequence[str]], scores: ScoresInput, methods: Sequence[str] | None
) -> tuple[list[list[str]], list[list[np.ndarray]], list[str]]:
    """Return (tokens per text, cells[text][method], method names) after checking the shapes.

    ``scores`` is either a mapping from method name to per-text scores, or
    per-text scores of one method, or (when ``methods`` has several names)
    one per-text score list per method.
    """
    rows = _check_tokens(tokens)
    if isinstance(scores, Mapping):
        if methods is not None:
            raise InvalidArgumentError("give the method names as the keys of scores or as methods, not both")
        names = [str(name) for name in scores]
        per_method = list(scores.values())
    elif methods is not None and len(methods) > 1:
        names = [str(name) for name in methods]
        per_method = list(scores)
        if len(per_method) != len(names):
            raise InvalidArgumentError(f"{len(names)} methods but scores for {len(per_method)}")
    else:
        names = [str(methods[0])] if methods else ["relevance"]
        per_method = [scores]
    cells: list[list[np.ndarray]] = [[] for _ in rows]
    for name, per_text in zip(names, per_method, strict=True):
        if len(per_text) != len(rows):
            raise InvalidArgumentError(
                f"method {name!r}: scores for {len(per_text)} texts, tokens for {len(rows)}"
            )
        for i, (row, text_scores) in enumerate(zip(rows, per_text, strict=True)):
            cells[i].append(_check_row(text_scores, row, f"text {i}, method {name!r}"))
    return rows, cells, names


def per_text(values: Sequence | np.ndarray | None, n: int, name: str) -> list | None:
    """Check that an optional per-text column has ``n`` entries."""
    if values is None:
        return None
    values = list(values)
    if len(values) != n:
        raise InvalidArgumentError(f"{name} has {len(values)} entries for {n} texts")
    return values
