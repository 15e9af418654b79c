"""Views of word relevances: HTML heatmaps, terminal colours, matplotlib figures.

All views share one diverging colour map (blue negative, white 0, red
positive; :mod:`keras_text_lrp.views.colors`).
"""

from keras_text_lrp.views.colors import (
    NEGATIVE_RGB,
    POSITIVE_RGB,
    diverging_rgb,
    resolve_vmax,
    rgb_to_hex,
    text_rgb,
)
from keras_text_lrp.views.figure import plot_heatmap, plot_text_heatmap
from keras_text_lrp.views.html import Heatmap, HeatmapPage
from keras_text_lrp.views.terminal import color_mode, colorize, print_heatmap

__all__ = [
    "NEGATIVE_RGB",
    "POSITIVE_RGB",
    "Heatmap",
    "HeatmapPage",
    "color_mode",
    "colorize",
    "diverging_rgb",
    "plot_heatmap",
    "plot_text_heatmap",
    "print_heatmap",
    "resolve_vmax",
    "rgb_to_hex",
    "text_rgb",
]
