"""Matplotlib figures: words on coloured boxes, checked by pixel colour."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.views import plot_heatmap, plot_text_heatmap


def _pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)


def _red(img):
    return (img[..., 0] > 170) & (img[..., 1] < 60) & (img[..., 2] < 80)


def _blue(img):
    return (img[..., 2] > 140) & (img[..., 0] < 60) & (img[..., 1] < 140)


def test_two_words_red_then_blue():
    fig = plot_text_heatmap(["good", "bad"], [1.0, -1.0], colorbar=False, width=4)
    assert isinstance(fig, Figure)
    img = _pixels(fig)
    red_x = np.nonzero(_red(img))[1]
    blue_x = np.nonzero(_blue(img))[1]
    assert red_x.size > 50 and blue_x.size > 50
    assert red_x.max() < blue_x.min()


def test_texts_with_dollars_are_not_mathtext_and_wrap():
    tokens = ["$x$", "cost", "$5", "_under_", "^hat"] * 20
    fig = plot_text_heatmap(tokens, np.linspace(-1, 1, len(tokens)), title="t", width=5)
    texts = [t.get_text() for t in fig.texts]
    assert texts[0] == "t" and texts[1:] == tokens
    ys = sorted({round(t.get_position()[1], 4) for t in fig.texts[1:]})
    assert len(ys) > 3  # wrapped into several lines
    _pixels(fig)  # draws without a mathtext error


def test_many_texts_and_methods():
    fig = plot_heatmap(
        [["a", "b"], ["c"]], {"lrp": [[1.0, -1.0], [0.5]], "grad": [[0.0, 2.0], [-1.0]]}, scale="shared"
    )
    heads = [t.get_text() for t in fig.texts if t.get_fontproperties().get_weight() == "bold"]
    assert heads == ["#0 \u2013 lrp", "#0 \u2013 grad", "#1 \u2013 lrp", "#1 \u2013 grad"]
    assert len(fig.axes) == 1  # the colour bar
    with pytest.raises(InvalidArgumentError, match="titles"):
        plot_heatmap([["a"]], [[1.0]], titles=["x", "y"])
