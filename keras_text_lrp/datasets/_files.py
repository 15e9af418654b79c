"""Locating the shipped data files and checking their SHA-256 digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from keras_text_lrp.errors import KerasTextLRPError

__all__ = [
    "CHECKSUMS",
    "DATA_DIR",
    "DatasetChecksumError",
    "DatasetFileNotFoundError",
    "data_file",
    "verify_datasets",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Folder holding the shipped data sets, one sub-folder per data set."""

# SHA-256 of every shipped data file, relative to DATA_DIR, as listed in each
# data set's README.md (and checked by computing them).
_GLOVE = "glove_6b_50d/glove.6B.50d"
_PUNKT = "nltk_data/tokenizers/punkt_tab/english"
_MOVIES = "movie_review_polarity_v2"
CHECKSUMS: dict[str, str] = {
    "sst5/train.tsv": "d7834da66dc1f5627b9c968c7a771c308c77e18fcb9a92790d0376ca73da0815",
    "sst5/dev.tsv": "162f65baca1a4237f61b2a6ef4012a53f06ebdc2cb410a26751d30b627f59db0",
    "sst5/test.tsv": "1662a9be00af6fd5cc971c83f6df57c6f561b4ace0c909d34a1b1c91ee136ddc",
    "sst5/trees/train.txt": "e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7",
    "sst5/trees/dev.txt": "0e9336aed6e4730e19f58d00a77b3f0297efdb755f7b5e598c98a05e3f97ea40",
    "sst5/trees/test.txt": "6e54806dee95cf80cd918e7dfb3f6770f6df24bf826f289a4d1f709e1c8f6761",
    "sst2/train.tsv": "2c307765437e0e41655eb60f30524f499a8f65ecc325689fe6b84a2e742386b5",
    "sst2/dev.tsv": "251db20bcd8c06e2aedf2bebb318503632d395ee2b840273699de2f76a3819f3",
    "sst2/test.tsv": "ef9c71c6b30593e2ab6437a0874d879c58b805ad83336ec8bc12553ec63510f4",
    "20newsgroups_bydate/train.jsonl.gz": "6e2118840e5641b72a68e8968eea0e06963626bcc1a3d6edd73cb0fd95193ce8",
    "20newsgroups_bydate/test.jsonl.gz": "ffd23eda96aa38d47697141faf830dd1be257070761c23bf4ff7927864ff2db6",
    f"{_MOVIES}/all.jsonl.gz": "f21ebf3e86ac7dff9a474f285b2dee843bdf655463b9e4b0c5f604fcabba5938",
    f"{_GLOVE}.top50k.txt.gz": "2eed1e13ffa2adf7057bcd48d0d25c65d885cf21fa50cc9c18bbba3702c1443b",
    f"{_GLOVE}.sst_vocab.txt.gz": "66efbffd0550248594a350e7904f89e4ee2c668bbac5ae6c4e7ec1aedcfbc0ac",
    f"{_PUNKT}/abbrev_types.txt": "0ab7d6b126eed733d9bc5733d3a51ea575e90ece1b908e77c9d5b74e2a54213a",
    f"{_PUNKT}/collocations.tab": "73d7f183e9cf31ee6edf41df100a6f57c72404db66f599fe86b3fb2e6148f35f",
    f"{_PUNKT}/ortho_context.tab": "d762d271cb556bab69960781a49eb034588801983af80d39ac936362c812084f",
    f"{_PUNKT}/sent_starters.txt": "8a66e19f1bf6a03061dbcda945e46839d09612f8235dbcb1b994f59184ecc989",
}

_REMEDY = (
    "The shipped data of keras_text_lrp is incomplete or damaged; reinstall the package "
    "(pip install --force-reinstall keras_text_lrp) or restore the file from the source "
    "named in the data set's README.md."
)

# (path, size, mtime_ns) of files whose digest already matched, so a file is hashed once.
_VERIFIED: set[tuple[str, int, int]] = set()


class DatasetFileNotFoundError(FileNotFoundError):
    """A shipped data file is missing."""


class DatasetChecksumError(KerasTextLRPError):
    """A shipped data file does not have the SHA-256 digest it should have."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_file(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of a shipped data file after checking its SHA-256.

    Parameters
    ----------
    relpath : str
        Path relative to the data folder, a key of :data:`CHECKSUMS`
        (e.g. ``"sst5/train.tsv"``).
    data_dir : str or os.PathLike, optional
        Data folder to use instead of the shipped one (it must have the same
        layout). Mainly for tests.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    DatasetFileNotFoundError
        If the file does not exist.
    DatasetChecksumError
        If its digest differs from the expected one.
    """
    if relpath not in CHECKSUMS:
        raise KeyError(f"{relpath!r} is not a shipped data file; known files: {sorted(CHECKSUMS)}")
    path = Path(data_dir if data_dir is not None else DATA_DIR) / relpath
    expected = CHECKSUMS[relpath]
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DatasetFileNotFoundError(
            f"Data file {str(path)!r} is missing (expected sha256 {expected}). {_REMEDY}"
        ) from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return path
    actual = _sha256(path)
    if actual != expected:
        raise DatasetChecksumError(
            f"Data file {str(path)!r} is damaged: sha256 is {actual}, expected {expected}. {_REMEDY}"
        )
    _VERIFIED.add(key)
    return path


def verify_datasets(data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Check the SHA-256 of every shipped data file.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Data folder to check instead of the shipped one.

    Returns
    -------
    dict of str to str
        Each file (relative path) mapped to its verified digest.

    Raises
    ------
    DatasetFileNotFoundError, DatasetChecksumError
        On the first missing or damaged file.
    """
    checked = {}
    for rel, digest in CHECKSUMS.items():
        data_file(rel, data_dir)
        checked[rel] = digest
    return checked
