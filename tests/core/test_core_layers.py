"""Every layer type x analyzer against the numpy reference.

The full set of analyzer names (and option variants) runs on a few models that
between them hold every kind of linear layer; the rule-distinct core set runs on
every layer-type case.
"""

import numpy as np
import pytest
from core_support import CASES, MERGE_CASES, cached_case, case_input, compare

# (analyzer name, constructor kwargs)
FULL = [
    ("gradient", {}),
    ("input_t_gradient", {}),
    # riemann_middle: the path never reaches x' = 0, where max-pooling has ties
    # (autodiff of a tied max is backend-defined)
    ("integrated_gradients", {"steps": 6, "method": "riemann_middle"}),
    ("guided_backprop", {}),
    ("deconvnet", {}),
    ("deep_taylor", {}),
    ("lrp.z", {}),
    ("lrp.epsilon", {}),
    ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
    ("lrp.epsilon", {"epsilon": 0.5, "bias_factor": 0.5}),
    ("lrp.alpha_beta", {"alpha": 3.0, "beta": 2.0}),
    ("lrp.alpha_2_beta_1", {}),
    ("lrp.alpha_2_beta_1_IB", {}),
    ("lrp.alpha_1_beta_0", {}),
    ("lrp.alpha_1_beta_0_IB", {}),
    ("lrp.z_plus", {}),
    ("lrp.w_square", {}),
    ("lrp.flat", {}),
    ("lrp.sequential_preset_a", {}),
    ("lrp.sequential_preset_b", {}),
]

# the rules whose numbers depend on a layer's geometry (fan-in and borders:
# epsilon with bias_factor, flat, w^2; sign parts: alpha-beta; routing: gradient)
CORE = [
    ("gradient", {}),
    ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
    ("lrp.alpha_beta", {"alpha": 3.0, "beta": 2.0}),
    ("lrp.w_square", {}),
    ("lrp.flat", {}),
]

FULL_CASES = ["dense_functional", "conv1d_same_stride", "conv2d_same_stride", "separable2d",
              "einsum_seq", "batchnorm_conv"]
CORE_CASES = [c for c in sorted(CASES) if c not in FULL_CASES] + list(MERGE_CASES)

def _id(v):
    name, kw = v
    return name + ("" if not kw else "-" + "-".join(f"{k}={w}" for k, w in kw.items()))


def _check(case, name, kw, ktl, seed=0):
    model, graph = cached_case(case, seed)
    x = case_input(case, batch=3, seed=seed)
    try:
        actual = compare(ktl, model, graph, x, name, kw)
    except NotImplementedError as e:  # the reference's preset has no BN/EinsumDense rule
        pytest.skip(str(e))
    assert isinstance(actual, np.ndarray)


@pytest.mark.parametrize("variant", FULL, ids=_id)
@pytest.mark.parametrize("case", FULL_CASES)
def test_full_analyzer_set(case, variant, ktl):
    _check(case, variant[0], variant[1], ktl)


@pytest.mark.parametrize("variant", CORE, ids=_id)
@pytest.mark.parametrize("case", CORE_CASES)
def test_core_rules_every_layer_type(case, variant, ktl):
    _check(case, variant[0], variant[1], ktl)


@pytest.mark.parametrize("case", ["dense", "conv1d_valid", "einsum_2d", "batchnorm_dense",
                                  "avgpool1d", "globalmax1d", "add", "subtract", "reshape",
                                  "routing1d", "conv3d", "maxpool2d", "depthwise2d"])
@pytest.mark.parametrize("name", ["deep_taylor", "integrated_gradients", "guided_backprop",
                                  "deconvnet", "lrp.z", "lrp.z_plus"])
def test_more_analyzers_on_other_layer_types(case, name, ktl):
    kw = {"steps": 4, "method": "riemann_right"} if name == "integrated_gradients" else {}
    _check(case, name, kw, ktl)


@pytest.mark.parametrize("case", ["dense", "conv1d_valid", "depthwise1d", "separable1d",
                                  "conv2d_valid", "maxpool1d", "globalavg2d"])
@pytest.mark.parametrize("name", ["lrp.sequential_preset_a", "lrp.sequential_preset_b"])
def test_presets_dense_and_conv(case, name, ktl):
    _check(case, name, {}, ktl)


@pytest.mark.parametrize("case", ["conv2d_valid", "maxpool2d"])
@pytest.mark.parametrize("postprocess", ["abs", "square"])
def test_gradient_postprocess(case, postprocess, ktl):
    _check(case, "gradient", {"postprocess": postprocess}, ktl)
