"""The transformer suite (tests/transformers): MultiHeadAttention and LayerNorm/RMSNorm LRP rules
against float64 numpy references (``reference.py``), conservation, masking, the Keras transformer
example. Run it under both backends::

    KERAS_BACKEND=tensorflow python -m pytest tests/transformers -q
    KERAS_BACKEND=jax python -m pytest tests/transformers -q
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
