"""Self-contained HTML heatmaps of word relevances (no JavaScript, no external resources)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from keras_text_lrp._fileio import atomic_write_text
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

__all__ = ["OOV_LEGEND", "Heatmap", "HeatmapPage"]

_CSS = """
.ktl-page{font-family:sans-serif;color:#111;background:#fff}
.ktl-page table{border-collapse:collapse}
.ktl-page th,.ktl-page td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
.ktl-page th{background:#f4f4f4}
.ktl-text{line-height:1.9;max-width:60em}
.ktl-tok{padding:1px 2px;border-radius:3px;unicode-bidi:isolate;white-space:pre-wrap}
.ktl-legend{display:flex;align-items:center;gap:6px;margin:6px 0;font-size:0.85em}
.ktl-bar{width:200px;height:12px;border:1px solid #999}
.ktl-card{border:1px solid #ccc;margin:8px 0;padding:6px}
.ktl-meta{font-size:0.85em;color:#333;margin-bottom:4px}
.ktl-oov{outline:2px dashed #444;outline-offset:-2px;font-style:italic}
""".strip()

#: What the dashed outline of a token means (HTML legend).
OOV_LEGEND = "dashed outline: out of the vocabulary, seen by the model as [UNK]"


def _esc(value: object) -> str:
    return escape(str(value), quote=True)


def _fmt(value: float) -> str:
    return f"{value:+.4g}" if np.isfinite(value) else str(value)


def _label(value: object, label_names: Sequence[str] | None) -> str:
    if label_names is not None and isinstance(value, int | np.integer) and 0 <= value < len(label_names):
        return f"{label_names[int(value)]} ({int(value)})"
    return str(value)


def _tokens_html(
    tokens: list[str], scores: np.ndarray, vmax: float, oov: Sequence[bool] | None = None
) -> str:
    spans = []
    unknown = [False] * len(tokens) if oov is None else list(oov)
    for token, score, is_oov in zip(tokens, scores, unknown, strict=True):
        background = diverging_rgb(score, vmax)
        style = f"background-color:{rgb_to_hex(background)};color:{rgb_to_hex(text_rgb(background))}"
        kind, note = ("ktl-tok ktl-oov", " (out of vocabulary)") if is_oov else ("ktl-tok", "")
        spans.append(
            f'<span class="{kind}" style="{style}" title="{_esc(_fmt(score) + note)}" '
            f'data-score="{float(score)!r}">{_esc(token)}</span>'
        )
    return '<div class="ktl-text">' + " ".join(spans) + "</div>"


class HeatmapPage:
    """Many texts under many methods, as an HTML page of coloured words.

    Red is positive relevance, blue negative, white 0 (a diverging map
    centred at 0). Every token and label is HTML-escaped; the page has no
    JavaScript and loads nothing (inline CSS only), so it is safe to open
    and to embed in a notebook.

    Parameters
    ----------
    tokens : sequence of sequences of str
        The words of each text.
    scores : mapping or sequence
        Either ``{method name: per-text scores}``, or per-text scores of one
        method, or (with several ``methods``) one per-text list per method.
        Per-text scores have one number per token.
    methods : sequence of str, optional
        Method names when ``scores`` is not a mapping.
    label_names : sequence of str, optional
        Names of the classes, used to show integer ``pred``/``target``.
    pred, target : sequence, optional
        Predicted and explained class of each text (int or str).
    logits : sequence of array_like, optional
        Model outputs of each text, shown with 2 decimals (beside the class
        names when ``label_names`` are given).
    gold : sequence, optional
        The true class of each text, when known.
    oov : sequence of sequences of bool, optional
        Which tokens of each text are out of the vocabulary: drawn with a
        dashed outline, explained in the legend.
    scale : {"text", "method", "shared"} or float, default "text"
        What ``|score|`` gets full colour: each cell's own maximum, each
        method's maximum over the texts, the page's maximum, or a fixed value.
    layout : {"table", "grid"}, default "table"
        ``"table"``: rows are texts, columns methods; ``"grid"``: one card per
        text with the methods stacked (better for long texts).
    title : str, optional
        Page heading (and document title).
    legend : bool, default True
        Show the colour legend above the heatmaps.
    """

    def __init__(
        self,
        tokens: Sequence[Sequence[str]],
        scores: ScoresInput,
        *,
        methods: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
        pred: Sequence | None = None,
        target: Sequence | None = None,
        logits: Sequence | None = None,
        scale: str | float = "text",
        layout: str = "table",
        title: str | None = None,
        legend: bool = True,
        gold: Sequence | None = None,
        oov: Sequence[Sequence[bool]] | None = None,
    ) -> None:
        if layout not in ("table", "grid"):
            raise InvalidArgumentError(f"layout must be 'table' or 'grid', got {layout!r}")
        self.tokens, self.cells, self.methods = normalize(tokens, scores, methods)
        n = len(self.tokens)
        self.label_names = None if label_names is None else [str(name) for name in label_names]
        self.pred = per_text(pred, n, "pred")
        self.target = per_text(target, n, "target")
        self.logits = per_text(logits, n, "logits")
        self.gold = per_text(gold, n, "gold")
        self.oov = per_text(oov, n, "oov")
        if self.oov is not None:
            self.oov = [[bool(o) for o in row] for row in self.oov]
            for i, (row, flags) in enumerate(zip(self.tokens, self.oov, strict=True)):
                if len(flags) != len(row):
                    raise InvalidArgumentError(f"text {i}: {len(row)} tokens but {len(flags)} oov flags")
        self.scale = scale
        self.vmax = resolve_vmax(self.cells, scale)
        self.layout = layout
        self.title = title
        self.legend = legend

    # ------------------------------------------------------------------ parts
    def _legend(self) -> str:
        neg, pos = rgb_to_hex(NEGATIVE_RGB), rgb_to_hex(POSITIVE_RGB)
        if isinstance(self.scale, str) and self.scale != "shared":
            low, high = "\u2212max|R|", "+max|R|"
            note = "per text" if self.scale == "text" else "per method"
        else:
            top = self.vmax[0][0] if self.vmax and self.vmax[0] else 0.0
            low, high, note = f"\u2212{top:.4g}", f"+{top:.4g}", "shared"
        return (
            f'<div class="ktl-legend"><span>{_esc(low)}</span>'
            f'<span class="ktl-bar" style="background:linear-gradient(to right,{neg},#ffffff,{pos})"></span>'
            f"<span>{_esc(high)}</span>"
            f"<span>(0 = white; blue negative, red positive; scale {note})</span>{self._oov_legend()}</div>"
        )

    def _oov_legend(self) -> str:
        if not self.oov or not any(any(row) for row in self.oov):
            return ""
        return f'<span class="ktl-tok ktl-oov">word</span><span>{_esc(OOV_LEGEND)}</span>'

    def _flags(self, i: int) -> list[bool] | None:
        return None if self.oov is None else self.oov[i]

    def _meta(self, i: int) -> list[tuple[str, str]]:
        items = []
        if self.gold is not None:
            items.append(("gold", _label(self.gold[i], self.label_names)))
        if self.pred is not None:
            items.append(("prediction", _label(self.pred[i], self.label_names)))
        if self.target is not None:
            items.append(("explained", _label(self.target[i], self.label_names)))
        if self.logits is not None:
            values = np.atleast_1d(np.asarray(self.logits[i], dtype=float))
            names = self.label_names if self.label_names and len(self.label_names) == len(values) else None
            items.append(("logits", ", ".join(
                f"{names[k]} {v:+.2f}" if names else f"{v:+.2f}" for k, v in enumerate(values)
            )))
        return items

    def _table(self) -> str:
        meta_names = [name for name, _ in self._meta(0)] if self.tokens else []
        heads = ["#", *meta_names, *self.methods]
        out = [
            "<table><thead><tr>",
            *(f"<th>{_esc(h)}</th>" for h in heads),
            "</tr></thead><tbody>",
        ]
        for i, row in enumerate(self.tokens):
            out.append(f"<tr><td>{i}</td>")
            out.extend(f"<td>{_esc(value)}</td>" for _, value in self._meta(i))
            out.extend(
                f"<td>{_tokens_html(row, scores, vmax, self._flags(i))}</td>"
                for scores, vmax in zip(self.cells[i], self.vmax[i], strict=True)
            )
            out.append("</tr>")
        out.append("</tbody></table>")
        return "".join(out)

    def _grid(self) -> str:
        out = []
        for i, row in enumerate(self.tokens):
            meta = "; ".join(f"{name}: {value}" for name, value in self._meta(i))
            meta = f"#{i}; {meta}" if meta else f"#{i}"
            out.append(f'<div class="ktl-card"><div class="ktl-meta">{_esc(meta)}</div><table>')
            for name, scores, vmax in zip(self.methods, self.cells[i], self.vmax[i], strict=True):
                cell = _tokens_html(row, scores, vmax, self._flags(i))
                out.append(f"<tr><th>{_esc(name)}</th><td>{cell}</td></tr>")
            out.append("</table></div>")
        return "".join(out)

    # ----------------------------------------------------------------- output
    def _body(self) -> str:
        heading = f"<h2>{_esc(self.title)}</h2>" if self.title else ""
        content = self._table() if self.layout == "table" else self._grid()
        legend = self._legend() if self.legend else ""
        return f'<div class="ktl-page">{heading}{legend}{content}</div>'

    def to_html(self, full: bool = True) -> str:
        """Return the page as HTML.

        Parameters
        ----------
        full : bool, default True
            A whole UTF-8 document (``<!DOCTYPE html>...``); if False, a
            fragment (a ``<div>`` with its ``<style>``) for embedding.
        """
        if not full:
            return f"<div><style>{_CSS}</style>{self._body()}</div>"
        title = _esc(self.title or "keras_text_lrp heatmap")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head>"
            f"<body>{self._body()}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html(full=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole document to ``path`` (UTF-8), atomically: no partial file is ever left."""
        return atomic_write_text(path, self.to_html(full=True))

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(texts={len(self.tokens)}, methods={self.methods}, scale={self.scale!r})"


class Heatmap(HeatmapPage):
    """One text under one method (a :class:`HeatmapPage` with a single cell).

    Parameters
    ----------
    tokens : sequence of str
        The words.
    scores : array_like
        One score per word.
    method : str, default "relevance"
        Column heading.
    scale : {"text"} or float, default "text"
        The text's own largest ``|score|`` or a fixed value gets full colour.
    **kwargs
        ``label_names``, ``layout``, ``title``, ``legend`` as in
        :class:`HeatmapPage`; ``pred``, ``target``, ``logits`` are single
        values here, not lists.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        scores: Sequence[float] | np.ndarray,
        *,
        method: str = "relevance",
        scale: str | float = "text",
        pred: object = None,
        target: object = None,
        logits: object = None,
        **kwargs: object,
    ) -> None:
        if isinstance(tokens, str):
            raise InvalidArgumentError("tokens must be a list of str, not a str")
        one = {
            key: None if value is None else [value]
            for key, value in (("pred", pred), ("target", target), ("logits", logits))
        }
        super().__init__([tokens], [scores], methods=[method], scale=scale, **one, **kwargs)  # type: ignore[arg-type]
