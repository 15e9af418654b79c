"""Figures of word-deletion curves (Arras et al. 2016, Fig. 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.evaluation.deletion import EXPERIMENTS, DeletionCurve

__all__ = ["plot_deletion_curves"]

_TITLES = {
    "correct": "initially correct: most relevant deleted first",
    "misclassified": "initially wrong: least relevant deleted first",
}


def _curve(value: Any, name: str) -> DeletionCurve:
    if isinstance(value, DeletionCurve):
        return value
    if isinstance(value, Mapping):
        return DeletionCurve.from_dict(dict(value))
    raise InvalidArgumentError(
        f"result {name!r} is a {type(value).__name__}; give a DeletionCurve or its to_dict()."
    )


def plot_deletion_curves(
    results: Mapping[str, DeletionCurve | Mapping[str, Any]],
    baseline: DeletionCurve | Mapping[str, Any] | Sequence[DeletionCurve | Mapping[str, Any]] | None = None,
    *,
    band: float = 1.0,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.5, 3.5),
    dpi: float = 100.0,
) -> Figure:
    """Accuracy against the number of deleted words, one line per method.

    One panel per experiment found in the results (``"correct"`` left,
    ``"misclassified"`` right, as Fig. 1 of Arras et al. 2016). A curve with
    ``accuracy_std`` (a :func:`~keras_text_lrp.evaluation.random_baseline`)
    is drawn dashed with a band of ``mean ± band * std``.

    Parameters
    ----------
    results : mapping of str to DeletionCurve (or its ``to_dict()``)
        Legend name -> curve.
    baseline : DeletionCurve or dict, or a list of them, optional
        Random baseline(s) (e.g. one per experiment), each added as
        ``"random"`` to the panel of its experiment.
    band : float, default 1.0
        Width of the baseline band in standard deviations (0: no band).
    title : str, optional
        Figure title.
    panel_size : (float, float), default (4.5, 3.5)
        Inches per panel.
    dpi : float, default 100.0

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold one ``Line2D`` per curve (x = words deleted, y = accuracy)
        and one filled band per baseline.
    """
    curves = [(name, _curve(value, name)) for name, value in results.items()]
    if baseline is not None:
        single = isinstance(baseline, (DeletionCurve, Mapping))
        baselines = [baseline] if single else list(baseline)
        curves += [("random", _curve(b, "baseline")) for b in baselines]
    if not curves:
        raise InvalidArgumentError("give at least one deletion curve.")
    experiments = [e for e in EXPERIMENTS if any(c.experiment == e for _, c in curves)]
    width, height = panel_size
    fig = Figure(figsize=(width * len(experiments), height), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(experiments), squeeze=False)[0]
    for ax, experiment in zip(axes, experiments):
        for name, curve in curves:
            if curve.experiment != experiment or curve.n_texts == 0:
                continue
            y = [float("nan") if a is None else a for a in curve.accuracy]
            if curve.accuracy_std is not None:
                (line,) = ax.plot(curve.k, y, linestyle="--", color="0.4", label=name)
                if band > 0:
                    lo = [m - band * s for m, s in zip(y, curve.accuracy_std)]
                    hi = [m + band * s for m, s in zip(y, curve.accuracy_std)]
                    ax.fill_between(curve.k, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            else:
                ax.plot(curve.k, y, marker="o", markersize=3, label=name)
        ax.set_title(_TITLES[experiment], fontsize=10)
        ax.set_xlabel("words deleted")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
