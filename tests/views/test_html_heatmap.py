"""HTML heatmaps: escaping (parsed, not grepped), cell colours, scaling, atomic save."""

import os
from html.parser import HTMLParser

import numpy as np
import pytest

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.views import Heatmap, HeatmapPage, diverging_rgb, resolve_vmax

HOSTILE = [
    "<script>document.title='pwned'</script>",
    '"><img src=x onerror=alert(1)>',
    "&amp;",
    "\u200f",
    "\U0001f600",
    "a'b\"c",
]


class _Collector(HTMLParser):
    """Collects every start tag and the text and style of each token span."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.tokens, self.styles, self.titles = [], [], [], []
        self._in_token = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "span" and attrs.get("class") == "ktl-tok":
            self._in_token = True
            self.tokens.append("")
            self.styles.append(dict(part.split(":") for part in attrs["style"].split(";")))
            self.titles.append(attrs["title"])

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_token = False

    def handle_data(self, data):
        if self._in_token:
            self.tokens[-1] += data


def _parse(html):
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


def test_hostile_tokens_round_trip_as_text():
    page = HeatmapPage([HOSTILE], [np.linspace(-1, 1, len(HOSTILE))], methods=["m<b>"], title="<i>t</i>")
    parsed = _parse(page.to_html())
    assert parsed.tokens == HOSTILE
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "b", "i", "link", "iframe", "object"}
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert "<i>t</i>" in [d for d in _all_text(page.to_html())]


def _all_text(html):
    texts = []

    class P(HTMLParser):
        def handle_data(self, data):
            texts.append(data)

    P(convert_charrefs=True).feed(html)
    return texts


def test_self_contained_no_external_resources():
    html = HeatmapPage([["a", "b"]], [[1.0, -1.0]]).to_html()
    parsed = _parse(html)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for _, attrs in parsed.tags:
        assert "src" not in attrs and "href" not in attrs
    assert "url(" not in html and "@import" not in html and "http" not in html.lower()
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html


def test_cell_colours():
    # scale "text": each cell's own max |score| is full colour
    page = HeatmapPage([["good", "bad", "the", "meh"]], [[2.0, -2.0, 0.0, -1.0]], legend=False)
    parsed = _parse(page.to_html())
    backgrounds = [style["background-color"] for style in parsed.styles]
    assert backgrounds == ["#ca0020", "#0571b0", "#ffffff", "#82b8d8"]  # -1 of 2: white + 0.5 (blue - white)
    assert [style["color"] for style in parsed.styles] == ["#ffffff", "#ffffff", "#000000", "#000000"]
    assert parsed.titles == ["+2", "-2", "+0", "-1"]


def test_scales():
    tokens = [["a"], ["b"]]
    scores = {"m1": [[1.0], [4.0]], "m2": [[-8.0], [2.0]]}
    colours = lambda page: [s["background-color"] for s in _parse(page.to_html()).styles]  # noqa: E731
    # table order: text 0 (m1, m2), text 1 (m1, m2)
    assert colours(HeatmapPage(tokens, scores, scale="text")) == ["#ca0020", "#0571b0", "#ca0020", "#ca0020"]
    shared = colours(HeatmapPage(tokens, scores, scale="shared"))  # vmax 8
    assert shared[1] == "#0571b0" and shared[0] == "#{:02x}{:02x}{:02x}".format(*diverging_rgb(1, 8))
    assert colours(HeatmapPage(tokens, scores, scale=2.0))[0] == "#{:02x}{:02x}{:02x}".format(
        *diverging_rgb(1, 2)
    )
    assert resolve_vmax(
        [[np.array([1.0]), np.array([-8.0])], [np.array([4.0]), np.array([2.0])]], "method"
    ) == [
        [4.0, 8.0],
        [4.0, 8.0],
    ]
    for bad in ("row", 0.0, -1.0, float("nan"), True):
        with pytest.raises(InvalidArgumentError, match="scale"):
            HeatmapPage(tokens, scores, scale=bad)


def test_colour_map_endpoints():
    assert diverging_rgb(0.0, 1.0) == (255, 255, 255)
    assert diverging_rgb(5.0, 1.0) == (202, 0, 32)
    assert diverging_rgb(-1.0, 1.0) == (5, 113, 176)
    assert diverging_rgb(0.3, 0.0) == (255, 255, 255)
    assert diverging_rgb(float("nan"), 1.0) == (200, 200, 200)


def test_table_and_grid_layouts_with_prediction_columns():
    page = HeatmapPage(
        [["good", "film"], ["bad"]],
        {"lrp.epsilon": [[1.0, 0.1], [-1.0]], "gradient": [[0.2, 0.3], [0.5]]},
        label_names=["neg", "pos"],
        pred=[1, 0],
        target=[1, "pos"],
        logits=[[-1.0, 2.5], [0.5, 0.25]],
    )
    parsed = _parse(page.to_html())
    text = _all_text(page.to_html())
    headers = ["#", "prediction", "explained", "logits", "lrp.epsilon", "gradient"]
    assert [t for t in text if t in headers] == headers
    assert "pos (1)" in text and "neg (0)" in text and "neg -1.00, pos +2.50" in text
    assert parsed.tokens == ["good", "film", "good", "film", "bad", "bad"]
    grid = HeatmapPage([["x"]], [[1.0]], methods=["m"], layout="grid", pred=[0], label_names=["neg", "pos"])
    assert "#0; prediction: neg (0)" in _all_text(grid.to_html())
    assert sum(1 for tag, attrs in _parse(grid.to_html()).tags if attrs.get("class") == "ktl-card") == 1


def test_heatmap_single_text_and_repr_html():
    heatmap = Heatmap(["a", "b"], np.array([0.5, -0.5]), method="lrp", pred="pos")
    fragment = heatmap._repr_html_()
    assert "<html" not in fragment and "<style>" in fragment
    assert _parse(fragment).tokens == ["a", "b"]
    assert "prediction" in _all_text(fragment)

    def legends(html):
        return sum(1 for _, attrs in _parse(html).tags if attrs.get("class") == "ktl-legend")

    assert legends(fragment) == 1
    assert legends(HeatmapPage([["a"]], [[1.0]], legend=False).to_html(False)) == 0


def test_shape_errors():
    with pytest.raises(
        InvalidArgumentError, match=r"text 1, method 'relevance': 1 tokens but scores of shape \(2,\)"
    ):
        HeatmapPage([["a"], ["b"]], [[1.0], [1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match="not strings"):
        HeatmapPage(["a b"], [[1.0]])
    with pytest.raises(InvalidArgumentError, match="pred has 1 entries for 2 texts"):
        HeatmapPage([["a"], ["b"]], [[1.0], [2.0]], pred=[1])
    with pytest.raises(InvalidArgumentError, match="2 methods but scores for 1"):
        HeatmapPage([["a"]], [[[1.0]]], methods=["x", "y"])
    with pytest.raises(InvalidArgumentError, match="layout"):
        HeatmapPage([["a"]], [[1.0]], layout="cards")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "page.html"
    page = HeatmapPage([["caf\u00e9", "\U0001f600"]], [[1.0, -1.0]])
    assert page.save(path) == path
    assert path.read_text(encoding="utf-8") == page.to_html()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        HeatmapPage([["other"]], [[1.0]]).save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
