"""Views show the text as written (offsets, not tokenizer forms) and mark out-of-vocabulary words."""

import io
from html.parser import HTMLParser

import keras
import numpy as np
import pytest
from keras import layers as L

from keras_text_lrp import explain
from keras_text_lrp.text.vocab import Vocabulary
from keras_text_lrp.views import colorize
from keras_text_lrp.views.html import OOV_LEGEND

TEXT = 'He said "Great" (really) and zzyzx.'
WORDS = ["he", "said", "``", "''", "great", "-lrb-", "-rrb-", "really", "and", "."]


@pytest.fixture(scope="module")
def explanation():
    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int32")
    x = L.Embedding(len(WORDS) + 2, 4)(ids)
    model = keras.Model(ids, L.Dense(2)(L.GlobalAveragePooling1D()(x)))
    return explain(model, [TEXT], "gradient", vocabulary=Vocabulary(WORDS), lowercase=True)


def test_tokens_the_model_saw_are_not_what_is_shown(explanation):
    assert explanation.tokens[0] == [
        "he", "said", "``", "great", "''", "(", "really", ")", "and", "zzyzx", "."]
    shown = explanation.display_tokens[0]
    assert shown == ["He", "said", '"', "Great", '"', "(", "really", ")", "and", "zzyzx", "."]
    assert [TEXT[a:b] for a, b in explanation.offsets[0]] == shown
    assert explanation.oov[0] == [t == "zzyzx" for t in shown]
    assert explanation.to_records()[0]["oov"] == 1


class _Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tokens, self.classes, self.text = [], [], []
        self._open = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._open = tag == "span" and "data-score" in a
        if self._open:
            self.classes.append(a["class"].split())
            self.tokens.append("")

    def handle_endtag(self, tag):
        self._open = False

    def handle_data(self, data):
        self.text.append(data)
        if self._open:
            self.tokens[-1] += data


def test_html_shows_the_original_characters_and_marks_oov(explanation):
    parser = _Spans()
    parser.feed(explanation.heatmap().to_html())
    assert parser.tokens == explanation.display_tokens[0]
    assert [("ktl-oov" in c) for c in parser.classes] == explanation.oov[0]
    assert OOV_LEGEND in "".join(parser.text)


def test_terminal_shows_the_original_characters_and_marks_oov(explanation):
    plain = explanation.format(mode="plain")
    words = plain.split(" | ", 1)[1].split(" ")
    assert [w[: w.rindex("[")] for w in words] == [
        "He", "said", '"', "Great", '"', "(", "really", ")", "and", "~zzyzx", "."]
    coloured = explanation.format(mode="256")
    assert coloured.count("\x1b[4m") == 1 and "\x1b[4mzzyzx\x1b[0m" in coloured


def test_figure_tokens_read_back_and_oov_boxed(explanation):
    figure = explanation.plot()
    tokens = [t for t in figure.texts if t.get_gid() in ("token", "oov")]
    assert [t.get_text() for t in tokens] == explanation.display_tokens[0]
    boxed = [t.get_text() for t in tokens if t.get_gid() == "oov"]
    assert boxed == ["zzyzx"]
    edge = [t for t in tokens if t.get_gid() == "oov"][0].get_bbox_patch()
    assert edge.get_linestyle() == "--" and edge.get_linewidth() > 0
    legend = [t.get_text() for t in figure.texts if t.get_gid() == "oov-legend"]
    assert len(legend) == 1 and OOV_LEGEND in legend[0]
    figure.savefig(io.BytesIO(), format="png")  # it draws


def _cube(code: int) -> tuple[int, int, int]:
    assert 16 <= code < 232, code  # a colour of the 6x6x6 cube, not the grey ramp
    k = code - 16
    return k // 36, (k // 6) % 6, k % 6


@pytest.mark.parametrize("value", [0.002, 0.02, 0.1, 0.5, 1.0])
def test_weak_relevance_keeps_its_sign_in_256_colours(value):
    out = colorize(["pos", "neg"], [value, -value], vmax=1.0, mode="256")
    backgrounds = [int(part.split("m")[0]) for part in out.split("\x1b[48;5;")[1:]]
    (r, g, b), (r2, g2, b2) = (_cube(c) for c in backgrounds)
    assert r > b and r > g  # reddish
    assert b2 > r2  # bluish
    assert np.isfinite(value)


def test_zero_stays_white_in_256_colours():
    out = colorize(["zero"], [0.0], vmax=1.0, mode="256")
    assert out.startswith("\x1b[48;5;231m")  # white (5, 5, 5) of the cube
