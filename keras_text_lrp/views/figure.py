"""Matplotlib figures of word relevances: words as coloured boxes, wrapped into lines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.views._inputs import ScoresInput, normalize, per_text
from keras_text_lrp.views.colors import (
    NEGATIVE_RGB,
    POSITIVE_RGB,
    diverging_rgb,
    resolve_vmax,
    rgb_to_hex,
    text_rgb,
)
from keras_text_lrp.views.html import OOV_LEGEND

__all__ = ["plot_heatmap", "plot_text_heatmap"]

_PAD = 3.0  # points around each word box and between lines


def _colormap() -> LinearSegmentedColormap:
    colors = [rgb_to_hex(NEGATIVE_RGB), "#ffffff", rgb_to_hex(POSITIVE_RGB)]
    return LinearSegmentedColormap.from_list("ktl_diverging", colors)


def _layout(widths: list[float], line_width: float, gap: float) -> list[list[int]]:
    """Greedy line breaking: indices of the words on each line."""
    lines: list[list[int]] = [[]]
    x = 0.0
    for i, width in enumerate(widths):
        if lines[-1] and x + width > line_width:
            lines.append([])
            x = 0.0
        lines[-1].append(i)
        x += width + gap
    return lines


def plot_heatmap(
    tokens: Sequence[Sequence[str]],
    scores: ScoresInput,
    *,
    methods: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    scale: str | float = "text",
    width: float = 8.0,
    fontsize: float = 11.0,
    dpi: float = 100.0,
    colorbar: bool = True,
    oov: Sequence[Sequence[bool]] | None = None,
) -> Figure:
    """Draw texts (and methods) as words on coloured boxes, wrapped to ``width``.

    Red is positive, blue negative, white 0. Each (text, method) pair is one
    block of wrapped lines, headed by its title; blocks are stacked from top
    to bottom, texts first, then methods within a text.

    Parameters
    ----------
    tokens : sequence of sequences of str
        The words of each text.
    scores : mapping or sequence
        As in :class:`keras_text_lrp.views.HeatmapPage`: ``{method: per-text
        scores}``, per-text scores, or one per-text list per method.
    methods : sequence of str, optional
        Method names when ``scores`` is not a mapping.
    titles : sequence of str, optional
        One heading per text (default ``"#i"``; the method name is added when
        there are several methods).
    scale : {"text", "method", "shared"} or float, default "text"
        What ``|score|`` gets full colour (see :func:`resolve_vmax`).
    width : float, default 8.0
        Figure width in inches; words wrap to it.
    fontsize : float, default 11.0
        Font size in points.
    dpi : float, default 100.0
        Figure resolution.
    colorbar : bool, default True
        Add a colour bar (only meaningful with a shared or fixed scale; for
        per-text scales it is labelled from -1 to 1 of each text's maximum).
    oov : sequence of sequences of bool, optional
        Which tokens of each text are out of the vocabulary: their boxes get
        a dashed dark edge and a legend line is added at the bottom.

    Returns
    -------
    matplotlib.figure.Figure
        A figure on an Agg canvas (no GUI, not registered with pyplot).
    """
    rows, cells, names = normalize(tokens, scores, methods)
    if titles is not None and len(titles) != len(rows):
        raise InvalidArgumentError(f"titles has {len(titles)} entries for {len(rows)} texts")
    if width <= 0 or fontsize <= 0 or dpi <= 0:
        raise InvalidArgumentError("width, fontsize and dpi must be positive")
    vmax = resolve_vmax(cells, scale)
    flags = per_text(oov, len(rows), "oov")
    flags = [[False] * len(row) for row in rows] if flags is None else [[bool(f) for f in r] for r in flags]
    for i, (row, f) in enumerate(zip(rows, flags, strict=True)):
        if len(f) != len(row):
            raise InvalidArgumentError(f"text {i}: {len(row)} tokens but {len(f)} oov flags")
    fig = Figure(figsize=(width, 1.0), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    font = FontProperties(size=fontsize)
    bold = FontProperties(size=fontsize, weight="bold")
    px = dpi / 72.0  # pixels per point
    pad, line_height = _PAD * px, fontsize * px * 1.8
    margin = 10 * px
    line_width = width * dpi - 2 * margin

    def text_width(s: str, prop: FontProperties) -> float:
        return renderer.get_text_width_height_descent(s or " ", prop, ismath=False)[0]

    # Lay out in pixels from the top-left corner, then size the figure to fit.
    items: list[tuple[float, float, str, dict]] = []
    y = margin
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            head = titles[i] if titles is not None else f"#{i}"
            if len(names) > 1:
                head = f"{head} \u2013 {name}" if head else name
            if head:
                items.append((margin, y, head, {"fontproperties": bold, "color": "#222222"}))
                y += line_height
            widths = [text_width(token, font) + 2 * pad for token in row]
            for line in _layout(widths, line_width, pad):
                x = margin
                for k in line:
                    background = diverging_rgb(cells[i][j][k], vmax[i][j])
                    style = {
                        "fontproperties": font,
                        "color": rgb_to_hex(text_rgb(background)),
                        "bbox": {
                            "boxstyle": f"square,pad={_PAD / fontsize:.3f}",
                            "facecolor": rgb_to_hex(background),
                            "edgecolor": "#333333" if flags[i][k] else "none",
                            "linestyle": "--",
                            "linewidth": 1.2 if flags[i][k] else 0.0,
                        },
                        "gid": "oov" if flags[i][k] else "token",
                    }
                    items.append((x + pad, y, row[k], style))
                    x += widths[k] + pad
                y += line_height
            y += line_height * 0.4
    if any(any(f) for f in flags):
        items.append((margin, y, "[ dashed box ] " + OOV_LEGEND,
                      {"fontproperties": FontProperties(size=fontsize * 0.8), "color": "#333333",
                       "gid": "oov-legend"}))
        y += line_height
    bar_height = line_height * 2.6 if colorbar else 0.0
    height = y + bar_height + margin
    fig.set_size_inches(width, height / dpi)
    for x, top, text, style in items:
        fig.text(
            x / (width * dpi),
            1 - (top + line_height / 2) / height,
            text,
            va="center",
            ha="left",
            parse_math=False,
            usetex=False,
            **style,
        )
    if colorbar:
        per_cell = isinstance(scale, str) and scale != "shared"
        top = 1.0 if per_cell or not rows or not vmax[0] or vmax[0][0] <= 0 else vmax[0][0]
        bottom = (margin + bar_height * 0.6) / height
        ax = fig.add_axes((0.3, bottom, 0.4, bar_height * 0.22 / height))
        bar = fig.colorbar(_scalar_mappable(top), cax=ax, orientation="horizontal")
        bar.set_label("relevance / max|R|" if per_cell else "relevance", fontsize=fontsize * 0.8)
        bar.ax.tick_params(labelsize=fontsize * 0.7)
    return fig


def _scalar_mappable(top: float) -> ScalarMappable:
    return ScalarMappable(norm=Normalize(-top, top), cmap=_colormap())


def plot_text_heatmap(
    tokens: Sequence[str],
    scores: Sequence[float] | np.ndarray,
    *,
    title: str | None = None,
    vmax: float | None = None,
    **kwargs: object,
) -> Figure:
    """Draw one text's words on coloured boxes (see :func:`plot_heatmap`).

    Parameters
    ----------
    tokens : sequence of str
        The words.
    scores : array_like
        One score per word.
    title : str, optional
        Heading.
    vmax : float, optional
        ``|score|`` at full colour; the text's largest ``|score|`` if None.
    **kwargs
        ``width``, ``fontsize``, ``dpi``, ``colorbar`` of :func:`plot_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(tokens, str):
        raise InvalidArgumentError("tokens must be a list of str, not a str")
    return plot_heatmap(
        [tokens],
        [scores],
        titles=[title or ""],
        scale="text" if vmax is None else vmax,
        **kwargs,  # type: ignore[arg-type]
    )
