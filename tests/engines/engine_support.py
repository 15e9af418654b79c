"""What tests/engines share besides fixtures (a module of its own: ``conftest`` is not importable by
name when several test folders have one)."""

from __future__ import annotations

import keras
import pytest

METHODS = ["lrp.epsilon", "gradient"]
N_TEXTS = 1000

TENSORFLOW_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the engines run exported SavedModels, written with KERAS_BACKEND=tensorflow",
)


def assert_same(got: dict, want: dict) -> None:
    """Equal keys, tokens and classes; logits and scores to 1e-5."""
    import numpy as np

    # explain()'s records count out-of-vocabulary tokens; the exported signatures do not return the
    # ids their in-graph tokenizer made, so engine records have no "oov" (as Beam's, see the README).
    want = {k: v for k, v in want.items() if k != "oov"}
    assert set(got) == set(want), (sorted(got), sorted(want))
    for key in want:
        if key not in ("scores", "logits"):
            assert got[key] == want[key], (key, got[key], want[key])
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-5, atol=1e-5)
    assert got["scores"].keys() == want["scores"].keys()
    for method in want["scores"]:
        np.testing.assert_allclose(got["scores"][method], want["scores"][method], rtol=1e-5, atol=1e-5,
                                   err_msg=f"{method}: {got['tokens']}")
