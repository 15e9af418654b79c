"""keras_text_lrp: explanation analyzers for Keras 3 text classifiers.

>>> import keras_text_lrp as ktl
>>> analyzer = ktl.create_analyzer("lrp.epsilon", model)  # doctest: +SKIP
>>> relevance = analyzer.analyze(token_ids)               # (batch, T, D)  # doctest: +SKIP

The public names are imported on first use (module ``__getattr__``), so that
``import keras_text_lrp`` and the command line tool's ``--help`` and usage
errors do not pay for importing Keras and TensorFlow.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
import sys as _sys
import types as _types
from typing import Any as _Any

# Quieten TensorFlow's C++ start-up logging unless the user chose a level. It must be set before
# TensorFlow is first imported (through Keras, on the first use of an analyzer).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_text_lrp.errors import (  # noqa: E402 - light, no Keras
    InvalidArgumentError,
    InvalidInputError,
    InvalidModelError,
    KerasTextLRPError,
    UnsupportedLayerError,
)

__version__ = "0.1.0"

# name -> module that defines it (imported on first access).
_LAZY = {
    "Analyzer": "keras_text_lrp.analyzers",
    "ANALYZERS": "keras_text_lrp.analyzers",
    "create_analyzer": "keras_text_lrp.analyzers",
    "register_analyzer": "keras_text_lrp.analyzers",
    "Explanation": "keras_text_lrp.explain",
    "explain": "keras_text_lrp.explain",
    "register_linear": "keras_text_lrp.layers",
    "register_rule": "keras_text_lrp.layers",
    "model_wo_softmax": "keras_text_lrp.model_tools",
}
_ANALYZER_MODULE = "keras_text_lrp.analyzers"


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None and name in __all__:  # an analyzer class
        module = _ANALYZER_MODULE
    if module is None:
        try:  # a submodule (keras_text_lrp.models, ...)
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


class _Package(_types.ModuleType):
    """The package module: ``keras_text_lrp.explain`` stays the function.

    Importing the submodule ``keras_text_lrp.explain`` makes Python set the
    package attribute ``explain`` to that module, which would hide the lazily
    imported function of the same name (``ktl.explain(...)`` would then call a
    module).
    """

    def __setattr__(self, name: str, value: _Any) -> None:
        if name == "explain" and isinstance(value, _types.ModuleType):
            value = value.explain
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ANALYZERS", "Analyzer", "AlphaBetaLRP", "AlphaOneBetaZeroIgnoreBiasLRP", "AlphaOneBetaZeroLRP",
    "AlphaTwoBetaOneIgnoreBiasLRP", "AlphaTwoBetaOneLRP", "Deconvnet", "DeepTaylor", "EpsilonLRP",
    "Explanation", "FlatLRP", "Gradient", "GuidedBackprop", "InputTimesGradient", "IntegratedGradients",
    "InvalidArgumentError", "InvalidInputError", "InvalidModelError", "KerasTextLRPError", "LRP",
    "LSTMLRP", "SequentialPresetA", "SequentialPresetB", "SmoothGrad", "UnsupportedLayerError",
    "WSquareLRP", "ZLRP", "ZPlusLRP", "create_analyzer", "explain", "model_wo_softmax",
    "register_analyzer", "register_linear", "register_rule",
]
