"""Output seeds, neuron selection, the gradient family's options
(integrated gradients' quadratures, SmoothGrad) and the analyzer classes."""

import math

import keras
import numpy as np
import pytest
import reference as ref
from core_support import assert_close, cached_case, case_input, randomize

L = keras.layers

SEL_ANALYZERS = [("gradient", {}), ("input_t_gradient", {}),
                 ("integrated_gradients", {"steps": 4, "method": "riemann_middle"}),
                 ("guided_backprop", {}), ("deep_taylor", {}),
                 ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
                 ("lrp.alpha_2_beta_1", {}), ("lrp.flat", {})]


def _ids(v):
    return v[0]


# ----------------------------------------------------------------------------
# neuron selection
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", SEL_ANALYZERS, ids=_ids)
def test_index_mode_int(variant, ktl):
    name, kw = variant
    model, graph = cached_case("conv2d_same_stride")
    x = case_input("conv2d_same_stride", batch=3)
    an = ktl.create_analyzer(name, model, neuron_selection_mode="index", **kw)
    for k in (0, 2):
        expected = ref.analyze(graph, name, x, neuron_selection_mode="index",
                               neuron_selection=k, **kw)
        assert_close(an.analyze(x, neuron_selection=k), expected)


@pytest.mark.parametrize("variant", SEL_ANALYZERS, ids=_ids)
def test_index_mode_per_sample_array(variant, ktl):
    name, kw = variant
    model, graph = cached_case("dense")
    x = case_input("dense", batch=4)
    sel = np.array([2, 0, 1, 2])
    an = ktl.create_analyzer(name, model, neuron_selection_mode="index", **kw)
    expected = ref.analyze(graph, name, x, neuron_selection_mode="index",
                           neuron_selection=sel, **kw)
    assert_close(an.analyze(x, neuron_selection=sel), expected)
    # a list works like an array
    assert_close(an.analyze(x, neuron_selection=list(sel)), expected)


@pytest.mark.parametrize("variant", SEL_ANALYZERS, ids=_ids)
def test_all_mode_adds_axis_after_batch(variant, ktl):
    name, kw = variant
    model, graph = cached_case("conv1d_valid")
    x = case_input("conv1d_valid", batch=2)
    an = ktl.create_analyzer(name, model, neuron_selection_mode="all", **kw)
    got = an.analyze(x)
    assert got.shape == (2, 3) + x.shape[1:]
    expected = ref.analyze(graph, name, x, neuron_selection_mode="all", **kw)
    assert_close(got, expected)


def test_max_activation_is_default_and_equals_argmax_index(ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=5)
    logits = graph.output([x])[0]
    R_default = ktl.create_analyzer("lrp.epsilon", model).analyze(x)
    R_max = ktl.create_analyzer("lrp.epsilon", model,
                                neuron_selection_mode="max_activation").analyze(x)
    R_idx = ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="index").analyze(
        x, neuron_selection=np.argmax(logits, axis=1))
    np.testing.assert_array_equal(R_default, R_max)
    assert_close(R_default, R_idx)


# ----------------------------------------------------------------------------
# output seeds
# ----------------------------------------------------------------------------
def _linear_model(seed=3, n_in=5, n_out=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((n_in,)), L.Dense(n_out)])
    randomize(model, seed, bias_scale=1.0)
    return model


def test_gradient_seed_is_one(ktl):
    """For a single linear layer the gradient of output k is the column W[:, k]."""
    model = _linear_model()
    W = model.layers[0].get_weights()[0]
    x = case_input("dense", batch=3)[:, :5]
    an = ktl.create_analyzer("gradient", model, neuron_selection_mode="index")
    for k in range(3):
        assert_close(an.analyze(x, neuron_selection=k), np.tile(W[:, k], (3, 1)))


def test_lrp_seed_is_logit_value_even_negative(ktl):
    """epsilon with bias_factor=1 conserves: sum R == selected logit, whatever its
    sign; deep_taylor starts from relu(logit): all zero for a negative logit."""
    model, graph = cached_case("dense")
    x = case_input("dense", batch=6)
    logits = graph.output([x])[0]
    neg = np.argmin(logits, axis=1)
    assert (logits[np.arange(6), neg] < 0).any(), "want a negative logit in the data"
    an = ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="index",
                             epsilon=1e-3, bias_factor=1.0)
    R = an.analyze(x, neuron_selection=neg)
    np.testing.assert_allclose(R.sum(axis=1), logits[np.arange(6), neg], rtol=1e-4, atol=1e-5)
    dt = ktl.create_analyzer("deep_taylor", model, neuron_selection_mode="index")
    R = dt.analyze(x, neuron_selection=neg)
    for s in range(6):
        if logits[s, neg[s]] < 0:
            assert np.all(R[s] == 0)
    expected = ref.analyze(graph, "deep_taylor", x, "index", neg)
    assert_close(R, expected)


def test_lrp_z_single_linear_layer_is_contribution_split(ktl):
    """lrp.z on one Dense layer: R_i = x_i w_ik / z_k * z_k = x_i w_ik (bias absorbed)."""
    model = _linear_model()
    W = model.layers[0].get_weights()[0]
    x = case_input("dense", batch=3)[:, :5]
    an = ktl.create_analyzer("lrp.z", model, neuron_selection_mode="index")
    assert_close(an.analyze(x, neuron_selection=1), x * W[:, 1])


# ----------------------------------------------------------------------------
# integrated gradients
# ----------------------------------------------------------------------------
IG_METHODS = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
              "gausslegendre"]


@pytest.mark.parametrize("method", IG_METHODS)
def test_integrated_gradients_methods(method, ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=3)
    an = ktl.create_analyzer("integrated_gradients", model, steps=5, method=method)
    assert_close(an.analyze(x), ref.analyze(graph, "integrated_gradients", x, steps=5,
                                            method=method))


@pytest.mark.parametrize("method", ["riemann_left", "gausslegendre"])
def test_integrated_gradients_in_chunks_of_path_points(method, ktl):
    model, graph = cached_case("conv1d_valid")
    x = case_input("conv1d_valid", batch=3)
    an = ktl.create_analyzer("integrated_gradients", model, steps=10, method=method, path_batch_size=4)
    assert_close(an.analyze(x), ref.analyze(graph, "integrated_gradients", x, steps=10, method=method))


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "8"])
def test_integrated_gradients_path_batch_size_must_be_positive(bad, ktl):
    model, _ = cached_case("dense")
    with pytest.raises(ktl.InvalidArgumentError, match="path_batch_size must be a positive int"):
        ktl.create_analyzer("integrated_gradients", model, path_batch_size=bad)


def test_integrated_gradients_defaults_are_trapezoid_64_zero_reference(ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=2)
    got = ktl.create_analyzer("integrated_gradients", model).analyze(x)
    assert_close(got, ref.analyze(graph, "integrated_gradients", x, steps=64,
                                  method="riemann_trapezoid", reference_inputs=0))


def test_integrated_gradients_reference_inputs(ktl):
    model, graph = cached_case("conv1d_valid")
    x = case_input("conv1d_valid", batch=2)
    xr = case_input("conv1d_valid", batch=2, seed=11) * 0.3
    for r in (xr, 0.5):
        an = ktl.create_analyzer("integrated_gradients", model, steps=4,
                                 method="gausslegendre", reference_inputs=r)
        assert_close(an.analyze(x), ref.analyze(graph, "integrated_gradients", x, steps=4,
                                                method="gausslegendre", reference_inputs=r))


def test_integrated_gradients_selection_made_on_clean_input(ktl):
    """On the path from x'=0 the argmax changes; the clean input's argmax holds."""
    model = keras.Sequential([keras.Input((2,)), L.Dense(2)])
    W = np.array([[0.0, 3.0], [0.0, 1.0]], "float32")
    model.layers[0].set_weights([W, np.array([1.0, 0.0], "float32")])
    x = np.array([[1.0, 1.0]], "float32")  # logits [1, 4] -> neuron 1; at x'=0: [1, 0]
    got = ktl.create_analyzer("integrated_gradients", model, steps=8).analyze(x)
    assert_close(got, x * W[:, 1])


# ----------------------------------------------------------------------------
# SmoothGrad
# ----------------------------------------------------------------------------
def _relu_sum_model(d):
    """y = sum_i relu(x_i): the gradient is 1[x_i > 0], so SmoothGrad's mean is
    P(x_i + N(0, sigma^2) > 0) = Phi(x_i / sigma)."""
    model = keras.Sequential([keras.Input((d,)), L.Dense(d, activation="relu"), L.Dense(1)])
    model.layers[0].set_weights([np.eye(d, dtype="float32"), np.zeros(d, "float32")])
    model.layers[1].set_weights([np.ones((d, 1), "float32"), np.zeros(1, "float32")])
    return model


def _phi(t):
    return 0.5 * (1.0 + np.vectorize(math.erf)(t / math.sqrt(2.0)))


def test_smoothgrad_sigma_is_noise_scale_times_range_per_sample(ktl):
    base = np.array([-1.0, 1.0, 0.5, -0.5, 0.25, 0.0, 0.1, -0.2, 0.75, -0.8])
    x = np.stack([base, 3.0 * base]).astype("float32")  # ranges 2 and 6
    n = 4000
    model = _relu_sum_model(x.shape[1])
    an = ktl.create_analyzer("smoothgrad", model, augment_by_n=n, noise_scale=0.25, seed=1)
    got = an.analyze(x)
    sigma = ref.smoothgrad_sigma(x.astype(np.float64), 0.25)
    np.testing.assert_allclose(sigma, [0.5, 1.5])
    expected = _phi(x / sigma[:, None])          # the same for both rows
    tol = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-3
    assert np.all(np.abs(got - expected) <= tol), (got, expected)
    # a larger noise_scale flattens the answer towards 1/2
    an2 = ktl.create_analyzer("smoothgrad", model, augment_by_n=n, noise_scale=1.0, seed=1)
    got2 = an2.analyze(x)
    expected2 = _phi(x / (4 * sigma[:, None]))
    tol2 = 5 * np.sqrt(expected2 * (1 - expected2) / n) + 1e-3
    assert np.all(np.abs(got2 - expected2) <= tol2), (got2, expected2)


def test_smoothgrad_on_linear_model_equals_gradient(ktl):
    """The gradient of an affine model is constant: any noise gives the gradient;
    the selection is made once on the clean input (here it would change under noise)."""
    model = keras.Sequential([keras.Input((2,)), L.Dense(2)])
    W = np.array([[1.0, -1.0], [2.0, 0.5]], "float32")
    model.layers[0].set_weights([W, np.array([0.0, 0.05], "float32")])
    x = np.array([[0.1, 0.0], [-0.2, 0.0]], "float32")  # logits nearly tied
    an = ktl.create_analyzer("smoothgrad", model, augment_by_n=32, noise_scale=2.0, seed=0)
    sel = np.argmax(x @ W + [0.0, 0.05], axis=1)
    assert_close(an.analyze(x), W[:, sel].T)


def test_smoothgrad_seed_reproducible(ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=2)
    a1 = ktl.create_analyzer("smoothgrad", model, augment_by_n=8, noise_scale=0.3, seed=5)
    a2 = ktl.create_analyzer("smoothgrad", model, augment_by_n=8, noise_scale=0.3, seed=5)
    a3 = ktl.create_analyzer("smoothgrad", model, augment_by_n=8, noise_scale=0.3, seed=6)
    r1, r2, r3 = a1.analyze(x), a2.analyze(x), a3.analyze(x)
    np.testing.assert_array_equal(r1, r2)
    assert not np.allclose(r1, r3)
    # and the noise actually changes the answer
    assert not np.allclose(r1, ref.analyze(graph, "gradient", x), atol=1e-4)


# ----------------------------------------------------------------------------
# gradient postprocess, batch_size, classes
# ----------------------------------------------------------------------------
def test_batch_size_argument_gives_same_numbers(ktl):
    model, graph = cached_case("conv2d_valid")
    x = case_input("conv2d_valid", batch=5)
    an = ktl.create_analyzer("lrp.alpha_1_beta_0", model)
    assert_close(an.analyze(x, batch_size=2), ref.analyze(graph, "lrp.alpha_1_beta_0", x))


CLASSES = {"gradient": "Gradient", "input_t_gradient": "InputTimesGradient",
           "integrated_gradients": "IntegratedGradients", "smoothgrad": "SmoothGrad",
           "guided_backprop": "GuidedBackprop", "deconvnet": "Deconvnet",
           "deep_taylor": "DeepTaylor", "lrp.z": "ZLRP", "lrp.epsilon": "EpsilonLRP",
           "lrp.alpha_beta": "AlphaBetaLRP", "lrp.alpha_2_beta_1": "AlphaTwoBetaOneLRP"}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_create_analyzer_returns_contract_class(name, ktl):
    model, _ = cached_case("dense")
    kw = {"alpha": 2.0, "beta": 1.0} if name == "lrp.alpha_beta" else {}
    an = ktl.create_analyzer(name, model, **kw)
    assert isinstance(an, getattr(ktl, CLASSES[name]))


def test_class_constructor_equals_create_analyzer(ktl):
    model, graph = cached_case("dense")
    x = case_input("dense", batch=2)
    an = ktl.EpsilonLRP(model, epsilon=0.1, bias_factor=1.0)
    assert_close(an.analyze(x), ref.analyze(graph, "lrp.epsilon", x, epsilon=0.1,
                                            bias_factor=1.0))
