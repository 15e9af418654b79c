"""The analyzer base class: input checks, neuron selection, batching, tracing.

An analyzer is thin: it names an output *seed* and a
:class:`~keras_text_lrp.engine.Composite` (which rule handles which kind of
layer). Everything else — checking the input, choosing the output neuron,
streaming batches through one compiled function — lives here.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_text_lrp import backend
from keras_text_lrp.engine import Composite, Engine
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.model_tools import output_squashing

__all__ = ["Analyzer", "NEURON_SELECTION_MODES"]

NEURON_SELECTION_MODES = ("max_activation", "index", "all")


class Analyzer:
    """Base class of every analyzer.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential Keras 3 model ending in logits.
    neuron_selection_mode : {"max_activation", "index", "all"}
        Which output neuron is explained: the largest logit of each sample
        (default), the one given to :meth:`analyze`, or every one (an extra
        axis after the batch axis).
    output_index : int
        Which model output is explained, for models with several outputs.
    jit_compile : bool
        Compile with XLA on TensorFlow (JAX always compiles).
    """

    #: "gradient" (1 at the selected neuron), "logit" (its value) or "relu_logit".
    output_seed: str = "gradient"

    def __init__(
        self,
        model: keras.Model,
        neuron_selection_mode: str = "max_activation",
        output_index: int = 0,
        jit_compile: bool = False,
    ):
        backend.name()
        if neuron_selection_mode not in NEURON_SELECTION_MODES:
            raise InvalidArgumentError(
                f"neuron_selection_mode must be one of {NEURON_SELECTION_MODES}, got "
                f"{neuron_selection_mode!r}."
            )
        self.model = model
        self.neuron_selection_mode = neuron_selection_mode
        self.jit_compile = jit_compile
        self._engine = Engine(model)
        outputs = self._engine.graph.outputs
        if not 0 <= output_index < len(outputs):
            raise InvalidArgumentError(
                f"output_index {output_index} is out of range: the model has {len(outputs)} output(s)."
            )
        self.output_index = output_index
        self._output_key = outputs[output_index]
        self._check_logits()
        self._compiled: Any = None

    # -- what subclasses define -------------------------------------------
    def composite(self) -> Composite:
        """The mapping from layer kinds to rules."""
        raise NotImplementedError

    def _explain(self, points: list, masks: list, selection: Any, extra: dict) -> list:
        """Relevance at the analysis points for the selected neurons (traced)."""
        composite = self.composite()
        record = self._engine.forward(points, masks, composite)
        logits = record["values"][self._output_key]
        index = self._select(logits, selection)
        seed = self._seed(logits, index)
        return self._engine.backward(record, {self._output_key: seed}, composite)

    # -- checks ------------------------------------------------------------
    def _check_logits(self) -> None:
        squashed = [s for s in output_squashing(self.model) if s[0] == self.output_index]
        if squashed:
            _, layer, act = squashed[0]
            raise InvalidModelError(
                f"the model's output layer {layer!r} ends in {act}; analyzers explain logits. "
                "Use keras_text_lrp.model_wo_softmax(model), which returns the same model "
                "without the final softmax/sigmoid."
            )
        shape = self.model.outputs[self.output_index].shape
        if len(shape) != 2 or shape[-1] is None:
            raise InvalidModelError(
                f"the explained output must be (batch, classes) logits, but it has shape {tuple(shape)}."
            )
        self.n_outputs = int(shape[-1])

    def _check_inputs(self, X: Any) -> list[np.ndarray]:
        specs = self.model.inputs
        if isinstance(X, dict):
            X = [X[t.name] if t.name in X else None for t in specs]
        if not isinstance(X, (list, tuple)):
            X = [X]
        if len(X) != len(specs):
            raise InvalidInputError(
                f"the model has {len(specs)} input(s) ({', '.join(t.name for t in specs)}) but "
                f"{len(X)} array(s) were given; pass a list in model.inputs order."
            )
        tokens = self._engine.token_inputs()
        out = []
        for i, (x, spec) in enumerate(zip(X, specs)):
            x = np.asarray(x)
            if x.dtype.kind not in "biuf":
                raise InvalidInputError(f"input {i} ({spec.name!r}) has dtype {x.dtype}; give numbers.")
            expected = tuple(spec.shape)
            if x.ndim != len(expected) or any(
                e is not None and e != s for e, s in zip(expected[1:], x.shape[1:])
            ):
                raise InvalidInputError(
                    f"input {i} ({spec.name!r}) has shape {x.shape}, but the model expects "
                    f"{('batch',) + expected[1:]} (None = any size)."
                )
            if x.shape[0] == 0:
                raise InvalidInputError(f"input {i} ({spec.name!r}) is an empty batch.")
            if i in tokens:
                x = self._check_tokens(i, x, tokens[i], spec)
            else:
                if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
                    bad = np.argwhere(~np.isfinite(x))[0]
                    raise InvalidInputError(
                        f"input {i} ({spec.name!r}) holds NaN or inf (first at index {tuple(bad)}); "
                        "relevances of non-finite inputs are meaningless."
                    )
                # The model's float type, whatever numpy made (float64 by default).
                x = x.astype(keras.backend.floatx(), copy=False)
            out.append(x)
        if len({x.shape[0] for x in out}) > 1:
            raise InvalidInputError(
                f"the inputs have different batch sizes {[x.shape[0] for x in out]}; they must agree."
            )
        return out

    @staticmethod
    def _check_tokens(i: int, x: np.ndarray, layer: Any, spec: Any) -> np.ndarray:
        if x.dtype.kind == "f":
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) feeds Embedding {layer.name!r} and must hold integer "
                f"token ids, but has dtype {x.dtype}."
            )
        if x.size and (x.min() < 0 or x.max() >= layer.input_dim):
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) has token ids in [{x.min()}, {x.max()}], but Embedding "
                f"{layer.name!r} takes ids in [0, {layer.input_dim - 1}]."
            )
        return x.astype("int32", copy=False)

    def _check_selection(self, neuron_selection: Any, n: int) -> np.ndarray:
        mode = self.neuron_selection_mode
        if mode != "index":
            if neuron_selection is not None:
                raise InvalidArgumentError(
                    f"neuron_selection was given but neuron_selection_mode is {mode!r}; create the "
                    "analyzer with neuron_selection_mode='index' to choose neurons."
                )
            return np.zeros((n,), "int32")
        if neuron_selection is None:
            raise InvalidArgumentError(
                "neuron_selection_mode='index' needs analyze(X, neuron_selection=k) with an int or "
                "one index per sample."
            )
        sel = np.asarray(neuron_selection)
        if sel.dtype.kind not in "iu" and not (sel.dtype.kind == "f" and np.all(sel == np.round(sel))):
            raise InvalidArgumentError(f"neuron_selection must hold integers, got {sel.dtype}.")
        sel = sel.astype("int64")
        if sel.ndim == 0:
            sel = np.full((n,), int(sel))
        if sel.shape != (n,):
            raise InvalidArgumentError(
                f"neuron_selection has shape {sel.shape}; give an int or one index per sample ({n},)."
            )
        if sel.min() < 0 or sel.max() >= self.n_outputs:
            raise InvalidArgumentError(
                f"neuron_selection holds {sel.min() if sel.min() < 0 else sel.max()}, out of range: "
                f"the model has {self.n_outputs} outputs (0..{self.n_outputs - 1})."
            )
        return sel.astype("int32")

    # -- traced parts ------------------------------------------------------
    def _select(self, logits: Any, selection: Any) -> Any:
        if self.neuron_selection_mode == "max_activation":
            return ops.cast(ops.argmax(logits, axis=-1), "int32")
        return selection

    def _seed(self, logits: Any, index: Any) -> Any:
        hot = ops.one_hot(index, self.n_outputs, dtype=logits.dtype)
        if self.output_seed == "logit":
            return hot * logits
        if self.output_seed == "relu_logit":
            return hot * ops.relu(logits)
        return hot

    def _run(self, inputs: list, selection: Any, extra: dict) -> list:
        points, masks = self._engine.embed(inputs)
        batch = ops.shape(points[0])[0]
        every = self.neuron_selection_mode == "all"
        if every:
            k = self.n_outputs
            points = [ops.repeat(p, k, axis=0) for p in points]
            masks = [None if m is None else ops.repeat(m, k, axis=0) for m in masks]
            selection = ops.tile(ops.arange(k, dtype="int32"), [batch])
            extra = self._repeat_extra(extra, k)
        relevances = self._explain(points, masks, selection, extra)
        out = []
        for r, m in zip(relevances, masks):
            if m is not None:
                r = r * ops.cast(ops.expand_dims(m, -1), r.dtype)
            if every:
                r = ops.reshape(r, (batch, self.n_outputs) + tuple(ops.shape(r)[1:]))
            out.append(r)
        return out

    def _extra_inputs(self, inputs: list[np.ndarray], start: int, stop: int, batch_index: int) -> dict:
        """Further per-batch arguments of the traced function (subclasses)."""
        return {}

    def _repeat_extra(self, extra: dict, k: int) -> dict:
        """``extra`` for the batch repeated ``k`` times (``neuron_selection_mode="all"``)."""
        return extra

    # -- public ------------------------------------------------------------
    def analyze(
        self, X: Any, neuron_selection: Any = None, batch_size: int | None = None
    ) -> np.ndarray | list[np.ndarray]:
        """Explain the selected output neuron for every sample of ``X``.

        Parameters
        ----------
        X : array or list of arrays
            The model input (a list in ``model.inputs`` order for several
            inputs). Token-id inputs (feeding an Embedding) are integers.
        neuron_selection : int or array of int, optional
            With ``neuron_selection_mode="index"``: the output neuron, for all
            samples or one per sample.
        batch_size : int, optional
            Stream ``X`` through the analysis in batches of this size.

        Returns
        -------
        numpy.ndarray or list of numpy.ndarray
            Shaped like the analysed input: ``X``'s shape, or ``(batch, T, D)``
            for token ids (one value per embedding dimension). With
            ``neuron_selection_mode="all"`` an axis of size n_classes follows the
            batch axis. A list for models with several inputs.
        """
        inputs = self._check_inputs(X)
        n = inputs[0].shape[0]
        selection = self._check_selection(neuron_selection, n)
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}.")
        size = n if batch_size is None else int(batch_size)
        fn = self._compiled_fn()
        parts: list[list[np.ndarray]] = []
        for b, start in enumerate(range(0, n, size)):
            stop = min(start + size, n)
            chunk = [x[start:stop] for x in inputs]
            extra = self._extra_inputs(inputs, start, stop, b)
            result = fn(chunk, selection[start:stop], extra)
            parts.append([ops.convert_to_numpy(r) for r in result])
        out = [np.concatenate(p, axis=0) if len(parts) > 1 else p[0] for p in zip(*parts)]
        return out[0] if len(out) == 1 else out

    def export(self, path: Any, *, name: str | None = None, **kwargs: Any) -> Any:
        """Write the model and this analysis as a SavedModel for TensorFlow Serving.

        Thin wrapper of :func:`keras_text_lrp.export.export_for_serving` with
        ``methods={name: self}`` (TensorFlow backend only).

        Parameters
        ----------
        path : str or os.PathLike
            The SavedModel folder.
        name : str, optional
            The method name in the signature names (``explain_<name>``); by
            default the analyzer's registry name (``"lrp.epsilon"`` ->
            ``explain_lrp_epsilon``).
        **kwargs
            ``vocabulary``, ``text_signature``, ``dimensions``,
            ``text_tokenizer``, ``lowercase``, ``verbose`` (see
            :func:`~keras_text_lrp.export.export_for_serving`).

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        from keras_text_lrp.export import export_for_serving

        return export_for_serving(self.model, path, [self] if name is None else {name: self}, **kwargs)

    def _compiled_fn(self) -> Any:
        if self._compiled is None:
            # A fresh closure per analyzer: TensorFlow counts traces per Python
            # function, and would flag analyzers of one class as retracing.
            def run(inputs, selection, extra):
                return self._run(inputs, selection, extra)

            self._compiled = backend.compile_fn(run, self.model.variables, self.jit_compile)
        return self._compiled
