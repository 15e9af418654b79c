"""Rules for Keras ``MultiHeadAttention`` and ``GroupQueryAttention`` (SEMANTICS.md,
"Transformer layers").

An attention call is expanded here into its parts, in ``keras.ops`` so that
it runs on every backend:

    q, k, v = Q(x_q), K(x_k), V(x_v)                  (EinsumDense projections)
    k, v = repeat(k), repeat(v)                        (GroupQueryAttention: each key/value head
                                                        serves num_query_heads / num_key_value_heads
                                                        query heads)
    s = einsum(k, q / sqrt(d))                         (scores, B N T S)
    p = masked_softmax(s, mask)                        (the layer's own softmax)
    c = einsum(p, v)                                   (context, B T N H)
    y = O(c)                                           (EinsumDense output)

A repeated key/value head is a copy: its relevance is the sum of its
copies' relevances. The mask is the layer's own: the Keras masks of query, value and key (from
``mask_zero``), ``attention_mask`` and ``use_causal_mask``, merged by the
layer's ``_compute_attention_mask``. The forward pass of the engine runs this
expansion (:func:`forward`) so that the rule reuses its intermediates, and the
gradient family differentiates the same expansion (:class:`AttentionGradient`).

Relevance (:class:`AttentionRule`): the projections take the analyzer's
linear rule; ``"cp"`` (Ali et al. 2022) holds ``p`` constant, so ``c = p v`` is
linear in ``v`` and all relevance goes to the values; ``"attnlrp"`` (Achtibat
et al. 2024) splits both products ``p v`` and ``q k^T`` evenly between their
factors with the epsilon rule and takes the softmax by its Taylor rule with
bias, ``R_s = s * (R_p - p * sum_S R_p)``.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import keras
from keras import ops

from keras_text_lrp import backend
from keras_text_lrp.errors import InvalidArgumentError, UnsupportedLayerError
from keras_text_lrp.rules.base import stabilize
from keras_text_lrp.rules.linear import linear_form

__all__ = ["ATTENTION_RULES", "AttentionRule", "AttentionGradient", "forward", "check_attention_calls",
           "check_attention_rule", "softmax_relevance"]

ATTENTION_RULES = ("cp", "attnlrp")


def check_attention_rule(rule: Any) -> str:
    """``rule`` if it names an attention rule, else a one-line error."""
    if rule not in ATTENTION_RULES:
        raise InvalidArgumentError(
            f"attention_rule must be one of {ATTENTION_RULES} ('cp': attention probabilities held "
            f"constant, Ali et al. 2022; 'attnlrp': Achtibat et al. 2024), got {rule!r}."
        )
    return rule


def _arguments(step: Any) -> dict:
    """The call's arguments by name: an int (the step input it reads) or the literal value."""
    if step._node is None:
        return {}
    args, kwargs = step._filled(list(range(len(step.inputs))))
    bound = inspect.signature(step.layer.call).bind(*args, **kwargs)
    return dict(bound.arguments)


def _grouped(layer: Any) -> bool:
    """Whether ``layer`` is a ``GroupQueryAttention`` (keys and values shared by groups of heads)."""
    return isinstance(layer, keras.layers.GroupQueryAttention)


def _check_layer(layer: Any) -> None:
    stock = keras.layers.GroupQueryAttention if _grouped(layer) else keras.layers.MultiHeadAttention
    if type(layer)._compute_attention is not stock._compute_attention or type(layer).call is not stock.call:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} of class {type(layer).__name__} overrides {stock.__name__}'s "
            "call or _compute_attention; keras_text_lrp's attention rules cover the stock computation "
            "only (the gradient family explains it by autodiff)."
        )
    if getattr(layer, "_use_gate", False) or getattr(layer, "use_gate", False):
        raise UnsupportedLayerError(
            f"{type(layer).__name__} {layer.name!r} has use_gate=True; the gated attention output has no "
            "LRP rule yet (the gradient family explains it by autodiff)."
        )


def _scores(layer: Any, k: Any, qs: Any) -> Any:
    """The attention scores ``(B, N, T, S)`` of keys ``k`` and scaled queries ``qs`` (the layer's einsum)."""
    if _grouped(layer):
        return ops.einsum(layer._dot_product_equation, qs, k)
    return ops.einsum(layer._dot_product_equation, k, qs)


def _repeated(layer: Any, x: Any) -> Any:
    """Key or value heads as the query heads see them (repeated for GroupQueryAttention)."""
    return ops.repeat(x, layer.num_repeats, axis=2) if _grouped(layer) else x


def _unrepeated(layer: Any, r: Any) -> Any:
    """The relevance of the key or value heads: each head's copies summed (``repeat``'s rule)."""
    if not _grouped(layer):
        return r
    shape = ops.shape(r)
    heads = layer.num_key_value_heads
    grouped = ops.reshape(r, (shape[0], shape[1], heads, layer.num_repeats, shape[3]))
    return ops.sum(grouped, axis=3)


def forward(step: Any, xs: list, masks: list) -> tuple[list, dict]:
    """Run a ``MultiHeadAttention`` call as its parts; return its outputs and the parts.

    Parameters
    ----------
    step : Step
        The layer call (its arguments name query, value, key, masks, options).
    xs, masks : list
        The values and Keras masks of the step's inputs.
    """
    layer = step.layer
    _check_layer(layer)
    a = _arguments(step)

    def slot(name):
        i = a.get(name)
        return (None, None) if not isinstance(i, int) else (xs[i], masks[i])

    query, query_mask = slot("query")
    value, value_mask = slot("value")
    key, key_mask = slot("key")
    separate_key = key is not None
    if not separate_key:
        key, key_mask = value, None  # Keras ignores the key mask when key is value
    attention_mask, _ = slot("attention_mask")
    mask = layer._compute_attention_mask(
        query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
        attention_mask=attention_mask, use_causal_mask=bool(a.get("use_causal_mask", False)),
    )
    q = layer._query_dense(query)
    k = _repeated(layer, layer._key_dense(key))
    v = _repeated(layer, layer._value_dense(value))
    scale = layer._inverse_sqrt_head_dim if _grouped(layer) else layer._inverse_sqrt_key_dim
    qs = ops.multiply(q, ops.cast(scale, q.dtype))
    s = _scores(layer, k, qs)
    p = layer._masked_softmax(s, mask)
    c = ops.einsum(layer._combine_equation, p, v)
    y = layer._output_dense(c)
    extra = {
        "query": query, "value": value, "key": key, "q": q, "k": k, "v": v, "qs": qs, "s": s, "p": p,
        "c": c, "index": {n: a.get(n) for n in ("query", "value", "key")}, "separate_key": separate_key,
    }
    ys = [y, p] if a.get("return_attention_scores") else [y]
    return ys, extra


def softmax_relevance(s: Any, p: Any, r_p: Any) -> Any:
    """AttnLRP's softmax rule: the Taylor rule at the scores with bias, ``R_s = s (R_p - p sum_S R_p)``.

    Per query row it loses ``sum_S R_p - sum_S R_s = sum_S R_p (1 + sum_S s p) - sum_S s R_p``:
    not conservative (SEMANTICS.md states the measured loss). Masked scores get
    exactly 0 since their ``p`` (and so ``R_p``) is 0.
    """
    return s * (r_p - p * ops.sum(r_p, axis=-1, keepdims=True))


def _dense_context(dense: Any, x: Any) -> Any:
    """What a linear rule needs of one EinsumDense call: input, pre-activation, form."""
    form = linear_form(dense)
    return SimpleNamespace(xs=[x], z=form.z(x), form=form, nonnegative=[False], layer=dense)


def _product(fn: Any, a: Any, b: Any, out: Any, r: Any, epsilon: float, share: float) -> tuple:
    """Both factors' relevance of ``out = fn(a, b)``: ``x * (d out/dx)^T (share * r / stab(out))``."""
    _, pull = backend.vjp(fn, a, b)
    ga, gb = pull(share * r / stabilize(out, epsilon))
    return a * ga, b * gb


class AttentionRule:
    """LRP through a ``MultiHeadAttention`` call.

    Parameters
    ----------
    linear : rule, or callable ``layer -> rule``
        The analyzer's rule for the Q, K, V and output projections.
    mode : {"cp", "attnlrp"}
        ``"cp"``: probabilities constant, relevance to the values only.
        ``"attnlrp"``: uniform epsilon split of ``p v`` and ``q k^T``, softmax
        by ``R_s = s * (R_p - p * sum R_p)``.
    epsilon : float
        The stabiliser of the products' denominators.
    """

    def __init__(self, linear: Any, mode: str = "cp", epsilon: float = 1e-7):
        self.linear = linear
        self.mode = check_attention_rule(mode)
        self.epsilon = float(epsilon)

    def _linear(self, dense: Any, x: Any, r: Any) -> Any:
        rule = self.linear(dense) if isinstance(self.linear, type(lambda: 0)) else self.linear
        return rule(_dense_context(dense, x), [r])[0]

    def __call__(self, ctx: Any, relevances: list) -> list:
        layer, e = ctx.layer, ctx.extra
        r_c = self._linear(layer._output_dense, e["c"], relevances[0])
        p, v = e["p"], e["v"]

        def combine(p_, v_):
            return ops.einsum(layer._combine_equation, p_, v_)

        if self.mode == "cp":
            # p held constant: c is linear in v; each context unit hands its relevance to v.
            _, pull = backend.vjp(lambda v_: combine(p, v_), v)
            r_v = v * pull(r_c / stabilize(e["c"], self.epsilon))[0]
            r_q = r_k = None
        else:
            r_p, r_v = _product(combine, p, v, e["c"], r_c, self.epsilon, 0.5)
            # Softmax: the Taylor rule at the scores, with bias (absorbs sum_S s p * sum_S R_p).
            s = e["s"]
            r_s = softmax_relevance(s, p, r_p)
            r_k, r_qs = _product(lambda k_, q_: _scores(layer, k_, q_), e["k"], e["qs"], s, r_s,
                                 self.epsilon, 0.5)
            r_q = r_qs  # q / sqrt(d): a one-input linear map hands its input everything
        out: list = [None] * len(ctx.xs)
        index = e["index"]
        out[index["value"]] = self._linear(layer._value_dense, e["value"], _unrepeated(layer, r_v))
        if r_q is not None:
            out[index["query"]] = self._linear(layer._query_dense, e["query"], r_q)
            rk = self._linear(layer._key_dense, e["key"], _unrepeated(layer, r_k))
            slot = index["key"] if e["separate_key"] else index["value"]
            out[slot] = rk if out[slot] is None else out[slot] + rk
        return out


class AttentionGradient:
    """The gradient through the expansion of :func:`forward` (equal to the layer's own)."""

    def __call__(self, ctx: Any, relevances: list) -> list:
        return ctx.pullback(relevances)


def check_attention_calls(graph: Any, kinds: dict, output_key: Any) -> None:
    """Refuse attention calls whose attention scores are read downstream (LRP has no rule for them)."""
    consumers = graph.consumers()
    for step, kind in kinds.items():
        if kind != "attention" or len(step.outputs) < 2:
            continue
        scores = step.outputs[1]
        if consumers.get(scores) or scores == output_key:
            raise UnsupportedLayerError(
                f"{type(step.layer).__name__} {step.name!r} is called with return_attention_scores=True and "
                "its attention scores are used downstream; LRP has no rule for relevance flowing into the "
                "scores. Use the attention output only, or the gradient family."
            )
