"""Movie review polarity dataset v2.0 (Pang & Lee 2004) loader."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable

import numpy as np

from keras_text_lrp.datasets._files import data_file
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["MOVIE_REVIEW_LABEL_NAMES", "load_movie_reviews"]

MOVIE_REVIEW_LABEL_NAMES = ("neg", "pos")


def load_movie_reviews(
    folds: Iterable[int] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Load the 2000 movie reviews (1000 negative, 1000 positive).

    There is no official split; the authors used 10-fold cross validation.
    A common fixed split is ``folds=range(9)`` (1800 reviews) for training and
    ``folds=[9]`` (200) for testing.

    Parameters
    ----------
    folds : iterable of int, optional
        Cross-validation folds (0..9, 200 reviews each) to keep; all if None.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one.

    Returns
    -------
    texts : list of str
        Lowercased, space-tokenized reviews, one sentence per line.
    labels : numpy.ndarray of int64, shape (n,)
        0 negative, 1 positive.

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If the file is missing or damaged.
    """
    keep = None if folds is None else {int(fold) for fold in folds}
    if keep is not None and not keep <= set(range(10)):
        raise InvalidArgumentError(f"folds must be in 0..9, got {sorted(keep)}")
    path = data_file("movie_review_polarity_v2/all.jsonl.gz", data_dir)
    texts: list[str] = []
    labels: list[int] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if keep is None or record["fold"] in keep:
                texts.append(record["text"])
                labels.append(record["label"])
    return texts, np.asarray(labels, dtype=np.int64)
