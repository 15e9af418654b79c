"""Hand-computed corner cases of SEMANTICS.md: sign(0) = +1, the safe divide of
the proportional split, zero alpha-beta denominators, ties at a max pooling,
dtype handling."""

import keras
import numpy as np
import pytest
import reference as ref
from core_support import assert_close, cached_case, case_input

L = keras.layers


def _set(layer, W, b=None):
    ws = [np.asarray(W, "float32")]
    if b is not None:
        ws.append(np.asarray(b, "float32"))
    layer.set_weights(ws)


def test_epsilon_sign_of_zero_is_plus_one(ktl):
    """Hidden unit z = 1*1 + 1*(-1) + 0 = 0 exactly; head y = 2 h + 0.5.
    eps=1, bias_factor=1:
      head:   R_h = (2*0 + (0.5 + 1)/1) / (0.5 + 1) * 0.5 = 0.5
      hidden: R_i = (x_i w_i + (0 + 1*sign(0))/2) / (0 + 1*sign(0)) * R_h
              with sign(0) = +1: R = [(1 + .5), (-1 + .5)] * .5 = [0.75, -0.25]."""
    inp = keras.Input((2,))
    d1, d2 = L.Dense(1), L.Dense(1)
    model = keras.Model(inp, d2(d1(inp)))
    _set(d1, [[1.0], [-1.0]], [0.0])
    _set(d2, [[2.0]], [0.5])
    x = np.array([[1.0, 1.0]], "float32")
    R = ktl.create_analyzer("lrp.epsilon", model, epsilon=1.0, bias_factor=1.0).analyze(x)
    np.testing.assert_allclose(R, [[0.75, -0.25]], rtol=1e-6)
    g = ref.RefGraph.from_layers([d1, d2], (2,))
    np.testing.assert_allclose(ref.analyze(g, "lrp.epsilon", x, epsilon=1.0, bias_factor=1.0),
                               [[0.75, -0.25]])


@pytest.mark.parametrize("name,kw", [("lrp.epsilon", {"epsilon": 1.0, "bias_factor": 1.0}),
                                     ("lrp.flat", {})])
def test_add_with_zero_sum_uses_safe_divide_not_the_linear_rule(name, kw, ktl):
    """a + b = 1 + (-1) = 0 exactly; the merge splits R x_i / 1e-7 whatever the
    linear rule (the head gives the merged unit R = 0.5 under both rules)."""
    a, b = keras.Input((1,)), keras.Input((1,))
    head = L.Dense(1)
    model = keras.Model([a, b], head(L.Add()([a, b])))
    _set(head, [[2.0]], [0.5])
    X = [np.array([[1.0]], "float32"), np.array([[-1.0]], "float32")]
    R = ktl.create_analyzer(name, model, **kw).analyze(X)
    # lrp.flat: head R_h = 0.5 (one input);   epsilon: see test above
    np.testing.assert_allclose(R[0], [[0.5 / 1e-7]], rtol=1e-5)
    np.testing.assert_allclose(R[1], [[-0.5 / 1e-7]], rtol=1e-5)


def test_alpha_beta_zero_inhibitor_contributes_nothing(ktl):
    """All x > 0 and W > 0, no bias: zi = 0, so alpha_2_beta_1 gives 2 * z-rule."""
    model = keras.Sequential([keras.Input((3,)), L.Dense(2, use_bias=False)])
    W = np.array([[0.5, 1.0], [0.2, 0.3], [1.0, 0.1]], "float32")
    model.layers[0].set_weights([W])
    x = np.array([[1.0, 2.0, 0.5]], "float32")
    z = x @ W
    k = int(z.argmax())
    for name in ("lrp.alpha_2_beta_1", "lrp.alpha_2_beta_1_IB"):
        R = ktl.create_analyzer(name, model).analyze(x)
        np.testing.assert_allclose(R, 2 * x * W[:, k], rtol=1e-5)


def test_alpha_beta_bias_goes_to_its_own_denominator(ktl):
    """Spec's rule, unlike iNNvestigate: b+ only in za, b- only in zi.
    x = [1, -1], w = [2, 1], b = +3:  za = 2 + 0 + 3 = 5, zi = 0 + (-1) + 0 = -1.
    alpha=2, beta=1, R = y = 4:
      R_1 = 2 * 1*2/5 * 4 = 3.2 ;  R_2 = -1 * (-1*1)/(-1) * 4 = -4."""
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    _set(model.layers[0], [[2.0], [1.0]], [3.0])
    x = np.array([[1.0, -1.0]], "float32")
    R = ktl.create_analyzer("lrp.alpha_2_beta_1", model).analyze(x)
    np.testing.assert_allclose(R, [[3.2, -4.0]], rtol=1e-6)
    # negative bias: b = -0.5, y = 0.5:  za = 2, zi = -1 - 0.5 = -1.5
    _set(model.layers[0], [[2.0], [1.0]], [-0.5])
    R = ktl.create_analyzer("lrp.alpha_2_beta_1", model).analyze(x)
    np.testing.assert_allclose(R, [[2 * 2 / 2 * 0.5, -(-1.0 / -1.5) * 0.5]], rtol=1e-6)
    # z_plus ignores the bias and keeps the x- W- term: za = 2 + 0 = 2 (w2 > 0, x2 < 0
    # is an inhibitor) -> R = [y, 0]
    R = ktl.create_analyzer("lrp.z_plus", model).analyze(x)
    np.testing.assert_allclose(R, [[0.5, 0.0]], rtol=1e-6)


def test_z_plus_keeps_negative_input_negative_weight_term(ktl):
    """x = [1, -1], w = [2, -3], no bias: both products positive; za = 2 + 3 = 5."""
    model = keras.Sequential([keras.Input((2,)), L.Dense(1, use_bias=False)])
    model.layers[0].set_weights([np.array([[2.0], [-3.0]], "float32")])
    x = np.array([[1.0, -1.0]], "float32")
    R = ktl.create_analyzer("lrp.z_plus", model).analyze(x)
    np.testing.assert_allclose(R, [[2.0, 3.0]], rtol=1e-6)


def test_batchnorm_is_affine_with_gamma_and_variance_not_squared(ktl):
    """BN alone before a Dense: k = gamma/sqrt(var+eps), c = beta - mean*k; with
    lrp.z the BN unit gives R_i = x k / (x k + c) R (unlike iNNvestigate)."""
    bn = L.BatchNormalization(epsilon=0.0)
    head = L.Dense(1, use_bias=False)
    model = keras.Sequential([keras.Input((2,)), bn, head])
    bn.set_weights([np.array([2.0, -1.0], "float32"), np.array([0.5, 1.0], "float32"),
                    np.array([1.0, -2.0], "float32"), np.array([4.0, 0.25], "float32")])
    head.set_weights([np.array([[1.0], [1.0]], "float32")])
    x = np.array([[3.0, 1.0]], "float32")
    k = np.array([2.0 / 2.0, -1.0 / 0.5])
    c = np.array([0.5 - 1.0 * k[0], 1.0 + 2.0 * k[1]])
    y = x[0] * k + c                       # [3.5, -5]
    np.testing.assert_allclose(np.asarray(model(x))[0, 0], y.sum(), rtol=1e-6)
    R = ktl.create_analyzer("lrp.z", model, neuron_selection_mode="index").analyze(
        x, neuron_selection=0)
    np.testing.assert_allclose(R[0], x[0] * k / y * y, rtol=1e-5)


@pytest.mark.parametrize("name", ["lrp.flat", "lrp.epsilon", "gradient"])
def test_max_pooling_ties_keep_all_relevance_on_the_maxima(name, ktl):
    """Exact ties: whatever the tie convention, non-maximal positions get 0 and
    the tied maxima share exactly the pooled unit's relevance / gradient."""
    model = keras.Sequential([keras.Input((4, 2)), L.GlobalMaxPooling1D(),
                              L.Dense(1, use_bias=False)])
    model.layers[1].set_weights([np.array([[1.0], [2.0]], "float32")])
    x = np.array([[[1.0, 0.5], [3.0, 0.5], [3.0, -1.0], [0.0, 0.25]]], "float32")
    R = ktl.create_analyzer(name, model).analyze(x)[0]
    y = 3.0 * 1.0 + 0.5 * 2.0
    per_channel = {"lrp.flat": [y / 2, y / 2], "lrp.epsilon": [3.0, 1.0],
                   "gradient": [1.0, 2.0]}[name]
    for c, tied in ((0, [1, 2]), (1, [0, 1])):
        others = [t for t in range(4) if t not in tied]
        np.testing.assert_array_equal(R[others, c], 0.0)
        np.testing.assert_allclose(R[tied, c].sum(), per_channel[c], rtol=1e-5)
        assert np.all(R[tied, c] * np.sign(per_channel[c]) >= 0)


@pytest.mark.parametrize("case", ["dense", "conv1d_valid"])
@pytest.mark.parametrize("name", ["gradient", "integrated_gradients", "lrp.alpha_1_beta_0"])
def test_float64_input_accepted(case, name, ktl):
    """numpy's default dtype: the analysis is the float32 one, returned as float32."""
    model, graph = cached_case(case)
    x = case_input(case, batch=2)
    kw = {"steps": 3} if name == "integrated_gradients" else {}
    an = ktl.create_analyzer(name, model, **kw)
    got = an.analyze(x.astype("float64"))
    assert_close(got, ref.analyze(graph, name, x, **kw))
    assert got.dtype == an.analyze(x).dtype


def test_list_input_for_single_input_model(ktl):
    model, graph = cached_case("conv1d_valid")
    x = case_input("conv1d_valid", batch=2)
    an = ktl.create_analyzer("lrp.alpha_1_beta_0", model)
    got = an.analyze([x])
    expected = ref.analyze(graph, "lrp.alpha_1_beta_0", x)
    if isinstance(got, list):
        assert len(got) == 1
        got = got[0]
    assert_close(got, expected)


def test_numpy_integer_neuron_selection(ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=2)
    an = ktl.create_analyzer("lrp.z", model, neuron_selection_mode="index")
    expected = ref.analyze(graph, "lrp.z", x, "index", 1)
    assert_close(an.analyze(x, neuron_selection=np.int64(1)), expected)
    assert_close(an.analyze(x, neuron_selection=np.array(1)), expected)


def test_weights_changed_after_creation_are_used(ktl):
    """An analyzer made before training explains the model's current weights."""
    model, _ = cached_case("conv1d_valid")
    x = case_input("conv1d_valid", batch=2)
    keras.utils.set_random_seed(0)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    an = ktl.create_analyzer("lrp.epsilon", clone, epsilon=0.01, bias_factor=1.0)
    an.analyze(x)
    new = [w * 0.5 + 0.1 for w in clone.get_weights()]
    clone.set_weights(new)
    graph = ref.RefGraph.from_layers(clone.layers, x.shape[1:])
    assert_close(an.analyze(x), ref.analyze(graph, "lrp.epsilon", x, epsilon=0.01,
                                            bias_factor=1.0))
