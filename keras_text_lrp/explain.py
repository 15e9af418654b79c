"""From raw text to word relevances: ``explain(model, texts, method=...)``.

One call tokenizes the texts (with character offsets into the originals),
encodes them with the model's vocabulary, runs the model once for the
logits, runs each analyzer once on the whole batch of token ids, and pools
the per-dimension relevances into one signed score per word
(SEMANTICS.md, "Word level"). The result holds everything the views need.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import keras
import numpy as np

from keras_text_lrp._fileio import atomic_write_text
from keras_text_lrp.analyzers.options import split_options
from keras_text_lrp.analyzers.registry import create_analyzer
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.text.hub import HubPipeline, hub_preprocessor
from keras_text_lrp.text.pipeline import (
    PTB_FORMS,
    TextPipeline,
    check_embedding_rows,
    encode_with_layer,
    model_lengths,
    oov_warning,
    vocabulary_form,
)
from keras_text_lrp.text.relevance import word_relevance
from keras_text_lrp.text.vocab import Vocabulary

__all__ = ["Explanation", "explain"]


@dataclass
class Explanation:
    """Word relevances of a batch of texts under one or more methods.

    Attributes
    ----------
    texts : list of str
        The texts as given.
    tokens : list of list of str
        The tokens the model saw (after truncation), per text.
    offsets : list of list of (int, int)
        Character span of each token in its text.
    ids : numpy.ndarray of int32, (batch, T)
        The encoded, padded token ids (0 = padding), as the model took them.
    scores : dict of str to list of numpy.ndarray
        Method name -> one array of word relevances per text (one value per
        token; padding excluded).
    logits : numpy.ndarray, (batch, classes)
        The class scores the analyzers explain: the model's logits, the
        pre-activation logits of a softmax/sigmoid head, ``[-z, z]`` for a
        one-unit sigmoid head (so ``argmax`` is the predicted class).
    predicted, target : numpy.ndarray of int, (batch,)
        The predicted class and the class explained.
    label_names : list of str or None
    relevance : dict of str to numpy.ndarray
        Method name -> the per-dimension relevances ``(batch, T, D)``, when
        ``explain(..., keep_dimensions=True)``.
    padding_relevance : dict of str to numpy.ndarray
        Method name -> ``(batch,)``: the relevance ``analyze()`` puts at the
        padding columns of each row (summed), which :attr:`scores` leaves
        out; 0 for a model whose Embedding has ``mask_zero=True``. The
        scores plus this equal the sum of ``analyze()``'s relevance.
    positions : list of numpy.ndarray of int
        The column of :attr:`ids` of each token, per text (``T-n..T-1`` with
        ``padding="pre"``).
    oov_words : list of list of str
        The tokens of each text that are not in the vocabulary (explained as
        the out-of-vocabulary id).
    oov_id : int
        That id (1, or a keras-hub tokenizer's ``[UNK]`` id).
    """

    texts: list[str]
    tokens: list[list[str]]
    offsets: list[list[tuple[int, int]]]
    ids: np.ndarray
    scores: dict[str, list[np.ndarray]]
    logits: np.ndarray
    predicted: np.ndarray
    target: np.ndarray
    label_names: list[str] | None = None
    relevance: dict[str, np.ndarray] = field(default_factory=dict)
    padding_relevance: dict[str, np.ndarray] = field(default_factory=dict)
    positions: list[np.ndarray] = field(default_factory=list)
    oov_words: list[list[str]] = field(default_factory=list)
    oov_id: int = Vocabulary.oov_id

    @property
    def methods(self) -> list[str]:
        """The method names, in the order they were given."""
        return list(self.scores)

    @property
    def display_tokens(self) -> list[list[str]]:
        """The tokens as the user wrote them: each token's characters of its text (through ``offsets``).

        ``tokens`` holds the forms the model saw (lowercased, PTB forms of
        quotes, cut to the model's length); a token without a character span
        keeps that form. The views show these.
        """
        out = []
        for text, tokens, offsets in zip(self.texts, self.tokens, self.offsets, strict=True):
            row = []
            for j, token in enumerate(tokens):
                span = offsets[j] if j < len(offsets) else None
                row.append(text[span[0]:span[1]] if span is not None and span[1] > span[0] else token)
            out.append(row)
        return out

    @property
    def oov(self) -> list[list[bool]]:
        """Per text, which tokens are out of the vocabulary (encoded as the ``[UNK]`` id)."""
        # ``positions`` maps tokens to id columns (pre-padding shifts them).
        columns = self.positions or [range(len(tokens)) for tokens in self.tokens]
        return [[bool(self.ids[i, c] == self.oov_id) for c in columns[i]]
                for i in range(len(self.tokens))]

    def __len__(self) -> int:
        return len(self.texts)

    def heatmap(self, **kwargs: Any) -> Any:
        """The texts and methods as a :class:`~keras_text_lrp.views.HeatmapPage`."""
        from keras_text_lrp.views import HeatmapPage

        kwargs.setdefault("oov", self.oov)
        return HeatmapPage(
            self.display_tokens, self.scores, label_names=self.label_names,
            pred=[int(p) for p in self.predicted], target=[int(t) for t in self.target],
            logits=self.logits, **kwargs,
        )

    def _repr_html_(self) -> str:
        return self.heatmap()._repr_html_()

    def save_html(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write a self-contained HTML heatmap page (atomically)."""
        self.heatmap(**kwargs).save(path)

    def plot(self, **kwargs: Any) -> Any:
        """A matplotlib Figure of the heatmaps (:func:`~keras_text_lrp.views.plot_heatmap`)."""
        from keras_text_lrp.views import plot_heatmap

        kwargs.setdefault("oov", self.oov)
        return plot_heatmap(self.display_tokens, self.scores, **kwargs)

    def format(self, method: str | None = None, mode: str = "auto", stream: TextIO | None = None) -> str:
        """The texts as coloured terminal lines (plain ``word[+0.12]`` off a TTY)."""
        from keras_text_lrp.views import colorize

        method = self.methods[0] if method is None else method
        lines = []
        oov = self.oov
        for i, tokens in enumerate(self.display_tokens):
            head = f"pred={self._name(self.predicted[i])} target={self._name(self.target[i])}"
            words = colorize(tokens, self.scores[method][i], mode=mode, stream=stream, oov=oov[i])
            lines.append(f"{head} | {words}")
        return "\n".join(lines)

    def _name(self, k: int) -> str:
        return self.label_names[int(k)] if self.label_names else str(int(k))

    def to_records(self) -> list[dict]:
        """One JSON-ready dict per text: tokens, offsets, scores per method, logits, classes.

        ``oov`` counts the text's out-of-vocabulary tokens; ``labels`` holds the
        class names when known.
        """
        records = []
        oov = self.oov
        for i, text in enumerate(self.texts):
            records.append({
                "text": text,
                "tokens": self.tokens[i],
                "offsets": [list(o) for o in self.offsets[i]],
                "scores": {m: [float(v) for v in s[i]] for m, s in self.scores.items()},
                "logits": [float(v) for v in self.logits[i]],
                "predicted": int(self.predicted[i]),
                "target": int(self.target[i]),
                "oov": int(sum(oov[i])),
                **({"labels": list(self.label_names)} if self.label_names else {}),
            })
        return records

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The records as JSON; written atomically to ``path`` if given."""
        text = json.dumps(self.to_records(), ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text


def _resolve_model(model: Any, vocabulary: Vocabulary | None, label_names: Sequence[str] | None) -> tuple:
    """The Keras model, its vocabulary (None for a model with its own TextVectorization), label
    names and whether the training tokens were lowercased."""
    lowercase = False
    if isinstance(model, (str, os.PathLike)):
        from keras_text_lrp import models

        model = models.load(model)
    if hasattr(model, "vocabulary") and hasattr(model, "model"):
        vocabulary = vocabulary or model.vocabulary
        label_names = label_names or list(model.labels)
        lowercase = bool(getattr(model, "lowercase", False))
        model = model.model
    if not isinstance(model, keras.Model):
        raise InvalidArgumentError(
            f"model must be a keras.Model, a shipped model name or a loaded pretrained model, got "
            f"{type(model).__name__}."
        )
    return model, vocabulary, label_names, lowercase


# The analyzer options split per method, re-exported under their old private names.
_split_options = split_options
_PTB_FORMS = PTB_FORMS
_vocabulary_form = vocabulary_form


def _targets(target: Any, predicted: np.ndarray, classes: int) -> np.ndarray:
    if isinstance(target, str):
        if target != "pred":
            raise InvalidArgumentError(f"target must be 'pred', an int or one int per text, got {target!r}.")
        return predicted
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise InvalidArgumentError(f"target must hold integers, got {t.dtype}.")
    t = np.broadcast_to(t, predicted.shape) if t.ndim == 0 else t
    if t.shape != predicted.shape:
        raise InvalidArgumentError(f"target has {t.shape[0]} entries for {predicted.shape[0]} texts.")
    if t.min() < 0 or t.max() >= classes:
        raise InvalidArgumentError(f"target {int(t.max() if t.max() >= classes else t.min())} is out of "
                                   f"range: the model has {classes} classes (0..{classes - 1}).")
    return t.astype("int32")


# The last few analyzers built, so that streaming many batches through explain() traces each
# one once; bounded, since each holds its model.
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16


def _analyzer(name: str, model: keras.Model, options: dict) -> Any:
    try:
        key = (id(model), name, tuple(sorted(options.items())))
        hash(key)
    except TypeError:  # unhashable options (arrays): no caching
        return create_analyzer(name, model, neuron_selection_mode="index", **options)
    hit = _CACHE.get(key)
    if hit is None or hit.model is not model:
        hit = create_analyzer(name, model, neuron_selection_mode="index", **options)
        _CACHE[key] = hit
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return hit


@dataclass
class _Setup:
    """What every batch of one explain()/explain_dataset() call shares."""

    model: keras.Model
    pipeline: TextPipeline | None  # None: the model's own TextVectorization encodes the texts
    label_names: list[str] | None
    analyzers: dict[str, Any]
    limit: int | None = None  # the most tokens a text keeps
    hub: HubPipeline | None = None  # a keras-hub classifier's own preprocessor encodes the texts


def _setup(
    model: Any,
    vocabulary: Vocabulary | None,
    label_names: Sequence[str] | None,
    methods: list[str],
    analyzer_kwargs: dict,
    *,
    tokenizer: str,
    lowercase: bool | None,
    max_len: int | None,
    padding: str | None,
    min_len: int | None,
) -> _Setup:
    """Resolve the model, build (or reuse) the analyzers and the text pipeline; check them together."""
    model, vocabulary, label_names, trained_lower = _resolve_model(model, vocabulary, label_names)
    lowercase = trained_lower if lowercase is None else lowercase
    if not methods:
        raise InvalidArgumentError("give at least one method.")
    options = split_options(methods, analyzer_kwargs)
    analyzers = {name: _analyzer(name, model, options[name]) for name in methods}
    first = next(iter(analyzers.values()))
    engine = first._engine
    n_outputs = first.n_outputs
    if label_names is not None and len(label_names) != n_outputs:
        raise InvalidArgumentError(
            f"{len(label_names)} label names were given but the model has {n_outputs} classes"
            + (" (a one-unit sigmoid head is two classes: [negative, positive])" if first.binary else "")
            + f"; give {n_outputs} names in class order."
        )
    preprocessor = hub_preprocessor(model)
    if preprocessor is not None:
        owned = (("max_len", max_len), ("min_len", min_len), ("padding", padding))
        given = [n for n, v in owned if v is not None]
        if given:
            raise InvalidArgumentError(
                f"{', '.join(given)} cannot be set for model {model.name!r}: its keras-hub preprocessor "
                f"{type(preprocessor).__name__} cuts and pads the texts itself (its sequence_length)."
            )
        hub = HubPipeline(preprocessor, [t.name for t in model.inputs])
        if hub.token_index not in engine.token_inputs():
            raise InvalidModelError(
                f"the token_ids input of {model.name!r} does not feed an Embedding; keras_text_lrp explains "
                "keras-hub classifiers at their token embedding."
            )
        return _Setup(model, None, label_names, analyzers, None, hub)
    if len(model.inputs) != 1 or not (0 in engine.token_inputs() or 0 in engine.text_inputs()):
        raise InvalidModelError(
            f"explain() needs a model with one input of token ids feeding an Embedding, or of raw "
            f"strings through a TextVectorization layer; {model.name!r} has inputs "
            f"{[(tuple(t.shape), t.dtype) for t in model.inputs]} and "
            f"{'an' if engine.token_inputs() else 'no'} Embedding at its input."
        )
    if first.takes_text:
        given = [n for n, v in (("max_len", max_len), ("min_len", min_len)) if v is not None]
        given += ["padding='pre'"] if padding == "pre" else []
        if given:
            raise InvalidArgumentError(
                f"{', '.join(given)} cannot be set for model {model.name!r}: its TextVectorization layer "
                f"{engine.text_inputs()[0].name!r} tokenizes, cuts and pads the texts itself."
            )
        length = getattr(engine.text_inputs()[0], "_output_sequence_length", None)
        return _Setup(model, None, label_names, analyzers, length)
    if vocabulary is None:
        raise InvalidArgumentError(
            "explain() needs the vocabulary of this token-id model: pass vocabulary=Vocabulary(...) (or "
            "Vocabulary.from_text_vectorization(layer)), a pretrained model from keras_text_lrp.models, "
            "or a model that begins with its TextVectorization layer."
        )
    check_embedding_rows(vocabulary, first.embedding.input_dim, f"Embedding {first.embedding.name!r}")
    fixed, least = model_lengths(model)
    if max_len is not None and max_len < 1:
        raise InvalidArgumentError(f"max_len must be at least 1, got {max_len}.")
    if min_len is not None:
        if min_len < 1:
            raise InvalidArgumentError(f"min_len must be at least 1, got {min_len}.")
        if fixed is not None and min_len != fixed:
            raise InvalidArgumentError(
                f"min_len={min_len} but model {model.name!r} takes exactly {fixed} token ids per text."
            )
        if min_len < least:
            raise InvalidArgumentError(
                f"min_len={min_len} is too short for model {model.name!r}: its convolutions, strides and "
                f"pools need at least {least} steps."
            )
    limit = fixed if max_len is None else (max_len if fixed is None else min(fixed, max_len))
    pipeline = TextPipeline(
        vocabulary, tokenizer, lowercase=lowercase, padding="post" if padding is None else padding,
        limit=limit, width=fixed, min_width=max(least, min_len or 1),
    )
    return _Setup(model, pipeline, label_names, analyzers, limit)


def _explain_batch(
    setup: _Setup,
    texts: list[str],
    target: Any,
    *,
    pooling: str,
    batch_size: int,
    keep_dimensions: bool = False,
    warn: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[Explanation, int]:
    """The work of :func:`explain` (and of each batch of ``explain_dataset``) on checked inputs.

    ``texts`` are non-empty strings. They are encoded by the setup's text
    pipeline (or the model's TextVectorization), scored once (the class
    scores the analyzers explain: pre-activation logits, ``[-z, z]`` for a
    one-unit sigmoid) and explained by each analyzer. With ``warn``, each cut
    text, the out-of-vocabulary tokens of the batch and each text made only
    of them get a warning (addressed to the caller of the caller).

    ``progress``, if given, is called after each stage of the batch:
    ``"tokens"``, ``"logits"``, then each method's name.

    Returns the :class:`Explanation` and the number of texts that were cut.
    """
    step = progress if progress is not None else (lambda stage: None)
    first = next(iter(setup.analyzers.values()))
    if setup.hub is not None:
        inputs, batch = setup.hub.encode(texts)
    elif setup.pipeline is None:
        batch = encode_with_layer(first, texts)
        inputs = list(texts)
    else:
        batch = setup.pipeline.encode(texts)
        inputs = batch.ids
    cut = batch.truncated
    step("tokens")
    if warn:
        for i in cut:
            warnings.warn(
                f"text {i} has {batch.token_counts[i]} tokens but the model takes at most {batch.limit}: "
                f"only the first {batch.limit} are explained.", stacklevel=3,
            )
        unknown = [i for i, (tok, oov) in enumerate(zip(batch.tokens, batch.oov))
                   if tok and len(oov) == len(tok)]
        oov_token = (
            setup.hub.oov_token if setup.hub is not None
            else "[UNK]" if setup.pipeline is None else setup.pipeline.vocabulary.oov_token
        )
        note = oov_warning(batch, oov_token, skip=unknown)
        if note is not None:
            warnings.warn(note + ".", stacklevel=3)
        for i in unknown:
            warnings.warn(
                f"every token of text {i} is out of the vocabulary; its explanation only shows the "
                "[UNK] embedding.", stacklevel=3,
            )

    logits = first.scores(inputs, batch_size=batch_size)
    predicted = np.argmax(logits, axis=-1).astype("int32")
    targets = _targets(target, predicted, logits.shape[-1])
    step("logits")

    scores, relevance, padding = {}, {}, {}
    pad = batch.padding_mask()
    for name, analyzer in setup.analyzers.items():
        r = analyzer.analyze(inputs, neuron_selection=targets, batch_size=batch_size)
        # A keras-hub classifier has an analysis point per input: the words are the token ids'.
        r = np.asarray(r[setup.hub.token_index] if setup.hub is not None else r)
        words = word_relevance(r, pooling=pooling)
        scores[name] = batch.token_scores(words)
        # What analyze() puts at the padding columns (0 for a model with mask_zero), kept apart.
        padding[name] = (r.sum(-1) * pad).sum(-1)
        if keep_dimensions:
            relevance[name] = r
        step(name)
    explanation = Explanation(
        texts=texts, tokens=batch.tokens, offsets=batch.offsets, ids=batch.ids, scores=scores, logits=logits,
        predicted=predicted, target=targets,
        label_names=None if setup.label_names is None else list(setup.label_names), relevance=relevance,
        padding_relevance=padding, positions=batch.token_columns, oov_words=batch.oov,
        oov_id=Vocabulary.oov_id if setup.hub is None else setup.hub.oov_id,
    )
    return explanation, len(cut)


def explain(
    model: Any,
    texts: str | Sequence[str],
    method: str | Sequence[str] = "lrp.epsilon",
    target: Any = "pred",
    *,
    vocabulary: Vocabulary | None = None,
    tokenizer: str = "treebank",
    lowercase: bool | None = None,
    pooling: str = "sum",
    max_len: int | None = None,
    padding: str | None = None,
    min_len: int | None = None,
    batch_size: int = 256,
    label_names: Sequence[str] | None = None,
    keep_dimensions: bool = False,
    progress: Callable[[str], None] | None = None,
    **analyzer_kwargs: Any,
) -> Explanation:
    """Explain a text classifier's decisions on raw texts, word by word.

    Parameters
    ----------
    model : keras.Model, str or PretrainedModel
        A model taking token ids (its input feeds an Embedding), or raw
        strings through its own ``TextVectorization`` layer (then no
        vocabulary is needed and the tokens are the layer's); or a shipped
        model name (``"sst5-cnn"``, ``"sst5-bilstm"``) or a model loaded with
        :func:`keras_text_lrp.models.load`. A final softmax or sigmoid is left
        out (the pre-activation logits are explained); a one-unit sigmoid
        head is two classes, ``[-z, z]``.
    texts : str or sequence of str
    method : str or sequence of str
        Analyzer name(s) (see :data:`keras_text_lrp.ANALYZERS`).
    target : "pred", int or sequence of int
        The class explained: the predicted one (default), one class for all
        texts, or one per text.
    vocabulary : Vocabulary, optional
        Required for a plain ``keras.Model`` taking token ids. Its tokens
        must not outnumber the Embedding's rows (more rows are fine).
        Tokens not in it are encoded as ``[UNK]`` and warned about.
    tokenizer : str
        A :func:`keras_text_lrp.text.tokenize` method (default ``"treebank"``,
        the Penn-Treebank rules SST was tokenized with). A token missing from
        the vocabulary is also looked up under its PTB escape (``(`` as
        ``-LRB-``/``-lrb-``, ``/`` as ``\\/``), as PTB-tokenized corpora
        such as SST store them.
    lowercase : bool, optional
        Lowercase tokens; by default as the pretrained model was trained.
    pooling : {"sum", "l2", "l2_squared", "max_abs"}
        How the embedding dimensions are pooled into one word score.
    max_len : int, optional
        Longest token sequence fed to the model; longer texts are cut with
        a warning. Defaults to the model's input length (if fixed).
    padding : {"post", "pre"}, optional
        Pad after the tokens (default) or before them, as the model was
        trained (Keras's ``pad_sequences`` pre-pads).
    min_len : int, optional
        Pad every row to at least this many ids (with ``max_len`` the same:
        a fixed length, as in training). By default the model's fixed input
        length, else the least length its convolutions, strides and pools
        need (so a short text is padded instead of failing).
    batch_size : int
        Texts per analysis batch.
    label_names : sequence of str, optional
    keep_dimensions : bool
        Keep the per-dimension relevances in ``Explanation.relevance``.
    progress : callable, optional
        Called with the name of each finished stage: ``"tokens"`` (texts
        encoded), ``"logits"`` (model scored), then each method's name (the
        command line's progress bar ticks on these).
    **analyzer_kwargs
        Options for the analyzers (``epsilon``, ``steps``, ...).

    Returns
    -------
    Explanation

    Examples
    --------
    >>> e = explain("sst5-cnn", ["a gorgeous , witty , seductive movie ."])  # doctest: +SKIP
    >>> e.save_html("heatmap.html")  # doctest: +SKIP
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise InvalidInputError("no texts were given to explain.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"text {i} is a {type(t).__name__}, not a str.")
        if not t.strip():
            raise InvalidInputError(f"text {i} is empty or whitespace only; there are no words to explain.")
    methods = [method] if isinstance(method, str) else list(method)
    setup = _setup(
        model, vocabulary, label_names, methods, analyzer_kwargs, tokenizer=tokenizer, lowercase=lowercase,
        max_len=max_len, padding=padding, min_len=min_len,
    )
    explanation, _ = _explain_batch(
        setup, texts, target, pooling=pooling, batch_size=batch_size, keep_dimensions=keep_dimensions,
        progress=progress,
    )
    return explanation
