"""Guided backprop, deconvnet (both seeds) and deep_taylor against independent numpy code.

SEMANTICS.md, "Start of the backward pass" and ``deep_taylor``: guided backprop and
deconvnet start from the selected logit's value (``seed="one"``: from 1); deep_taylor
applies z+ to a kernel layer's linear part without its ReLU mask and routes Add,
Concatenate and max pooling by the gradient. Two models: a branch-and-merge MLP
(two Dense branches, Add, Concatenate) and a Conv1D + MaxPooling1D net; selected
logits of both signs; ``max_activation`` and ``index`` modes. Cheap: runs on both backends.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_text_lrp import create_analyzer
from keras_text_lrp.errors import InvalidArgumentError

# ----------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(7)
    x = keras.Input((6,))
    a = keras.layers.Dense(5, activation="relu", name="a")(x)
    b = keras.layers.Dense(5, activation="relu", name="b")(x)
    s = keras.layers.Add()([a, b])
    c = keras.layers.Concatenate()([s, a])
    y = keras.layers.Dense(4, name="out")(c)
    model = keras.Model(x, y)
    rng = np.random.default_rng(1)
    for v in model.weights:  # from numpy, so both backends see the same net; biases of both signs
        v.assign(rng.normal(0, 0.6, v.shape))
    X = np.random.default_rng(2).normal(size=(7, 6)).astype("float32")
    return model, X


@pytest.fixture(scope="module")
def convnet():
    keras.utils.set_random_seed(8)
    x = keras.Input((8, 3))
    h = keras.layers.Conv1D(4, 3, activation="relu", name="conv")(x)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Flatten()(h)
    y = keras.layers.Dense(3, name="out")(h)
    model = keras.Model(x, y)
    rng = np.random.default_rng(3)
    for v in model.weights:
        v.assign(rng.normal(0, 0.6, v.shape))
    X = np.random.default_rng(4).normal(size=(6, 8, 3)).astype("float32")
    return model, X


def _w(model, name):
    layer = model.get_layer(name)
    return [np.asarray(v, np.float64) for v in layer.get_weights()]


def _relu(z):
    return np.maximum(z, 0.0)


def _rect(g, z, mode):
    """The backward signal at a ReLU: guided (masked) or deconvnet (unmasked)."""
    return _relu(g) * (z > 0) if mode == "guided" else _relu(g)


def _zplus(x, M, R):
    """z+ (alpha 1, beta 0, bias ignored) on the map x @ M; a zero denominator gives 0."""
    xp, xn = _relu(x), np.minimum(x, 0.0)
    Mp, Mn = _relu(M), np.minimum(M, 0.0)
    za = xp @ Mp + xn @ Mn
    s = np.where(za == 0, 0.0, R / np.where(za == 0, 1.0, za))
    return xp * (s @ Mp.T) + xn * (s @ Mn.T)


# ----------------------------------------------------------------------------- numpy: MLP


def _mlp_forward(model, X):
    (Wa, ba), (Wb, bb), (Wo, bo) = _w(model, "a"), _w(model, "b"), _w(model, "out")
    x = X.astype(np.float64)
    za, zb = x @ Wa + ba, x @ Wb + bb
    a, b = _relu(za), _relu(zb)
    c = np.concatenate([a + b, a], axis=1)
    return dict(x=x, za=za, zb=zb, a=a, b=b, c=c, y=c @ Wo + bo, Wa=Wa, Wb=Wb, Wo=Wo)


def _mlp_rectified(model, X, seed, mode):
    f = _mlp_forward(model, X)
    g_c = seed @ f["Wo"].T
    g_a = g_c[:, :5] + g_c[:, 5:]  # Add's gradient to a, plus Concatenate's second slot
    g_b = g_c[:, :5]
    return _rect(g_a, f["za"], mode) @ f["Wa"].T + _rect(g_b, f["zb"], mode) @ f["Wb"].T


def _mlp_taylor(model, X, seed):
    f = _mlp_forward(model, X)
    R_c = _zplus(f["c"], f["Wo"], seed)
    R_a = R_c[:, :5] + R_c[:, 5:]  # Add by the gradient: the full relevance to each addend
    R_b = R_c[:, :5]
    # z+ on each branch's linear part, not masked by its ReLU
    return _zplus(f["x"], f["Wa"], R_a) + _zplus(f["x"], f["Wb"], R_b)


# ----------------------------------------------------------------------------- numpy: conv net


def _conv_matrix(W, T, C):
    """Conv1D 'valid' as a matrix from the flat (T, C) input to the flat (T-k+1, F) output."""
    k, _, F = W.shape
    To = T - k + 1
    M = np.zeros((T * C, To * F))
    for t in range(To):
        for j in range(k):
            for c in range(C):
                M[(t + j) * C + c, t * F:(t + 1) * F] = W[j, c]
    return M


def _conv_forward(model, X):
    (Wc, bc), (Wo, bo) = _w(model, "conv"), _w(model, "out")
    B, T, C = X.shape
    M = _conv_matrix(Wc, T, C)
    x = X.reshape(B, -1).astype(np.float64)
    z = x @ M + np.tile(bc, T - Wc.shape[0] + 1)
    h = _relu(z).reshape(B, -1, Wc.shape[2])  # (B, 6, 4)
    pairs = h[:, : (h.shape[1] // 2) * 2].reshape(B, -1, 2, h.shape[2])
    win = np.argmax(pairs, axis=2)  # first maximum of each window
    p = np.take_along_axis(pairs, win[:, :, None], axis=2)[:, :, 0]
    flat = p.reshape(B, -1)
    return dict(x=x, M=M, z=z, h=h, win=win, flat=flat, y=flat @ Wo + bo, Wo=Wo, shape=h.shape)


def _unpool(f, r_flat):
    B, _, F = f["shape"]
    r = r_flat.reshape(B, -1, F)
    out = np.zeros(f["shape"])
    for s in range(B):
        for w in range(r.shape[1]):
            for ch in range(F):
                out[s, 2 * w + f["win"][s, w, ch], ch] += r[s, w, ch]
    return out.reshape(B, -1)


def _conv_rectified(model, X, seed, mode):
    f = _conv_forward(model, X)
    g = _unpool(f, seed @ f["Wo"].T)
    return (_rect(g, f["z"], mode) @ f["M"].T).reshape(X.shape)


def _conv_taylor(model, X, seed):
    f = _conv_forward(model, X)
    R_h = _unpool(f, _zplus(f["flat"], f["Wo"], seed))  # max pooling by the gradient
    return _zplus(f["x"], f["M"], R_h).reshape(X.shape)


# ----------------------------------------------------------------------------- tests

NETS = {
    "mlp": (_mlp_forward, _mlp_rectified, _mlp_taylor),
    "conv": (_conv_forward, _conv_rectified, _conv_taylor),
}


def _selections(y):
    """max_activation, and index mode at each sample's smallest logit (negative here)."""
    top, low = np.argmax(y, axis=1), np.argmin(y, axis=1)
    assert np.all(y[np.arange(len(y)), low] < 0) and np.all(y[np.arange(len(y)), top] > 0)
    return [("max_activation", None, top), ("index", low, low), ("index", 1, np.ones(len(y), int))]


def _seed(y, index, kind):
    seed = np.zeros_like(y)
    rows = np.arange(len(y))
    value = y[rows, index]
    seed[rows, index] = {"one": 1.0, "value": value, "relu": _relu(value)}[kind]
    return seed


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5 * max(1.0, np.abs(want).max()))


@pytest.fixture(params=sorted(NETS))
def net(request, mlp, convnet):
    model, X = {"mlp": mlp, "conv": convnet}[request.param]
    return (model, X) + NETS[request.param]


@pytest.mark.parametrize("name,mode", [("guided_backprop", "guided"), ("deconvnet", "deconvnet")])
@pytest.mark.parametrize("seed", ["value", "one"])
def test_rectified_gradients_match_numpy(net, name, mode, seed):
    model, X, forward, rectified, _ = net
    y = forward(model, X)["y"]
    for selection_mode, neuron_selection, index in _selections(y):
        kwargs = {} if seed == "value" else {"seed": "one"}
        analyzer = create_analyzer(name, model, neuron_selection_mode=selection_mode, **kwargs)
        got = analyzer.analyze(X, neuron_selection=neuron_selection)
        want = rectified(model, X, _seed(y, index, "value" if seed == "value" else "one"), mode)
        _close(got, want)


def test_value_seed_is_not_a_rescaled_unit_seed(net):
    """With a negative logit the signed seed meets relu(signal): not -|logit| times the unit-seed map."""
    model, X, forward, _, _ = net
    y = forward(model, X)["y"]
    low = np.argmin(y, axis=1)
    value = create_analyzer("guided_backprop", model, neuron_selection_mode="index").analyze(X, low)
    one = create_analyzer("guided_backprop", model, neuron_selection_mode="index", seed="one").analyze(X, low)
    scaled = one * y[np.arange(len(y)), low].reshape((-1,) + (1,) * (X.ndim - 1))
    assert np.abs(value - scaled).max() > 1e-2 * np.abs(scaled).max()


def test_deep_taylor_matches_numpy(net):
    model, X, forward, _, taylor = net
    y = forward(model, X)["y"]
    for selection_mode, neuron_selection, index in _selections(y):
        analyzer = create_analyzer("deep_taylor", model, neuron_selection_mode=selection_mode)
        with np.errstate(all="ignore"):
            got = analyzer.analyze(X, neuron_selection=neuron_selection)
        _close(got, taylor(model, X, _seed(y, index, "relu")))


def test_deep_taylor_add_hands_full_relevance_to_each_addend(mlp):
    """The Add routes by the gradient: total input relevance exceeds the proportional split's."""
    model, X = mlp
    f = _mlp_forward(model, X)
    top = np.argmax(f["y"], axis=1)
    got = create_analyzer("deep_taylor", model).analyze(X)
    _close(got, _mlp_taylor(model, X, _seed(f["y"], top, "relu")))
    # The proportional split (SEMANTICS' "Layers without weights") would give a smaller total.
    R_c = _zplus(f["c"], f["Wo"], _seed(f["y"], top, "relu"))
    s = f["a"] + f["b"]
    share = np.where(s == 0, 0.0, R_c[:, :5] / np.where(s == 0, 1.0, s))
    proportional = (
        _zplus(f["x"], f["Wa"], f["a"] * share + R_c[:, 5:]) + _zplus(f["x"], f["Wb"], f["b"] * share)
    )
    assert np.abs(got - proportional).max() > 1e-2 * np.abs(got).max()


def test_unknown_seed_is_refused(mlp):
    with pytest.raises(InvalidArgumentError, match=r"seed must be one of \('value', 'one'\)"):
        create_analyzer("deconvnet", mlp[0], seed="logit")
