"""Layer-wise relevance propagation analyzers (SEMANTICS.md, "Linear layers").

Each analyzer starts from the selected logit's value and names the rule for
linear layers; weightless layers take the shared rules (winner takes all for
max pooling, proportional split for sums, routing for reshapes), activations
pass relevance through.
"""

from __future__ import annotations

from typing import Any

from keras import layers as kl

from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.engine import Composite
from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.rules.activation import ActivationPass, ReLUMask
from keras_text_lrp.rules.attention import AttentionRule, check_attention_calls, check_attention_rule
from keras_text_lrp.rules.linear import AlphaBetaRule, EpsilonRule, FlatRule, WSquareRule, ZRule
from keras_text_lrp.rules.normalization import NormalizationRule
from keras_text_lrp.rules.recurrent import (
    RecurrentRule,
    check_gate_rule,
    check_recurrent_calls,
    is_factory,
)

__all__ = [
    "LRP",
    "ZLRP",
    "EpsilonLRP",
    "AlphaBetaLRP",
    "AlphaTwoBetaOneLRP",
    "AlphaTwoBetaOneIgnoreBiasLRP",
    "AlphaOneBetaZeroLRP",
    "AlphaOneBetaZeroIgnoreBiasLRP",
    "ZPlusLRP",
    "WSquareLRP",
    "FlatLRP",
    "SequentialPresetA",
    "SequentialPresetB",
    "DeepTaylor",
    "LSTMLRP",
]


class LRP(Analyzer):
    """Base of the LRP analyzers: seed = the selected logit, one rule for linear layers.

    Recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional) take LSTM-aware LRP
    (:class:`~keras_text_lrp.rules.recurrent.RecurrentRule`); inside their cells
    the linear maps use the analyzer's linear rule (epsilon analyzers: epsilon
    with their ``epsilon``/``bias_factor``, also for the cell-state sums;
    ``lrp.z``: the z rule; the alpha-beta family, ``z_plus`` and
    ``deep_taylor``: alpha-beta; ``w_square``/``flat``: themselves; the
    sequential presets: epsilon 0.1), and the sums are split by the z rule
    for every non-epsilon analyzer.

    Parameters
    ----------
    model : keras.Model
    rule : callable
        The rule for linear layers (see :mod:`keras_text_lrp.rules.linear`),
        or a callable ``layer -> rule`` choosing per layer.
    gate_rule : {"signal_take_all", "proportional", "abs", "half"}
        How recurrent cells share the relevance of a product ``gate * signal``
        (SEMANTICS.md, "Recurrent layers"); the default gives the gate nothing.
    attention_rule : {"cp", "attnlrp"}
        How ``MultiHeadAttention`` passes relevance (SEMANTICS.md, "Transformer
        layers"): ``"cp"`` (default) holds the attention probabilities constant,
        ``"attnlrp"`` splits the products and takes the softmax by its Taylor rule.
        LayerNormalization/RMSNormalization take the epsilon rule with ``1/std``
        held constant either way.
    **kwargs
        See :class:`~keras_text_lrp.analyzers.base.Analyzer`.
    """

    output_seed = "logit"

    def __init__(
        self, model: Any, rule: Any = None, gate_rule: str = "signal_take_all", attention_rule: str = "cp",
        **kwargs: Any,
    ):
        self.gate_rule = check_gate_rule(gate_rule)
        self.attention_rule = check_attention_rule(attention_rule)
        self._linear = rule if rule is not None else self.linear_rule()
        super().__init__(model, **kwargs)
        # Refuse unsupported recurrent layers (and linear rules with no cell
        # counterpart) now rather than inside the traced analysis.
        for layer in check_recurrent_calls(self._engine.graph, self._engine.kinds, self._output_key):
            self.recurrent_rule(layer)
        check_attention_calls(self._engine.graph, self._engine.kinds, self._output_key)

    def linear_rule(self) -> Any:
        """The rule for linear layers (subclasses)."""
        raise NotImplementedError

    def recurrent_rule(self, layer: Any) -> Any:
        """The rule for recurrent layers: LSTM-aware LRP around this analyzer's linear rule."""
        linear = self._linear(layer) if is_factory(self._linear) else self._linear
        return RecurrentRule(linear, gate_rule=self.gate_rule)

    def recurrent_forward(self, layer: Any, xs: list, masks: list) -> Any:
        """Run a recurrent layer in the forward pass, keeping its states for the rule."""
        return self.recurrent_rule(layer).forward(layer, xs, masks)

    def transformer_rules(self) -> dict:
        """The rules for attention and normalization layers (SEMANTICS.md, "Transformer layers")."""
        eps = getattr(self, "epsilon", None)
        eps = 1e-7 if eps is None else eps
        return {
            "attention": AttentionRule(self._linear, self.attention_rule, eps),
            "normalization": NormalizationRule(eps, getattr(self, "bias_factor", 0.0)),
        }

    def composite(self) -> Composite:
        return Composite(
            linear=self._linear, activation=ActivationPass(), recurrent=self.recurrent_rule,
            recurrent_forward=self.recurrent_forward, **self.transformer_rules(),
        )


class ZLRP(LRP):
    """``lrp.z``: ``R_i = sum_j x_i w_ij / z_j R_j``."""

    def linear_rule(self) -> Any:
        return ZRule()


class EpsilonLRP(LRP):
    """``lrp.epsilon``: the z rule with a stabiliser (SEMANTICS.md).

    Parameters
    ----------
    model : keras.Model
    epsilon : float
        The stabiliser ``eps`` in ``z + eps*sign(z)`` (default 1e-7).
    bias_factor : float
        The share of bias and stabiliser spread over the inputs: 0 (default)
        equals iNNvestigate's epsilon rule; 1 conserves relevance exactly.
    """

    def __init__(self, model: Any, epsilon: float = 1e-7, bias_factor: float = 0.0, **kwargs: Any):
        self.epsilon, self.bias_factor = epsilon, bias_factor
        super().__init__(model, **kwargs)

    def linear_rule(self) -> Any:
        return EpsilonRule(self.epsilon, self.bias_factor)


class AlphaBetaLRP(LRP):
    """``lrp.alpha_beta``: activators weighted by ``alpha``, inhibitors by ``beta``.

    Parameters
    ----------
    model : keras.Model
    alpha, beta : float, optional
        With ``alpha - beta = 1``; give one and the other follows.
    bias : bool
        Whether the bias parts join the denominators (False: the ``_IB`` rules).
    """

    def __init__(
        self, model: Any, alpha: float | None = None, beta: float | None = None, bias: bool = True,
        **kwargs: Any,
    ):
        if alpha is None and beta is None:
            raise InvalidArgumentError(
                "AlphaBetaLRP needs alpha or beta (alpha - beta = 1), e.g. alpha=2, beta=1."
            )
        self.alpha = float(alpha) if alpha is not None else float(beta) + 1.0
        self.beta = float(beta) if beta is not None else self.alpha - 1.0
        self.bias = bias
        super().__init__(model, **kwargs)

    def linear_rule(self) -> Any:
        return AlphaBetaRule(self.alpha, self.beta, self.bias)


def _preset(name: str, alpha: float, beta: float, bias: bool, doc: str) -> type:
    def __init__(self, model: Any, **kwargs: Any):
        AlphaBetaLRP.__init__(self, model, alpha=alpha, beta=beta, bias=bias, **kwargs)

    return type(name, (AlphaBetaLRP,), {"__init__": __init__, "__doc__": doc})


AlphaTwoBetaOneLRP = _preset("AlphaTwoBetaOneLRP", 2.0, 1.0, True, "``lrp.alpha_2_beta_1``.")
AlphaTwoBetaOneIgnoreBiasLRP = _preset(
    "AlphaTwoBetaOneIgnoreBiasLRP", 2.0, 1.0, False, "``lrp.alpha_2_beta_1_IB``: bias ignored."
)
AlphaOneBetaZeroLRP = _preset("AlphaOneBetaZeroLRP", 1.0, 0.0, True, "``lrp.alpha_1_beta_0``.")
AlphaOneBetaZeroIgnoreBiasLRP = _preset(
    "AlphaOneBetaZeroIgnoreBiasLRP", 1.0, 0.0, False, "``lrp.alpha_1_beta_0_IB``: bias ignored."
)


class ZPlusLRP(LRP):
    """``lrp.z_plus``: alpha 1, beta 0, bias ignored (the ``x- W-`` term stays)."""

    def linear_rule(self) -> Any:
        return AlphaBetaRule(1.0, 0.0, bias=False)


class WSquareLRP(LRP):
    """``lrp.w_square``: relevance spread in proportion to squared weights."""

    def linear_rule(self) -> Any:
        return WSquareRule()


class FlatLRP(LRP):
    """``lrp.flat``: relevance spread evenly over each unit's inputs."""

    def linear_rule(self) -> Any:
        return FlatRule()


_CONV = tuple(
    getattr(kl, n)
    for n in (
        "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
        "SeparableConv2D",
    )
    if hasattr(kl, n)
)


class _SequentialPreset(LRP):
    conv_alpha: float = 1.0

    def __init__(self, model: Any, epsilon: float = 0.1, **kwargs: Any):
        self.epsilon = epsilon
        super().__init__(model, **kwargs)

    def linear_rule(self) -> Any:
        conv = AlphaBetaRule(self.conv_alpha, self.conv_alpha - 1.0, bias=True)
        dense = EpsilonRule(self.epsilon)
        return lambda layer: conv if isinstance(layer, _CONV) else dense


class SequentialPresetA(_SequentialPreset):
    """``lrp.sequential_preset_a``: conv layers alpha1-beta0, the rest epsilon 0.1."""

    conv_alpha = 1.0


class SequentialPresetB(_SequentialPreset):
    """``lrp.sequential_preset_b``: conv layers alpha2-beta1, the rest epsilon 0.1."""

    conv_alpha = 2.0


class DeepTaylor(LRP):
    """``deep_taylor``: z_plus on every linear layer, ReLUs by the gradient, seed ``relu(logit)``."""

    output_seed = "relu_logit"

    def linear_rule(self) -> Any:
        return AlphaBetaRule(1.0, 0.0, bias=False)

    def composite(self) -> Composite:
        return Composite(
            linear=self._linear, activation=ReLUMask(), recurrent=self.recurrent_rule,
            recurrent_forward=self.recurrent_forward, **self.transformer_rules(),
        )


class LSTMLRP(EpsilonLRP):
    """``lrp.lstm``: LSTM-aware LRP with the defaults of Arras et al. (2017).

    The epsilon rule with ``epsilon=1e-3`` and ``bias_factor=0`` for linear
    layers and inside recurrent cells, and ``gate_rule="signal_take_all"``
    (gates get no relevance). Any option can be overridden.

    Parameters
    ----------
    model : keras.Model
    epsilon : float
    bias_factor : float
    gate_rule : {"signal_take_all", "proportional", "abs", "half"}
    **kwargs
        See :class:`~keras_text_lrp.analyzers.base.Analyzer`.

    Examples
    --------
    >>> analyzer = LSTMLRP(model)  # doctest: +SKIP
    >>> relevance = analyzer.analyze(token_ids)  # (batch, T, D)  # doctest: +SKIP
    """

    def __init__(
        self, model: Any, epsilon: float = 1e-3, bias_factor: float = 0.0,
        gate_rule: str = "signal_take_all", **kwargs: Any,
    ):
        super().__init__(model, epsilon=epsilon, bias_factor=bias_factor, gate_rule=gate_rule, **kwargs)
