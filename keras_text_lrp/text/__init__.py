"""Text helpers: offline tokenizers with offsets, vocabularies, word-level relevance, PTB unescaping."""

from keras_text_lrp.text.ptb import PTB_ESCAPES, ptb_unescape, ptb_unescape_tokens
from keras_text_lrp.text.relevance import (
    POOLINGS,
    unmasked_scores,
    unmasked_tokens,
    word_relevance,
)
from keras_text_lrp.text.tokenize import (
    TOKENIZERS,
    Offsets,
    WordTokenizer,
    align_tokens,
    merge_wordpieces,
    tokenize,
)
from keras_text_lrp.text.vocab import Vocabulary

__all__ = [
    "POOLINGS",
    "PTB_ESCAPES",
    "TOKENIZERS",
    "Offsets",
    "Vocabulary",
    "WordTokenizer",
    "align_tokens",
    "merge_wordpieces",
    "ptb_unescape",
    "ptb_unescape_tokens",
    "tokenize",
    "unmasked_scores",
    "unmasked_tokens",
    "word_relevance",
]
