"""The model under word deletion: logits of token-id inputs with some positions deleted.

Three ways to delete a word (``DELETIONS``):

- ``"zero_embedding"`` (Arras et al. 2016, 2017): the word's embedding vector
  is set to zero. The model is run from the Embedding output, multiplied by a
  keep-mask, through the same layer-by-layer walk the analyzers use
  (:mod:`keras_text_lrp.graph`). The Keras masks are computed from the
  *original* ids, so padding stays masked and a zero-embedded word stays an
  unmasked (zero) step: it still counts in a masked average and still moves
  an LSTM one step. (A functional wrapper ``Multiply()([embedding, keep])``
  would not do: Keras merge layers drop the mask when one input has none,
  and the padding would be unmasked.)
- ``"unk"``: the id is replaced by the out-of-vocabulary id (1 by default).
- ``"pad"``: the id is replaced by the padding id (0); under
  ``mask_zero=True`` the word then disappears from the model as padding does.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from keras_text_lrp import backend
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.graph import Graph, Step, trace

__all__ = [
    "DELETIONS", "Perturber", "check_batch_size", "check_ids", "get_perturber", "logits_of_variants",
]

DELETIONS = ("zero_embedding", "unk", "pad")
"""Ways of deleting a word accepted by the evaluation functions."""


def _embedding_step(model: keras.Model, graph: Graph) -> Step:
    """The Embedding call of ``graph`` that reads the (single) token-id input of ``model``."""
    # Nested models join their inputs to the outer tensors through identity steps.
    aliases = {graph.inputs[0]}
    for step in graph.steps:
        if step.layer is None:
            aliases.update(o for i, o in zip(step.inputs, step.outputs) if i in aliases)
        elif isinstance(step.layer, keras.layers.Embedding) and step.inputs[0] in aliases:
            return step
    raise InvalidModelError(
        f"deletion='zero_embedding' needs a model whose token-id input feeds a keras.layers.Embedding; "
        f"{model.name!r} has none reading its input. Use deletion='unk' or deletion='pad' instead."
    )


class Perturber:
    """Logits of a token model with chosen word positions deleted.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model with one input of token ids
        ``(batch, T)`` and one output ``(batch, classes)``.
    deletion : {"zero_embedding", "unk", "pad"}
        How a word is deleted (see the module docstring).
    unk_id, pad_id : int
        The ids written for ``"unk"`` / ``"pad"`` deletion.
    """

    def __init__(
        self, model: keras.Model, deletion: str = "zero_embedding", unk_id: int = 1, pad_id: int = 0
    ):
        backend.name()
        if deletion not in DELETIONS:
            raise InvalidArgumentError(f"deletion must be one of {DELETIONS}, got {deletion!r}.")
        if not isinstance(model, keras.Model):
            raise InvalidArgumentError(f"model must be a keras.Model, got {type(model).__name__}.")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise InvalidModelError(
                f"word deletion needs a model with one input (token ids) and one output (class scores); "
                f"{model.name!r} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s)."
            )
        out_shape = tuple(model.outputs[0].shape)
        if len(out_shape) != 2 or out_shape[-1] is None:
            raise InvalidModelError(
                f"the model output must be (batch, classes), but it has shape {out_shape}."
            )
        # Weak: get_perturber's cache is keyed by the model and must not keep it alive.
        self._model = weakref.ref(model)
        self.deletion = deletion
        self.n_classes = int(out_shape[-1])
        self.unk_id, self.pad_id = int(unk_id), int(pad_id)
        self._embedding: Step | None = None
        self.input_dim: int | None = None
        if deletion == "zero_embedding":
            graph = trace(model)
            self._steps, self._input, self._output = graph.steps, graph.inputs[0], graph.outputs[0]
            self._embedding = _embedding_step(model, graph)
            self.embedding_layer = self._embedding.layer
            self.input_dim = int(self.embedding_layer.input_dim)
        else:
            embeddings = [lay for lay in _leaf_layers(model) if isinstance(lay, keras.layers.Embedding)]
            self.input_dim = int(embeddings[0].input_dim) if len(embeddings) == 1 else None
            replacement = self.unk_id if deletion == "unk" else self.pad_id
            if self.input_dim is not None and not 0 <= replacement < self.input_dim:
                raise InvalidArgumentError(
                    f"the {deletion} id {replacement} is outside the Embedding's ids "
                    f"[0, {self.input_dim - 1}]."
                )
        self._fn: Any = None

    @property
    def model(self) -> keras.Model:
        model = self._model()
        if model is None:
            raise InvalidModelError("the model of this Perturber no longer exists.")
        return model

    def _walk(self, ids: Any, keep: Any) -> Any:
        """Run the graph with the Embedding output multiplied by ``keep`` (traced)."""
        values = {self._input: ids}
        masks: dict = {self._input: None}
        for step in self._steps:
            xs = [values[k] for k in step.inputs]
            ms = [masks.get(k) for k in step.inputs]
            ys = step.call(xs, ms)
            out_masks = step.output_masks(xs, ms)
            if step is self._embedding:
                # The Embedding's mask was computed from the ids just above: a zeroed word is not padding.
                ys = [ys[0] * ops.cast(ops.expand_dims(keep, -1), ys[0].dtype)]
            for k, y, m in zip(step.outputs, ys, out_masks):
                values[k], masks[k] = y, m
        return values[self._output]

    def _compiled(self) -> Any:
        if self._fn is None:
            if self.deletion == "zero_embedding":

                def run(ids: Any, keep: Any) -> Any:
                    return self._walk(ids, keep)
            else:

                def run(ids: Any, keep: Any) -> Any:
                    return self.model(ids, training=False)

            self._fn = backend.compile_fn(run, self.model.variables)
        return self._fn

    def logits(self, ids: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Logits of ``ids`` with the positions where ``keep`` is False deleted.

        Parameters
        ----------
        ids : numpy.ndarray of int, shape (batch, T)
        keep : numpy.ndarray of bool, shape (batch, T)

        Returns
        -------
        numpy.ndarray, shape (batch, classes)
        """
        keep = np.asarray(keep, bool)
        if self.deletion == "zero_embedding":
            out = self._compiled()(ids, keep.astype("float32"))
        else:
            replacement = self.unk_id if self.deletion == "unk" else self.pad_id
            out = self._compiled()(np.where(keep, ids, replacement).astype("int32"), keep.astype("float32"))
        return np.asarray(ops.convert_to_numpy(out), dtype=np.float64)


_PERTURBERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_perturber(model: keras.Model, deletion: str, unk_id: int = 1) -> Perturber:
    """The :class:`Perturber` of ``model``, built and compiled once per deletion mode.

    Several curves on one model (methods, random seeds, AOPC) then share one
    traced function instead of compiling their own.
    """
    try:
        cache = _PERTURBERS.setdefault(model, {})
    except TypeError:
        return Perturber(model, deletion, unk_id=unk_id)
    key = (deletion, int(unk_id))
    if key not in cache:
        cache[key] = Perturber(model, deletion, unk_id=unk_id)
    return cache[key]


def _leaf_layers(model: Any) -> list:
    out = []
    for layer in model.layers:
        out.extend(_leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def check_ids(ids: Any, input_dim: int | None) -> np.ndarray:
    """``ids`` as an int32 ``(N, T)`` array, checked against the Embedding's vocabulary size."""
    array = np.asarray(ids)
    if array.ndim != 2:
        raise InvalidInputError(
            f"ids must be token ids shaped (texts, T), got shape {array.shape}; "
            "add a batch axis with ids[None]."
        )
    if array.dtype.kind not in "iu":
        raise InvalidInputError(f"ids must hold integer token ids, got dtype {array.dtype}.")
    if array.shape[0] == 0:
        raise InvalidInputError("ids is an empty batch: give at least one text.")
    if array.min() < 0:
        raise InvalidInputError(f"ids hold the negative id {array.min()}; token ids are >= 0 (0 = padding).")
    if input_dim is not None and array.max() >= input_dim:
        raise InvalidInputError(
            f"ids hold values in [{array.min()}, {array.max()}], but the model's Embedding takes ids "
            f"in [0, {input_dim - 1}]."
        )
    return array.astype("int32", copy=False)


def logits_of_variants(
    perturber: Perturber,
    ids: np.ndarray,
    keep_of: Callable[[int, int, int], np.ndarray],
    n_variants: int,
    batch_size: int,
    progress: bool = True,
    desc: str = "deletion",
) -> np.ndarray:
    """Logits of ``n_variants`` perturbed copies of every text, batch by batch.

    Parameters
    ----------
    perturber : Perturber
    ids : numpy.ndarray of int32, shape (N, T)
    keep_of : callable
        ``keep_of(start, stop, j)`` -> bool ``(stop - start, T)``: the positions
        of texts ``start:stop`` kept in variant ``j``.
    n_variants : int
    batch_size : int
    progress : bool
        Show a tqdm bar (one tick per forward pass of one batch).
    desc : str
        The bar's label.

    Returns
    -------
    numpy.ndarray of float64, shape (n_variants, N, classes)
    """
    n = ids.shape[0]
    out = np.empty((n_variants, n, perturber.n_classes))
    starts = range(0, n, batch_size)
    with tqdm(total=len(starts) * n_variants, desc=desc, unit="pass", disable=not progress) as bar:
        for start in starts:
            stop = min(start + batch_size, n)
            # A short last batch is filled up with copies of its last row to a power of two, so that
            # the compiled function (jax.jit compiles once per shape) sees few distinct shapes.
            size = min(batch_size, 1 << (stop - start - 1).bit_length())
            rows = np.minimum(np.arange(start, start + size), stop - 1)
            for j in range(n_variants):
                keep = keep_of(start, stop, j)
                keep = np.concatenate([keep, np.repeat(keep[-1:], size - len(keep), axis=0)])
                out[j, start:stop] = perturber.logits(ids[rows], keep)[: stop - start]
                bar.update(1)
    if np.isnan(out).any():
        warnings.warn(
            "the model gave NaN scores for some perturbed texts (e.g. an average over a text whose words "
            "were all deleted with deletion='pad'); such texts count as misclassified.",
            stacklevel=3,
        )
    return out


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}.")
    return int(batch_size)
