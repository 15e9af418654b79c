"""Forward and backward passes over a flattened model graph.

The graph is ops-level: layer calls, nested models, the operations Keras
records in functional graphs (``x + y``, ``ops.mean``) and the inside of custom
layers (traced) are all steps. The forward pass calls every step once, in
topological order, and keeps what the rules need: each call's inputs, outputs
and masks, and for linear layers the linear form and the pre-activation. The
backward pass visits the calls in reverse order and asks the analyzer's
:class:`Composite` for the rule of each; relevances reaching a tensor are
summed over every argument slot of every call that reads it.

Token models are analysed at the output of the Embedding that the token ids
reach, wherever it sits: behind a ``TextVectorization`` layer (run before the
analysis, :meth:`Engine.vectorize`), inside a nested model, behind casts.
:meth:`Engine.embed` turns token ids into these *analysis points* and the
forward pass starts from them, so integrated gradients and SmoothGrad can
move the points and the backward pass ends there.

A final softmax or sigmoid of the explained output (in the last layer, a
separate activation, or a nested model) is recognised by
:meth:`Engine.strip_head`: the analysis then explains its pre-activation.
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
from keras_text_lrp.rules import attention
from keras_text_lrp.rules.activation import ActivationGradient
from keras_text_lrp.rules.base import PassThrough, Route
from keras_text_lrp.rules.linear import LinearForm, LinearGradient
from keras_text_lrp.rules.merge import Proportional
from keras_text_lrp.rules.ops import Product
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
        if "call" in self.extra:  # a layer the forward pass runs as its parts (attention)
            return self.extra["call"](xs)
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
    product : rule
        For products of two activations (``x * y``, ``ops.matmul(a, b)``).
    opaque : rule or None
        For steps without an LRP rule (Keras layers such as
        ``MultiHeadAttention``, unknown operations, untraceable custom
        layers); ``None`` refuses them (the LRP family).
    custom : rule or None
        For layers registered with a callable rule; ``None`` applies the
        user's rule.
    """

    linear: Any
    activation: Any
    max: Any = field(default_factory=WinnerTakesAll)
    proportional: Any = field(default_factory=Proportional)
    route: Any = field(default_factory=Route)
    recurrent: Any = None
    recurrent_forward: Any = None
    product: Any = field(default_factory=Product)
    opaque: Any = None
    custom: Any = None
    #: For MultiHeadAttention and LayerNormalization/RMSNormalization; ``None``: as ``opaque``.
    attention: Any = None
    normalization: Any = None
    #: Whether a sum of the token embedding with other embeddings of its positions (BERT's token +
    #: position + segment) hands all its relevance to the tokens (the LRP family; SEMANTICS.md,
    #: "Transformer layers"), or is differentiated like any sum (the gradient family).
    sums_to_tokens: bool = True

    def linear_rule(self, layer: Any) -> Any:
        return self.linear(layer) if _is_factory(self.linear) else self.linear

    def rule(self, kind: str, layer: Any) -> Any:
        if kind == "linear":
            return self.linear_rule(layer)
        if kind == "recurrent":
            return self.route if self.recurrent is None else self.recurrent(layer)
        if kind == "custom":
            return layers.custom_rule(layer) if self.custom is None else self.custom
        if kind in ("attention", "normalization") and getattr(self, kind) is not None:
            return getattr(self, kind)
        if kind in ("opaque", "attention", "normalization"):
            if self.opaque is None:
                raise layers.unsupported(layer)
            return self.opaque
        return getattr(self, kind)


def _is_factory(obj: Any) -> bool:
    return isinstance(obj, type(lambda: 0))


#: The gradient: every step by its vector-Jacobian product (so the gradient
#: family equals the backend's autodiff, and needs no registered rule).
GRADIENT = Composite(
    linear=LinearGradient(), activation=ActivationGradient(), max=Route(), proportional=Route(),
    product=Route(), opaque=Route(), custom=Route(), sums_to_tokens=False,
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


# Operations that carry token ids unchanged on their way to an Embedding.
_ID_OPS = ("Cast", "ConvertToTensor", "Reshape", "ExpandDims", "Squeeze", "Copy")

# Final activations that squash logits into probabilities.
SQUASHING = ("softmax", "sigmoid", "log_softmax")
_SQUASHING_OPS = {"Softmax": "softmax", "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax"}


@dataclass(eq=False)
class TokenInput:
    """How one model input reaches its analysis point.

    Attributes
    ----------
    embedding : Step
        The Embedding call whose output is the analysis point.
    id_key : key
        The tensor of token ids the compiled analysis starts from: the model
        input, or the output of its ``TextVectorization``.
    text_steps : list of Step
        The string preprocessing from the model input to ``id_key`` (run
        eagerly by :meth:`Engine.vectorize`); empty for a token-id input.
    id_steps : list of Step
        The steps from ``id_key`` to the Embedding's input (casts, nested-model
        joins), run inside the analysis.
    """

    embedding: Step
    id_key: Any
    text_steps: list
    id_steps: list

    @property
    def vectorizer(self) -> Any:
        """The ``TextVectorization`` layer, or ``None``."""
        return next((s.layer for s in self.text_steps if s.layer is not None), None)


def _nonzero(tensors: list) -> bool:
    return any(r is not None and bool(ops.convert_to_numpy(ops.any(r != 0))) for r in tensors)


def _float_outputs(step: Step) -> bool:
    node = step._node
    return node is None or any("float" in str(kt.dtype) for kt in node.outputs)


def _float_tensors(step: Step) -> int:
    if step.layer is None or step._node is None:
        return len(step.inputs)
    return sum("float" in str(kt.dtype) for kt in step.keras_tensors)


class Engine:
    """The forward and backward passes of one model.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model (nested models, operations and
        traceable custom layers allowed).

    Raises
    ------
    InvalidModelError
        If token ids reach an Embedding and other layers, or strings reach
        anything but a ``TextVectorization``.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.graph: Graph = trace(model, inline=layers.should_inline)
        self.kinds = {s: self._kind(s) for s in self.graph.steps if s.layer is not None}
        self.tokens: dict[int, TokenInput] = self._token_inputs()
        self.embeddings = {i: t.embedding for i, t in self.tokens.items()}
        self.points = [
            self.tokens[i].embedding.outputs[0] if i in self.tokens else key
            for i, key in enumerate(self.graph.inputs)
        ]
        # Joins stay out: one join can carry a token input and inputs that are analysis points.
        self._prefix = {
            s for t in self.tokens.values() for s in (*t.text_steps, *t.id_steps, t.embedding)
            if s.layer is not None
        }
        self._embedding_sums()
        self.stripped: dict = {}
        self._check_placement()

    def _embedding_sums(self) -> None:
        """Sums of embeddings at the analysis points: all their relevance goes to the tokens.

        Two forms: ``embedding + constant`` (a position table added with
        ``x + pos``), and an ``Add`` of the token embedding with other
        embeddings of the same positions (keras-hub's BERT: token + position
        + segment, where the position embedding depends on the token
        embedding's shape only and the segment embedding reads another id
        input). SEMANTICS.md, "Transformer layers": the word relevance of a
        position includes the shares of every embedding at that position, so
        the token keeps them all. For the gradient family nothing changes: it
        differentiates the sum, whose derivative in the token embedding is the
        identity.
        """
        tokens = {self.tokens[i].embedding.outputs[0] for i in self.tokens}
        points = set(self.points)
        # The points as they enter and leave nested models and inlined custom layers (join steps):
        # a position-embedding layer of its own sits behind such a join.
        for step in self.graph.steps:
            if step.layer is None and len(step.inputs) == len(step.outputs):
                for x, y in zip(step.inputs, step.outputs):
                    if x in points:
                        points.add(y)
                        if x in tokens:
                            tokens.add(y)
            elif step.layer is not None and layers.is_shape_only(step.layer) and set(step.inputs) <= points:
                points.update(step.outputs)  # a position embedding: a value of the positions
        self._point_sums: dict = {}
        for step, kind in self.kinds.items():
            if kind != "proportional" or type(step.layer).__name__ != "Add":
                continue
            if not isinstance(step.layer, kl.Layer) and len(step.inputs) == 1 and step.inputs[0] in points:
                self.kinds[step] = "route"
                self._point_sums[step] = 0
            elif len(step.inputs) > 1 and set(step.inputs) <= points:
                first = next((j for j, k in enumerate(step.inputs) if k in tokens), None)
                if first is not None:
                    self._point_sums[step] = first

    @staticmethod
    def _kind(step: Step) -> str:
        kind = layers.kind_of_step(step.layer, _float_tensors(step))
        # A step without a rule but also without float outputs (a comparison, a mask) passes no
        # relevance: routing it (its vector-Jacobian product is zero) is exact.
        return "route" if kind == "opaque" and not _float_outputs(step) else kind

    # -- analysis points ----------------------------------------------------
    def _is_id_step(self, step: Step) -> bool:
        if step.layer is None:
            return True
        if self.kinds.get(step) == "text":
            return True
        return type(step.layer).__name__ in _ID_OPS and layers.kind_of_step(step.layer, 0) == "route"

    def _token_inputs(self) -> dict:
        consumers = self.graph.consumers()
        out = {}
        for i, key in enumerate(self.graph.inputs):
            chain, embeds, others, frontier = [], [], [], [key]
            while frontier:
                k = frontier.pop()
                for step in consumers.get(k, []):
                    if self.kinds.get(step) == "embedding":
                        embeds.append(step)
                    elif step.layer is None and len(step.inputs) == len(step.outputs):
                        # A join into or out of a nested model maps its tensors one to one: follow
                        # only the outputs of this input (a BERT backbone takes ids, segments and a
                        # padding mask through one join).
                        if step not in chain:
                            chain.append(step)
                        frontier.extend(y for x, y in zip(step.inputs, step.outputs) if x == k)
                    elif self._is_id_step(step):
                        if step not in chain:
                            chain.append(step)
                            frontier.extend(step.outputs)
                    else:
                        others.append(step)
            text = [s for s in chain if self.kinds.get(s) == "text"]
            name = self.model.inputs[i].name
            if "string" in str(self.model.inputs[i].dtype) and not text:
                raise InvalidModelError(
                    f"model input {i} ({name!r}) takes strings but does not feed a TextVectorization "
                    "layer; keras_text_lrp explains string models through their TextVectorization."
                )
            if not embeds:
                if text:
                    raise InvalidModelError(
                        f"TextVectorization {text[0].layer.name!r} does not feed an Embedding; only "
                        "output_mode='int' token ids into an Embedding can be explained word by word."
                    )
                continue
            if others or len(embeds) > 1:
                what = [s.name for s in others] + [s.name for s in embeds[1:]]
                raise InvalidModelError(
                    f"model input {i} ({name!r}) feeds Embedding {embeds[0].name!r} and also "
                    f"{', '.join(map(repr, what))}; keras_text_lrp analyses token models at the Embedding "
                    "output, so the token ids must reach one Embedding only."
                )
            out[i] = self._token_input(key, embeds[0], chain, text)
        return out

    def _token_input(self, key: Any, embedding: Step, chain: list, text: list) -> TokenInput:
        order = {s: n for n, s in enumerate(self.graph.steps)}
        chain = sorted(chain, key=order.__getitem__)
        if not text:
            return TokenInput(embedding, key, [], chain)
        if len(text) > 1:
            raise InvalidModelError(
                f"the model's string input goes through {len(text)} TextVectorization layers; "
                "one is supported."
            )
        tv = text[0].layer
        if getattr(tv, "_output_mode", "int") != "int" or getattr(tv, "_ngrams", None):
            raise InvalidModelError(
                f"TextVectorization {tv.name!r} has output_mode={tv._output_mode!r}"
                f"{', ngrams=' + repr(tv._ngrams) if getattr(tv, '_ngrams', None) else ''}; only "
                "output_mode='int' without ngrams (one token id per word, into an Embedding) can be "
                "explained word by word."
            )
        cut = chain.index(text[0]) + 1
        return TokenInput(embedding, text[0].outputs[0], chain[:cut], chain[cut:])

    def _check_placement(self) -> None:
        placed = set(self.embeddings.values())
        for step, kind in self.kinds.items():
            if kind == "embedding" and step not in placed:
                raise InvalidModelError(
                    f"Embedding layer {step.name!r} does not read the model's token ids (through casts, "
                    "nested models or a TextVectorization); keras_text_lrp analyses token models at an "
                    "Embedding fed by a model input."
                )

    def token_inputs(self) -> dict:
        """Map input position -> its Embedding layer, for token-id inputs."""
        return {i: s.layer for i, s in self.embeddings.items()}

    def text_inputs(self) -> dict:
        """Map input position -> its ``TextVectorization`` layer, for string inputs."""
        return {i: t.vectorizer for i, t in self.tokens.items() if t.text_steps}

    def vectorize(self, i: int, raw: Any) -> Any:
        """The token ids the model's own preprocessing makes of input ``i`` (eager)."""
        token = self.tokens[i]
        values = {self.graph.inputs[i]: raw}
        for step in token.text_steps:
            for k, y in zip(step.outputs, step.call([values[k] for k in step.inputs])):
                values[k] = y
        return values[token.id_key]

    def embed(self, inputs: list) -> tuple[list, list]:
        """The analysis points (embedding outputs or the inputs) and their masks.

        ``inputs`` holds, per model input, the token ids (after any
        ``TextVectorization``) or the float values.
        """
        points, masks = [], []
        for i, x in enumerate(inputs):
            token = self.tokens.get(i)
            if token is None:
                points.append(x)
                masks.append(None)
                continue
            values = {token.id_key: x}
            for step in token.id_steps:
                if step.layer is None:  # a join: it carries the other inputs' tensors too
                    values.update((y, values[k]) for k, y in zip(step.inputs, step.outputs) if k in values)
                    continue
                for k, y in zip(step.outputs, step.call([values[k] for k in step.inputs])):
                    values[k] = y
            ids = values[token.embedding.inputs[0]]
            points.append(token.embedding.call([ids])[0])
            masks.append(token.embedding.output_masks([ids], [None])[0])
        return points, masks

    # -- the explained output -------------------------------------------------
    def producer(self, key: Any) -> tuple[Step | None, Any]:
        """The step that computes ``key`` (through nested-model joins) and its output key there."""
        made = {k: s for s in self.graph.steps for k in s.outputs}
        step = made.get(key)
        while step is not None and step.layer is None and len(step.inputs) == len(step.outputs):
            key = step.inputs[step.outputs.index(key)]
            step = made.get(key)
        return step, key

    def strip_head(self, key: Any) -> str | None:
        """Recognise a squashing activation (softmax, sigmoid) that makes output ``key``.

        The step is marked so that the forward pass stops before the
        activation, and the analysis explains the pre-activation logits.
        Returns the activation's name, or ``None`` when the output is not
        squashed.
        """
        step, inner = self.producer(key)
        if step is None or step.layer is None:
            return None
        layer, kind = step.layer, self.kinds.get(step)
        name = None
        if kind == "linear":
            form = layers.form_of(layer, len(step.keras_tensors[0].shape))
            name = getattr(form.activation, "__name__", None)
        elif isinstance(layer, kl.Softmax):
            name = "softmax"
        elif isinstance(layer, kl.Activation):
            name = getattr(layer.activation, "__name__", None)
        else:
            name = _SQUASHING_OPS.get(type(layer).__name__) if not isinstance(layer, kl.Layer) else None
        if name not in SQUASHING:
            return None
        # Only when nothing else reads the squashed values.
        if any(s.layer is not None for s in self.graph.consumers().get(inner, [])):
            return None
        self.stripped[step] = name
        return name

    # -- the passes -----------------------------------------------------------
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
        for step in self.graph.steps:
            if step in self._prefix:
                continue
            if step.layer is None:  # a join: carries what has a value (token ids have none here)
                for k, y in zip(step.inputs, step.outputs):
                    if k in values:
                        values[y] = values[k]
                        mask_of[y] = mask_of.get(k)
                        if k in nonnegative:
                            nonnegative.add(y)
                continue
            xs = [values[k] for k in step.inputs]
            ms = [mask_of.get(k) for k in step.inputs]
            ctx = self._call(step, xs, ms, composite)
            ctx.nonnegative = [k in nonnegative for k in step.inputs]
            nonnegative.update(_nonnegative_outputs(step, ctx))
            contexts[step] = ctx
            # A position embedding added at the analysis point keeps the token mask (mask_zero), as
            # the masking custom layer that adds it does in Keras (an inlined op carries no mask).
            keep = step in self.stripped or step in self._point_sums
            first = self._point_sums.get(step, 0)
            out_masks = ms[first:first + 1] * len(step.outputs) if keep else step.output_masks(xs, ms)
            for k, y, m in zip(step.outputs, ctx.ys, out_masks):
                values[k] = y
                mask_of[k] = m
        return {"values": values, "masks": mask_of, "steps": contexts}

    def _call(self, step: Step, xs: list, ms: list, composite: Composite | None = None) -> StepContext:
        kind = self.kinds.get(step)
        if kind == "recurrent" and composite is not None and composite.recurrent_forward is not None:
            done = composite.recurrent_forward(step.layer, xs, ms)
            if done is not None:
                return StepContext(step, xs, list(done[0]), ms, extra=dict(done[1]))
        if kind == "attention":
            ys, extra = attention.forward(step, xs, ms)
            extra["call"] = lambda values: attention.forward(step, values, ms)[0]
            return StepContext(step, xs, ys, ms, extra=extra)
        if kind == "linear":
            form = layers.form_of(step.layer, len(xs[0].shape))
            activation = None if step in self.stripped else form.activation
            z = form.z(xs[0])
            y = z if activation is None else activation(z)
            return StepContext(
                step, xs, [y], ms, form=form, z=z, activation=activation,
                activation_name=_activation_name(activation, step.layer),
            )
        if step in self.stripped:  # a separate squashing activation: the identity here
            return StepContext(step, xs, list(xs[:1]), ms)
        ys = step.call(xs, ms)
        if kind == "activation":
            fn = getattr(step.layer, "activation", None)
            name = _activation_name(fn, step.layer)
            if not isinstance(step.layer, kl.Layer):  # an operation: ops.relu, ops.tanh, ...
                name = "relu" if type(step.layer).__name__ == "Relu" else type(step.layer).__name__.lower()
            return StepContext(
                step, xs, ys, ms, z=xs[0],
                activation=lambda t: step.call([t], ms)[0],
                activation_name=name,
            )
        return StepContext(step, xs, ys, ms)

    def backward(self, record: dict, seeds: dict, composite: Composite, vanished: list | None = None) -> list:
        """Propagate ``seeds`` (tensor key -> relevance) back to the analysis points.

        ``vanished``, a list, collects (eagerly; a diagnosis, not for traced use)
        the steps that received non-zero relevance and handed their inputs none.
        """
        relevance = dict(seeds)
        identity = PassThrough()
        steps = record["steps"]
        for step in reversed(self.graph.steps):
            if step in self._prefix:
                continue  # preprocessing and Embeddings: their outputs are analysis points
            rs = [relevance.pop(k, None) for k in step.outputs]
            if all(r is None for r in rs):
                continue
            if step.layer is None:
                out = rs if len(rs) == len(step.inputs) else identity(None, rs)
            elif step in self._point_sums and len(step.inputs) > 1 and composite.sums_to_tokens:
                # An embedding sum (see _embedding_sums): everything to the token embedding.
                token = self._point_sums[step]
                out = [rs[0] if j == token else None for j in range(len(step.inputs))]
            elif step in self.stripped and self.kinds.get(step) != "linear":
                out = rs[:1]
            else:
                out = self._rule(step, steps[step], rs, composite)
            if vanished is not None and _nonzero(rs) and not _nonzero(out):
                vanished.append(step)
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

    def opaque_steps(self, key: Any) -> list:
        """The steps without an LRP rule that the tensor ``key`` depends on."""
        live, found = {key}, []
        for step in reversed(self.graph.steps):
            if step in self._prefix or not any(k in live for k in step.outputs):
                continue
            if step.layer is not None and self.kinds.get(step) in ("opaque", "attention", "normalization"):
                found.append(step)
            live.update(step.inputs)
        return found[::-1]
