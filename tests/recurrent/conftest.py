"""The recurrent suite (tests/recurrent): LSTM-aware LRP against a float64 numpy
reference. Run it under both backends::

    KERAS_BACKEND=tensorflow python -m pytest tests/recurrent -q
    KERAS_BACKEND=jax python -m pytest tests/recurrent -q

Helpers live in ``rnn_cases.py`` (model builders, tolerances); the reference in
``reference.py``, loaded as the module ``recurrent_reference``.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
