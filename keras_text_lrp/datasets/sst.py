"""Stanford Sentiment Treebank loaders (SST-5 and SST-2, sentence level)."""

from __future__ import annotations

import os

import numpy as np

from keras_text_lrp.datasets._files import data_file
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["SST2_LABEL_NAMES", "SST5_LABEL_NAMES", "load_sst2", "load_sst5", "load_sst5_trees"]

SST5_LABEL_NAMES = ("very negative", "negative", "neutral", "positive", "very positive")
SST2_LABEL_NAMES = ("negative", "positive")
_SPLITS = ("train", "dev", "test")


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise InvalidArgumentError(f"split must be one of {_SPLITS}, got {split!r}")


def _read_tsv(relpath: str, data_dir: str | os.PathLike[str] | None) -> tuple[list[str], np.ndarray]:
    path = data_file(relpath, data_dir)
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="\n") as handle:
        for line in handle:
            label, text = line.rstrip("\n").split("\t", 1)
            labels.append(int(label))
            texts.append(text)
    return texts, np.asarray(labels, dtype=np.int64)


def load_sst5(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Load a split of SST-5 (five sentiment classes, sentence level).

    Parameters
    ----------
    split : {"train", "dev", "test"}
        8544, 1101 and 2210 sentences.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one (same layout).

    Returns
    -------
    texts : list of str
        PTB-tokenized sentences, tokens joined by single ASCII spaces, PTB
        escapes kept (``-LRB-``, ``\\/``); split them with ``text.split(" ")``
        and see :func:`keras_text_lrp.text.ptb_unescape` for display.
    labels : numpy.ndarray of int64, shape (n,)
        0 very negative ... 4 very positive (:data:`SST5_LABEL_NAMES`).

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If the file is missing or damaged.
    """
    _check_split(split)
    return _read_tsv(f"sst5/{split}.tsv", data_dir)


def load_sst2(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Load a split of SST-2 (binary sentiment, sentence level, neutral dropped).

    Parameters
    ----------
    split : {"train", "dev", "test"}
        6920, 872 and 1821 sentences.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one.

    Returns
    -------
    texts : list of str
        PTB-tokenized sentences as in :func:`load_sst5`.
    labels : numpy.ndarray of int64, shape (n,)
        0 negative, 1 positive.

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If the file is missing or damaged.
    """
    _check_split(split)
    return _read_tsv(f"sst2/{split}.tsv", data_dir)


def load_sst5_trees(split: str = "train", data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Load the original PTB-style sentiment trees of a split, one string per sentence.

    Parameters
    ----------
    split : {"train", "dev", "test"}
        Which split.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one.

    Returns
    -------
    list of str
        Trees such as ``"(3 (2 It) (4 ...))"`` with phrase-level labels 0..4
        (parse them with e.g. ``nltk.Tree.fromstring``).
    """
    _check_split(split)
    path = data_file(f"sst5/trees/{split}.txt", data_dir)
    return path.read_text(encoding="utf-8").splitlines()
