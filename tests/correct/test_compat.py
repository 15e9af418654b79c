"""``compat="innvestigate"`` against numpy implementations of iNNvestigate's variants.

SEMANTICS.md, "iNNvestigate compatibility switch": alpha-beta with the full bias in both
denominators; the BatchNormalization surrogate ``k = gamma/sqrt(var**2 + eps)``,
``c = beta - mean/sqrt(var**2 + eps)``; SmoothGrad noise N(0, 1) whatever ``noise_scale``
says. The default (``compat=None``) is checked against SEMANTICS.md's own formulas.
Cheap: runs on both backends.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_text_lrp import create_analyzer
from keras_text_lrp.analyzers.registry import ANALYZERS
from keras_text_lrp.errors import InvalidArgumentError


def _relu(z):
    return np.maximum(z, 0.0)


def _pos(v):
    return np.maximum(v, 0.0)


def _neg(v):
    return np.minimum(v, 0.0)


def _alpha_beta(x, W, b, R, alpha, beta, compat):
    """alpha-beta on ``x @ W + b``: b+ / b- in the denominators, or (iNNvestigate) b in both."""
    za = _pos(x) @ _pos(W) + _neg(x) @ _neg(W)
    zi = _pos(x) @ _neg(W) + _neg(x) @ _pos(W)
    za, zi = (za + b, zi + b) if compat else (za + _pos(b), zi + _neg(b))

    def ratio(z):
        return np.where(z == 0, 0.0, R / np.where(z == 0, 1.0, z))

    sa, si = ratio(za), ratio(zi)
    act = _pos(x) * (sa @ _pos(W).T) + _neg(x) * (sa @ _neg(W).T)
    inh = _pos(x) * (si @ _neg(W).T) + _neg(x) * (si @ _pos(W).T)
    return alpha * act - beta * inh


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5 * max(1.0, np.abs(want).max()))


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(11)
    x = keras.Input((5,))
    h = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    y = keras.layers.Dense(3, name="out")(h)
    model = keras.Model(x, y)
    rng = np.random.default_rng(5)
    for name in ("hidden", "out"):  # biases of both signs, large enough to matter
        layer = model.get_layer(name)
        layer.bias.assign(rng.normal(0, 0.5, layer.bias.shape))
    return model, rng.normal(size=(8, 5)).astype("float32")


@pytest.mark.parametrize(
    "name,alpha,beta", [("lrp.alpha_2_beta_1", 2.0, 1.0), ("lrp.alpha_1_beta_0", 1.0, 0.0)]
)
@pytest.mark.parametrize("compat", [None, "innvestigate"])
def test_alpha_beta_bias_handling(mlp, name, alpha, beta, compat):
    model, X = mlp
    (W1, b1), (W2, b2) = [[np.asarray(v, np.float64) for v in model.get_layer(n).get_weights()]
                          for n in ("hidden", "out")]
    x = X.astype(np.float64)
    h = _relu(x @ W1 + b1)
    y = h @ W2 + b2
    top = np.argmax(y, axis=1)
    seed = np.zeros_like(y)
    seed[np.arange(len(y)), top] = y[np.arange(len(y)), top]
    inn = compat == "innvestigate"
    want = _alpha_beta(x, W1, b1, _alpha_beta(h, W2, b2, seed, alpha, beta, inn), alpha, beta, inn)
    _close(create_analyzer(name, model, compat=compat).analyze(X), want)


def test_alpha_beta_variants_differ(mlp):
    model, X = mlp
    ours = create_analyzer("lrp.alpha_2_beta_1", model).analyze(X)
    theirs = create_analyzer("lrp.alpha_2_beta_1", model, compat="innvestigate").analyze(X)
    assert np.abs(ours - theirs).max() > 1e-2 * np.abs(ours).max()


@pytest.fixture(scope="module")
def bn_model():
    keras.utils.set_random_seed(12)
    x = keras.Input((4,))
    h = keras.layers.Dense(5, name="dense")(x)
    h = keras.layers.BatchNormalization(name="bn", epsilon=1e-3)(h)
    y = keras.layers.Dense(3, name="out")(h)
    model = keras.Model(x, y)
    rng = np.random.default_rng(9)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2.0, 5), rng.normal(0, 0.5, 5), rng.normal(0, 1.0, 5),
                    rng.uniform(0.3, 3.0, 5)])  # gamma, beta, moving mean, moving variance
    return model, rng.normal(size=(6, 4)).astype("float32")


@pytest.mark.parametrize("compat", [None, "innvestigate"])
def test_batch_normalization_surrogate(bn_model, compat):
    """lrp.z through Dense -> BN -> Dense; BN as the linear map k*x + c (one input per unit)."""
    model, X = bn_model
    W1, b1 = [np.asarray(v, np.float64) for v in model.get_layer("dense").get_weights()]
    gamma, beta, mean, var = [np.asarray(v, np.float64) for v in model.get_layer("bn").get_weights()]
    W2, b2 = [np.asarray(v, np.float64) for v in model.get_layer("out").get_weights()]
    eps = 1e-3
    if compat is None:
        k = gamma / np.sqrt(var + eps)
        c = beta - mean * k
    else:  # iNNvestigate 2.1.2's surrogate: the variance squared, gamma dropped from c
        root = np.sqrt(var ** 2 + eps)
        k, c = gamma / root, beta - mean / root
    x = X.astype(np.float64)
    d = x @ W1 + b1
    true_k = gamma / np.sqrt(var + eps)
    h = true_k * d + (beta - mean * true_k)  # the forward pass is the layer's own
    y = h @ W2 + b2
    top = np.argmax(y, axis=1)
    R = np.zeros_like(y)
    R[np.arange(len(y)), top] = y[np.arange(len(y)), top]

    def z_rule(inp, W, b, R):
        z = inp @ W + b
        z = np.where(z == 0, 1e-7, z)
        return inp * ((R / z) @ W.T)

    R_h = z_rule(h, W2, b2, R)
    z_bn = k * d + c  # the (surrogate) pre-activation is the denominator
    R_d = d * k / np.where(z_bn == 0, 1e-7, z_bn) * R_h
    want = z_rule(x, W1, b1, R_d)
    _close(create_analyzer("lrp.z", model, compat=compat).analyze(X), want)


@pytest.fixture(scope="module")
def square_model():
    """y_0 = 0.5 * sum(x**2): its gradient is x, so SmoothGrad's squared gradient is x**2 + sigma**2."""
    x = keras.Input((3,))
    sq = keras.layers.Multiply()([x, x])
    out = keras.layers.Dense(2, use_bias=False)
    y = out(sq)
    model = keras.Model(x, y)
    out.set_weights([np.array([[0.5, 0.1]] * 3)])
    return model


@pytest.mark.parametrize("compat,noise_scale", [(None, 0.5), ("innvestigate", 0.5), ("innvestigate", 0.05)])
def test_smoothgrad_noise(square_model, compat, noise_scale):
    X = np.array([[0.1, -0.3, 0.5], [1.0, 2.0, -1.0]], "float32")
    n = 8192
    analyzer = create_analyzer(
        "smoothgrad", square_model, neuron_selection_mode="index", augment_by_n=n, noise_scale=noise_scale,
        postprocess="square", seed=3, compat=compat,
    )
    got = analyzer.analyze(X, neuron_selection=0)
    spread = X.max(axis=1, keepdims=True) - X.min(axis=1, keepdims=True)
    sigma = np.ones_like(spread) if compat else noise_scale * spread
    want = X ** 2 + sigma ** 2  # E[(x + sigma*e)**2], e ~ N(0, 1)
    # 5 standard errors of the mean of (x + sigma*e)**2 over n draws
    se = np.sqrt((4 * X ** 2 * sigma ** 2 + 2 * sigma ** 4) / n)
    assert np.all(np.abs(got - want) <= 5 * se), (got, want, se)


def test_compat_is_offered_by_every_analyzer_and_checked(mlp):
    model, _ = mlp
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(9, 4)(ids)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.MultiHeadAttention(1, 2)(x, x))
    attention_model = keras.Model(ids, keras.layers.Dense(2)(x))
    for name, cls in ANALYZERS.items():
        model = attention_model if name.startswith("attention.") else mlp[0]  # those need attention
        extra = {"alpha": 2.0} if name == "lrp.alpha_beta" else {}
        for value in (None, "innvestigate"):
            assert create_analyzer(name, model, compat=value, **extra).compat == value
        with pytest.raises(InvalidArgumentError, match=r"compat must be one of \(None, 'innvestigate'\)"):
            create_analyzer(name, model, compat="iNNvestigate-2", **extra)
        with pytest.raises(InvalidArgumentError, match="compat must be one of"):
            cls(model, compat=True, **extra)
