"""Tokenizers: tokens and character offsets into the original string."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.text import TOKENIZERS, WordTokenizer, align_tokens, merge_wordpieces, tokenize

QUOTES = {"``", "''", '"'}
SAMPLES = [
    'He said "don\'t" & paid $5 | ok.',
    "Dr. Who\u2019s \u201cthere\u201d?  Yes (really) [sure] {x} ... done.",
    "  leading and trailing spaces  ",
    "Tabs\tand\nnewlines\r\nhere",
    "\u00c9t\u00e9 na\u00efve caf\u00e9 \u2014 emoji \U0001f600 ok",
    "",
]


def _check_offsets(text, tokens, offsets):
    assert len(tokens) == len(offsets)
    previous_end = 0
    for token, (start, end) in zip(tokens, offsets):
        assert previous_end <= start <= end <= len(text)
        surface = text[start:end]
        assert surface == token or (token in QUOTES and surface in ('"', "``", "''", "\u201c", "\u201d"))
        previous_end = end


@pytest.mark.parametrize("method", TOKENIZERS)
@pytest.mark.parametrize("text", SAMPLES)
def test_offsets_are_the_substring_positions(method, text):
    tokens, offsets = tokenize(text, method)
    _check_offsets(text, tokens, offsets)
    if text.strip():
        assert tokens


def test_known_nltk_output():
    text = 'She said "hi" and left.'
    tokens, offsets = tokenize(text, "nltk")
    assert tokens == ["She", "said", "``", "hi", "''", "and", "left", "."]
    assert offsets == [(0, 3), (4, 8), (9, 10), (10, 12), (12, 13), (14, 17), (18, 22), (22, 23)]
    assert tokenize("He didn't.", "treebank")[0] == ["He", "did", "n't", "."]


def test_toktok_escapes_are_undone():
    text = "AT&T | ok"
    tokens, offsets = tokenize(text, "toktok")
    assert "&amp;" not in "".join(tokens) and "|" in tokens
    assert [text[s:e] for s, e in offsets] == tokens


def test_punkt_splits_sentences_with_offsets():
    text = "Mr. Smith went home. He left."
    tokens, offsets = tokenize(text, "punkt")
    assert tokens == ["Mr.", "Smith", "went", "home", ".", "He", "left", "."]
    assert offsets[4] == (19, 20) and offsets[5] == (21, 23)


def test_space_method_keeps_nbsp_tokens():
    text = "a 8\u00a01\\/2 b"
    assert tokenize(text, "space")[0] == ["a", "8\u00a01\\/2", "b"]
    assert tokenize(text, "whitespace")[0] == ["a", "8", "1\\/2", "b"]


def test_lowercase_keeps_offsets_into_original():
    tokenizer = WordTokenizer("nltk", lowercase=True)
    tokens, offsets = tokenizer("The FILM")
    assert tokens == ["the", "film"] and offsets == [(0, 3), (4, 8)]
    batch_tokens, batch_offsets = tokenizer.batch(["A b", "C"])
    assert batch_tokens == [["a", "b"], ["c"]] and batch_offsets == [[(0, 1), (2, 3)], [(0, 1)]]


def test_align_tokens_quote_forms_and_unmatched():
    text = "say \u201chi\u201d -LRB- x (y)"
    assert align_tokens(["say", "``", "hi", "''", "-LRB-", "x", "-LRB-", "y", "-RRB-"], text) == [
        (0, 3),
        (4, 5),
        (5, 7),
        (7, 8),
        (9, 14),
        (15, 16),
        (17, 18),
        (18, 19),
        (19, 20),
    ]
    # a token that is not in the text gets an empty span and does not derail the rest
    assert align_tokens(["a", "zzz", "b"], "a  b") == [(0, 1), (3, 3), (3, 4)]


def test_errors():
    with pytest.raises(InvalidArgumentError, match="method must be one of"):
        tokenize("x", "spacy")
    with pytest.raises(InvalidArgumentError, match="must be a str"):
        tokenize(["x"])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_offsets_property(text):
    for method in ("nltk", "treebank", "toktok", "whitespace"):
        tokens, offsets = tokenize(text, method)
        assert len(tokens) == len(offsets)
        previous_end = 0
        for start, end in offsets:
            assert previous_end <= start <= end <= len(text)
            previous_end = end


def test_merge_wordpieces_sums_scores():
    tokens = ["un", "##believ", "##able", "film", "##s", "!"]
    offsets = [(0, 2), (2, 7), (7, 11), (12, 16), (16, 17), (17, 18)]
    words, word_offsets, scores = merge_wordpieces(tokens, offsets, [1.0, 2.0, 3.0, 4.0, -5.0, 0.5])
    assert words == ["unbelievable", "films", "!"]
    assert word_offsets == [(0, 11), (12, 17), (17, 18)]
    np.testing.assert_allclose(scores, [6.0, -1.0, 0.5])
    # scores with extra axes are summed over the pieces only
    _, _, matrix = merge_wordpieces(["a", "##b"], None, np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(matrix, [[4.0, 6.0]])
    assert merge_wordpieces(["##x", "y"]) == (["x", "y"], None, None)
    with pytest.raises(InvalidArgumentError, match="scores must have shape"):
        merge_wordpieces(["a", "b"], scores=[1.0])


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=list("ab1 .,'\"`&|();:-?!$\t\n\u201c\u201d\u2019"), max_size=30))
def test_offsets_point_at_the_token_text(text):
    for method in ("nltk", "treebank", "toktok", "punkt", "whitespace"):
        tokens, offsets = tokenize(text, method)
        _check_offsets(text, tokens, offsets)
