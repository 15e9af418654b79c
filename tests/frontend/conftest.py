"""Small models of the kinds users write, with weights from a numpy rng (see frontend_models.py)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
