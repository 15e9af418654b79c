"""GloVe 6B 50-dimensional word vector subsets loader."""

from __future__ import annotations

import gzip
import os

import numpy as np

from keras_text_lrp.datasets._files import data_file
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["load_glove"]

_FILES = {
    "sst_vocab": "glove_6b_50d/glove.6B.50d.sst_vocab.txt.gz",
    "top50k": "glove_6b_50d/glove.6B.50d.top50k.txt.gz",
}
_DIM = 50


def load_glove(
    subset: str = "sst_vocab", data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Load a subset of the GloVe 6B 50d vectors (lowercased words).

    Parameters
    ----------
    subset : {"sst_vocab", "top50k"}
        ``"sst_vocab"``: the 17773 GloVe words that SST tokens map to
        (lowercased, PTB escapes undone); ``"top50k"``: the 50000 most
        frequent GloVe words. Both in GloVe (frequency) order.
    data_dir : str or os.PathLike, optional
        Data folder to read instead of the shipped one.

    Returns
    -------
    words : list of str
        The words.
    vectors : numpy.ndarray of float32, shape (n, 50)
        ``vectors[i]`` is the vector of ``words[i]``.

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If the file is missing or damaged.
    """
    if subset not in _FILES:
        raise InvalidArgumentError(f"subset must be one of {tuple(_FILES)}, got {subset!r}")
    path = data_file(_FILES[subset], data_dir)
    words: list[str] = []
    numbers: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            word, rest = line.rstrip("\n").split(" ", 1)
            words.append(word)
            numbers.append(rest)
    # The file holds each float32 in its shortest round-trip decimal form; parse straight to float32.
    vectors = np.fromstring(" ".join(numbers), dtype=np.float32, sep=" ")
    if vectors.size != len(words) * _DIM:
        raise ValueError(f"{str(path)!r} is malformed: expected {_DIM} numbers per word")
    return words, vectors.reshape(len(words), _DIM)
