"""keras_text_lrp: explanation analyzers for Keras 3 text classifiers.

>>> import keras_text_lrp as ktl
>>> analyzer = ktl.create_analyzer("lrp.epsilon", model)  # doctest: +SKIP
>>> relevance = analyzer.analyze(token_ids)               # (batch, T, D)  # doctest: +SKIP
"""

import os as _os

# Quieten TensorFlow's C++ start-up logging unless the user chose a level. It must be set before
# TensorFlow is first imported, which for the command line tool (and `python -m keras_text_lrp`)
# happens right here, through Keras.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_text_lrp.analyzers import *  # noqa: F403
from keras_text_lrp.analyzers import __all__ as _analyzers_all
from keras_text_lrp.errors import (
    InvalidArgumentError,
    InvalidInputError,
    InvalidModelError,
    KerasTextLRPError,
    UnsupportedLayerError,
)
from keras_text_lrp.explain import Explanation, explain
from keras_text_lrp.layers import register_linear, register_rule
from keras_text_lrp.model_tools import model_wo_softmax

__version__ = "0.1.0"

__all__ = [
    *_analyzers_all,
    "Explanation",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidModelError",
    "KerasTextLRPError",
    "UnsupportedLayerError",
    "explain",
    "model_wo_softmax",
    "register_linear",
    "register_rule",
]
