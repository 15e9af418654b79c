"""Fixtures of tests/safety: a tiny token-id model saved as ``.keras`` with its vocabulary.

Weights come from a numpy rng so that both backends see the same numbers; the
model is built like the shipped CNN (padding row 0, no convolution bias), so
padding cannot change its logits.
"""

from __future__ import annotations

import keras
import pytest
from safety_models import WORDS, tiny_model  # noqa: F401 - re-exported for the fixtures

from keras_text_lrp.text import Vocabulary


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return Vocabulary(WORDS)


@pytest.fixture(scope="session")
def model(vocab) -> keras.Model:
    return tiny_model(len(vocab))


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, model, vocab):
    """The tiny model as ``tiny.keras`` with ``tiny.vocab.json`` beside it (for the CLI)."""
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.keras"
    model.save(path)
    vocab.save(folder / "tiny.vocab.json")
    return path
