"""Word relevances in a terminal: ANSI colours on a TTY, ``word[+0.42]`` otherwise."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.views._inputs import normalize
from keras_text_lrp.views.colors import diverging_rgb, resolve_vmax, text_rgb

__all__ = ["MODES", "OOV_LEGEND", "color_mode", "colorize", "print_heatmap"]

MODES = ("auto", "truecolor", "256", "plain")
"""Accepted ``mode`` values."""

_RESET = "\x1b[0m"
_CUBE = (0, 95, 135, 175, 215, 255)


def color_mode(stream: TextIO | None = None) -> str:
    """Pick the colour mode for ``stream`` (default ``sys.stdout``).

    ``"plain"`` if the ``NO_COLOR`` environment variable is set (non-empty),
    ``TERM`` is ``dumb`` or the stream is not a TTY; otherwise
    ``"truecolor"`` if ``COLORTERM`` is ``truecolor``/``24bit``, else ``"256"``.
    """
    stream = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return "plain"
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return "plain"
    return "truecolor" if os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit") else "256"


def _xterm256(rgb: tuple[int, int, int]) -> int:
    """Nearest xterm-256 colour (6x6x6 cube or grey ramp) to ``rgb``."""

    def nearest_level(c: int) -> int:
        return min(range(6), key=lambda i: abs(_CUBE[i] - c))

    r, g, b = (nearest_level(c) for c in rgb)
    cube = (16 + 36 * r + 6 * g + b, (_CUBE[r], _CUBE[g], _CUBE[b]))
    level = min(range(24), key=lambda i: abs(8 + 10 * i - sum(rgb) / 3))
    grey = (232 + level, (8 + 10 * level,) * 3)

    def distance(candidate: tuple[int, tuple[int, ...]]) -> int:
        return sum((x - y) ** 2 for x, y in zip(candidate[1], rgb, strict=True))

    return min(cube, grey, key=distance)[0]


_CUBE_COLOURS = [
    (16 + 36 * r + 6 * g + b, (r, g, b)) for r in range(6) for g in range(6) for b in range(6)
]


def _xterm256_signed(rgb: tuple[int, int, int], sign: float) -> int:
    """Nearest xterm-256 colour that keeps the hue of a signed score.

    Near 0 the nearest colour of the palette is often white or a grey, so weak
    relevance would lose its sign; for a nonzero score the nearest cube colour
    that is still reddish (positive) or bluish (negative) is chosen instead.
    """
    if sign == 0:
        return _xterm256(rgb)

    def keeps_hue(levels: tuple[int, int, int]) -> bool:
        r, g, b = levels
        return (r > b and r > g) if sign > 0 else (b > r)

    def distance(levels: tuple[int, int, int]) -> int:
        return sum((_CUBE[x] - y) ** 2 for x, y in zip(levels, rgb, strict=True))

    return min((c for c in _CUBE_COLOURS if keeps_hue(c[1])), key=lambda c: distance(c[1]))[0]


#: Out-of-vocabulary tokens: underlined on a terminal, ``[UNK]``-tagged in plain text.
OOV_STYLE = "\x1b[4m"
OOV_LEGEND = "underlined (plain: ~word): out of the vocabulary, seen by the model as [UNK]"


def _safe(token: str) -> str:
    """Show control characters (ESC, BEL, newlines...) as escapes, so tokens cannot drive the terminal."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d"
        else ch
        for ch in token
    )


def colorize(
    tokens: Sequence[str],
    scores: Sequence[float] | np.ndarray,
    *,
    vmax: float | None = None,
    mode: str = "auto",
    stream: TextIO | None = None,
    digits: int = 2,
    oov: Sequence[bool] | None = None,
) -> str:
    """Render one text's word scores for a terminal.

    Parameters
    ----------
    tokens : sequence of str
        The words.
    scores : array_like
        One score per word.
    vmax : float, optional
        ``|score|`` shown at full colour; the text's largest ``|score|`` if None.
    mode : {"auto", "truecolor", "256", "plain"}, default "auto"
        ``"auto"`` asks :func:`color_mode` about ``stream``. ``"plain"`` gives
        ``word[+0.42]`` per word (no escape codes).
    stream : file object, optional
        Where the text will go (for ``"auto"``); ``sys.stdout`` if None.
    digits : int, default 2
        Decimals in the plain format.
    oov : sequence of bool, optional
        Which tokens are out of the vocabulary: underlined in colour modes,
        prefixed with ``~`` in plain text (see :data:`OOV_LEGEND`).

    Returns
    -------
    str
        The words separated by spaces. Control characters inside tokens are
        shown escaped (``\\x1b``), never sent raw.
    """
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be one of {MODES}, got {mode!r}")
    if isinstance(tokens, str):
        raise InvalidArgumentError("tokens must be a list of str, not a str")
    rows, cells, _ = normalize([tokens], [scores], None)
    words, values = rows[0], cells[0][0]
    top = resolve_vmax(cells, "text" if vmax is None else vmax)[0][0]
    if mode == "auto":
        mode = color_mode(stream)
    unknown = [False] * len(words) if oov is None else [bool(o) for o in oov]
    if len(unknown) != len(words):
        raise InvalidArgumentError(f"{len(words)} tokens but {len(unknown)} oov flags")
    parts = []
    for word, value, is_oov in zip(words, values, unknown, strict=True):
        word = _safe(word)
        if mode == "plain":
            parts.append(f"{'~' if is_oov else ''}{word}[{value:+.{digits}f}]")
            continue
        background = diverging_rgb(value, top)
        foreground = text_rgb(background)
        if mode == "truecolor":
            code = "\x1b[48;2;{};{};{}m\x1b[38;2;{};{};{}m".format(*background, *foreground)
        else:
            sign = float(np.sign(value)) if top > 0 else 0.0
            code = f"\x1b[48;5;{_xterm256_signed(background, sign)}m\x1b[38;5;{_xterm256(foreground)}m"
        parts.append(f"{code}{OOV_STYLE if is_oov else ''}{word}{_RESET}")
    return " ".join(parts)


def print_heatmap(
    tokens: Sequence[str],
    scores: Sequence[float] | np.ndarray,
    *,
    file: TextIO | None = None,
    vmax: float | None = None,
    mode: str = "auto",
    digits: int = 2,
    oov: Sequence[bool] | None = None,
) -> None:
    """Print :func:`colorize` output to ``file`` (default ``sys.stdout``), choosing colours for it.

    With out-of-vocabulary tokens (``oov``) a legend line follows.
    """
    file = sys.stdout if file is None else file
    print(colorize(tokens, scores, vmax=vmax, mode=mode, stream=file, digits=digits, oov=oov), file=file)
    if oov is not None and any(oov):
        print(f"({OOV_LEGEND})", file=file)
