"""Fixtures of the core-analyzer suite (tests/core).

The helpers and model builders live in ``core_support.py`` and the numpy
reference in ``reference.py``; this folder is put on sys.path so that the test
modules can import both by name.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session")
def ktl():
    """The library under test (the suite is skipped while it cannot be imported)."""
    return pytest.importorskip("keras_text_lrp")
