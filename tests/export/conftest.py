"""Fixtures of tests/export; the models and helpers are in ``export_helpers.py``."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from export_helpers import WORDS  # noqa: E402

from keras_text_lrp.text import Vocabulary  # noqa: E402


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    """The tiny vocabulary (:data:`export_helpers.WORDS`)."""
    return Vocabulary(WORDS)
