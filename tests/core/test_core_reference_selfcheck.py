"""The reference checked against Keras' forward pass and against itself.

These tests do not use keras_text_lrp: they make sure the numpy reference is
right before it judges the library.
"""

import numpy as np
import pytest
import reference as ref
from core_support import CASES, MERGE_CASES, assert_close, cached_case, case_input, keras_forward

ALL_CASES = sorted(CASES) + list(MERGE_CASES)


@pytest.mark.parametrize("case", ALL_CASES)
def test_reference_forward_equals_keras(case):
    model, graph = cached_case(case)
    x = case_input(case, batch=4)
    assert_close(graph.output([x])[0], keras_forward(model, x))


@pytest.mark.parametrize("case", ALL_CASES)
def test_reference_gradient_equals_finite_differences(case):
    _, graph = cached_case(case)
    x = case_input(case, batch=2).astype(np.float64)
    idx = np.array([0, 2])
    g = ref.gradient_at(graph, [x], idx)[0]
    fd = ref.finite_difference_gradient(graph, [x], idx)[0]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["dense", "dense_functional", "conv1d_valid", "conv2d_valid",
                                  "separable1d", "einsum_2d", "einsum_seq", "batchnorm_dense",
                                  "concatenate", "reshape"])
def test_reference_epsilon_bias_factor_one_conserves(case):
    """Own identity: with bias_factor=1 and no padding, sum R_in == logit."""
    _, graph = cached_case(case)
    x = case_input(case, batch=3).astype(np.float64)
    logits = graph.output([x])[0]
    R = ref.analyze(graph, "lrp.epsilon", x, epsilon=1e-3, bias_factor=1.0)
    sel = logits[np.arange(3), logits.argmax(1)]
    np.testing.assert_allclose(R.reshape(3, -1).sum(1), sel, rtol=1e-9, atol=1e-9)


def test_reference_alpha_beta_conserves_without_bias():
    """alpha-beta IB conserves alpha - beta = 1 per layer when za, zi != 0."""
    x = np.random.default_rng(0).normal(size=(2, 5))
    W = np.random.default_rng(1).normal(size=(5, 4))
    b = np.random.default_rng(2).normal(size=4)
    R = np.random.default_rng(3).normal(size=(2, 4))
    Rin = ref.lrp_alpha_beta(x, W, b, R, 2.0, 1.0, False)
    xp, xn = np.maximum(x, 0), np.minimum(x, 0)
    zi = xp @ np.minimum(W, 0) + xn @ np.maximum(W, 0)
    assert (zi == 0).sum() == 1  # this draw has one unit with no inhibitor
    # a zero denominator contributes nothing: that unit conserves only alpha * R
    np.testing.assert_allclose(Rin.sum(1), (2.0 * R - 1.0 * R * (zi != 0)).sum(1))
    Rin = ref.lrp_alpha_beta(x, W, b, R, 1.0, 0.0, True)
    # with the bias the activator loses b+ / za of R
    za = xp @ np.maximum(W, 0) + xn @ np.minimum(W, 0) + np.maximum(b, 0)
    np.testing.assert_allclose(Rin.sum(1), (R * (za - np.maximum(b, 0)) / za).sum(1))


def test_reference_alpha_beta_matches_loop_formula():
    """The vectorised alpha-beta equals a literal per-(i, j) loop."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 4))
    x[0, 1] = 0.0
    W = rng.normal(size=(4, 3))
    b = rng.normal(size=3)
    R = rng.normal(size=(1, 3))
    alpha, beta = 3.0, 2.0
    out = np.zeros(4)
    for j in range(3):
        za = sum(max(x[0, i], 0) * max(W[i, j], 0) + min(x[0, i], 0) * min(W[i, j], 0)
                 for i in range(4)) + max(b[j], 0)
        zi = sum(max(x[0, i], 0) * min(W[i, j], 0) + min(x[0, i], 0) * max(W[i, j], 0)
                 for i in range(4)) + min(b[j], 0)
        for i in range(4):
            xi, w = x[0, i], W[i, j]
            pa = max(xi, 0) * max(w, 0) + min(xi, 0) * min(w, 0)
            pi = max(xi, 0) * min(w, 0) + min(xi, 0) * max(w, 0)
            out[i] += alpha * (pa / za * R[0, j] if za else 0.0)
            out[i] -= beta * (pi / zi * R[0, j] if zi else 0.0)
    np.testing.assert_allclose(ref.lrp_alpha_beta(x, W, b, R, alpha, beta, True)[0], out)


def test_reference_epsilon_fan_in_counts_padded_positions():
    """Conv1D same padding: border units have N_j = k * C_in although fewer real
    inputs; the bias share of padded positions is lost."""
    kernel = np.ones((3, 2, 1))
    M, C, N, out = ref.conv_matrix(kernel, (4, 2), 1, "same", 1)
    assert out == (4, 1)
    np.testing.assert_array_equal(N, [6, 6, 6, 6])
    np.testing.assert_array_equal(C.sum(0), [4, 6, 6, 4])
    x = np.zeros((1, 8))
    b = np.array([1.0])
    R = np.ones((1, 4))
    Rin = ref.lrp_epsilon(x, M, np.tile(b, 4), C, N, R, 1e-7, 1.0)
    # each unit: z = 1, share per real input = (1 + 1e-7)/6 / (1 + 1e-7) = 1/6
    np.testing.assert_allclose(Rin.sum(), (4 + 6 + 6 + 4) / 6)


def test_reference_flat_border_aware():
    kernel = np.ones((3, 1, 1))
    M, C, N, out = ref.conv_matrix(kernel, (3, 1), 1, "same", 1)
    R = np.array([[1.0, 1.0, 1.0]])
    Rin = ref.lrp_v_rule(C.astype(float), R)
    # unit 0 sees inputs 0,1 (1/2 each); unit 1 sees 0,1,2 (1/3); unit 2 sees 1,2
    np.testing.assert_allclose(Rin[0], [1 / 2 + 1 / 3, 1 / 2 + 1 / 3 + 1 / 2, 1 / 3 + 1 / 2])


def test_reference_ig_nodes():
    a, w = ref.ig_nodes("riemann_trapezoid", 4)
    np.testing.assert_allclose(a, [0, .25, .5, .75, 1])
    np.testing.assert_allclose(w, [1 / 8, 1 / 4, 1 / 4, 1 / 4, 1 / 8])
    for m in ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
              "gausslegendre"):
        a, w = ref.ig_nodes(m, 5)
        assert abs(w.sum() - 1) < 1e-12
        # integrates x^2 on [0,1] approximately / exactly for gauss-legendre
        if m == "gausslegendre":
            assert abs((w * a ** 7).sum() - 1 / 8) < 1e-12
