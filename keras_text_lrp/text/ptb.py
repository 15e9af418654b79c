"""Undoing Penn Treebank token escapes (``-LRB-``, ``\\/``, ``` `` ```) for display."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PTB_ESCAPES", "ptb_unescape", "ptb_unescape_tokens"]

PTB_ESCAPES: dict[str, str] = {
    "-LRB-": "(",
    "-RRB-": ")",
    "-LSB-": "[",
    "-RSB-": "]",
    "-LCB-": "{",
    "-RCB-": "}",
}
"""Whole-token PTB bracket escapes (matched case-insensitively) and their characters."""

_QUOTES = {"``": '"', "''": '"'}
_INNER = (("\\/", "/"), ("\\*", "*"))


def _unescape_token(token: str, quotes: bool) -> str:
    bracket = PTB_ESCAPES.get(token.upper())
    if bracket is not None:
        return bracket
    if quotes and token in _QUOTES:
        return _QUOTES[token]
    for escaped, plain in _INNER:
        token = token.replace(escaped, plain)
    return token


def ptb_unescape_tokens(tokens: Sequence[str], quotes: bool = True) -> list[str]:
    """Undo PTB escapes token by token.

    Parameters
    ----------
    tokens : sequence of str
        PTB tokens, e.g. ``["-LRB-", "co-writer\\\\/director", "``"]``.
    quotes : bool, default True
        Also turn the PTB quote tokens ``` `` ``` and ``''`` into ``"``.

    Returns
    -------
    list of str
        The tokens as plain text (``["(", "co-writer/director", '"']``), one
        per input token, so positions and relevances still line up.
    """
    return [_unescape_token(token, quotes) for token in tokens]


def ptb_unescape(text: str, quotes: bool = True) -> str:
    """Undo PTB escapes in a space-separated PTB sentence (e.g. an SST line).

    The text is split on ASCII spaces only (SST tokens may hold a no-break
    space), each token is unescaped with :func:`ptb_unescape_tokens` and the
    tokens are joined back with single spaces. Spacing is not detokenized.

    Parameters
    ----------
    text : str
        A PTB-tokenized sentence such as ``"a -LRB- good -RRB- film"``.
    quotes : bool, default True
        Also turn ``` `` ``` and ``''`` into ``"``.

    Returns
    -------
    str
        ``"a ( good ) film"`` for the example above.
    """
    return " ".join(ptb_unescape_tokens(text.split(" "), quotes=quotes))
