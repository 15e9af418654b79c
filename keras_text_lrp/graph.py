"""The graph walk: a Keras model flattened into layer calls.

A Functional or Sequential model (nested models included) becomes a list of
:class:`Step` objects in topological order, one per layer call. A tensor is
named by a *key*: the path of nested-model calls it lives in plus the id of its
symbolic ``KerasTensor``, so a layer (or a whole nested model) called twice
gives two steps with distinct tensors. Nested models are inlined through
identity steps (``layer is None``) that join their inputs and outputs to the
outer tensors.

Keras records the masks it passes between layers (``mask=`` arguments, e.g.
the ``not_equal`` of ``Embedding(mask_zero=True)``) as graph nodes. Those
arguments are left out of the steps, and the nodes that only compute them
dropped: the engine propagates masks itself (``Step.output_masks``) and hands
them to the layers (``Step.call``).
"""

from __future__ import annotations

import inspect
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras

from keras_text_lrp.errors import InvalidModelError

__all__ = ["Graph", "Step", "trace"]

Key = tuple  # (call path..., id(KerasTensor))


@dataclass(eq=False)
class Step:
    """One layer call of the flattened graph.

    Attributes
    ----------
    layer : keras.Operation or None
        The layer called; ``None`` for an identity step joining a nested
        model's tensors to the outer ones.
    inputs, outputs : list of keys
        The tensors the call reads and writes, in the order of the flattened
        call arguments and outputs.
    """

    layer: Any
    inputs: list
    outputs: list
    _node: Any = field(default=None, repr=False)
    _kts: Any = field(default=None, repr=False)

    @property
    def keras_tensors(self) -> list:
        """The node's input KerasTensors that are step inputs (mask arguments left out)."""
        return self._node.arguments.keras_tensors if self._kts is None else self._kts

    @property
    def name(self) -> str:
        return "identity" if self.layer is None else self.layer.name

    def first_input_structure(self) -> Any:
        """The first positional argument as a structure of input positions.

        An int for a single tensor, a list of ints for a list of tensors
        (merge layers), ``None`` when the first argument holds no tensor.
        """
        if self._node is None:
            return 0
        kts = self.keras_tensors
        first = self._node.arguments.args[0] if self._node.arguments.args else None
        index = {id(kt): i for i, kt in enumerate(kts)}
        if isinstance(first, (list, tuple)):
            return [index[id(t)] for t in first]
        return index.get(id(first))

    def call(self, xs: list, masks: list | None = None) -> list:
        """Call the layer on the values ``xs`` of its inputs, in inference mode.

        ``xs`` fills the call's tensor arguments slot by slot, so a call that
        reads one tensor twice (``Add()([x, x])``) gets each slot's own value:
        a vector-Jacobian product then gives each slot its own share.
        """
        if self.layer is None:
            return list(xs)
        args, kwargs = self._filled(xs)
        params = _call_parameters(self.layer)
        if "training" in params:
            kwargs["training"] = False
        if masks is not None and "mask" in params and kwargs.get("mask") is None:
            mask = self.structure_masks(masks)
            if mask is not None:
                kwargs["mask"] = mask
        out = self.layer(*args, **kwargs)
        return list(keras.tree.flatten(out))

    def _filled(self, xs: list) -> tuple:
        """The node's ``(args, kwargs)`` with its tensor slots filled from ``xs`` in order.

        Mask arguments (left out of the step's inputs) become ``None``; the
        engine hands the layer its masks itself.
        """
        arguments = self._node.arguments
        masks = _mask_ids(self._node) if self._kts is not None else set()
        flat = keras.tree.flatten((arguments.args, arguments.kwargs))
        values = iter(xs)
        filled = [
            (None if id(a) in masks else next(values)) if isinstance(a, keras.KerasTensor) else a
            for a in flat
        ]
        return keras.tree.pack_sequence_as((arguments.args, arguments.kwargs), filled)

    def structure_masks(self, masks: list) -> Any:
        """The masks of the first positional argument, shaped like it."""
        first = self.first_input_structure()
        if isinstance(first, list):
            picked = [masks[i] for i in first]
            return None if all(m is None for m in picked) else picked
        return None if first is None else masks[first]

    def output_masks(self, xs: list, masks: list) -> list:
        """The masks of the outputs, as Keras would attach them."""
        n = len(self.outputs)
        if self.layer is None:
            return list(masks)
        previous = self.structure_masks(masks)
        if not getattr(self.layer, "supports_masking", False):
            return [None] * n
        first = self.first_input_structure()
        first_x = [xs[i] for i in first] if isinstance(first, list) else xs[first or 0]
        out = self.layer.compute_mask(first_x, previous)
        if out is None:
            return [None] * n
        out = keras.tree.flatten(out) if isinstance(out, (list, tuple)) else [out]
        return (out * n)[:n] if len(out) == 1 else out


@dataclass(eq=False)
class Graph:
    """A model flattened into steps.

    Attributes
    ----------
    model : keras.Model
    inputs, outputs : list of keys
        The model's input and output tensors, in ``model.inputs`` /
        ``model.outputs`` order.
    steps : list of Step
        Every layer call, in topological order.
    """

    model: Any
    inputs: list
    outputs: list
    steps: list
    #: layer -> why its ``call`` could not be traced (it stays one opaque step).
    untraced: dict = field(default_factory=dict)

    def consumers(self) -> dict:
        """Map each tensor key to the steps that read it."""
        out: dict = {}
        for step in self.steps:
            for key in step.inputs:
                out.setdefault(key, []).append(step)
        return out


def trace(model: keras.Model, inline: Callable[[Any], bool] | None = None) -> Graph:
    """Flatten ``model`` into a :class:`Graph`.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model (nested models are inlined).
    inline : callable, optional
        ``inline(layer) -> bool``: whether a layer call should be opened up by
        tracing the layer's ``call`` symbolically (custom layers built from
        Keras layers and ``keras.ops``). A layer whose ``call`` cannot be
        traced stays one step; :attr:`Graph.untraced` says why.

    Raises
    ------
    InvalidModelError
        If the model is subclassed (it has no graph to walk) or not built.
    """
    functional = _functional_of(model)
    graph = Graph(model=model, inputs=[(id(t),) for t in functional.inputs], outputs=[], steps=[])
    graph.outputs = _walk(functional, (), graph, inline or (lambda layer: False))
    return graph


def _functional_of(model: Any) -> Any:
    if isinstance(model, keras.Sequential):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise InvalidModelError(
                f"Sequential model {model.name!r} has no graph yet: give it an input shape "
                "(start it with keras.Input(shape=...)) or call it once on data before analysing it."
            )
        return functional
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth") and hasattr(
        model, "_run_through_graph"
    ):
        return model
    raise InvalidModelError(
        f"{type(model).__name__} {getattr(model, 'name', '')!r} is a subclassed model without a "
        "layer graph, so its layers cannot be walked. Build it as a functional model "
        "(keras.Model(inputs, outputs)) or a keras.Sequential."
    )


_DATA_MASKS = ("attention_mask", "padding_mask")


def _mask_ids(node: Any) -> set:
    """Ids of the KerasTensors a node receives as mask arguments (``mask``, ``*_mask``).

    ``attention_mask`` (MultiHeadAttention) and ``padding_mask`` (keras-hub's
    ``TransformerEncoder``, which turns it into an attention mask) are data the
    user passes, not Keras masks: they stay step inputs.
    """
    out = set()
    for name, value in node.arguments.kwargs.items():
        if name == "mask" or (name.endswith("_mask") and name not in _DATA_MASKS):
            out.update(id(t) for t in keras.tree.flatten(value) if isinstance(t, keras.KerasTensor))
    return out


def _walk(functional: Any, path: tuple, graph: Graph, inline: Callable[[Any], bool]) -> list:
    """Append the steps of ``functional`` under ``path`` to ``graph``; return its output keys."""
    steps = graph.steps
    by_depth = functional._nodes_by_depth
    # From the outputs back: keep the nodes whose outputs are needed other than as masks.
    needed = {id(t) for t in functional.outputs}
    kept = {}
    for depth in sorted(by_depth):
        for node in by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            if any(id(t) in needed for t in node.outputs):
                masks = _mask_ids(node)
                kts = [kt for kt in node.arguments.keras_tensors if id(kt) not in masks]
                kept[id(node)] = kts
                needed.update(id(kt) for kt in kts)
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            op = node.operation
            if op is None or node.is_input or id(node) not in kept:
                continue
            kts = kept[id(node)]
            in_keys = [path + (id(kt),) for kt in kts]
            out_keys = [path + (id(kt),) for kt in node.outputs]
            inner = None
            if _is_graph_model(op):
                inner = _functional_of(op)
            elif isinstance(op, keras.layers.Layer) and inline(op):
                inner = _traced(op, node, kts, graph)
            if inner is not None:
                sub = path + (id(node),)
                steps.append(Step(None, in_keys, [sub + (id(t),) for t in inner.inputs]))
                inner_out = _walk(inner, sub, graph, inline)
                steps.append(Step(None, inner_out, out_keys))
            else:
                full = len(kts) == len(node.arguments.keras_tensors)
                steps.append(Step(op, in_keys, out_keys, node, None if full else kts))
    return [path + (id(t),) for t in functional.outputs]


# layer -> {input signature: traced functional}; traced once per layer and input signature.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _traced(layer: Any, node: Any, kts: list, graph: Graph) -> Any:
    """``layer.call`` traced on fresh symbolic inputs, as a functional model (or ``None``).

    The sublayers and ``keras.ops`` calls of ``call`` are recorded as graph
    nodes, so each gets its own rule. ``None`` when ``call`` does not trace
    (Python branching on values, non-Keras tensors, ...): the reason, with
    the line of ``call`` that stopped it, goes to ``graph.untraced``.
    """
    signature = tuple((tuple(kt.shape), str(kt.dtype)) for kt in kts)
    cache = _TRACED.setdefault(layer, {})
    if signature not in cache:
        cache[signature] = _trace_call(layer, node, kts)
    inner = cache[signature]
    if isinstance(inner, str):
        graph.untraced[layer] = inner
        return None
    return inner


def _trace_call(layer: Any, node: Any, kts: list) -> Any:
    inputs = [keras.Input(batch_shape=tuple(kt.shape), dtype=kt.dtype) for kt in kts]
    step = Step(layer, [], [], node, None if len(kts) == len(node.arguments.keras_tensors) else kts)
    args, kwargs = step._filled(inputs)
    if "training" in _call_parameters(layer):
        kwargs["training"] = False
    try:
        outputs = layer.call(*args, **kwargs)
        flat = keras.tree.flatten(outputs)
        if not flat or not all(isinstance(t, keras.KerasTensor) for t in flat):
            return "its call returns values that do not depend on its inputs through Keras operations"
        return keras.Model(inputs, outputs if len(flat) > 1 else flat[0], name=f"{layer.name}_traced")
    except Exception as err:  # noqa: BLE001 - any failure means "cannot be traced"; say where
        return f"{_where(err, layer)}{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def _where(err: BaseException, layer: Any) -> str:
    """``"line N of MyLayer.call (`source`): "`` for the deepest frame in the layer's own code."""
    try:
        source = inspect.getsourcefile(type(layer).call)
    except TypeError:
        return ""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == source]
    if not frames:
        return ""
    f = frames[-1]
    return f"line {f.lineno} of {type(layer).__name__}.{f.name} (`{(f.line or '').strip()}`) raised "


def _is_graph_model(op: Any) -> bool:
    return isinstance(op, keras.Model)


_PARAMS: dict = {}


def _call_parameters(layer: Any) -> frozenset:
    cls = type(layer)
    if cls not in _PARAMS:
        try:
            _PARAMS[cls] = frozenset(inspect.signature(layer.call).parameters)
        except (TypeError, ValueError):
            _PARAMS[cls] = frozenset()
    return _PARAMS[cls]
