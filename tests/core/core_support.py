"""Helpers and model builders for the core-analyzer suite (tests/core).

Every model gets random weights (keras.utils.set_random_seed), NON-ZERO random
biases (set with layer.set_weights) and non-trivial BatchNormalization
statistics; inputs have both signs.
"""

from __future__ import annotations

import keras
import numpy as np
import reference as ref

L = keras.layers

# scaled tolerance: rtol 1e-4, atol 1e-5 relative to the size of the answer
RTOL = 1e-4
ATOL = 1e-5


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, err_msg=""):
    """float32 library vs float64 reference.

    atol is taken relative to the largest reference value (relevances scale with
    the logit), never smaller than ``atol`` itself.
    """
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"expected a list, got {type(actual)}"
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol, atol, err_msg)
        return
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"shape {actual.shape} != expected {expected.shape} {err_msg}")
    scale = max(1.0, float(np.abs(expected).max()) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale,
                               err_msg=err_msg)


def all_layers(model):
    """All leaf layers of a model, nested models included."""
    out = []
    for lay in model.layers:
        if hasattr(lay, "layers") and isinstance(lay, keras.Model):
            out.extend(all_layers(lay))
        else:
            out.append(lay)
    return out


def randomize(model, seed=0, bias_scale=0.3):
    """All weights from a numpy rng (the same numbers on every backend): kernels
    ~ N(0, 1/fan_in), NON-ZERO random biases, non-trivial BN statistics,
    N(0, 1) embeddings."""
    rng = np.random.default_rng(seed + 1000)
    for lay in all_layers(model):
        ws = lay.weights
        if not ws:
            continue
        vals = lay.get_weights()
        new = []
        for v, val in zip(ws, vals):
            nm = v.name
            if "kernel" in nm:
                fan_in = int(np.prod(val.shape[:-1])) or 1
                val = rng.normal(0.0, 1.0 / np.sqrt(fan_in), val.shape)
            elif nm == "bias":
                val = rng.normal(0.0, bias_scale, val.shape)
            elif nm == "gamma":
                val = rng.uniform(0.5, 1.5, val.shape) * rng.choice([-1.0, 1.0], val.shape)
            elif nm == "beta":
                val = rng.normal(0.0, 0.3, val.shape)
            elif nm == "moving_mean":
                val = rng.normal(0.0, 0.5, val.shape)
            elif nm == "embeddings":
                val = rng.normal(0.0, 1.0, val.shape)
            elif nm == "moving_variance":
                val = rng.uniform(0.5, 2.0, val.shape)
            new.append(np.asarray(val, dtype="float32"))
        lay.set_weights(new)
    return model


def rand_x(shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed + 7)
    return (rng.normal(0.0, scale, shape)).astype("float32")


def keras_forward(model, X):
    out = model(X if not isinstance(X, list) else X, training=False)
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


# ----------------------------------------------------------------------------
# layer-type cases: name -> (builder, input shape).  Each builder returns a
# Sequential / Functional model whose reference graph is the plain chain of its
# layers (RefGraph.from_layers) unless the case says otherwise.
# ----------------------------------------------------------------------------
def _seq(input_shape, layers):
    return keras.Sequential([keras.Input(input_shape)] + layers)


def _fun(input_shape, layers):
    """The same chain as a Functional model."""
    inp = keras.Input(input_shape)
    h = inp
    for lay in layers:
        h = lay(h)
    return keras.Model(inp, h)


CASES = {
    # name: (input_shape, factory of the layer list, use functional)
    "dense": ((6,), lambda: [L.Dense(8, activation="relu"), L.Dense(5, activation="tanh"),
                             L.Dense(3)], False),
    "dense_functional": ((6,), lambda: [L.Dense(7, activation="relu"), L.Dropout(0.3),
                                        L.Dense(4, activation="relu"), L.Dense(3)], True),
    "conv1d_valid": ((9, 3), lambda: [L.Conv1D(4, 3, activation="relu"), L.Flatten(),
                                      L.Dense(3)], False),
    "conv1d_same_stride": ((9, 3), lambda: [L.Conv1D(4, 3, strides=2, padding="same",
                                                     activation="relu"),
                                            L.Flatten(), L.Dense(3)], True),
    "conv1d_dilation": ((10, 2), lambda: [L.Conv1D(3, 3, dilation_rate=2, padding="same",
                                                   activation="tanh"),
                                          L.Flatten(), L.Dense(3)], False),
    "conv2d_valid": ((6, 6, 2), lambda: [L.Conv2D(3, 3, activation="relu"), L.Flatten(),
                                         L.Dense(3)], False),
    "conv2d_same_stride": ((7, 6, 2), lambda: [L.Conv2D(3, (3, 2), strides=(2, 1),
                                                        padding="same", activation="relu"),
                                               L.Flatten(), L.Dense(3)], True),
    "conv2d_dilation": ((7, 7, 2), lambda: [L.Conv2D(3, 3, dilation_rate=2, padding="same",
                                                     activation="relu"),
                                            L.Conv2D(2, 2, activation="relu"),
                                            L.Flatten(), L.Dense(3)], False),
    "depthwise1d": ((8, 3), lambda: [L.DepthwiseConv1D(3, depth_multiplier=2, padding="same",
                                                       activation="relu"),
                                     L.Flatten(), L.Dense(3)], False),
    "depthwise2d": ((6, 6, 2), lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, strides=2,
                                                          padding="same", activation="relu"),
                                        L.Flatten(), L.Dense(3)], True),
    "separable1d": ((8, 3), lambda: [L.SeparableConv1D(4, 3, depth_multiplier=2,
                                                       activation="relu"),
                                     L.Flatten(), L.Dense(3)], False),
    "separable2d": ((6, 6, 2), lambda: [L.SeparableConv2D(3, 3, padding="same",
                                                          activation="relu"),
                                        L.Flatten(), L.Dense(3)], False),
    "einsum_2d": ((6,), lambda: [L.EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c",
                                               activation="relu"), L.Dense(3)], False),
    "einsum_seq": ((4, 5), lambda: [L.EinsumDense("abc,cde->abde", output_shape=(4, 3, 2),
                                                  bias_axes="de", activation="relu"),
                                    L.Flatten(), L.Dense(3)], True),
    "maxpool1d": ((10, 2), lambda: [L.Conv1D(3, 3, padding="same"), L.MaxPooling1D(2),
                                    L.ReLU(), L.Flatten(), L.Dense(3)], False),
    "maxpool2d": ((7, 7, 2), lambda: [L.Conv2D(3, 2), L.MaxPooling2D(3, strides=2,
                                                                     padding="same"),
                                      L.Activation("relu"), L.Flatten(), L.Dense(3)], False),
    "avgpool1d": ((10, 2), lambda: [L.Conv1D(3, 3, activation="relu"),
                                    L.AveragePooling1D(3, strides=2, padding="same"),
                                    L.Flatten(), L.Dense(3)], False),
    "avgpool2d": ((6, 6, 2), lambda: [L.Conv2D(3, 2, activation="relu"),
                                      L.AveragePooling2D(2), L.Flatten(), L.Dense(3)], True),
    "globalmax1d": ((8, 2), lambda: [L.Conv1D(4, 3, activation="tanh"),
                                     L.GlobalMaxPooling1D(), L.Dense(3)], False),
    "globalmax2d": ((5, 5, 2), lambda: [L.Conv2D(4, 2), L.GlobalMaxPooling2D(),
                                        L.Dense(3)], False),
    "globalavg1d": ((8, 2), lambda: [L.Conv1D(4, 3, activation="relu"),
                                     L.GlobalAveragePooling1D(), L.Dense(3)], False),
    "globalavg2d": ((5, 5, 2), lambda: [L.Conv2D(4, 2, activation="relu"),
                                        L.GlobalAveragePooling2D(), L.Dense(3)], True),
    "batchnorm_dense": ((6,), lambda: [L.Dense(7), L.BatchNormalization(), L.ReLU(),
                                       L.Dense(3)], False),
    "batchnorm_conv": ((6, 6, 2), lambda: [L.Conv2D(3, 3), L.BatchNormalization(),
                                           L.Activation("relu"), L.Flatten(), L.Dense(3)],
                       True),
    "batchnorm_options": ((6,), lambda: [L.Dense(5, activation="tanh"),
                                         L.BatchNormalization(epsilon=0.1, center=False),
                                         L.Dense(4, activation="relu"),
                                         L.BatchNormalization(scale=False), L.Dense(3)], False),
    "reshape": ((12,), lambda: [L.Dense(12, activation="relu"), L.Reshape((4, 3)),
                                L.Conv1D(3, 2, activation="relu"), L.Reshape((-1,)),
                                L.Dense(3)], False),
    "routing1d": ((6, 3), lambda: [L.ZeroPadding1D((1, 2)), L.Conv1D(3, 3, activation="relu"),
                                   L.Cropping1D((1, 0)), L.SpatialDropout1D(0.3),
                                   L.Permute((2, 1)), L.GaussianNoise(0.5), L.Flatten(),
                                   L.Dense(4, activation="tanh"), L.RepeatVector(2),
                                   L.Conv1D(2, 2, activation="relu"), L.Flatten(),
                                   L.Dense(3)], True),
    "routing2d": ((4, 5, 2), lambda: [L.ZeroPadding2D(((1, 0), (2, 1))),
                                      L.Conv2D(3, 2, activation="relu"),
                                      L.Cropping2D(((0, 1), (1, 1))),
                                      L.Permute((2, 1, 3)), L.GaussianDropout(0.2),
                                      L.Flatten(), L.Dense(3)], False),
    "conv3d": ((4, 4, 3, 2), lambda: [L.Conv3D(2, 2, activation="relu"), L.Flatten(),
                                      L.Dense(3)], False),
    "einsum_nobias": ((4, 5), lambda: [L.EinsumDense("abc,cd->abd", output_shape=(4, 3),
                                                     activation="tanh"),
                                       L.Flatten(), L.Dense(3)], False),
}

# the merges need a hand-made functional model and graph
MERGE_CASES = ("add", "subtract", "average", "concatenate")


def build_case(name, seed=0):
    input_shape, factory, functional = CASES[name]
    keras.utils.set_random_seed(seed)
    layers = factory()
    model = (_fun if functional else _seq)(input_shape, layers)
    randomize(model, seed)
    graph = ref.RefGraph.from_layers(all_layers(model), input_shape)
    return model, graph


def build_merge(kind, seed=0):
    """x -> two Dense branches -> merge -> Dense(3)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,))
    d1 = L.Dense(5, activation="relu")
    d2 = L.Dense(5, activation="relu" if kind != "subtract" else "tanh")
    head = L.Dense(3)
    merge = {"add": L.Add(), "subtract": L.Subtract(), "average": L.Average(),
             "concatenate": L.Concatenate()}[kind]
    model = keras.Model(inp, head(merge([d1(inp), d2(inp)])))
    randomize(model, seed)
    g = ref.RefGraph()
    i = g.input((6,))
    a = g.layer(d1, i)
    b = g.layer(d2, i)
    m = g.apply(ref.MergeOp(kind, [g.shape(a), g.shape(b)]), a, b)
    g.outputs = [g.layer(head, m)]
    return model, g


_MODEL_CACHE = {}


def cached_case(name, seed=0):
    key = (name, seed)
    if key not in _MODEL_CACHE:
        if name in MERGE_CASES:
            _MODEL_CACHE[key] = build_merge(name, seed)
        else:
            _MODEL_CACHE[key] = build_case(name, seed)
    return _MODEL_CACHE[key]


def case_input(name, batch=3, seed=0):
    shape = (6,) if name in MERGE_CASES else CASES[name][0]
    return rand_x((batch,) + tuple(shape), seed)




# well-conditioned test data: the z / epsilon(1e-7) rules and the proportional
# splits divide by z_j; a pre-activation that nearly cancels makes float32 and
# float64 legitimately differ (see reference.RuleConfig.track).
MAX_AMPLIFICATION = 1e3


def compare(ktl, model, graph, X, name, kw=None, analyze_kw=None, create_kw=None,
            ref_kw=None):
    """Library vs reference for one analysis; returns the library's answer."""
    kw = dict(kw or {})
    analyze_kw = dict(analyze_kw or {})
    create_kw = dict(create_kw or {})
    ref_kw = dict(ref_kw or {})
    mode = create_kw.get("neuron_selection_mode", "max_activation")
    expected = ref.analyze(graph, name, X, neuron_selection_mode=mode,
                           neuron_selection=analyze_kw.get("neuron_selection"),
                           **ref_kw, **kw)
    exp_list = expected if isinstance(expected, list) else [expected]
    scale = max(1.0, max(float(np.abs(e).max()) for e in exp_list))
    assert ref.last_amplification / scale < MAX_AMPLIFICATION, \
        "ill-conditioned test data: pick another seed"
    analyzer = ktl.create_analyzer(name, model, **create_kw, **kw)
    actual = analyzer.analyze(X, **analyze_kw)
    assert_close(actual, expected, err_msg=f"{name} {kw}")
    return actual
