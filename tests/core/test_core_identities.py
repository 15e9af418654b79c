"""Identities that must hold whatever the reference says: conservation and
integrated gradients' completeness."""

import keras
import numpy as np
import pytest
import reference as ref
from core_support import rand_x, randomize

L = keras.layers


def _net(kind, seed, use_bias=True):
    keras.utils.set_random_seed(seed)
    if kind == "mlp":
        layers = [L.Dense(9, activation="relu", use_bias=use_bias),
                  L.Dense(7, activation="tanh", use_bias=use_bias),
                  L.Dense(6, activation="relu", use_bias=use_bias),
                  L.Dense(4, use_bias=use_bias)]
        shape = (8,)
    elif kind == "conv1d_valid":
        layers = [L.Conv1D(4, 3, activation="relu", use_bias=use_bias),
                  L.Conv1D(3, 2, strides=2, activation="relu", use_bias=use_bias),
                  L.Flatten(), L.Dense(4, use_bias=use_bias)]
        shape = (11, 2)
    elif kind == "conv2d_valid_maxpool":
        layers = [L.Conv2D(4, 2, activation="relu", use_bias=use_bias),
                  L.MaxPooling2D(2),
                  L.Conv2D(3, 2, dilation_rate=2, activation="relu", use_bias=use_bias),
                  L.Flatten(), L.Dense(4, use_bias=use_bias)]
        shape = (9, 9, 2)
    else:
        raise ValueError(kind)
    model = keras.Sequential([keras.Input(shape)] + layers)
    if use_bias:
        randomize(model, seed, bias_scale=0.5)
    return model, shape


def _selected_logits(model, x, sel=None):
    out = np.asarray(model(x, training=False), np.float64)
    if sel is None:
        sel = out.argmax(1)
    return out[np.arange(len(x)), sel]


@pytest.mark.parametrize("kind", ["mlp", "conv1d_valid", "conv2d_valid_maxpool"])
@pytest.mark.parametrize("eps", [1e-7, 0.25])
def test_epsilon_bias_factor_one_conserves(kind, eps, ktl):
    model, shape = _net(kind, seed=9)
    x = rand_x((5,) + shape, seed=9)
    # precondition: no pre-activation cancels so badly that float32 rounding of
    # the (then huge, cancelling) relevances would swamp the identity
    ref.analyze(ref.RefGraph.from_layers(model.layers, shape), "lrp.epsilon", x,
                epsilon=eps, bias_factor=1.0)
    assert ref.last_amplification < 100, "pick another seed"
    an = ktl.create_analyzer("lrp.epsilon", model, epsilon=eps, bias_factor=1.0)
    R = an.analyze(x)
    total = R.reshape(5, -1).astype(np.float64).sum(1)
    np.testing.assert_allclose(total, _selected_logits(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["mlp", "conv1d_valid"])
def test_epsilon_bias_factor_one_conserves_every_neuron(kind, ktl):
    """Also for non-maximal (possibly negative) logits, mode "all"."""
    model, shape = _net(kind, seed=8)
    x = rand_x((3,) + shape, seed=8)
    an = ktl.create_analyzer("lrp.epsilon", model, neuron_selection_mode="all",
                             bias_factor=1.0)
    R = an.analyze(x)
    out = np.asarray(model(x, training=False), np.float64)
    np.testing.assert_allclose(R.reshape(3, 4, -1).sum(-1), out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["mlp", "conv1d_valid"])
def test_epsilon_bias_factor_zero_absorbs_bias(kind, ktl):
    """Sanity of the identity above: with biases and bias_factor=0 the sum is not
    the logit (the bias share is absorbed)."""
    model, shape = _net(kind, seed=4)
    x = rand_x((5,) + shape, seed=4)
    R = ktl.create_analyzer("lrp.epsilon", model, epsilon=0.25).analyze(x)
    total = R.reshape(5, -1).sum(1)
    assert not np.allclose(total, _selected_logits(model, x), rtol=1e-3)


@pytest.mark.parametrize("kind", ["mlp", "conv1d_valid", "conv2d_valid_maxpool"])
def test_lrp_z_bias_free_relu_net_conserves(kind, ktl):
    model, shape = _net(kind, seed=5, use_bias=False)
    x = rand_x((5,) + shape, seed=5)
    R = ktl.create_analyzer("lrp.z", model).analyze(x)
    np.testing.assert_allclose(R.reshape(5, -1).astype(np.float64).sum(1),
                               _selected_logits(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["lrp.alpha_2_beta_1_IB", "lrp.alpha_1_beta_0_IB",
                                  "lrp.alpha_beta", "lrp.w_square", "lrp.flat"])
def test_bias_free_rules_conserve_on_dense_net(name, ktl):
    """On a bias-free Dense net where every unit has both positive and negative
    contributions (no zero activator / inhibitor), alpha-beta conserves
    alpha - beta = 1 per layer; w^2 and flat always conserve."""
    rng = np.random.default_rng(6)  # numpy weights: the same on every backend
    model = keras.Sequential([keras.Input((8,)),
                              L.Dense(10, activation="relu", use_bias=False),
                              L.Dense(3, use_bias=False)])
    W1 = rng.normal(size=(8, 10)).astype("float32")
    W2 = rng.normal(size=(10, 3)).astype("float32")
    model.layers[0].set_weights([W1])
    model.layers[1].set_weights([W2])
    x = rng.normal(size=(4, 8)).astype("float32")
    h = np.maximum(x @ W1, 0)
    sel = (h @ W2).argmax(1)
    # precondition on the data: every unit that carries relevance has positive and
    # negative contributions (za > 0 and zi < 0)
    p1 = x[:, :, None] * W1[None]
    ok1 = ((p1 > 0).any(1) & (p1 < 0).any(1)) | (h == 0)
    p2 = h * W2[:, sel].T
    ok2 = (p2 > 0).any(1) & (p2 < 0).any(1)
    assert ok1.all() and ok2.all(), "pick another seed"
    kw = {"alpha": 3.0, "beta": 2.0} if name == "lrp.alpha_beta" else {}
    R = ktl.create_analyzer(name, model, **kw).analyze(x)
    np.testing.assert_allclose(R.sum(1), _selected_logits(model, x), rtol=1e-4, atol=1e-5)


def _tanh_model(seed=2):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="tanh"),
                              L.Dense(6, activation="tanh"), L.Dense(3)])
    randomize(model, seed)
    return model


def test_integrated_gradients_completeness_converges(ktl):
    model = _tanh_model()
    x = rand_x((4, 6), seed=2) * 1.5
    sel = np.asarray(model(x)).argmax(1)
    target = _selected_logits(model, x, sel) - _selected_logits(model, np.zeros_like(x), sel)
    steps = [2, 4, 8, 16, 32]
    err = {}
    for method in ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
                   "gausslegendre"]:
        err[method] = []
        for m in steps:
            R = ktl.create_analyzer("integrated_gradients", model, steps=m,
                                    method=method).analyze(x)
            err[method].append(float(np.abs(R.sum(1) - target).max()))
    floor = 2e-6  # float32
    for method, e in err.items():
        assert e[-1] < e[0] or e[0] < floor, (method, e)
        for a, b in zip(e, e[1:]):  # decreasing in steps (down to float32 noise)
            assert b <= a * 1.001 + floor, (method, e)
    for m_i in range(1, len(steps)):
        # second-order / Gauss schemes beat the first-order left sum
        assert err["riemann_trapezoid"][m_i] < 0.2 * err["riemann_left"][m_i] + floor, err
        assert err["gausslegendre"][m_i] < 0.2 * err["riemann_left"][m_i] + floor, err
        assert err["riemann_middle"][m_i] < 0.2 * err["riemann_left"][m_i] + floor, err
    # first-order: halving-ish per doubling; the final accuracy is good
    assert err["riemann_left"][-1] < 0.7 * err["riemann_left"][-2], err
    assert err["gausslegendre"][-1] < 1e-4 and err["riemann_trapezoid"][-1] < 1e-3, err


def test_integrated_gradients_completeness_with_reference_input(ktl):
    model = _tanh_model(seed=3)
    x = rand_x((3, 6), seed=3)
    xr = rand_x((3, 6), seed=30)
    sel = np.asarray(model(x)).argmax(1)
    R = ktl.create_analyzer("integrated_gradients", model, steps=16, method="gausslegendre",
                            reference_inputs=xr).analyze(x)
    target = _selected_logits(model, x, sel) - _selected_logits(model, xr, sel)
    np.testing.assert_allclose(R.sum(1), target, rtol=1e-4, atol=2e-5)
