"""A token vocabulary with fixed padding (0) and out-of-vocabulary (1) ids."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_text_lrp._fileio import atomic_write_text
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["Vocabulary"]

_FORMAT = "keras_text_lrp.Vocabulary"


class Vocabulary:
    """Maps tokens to integer ids: 0 is padding, 1 is out-of-vocabulary, words from 2.

    The layout is the one of ``keras.layers.TextVectorization`` (``''`` at 0,
    ``'[UNK]'`` at 1), so an Embedding with ``mask_zero=True`` masks padding.

    Parameters
    ----------
    words : sequence of str
        The words, in id order; ``words[i]`` gets id ``i + 2``. They must be
        distinct and must not be the padding or OOV token.
    pad_token : str, default ""
        Token shown for id 0.
    oov_token : str, default "[UNK]"
        Token shown for id 1; unknown words are encoded as 1.

    Attributes
    ----------
    pad_id : int
        Always 0.
    oov_id : int
        Always 1.
    """

    pad_id = 0
    oov_id = 1

    def __init__(self, words: Sequence[str], pad_token: str = "", oov_token: str = "[UNK]") -> None:
        if pad_token == oov_token:
            raise InvalidArgumentError(f"pad_token and oov_token must differ, both are {pad_token!r}")
        words = [str(word) for word in words]
        index = {pad_token: 0, oov_token: 1}
        for word in words:
            if word in index:
                what = "a special token" if index[word] < 2 else "a duplicate"
                raise InvalidArgumentError(f"word {word!r} is {what}; words must be distinct and not special")
            index[word] = len(index)
        self.pad_token = pad_token
        self.oov_token = oov_token
        self._itos = [pad_token, oov_token, *words]
        self._stoi = index

    # ----------------------------------------------------------------- building
    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        min_count: int = 1,
        max_size: int | None = None,
        pad_token: str = "",
        oov_token: str = "[UNK]",
    ) -> Vocabulary:
        """Build a vocabulary from token counts, most frequent first.

        Parameters
        ----------
        counts : mapping of str to int
            Token frequencies.
        min_count : int, default 1
            Drop tokens seen fewer times.
        max_size : int, optional
            Largest vocabulary size, the two special ids included (like
            ``TextVectorization(max_tokens=...)``); must be at least 2.
        pad_token, oov_token : str
            The special tokens (kept out of the words).

        Returns
        -------
        Vocabulary
            Words sorted by decreasing count, ties alphabetically.
        """
        if max_size is not None and max_size < 2:
            raise InvalidArgumentError(f"max_size must be >= 2 (it counts padding and OOV), got {max_size}")
        kept = [(w, c) for w, c in counts.items() if c >= min_count and w not in (pad_token, oov_token)]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([w for w, _ in kept], pad_token=pad_token, oov_token=oov_token)

    @classmethod
    def from_tokens(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_count: int = 1,
        max_size: int | None = None,
        pad_token: str = "",
        oov_token: str = "[UNK]",
    ) -> Vocabulary:
        """Count the tokens of tokenized texts and build a vocabulary (see :meth:`from_counts`).

        Parameters
        ----------
        token_lists : iterable of sequences of str
            One token list per text, e.g. from :class:`WordTokenizer`.
        min_count, max_size, pad_token, oov_token
            As in :meth:`from_counts`.
        """
        if isinstance(token_lists, str):
            raise InvalidArgumentError("token_lists must be an iterable of token lists, got a str")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise InvalidArgumentError(
                    f"each item of token_lists must be a list of tokens, got the str {tokens!r}"
                )
            counts.update(tokens)
        return cls.from_counts(counts, min_count, max_size, pad_token, oov_token)

    # ----------------------------------------------------------------- lookups
    @property
    def words(self) -> list[str]:
        """The non-special words, in id order (ids 2, 3, ...)."""
        return self._itos[2:]

    def get_vocabulary(self) -> list[str]:
        """All tokens in id order, specials included (like TextVectorization's)."""
        return list(self._itos)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi and self._stoi[token] >= 2

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._itos == other._itos

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, pad_token={self.pad_token!r}, oov_token={self.oov_token!r})"

    def token_to_id(self, token: str) -> int:
        """Id of ``token``; 1 (OOV) if unknown. The special tokens map to the OOV id too."""
        index = self._stoi.get(token, 1)
        return index if index >= 2 else 1

    def id_to_token(self, index: int) -> str:
        """Token of id ``index``; raises ``InvalidArgumentError`` if out of range."""
        if not 0 <= index < len(self._itos):
            raise InvalidArgumentError(f"id {index} is out of range for a vocabulary of size {len(self)}")
        return self._itos[index]

    # ---------------------------------------------------------------- encoding
    def encode(
        self,
        token_lists: Sequence[Sequence[str]],
        max_len: int | None = None,
        padding: str = "post",
        truncating: str = "post",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Turn token lists into a padded id matrix.

        Parameters
        ----------
        token_lists : sequence of sequences of str
            One token list per text.
        max_len : int, optional
            Sequence length ``T``; the longest list's length if None.
        padding : {"post", "pre"}, default "post"
            Put the padding (id 0) after or before the tokens.
        truncating : {"post", "pre"}, default "post"
            Drop the tokens past ``max_len`` at the end or at the start.

        Returns
        -------
        ids : numpy.ndarray of int32, shape (B, T)
            Token ids, unknown tokens as 1, padding 0.
        lengths : numpy.ndarray of int32, shape (B,)
            Number of real tokens in each row (after truncation).

        Raises
        ------
        InvalidArgumentError
            On a bad ``padding``/``truncating``/``max_len`` or a str instead of a token list.
        """
        if padding not in ("post", "pre"):
            raise InvalidArgumentError(f"padding must be 'post' or 'pre', got {padding!r}")
        if truncating not in ("post", "pre"):
            raise InvalidArgumentError(f"truncating must be 'post' or 'pre', got {truncating!r}")
        if isinstance(token_lists, str) or any(isinstance(tokens, str) for tokens in token_lists):
            raise InvalidArgumentError(
                "token_lists must be a list of token lists (one per text), not strings"
            )
        if max_len is None:
            max_len = max((len(tokens) for tokens in token_lists), default=0)
        if max_len < 0:
            raise InvalidArgumentError(f"max_len must be >= 0, got {max_len}")
        ids = np.zeros((len(token_lists), max_len), dtype=np.int32)
        lengths = np.zeros(len(token_lists), dtype=np.int32)
        for row, tokens in enumerate(token_lists):
            tokens = list(tokens)
            if len(tokens) > max_len:
                tokens = tokens[:max_len] if truncating == "post" else tokens[len(tokens) - max_len :]
            n = len(tokens)
            lengths[row] = n
            if n:
                values = [self.token_to_id(token) for token in tokens]
                if padding == "post":
                    ids[row, :n] = values
                else:
                    ids[row, max_len - n :] = values
        return ids, lengths

    def decode(
        self, ids: np.ndarray | Sequence[int] | Sequence[Sequence[int]], skip_padding: bool = True
    ) -> list:
        """Turn ids back into tokens.

        Parameters
        ----------
        ids : array_like of int, shape (T,) or (B, T)
            Token ids.
        skip_padding : bool, default True
            Leave out id 0 (padding), wherever it is.

        Returns
        -------
        list of str, or list of lists of str
            One token list for a 1-D input, one per row for a 2-D input.
        """
        array = np.asarray(ids)
        if array.ndim not in (1, 2) or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise InvalidArgumentError(
                f"ids must be an integer array of shape (T,) or (B, T), got {array.dtype} {array.shape}"
            )
        if array.ndim == 1:
            return [self.id_to_token(int(i)) for i in array if not (skip_padding and i == 0)]
        return [self.decode(row, skip_padding) for row in array]

    # ------------------------------------------------------- TextVectorization
    def to_text_vectorization(self, **kwargs: Any):
        """Build a ``keras.layers.TextVectorization`` layer with this vocabulary.

        Only a vocabulary with the default special tokens (``''`` and
        ``'[UNK]'``) can be exported. The layer defaults to ``standardize=None``
        and ``split="whitespace"`` (feed it space-joined tokens); any keyword
        argument is passed on to the layer.

        Returns
        -------
        keras.layers.TextVectorization
            A layer whose ``get_vocabulary()`` equals :meth:`get_vocabulary`.
        """
        import keras

        if (self.pad_token, self.oov_token) != ("", "[UNK]"):
            raise InvalidArgumentError(
                "TextVectorization needs pad_token='' and oov_token='[UNK]'; "
                f"this vocabulary has {self.pad_token!r} and {self.oov_token!r}"
            )
        bad = [word for word in self.words if not word or any(ch.isspace() for ch in word)]
        if bad and kwargs.get("split", "whitespace") == "whitespace":
            raise InvalidArgumentError(f"words with whitespace cannot pass a whitespace split: {bad[:5]}")
        options = {"standardize": None, "split": "whitespace", **kwargs}
        return keras.layers.TextVectorization(vocabulary=self.words, **options)

    @classmethod
    def from_text_vectorization(cls, layer: Any) -> Vocabulary:
        """Read the vocabulary of an adapted ``keras.layers.TextVectorization`` layer.

        Parameters
        ----------
        layer : keras.layers.TextVectorization
            A layer with ``output_mode="int"`` whose vocabulary starts with
            ``''`` and ``'[UNK]'``.

        Returns
        -------
        Vocabulary
            Same ids as the layer.
        """
        if not hasattr(layer, "get_vocabulary"):
            raise InvalidArgumentError(f"expected a TextVectorization layer, got {type(layer).__name__}")
        mode = getattr(layer, "_output_mode", "int")
        if mode != "int":
            raise InvalidArgumentError(f"the layer must have output_mode='int', got {mode!r}")
        tokens = [str(token) for token in layer.get_vocabulary()]
        if tokens[:2] != ["", "[UNK]"]:
            raise InvalidArgumentError(
                f"the layer's vocabulary must start with '' and '[UNK]', got {tokens[:2]}"
            )
        return cls(tokens[2:])

    # --------------------------------------------------------------- save/load
    def to_json(self) -> str:
        """Serialize to a JSON string (see :meth:`from_json`)."""
        data = {
            "format": _FORMAT,
            "version": 1,
            "pad_token": self.pad_token,
            "oov_token": self.oov_token,
            "words": self.words,
        }
        return json.dumps(data, ensure_ascii=False, indent=0)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """Rebuild a vocabulary from :meth:`to_json` output."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != 1:
            raise InvalidArgumentError(f"not a {_FORMAT} (version 1) JSON document")
        return cls(data["words"], pad_token=data["pad_token"], oov_token=data["oov_token"])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as UTF-8 JSON, atomically (temporary file + ``os.replace``)."""
        return atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
