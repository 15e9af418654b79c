"""keras-hub text classifiers: their own preprocessor encodes the texts, word pieces merge into words.

A keras-hub ``TextClassifier`` (``BertTextClassifier``, ``DistilBertTextClassifier``, ...) carries its
``preprocessor``: a tokenizer (WordPiece for BERT) plus the packer that adds ``[CLS]``/``[SEP]``,
cuts and pads to ``sequence_length`` and makes the ``padding_mask`` (and ``segment_ids``). The model
is explained on exactly those inputs; the word view shows, per word of the text, the summed relevance
of its pieces (:func:`~keras_text_lrp.text.merge_wordpieces`). Special tokens and padding are not
words: their relevance is kept apart (``Explanation.padding_relevance``).

keras-hub itself is not imported here: a model that has a preprocessor with such a tokenizer is
recognised by what it has (:func:`hub_preprocessor`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_text_lrp.errors import InvalidModelError
from keras_text_lrp.text.pipeline import EncodedBatch
from keras_text_lrp.text.tokenize import align_tokens, merge_wordpieces

__all__ = ["HubPipeline", "hub_preprocessor"]

PREFIX = "##"
_WORD = re.compile(r"\S+")


def hub_preprocessor(model: Any) -> Any | None:
    """The keras-hub preprocessor of ``model``, or ``None`` when it has none.

    A keras-hub task model holds it as ``model.preprocessor``; it is used when
    it has a tokenizer that maps ids back to pieces and the model takes
    ``token_ids``.

    Raises
    ------
    InvalidModelError
        If the tokenizer is not a WordPiece one (RoBERTa's byte pairs, ...).
    """
    pre = getattr(model, "preprocessor", None)
    tokenizer = getattr(pre, "tokenizer", None)
    names = [t.name for t in getattr(model, "inputs", None) or []]
    if pre is None or not hasattr(tokenizer, "id_to_token") or "token_ids" not in names:
        return None
    if not any(cls.__name__ == "WordPieceTokenizer" for cls in type(tokenizer).__mro__):
        # Byte-pair and SentencePiece pieces mark word starts, not continuations, and carry their
        # own byte encoding: merging them by the WordPiece rule would give wrong words.
        raise InvalidModelError(
            f"model {getattr(model, 'name', '')!r} uses a {type(tokenizer).__name__}; keras_text_lrp "
            "merges the pieces of WordPiece tokenizers (BERT, DistilBERT) into words only. Explain its "
            "token ids with create_analyzer(...).analyze(model.preprocessor(texts)) instead."
        )
    return pre


def _as_lists(values: Any) -> list[list[int]]:
    """Ragged token ids (a ``tf.RaggedTensor``, nested lists or a 2-D array) as lists of ints."""
    if hasattr(values, "to_list"):
        return values.to_list()
    return [list(map(int, row)) for row in np.asarray(values, dtype=object).tolist()]


class HubPipeline:
    """Encode texts with a keras-hub preprocessor; name the columns of each word.

    Parameters
    ----------
    preprocessor : keras_hub.models.TextClassifierPreprocessor
        The model's own preprocessor (``model.preprocessor``).
    input_names : sequence of str
        The model's input names, in ``model.inputs`` order.
    """

    def __init__(self, preprocessor: Any, input_names: Sequence[str]):
        self.preprocessor = preprocessor
        self.tokenizer = preprocessor.tokenizer
        self.input_names = list(input_names)
        self.token_index = self.input_names.index("token_ids")
        special = getattr(self.tokenizer, "special_token_ids", None) or []
        self.special = np.asarray(sorted(set(special)), "int64")
        self.oov_token = getattr(self.tokenizer, "oov_token", "[UNK]")
        self.oov_id = int(self.tokenizer.token_to_id(self.oov_token))
        self.lowercase = bool(getattr(self.tokenizer, "lowercase", False))

    def encode(self, texts: Sequence[str]) -> tuple[dict, EncodedBatch]:
        """The model's inputs for ``texts`` and the batch's words.

        Returns
        -------
        inputs : dict of str to numpy.ndarray
            ``token_ids``, ``padding_mask`` (int32, as the model's input) and
            whatever else the preprocessor makes (``segment_ids``).
        batch : EncodedBatch
            ``tokens`` are the words (merged pieces, as written in the text
            where the pieces could be found in it), ``positions`` the columns
            of their pieces and ``groups`` which word each column belongs to.
            ``token_counts`` and ``kept`` count word pieces, so that a text
            the packer cut is reported.
        """
        texts = list(texts)
        packed = self.preprocessor(texts)
        inputs = {k: np.asarray(v) for k, v in packed.items()}
        for name in inputs:
            if inputs[name].dtype == bool:  # the packer's mask is bool; the model's input is int
                inputs[name] = inputs[name].astype("int32")
        ids = inputs["token_ids"]
        valid = inputs["padding_mask"].astype(bool) & ~np.isin(ids, self.special)
        all_pieces = _as_lists(self.tokenizer(texts))
        tokens, offsets, positions, groups, oov, kept = [], [], [], [], [], []
        for text, row, keep in zip(texts, ids, valid):
            columns = np.flatnonzero(keep)
            pieces = [str(self.tokenizer.id_to_token(int(i))) for i in row[columns]]
            # Pieces are found in the text (lowercased as the tokenizer lowercases) without their
            # continuation marker; a word spans its first piece's start to its last piece's end.
            searched = text.lower() if self.lowercase else text
            spans = align_tokens([p[len(PREFIX):] if p.startswith(PREFIX) else p for p in pieces], searched)
            spans = _unknown_spans(pieces, spans, text, self.oov_token)
            merged, word_spans, _ = merge_wordpieces(pieces, spans, prefix=PREFIX)
            starts = np.asarray([j == 0 or not p.startswith(PREFIX) for j, p in enumerate(pieces)], bool)
            words = [text[s:e] if e > s else w for w, (s, e) in zip(merged, word_spans or [])]
            tokens.append(words)
            offsets.append(list(word_spans or []))
            positions.append(columns)
            groups.append(np.cumsum(starts) - 1)
            oov.append([w for w, m in zip(words, merged) if self.oov_token in m])
            kept.append(len(pieces))
        counts = [len(p) for p in all_pieces]
        batch = EncodedBatch(
            tokens=tokens, offsets=offsets, ids=ids.astype("int32"), positions=positions,
            token_counts=counts, oov=oov, limit=self._limit(ids.shape[1]), groups=groups, kept=kept,
        )
        return inputs, batch

    def _limit(self, width: int) -> int:
        """The most pieces a text keeps: the sequence length less the special tokens the packer adds."""
        probe = self.preprocessor([""])
        ids = np.asarray(probe["token_ids"])[0]
        mask = np.asarray(probe["padding_mask"])[0].astype(bool)
        return int(width - np.isin(ids[mask], self.special).sum())


def _unknown_spans(pieces: list[str], spans: list, text: str, oov: str) -> list:
    """Spans for the ``[UNK]`` pieces: the words of the text between their neighbours' spans.

    WordPiece replaces a whole word it cannot split by ``[UNK]``, which cannot
    be found in the text; a run of them takes the whitespace-separated words
    of the gap between the pieces around it, one each (the whole gap to the
    first when the counts differ).
    """
    spans = list(spans)
    j = 0
    while j < len(pieces):
        if pieces[j] != oov:
            j += 1
            continue
        end = j
        while end < len(pieces) and pieces[end] == oov:
            end += 1
        start_at = spans[j - 1][1] if j > 0 else 0
        stop_at = spans[end][0] if end < len(pieces) and spans[end][1] > spans[end][0] else len(text)
        words = [(m.start() + start_at, m.end() + start_at) for m in _WORD.finditer(text[start_at:stop_at])]
        if len(words) == end - j:
            spans[j:end] = words
        elif words:
            spans[j] = (words[0][0], words[-1][1])
        j = end
    return spans
