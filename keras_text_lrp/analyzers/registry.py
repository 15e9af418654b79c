"""Analyzers by iNNvestigate's names: ``create_analyzer(name, model, **kwargs)``."""

from __future__ import annotations

from typing import Any

from keras_text_lrp import checks
from keras_text_lrp.analyzers import attention as att
from keras_text_lrp.analyzers import gradient as g
from keras_text_lrp.analyzers import lrp
from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.analyzers.transformer import AttnLRP
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["ANALYZERS", "create_analyzer", "register_analyzer"]

#: name -> analyzer class, with iNNvestigate's names.
ANALYZERS: dict[str, type[Analyzer]] = {
    "gradient": g.Gradient,
    "input_t_gradient": g.InputTimesGradient,
    "integrated_gradients": g.IntegratedGradients,
    "smoothgrad": g.SmoothGrad,
    "guided_backprop": g.GuidedBackprop,
    "deconvnet": g.Deconvnet,
    "deep_taylor": lrp.DeepTaylor,
    "lrp.z": lrp.ZLRP,
    "lrp.epsilon": lrp.EpsilonLRP,
    "lrp.alpha_beta": lrp.AlphaBetaLRP,
    "lrp.alpha_2_beta_1": lrp.AlphaTwoBetaOneLRP,
    "lrp.alpha_2_beta_1_IB": lrp.AlphaTwoBetaOneIgnoreBiasLRP,
    "lrp.alpha_1_beta_0": lrp.AlphaOneBetaZeroLRP,
    "lrp.alpha_1_beta_0_IB": lrp.AlphaOneBetaZeroIgnoreBiasLRP,
    "lrp.z_plus": lrp.ZPlusLRP,
    "lrp.w_square": lrp.WSquareLRP,
    "lrp.flat": lrp.FlatLRP,
    "lrp.sequential_preset_a": lrp.SequentialPresetA,
    "lrp.sequential_preset_b": lrp.SequentialPresetB,
    "lrp.lstm": lrp.LSTMLRP,
    "lrp.attnlrp": AttnLRP,
    "attention.last_layer": att.LastLayerAttention,
    "attention.rollout": att.AttentionRollout,
}


def register_analyzer(name: str, cls: type[Analyzer]) -> None:
    """Make ``cls`` available to :func:`create_analyzer` as ``name``."""
    ANALYZERS[name] = cls


def create_analyzer(
    name: str, model: Any, neuron_selection_mode: str = "max_activation", **kwargs: Any
) -> Analyzer:
    """Create an analyzer by its iNNvestigate name.

    Parameters
    ----------
    name : str
        One of :data:`ANALYZERS` (e.g. ``"lrp.epsilon"``, ``"gradient"``).
    model : keras.Model
        A Functional or Sequential model ending in logits.
    neuron_selection_mode : {"max_activation", "index", "all"}
    **kwargs
        Options of the analyzer class (``epsilon``, ``bias_factor``, ``alpha``,
        ``beta``, ``steps``, ``reference_inputs``, ``augment_by_n``,
        ``noise_scale``, ``postprocess``, ``method``, ``gate_rule``, ...).

    Examples
    --------
    >>> analyzer = create_analyzer("lrp.epsilon", model, epsilon=1e-3)  # doctest: +SKIP
    >>> relevance = analyzer.analyze(token_ids)  # doctest: +SKIP
    """
    if name not in ANALYZERS:
        raise InvalidArgumentError(
            f"unknown analyzer {name!r}; the names are: {', '.join(sorted(ANALYZERS))}."
        )
    cls = ANALYZERS[name]
    checks.check_parameters(name, **kwargs)  # before any work on the model
    try:
        return cls(model, neuron_selection_mode=neuron_selection_mode, **kwargs)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        raise InvalidArgumentError(f"{name} ({cls.__name__}): {err}; see help({cls.__name__}).") from None
