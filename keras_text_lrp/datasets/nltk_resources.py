"""The shipped NLTK data folder (English ``punkt_tab`` sentence model)."""

from __future__ import annotations

from keras_text_lrp.datasets._files import CHECKSUMS, DATA_DIR, data_file

__all__ = ["nltk_data_path", "use_nltk_data"]


def nltk_data_path() -> str:
    """Return the shipped NLTK data folder after checking its files.

    It holds only ``tokenizers/punkt_tab/english``, which ``nltk.sent_tokenize``
    and ``nltk.word_tokenize`` need; use it with
    ``nltk.data.path.insert(0, nltk_data_path())`` or :func:`use_nltk_data`.

    Returns
    -------
    str
        Absolute path of the folder.

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        If a file of the model is missing or damaged.
    """
    for relpath in CHECKSUMS:
        if relpath.startswith("nltk_data/"):
            data_file(relpath)
    return str(DATA_DIR / "nltk_data")


def use_nltk_data() -> str:
    """Put the shipped NLTK data folder first on ``nltk.data.path`` (once).

    Returns
    -------
    str
        The folder, as :func:`nltk_data_path` returns it.
    """
    import nltk

    path = nltk_data_path()
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)
    return path
