"""The analyzer base class: input checks, neuron selection, batching, tracing.

An analyzer is thin: it names an output *seed* and a
:class:`~keras_text_lrp.engine.Composite` (which rule handles which kind of
layer). Everything else — checking the input, choosing the output neuron,
streaming batches through one compiled function — lives here.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_text_lrp import backend, checks, layers
from keras_text_lrp.engine import Composite, Engine
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.rules.base import Route

__all__ = ["Analyzer", "NEURON_SELECTION_MODES", "COMPAT_VALUES"]

NEURON_SELECTION_MODES = ("max_activation", "index", "all")

#: The values of ``compat``: ``None`` (SEMANTICS.md) or ``"innvestigate"`` (iNNvestigate 2.1.2's numbers).
COMPAT_VALUES = (None, "innvestigate")


class Analyzer:
    """Base class of every analyzer.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential Keras 3 model (nested models, ``keras.ops``
        in the graph and custom layers built from Keras layers allowed), with
        token ids, raw strings through a ``TextVectorization`` layer, or float
        features as input. A final softmax or sigmoid is recognised and the
        pre-activation logits are explained (:attr:`explained_output`); a
        one-unit sigmoid head is two classes, class 1 explained by its logit
        ``z`` and class 0 by ``-z``.
    neuron_selection_mode : {"max_activation", "index", "all"}
        Which output neuron is explained: the largest logit of each sample
        (default), the one given to :meth:`analyze`, or every one (an extra
        axis after the batch axis).
    output_index : int
        Which model output is explained, for models with several outputs.
    jit_compile : bool
        Compile with XLA on TensorFlow (JAX always compiles).
    compat : {None, "innvestigate"}
        ``None`` (default) computes what SEMANTICS.md specifies;
        ``"innvestigate"`` reproduces iNNvestigate 2.1.2 where SEMANTICS.md
        deliberately differs from it (alpha-beta bias handling, the
        BatchNormalization surrogate, SmoothGrad's absolute noise).
    """

    #: "gradient" (1 at the selected neuron), "logit" (its value) or "relu_logit".
    output_seed: str = "gradient"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every analyzer class, however built (create_analyzer or the class itself), checks its
        # options and its model's weights once its whole __init__ chain has run (subclasses set
        # their options before or after calling the base __init__).
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_checked", False):
            return

        @functools.wraps(init)
        def checked_init(self: Any, *args: Any, **kw: Any) -> None:
            depth = self.__dict__.get("_init_depth", 0)
            self.__dict__["_init_depth"] = depth + 1
            try:
                init(self, *args, **kw)
            finally:
                self.__dict__["_init_depth"] = depth
            if depth == 0:
                checks.check_analyzer(self)

        checked_init._checked = True  # type: ignore[attr-defined]
        cls.__init__ = checked_init  # type: ignore[method-assign]

    def __init__(
        self,
        model: keras.Model,
        neuron_selection_mode: str = "max_activation",
        output_index: int = 0,
        jit_compile: bool = False,
        compat: str | None = None,
    ):
        backend.name()
        if compat not in COMPAT_VALUES:
            raise InvalidArgumentError(
                f"compat must be one of {COMPAT_VALUES} (None: SEMANTICS.md; 'innvestigate': "
                f"iNNvestigate 2.1.2's numbers), got {compat!r}."
            )
        self.compat = compat
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
        self.head_activation = self._engine.strip_head(self._output_key)
        self._check_logits()
        self._check_rules()
        self._compiled: Any = None
        self._scores_fn: Any = None

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
        shape = self.model.outputs[self.output_index].shape
        if len(shape) == 3 and shape[-1] is not None:
            # A causal language model or a token tagger: one distribution per position, no class.
            raise InvalidModelError(
                f"model {self.model.name!r} gives one output per position, shape {tuple(shape)} (a language "
                "model or token tagger), not (batch, classes) logits of a classifier; explain a classifier, "
                "e.g. pool the sequence (GlobalAveragePooling1D, or the last position) into a Dense head."
            )
        if len(shape) != 2 or shape[-1] is None:
            raise InvalidModelError(
                f"the explained output must be (batch, classes) logits, but it has shape {tuple(shape)}."
            )
        units = int(shape[-1])
        #: A one-unit sigmoid head: two classes, scores ``[-z, z]``.
        self.binary = self.head_activation == "sigmoid" and units == 1
        self.n_outputs = 2 if self.binary else units
        step, _ = self._engine.producer(self._output_key)
        where = f"of layer {step.name!r}" if step is not None else "of the model"
        if self.binary:
            self.explained_output = (
                f"the pre-sigmoid logit z {where}: class 1 is explained by z, class 0 by -z"
            )
        elif self.head_activation:
            self.explained_output = f"the pre-{self.head_activation} logits {where} ({units} classes)"
        else:
            self.explained_output = f"the output {where} ({units} classes, taken as logits)"

    def _check_rules(self) -> None:
        """Refuse, now, steps that the analyzer has no rule for (not inside the traced analysis)."""
        composite = self.composite()
        if composite.opaque is not None:
            return
        for step in self._engine.opaque_steps(self._output_key):
            kind = self._engine.kinds[step]
            if kind != "opaque" and getattr(composite, kind) is not None:
                continue  # a transformer layer this analyzer has a rule for
            raise layers.unsupported(step.layer, self._engine.graph.untraced.get(step.layer))

    # -- text models ---------------------------------------------------------
    @property
    def takes_text(self) -> bool:
        """Whether the model's input is raw strings (through its ``TextVectorization``)."""
        return bool(self._engine.text_inputs())

    @property
    def embedding(self) -> Any:
        """The Embedding layer whose output is the (first) analysis point, or ``None``."""
        tokens = self._engine.token_inputs()
        return tokens[min(tokens)] if tokens else None

    def _text_batch(self, i: int, texts: Any) -> np.ndarray:
        spec = self.model.inputs[i]
        if isinstance(texts, str):
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) takes a batch of texts: give a list of str, not one str."
            )
        arr = np.asarray(texts, dtype=object)
        if arr.size == 0:
            raise InvalidInputError(f"input {i} ({spec.name!r}) is an empty batch.")
        if not all(isinstance(t, (str, bytes)) for t in arr.reshape(-1)):
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) feeds TextVectorization "
                f"{self._engine.text_inputs()[i].name!r} and takes raw text strings, but got "
                f"{type(next(t for t in arr.reshape(-1) if not isinstance(t, (str, bytes)))).__name__}; "
                "give a list of str."
            )
        return arr.reshape((-1,) + tuple(d or 1 for d in spec.shape[1:]))

    def vectorize(self, texts: Any) -> np.ndarray:
        """The token ids the model's own ``TextVectorization`` makes of ``texts``, ``(batch, T)``.

        A layer without ``output_sequence_length`` makes ids as long as the
        longest text of the batch; in front of convolutions, strides or pools
        that need more steps, the ids are padded (id 0, after the tokens, as
        the layer pads) to the least length the model runs on.
        """
        i = self._text_input_index()
        return self._vectorized(i, self._text_batch(i, texts)).astype("int32")

    def _vectorized(self, i: int, batch: np.ndarray) -> np.ndarray:
        ids = np.asarray(ops.convert_to_numpy(self._engine.vectorize(i, batch)))
        short = self._least_text_width(i) - ids.shape[1]
        if short > 0:
            ids = np.pad(ids, ((0, 0), (0, short)) + ((0, 0),) * (ids.ndim - 2))
        return ids

    def _least_text_width(self, i: int) -> int:
        """The least id width the model past its TextVectorization runs on (probed once, cached)."""
        cache = self.__dict__.setdefault("_least_widths", {})
        if i not in cache:
            layer = self._engine.text_inputs()[i]
            if getattr(layer, "_output_sequence_length", None) or len(self.model.inputs) != 1:
                cache[i] = 1  # the layer pads to a fixed length itself (or other inputs are needed)
            else:
                from keras_text_lrp.text.pipeline import least_length

                cache[i] = least_length(self._runs_on_ids, f"model {self.model.name!r}")
        return cache[i]

    def _runs_on_ids(self, length: int) -> bool:
        """Whether the model, from its token ids, gives finite outputs for one row of ``length`` ids."""
        from keras_text_lrp.text.pipeline import runs_on

        def forward(ids: np.ndarray) -> Any:
            points, masks = self._engine.embed([ops.convert_to_tensor(ids)])
            return self._engine.forward(points, masks)["values"][self._output_key]

        return runs_on(forward, length)

    def tokens(self, texts: Any) -> list[list[str]]:
        """The tokens the model's ``TextVectorization`` makes of each text (standardised, split, cut).

        One list per text, aligned with the non-padding ids of :meth:`vectorize`.
        """
        i = self._text_input_index()
        layer = self._engine.text_inputs()[i]
        batch = self._text_batch(i, texts).reshape(-1)
        import tensorflow as tf

        split = layer._preprocess(tf.constant([t if isinstance(t, str) else t.decode() for t in batch]))
        rows = split.to_list() if hasattr(split, "to_list") else split.numpy().tolist()
        width = self.vectorize(texts).shape[1]
        return [[t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in row][:width] for row in rows]

    def _text_input_index(self) -> int:
        texts = self._engine.text_inputs()
        if not texts:
            raise InvalidModelError(
                f"model {self.model.name!r} takes token ids, not strings; it has no TextVectorization."
            )
        return min(texts)

    def _check_inputs(self, X: Any) -> list[np.ndarray]:
        specs = self.model.inputs
        if isinstance(X, dict):
            X = [X[t.name] if t.name in X else None for t in specs]
        texts = self._engine.text_inputs()
        one_text_batch = (
            len(specs) == 1 and 0 in texts and isinstance(X, (list, tuple))
            and all(isinstance(t, (str, bytes)) for t in X)
        )
        if not isinstance(X, (list, tuple)) or one_text_batch:
            X = [X]
        if len(X) != len(specs):
            raise InvalidInputError(
                f"the model has {len(specs)} input(s) ({', '.join(t.name for t in specs)}) but "
                f"{len(X)} array(s) were given; pass a list in model.inputs order."
            )
        tokens = self._engine.token_inputs()
        out = []
        for i, (x, spec) in enumerate(zip(X, specs)):
            if i in texts:
                ids = self._vectorized(i, self._text_batch(i, x))
                out.append(self._check_tokens(i, ids, tokens[i], spec))
                continue
            x = np.asarray(x)
            if x.dtype.kind in "USO":
                what = (
                    f"feeds Embedding {tokens[i].name!r} and takes integer token ids"
                    if i in tokens else "takes numbers"
                )
                raise InvalidInputError(
                    f"input {i} ({spec.name!r}) {what}, but got strings (dtype {x.dtype}); the model has no "
                    "TextVectorization: encode texts with a Vocabulary, or use keras_text_lrp.explain(model, "
                    "texts, vocabulary=...)."
                )
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
        if x.dtype.kind == "f" and not (np.all(np.isfinite(x)) and np.all(x == np.round(x))):
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) feeds Embedding {layer.name!r} and must hold integer "
                f"token ids, but has non-integral or non-finite values of dtype {x.dtype}."
            )
        if x.ndim >= 2 and x.shape[1] == 0:
            raise InvalidInputError(
                f"input {i} ({spec.name!r}) has sequences of length 0; give at least one token per row."
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
    def _scores(self, logits: Any) -> Any:
        """The class scores of the explained output: the logits, or ``[-z, z]`` for a sigmoid unit."""
        return ops.concatenate([-logits, logits], axis=-1) if self.binary else logits

    def _select(self, logits: Any, selection: Any) -> Any:
        if self.neuron_selection_mode == "max_activation":
            # For a sigmoid unit: class 1 iff z > 0 (argmax of [-z, z] takes the first on a tie).
            return ops.cast(ops.argmax(self._scores(logits), axis=-1), "int32")
        return selection

    def _seed(self, logits: Any, index: Any) -> Any:
        """The start of the backward pass at the explained output ``logits``."""
        scores = self._scores(logits)
        hot = ops.one_hot(index, self.n_outputs, dtype=logits.dtype)
        if self.output_seed == "logit":
            seed = hot * scores
        elif self.output_seed == "relu_logit":
            seed = hot * ops.relu(scores)
        else:
            seed = hot
        if not self.binary:
            return seed
        # Back from the scores [-z, z] to z: by the chain rule where the analyzer routes sums by
        # the gradient; by the proportional rule (a one-input linear map hands its input all the
        # relevance) for LRP, so class 0's relevance is minus class 1's.
        negate = isinstance(self.composite().proportional, Route)
        return seed[:, 1:] - seed[:, :1] if negate else seed[:, 1:] + seed[:, :1]

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
        checks.check_relevance(out, type(self).__name__)
        if not any(np.any(r) for r in out):
            self._warn_if_vanished([x[:size] for x in inputs], selection[:size])
        return out[0] if len(out) == 1 else out

    def _warn_if_vanished(self, inputs: list, selection: np.ndarray) -> None:
        """Warn, naming the step, when the relevance is all zero although the seed is not."""
        points, masks = self._engine.embed(inputs)
        composite = self.composite()
        record = self._engine.forward(points, masks, composite)
        logits = record["values"][self._output_key]
        seed = self._seed(logits, self._select(logits, selection))
        if not np.any(ops.convert_to_numpy(seed)):
            return  # nothing to explain (a zero logit): zero relevance is the answer
        where: list = []
        self._engine.backward(record, {self._output_key: seed}, composite, vanished=where)
        step = where[0] if where else None
        at = (
            f"at {step.name!r} ({type(step.layer).__name__}), whose rule hands its inputs nothing"
            if step is not None else "before the analysis point"
        )
        warnings.warn(
            f"the relevance is identically zero although the explained output is not: it vanished {at}. "
            "If that layer reads token ids (a custom embedding), register it as the analysis point with "
            "keras_text_lrp.register_rule(ItsClass, 'route') only for layers between tensors of floats; "
            "use a keras.layers.Embedding (or a subclass) for ids.",
            stacklevel=3,
        )

    def scores(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """The class scores of the explained output, ``(batch, n_outputs)``.

        The pre-activation logits (a final softmax or sigmoid left out); for a
        one-unit sigmoid head ``[-z, z]``, so that ``argmax`` is the predicted
        class. Computed by one compiled forward pass per batch.
        """
        inputs = self._check_inputs(X)
        n = inputs[0].shape[0]
        size = n if batch_size is None else int(batch_size)
        if self._scores_fn is None:
            def forward(inputs):
                points, masks = self._engine.embed(inputs)
                record = self._engine.forward(points, masks)
                return self._scores(record["values"][self._output_key])

            self._scores_fn = backend.compile_fn(forward, self.model.variables, self.jit_compile)
        parts = [
            ops.convert_to_numpy(self._scores_fn([x[s:s + size] for x in inputs])) for s in range(0, n, size)
        ]
        return np.concatenate(parts, axis=0)

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
            # backend.compile_fn gives each compiled function its own trace count
            # (TensorFlow counts per code object, which all these closures share).
            def run(inputs, selection, extra):
                return self._run(inputs, selection, extra)

            self._compiled = backend.compile_fn(run, self.model.variables, self.jit_compile)
        return self._compiled
