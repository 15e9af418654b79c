"""Offline word tokenizers (built on NLTK) that also return character offsets.

Every tokenizer returns the tokens and, for each token, its ``(start, end)``
character offsets into the original string, so that word relevances can be
drawn back onto the text the user gave. Tokens are what the tokenizer emits
(Treebank-style tokenizers turn ``"`` into ``` `` ``` / ``''``); the surface
form of token ``i`` is ``text[start:end]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from functools import cache, lru_cache

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError

__all__ = [
    "TOKENIZERS",
    "Offsets",
    "WordTokenizer",
    "align_tokens",
    "merge_wordpieces",
    "tokenize",
]

Offsets = list[tuple[int, int]]

TOKENIZERS = ("nltk", "treebank", "toktok", "punkt", "whitespace", "space")
"""Names accepted by :func:`tokenize` (see its docstring)."""

# Surface forms a tokenizer may have rewritten into the token on the left.
_QUOTE_FORMS = ('"', "``", "''", "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb")
_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "``": _QUOTE_FORMS,
    "''": _QUOTE_FORMS,
    '"': _QUOTE_FORMS,
    "`": ("`", "'", "\u2018"),
    "'": ("'", "\u2019", "`"),
    "-LRB-": ("(",),
    "-RRB-": (")",),
    "-LSB-": ("[",),
    "-RSB-": ("]",),
    "-LCB-": ("{",),
    "-RCB-": ("}",),
    "...": ("...", "\u2026"),
}
_TOKTOK_PLAIN = {"&amp;": "&", "&#124;": "|", "&#9;": "\t"}
_TOKTOK_ESCAPE = re.compile("|".join(map(re.escape, _TOKTOK_PLAIN)))


def align_tokens(tokens: Sequence[str], text: str) -> Offsets:
    """Find each token in ``text``, left to right, and return its offsets.

    Tokens must appear in ``text`` in order. A token is matched as written or
    as one of the forms tokenizers rewrite (``` `` ```/``''`` for ``"`` or
    curly quotes, ``-LRB-`` for ``(``, ...); of the candidate forms the one
    found first is used (the longest on a tie). A token found nowhere after
    the previous one gets an empty span at the current position (so the
    output always has one span per token) instead of raising.

    Parameters
    ----------
    tokens : sequence of str
        Tokens in text order.
    text : str
        The original string.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` per token, with ``text[start:end]`` the surface form.
    """
    offsets: Offsets = []
    cursor = 0
    for token in tokens:
        best: tuple[int, int] | None = None
        for form in (token, *_ALTERNATIVES.get(token, ())):
            if not form:
                continue
            start = text.find(form, cursor)
            if start >= 0 and (
                best is None or start < best[0] or (start == best[0] and start + len(form) > best[1])
            ):
                best = (start, start + len(form))
        if best is None:
            while cursor < len(text) and text[cursor].isspace():
                cursor += 1
            best = (cursor, cursor)
        offsets.append(best)
        cursor = best[1]
    return offsets


def _spans(pattern: re.Pattern[str], text: str) -> tuple[list[str], Offsets]:
    matches = list(pattern.finditer(text))
    return [m.group() for m in matches], [m.span() for m in matches]


@cache
def _nltk_tokenizer(name: str):
    from nltk.tokenize import NLTKWordTokenizer, ToktokTokenizer, TreebankWordTokenizer

    return {
        "nltk": NLTKWordTokenizer,
        "treebank": TreebankWordTokenizer,
        "toktok": ToktokTokenizer,
    }[name]()


@lru_cache(maxsize=1)
def _punkt():
    from nltk.tokenize.punkt import PunktTokenizer

    from keras_text_lrp.datasets.nltk_resources import use_nltk_data

    use_nltk_data()
    return PunktTokenizer("english")


def _treebank_like(name: str, text: str) -> tuple[list[str], Offsets]:
    tokenizer = _nltk_tokenizer(name)
    tokens = tokenizer.tokenize(text)
    try:
        offsets = [tuple(span) for span in tokenizer.span_tokenize(text)]
    except ValueError:  # NLTK's own alignment failed; use ours
        offsets = []
    if len(offsets) != len(tokens):
        offsets = align_tokens(tokens, text)
    return tokens, offsets


def _toktok(text: str) -> tuple[list[str], Offsets]:
    # Toktok writes "&", "|" and tabs as "&amp;", "&#124;" and "&#9;"; undo that in one pass
    # (so a literal "&#124;" in the text, which Toktok makes "&amp;#124;", stays literal) and
    # drop the whitespace tokens the tab escape produces.
    tokens = [
        _TOKTOK_ESCAPE.sub(lambda m: _TOKTOK_PLAIN[m.group()], t)
        for t in _nltk_tokenizer("toktok").tokenize(text)
    ]
    tokens = [token for token in tokens if token.strip()]
    return tokens, align_tokens(tokens, text)


def _punkt_words(text: str) -> tuple[list[str], Offsets]:
    tokens: list[str] = []
    offsets: Offsets = []
    for start, end in _punkt().span_tokenize(text):
        words, spans = _treebank_like("nltk", text[start:end])
        tokens.extend(words)
        offsets.extend((start + s, start + e) for s, e in spans)
    return tokens, offsets


_METHODS: dict[str, Callable[[str], tuple[list[str], Offsets]]] = {
    "nltk": lambda text: _treebank_like("nltk", text),
    "treebank": lambda text: _treebank_like("treebank", text),
    "toktok": _toktok,
    "punkt": _punkt_words,
    "whitespace": lambda text: _spans(re.compile(r"\S+"), text),
    "space": lambda text: _spans(re.compile(r"[^ ]+"), text),
}


def tokenize(text: str, method: str = "nltk", lowercase: bool = False) -> tuple[list[str], Offsets]:
    """Split ``text`` into word tokens with their character offsets.

    All methods work offline.

    Parameters
    ----------
    text : str
        The string to tokenize.
    method : str, default "nltk"
        - ``"nltk"``: NLTK's ``NLTKWordTokenizer`` on the whole text, i.e.
          ``nltk.word_tokenize(text, preserve_line=True)``.
        - ``"treebank"``: NLTK's ``TreebankWordTokenizer`` (classic PTB rules,
          as used for SST).
        - ``"toktok"``: NLTK's ``ToktokTokenizer``; its ``&amp;`` and
          ``&#124;`` escapes are turned back into ``&`` and ``|`` (and its
          tab tokens dropped).
        - ``"punkt"``: sentence split with the shipped Punkt model, then
          ``"nltk"`` per sentence (``nltk.word_tokenize(text)``).
        - ``"whitespace"``: runs of non-whitespace characters.
        - ``"space"``: runs of characters other than the ASCII space (for
          pre-tokenized text such as SST lines, whose tokens may hold a
          no-break space).
    lowercase : bool, default False
        Lowercase the tokens (offsets still point at the original text).

    Returns
    -------
    tokens : list of str
        The tokens.
    offsets : list of (int, int)
        ``(start, end)`` of each token in ``text``.

    Raises
    ------
    InvalidArgumentError
        If ``method`` is unknown or ``text`` is not a string.
    """
    if method not in _METHODS:
        raise InvalidArgumentError(f"method must be one of {TOKENIZERS}, got {method!r}")
    if not isinstance(text, str):
        raise InvalidArgumentError(f"text must be a str, got {type(text).__name__}")
    tokens, offsets = _METHODS[method](text)
    if lowercase:
        tokens = [token.lower() for token in tokens]
    return tokens, [(int(s), int(e)) for s, e in offsets]


class WordTokenizer:
    """A configured :func:`tokenize`, callable on one text or a batch.

    Parameters
    ----------
    method : str, default "nltk"
        One of :data:`TOKENIZERS`.
    lowercase : bool, default False
        Lowercase the tokens.

    Examples
    --------
    >>> tokens, offsets = WordTokenizer(lowercase=True)("Don't panic.")
    >>> tokens
    ['do', "n't", 'panic', '.']
    >>> offsets
    [(0, 2), (2, 5), (6, 11), (11, 12)]
    """

    def __init__(self, method: str = "nltk", lowercase: bool = False) -> None:
        if method not in _METHODS:
            raise InvalidArgumentError(f"method must be one of {TOKENIZERS}, got {method!r}")
        self.method = method
        self.lowercase = lowercase

    def __call__(self, text: str) -> tuple[list[str], Offsets]:
        """Tokenize one text; see :func:`tokenize`."""
        return tokenize(text, self.method, self.lowercase)

    def tokenize(self, text: str) -> list[str]:
        """Return only the tokens of ``text``."""
        return self(text)[0]

    def batch(self, texts: Sequence[str]) -> tuple[list[list[str]], list[Offsets]]:
        """Tokenize many texts; returns the token lists and the offset lists."""
        results = [self(text) for text in texts]
        return [tokens for tokens, _ in results], [offsets for _, offsets in results]

    def __repr__(self) -> str:
        return f"WordTokenizer(method={self.method!r}, lowercase={self.lowercase})"


def merge_wordpieces(
    tokens: Sequence[str],
    offsets: Sequence[tuple[int, int]] | None = None,
    scores: np.ndarray | Sequence[float] | None = None,
    prefix: str = "##",
) -> tuple[list[str], Offsets | None, np.ndarray | None]:
    """Merge ``##``-style word pieces into words, summing their scores.

    A piece that starts with ``prefix`` continues the word before it
    (``["un", "##believ", "##able"]`` gives ``["unbelievable"]``); a leading
    continuation piece starts a word of its own.

    Parameters
    ----------
    tokens : sequence of str
        Word pieces.
    offsets : sequence of (int, int), optional
        Offsets of the pieces; a word spans from its first piece's start to
        its last piece's end.
    scores : array_like, optional
        Scores with the pieces on the first axis, shape ``(len(tokens), ...)``;
        the scores of a word's pieces are summed (relevance is conserved).
    prefix : str, default "##"
        The continuation marker.

    Returns
    -------
    words : list of str
        The merged words.
    offsets : list of (int, int) or None
        Word offsets (None if none were given).
    scores : numpy.ndarray or None
        Word scores, shape ``(len(words), ...)`` (None if none were given).

    Raises
    ------
    InvalidArgumentError
        If ``offsets`` or ``scores`` do not have one entry per token.
    """
    n = len(tokens)
    if offsets is not None and len(offsets) != n:
        raise InvalidArgumentError(f"offsets has {len(offsets)} entries for {n} tokens")
    values = None if scores is None else np.asarray(scores)
    if values is not None and (values.ndim == 0 or values.shape[0] != n):
        raise InvalidArgumentError(f"scores must have shape ({n}, ...), got {values.shape}")
    starts = [i for i, token in enumerate(tokens) if i == 0 or not token.startswith(prefix)]
    bounds = [*starts, n]
    words = []
    for first, stop in itertools.pairwise(bounds):
        pieces = [tokens[first]] + [tokens[i][len(prefix) :] for i in range(first + 1, stop)]
        pieces[0] = pieces[0].removeprefix(prefix)
        words.append("".join(pieces))
    word_offsets = None
    if offsets is not None:
        word_offsets = [(int(offsets[a][0]), int(offsets[b - 1][1])) for a, b in itertools.pairwise(bounds)]
    word_scores = None
    if values is not None:
        if n == 0:
            word_scores = values.copy()
        else:
            word_scores = np.add.reduceat(values, starts, axis=0)
    return words, word_offsets, word_scores
