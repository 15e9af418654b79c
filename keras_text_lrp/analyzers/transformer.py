"""The AttnLRP preset (SEMANTICS.md, "Transformer layers"; Achtibat et al. 2024)."""

from __future__ import annotations

from typing import Any

from keras_text_lrp.analyzers.lrp import EpsilonLRP

__all__ = ["AttnLRP"]


class AttnLRP(EpsilonLRP):
    """``lrp.attnlrp``: AttnLRP, with the epsilon rule on linear layers.

    ``MultiHeadAttention`` by ``attention_rule="attnlrp"``: the products
    ``q k^T`` and ``p v`` split evenly between their factors (epsilon rule),
    the softmax by ``R_s = s * (R_p - p * sum R_p)``; LayerNormalization and
    RMSNormalization by the epsilon rule with ``1/std`` held constant;
    elementwise activations pass relevance.

    Parameters
    ----------
    model : keras.Model
    epsilon : float
        The stabiliser of the linear layers and of the products (default 1e-7).
    bias_factor : float
        As for ``lrp.epsilon``: 0 absorbs biases, 1 spreads them over the inputs.
    **kwargs
        See :class:`~keras_text_lrp.analyzers.lrp.LRP` (``attention_rule`` may
        be overridden, e.g. ``"cp"``).

    Examples
    --------
    >>> analyzer = create_analyzer("lrp.attnlrp", model)  # doctest: +SKIP
    >>> relevance = analyzer.analyze(token_ids)  # (batch, T, D)  # doctest: +SKIP
    """

    def __init__(self, model: Any, epsilon: float = 1e-7, bias_factor: float = 0.0, **kwargs: Any):
        kwargs.setdefault("attention_rule", "attnlrp")
        super().__init__(model, epsilon=epsilon, bias_factor=bias_factor, **kwargs)
