"""From raw text to word relevances: ``explain(model, texts, method=...)``.

One call tokenizes the texts (with character offsets into the originals),
encodes them with the model's vocabulary, runs the model once for the
logits, runs each analyzer once on the whole batch of token ids, and pools
the per-dimension relevances into one signed score per word
(SEMANTICS.md, "Word level"). The result holds everything the views need.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import keras
import numpy as np

from keras_text_lrp._fileio import atomic_write_text
from keras_text_lrp.analyzers.registry import create_analyzer
from keras_text_lrp.engine import Engine
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError
from keras_text_lrp.text.ptb import PTB_ESCAPES
from keras_text_lrp.text.relevance import word_relevance
from keras_text_lrp.text.tokenize import tokenize
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
        The encoded, padded token ids (0 = padding).
    scores : dict of str to list of numpy.ndarray
        Method name -> one array of word relevances per text (one value per
        token; padding excluded).
    logits : numpy.ndarray, (batch, classes)
    predicted, target : numpy.ndarray of int, (batch,)
        The predicted class and the class explained.
    label_names : list of str or None
    relevance : dict of str to numpy.ndarray
        Method name -> the per-dimension relevances ``(batch, T, D)``, when
        ``explain(..., keep_dimensions=True)``.
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
        return [[bool(self.ids[i, j] == Vocabulary.oov_id) for j in range(len(tokens))]
                for i, tokens in enumerate(self.tokens)]

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
    if vocabulary is None:
        raise InvalidArgumentError(
            "explain() needs the model's vocabulary: pass vocabulary=Vocabulary(...) (or "
            "Vocabulary.from_text_vectorization(layer)), or a pretrained model from keras_text_lrp.models."
        )
    return model, vocabulary, label_names, lowercase


def _max_len(model: keras.Model) -> int | None:
    engine = Engine(model)
    if len(model.inputs) != 1 or 0 not in engine.token_inputs():
        raise InvalidModelError(
            f"explain() needs a model with one input of token ids feeding an Embedding; "
            f"{model.name!r} has inputs {[tuple(t.shape) for t in model.inputs]} and "
            f"{'an' if engine.token_inputs() else 'no'} Embedding at its input."
        )
    shape = model.inputs[0].shape
    return None if len(shape) < 2 else shape[1]


_PTB_FORMS = {plain: escaped for escaped, plain in PTB_ESCAPES.items()}


def _vocabulary_form(token: str, vocabulary: Vocabulary) -> str:
    """The form under which ``token`` is in the vocabulary.

    A tokenizer leaves brackets and slashes as they are in raw text, but
    vocabularies built from PTB-tokenized corpora (SST, the shipped models)
    hold them escaped (``-LRB-``/``-lrb-``, ``\\/``). An out-of-vocabulary
    token whose PTB-escaped form is in the vocabulary is looked up under that
    form; anything else is returned unchanged.
    """
    if token in vocabulary:
        return token
    candidates = []
    if token in _PTB_FORMS:
        candidates += [_PTB_FORMS[token], _PTB_FORMS[token].lower()]
    if "/" in token or "*" in token:
        candidates.append(token.replace("/", "\\/").replace("*", "\\*"))
    return next((c for c in candidates if c in vocabulary), token)


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


def _split_options(methods: list[str], kwargs: dict) -> dict[str, dict]:
    """Hand each analyzer the options its class takes; refuse options none takes."""
    from keras_text_lrp.analyzers.registry import ANALYZERS

    out, used = {}, set()
    for name in methods:
        if name not in ANALYZERS:
            create_analyzer(name, None)  # raises the error listing the names
        params = set()
        for cls in ANALYZERS[name].__mro__:
            if "__init__" in vars(cls):
                params.update(inspect.signature(cls.__init__).parameters)
        out[name] = {k: v for k, v in kwargs.items() if k in params}
        used.update(out[name])
    unused = sorted(set(kwargs) - used)
    if unused:
        raise InvalidArgumentError(f"option(s) {unused} are not taken by any of the methods {methods}.")
    return out


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


def _length_limit(model: keras.Model, max_len: int | None) -> tuple[int | None, int | None]:
    """The model's fixed input length (or None) and the most tokens a text keeps (or None)."""
    model_len = _max_len(model)
    limit = model_len
    if max_len is not None:
        if max_len < 1:
            raise InvalidArgumentError(f"max_len must be at least 1, got {max_len}.")
        limit = max_len if limit is None else min(limit, max_len)
    return model_len, limit


def _explain_batch(
    model: keras.Model,
    vocabulary: Vocabulary,
    label_names: Sequence[str] | None,
    texts: list[str],
    methods: list[str],
    target: Any,
    analyzer_kwargs: dict,
    *,
    tokenizer: str,
    lowercase: bool,
    pooling: str,
    model_len: int | None,
    limit: int | None,
    batch_size: int,
    keep_dimensions: bool = False,
    warn: bool = True,
    analyzers: dict[str, Any] | None = None,
) -> tuple[Explanation, int]:
    """The work of :func:`explain` (and of each batch of ``explain_dataset``) on checked inputs.

    ``model``, ``vocabulary`` and ``label_names`` are resolved (:func:`_resolve_model`),
    ``texts`` are non-empty strings, ``model_len`` and ``limit`` come from
    :func:`_length_limit`. Texts longer than ``limit`` tokens are cut; with
    ``warn`` each cut text and each text made only of out-of-vocabulary tokens
    gets a warning (addressed to the caller of the caller). The analyzers come
    from the ``_analyzer`` cache with the options of ``analyzer_kwargs`` split
    per method, or from ``analyzers`` (method -> analyzer) when given.

    Returns the :class:`Explanation` and the number of texts that were cut.
    """
    tokens, offsets = [], []
    truncated = 0
    for i, t in enumerate(texts):
        tok, off = tokenize(t, tokenizer, lowercase=lowercase)
        if limit is not None and len(tok) > limit:
            truncated += 1
            if warn:
                warnings.warn(
                    f"text {i} has {len(tok)} tokens but the model takes at most {limit}: "
                    f"only the first {limit} are explained.", stacklevel=3,
                )
            tok, off = tok[:limit], off[:limit]
        tokens.append(tok)
        offsets.append([tuple(o) for o in off])
    # A model with a fixed input length takes exactly that many ids (even when max_len is shorter).
    width = model_len if model_len is not None else max(1, max(len(t) for t in tokens))
    ids, _ = vocabulary.encode([[_vocabulary_form(t, vocabulary) for t in tok] for tok in tokens],
                               max_len=width)
    ids = np.asarray(ids, "int32")
    if warn:
        for i, row in enumerate(ids):
            known = row[row != 0]
            if known.size and np.all(known == vocabulary.oov_id):
                warnings.warn(
                    f"every token of text {i} is out of the vocabulary; its explanation only shows the "
                    "[UNK] embedding.", stacklevel=3,
                )

    logits = np.concatenate([
        keras.ops.convert_to_numpy(model(ids[s:s + batch_size], training=False))
        for s in range(0, len(ids), batch_size)
    ])
    predicted = np.argmax(logits, axis=-1).astype("int32")
    targets = _targets(target, predicted, logits.shape[-1])

    options = _split_options(methods, analyzer_kwargs) if analyzers is None else None
    scores, relevance = {}, {}
    mask = ids != 0
    for name in methods:
        analyzer = analyzers[name] if analyzers is not None else _analyzer(name, model, options[name])
        r = analyzer.analyze(ids, neuron_selection=targets, batch_size=batch_size)
        words = word_relevance(r, pooling=pooling, mask=mask)
        scores[name] = [words[i, : len(tok)] for i, tok in enumerate(tokens)]
        if keep_dimensions:
            relevance[name] = r
    explanation = Explanation(
        texts=texts, tokens=tokens, offsets=offsets, ids=ids, scores=scores, logits=logits,
        predicted=predicted, target=targets,
        label_names=None if label_names is None else list(label_names), relevance=relevance,
    )
    return explanation, truncated


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
    batch_size: int = 256,
    label_names: Sequence[str] | None = None,
    keep_dimensions: bool = False,
    **analyzer_kwargs: Any,
) -> Explanation:
    """Explain a text classifier's decisions on raw texts, word by word.

    Parameters
    ----------
    model : keras.Model, str or PretrainedModel
        A model taking token ids (its input feeds an Embedding) and ending in
        logits; or a shipped model name (``"sst5-cnn"``, ``"sst5-bilstm"``) or
        a model loaded with :func:`keras_text_lrp.models.load`.
    texts : str or sequence of str
    method : str or sequence of str
        Analyzer name(s) (see :data:`keras_text_lrp.ANALYZERS`).
    target : "pred", int or sequence of int
        The class explained: the predicted one (default), one class for all
        texts, or one per text.
    vocabulary : Vocabulary, optional
        Required for a plain ``keras.Model``.
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
    batch_size : int
        Texts per analysis batch.
    label_names : sequence of str, optional
    keep_dimensions : bool
        Keep the per-dimension relevances in ``Explanation.relevance``.
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
    model, vocabulary, label_names, trained_lower = _resolve_model(model, vocabulary, label_names)
    lowercase = trained_lower if lowercase is None else lowercase
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise InvalidInputError("no texts were given to explain.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"text {i} is a {type(t).__name__}, not a str.")
        if not t.strip():
            raise InvalidInputError(f"text {i} is empty or whitespace only; there are no words to explain.")
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise InvalidArgumentError("give at least one method.")

    model_len, limit = _length_limit(model, max_len)
    explanation, _ = _explain_batch(
        model, vocabulary, label_names, texts, methods, target, analyzer_kwargs,
        tokenizer=tokenizer, lowercase=lowercase, pooling=pooling, model_len=model_len, limit=limit,
        batch_size=batch_size, keep_dimensions=keep_dimensions,
    )
    return explanation
