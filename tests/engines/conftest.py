"""Fixtures of tests/engines: one exported SavedModel and explain()'s records, shared by every module.

The engines run SavedModels (TensorFlow graphs), so these tests run under
``KERAS_BACKEND=tensorflow`` only; nothing in them differs between backends
(the JAX refusal of export is tested in tests/export).
"""

from __future__ import annotations

import pytest
from engine_support import METHODS, N_TEXTS, TENSORFLOW_ONLY, assert_same  # noqa: F401


@pytest.fixture(scope="session")
def sst5_texts() -> list[str]:
    """The first 1,000 SST-5 test sentences (shipped with the package)."""
    from keras_text_lrp.datasets import load_sst5

    texts, _ = load_sst5("test")
    return texts[:N_TEXTS]


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory) -> str:
    """sst5-cnn exported with text signatures for :data:`METHODS`."""
    from keras_text_lrp.export import export_for_serving

    path = tmp_path_factory.mktemp("engines") / "sst5-cnn" / "1"
    export_for_serving("sst5-cnn", path, METHODS, text_signature=True)
    return str(path)


@pytest.fixture(scope="session")
def expected(sst5_texts) -> list[dict]:
    """explain()'s records of :func:`sst5_texts` (without offsets: the in-graph tokenizers give none)."""
    from keras_text_lrp.explain import explain

    records = explain("sst5-cnn", sst5_texts, METHODS).to_records()
    for record in records:
        del record["offsets"]
    return records
