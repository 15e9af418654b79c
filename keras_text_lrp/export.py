"""Export explainers as one TensorFlow SavedModel for TensorFlow Serving.

:func:`export_for_serving` writes the model and its explanations into one
SavedModel (through ``keras.export.ExportArchive``; no ``py_function``, so the
archive loads with plain ``tf.saved_model.load`` and runs in TensorFlow
Serving without keras_text_lrp or Keras installed). Its signatures:

``serving_default`` (and ``serve``)
    The model's forward pass, exactly as ``model.export()`` writes it.
``explain_<method>``
    ``token_ids`` int32 ``[batch, T]`` -> ``logits`` ``[B, C]``, ``relevance``
    ``[B, T]`` (word relevance: the sum over the embedding axis, 0 at padding),
    ``padding_relevance`` ``[B]`` (the relevance ``analyze()`` puts at the
    padding columns, summed: returned apart, never dropped; 0 for a model
    with ``mask_zero``), ``mask`` bool ``[B, T]`` (``token_ids != 0``),
    ``target`` int32 ``[B]`` (the predicted class, explained) and, with
    ``dimensions=True``,
    ``relevance_dimensions`` ``[B, T, D]`` (what ``Analyzer.analyze`` returns).
``explain_<method>_target``
    The same with a second input ``target`` int32 ``[B]``: the class to
    explain per row (TF Serving signatures have no optional inputs).
``explain_text_<method>`` and ``explain_text_<method>_target``
    With a text signature: ``text`` string ``[B]`` (raw texts), tokenized in
    the graph, plus ``tokens`` string ``[B, T]`` in the outputs.

The method name is sanitised into the signature name: ``"lrp.epsilon"`` ->
``explain_lrp_epsilon``. Every explain signature checks its inputs inside the
graph (``tf.debugging`` asserts, raised as ``InvalidArgument``): an empty
batch, ``T == 0``, token ids outside the Embedding's range and targets outside
``[0, C)`` or of the wrong length are refused rather than answered with wrong
numbers.

The analysis in the graph is the analyzer's own traced ``_run`` (the function
:meth:`Analyzer.analyze` compiles), so the numbers are those of
``analyzer.analyze(token_ids, neuron_selection=target)``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.engine import Engine
from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError
from keras_text_lrp.model_tools import text_vectorization, token_id_model
from keras_text_lrp.text.pipeline import (
    PADDINGS,
    PTB_FORMS,
    check_embedding_rows,
    model_lengths,
    vocabulary_form,
)

__all__ = [
    "BackendNotSupportedError",
    "TEXT_TOKENIZERS",
    "export_for_serving",
    "signature_name",
]

TEXT_TOKENIZERS = ("treebank", "whitespace", "space")
"""In-graph tokenizers of the text signatures (see :func:`export_for_serving`)."""


class BackendNotSupportedError(InvalidModelError):
    """Export needs the TensorFlow backend (SavedModels are TensorFlow graphs)."""


def signature_name(method: str, *, text: bool = False, target: bool = False) -> str:
    """The signature name of a method: ``"lrp.epsilon"`` -> ``"explain_lrp_epsilon"``.

    Parameters
    ----------
    method : str
        An analyzer name (any character outside ``[A-Za-z0-9_]`` becomes ``_``).
    text : bool
        The raw-text signature (``explain_text_<method>``).
    target : bool
        The signature that takes the target class (``..._target``).

    Returns
    -------
    str
    """
    clean = re.sub(r"[^0-9A-Za-z_]", "_", method)
    return f"explain_{'text_' if text else ''}{clean}{'_target' if target else ''}"


# ---------------------------------------------------------------------------
# what is exported
# ---------------------------------------------------------------------------
def _require_tensorflow() -> None:
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendNotSupportedError(
            f"export_for_serving writes a TensorFlow SavedModel and needs the TensorFlow backend, but "
            f"Keras runs on {backend!r}. Set KERAS_BACKEND=tensorflow before Keras is imported "
            f"(e.g. `KERAS_BACKEND=tensorflow keras-text-lrp export ...`)."
        )


def _resolve(model: Any, vocabulary: Any) -> tuple[keras.Model, Any, dict]:
    """The Keras model, its vocabulary and the tokenization it was trained with."""
    from keras_text_lrp import models
    from keras_text_lrp.text.vocab import Vocabulary

    info: dict = {}
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if path.suffix == ".keras" and vocabulary is None and not path.with_suffix(".vocab.json").is_file():
            model = models._load_keras(path)  # no vocabulary file: e.g. a TextVectorization model
        else:
            model = models.load(model) if vocabulary is None else models.load(model, vocabulary=vocabulary)
            vocabulary = None
    elif isinstance(vocabulary, (str, os.PathLike)):
        vocabulary = Vocabulary.load(vocabulary)
    if hasattr(model, "vocabulary") and hasattr(model, "model"):  # a PretrainedModel
        vocabulary = vocabulary if vocabulary is not None else model.vocabulary
        info = {"lowercase": bool(getattr(model, "lowercase", False)),
                "labels": [str(n) for n in getattr(model, "labels", None) or []] or None}
        model = model.model
    if not isinstance(model, keras.Model):
        raise InvalidArgumentError(
            f"model must be a keras.Model, a shipped model name or a loaded pretrained model, got "
            f"{type(model).__name__}."
        )
    return model, vocabulary, info


def _analyzer_name(analyzer: Analyzer) -> str:
    from keras_text_lrp.analyzers.registry import ANALYZERS

    for name, cls in ANALYZERS.items():
        if type(analyzer) is cls:
            return name
    return type(analyzer).__name__.lower()


def _analyzers(methods: Any, model: keras.Model, kwargs: dict) -> dict[str, Analyzer]:
    """Method name -> an analyzer of ``model`` that explains the class it is given."""
    from keras_text_lrp.analyzers.options import split_options
    from keras_text_lrp.analyzers.registry import create_analyzer

    if isinstance(methods, (str, Analyzer)):
        methods = [methods]
    items = list(methods.items()) if isinstance(methods, Mapping) else [(None, m) for m in methods]
    if not items:
        raise InvalidArgumentError("give at least one method to export.")
    names = [m for _, m in items if isinstance(m, str)]
    options = split_options(names, kwargs) if names else {}
    if kwargs and not names:
        raise InvalidArgumentError(
            f"analyzer options {sorted(kwargs)} were given but every method is an Analyzer instance; "
            "set the options when creating the analyzers."
        )
    out: dict[str, Analyzer] = {}
    for key, method in items:
        if isinstance(method, str):
            analyzer = create_analyzer(method, model, neuron_selection_mode="index", **options[method])
            name = key or method
        elif isinstance(method, Analyzer):
            if method.model is not model:
                raise InvalidArgumentError(
                    f"the analyzer {type(method).__name__} explains model {method.model.name!r}, not the "
                    f"exported model {model.name!r}."
                )
            # The same analysis, told which class to explain (the signatures choose it).
            analyzer = copy.copy(method)
            analyzer.neuron_selection_mode = "index"
            analyzer._compiled = None
            name = key or _analyzer_name(method)
        else:
            raise InvalidArgumentError(
                f"each method must be an analyzer name or an Analyzer, got {type(method).__name__}."
            )
        if name in out or any(signature_name(name) == signature_name(n) for n in out):
            raise InvalidArgumentError(
                f"method {name!r} is exported twice (or clashes with another after sanitising to "
                f"{signature_name(name)!r}); name them apart with methods={{'name': ...}}."
            )
        out[name] = analyzer
    return out


def _static_extra(analyzer: Analyzer, name: str) -> Any:
    """A function of the token-id tensor giving the analyzer's ``extra`` inputs in the graph."""
    from keras_text_lrp.analyzers.gradient import IntegratedGradients, SmoothGrad

    if type(analyzer)._extra_inputs is Analyzer._extra_inputs:
        return lambda ids: {}
    import tensorflow as tf

    if isinstance(analyzer, IntegratedGradients):
        refs = []
        for r in analyzer._references:
            point_ndim = 3  # (batch, T, D) at the Embedding output
            if r.ndim == point_ndim and r.shape[0] != 1:
                raise InvalidArgumentError(
                    f"{name}: reference_inputs has one row per sample ({r.shape[0]}); an exported "
                    "signature takes any batch, so give one reference for all samples (a number, a "
                    "(T, D) or (D,) array, or token ids of shape (1, T))."
                )
            refs.append(r if r.ndim in (0, point_ndim) else r.reshape((1,) + r.shape))
        return lambda ids: {"reference": [tf.constant(r) for r in refs]}
    if isinstance(analyzer, SmoothGrad):
        if analyzer.seed is not None:
            seed = np.array([analyzer.seed, 0], "int32")
            return lambda ids: {"seed": tf.constant(seed)}
        # No seed: fresh noise per request (as analyze() draws a fresh seed per call).
        return lambda ids: {
            "seed": tf.stack([tf.random.uniform((), 0, 2**31 - 1, dtype=tf.int32), tf.constant(0)])
        }
    raise InvalidArgumentError(
        f"{name}: the analyzer {type(analyzer).__name__} takes per-batch extra inputs that export does "
        "not know how to build in the graph."
    )


# ---------------------------------------------------------------------------
# in-graph tokenization
# ---------------------------------------------------------------------------
# The Penn-Treebank rules of NLTK's TreebankWordTokenizer (what explain() uses by default), as RE2
# rewrites on the whole string. Tokens then are the space-separated pieces.
_TREEBANK_RULES: tuple[tuple[str, str], ...] = (
    # starting quotes
    (r'^"', r"``"),
    (r"(``)", r" \1 "),
    (r'([ \(\[{<])("|\'\')', r"\1 `` "),
    # punctuation
    (r"([:,])([^\d])", r" \1 \2"),
    (r"([:,])$", r" \1 "),
    (r"\.\.\.", r" ... "),
    (r"[;@#$%&]", r" \0 "),
    (r'([^\.])(\.)([\]\)}>"\']*)\s*$', r"\1 \2\3 "),
    (r"[?!]", r" \0 "),
    (r"([^'])' ", r"\1 ' "),
    # brackets and dashes
    (r"[\]\[\(\)\{\}<>]", r" \0 "),
    (r"--", r" -- "),
    # ending quotes and clitics (on the text padded with spaces)
    (r"^", " "),
    (r"$", " "),
    (r"''", " '' "),
    (r'"', " '' "),
    (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
    (r"(?i)\b(can)(not)\b", r" \1 \2 "),
    (r"(?i)\b(d)('ye)\b", r" \1 \2 "),
    (r"(?i)\b(gim)(me)\b", r" \1 \2 "),
    (r"(?i)\b(gon)(na)\b", r" \1 \2 "),
    (r"(?i)\b(got)(ta)\b", r" \1 \2 "),
    (r"(?i)\b(lem)(me)\b", r" \1 \2 "),
    (r"(?i)\b(more)('n)\b", r" \1 \2 "),
    (r"(?i)\b(wan)(na)(\s)", r" \1 \2 \3"),  # NLTK: (?=\s); RE2 has no look-ahead
    (r"(?i) ('t)(is)\b", r" \1 \2 "),
    (r"(?i) ('t)(was)\b", r" \1 \2 "),
)


def _tf_tokenize(texts: Any, tokenizer: str, lowercase: bool) -> Any:
    """Ragged string tokens of a ``[B]`` string tensor, in the graph."""
    import tensorflow as tf

    if tokenizer == "treebank":
        for pattern, rewrite in _TREEBANK_RULES:
            texts = tf.strings.regex_replace(texts, pattern, rewrite)
        tokens = tf.strings.split(texts)
    elif tokenizer == "space":
        tokens = tf.strings.split(texts, sep=" ")
    else:
        tokens = tf.strings.split(texts)
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    if lowercase:
        tokens = tf.strings.lower(tokens, encoding="utf-8")
    return tokens


class _VocabularyLookup:
    """Token -> id in the graph, as ``explain()`` looks tokens up (PTB-escaped forms included)."""

    def __init__(self, vocabulary: Any, input_dim: int):
        import tensorflow as tf

        check_embedding_rows(vocabulary, input_dim)
        words = vocabulary.get_vocabulary()
        ids = np.arange(2, len(words), dtype="int64")
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(words[2:]), ids), default_value=1
        )
        aliases = {p: vocabulary_form(p, vocabulary) for p in PTB_FORMS}
        aliases = {p: vocabulary.token_to_id(f) for p, f in aliases.items() if f != p}
        self.aliases = None
        if aliases:
            self.aliases = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(aliases)), tf.constant(list(aliases.values()), tf.int64)
                ),
                default_value=1,
            )
        self.escape = any(("\\/" in w or "\\*" in w) for w in words)

    def resources(self) -> list:
        """The lookup tables (tracked by the export so that they are saved)."""
        return [t for t in (self.table, self.aliases) if t is not None]

    def __call__(self, tokens: Any) -> Any:
        import tensorflow as tf

        ids = self.table.lookup(tokens)
        if self.aliases is not None:
            ids = tf.where(ids == 1, self.aliases.lookup(tokens), ids)
        if self.escape:
            escaped = tf.strings.regex_replace(tokens, r"([/*])", r"\\\1")
            ids = tf.where(ids == 1, self.table.lookup(escaped), ids)
        return tf.where(tokens == "", tf.zeros_like(ids), ids)


# ---------------------------------------------------------------------------
# the signatures
# ---------------------------------------------------------------------------
class _Signatures:
    """Builds the signature functions of one export."""

    def __init__(self, model: keras.Model, analysis: keras.Model, tv: Any, dimensions: bool,
                 lookup: _VocabularyLookup | None, tokenizer: str, lowercase: bool,
                 padding: str = "post", min_width: int = 1):
        self.padding = padding
        self.min_width = min_width
        self.model = model
        self.analysis = analysis
        self.tv = tv
        self.dimensions = dimensions
        self.lookup = lookup
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.length = analysis.inputs[0].shape[1]
        self.input_dtype = analysis.inputs[0].dtype
        self.embedding = Engine(analysis).token_inputs()[0]

    # -- checks (InvalidArgument at serving time) --------------------------
    def _checked_ids(self, ids: Any, what: str = "token_ids") -> Any:
        import tensorflow as tf

        shape = tf.shape(ids)
        checks = [
            tf.debugging.assert_positive(shape[0], message=f"{what}: the batch is empty (0 rows)"),
            tf.debugging.assert_positive(
                shape[1], message=f"{what}: the sequences have length 0; give at least one token"
            ),
            tf.debugging.assert_non_negative(ids, message=f"{what}: token ids must be >= 0"),
            tf.debugging.assert_less(
                ids, tf.constant(self.embedding.input_dim, ids.dtype),
                message=f"{what}: token ids must be < {self.embedding.input_dim} (the vocabulary size)",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(ids)

    @staticmethod
    def _checked_target(target: Any, batch: Any, classes: int) -> Any:
        import tensorflow as tf

        checks = [
            tf.debugging.assert_equal(
                tf.shape(target)[0], batch, message="target: give one class per row of the batch"
            ),
            tf.debugging.assert_non_negative(target, message="target: classes are >= 0"),
            tf.debugging.assert_less(
                target, tf.constant(classes, target.dtype),
                message=f"target: the model has {classes} classes (0..{classes - 1})",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(target)

    # -- the analysis ------------------------------------------------------
    def _logits(self, ids: Any, analyzer: Analyzer) -> Any:
        """The class scores the analyzer explains (``analyzer.scores``: the pre-activation logits of
        a squashed head, ``[-z, z]`` for one sigmoid unit)."""
        import tensorflow as tf

        points, masks = analyzer._engine.embed([tf.cast(ids, self.input_dtype)])
        record = analyzer._engine.forward(points, masks)
        return analyzer._scores(record["values"][analyzer._output_key])

    def core(self, analyzer: Analyzer, extra: Any) -> Any:
        """The analysis of one method as a ``tf.function`` of ``(token_ids, target)``.

        Traced once and called by all four signatures of the method (tracing
        the backward pass is the slow part of an export).
        """
        import tensorflow as tf

        @tf.function(
            input_signature=[tf.TensorSpec((None, self.length), tf.int32),
                             tf.TensorSpec((None,), tf.int32)],
            autograph=False,
        )
        def explain_core(ids, target):
            ids = self._checked_ids(ids)
            target = self._checked_target(target, tf.shape(ids)[0], analyzer.n_outputs)
            ids, keep = self._widened(ids)
            logits = self._logits(ids, analyzer)
            dims = analyzer._run([ids], target, extra(ids))[0]
            mask = tf.not_equal(ids, 0)
            summed = tf.reduce_sum(dims, axis=-1)
            words = summed * tf.cast(mask, dims.dtype)
            # What analyze() puts at the padding (id 0) columns, returned apart rather than dropped;
            # the columns added for the model's least length count as padding too.
            padding = tf.reduce_sum(summed - words, axis=-1)
            out = {"logits": logits, "relevance": keep(words), "mask": keep(mask), "target": target,
                   "padding_relevance": padding}
            if self.dimensions:
                out["relevance_dimensions"] = keep(dims)
            return out

        return explain_core

    def _widened(self, ids: Any) -> tuple[Any, Any]:
        """Ids padded (id 0, on the export's padding side) to the least length the model runs on, and
        the function that cuts a ``(batch, width, ...)`` result back to the columns that were given."""
        import tensorflow as tf

        if self.length is not None or self.min_width <= 1:
            return ids, lambda t: t
        width = tf.shape(ids)[1]
        short = tf.maximum(self.min_width - width, 0)
        if self.padding == "pre":
            return tf.pad(ids, [[0, 0], [short, 0]]), lambda t: t[:, short:]
        return tf.pad(ids, [[0, 0], [0, short]]), lambda t: t[:, :width]

    def _predicted(self, ids: Any, analyzer: Analyzer) -> Any:
        import tensorflow as tf

        ids, _ = self._widened(self._checked_ids(ids))
        return tf.cast(tf.argmax(self._logits(ids, analyzer), axis=-1), tf.int32)

    @staticmethod
    def _ranked(x: Any, shape: tuple, what: str, expected: str) -> Any:
        """``x``, checked at serving time to have ``len(shape)`` axes (and the fixed sizes of ``shape``).

        The signatures declare their inputs without a rank: a declared rank is
        only a static hint, and a served tensor of another rank passes it
        unchecked (to fail later with a message naming no input).
        """
        import tensorflow as tf

        rank = tf.rank(x)
        checks = [tf.debugging.Assert(
            tf.equal(rank, len(shape)), [f"{what}: expected shape {expected}, got a tensor of rank", rank]
        )]
        with tf.control_dependencies(checks):
            # Under the check (tf.ensure_shape would run before it): the static rank for the analysis.
            sizes = tf.shape(x)
            x = tf.reshape(x, tf.stack([sizes[k] for k in range(len(shape))]))
        fixed = [tf.debugging.assert_equal(
            tf.shape(x)[k], n, message=f"{what}: expected shape {expected}, axis {k} must be {n}"
        ) for k, n in enumerate(shape) if n is not None]
        with tf.control_dependencies(fixed):
            return tf.reshape(x, [-1 if n is None else n for n in shape]) if fixed else x

    def _ranked_ids(self, ids: Any) -> Any:
        width = "T" if self.length is None else str(self.length)
        return self._ranked(ids, (None, self.length), "token_ids", f"(batch, {width}) int32")

    def _ranked_target(self, target: Any) -> Any:
        return self._ranked(target, (None,), "target", "(batch,) int32, one class per row")

    def token_fn(self, analyzer: Analyzer, core: Any, with_target: bool) -> Any:
        """The ``explain_<method>[_target]`` signature function."""
        if with_target:
            def explain(token_ids, target):
                return core(self._ranked_ids(token_ids), self._ranked_target(target))
        else:
            def explain(token_ids):
                token_ids = self._ranked_ids(token_ids)
                return core(token_ids, self._predicted(token_ids, analyzer))
        return explain

    # -- raw text ----------------------------------------------------------
    def _text_ids(self, text: Any) -> tuple[Any, Any]:
        """Token ids ``[B, T]`` and token strings ``[B, T]`` of raw texts ``[B]``."""
        import tensorflow as tf

        tf.debugging.assert_positive(tf.shape(text)[0], message="text: the batch is empty (0 texts)")
        if self.tv is not None:
            rank = len(self.model.inputs[0].shape)
            fed = tf.reshape(text, (-1, 1)) if rank == 2 else text
            ids = tf.cast(self.tv(fed), tf.int32)
            splits = self.tv._split is not None and self.tv._ngrams is None
            if splits:
                ragged = self.tv._preprocess(fed)
                width = tf.shape(ids)[1]
                tokens = ragged.to_tensor(default_value="")
                tokens = tokens[:, :width]
                tokens = tf.pad(tokens, [[0, 0], [0, width - tf.shape(tokens)[1]]], constant_values="")
                tokens = tf.where(ids == 0, tf.constant(""), tokens)
            else:
                tokens = tf.gather(tf.constant(self.tv.get_vocabulary()), ids)
                tokens = tf.where(ids == 0, tf.constant(""), tokens)
            return ids, tokens
        ragged = _tf_tokenize(text, self.tokenizer, self.lowercase)
        shape = None if self.length is None else [None, self.length]
        tokens = ragged.to_tensor(default_value="", shape=shape)
        if self.length is None and self.min_width > 1:  # as short as the model's convolutions allow
            short = tf.maximum(self.min_width - tf.shape(tokens)[1], 0)
            tokens = tf.pad(tokens, [[0, 0], [0, short]], constant_values="")
        if self.padding == "pre":  # shift each row right by its padding
            width = tf.shape(tokens)[1]
            n = tf.minimum(tf.cast(ragged.row_lengths(), tf.int32), width)
            source = tf.range(width)[None, :] - (width - n)[:, None]
            shifted = tf.gather(tokens, tf.maximum(source, 0), batch_dims=1)
            tokens = tf.where(source >= 0, shifted, tf.constant(""))
        return tf.cast(self.lookup(tokens), tf.int32), tokens

    @staticmethod
    def _some_token(ids: Any) -> Any:
        """``ids``, checked to hold a token (id != 0) somewhere in the batch."""
        import tensorflow as tf

        check = tf.debugging.Assert(
            tf.reduce_any(tf.not_equal(ids, 0)), ["text: no text of the batch has a token (all empty)"]
        )
        with tf.control_dependencies([check]):
            return tf.identity(ids)

    def text_fn(self, analyzer: Analyzer, core: Any, with_target: bool) -> Any:
        """The ``explain_text_<method>[_target]`` signature function."""
        def run(text, target):
            text = self._ranked(text, (None,), "text", "(batch,) strings, one text per row")
            target = None if target is None else self._ranked_target(target)
            ids, tokens = self._text_ids(text)
            ids = self._some_token(ids)
            out = dict(core(ids, self._predicted(ids, analyzer) if target is None else target))
            out["tokens"] = tokens
            return out

        if with_target:
            def explain_text(text, target):
                return run(text, target)
        else:
            def explain_text(text):
                return run(text, None)
        return explain_text


def export_for_serving(
    model: Any,
    path: str | os.PathLike[str],
    methods: str | Analyzer | Sequence[str | Analyzer] | Mapping[str, str | Analyzer] = ("lrp.epsilon",),
    *,
    vocabulary: Any = None,
    text_signature: bool | None = None,
    dimensions: bool = False,
    text_tokenizer: str = "treebank",
    lowercase: bool | None = None,
    padding: str = "post",
    min_len: int | None = None,
    overwrite: bool = False,
    verbose: bool = False,
    **analyzer_kwargs: Any,
) -> Path:
    """Write a model and its explainers as one SavedModel for TensorFlow Serving.

    Parameters
    ----------
    model : keras.Model, str or PretrainedModel
        A model taking token ids ``(batch, T)`` into an Embedding and ending
        in logits, or a model whose string input goes through a
        ``TextVectorization`` layer into an Embedding; or a shipped model name
        (``"sst5-cnn"``, ``"sst5-bilstm"``) or a model loaded with
        :func:`keras_text_lrp.models.load` (its vocabulary comes along).
    path : str or os.PathLike
        The SavedModel folder, e.g. ``models/NAME/1`` for TensorFlow Serving
        (a numbered version folder). The SavedModel is written to a hidden
        temporary folder beside it and renamed into place, so that a server
        watching the parent never sees half an export.
    methods : str, Analyzer, sequence of them, or mapping name -> str/Analyzer
        What to explain with: analyzer names (``"lrp.epsilon"``, ``"gradient"``,
        ...) or analyzers of ``model``; one set of ``explain_*`` signatures each.
        An analyzer's ``neuron_selection_mode`` is ignored: the signatures
        explain the predicted or the given class.
    vocabulary : Vocabulary or path, optional
        Needed for a text signature on a token-id model (a pretrained model
        brings its own, a ``.keras`` path the ``.vocab.json`` beside it); a
        path is read with :meth:`Vocabulary.load`.
    text_signature : bool, optional
        Add the ``explain_text_*`` signatures taking raw strings. Default: on
        for a model with a TextVectorization layer, off otherwise.
    dimensions : bool
        Also return ``relevance_dimensions`` ``[B, T, D]``.
    text_tokenizer : {"treebank", "whitespace", "space"}
        The in-graph tokenizer of a token-id model's text signature:
        ``"treebank"`` (default, like :func:`keras_text_lrp.explain`) applies
        NLTK's Penn-Treebank rules as regular-expression rewrites (the same
        tokens for ordinary English; see the README for the differences);
        ``"space"`` splits pre-tokenized text on spaces, as the shipped models
        were trained. A TextVectorization model always uses its own layer.
    lowercase : bool, optional
        Lowercase the tokens; by default as the pretrained model was trained
        (else False).
    padding : {"post", "pre"}
        Where the text signatures of a token-id model put the padding, as the
        model was trained (as :func:`keras_text_lrp.explain`'s ``padding``).
    min_len : int, optional
        The least row length of those text signatures; by default the
        least length the model's convolutions, strides and pools need (a
        model with a fixed input length always gets that length).
    overwrite : bool
        Replace an existing, non-empty ``path`` (refused otherwise).
    verbose : bool
        Print the endpoints (Keras' ExportArchive listing).
    **analyzer_kwargs
        Options of the named analyzers (``epsilon``, ``steps``, ...), each
        handed to the methods that take it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    BackendNotSupportedError
        On a backend other than TensorFlow.
    InvalidModelError
        If the model does not take token ids (or strings through
        TextVectorization) into an Embedding, or does not end in logits.
    InvalidArgumentError
        On unknown methods or options, a text signature without a
        vocabulary, an analyzer whose inputs cannot be built in the graph
        (integrated gradients with one reference per sample), or a non-empty
        ``path`` without ``overwrite=True``.

    Examples
    --------
    >>> export_for_serving("sst5-cnn", "export/sst5/1", ["lrp.epsilon", "gradient"])  # doctest: +SKIP
    >>> import tensorflow as tf                                                   # doctest: +SKIP
    >>> loaded = tf.saved_model.load("export/sst5/1")                             # doctest: +SKIP
    >>> out = loaded.signatures["explain_lrp_epsilon"](token_ids=tf.constant([[5, 9, 2]]))  # doctest: +SKIP
    >>> out["relevance"], out["target"]                                           # doctest: +SKIP
    """
    _require_tensorflow()
    import tensorflow as tf

    path = Path(path)
    _refuse_source_in(model, path)
    if path.exists() and not overwrite and (not path.is_dir() or any(path.iterdir())):
        raise InvalidArgumentError(
            f"{str(path)!r} exists and is not an empty folder; give overwrite=True to replace it (for "
            "TensorFlow Serving, write each export to a new numbered version folder: NAME/1, NAME/2, ...)."
        )
    model, vocabulary, info = _resolve(model, vocabulary)
    tv = text_vectorization(model)
    analysis = token_id_model(model, tv)
    analyzers = _analyzers(methods, analysis, dict(analyzer_kwargs))
    extras = {name: _static_extra(a, name) for name, a in analyzers.items()}
    if text_tokenizer not in TEXT_TOKENIZERS:
        raise InvalidArgumentError(
            f"text_tokenizer must be one of {TEXT_TOKENIZERS}, got {text_tokenizer!r}."
        )
    if text_signature is None:
        text_signature = tv is not None
    embedding = Engine(analysis).token_inputs()[0]
    if padding not in PADDINGS:
        raise InvalidArgumentError(f"padding must be one of {PADDINGS}, got {padding!r}.")
    if tv is not None and (padding != "post" or min_len is not None):
        raise InvalidArgumentError(
            f"padding/min_len cannot be set for model {model.name!r}: its TextVectorization layer "
            f"{tv.name!r} pads the texts itself."
        )
    _, least = model_lengths(analysis)
    if min_len is not None and min_len < least:
        raise InvalidArgumentError(
            f"min_len={min_len} is too short for model {model.name!r}: its convolutions, strides and "
            f"pools need at least {least} steps."
        )
    lookup = None
    if text_signature and tv is None:
        if vocabulary is None:
            raise InvalidArgumentError(
                "a text signature needs the model's vocabulary: pass vocabulary=Vocabulary(...), a "
                "pretrained model, or a model with a TextVectorization layer (or text_signature=False)."
            )
        lookup = _VocabularyLookup(vocabulary, embedding.input_dim)
    lower = info.get("lowercase", False) if lowercase is None else bool(lowercase)
    build = _Signatures(model, analysis, tv, dimensions, lookup, text_tokenizer, lower, padding,
                        max(least, min_len or 1))

    archive = keras.export.ExportArchive()
    spec = model.inputs[0]
    archive.track_and_add_endpoint(
        "serve", model, [tf.TensorSpec(tuple(spec.shape), spec.dtype, name=spec.name)]
    )  # the first endpoint is also "serving_default", as model.export() writes it
    # No declared rank: the signatures check it themselves (a declared one is not checked when served).
    ids_spec = tf.TensorSpec(None, tf.int32, name="token_ids")
    target_spec = tf.TensorSpec(None, tf.int32, name="target")
    text_spec = tf.TensorSpec(None, tf.string, name="text")
    for name, analyzer in analyzers.items():
        core = build.core(analyzer, extras[name])
        archive.add_endpoint(signature_name(name), build.token_fn(analyzer, core, False), [ids_spec])
        archive.add_endpoint(signature_name(name, target=True), build.token_fn(analyzer, core, True),
                             [ids_spec, target_spec])
        if text_signature:
            archive.add_endpoint(signature_name(name, text=True), build.text_fn(analyzer, core, False),
                                 [text_spec])
            archive.add_endpoint(signature_name(name, text=True, target=True),
                                 build.text_fn(analyzer, core, True), [text_spec, target_spec])
    if lookup is not None:
        for table in lookup.resources():
            archive.track(table)
    _write(archive, path, verbose, info.get("labels"))
    return path


def _refuse_source_in(model: Any, path: Path) -> None:
    """Refuse a destination that is, or contains, the model file being exported."""
    from keras_text_lrp import _safety

    source = getattr(model, "path", None) if not isinstance(model, (str, os.PathLike)) else model
    if source is None:
        return
    source = Path(source)
    if source.suffix != ".keras" and not source.exists():
        return  # a shipped model name
    if _safety.inside(source, path):
        raise InvalidArgumentError(
            f"the export folder {_safety.printable(str(path), one_line=True)!r} is or contains the model "
            f"file {_safety.printable(str(source), one_line=True)!r} being exported; writing it would "
            "destroy the model: give another folder (e.g. serving/NAME/1)."
        )



#: Where an export keeps its class names (TF Serving's folder for files beside the SavedModel).
LABELS_FILE = "assets.extra/labels.json"


def _write(archive: Any, path: Path, verbose: bool, labels: list[str] | None = None) -> None:
    """Write the SavedModel beside ``path`` and rename it into place."""
    from keras_text_lrp import _safety

    path.parent.mkdir(parents=True, exist_ok=True)
    _safety.clean_stale_temporaries(path)  # left by a killed earlier export
    prefix = f"{_safety.temp_prefix(path)}{os.getpid()}."
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=path.parent))
    # mkdtemp makes the folder 0o700; a server running as another user must read the export.
    os.chmod(staging, _safety.umask_mode())
    try:
        archive.write_out(str(staging), verbose=verbose)
        if labels:
            # The class names travel with the export, so that Beam records carry ``labels``.
            (staging / LABELS_FILE).parent.mkdir(exist_ok=True)
            (staging / LABELS_FILE).write_text(json.dumps(labels), encoding="utf-8")
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
