"""Deletion AOPC on the shipped ``sst2-transformer``: cp-LRP and AttnLRP beat random and last-layer attention.

The first 200 SST-2 test sentences (``load_sst2("test")[:200]``), ``keras_text_lrp.evaluation.aopc``
with its defaults (predicted class's logit, K = 10, word embedding zeroed, word score = sum over the
embedding dimensions); random: the mean per text over the orders of ``default_rng(seed).random`` for
seeds 0..4. Measured (TensorFlow 2.21 / Keras 3.15, CPU; ``benchmarks/faithfulness_transformer.py
--n 200``), AOPC ± standard error over the 200 texts:

====================  ===============
method                AOPC
====================  ===============
attention.last_layer  0.141 ± 0.036
random                0.467 ± 0.028
lrp.epsilon (cp)      0.808 ± 0.032
lrp.attnlrp           0.821 ± 0.031
====================  ===============

Asserted: each LRP AOPC exceeds random by at least 0.2 (measured 0.341 and 0.354, more than ten
standard errors of random) and last-layer attention by at least 0.5 (measured 0.667 and 0.680), and
the measured values are pinned to 0.005. Last-layer attention is *below* random here (docs/
reproductions.md, "Transformers": Ali et al.'s random < attention is not reproduced; it is not
asserted). TensorFlow only: the numbers were measured there (about 30 s); on JAX the same code runs
in tests/transformers, and a second backend would double the deletion passes for the same claim.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from keras_text_lrp import models
from keras_text_lrp.datasets import load_sst2
from keras_text_lrp.evaluation import aopc

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the measured AOPC claim is checked on TensorFlow"
)

MEASURED = {"random": 0.467, "attention.last_layer": 0.141, "lrp.epsilon": 0.808, "lrp.attnlrp": 0.821}


@pytest.fixture(scope="module")
def results():
    shipped = models.load("sst2-transformer")
    texts, _ = load_sst2("test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = shipped.encode(texts[:200])
    out = {
        "random": float(np.mean([
            aopc(shipped.model, ids, np.random.default_rng(seed).random(ids.shape), progress=False).aopc
            for seed in range(5)
        ]))
    }
    for method in ("attention.last_layer", "lrp.epsilon", "lrp.attnlrp"):
        out[method] = aopc(shipped.model, ids, method, progress=False).aopc
    return out


@pytest.mark.parametrize("method", ["lrp.epsilon", "lrp.attnlrp"])
def test_lrp_beats_random_and_last_layer_attention(results, method):
    assert results[method] >= results["random"] + 0.2
    assert results[method] >= results["attention.last_layer"] + 0.5


def test_measured_values_are_pinned(results):
    for method, value in MEASURED.items():
        assert results[method] == pytest.approx(value, abs=0.005), method
