"""Deletion-curve figures: one panel per experiment, the random baseline as a band."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.evaluation import DeletionCurve, plot_deletion_curves


def _curve(acc, experiment="correct", method="lrp", std=None):
    return DeletionCurve(method=method, experiment=experiment, deletion="zero_embedding",
                         k=list(range(len(acc))), accuracy=acc, n_texts=10, n_total=12,
                         accuracy_std=std, seeds=None if std is None else [0, 1])


def test_lines_band_and_panels():
    lrp = _curve([1.0, 0.6, 0.3])
    sa = _curve([1.0, 0.8, 0.6]).to_dict()                       # a dict is taken too
    wrong = _curve([0.0, 0.5, 0.9], experiment="misclassified")
    rnd = _curve([1.0, 0.9, 0.8], method="random", std=[0.0, 0.05, 0.1])
    fig = plot_deletion_curves({"LRP": lrp, "SA": sa, "LRP wrong": wrong}, baseline=rnd, title="t")
    assert isinstance(fig, Figure)
    left, right = fig.axes
    lines = {line.get_label(): line for line in left.get_lines()}
    assert set(lines) == {"LRP", "SA", "random"}
    np.testing.assert_allclose(lines["LRP"].get_ydata(), [1.0, 0.6, 0.3])
    np.testing.assert_allclose(lines["SA"].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines["random"].get_ydata(), [1.0, 0.9, 0.8])
    (band,) = [c for c in left.collections if isinstance(c, PolyCollection)]
    xy = band.get_paths()[0].vertices
    for x, lo, hi in ((0, 1.0, 1.0), (1, 0.85, 0.95), (2, 0.7, 0.9)):   # mean -+ std
        at = xy[np.isclose(xy[:, 0], x), 1]
        assert at.min() == pytest.approx(lo) and at.max() == pytest.approx(hi)
    assert [line.get_label() for line in right.get_lines()] == ["LRP wrong"]
    assert "correct" in left.get_title() and "wrong" in right.get_title()
    fig.canvas.draw()


def test_empty_curves_are_skipped_and_errors():
    empty = DeletionCurve(method="m", experiment="misclassified", deletion="unk", k=[0, 1],
                          accuracy=[None, None], n_texts=0, n_total=3)
    fig = plot_deletion_curves({"m": empty, "x": _curve([1.0, 0.5])}, band=0)
    assert len(fig.axes) == 2 and fig.axes[1].get_lines() == []
    with pytest.raises(InvalidArgumentError, match="at least one"):
        plot_deletion_curves({})
    with pytest.raises(InvalidArgumentError, match="DeletionCurve"):
        plot_deletion_curves({"x": [1.0, 0.5]})
