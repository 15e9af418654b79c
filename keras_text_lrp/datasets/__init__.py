"""Shipped data sets (SST-5, SST-2, 20 Newsgroups, movie reviews, GloVe 50d, NLTK punkt).

Everything is read from the package's ``data`` folder (never the network) and
checked against the SHA-256 digests in :data:`CHECKSUMS`. Each data set's
folder has a README.md with its source, format, counts and license.
"""

from keras_text_lrp.datasets._files import (
    CHECKSUMS,
    DATA_DIR,
    DatasetChecksumError,
    DatasetFileNotFoundError,
    data_file,
    verify_datasets,
)
from keras_text_lrp.datasets.glove import load_glove
from keras_text_lrp.datasets.movie_reviews import (
    MOVIE_REVIEW_LABEL_NAMES,
    load_movie_reviews,
)
from keras_text_lrp.datasets.newsgroups import NEWSGROUPS, load_20newsgroups
from keras_text_lrp.datasets.nltk_resources import nltk_data_path, use_nltk_data
from keras_text_lrp.datasets.sst import (
    SST2_LABEL_NAMES,
    SST5_LABEL_NAMES,
    load_sst2,
    load_sst5,
    load_sst5_trees,
)
from keras_text_lrp.text.ptb import ptb_unescape, ptb_unescape_tokens

__all__ = [
    "CHECKSUMS",
    "DATA_DIR",
    "MOVIE_REVIEW_LABEL_NAMES",
    "NEWSGROUPS",
    "SST2_LABEL_NAMES",
    "SST5_LABEL_NAMES",
    "DatasetChecksumError",
    "DatasetFileNotFoundError",
    "data_file",
    "load_20newsgroups",
    "load_glove",
    "load_movie_reviews",
    "load_sst2",
    "load_sst5",
    "load_sst5_trees",
    "nltk_data_path",
    "ptb_unescape",
    "ptb_unescape_tokens",
    "use_nltk_data",
    "verify_datasets",
]
