"""Shipped data sets: counts from the READMEs, checksums, clear errors on damage."""

import re
import shutil
from pathlib import Path

import nltk
import numpy as np
import pytest

from keras_text_lrp import datasets as ds
from keras_text_lrp.errors import InvalidArgumentError

SST5_COUNTS = {
    "train": [1092, 2218, 1624, 2322, 1288],
    "dev": [139, 289, 229, 279, 165],
    "test": [279, 633, 389, 510, 399],
}
SST2_COUNTS = {"train": [3310, 3610], "dev": [428, 444], "test": [912, 909]}
NG_TRAIN = [
    int(n) for n in "480 584 591 590 578 593 585 594 598 597 600 595 591 594 593 599 546 564 465 377".split()
]
NG_TEST = [
    int(n) for n in "319 389 394 392 385 395 390 396 398 397 399 396 393 396 394 398 364 376 310 251".split()
]


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_sst5_counts(split):
    texts, labels = ds.load_sst5(split)
    assert len(texts) == {"train": 8544, "dev": 1101, "test": 2210}[split]
    assert labels.dtype == np.int64 and labels.shape == (len(texts),)
    assert np.bincount(labels, minlength=5).tolist() == SST5_COUNTS[split]
    assert all(isinstance(t, str) and "\t" not in t and t == t.strip() for t in texts)


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_sst2_counts(split):
    texts, labels = ds.load_sst2(split)
    assert np.bincount(labels).tolist() == SST2_COUNTS[split]
    assert len(texts) == sum(SST2_COUNTS[split])


def test_sst_first_lines_and_trees():
    texts, labels = ds.load_sst2("dev")
    assert texts[0] == "It 's a lovely film with lovely performances by Buy and Accorsi ."
    assert labels[0] == 1
    trees = ds.load_sst5_trees("dev")
    assert len(trees) == 1101
    tree = nltk.Tree.fromstring(trees[0])
    assert " ".join(tree.leaves()) == ds.load_sst5("dev")[0][0]
    assert int(tree.label()) == ds.load_sst5("dev")[1][0]


def test_sst_nbsp_tokens_survive_ascii_split():
    texts, _ = ds.load_sst5("train")
    nbsp = [tok for text in texts for tok in text.split(" ") if "\u00a0" in tok]
    assert nbsp == ["8\u00a01\\/2", "2\u00a01\\/2", "2\u00a01\\/2"]


def test_20newsgroups_counts():
    texts, labels, names = ds.load_20newsgroups("train")
    assert len(texts) == 11314 and np.bincount(labels).tolist() == NG_TRAIN
    assert names[0] == "alt.atheism" and names[19] == "talk.religion.misc" and len(names) == 20
    texts, labels, _ = ds.load_20newsgroups("test")
    assert len(texts) == 7532 and np.bincount(labels).tolist() == NG_TEST
    assert texts[0].startswith("From: ")


def test_movie_reviews_counts_and_folds():
    texts, labels = ds.load_movie_reviews()
    assert len(texts) == 2000 and np.bincount(labels).tolist() == [1000, 1000]
    assert texts[0].startswith("plot : two teen couples go to a church party")
    train, ytrain = ds.load_movie_reviews(folds=range(9))
    test, ytest = ds.load_movie_reviews(folds=[9])
    assert (len(train), len(test)) == (1800, 200)
    assert np.bincount(ytest).tolist() == [100, 100]
    with pytest.raises(InvalidArgumentError):
        ds.load_movie_reviews(folds=[10])


@pytest.mark.parametrize(("subset", "n"), [("sst_vocab", 17773), ("top50k", 50000)])
def test_glove(subset, n):
    words, vectors = ds.load_glove(subset)
    assert len(words) == n and vectors.shape == (n, 50) and vectors.dtype == np.float32
    assert words[0] == "the"
    np.testing.assert_array_equal(vectors[0, :4], np.array([0.418, 0.24968, -0.41242, 0.1217], np.float32))
    assert len(set(words)) == n


def test_bad_arguments():
    for call in (
        lambda: ds.load_sst5("validation"),
        lambda: ds.load_20newsgroups("dev"),
        lambda: ds.load_glove("x"),
    ):
        with pytest.raises(InvalidArgumentError, match="must be"):
            call()


def test_checksums_match_readmes_and_files():
    assert ds.DATA_DIR == Path(ds.__file__).parent / "data"
    listed = {}
    for readme in ds.DATA_DIR.glob("*/README.md"):
        for name, digest in re.findall(r"\| `([^`]+)` \|[^\n]*`([0-9a-f]{64})` \|", readme.read_text()):
            listed[f"{readme.parent.name}/{name}"] = digest
    assert listed == ds.CHECKSUMS
    assert ds.verify_datasets() == ds.CHECKSUMS


def test_every_dataset_has_license_text():
    for readme in ds.DATA_DIR.glob("*/README.md"):
        assert "## License / terms" in readme.read_text(), readme
    assert "PDDL" in (ds.DATA_DIR / "NOTICE.md").read_text()


def _copy(tmp_path, name):
    shutil.copytree(ds.DATA_DIR / name, tmp_path / name)
    for path in (tmp_path / name).rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)


def test_damaged_copy_raises_clear_error(tmp_path):
    _copy(tmp_path, "sst5")
    texts, _ = ds.load_sst5("dev", data_dir=tmp_path)  # intact copy loads
    assert len(texts) == 1101
    damaged = tmp_path / "sst5" / "dev.tsv"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0x01
    damaged.write_bytes(bytes(data))
    with pytest.raises(ds.DatasetChecksumError) as info:
        ds.load_sst5("dev", data_dir=tmp_path)
    message = str(info.value)
    assert str(damaged) in message
    assert ds.CHECKSUMS["sst5/dev.tsv"] in message
    assert __import__("hashlib").sha256(bytes(data)).hexdigest() in message
    assert "reinstall" in message
    assert isinstance(info.value, ValueError)


def test_missing_file_raises_clear_error(tmp_path):
    _copy(tmp_path, "glove_6b_50d")
    (tmp_path / "glove_6b_50d" / "glove.6B.50d.top50k.txt.gz").unlink()
    with pytest.raises(ds.DatasetFileNotFoundError, match="top50k.txt.gz.*missing") as info:
        ds.load_glove("top50k", data_dir=tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        ds.load_sst2("train", data_dir=tmp_path)


def test_nltk_data_path_makes_punkt_available():
    path = ds.use_nltk_data()
    assert path == ds.nltk_data_path() and Path(path).is_dir()
    assert nltk.data.path[0] == path or path in nltk.data.path
    sentences = nltk.sent_tokenize("Mr. Smith went to Washington D.C. on Jan. 5. He left.")
    assert sentences == ["Mr. Smith went to Washington D.C. on Jan. 5.", "He left."]


def test_ptb_unescape():
    assert (
        ds.ptb_unescape("a -LRB- co-writer\\/director -RRB- `` x '' \\* y")
        == 'a ( co-writer/director ) " x " * y'
    )
    assert ds.ptb_unescape("`` x ''", quotes=False) == "`` x ''"
    assert ds.ptb_unescape_tokens(["-lrb-", "8\u00a01\\/2", "-RSB-"]) == ["(", "8\u00a01/2", "]"]
    texts, _ = ds.load_sst5("train")
    plain = [ds.ptb_unescape(t) for t in texts]
    assert not any("-LRB-" in t or "\\/" in t for t in plain)
    assert all(len(a.split(" ")) == len(b.split(" ")) for a, b in zip(texts, plain))
