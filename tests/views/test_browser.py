"""Render heatmap pages in headless Chromium: colours where they belong, hostile tokens inert."""

import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.image import imread

from keras_text_lrp.views import HeatmapPage

CHROMIUM = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (path := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (install Debian's chromium: apt-get install chromium)",
)

HOSTILE = [
    "<script>document.title='pwned'</script>",
    '"><img src=x onerror=alert(1)>',
    "&amp;",
    "\u200f",
    "\U0001f600",
]


def _chromium(tmp_path, *args):
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _screenshot(tmp_path, page, size="600,200"):
    html = tmp_path / "page.html"
    png = tmp_path / "shot.png"
    page.save(html)
    _chromium(tmp_path, f"--screenshot={png}", f"--window-size={size}", html.as_uri())
    image = imread(png)[..., :3]
    return np.round(image * 255).astype(int) if image.dtype != np.uint8 else image.astype(int)


def test_positive_word_red_negative_word_blue(tmp_path):
    page = HeatmapPage([["GOODGOOD", "BADBADBAD"]], [[3.0, -3.0]], legend=False)
    img = _screenshot(tmp_path, page)
    assert (img < 250).any(axis=-1).sum() > 500  # not blank
    red = (img[..., 0] > 170) & (img[..., 1] < 60) & (img[..., 2] < 80)  # ~ (202, 0, 32)
    blue = (img[..., 2] > 140) & (img[..., 0] < 60) & (img[..., 1] < 140)  # ~ (5, 113, 176)
    red_x, blue_x = np.nonzero(red)[1], np.nonzero(blue)[1]
    assert red_x.size > 100 and blue_x.size > 100
    assert red_x.max() < blue_x.min()  # the red word is left of the blue word
    width = img.shape[1]
    assert red_x.mean() < width / 2 and (red_x.max() < blue_x.mean())


def test_hostile_tokens_render_as_text_and_no_script_runs(tmp_path):
    page = HeatmapPage([HOSTILE], [np.linspace(-1, 1, len(HOSTILE))], title="safe")
    html = tmp_path / "page.html"
    page.save(html)
    dom = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=2000", html.as_uri())

    class Dom(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tags, self.title, self.tokens = [], [], []
            self._where = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.tags.append((tag, attrs))
            if tag == "title":
                self._where = "title"
            elif tag == "span" and attrs.get("class") == "ktl-tok":
                self._where = "token"
                self.tokens.append("")

        def handle_endtag(self, tag):
            self._where = None

        def handle_data(self, data):
            if self._where == "title":
                self.title.append(data)
            elif self._where == "token":
                self.tokens[-1] += data

    parsed = Dom()
    parsed.feed(dom)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags and "img" not in tags
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert "".join(parsed.title) == "safe"  # the script token did not set document.title
    assert parsed.tokens == HOSTILE
    img = _screenshot(tmp_path, page, size="900,300")
    assert (img < 250).any(axis=-1).sum() > 500  # the page (tokens as text) is drawn
