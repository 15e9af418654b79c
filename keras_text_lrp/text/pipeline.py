"""The one text pipeline: raw texts -> tokens, offsets and the padded id matrix a model takes.

Every front end (:func:`keras_text_lrp.explain`, the CLI,
:func:`keras_text_lrp.streaming.explain_dataset`, the exports and Beam) turns
texts into token ids through this module, so that they all see the same
tokens, the same vocabulary look-up (PTB-escaped forms included), the same
out-of-vocabulary counts, padding and truncation:

- :func:`vocabulary_form` / :data:`PTB_FORMS`: the form under which a raw
  token is looked up (``(`` as ``-LRB-``/``-lrb-``, ``/`` as ``\\/``);
- :class:`TextPipeline`: tokenize, look up, truncate and pad a batch into an
  :class:`EncodedBatch` (with the id column of every kept token, so that
  pre-padding lines up);
- :func:`encode_with_layer`: the same for a model that begins with its own
  ``TextVectorization`` (the layer's standardisation and split are used);
- :func:`model_lengths`: the fixed input length of a model, or the least
  number of steps its convolutions, strides and pools need;
- :func:`check_embedding_rows`: a vocabulary fits an Embedding with at least
  as many rows as it has tokens.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError, InvalidModelError
from keras_text_lrp.text.ptb import PTB_ESCAPES
from keras_text_lrp.text.tokenize import Offsets, align_tokens, tokenize
from keras_text_lrp.text.vocab import Vocabulary

__all__ = [
    "PADDINGS",
    "PTB_FORMS",
    "EncodedBatch",
    "TextPipeline",
    "check_embedding_rows",
    "encode_with_layer",
    "least_length",
    "model_lengths",
    "oov_warning",
    "vocabulary_form",
]

PADDINGS = ("post", "pre")
"""Where padding (id 0) goes: after the tokens (``"post"``) or before them (``"pre"``, Keras's
``pad_sequences`` default)."""

PTB_FORMS: dict[str, str] = {plain: escaped for escaped, plain in PTB_ESCAPES.items()}
"""Raw bracket characters and their PTB escapes (``"(" -> "-LRB-"``)."""

# Longest sequence probed when looking for the least length a model runs on.
_MAX_PROBE = 1 << 14


def vocabulary_form(token: str, vocabulary: Vocabulary) -> str:
    """The form under which ``token`` is in the vocabulary.

    A tokenizer leaves brackets and slashes as they are in raw text, but
    vocabularies built from PTB-tokenized corpora (SST, the shipped models)
    hold them escaped (``-LRB-``/``-lrb-``, ``\\/``). An out-of-vocabulary
    token whose PTB-escaped form is in the vocabulary is looked up under that
    form; anything else is returned unchanged.

    Parameters
    ----------
    token : str
    vocabulary : Vocabulary

    Returns
    -------
    str
    """
    if token in vocabulary:
        return token
    candidates = []
    if token in PTB_FORMS:
        candidates += [PTB_FORMS[token], PTB_FORMS[token].lower()]
    if "/" in token or "*" in token:
        candidates.append(token.replace("/", "\\/").replace("*", "\\*"))
    return next((c for c in candidates if c in vocabulary), token)


@dataclass
class EncodedBatch:
    """A batch of texts as the model takes it.

    Attributes
    ----------
    tokens : list of list of str
        The tokens kept per text (after truncation), as the tokenizer (or the
        model's ``TextVectorization``) made them.
    offsets : list of list of (int, int)
        Character span of each kept token in its text (empty spans where a
        ``TextVectorization`` standardisation changed a token beyond finding).
    ids : numpy.ndarray of int32, (batch, T)
        The padded token ids (0 = padding, the vocabulary's ``oov_id`` for
        unknown tokens).
    positions : list of numpy.ndarray of int
        The column of ``ids`` holding each kept token, per text (``0..n-1``
        with post-padding, ``T-n..T-1`` with pre-padding).
    token_counts : list of int
        Tokens per text before truncation.
    oov : list of list of str
        The kept tokens of each text that are not in the vocabulary (encoded
        as the out-of-vocabulary id).
    limit : int or None
        The most tokens a text keeps.
    groups : list of numpy.ndarray of int, optional
        For word pieces (a keras-hub tokenizer): per text, the token each
        column of ``positions`` belongs to; a token's score is the sum over
        its columns. ``None``: one column per token.
    kept : list of int, optional
        With ``groups``: the pieces kept per text (``token_counts`` then
        counts pieces too).
    """

    tokens: list[list[str]]
    offsets: list[Offsets]
    ids: np.ndarray
    positions: list[np.ndarray]
    token_counts: list[int]
    oov: list[list[str]] = field(default_factory=list)
    limit: int | None = None
    groups: list[np.ndarray] | None = None
    kept: list[int] | None = None

    @property
    def truncated(self) -> list[int]:
        """Indices of the texts that were cut to :attr:`limit` tokens."""
        kept = self.kept if self.kept is not None else [len(t) for t in self.tokens]
        return [i for i, (n, k) in enumerate(zip(self.token_counts, kept)) if n > k]

    @property
    def token_columns(self) -> list[np.ndarray]:
        """Per text, the column of each token (of its first piece, with :attr:`groups`)."""
        if self.groups is None:
            return self.positions
        return [p[np.r_[True, g[1:] != g[:-1]]] if len(g) else p for p, g in zip(self.positions, self.groups)]

    def token_scores(self, words: np.ndarray) -> list[np.ndarray]:
        """Per text, the entries of a ``(batch, T)`` array at its kept tokens, in token order.

        With :attr:`groups`, a token's entry is the sum over the columns of its pieces.
        """
        if self.groups is None:
            return [words[i, p] for i, p in enumerate(self.positions)]
        out = []
        for i, (p, g) in enumerate(zip(self.positions, self.groups)):
            summed = np.zeros((len(self.tokens[i]),) + words.shape[2:], words.dtype)
            np.add.at(summed, g, words[i, p])
            out.append(summed)
        return out

    def padding_mask(self) -> np.ndarray:
        """``(batch, T)`` bool: True at the columns that hold no token (padding)."""
        mask = np.ones(self.ids.shape, bool)
        for i, p in enumerate(self.positions):
            mask[i, p] = False
        return mask


def oov_warning(batch: EncodedBatch, oov_token: str = "[UNK]", skip: Sequence[int] = ()) -> str | None:
    """A one-line summary of the out-of-vocabulary tokens of ``batch``, or None if there are none.

    The texts listed in ``skip`` (e.g. those warned about on their own) are left out.
    """
    rows = [i for i in range(len(batch.tokens)) if i not in set(skip)]
    counts = [len(batch.oov[i]) for i in rows]
    total = sum(counts)
    if not total:
        return None
    kept = sum(len(batch.tokens[i]) for i in rows)
    examples = []
    for o in (batch.oov[i] for i in rows):
        for token in o:
            if token not in examples:
                examples.append(token)
    shown = ", ".join(repr(t) for t in examples[:5]) + (", ..." if len(examples) > 5 else "")
    texts = sum(1 for c in counts if c)
    return (f"{total} of {kept} tokens (in {texts} text{'s' if texts != 1 else ''}) are not in the "
            f"vocabulary and were encoded as {oov_token}: {shown}")


class TextPipeline:
    """Tokenize, look up, truncate and pad raw texts for a token-id model.

    Parameters
    ----------
    vocabulary : Vocabulary
        Token -> id (0 padding, 1 out of vocabulary).
    tokenizer : str
        A :func:`keras_text_lrp.text.tokenize` method.
    lowercase : bool
        Lowercase the tokens before the look-up.
    padding : {"post", "pre"}
        Put the padding after the tokens (default) or before them, as the
        model was trained (Keras's ``pad_sequences`` pre-pads).
    limit : int, optional
        The most tokens a text keeps (the first ones); longer texts are cut.
    width : int, optional
        A fixed row length ``T`` (a model with a fixed input length).
    min_width : int
        The least row length (a model whose convolutions, strides or pools
        need that many steps); shorter batches are padded up to it.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        tokenizer: str = "treebank",
        lowercase: bool = False,
        padding: str = "post",
        limit: int | None = None,
        width: int | None = None,
        min_width: int = 1,
    ) -> None:
        if padding not in PADDINGS:
            raise InvalidArgumentError(f"padding must be one of {PADDINGS}, got {padding!r}.")
        if limit is not None and limit < 1:
            raise InvalidArgumentError(f"max_len must be at least 1, got {limit}.")
        tokenize("", tokenizer)  # an unknown tokenizer fails here, with the list of names
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.padding = padding
        self.limit = limit
        self.width = width
        self.min_width = max(1, int(min_width))

    def tokenize(self, text: str) -> tuple[list[str], Offsets]:
        """The tokens of one text and their character offsets."""
        tokens, offsets = tokenize(text, self.tokenizer, lowercase=self.lowercase)
        return tokens, [tuple(o) for o in offsets]

    def encode(self, texts: Sequence[str]) -> EncodedBatch:
        """Encode a batch of texts.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        EncodedBatch
        """
        tokens, offsets, counts = [], [], []
        for text in texts:
            tok, off = self.tokenize(text)
            counts.append(len(tok))
            if self.limit is not None and len(tok) > self.limit:
                tok, off = tok[: self.limit], off[: self.limit]
            tokens.append(tok)
            offsets.append(off)
        longest = max((len(t) for t in tokens), default=0)
        width = self.width if self.width is not None else max(self.min_width, longest)
        forms = [[vocabulary_form(t, self.vocabulary) for t in tok] for tok in tokens]
        ids, lengths = self.vocabulary.encode(forms, max_len=width, padding=self.padding)
        positions = [
            np.arange(n) if self.padding == "post" else np.arange(width - n, width) for n in lengths
        ]
        oov = [[t for t, f in zip(tok, form) if f not in self.vocabulary] for tok, form in zip(tokens, forms)]
        return EncodedBatch(tokens=tokens, offsets=offsets, ids=np.asarray(ids, "int32"), positions=positions,
                            token_counts=counts, oov=oov, limit=self.limit)


def encode_with_layer(analyzer: Any, texts: Sequence[str]) -> EncodedBatch:
    """Encode texts with the model's own ``TextVectorization`` (``analyzer.takes_text``).

    The tokens are the layer's (its standardisation and split,
    :meth:`Analyzer.tokens`), the ids its output (:meth:`Analyzer.vectorize`);
    the layer pads after the tokens and cuts at its ``output_sequence_length``.
    Offsets are found by matching the tokens in the lowercased text.

    Parameters
    ----------
    analyzer : Analyzer
        An analyzer of a model taking raw strings.
    texts : sequence of str

    Returns
    -------
    EncodedBatch
    """
    texts = list(texts)
    ids = analyzer.vectorize(texts)
    tokens = analyzer.tokens(texts)
    # The tokens the split made before the layer cut them to its output length.
    layer = analyzer._engine.text_inputs()[analyzer._text_input_index()]
    counts = [len(t) for t in tokens]
    if getattr(layer, "_output_sequence_length", None):
        full = _layer_token_counts(layer, texts)
        counts = full if full is not None else counts
    tokens = [tok[: int(np.count_nonzero(row))] for tok, row in zip(tokens, ids)]
    offsets = [align_tokens(tok, text.lower()) for tok, text in zip(tokens, texts)]
    oov = [[t for t, i in zip(tok, row) if i == 1] for tok, row in zip(tokens, ids)]
    return EncodedBatch(tokens=tokens, offsets=offsets, ids=ids,
                        positions=[np.arange(len(t)) for t in tokens], token_counts=counts, oov=oov,
                        limit=ids.shape[1])


def _layer_token_counts(layer: Any, texts: list[str]) -> list[int] | None:
    try:
        import tensorflow as tf

        split = layer._preprocess(tf.constant(texts))
        return [int(n) for n in split.row_lengths().numpy()]
    except Exception:  # a layer without a ragged split (ngrams, no split): counts unknown
        return None


# ---------------------------------------------------------------------------
# lengths
# ---------------------------------------------------------------------------
_LENGTHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def runs_on(forward: Callable[[Any], Any], length: int, dtype: str = "int32") -> bool:
    """Whether ``forward`` gives finite outputs for one row of ``length`` ids (1, the OOV id).

    The one probe behind every least length: ``forward`` is the model's own
    call for a token-id model (:func:`model_lengths`), or the engine's pass
    from the ids for a ``TextVectorization`` model, whose input is strings
    (``Analyzer``'s least text width).
    """
    import keras

    x = np.ones((1, length), dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y = forward(x)
        except Exception:  # the backend's own error for too short a sequence (e.g. an empty conv output)
            return False
    outputs = y if isinstance(y, (list, tuple)) else [y]
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(o))) for o in outputs)


def _runs(model: Any, length: int) -> bool:
    spec = model.inputs[0]
    dtype = spec.dtype if "int" in str(spec.dtype) or "float" in str(spec.dtype) else "int32"
    return runs_on(lambda x: model(x, training=False), length, str(dtype))


def model_lengths(model: Any) -> tuple[int | None, int]:
    """The fixed input length of a token-id model (or None) and the least length it runs on.

    A model with a fixed ``(batch, T)`` input takes exactly ``T`` ids. For a
    model of any length, the least length is the shortest sequence for which
    its convolutions, strides and pools leave at least one step (found by
    running the model on one row of growing, then bisected, lengths; each
    model is probed once). A model that runs on one id needs one forward pass.

    Parameters
    ----------
    model : keras.Model
        One input of token ids ``(batch, T)``.

    Returns
    -------
    fixed : int or None
    minimum : int
    """
    shape = model.inputs[0].shape
    if len(shape) >= 2 and shape[1] is not None:
        return int(shape[1]), int(shape[1])
    try:
        return None, _LENGTHS[model]
    except (KeyError, TypeError):
        pass
    n = least_length(lambda length: _runs(model, length), f"model {model.name!r}")
    try:
        _LENGTHS[model] = n
    except TypeError:
        pass
    return None, n


def least_length(runs: Callable[[int], bool], what: str) -> int:
    """The least sequence length for which ``runs(length)`` holds (doubling, then bisecting).

    Parameters
    ----------
    runs : callable
        ``runs(length) -> bool``: whether the model runs on one row of that
        many ids; it must hold for every length past the least one.
    what : str
        The model, as named in the error.

    Raises
    ------
    InvalidModelError
        When no length up to 16384 runs.
    """
    if runs(1):
        return 1
    low, high = 1, 2
    while not runs(high):
        low, high = high, high * 2
        if high > _MAX_PROBE:
            raise InvalidModelError(
                f"{what} does not run on any sequence of up to {_MAX_PROBE} token ids "
                "(checked with one row of ids); check that it takes (batch, T) token ids."
            )
    while high - low > 1:  # low fails, high runs
        mid = (low + high) // 2
        low, high = (low, mid) if runs(mid) else (mid, high)
    return high


def check_embedding_rows(vocabulary: Vocabulary, input_dim: int, where: str = "the Embedding") -> None:
    """Refuse a vocabulary with more tokens than the Embedding has rows.

    An Embedding may have more rows than the vocabulary has tokens (Keras
    allows ``input_dim >= vocabulary size``; the ids past the vocabulary are
    never produced), not fewer: those tokens would have no vector.

    Raises
    ------
    InvalidArgumentError
        With one line naming both sizes.
    """
    if len(vocabulary) > int(input_dim):
        raise InvalidArgumentError(
            f"the vocabulary has {len(vocabulary)} tokens but {where} has only {int(input_dim)} rows: ids "
            f"{int(input_dim)}..{len(vocabulary) - 1} would have no vector; give the vocabulary the model "
            "was trained with (an Embedding may have more rows than the vocabulary, not fewer)."
        )
