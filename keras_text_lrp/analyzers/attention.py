"""Attention baselines: last-layer attention and attention rollout (SEMANTICS.md, "Attention baselines").

Not relevance methods but what transformer explanations are usually compared
against (Ali et al. 2022, Table 2; Abnar and Zuidema 2020). Both read the
attention probabilities ``p`` (``(batch, heads, T, S)``) that the engine's
forward pass computes for every ``MultiHeadAttention`` call (the layer's own
masked softmax, with its masks; dropout off):

- ``attention.last_layer``: ``A = mean_heads(p)`` of the last attention call.
- ``attention.rollout`` (Abnar and Zuidema 2020): per call
  ``A'_l = 0.5 * (mean_heads(p_l) + I)``, rows renormalised to sum 1, and
  ``A = A'_L ... A'_2 A'_1`` (first call innermost): row ``t`` of ``A`` says
  how much of the last layer's position ``t`` comes from each input token.

The score of token ``s`` is the row of ``A`` the classifier reads
(``readout``): ``"mean"`` (default) averages the rows of the non-padding
query positions, for models that pool over positions
(``GlobalAveragePooling1D``, as the shipped ``sst2-transformer`` and the Keras
transformer example); ``"first"`` takes row 0, for a ``[CLS]`` classifier.
Padding positions get exactly 0. The scores do not depend on the explained
class.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.engine import GRADIENT, Composite
from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError

__all__ = ["READOUTS", "AttentionBaseline", "LastLayerAttention", "AttentionRollout"]

READOUTS = ("mean", "first")
"""Which attention row is the classifier's: the mean of the real positions' rows, or row 0."""


class AttentionBaseline(Analyzer):
    """Base of the attention baselines: per-token attention scores from the forward pass.

    Parameters
    ----------
    model : keras.Model
        A token model with at least one ``MultiHeadAttention`` self-attention
        call over the token positions.
    readout : {"mean", "first"}
        ``"mean"``: the mean of the attention rows of the non-padding
        positions (models pooling over positions); ``"first"``: row 0 (a
        ``[CLS]`` token read by the classifier).
    **kwargs
        See :class:`~keras_text_lrp.analyzers.base.Analyzer`.

    Notes
    -----
    :meth:`analyze` returns ``(batch, T, D)`` like the other analyzers of token
    models, with the token's score in embedding dimension 0 and zeros in the
    others, so that every word pooling (``sum``, ``max_abs``, ``l2`` of the
    non-negative scores) and :func:`keras_text_lrp.explain` give exactly the
    attention score per token.
    """

    def __init__(self, model: Any, readout: str = "mean", **kwargs: Any):
        if readout not in READOUTS:
            raise InvalidArgumentError(f"readout must be one of {READOUTS}, got {readout!r}.")
        self.readout = readout
        super().__init__(model, **kwargs)
        kinds = self._engine.kinds
        self._attention_steps = [s for s in self._engine.graph.steps if kinds.get(s) == "attention"]
        if not self._attention_steps:
            raise InvalidModelError(
                f"{type(self).__name__} needs a model with a MultiHeadAttention layer; model "
                f"{model.name!r} has none."
            )

    def composite(self) -> Composite:
        # Nothing is propagated back; the gradient composite only serves the base class's checks.
        return GRADIENT

    def _attention(self, p: Any) -> Any:
        """``mean_heads(p)``, ``(batch, T, S)``, checked to be a self-attention over the tokens."""
        if len(p.shape) != 4 or (p.shape[-1] is not None and p.shape[-2] is not None
                                 and p.shape[-1] != p.shape[-2]):
            raise InvalidModelError(
                f"{type(self).__name__} reads self-attention over one sequence axis, but an attention "
                f"call has probabilities of shape {tuple(p.shape)} (batch, heads, T, S) with T != S."
            )
        return ops.mean(p, axis=1)

    def _combined(self, probabilities: list) -> Any:
        """The ``(batch, T, S)`` attention map of the method from every call's ``p``, first to last."""
        raise NotImplementedError

    def _explain(self, points: list, masks: list, selection: Any, extra: dict) -> list:
        record = self._engine.forward(points, masks)
        probabilities = [record["steps"][s].extra["p"] for s in self._attention_steps]
        a = self._combined(probabilities)
        x = points[0]
        mask = masks[0]
        if mask is None:
            keep = ops.ones(ops.shape(x)[:2], a.dtype)
        else:
            keep = ops.cast(mask, a.dtype)
        if a.shape[-1] is not None and x.shape[1] is not None and a.shape[-1] != x.shape[1]:
            raise InvalidModelError(
                f"the attention covers {a.shape[-1]} positions but the token input has {x.shape[1]}; "
                f"{type(self).__name__} reads attention over the token positions."
            )
        if self.readout == "first":
            score = a[:, 0, :]
        else:  # the mean of the rows of the real (non-padding) query positions
            rows = ops.sum(a * ops.expand_dims(keep, -1), axis=1)
            score = rows / ops.maximum(ops.sum(keep, axis=1, keepdims=True), 1.0)
        score = score * keep
        # The score in embedding dimension 0, zeros elsewhere: every word pooling gives the score.
        first = ops.one_hot(ops.zeros((), "int32"), ops.shape(x)[-1], dtype=x.dtype)
        out = [ops.expand_dims(ops.cast(score, x.dtype), -1) * first]
        return out + [ops.zeros_like(p) for p in points[1:]]


class LastLayerAttention(AttentionBaseline):
    """``attention.last_layer``: the head-averaged attention of the last ``MultiHeadAttention`` call.

    Examples
    --------
    >>> create_analyzer("attention.last_layer", model).analyze(ids)  # (batch, T, D)  # doctest: +SKIP
    """

    def _combined(self, probabilities: list) -> Any:
        return self._attention(probabilities[-1])


class AttentionRollout(AttentionBaseline):
    """``attention.rollout``: attention rollout (Abnar and Zuidema 2020).

    ``A'_l = 0.5 * (mean_heads(p_l) + I)`` with rows renormalised, multiplied
    over the attention calls in graph order, ``A = A'_L ... A'_1``.

    Examples
    --------
    >>> create_analyzer("attention.rollout", model).analyze(ids)  # (batch, T, D)  # doctest: +SKIP
    """

    def _combined(self, probabilities: list) -> Any:
        rollout = None
        for p in probabilities:
            a = self._attention(p)
            eye = ops.eye(ops.shape(a)[-1], dtype=a.dtype)
            a = 0.5 * (a + eye)  # the residual connection, as Abnar and Zuidema model it
            a = a / ops.sum(a, axis=-1, keepdims=True)
            rollout = a if rollout is None else ops.matmul(a, rollout)
        return rollout
