"""Rules for pooling layers.

Max pooling (local and global) sends all relevance of a window to its
maximum: winner takes all, which is the gradient's routing. Average pooling
splits relevance in proportion to the inputs, like ``Add``.
"""

from __future__ import annotations

from keras_text_lrp.rules.base import Route
from keras_text_lrp.rules.merge import Proportional

__all__ = ["WinnerTakesAll", "AveragePoolingRule"]


class WinnerTakesAll(Route):
    """All relevance of a pooling window to the window's maximum."""


class AveragePoolingRule(Proportional):
    """``R_i = x_i / sum(x) R`` over each pooling window."""
