"""The diverging colour map shared by every view: blue (negative), white (0), red (positive)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError

__all__ = [
    "NAN_RGB",
    "NEGATIVE_RGB",
    "POSITIVE_RGB",
    "diverging_rgb",
    "resolve_vmax",
    "rgb_to_hex",
    "text_rgb",
]

POSITIVE_RGB = (202, 0, 32)
"""Colour of a score of ``+vmax`` (red)."""
NEGATIVE_RGB = (5, 113, 176)
"""Colour of a score of ``-vmax`` (blue)."""
NAN_RGB = (200, 200, 200)
"""Colour of a NaN or infinite score (grey)."""
_WHITE = (255, 255, 255)


def diverging_rgb(value: float, vmax: float) -> tuple[int, int, int]:
    """Colour of ``value`` on a scale from ``-vmax`` (blue) through 0 (white) to ``+vmax`` (red).

    The colour is interpolated linearly from white to :data:`POSITIVE_RGB`
    or :data:`NEGATIVE_RGB`; values beyond ``vmax`` are clipped. With
    ``vmax <= 0`` every finite value is white; non-finite values are grey.

    Parameters
    ----------
    value : float
        The score.
    vmax : float
        The magnitude shown at full colour.

    Returns
    -------
    (int, int, int)
        RGB in 0..255.
    """
    value = float(value)
    if not math.isfinite(value):
        return NAN_RGB
    if vmax <= 0 or not math.isfinite(vmax) or value == 0:
        return _WHITE
    t = min(abs(value) / vmax, 1.0)
    end = POSITIVE_RGB if value > 0 else NEGATIVE_RGB
    return tuple(round(w + t * (e - w)) for w, e in zip(_WHITE, end, strict=True))  # type: ignore[return-value]


def text_rgb(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``background`` (by relative luminance)."""
    r, g, b = (c / 255 for c in background)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return (0, 0, 0) if luminance > 0.45 else (255, 255, 255)


def rgb_to_hex(rgb: tuple[int, int, int]) -> str:
    """``(202, 0, 32)`` to ``"#ca0020"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _max_abs(scores: np.ndarray) -> float:
    finite = np.abs(scores[np.isfinite(scores)])
    return float(finite.max()) if finite.size else 0.0


def resolve_vmax(cells: Sequence[Sequence[np.ndarray]], scale: str | float) -> list[list[float]]:
    """Full-colour magnitude of each cell of a grid of score vectors.

    Parameters
    ----------
    cells : sequence of sequences of numpy.ndarray
        ``cells[i][j]`` are the scores of text ``i`` under method ``j``.
    scale : {"text", "method", "shared"} or float
        ``"text"``: each cell uses its own largest ``|score|``;
        ``"method"``: the largest over all texts of the same method (column);
        ``"shared"``: the largest over the whole grid; a positive float: that
        value for every cell.

    Returns
    -------
    list of lists of float
        ``vmax`` per cell (0 where a cell has no nonzero finite score).

    Raises
    ------
    InvalidArgumentError
        On an unknown ``scale`` or a non-positive number.
    """
    if isinstance(scale, str):
        if scale not in ("text", "method", "shared"):
            raise InvalidArgumentError(
                f"scale must be 'text', 'method', 'shared' or a positive number, got {scale!r}"
            )
        own = [[_max_abs(np.asarray(c, dtype=float)) for c in row] for row in cells]
        if scale == "text":
            return own
        if scale == "shared":
            top = max((v for row in own for v in row), default=0.0)
            return [[top] * len(row) for row in own]
        columns = max((len(row) for row in own), default=0)
        tops = [max((row[j] for row in own if j < len(row)), default=0.0) for j in range(columns)]
        return [[tops[j] for j in range(len(row))] for row in own]
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < scale < math.inf:
        raise InvalidArgumentError(f"a numeric scale must be a positive number, got {scale!r}")
    return [[float(scale)] * len(row) for row in cells]
