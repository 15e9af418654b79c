"""Relevance rules, one module per family (linear, pooling, merge, normalization,
activation, recurrent); ``base`` holds the protocol and the shared rules."""

from keras_text_lrp.rules.activation import (
    ActivationGradient,
    ActivationPass,
    DeconvReLU,
    GuidedReLU,
    ReLUMask,
)
from keras_text_lrp.rules.base import PassThrough, Route, Rule, safe_divide, sign, stabilize
from keras_text_lrp.rules.linear import (
    AlphaBetaRule,
    EpsilonRule,
    FlatRule,
    LinearForm,
    LinearGradient,
    WSquareRule,
    ZRule,
    linear_form,
)
from keras_text_lrp.rules.merge import Proportional
from keras_text_lrp.rules.pooling import AveragePoolingRule, WinnerTakesAll
from keras_text_lrp.rules.recurrent import GATE_RULES, RecurrentRule

__all__ = [
    "ActivationGradient", "ActivationPass", "AlphaBetaRule", "AveragePoolingRule", "DeconvReLU",
    "EpsilonRule", "FlatRule", "GATE_RULES", "GuidedReLU", "LinearForm", "LinearGradient", "PassThrough",
    "Proportional", "RecurrentRule", "ReLUMask", "Route", "Rule", "WSquareRule", "WinnerTakesAll", "ZRule",
    "linear_form", "safe_divide", "sign", "stabilize",
]
