"""Analyzers: a seed plus a mapping from layer kinds to rules."""

from keras_text_lrp.analyzers.attention import AttentionRollout, LastLayerAttention
from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.analyzers.gradient import (
    Deconvnet,
    Gradient,
    GuidedBackprop,
    InputTimesGradient,
    IntegratedGradients,
    SmoothGrad,
)
from keras_text_lrp.analyzers.lrp import (
    LRP,
    LSTMLRP,
    ZLRP,
    AlphaBetaLRP,
    AlphaOneBetaZeroIgnoreBiasLRP,
    AlphaOneBetaZeroLRP,
    AlphaTwoBetaOneIgnoreBiasLRP,
    AlphaTwoBetaOneLRP,
    DeepTaylor,
    EpsilonLRP,
    FlatLRP,
    SequentialPresetA,
    SequentialPresetB,
    WSquareLRP,
    ZPlusLRP,
)
from keras_text_lrp.analyzers.registry import ANALYZERS, create_analyzer, register_analyzer
from keras_text_lrp.analyzers.transformer import AttnLRP

__all__ = [
    "ANALYZERS", "Analyzer", "AttentionRollout", "AttnLRP", "AlphaBetaLRP", "AlphaOneBetaZeroIgnoreBiasLRP",
    "AlphaOneBetaZeroLRP",
    "AlphaTwoBetaOneIgnoreBiasLRP", "AlphaTwoBetaOneLRP", "Deconvnet", "DeepTaylor", "EpsilonLRP",
    "FlatLRP", "Gradient", "GuidedBackprop", "InputTimesGradient", "IntegratedGradients", "LRP", "LSTMLRP",
    "LastLayerAttention", "SequentialPresetA", "SequentialPresetB", "SmoothGrad", "WSquareLRP", "ZLRP",
    "ZPlusLRP",
    "create_analyzer", "register_analyzer",
]
