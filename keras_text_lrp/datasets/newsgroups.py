"""20 Newsgroups ("bydate" version) loader."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np

from keras_text_lrp.datasets._files import data_file
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["NEWSGROUPS", "load_20newsgroups"]

NEWSGROUPS = (
    "alt.atheism",
    "comp.graphics",
    "comp.os.ms-windows.misc",
    "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware",
    "comp.windows.x",
    "misc.forsale",
    "rec.autos",
    "rec.motorcycles",
    "rec.sport.baseball",
    "rec.sport.hockey",
    "sci.crypt",
    "sci.electronics",
    "sci.med",
    "sci.space",
    "soc.religion.christian",
    "talk.politics.guns",
    "talk.politics.mideast",
    "talk.politics.misc",
    "talk.religion.misc",
)
"""The 20 newsgroups in label order (alphabetical, as scikit-learn numbers them)."""


def load_20newsgroups(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], np.ndarray, list[str]]:
    """Load a split of 20 Newsgroups (bydate: train 11314 posts, test 7532).

    Parameters
    ----------
    split : {"train", "test"}
        Which split.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one.

    Returns
    -------
    texts : list of str
        Whole posts, headers, quotes and signatures included (decoded as
        Latin-1, like scikit-learn), sorted by newsgroup then file name.
    labels : numpy.ndarray of int64, shape (n,)
        0..19, indices into ``label_names``.
    label_names : list of str
        The 20 newsgroup names (:data:`NEWSGROUPS`).

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If the file is missing or damaged.
    """
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"split must be 'train' or 'test', got {split!r}")
    path = data_file(f"20newsgroups_bydate/{split}.jsonl.gz", data_dir)
    texts: list[str] = []
    labels: list[int] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(record["label"])
    return texts, np.asarray(labels, dtype=np.int64), list(NEWSGROUPS)
