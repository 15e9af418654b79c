"""Forward and backward passes over a flattened model graph.

The forward pass calls every layer once, in topological order, and keeps
what the rules need: each call's inputs, outputs and masks, and for linear
layers the linear form and the pre-activation. The backward pass visits the
calls in reverse order and asks the analyzer's :class:`Composite` for the rule
of each; relevances reaching a tensor from several consumers are summed.

Models that start with an ``Embedding`` are analysed at the Embedding's
output: :meth:`Engine.embed` turns token ids into these *analysis points* and
the forward pass starts from them, so integrated gradients and SmoothGrad can
move the points and the backward pass ends there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
from keras import layers as kl
from keras import ops

from keras_text_lrp import backend, layers
from keras_text_lrp.errors import InvalidModelError
from keras_text_lrp.graph import Graph, Step, trace
from keras_text_lrp.rules.activation import ActivationGradient
from keras_text_lrp.rules.base import PassThrough, Route
from keras_text_lrp.rules.linear import LinearForm, LinearGradient
from keras_text_lrp.rules.merge import Proportional
from keras_text_lrp.rules.pooling import WinnerTakesAll

__all__ = ["Engine", "StepContext", "Composite", "GRADIENT"]


def _is_float(x: Any) -> bool:
    return "float" in str(ops.dtype(x))


@dataclass(eq=False)
class StepContext:
    """What a rule sees of one layer call (see :mod:`keras_text_lrp.rules.base`).

    Attributes
    ----------
    step : Step
        The call; ``step.layer`` is the Keras layer.
    xs, ys : list of tensors
        The values of the call's inputs and outputs.
    masks : list
        The Keras masks of the inputs (``None`` where unmasked).
    form : LinearForm or None
        For linear layers: weights, linear map, bias and fan-in.
    z : tensor or None
        For linear layers and activations: the pre-activation.
    activation : callable or None
        The activation applied to ``z`` (``None`` for the identity).
    activation_name : str or None
        Its name (``"relu"``, ``"tanh"``, ...).
    nonnegative : list of bool
        Per input: whether it is >= 0 by construction (a ReLU output, maybe
        pooled, reshaped or dropped out), so a rule may skip its negative part.
    """

    step: Step
    xs: list
    ys: list
    masks: list
    form: LinearForm | None = None
    z: Any = None
    activation: Any = None
    activation_name: str | None = None
    extra: dict = field(default_factory=dict)
    nonnegative: list = field(default_factory=list)

    @property
    def layer(self) -> Any:
        return self.step.layer

    def call(self, xs: list) -> list:
        """Call the layer on other input values (same masks, inference mode)."""
        return self.step.call(xs, self.masks)

    def pullback(self, relevances: list) -> list:
        """The layer's vector-Jacobian product applied to ``relevances``.

        Returns one tensor per input; ``None`` for non-float inputs.
        """
        where = [i for i, x in enumerate(self.xs) if _is_float(x)]

        def fn(*floats):
            full = list(self.xs)
            for i, v in zip(where, floats):
                full[i] = v
            return self.call(full)

        _, pull = backend.vjp(fn, *[self.xs[i] for i in where])
        cot = [ops.zeros_like(y) if r is None else r for r, y in zip(relevances, self.ys)]
        grads = pull(cot)
        out: list = [None] * len(self.xs)
        for i, g in zip(where, grads):
            out[i] = g
        return out


@dataclass
class Composite:
    """An analyzer's mapping from layer kinds to rules.

    Parameters
    ----------
    linear : rule, or callable ``layer -> rule``
        For the linear part of Dense, conv and BatchNormalization layers.
    activation : rule
        For activations inside layers and stand-alone.
    max, proportional, route : rule
        For max pooling; average pooling and Add/Average/Subtract;
        reshapes, slices and identities.
    recurrent : callable ``layer -> rule`` or None
        For LSTM, GRU, SimpleRNN and Bidirectional; ``None`` routes by the
        gradient (autodiff through the layer).
    recurrent_forward : callable or None
        ``(layer, xs, masks) -> (outputs, extra)`` run by the forward pass in
        place of a recurrent layer's call (``None`` from it: call the layer),
        so that its rule reuses the states (``ctx.extra``) instead of
        recomputing them.
    """

    linear: Any
    activation: Any
    max: Any = field(default_factory=WinnerTakesAll)
    proportional: Any = field(default_factory=Proportional)
    route: Any = field(default_factory=Route)
    recurrent: Any = None
    recurrent_forward: Any = None

    def linear_rule(self, layer: Any) -> Any:
        return self.linear(layer) if _is_factory(self.linear) else self.linear

    def rule(self, kind: str, layer: Any) -> Any:
        if kind == "linear":
            return self.linear_rule(layer)
        if kind == "recurrent":
            return self.route if self.recurrent is None else self.recurrent(layer)
        if kind == "custom":
            return layers.custom_rule(layer)
        return getattr(self, kind)


def _is_factory(obj: Any) -> bool:
    return isinstance(obj, type(lambda: 0))


#: The gradient: every layer by its vector-Jacobian product.
GRADIENT = Composite(
    linear=LinearGradient(), activation=ActivationGradient(), max=Route(), proportional=Route()
)


def _activation_name(fn: Any, layer: Any) -> str | None:
    if isinstance(layer, keras.layers.ReLU):
        plain = not layer.max_value and not layer.negative_slope and not layer.threshold
        return "relu" if plain else "relu_variant"
    return getattr(fn, "__name__", None)


# Layers whose output is >= 0 wherever all their inputs are (in inference mode).
_SIGN_KEEPING = (kl.Dropout, kl.Flatten, kl.Reshape, kl.Permute) + tuple(
    getattr(kl, f"{kind}Pooling{rank}D")
    for kind in ("Max", "Average", "GlobalMax", "GlobalAverage")
    for rank in (1, 2, 3)
)


def _nonnegative_outputs(step: Step, ctx: StepContext) -> list:
    """The outputs of ``step`` that are >= 0 by construction, whatever the values.

    Exact, so rules may rely on it: the output of a plain ReLU (a linear layer
    whose activation is ``keras.activations.relu``, an ``Activation("relu")``,
    a ``ReLU()`` without slope, cap or threshold), and of a sign-keeping layer
    (dropout, reshapes, pooling) whose inputs are all such outputs.
    """
    if step.layer is None:  # an identity step: outputs[i] is inputs[i]
        return [k for k, known in zip(step.outputs, ctx.nonnegative) if known]
    layer, relu_fn = step.layer, keras.activations.relu
    relu = ctx.activation is relu_fn or (
        ctx.activation_name == "relu"  # an activation layer; "relu" only for a plain ReLU()
        and (isinstance(layer, kl.ReLU) or getattr(layer, "activation", None) is relu_fn)
    )
    if relu or (isinstance(layer, _SIGN_KEEPING) and ctx.nonnegative and all(ctx.nonnegative)):
        return list(step.outputs)
    return []


class Engine:
    """The forward and backward passes of one model.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model (nested models allowed).

    Raises
    ------
    UnsupportedLayerError
        If a layer has no rule (the message says how to register one).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.graph: Graph = trace(model)
        self.kinds = {s: layers.kind_of(s.layer) for s in self.graph.steps if s.layer is not None}
        self.embeddings, self.points = self._analysis_points()

    def _analysis_points(self) -> tuple[dict, list]:
        consumers = self.graph.consumers()
        embeddings: dict = {}
        points = []
        for i, key in enumerate(self.graph.inputs):
            readers = consumers.get(key, [])
            embeds = [s for s in readers if self.kinds.get(s) == "embedding"]
            if embeds and len(readers) > 1:
                raise InvalidModelError(
                    f"model input {i} feeds an Embedding and other layers; keras_text_lrp analyses "
                    "token models at the Embedding output, so the token ids must go to one Embedding only."
                )
            if embeds:
                embeddings[i] = embeds[0]
                points.append(embeds[0].outputs[0])
            else:
                points.append(key)
        placed = set(embeddings.values())
        for step, kind in self.kinds.items():
            if kind == "embedding" and step not in placed:
                raise InvalidModelError(
                    f"Embedding layer {step.name!r} does not read a model input directly; "
                    "keras_text_lrp analyses token models at an Embedding fed by a model input."
                )
        return embeddings, points

    def token_inputs(self) -> dict:
        """Map input position -> its Embedding layer, for token-id inputs."""
        return {i: s.layer for i, s in self.embeddings.items()}

    def embed(self, inputs: list) -> tuple[list, list]:
        """The analysis points (embedding outputs or the inputs) and their masks."""
        points, masks = [], []
        for i, x in enumerate(inputs):
            step = self.embeddings.get(i)
            if step is None:
                points.append(x)
                masks.append(None)
            else:
                points.append(step.call([x])[0])
                masks.append(step.output_masks([x], [None])[0])
        return points, masks

    def forward(self, points: list, masks: list, composite: Composite | None = None) -> dict:
        """Run the model from the analysis points; return every step's context.

        The result maps each tensor key to its value (``"values"``), mask
        (``"masks"``), and each step to its :class:`StepContext` (``"steps"``).
        ``composite.recurrent_forward``, if given, runs the recurrent layers.
        """
        values = dict(zip(self.points, points))
        mask_of = dict(zip(self.points, masks))
        contexts = {}
        nonnegative: set = set()
        embedding_steps = set(self.embeddings.values())
        for step in self.graph.steps:
            if step in embedding_steps:
                continue
            xs = [values[k] for k in step.inputs]
            ms = [mask_of.get(k) for k in step.inputs]
            ctx = self._call(step, xs, ms, composite)
            ctx.nonnegative = [k in nonnegative for k in step.inputs]
            nonnegative.update(_nonnegative_outputs(step, ctx))
            contexts[step] = ctx
            for k, y, m in zip(step.outputs, ctx.ys, step.output_masks(xs, ms)):
                values[k] = y
                mask_of[k] = m
        return {"values": values, "masks": mask_of, "steps": contexts}

    def _call(self, step: Step, xs: list, ms: list, composite: Composite | None = None) -> StepContext:
        kind = self.kinds.get(step)
        if kind == "recurrent" and composite is not None and composite.recurrent_forward is not None:
            done = composite.recurrent_forward(step.layer, xs, ms)
            if done is not None:
                return StepContext(step, xs, list(done[0]), ms, extra=dict(done[1]))
        if kind == "linear":
            form = layers.form_of(step.layer, len(xs[0].shape))
            z = form.z(xs[0])
            y = z if form.activation is None else form.activation(z)
            return StepContext(
                step, xs, [y], ms, form=form, z=z, activation=form.activation,
                activation_name=_activation_name(form.activation, step.layer),
            )
        ys = step.call(xs, ms)
        if kind == "activation":
            fn = getattr(step.layer, "activation", None)
            return StepContext(
                step, xs, ys, ms, z=xs[0],
                activation=lambda t: step.call([t], ms)[0],
                activation_name=_activation_name(fn, step.layer),
            )
        return StepContext(step, xs, ys, ms)

    def backward(self, record: dict, seeds: dict, composite: Composite) -> list:
        """Propagate ``seeds`` (tensor key -> relevance) back to the analysis points."""
        relevance = dict(seeds)
        identity = PassThrough()
        steps = record["steps"]
        for step in reversed(self.graph.steps):
            if step.layer is not None and step not in steps:
                continue  # an Embedding: its output is an analysis point
            rs = [relevance.pop(k, None) for k in step.outputs]
            if all(r is None for r in rs):
                continue
            if step.layer is None:
                out = rs if len(rs) == len(step.inputs) else identity(None, rs)
            else:
                out = self._rule(step, steps[step], rs, composite)
            for k, r in zip(step.inputs, out):
                if r is not None:
                    relevance[k] = relevance[k] + r if k in relevance else r
        values = record["values"]
        return [relevance.get(p, ops.zeros_like(values[p])) for p in self.points]

    def _rule(self, step: Step, ctx: StepContext, rs: list, composite: Composite) -> list:
        kind = self.kinds[step]
        if kind in ("linear", "activation") and len(rs) == 1:
            if ctx.activation is not None:
                rs = composite.activation(ctx, rs)
            if kind == "activation":
                return rs
        rs = [ops.zeros_like(y) if r is None else r for r, y in zip(rs, ctx.ys)]
        return composite.rule(kind, step.layer)(ctx, rs)

