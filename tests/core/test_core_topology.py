"""Graphs that are not a chain: several inputs, several outputs, a nested model,
a layer shared by two calls (relevances summed where a tensor fans out)."""

import keras
import numpy as np
import pytest
import reference as ref
from core_support import compare, rand_x, randomize

L = keras.layers

TOPO_ANALYZERS = [
    ("gradient", {}), ("integrated_gradients", {"steps": 4, "method": "riemann_middle"}),
    ("guided_backprop", {}), ("deep_taylor", {}),
    ("lrp.z", {}), ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
    ("lrp.alpha_2_beta_1", {}), ("lrp.flat", {}),
]


def _id(v):
    return v[0] + ("" if not v[1] else "-" + "-".join(f"{k}={w}" for k, w in v[1].items()))


_CACHE = {}


def _cached(fn):
    def wrapper(*a):
        key = (fn.__name__,) + a
        if key not in _CACHE:
            _CACHE[key] = fn(*a)
        return _CACHE[key]
    return wrapper


@_cached
def multi_input(merge):
    """inputs declared as [b, a] (model.inputs order), used in the other order."""
    keras.utils.set_random_seed(1)
    a_in = keras.Input((6,), name="a")
    b_in = keras.Input((4, 3), name="b")
    da = L.Dense(5, activation="relu")
    cb = L.Conv1D(2, 2, activation="relu")
    fb = L.Flatten()
    db = L.Dense(5, activation="tanh")
    m = {"concatenate": L.Concatenate(), "add": L.Add(), "subtract": L.Subtract()}[merge]
    head = L.Dense(3)
    out = head(m([da(a_in), db(fb(cb(b_in)))]))
    model = keras.Model([b_in, a_in], out)
    randomize(model, 1)
    g = ref.RefGraph()
    gb = g.input((4, 3))     # graph inputs in model.inputs order
    ga = g.input((6,))
    ha = g.layer(da, ga)
    hb = g.layer(db, g.layer(fb, g.layer(cb, gb)))
    hm = g.apply(ref.MergeOp(merge, [g.shape(ha), g.shape(hb)]), ha, hb)
    g.outputs = [g.layer(head, hm)]
    X = [rand_x((3, 4, 3), seed=1), rand_x((3, 6), seed=2)]
    return model, g, X


@pytest.mark.parametrize("variant", TOPO_ANALYZERS, ids=_id)
@pytest.mark.parametrize("merge", ["concatenate", "add", "subtract"])
def test_multi_input(merge, variant, ktl):
    model, g, X = multi_input(merge)
    got = compare(ktl, model, g, X, variant[0], variant[1])
    assert isinstance(got, list) and len(got) == 2
    assert got[0].shape == (3, 4, 3) and got[1].shape == (3, 6)


def test_multi_input_all_mode(ktl):
    model, g, X = multi_input("concatenate")
    got = compare(ktl, model, g, X, "lrp.alpha_1_beta_0",
                  create_kw={"neuron_selection_mode": "all"})
    assert got[0].shape == (3, 3, 4, 3) and got[1].shape == (3, 3, 6)


@_cached
def multi_output():
    keras.utils.set_random_seed(2)
    inp = keras.Input((6,))
    trunk = L.Dense(7, activation="relu")
    h1 = L.Dense(3)
    h2a = L.Dense(4, activation="tanh")
    h2b = L.Dense(2)
    t = trunk(inp)
    model = keras.Model(inp, [h1(t), h2b(h2a(t))])
    randomize(model, 2)
    g = ref.RefGraph()
    i = g.input((6,))
    gt = g.layer(trunk, i)
    g.outputs = [g.layer(h1, gt), g.layer(h2b, g.layer(h2a, gt))]
    return model, g, rand_x((4, 6), seed=3)


@pytest.mark.parametrize("variant", TOPO_ANALYZERS[:1] + TOPO_ANALYZERS[5:7], ids=_id)
def test_multi_output_explains_first_output_by_default(variant, ktl):
    model, g, X = multi_output()
    compare(ktl, model, g, X, variant[0], variant[1])


@pytest.mark.parametrize("variant", TOPO_ANALYZERS[:1] + TOPO_ANALYZERS[5:7], ids=_id)
def test_multi_output_output_index(variant, ktl):
    """(keras_text_lrp extension: ``output_index`` picks the explained output)"""
    model, g, X = multi_output()
    compare(ktl, model, g, X, variant[0], variant[1], create_kw={"output_index": 1},
            ref_kw={"output_index": 1})


@_cached
def nested(kind):
    keras.utils.set_random_seed(3)
    if kind == "sequential_in_functional":
        inner_layers = [L.Dense(5, activation="relu"), L.Dense(4, activation="relu")]
        inner = keras.Sequential([keras.Input((6,))] + inner_layers)
    else:  # functional_in_functional
        ii = keras.Input((6,))
        inner_layers = [L.Dense(5, activation="relu"), L.Dense(4, activation="tanh")]
        inner = keras.Model(ii, inner_layers[1](inner_layers[0](ii)))
    inp = keras.Input((6,))
    d0 = L.Dense(6, activation="tanh")
    head = L.Dense(3)
    model = keras.Model(inp, head(inner(d0(inp))))
    randomize(model, 3)
    g = ref.RefGraph()
    i = g.input((6,))
    h = g.chain([d0] + inner_layers + [head], i)
    g.outputs = [h]
    return model, g, rand_x((3, 6), seed=4)


@pytest.mark.parametrize("variant", TOPO_ANALYZERS, ids=_id)
@pytest.mark.parametrize("kind", ["sequential_in_functional", "functional_in_functional"])
def test_nested_model(kind, variant, ktl):
    model, g, X = nested(kind)
    compare(ktl, model, g, X, variant[0], variant[1])


@_cached
def sequential_in_sequential():
    keras.utils.set_random_seed(4)
    inner_layers = [L.Conv1D(3, 2, activation="relu"), L.Flatten()]
    inner = keras.Sequential([keras.Input((5, 2))] + inner_layers)
    head = [L.Dense(4, activation="relu"), L.Dense(3)]
    model = keras.Sequential([keras.Input((5, 2)), inner] + head)
    randomize(model, 4)
    g = ref.RefGraph.from_layers(inner_layers + head, (5, 2))
    return model, g, rand_x((3, 5, 2), seed=5)


@pytest.mark.parametrize("variant", TOPO_ANALYZERS[::2], ids=_id)
def test_sequential_in_sequential(variant, ktl):
    model, g, X = sequential_in_sequential()
    compare(ktl, model, g, X, variant[0], variant[1])


@_cached
def shared(kind):
    keras.utils.set_random_seed(5)
    if kind == "two_inputs":
        i1, i2 = keras.Input((6,)), keras.Input((6,))
        sh = L.Dense(5, activation="relu")
        head = L.Dense(3)
        model = keras.Model([i1, i2], head(L.Add()([sh(i1), sh(i2)])))
        randomize(model, 5)
        g = ref.RefGraph()
        a, b = g.input((6,)), g.input((6,))
        ha, hb = g.layer(sh, a), g.layer(sh, b)
        g.outputs = [g.layer(head, g.apply(ref.MergeOp("add", [(5,), (5,)]), ha, hb))]
        X = [rand_x((3, 6), seed=6), rand_x((3, 6), seed=7)]
    else:  # "twice_in_a_row": h1 = sh(x), h2 = sh(h1), out = head(h1 + h2)
        inp = keras.Input((6,))
        sh = L.Dense(6, activation="relu")
        head = L.Dense(3)
        h1 = sh(inp)
        h2 = sh(h1)
        model = keras.Model(inp, head(L.Concatenate()([h1, h2])))
        randomize(model, 5)
        g = ref.RefGraph()
        i = g.input((6,))
        g1 = g.layer(sh, i)
        g2 = g.layer(sh, g1)          # h1 fans out: to the second call and the merge
        g.outputs = [g.layer(head, g.apply(ref.MergeOp("concatenate", [(6,), (6,)]), g1, g2))]
        X = rand_x((3, 6), seed=8)
    return model, g, X


@pytest.mark.parametrize("variant", TOPO_ANALYZERS, ids=_id)
@pytest.mark.parametrize("kind", ["two_inputs", "twice_in_a_row"])
def test_shared_layer(kind, variant, ktl):
    model, g, X = shared(kind)
    compare(ktl, model, g, X, variant[0], variant[1])


def test_input_fan_out_relevance_summed(ktl):
    """x feeds two branches; lrp.z relevance at x is the sum of both branches'."""
    keras.utils.set_random_seed(6)
    inp = keras.Input((4,))
    d1, d2 = L.Dense(3, use_bias=False), L.Dense(3, use_bias=False)
    head = L.Dense(1, use_bias=False)
    model = keras.Model(inp, head(L.Add()([d1(inp), d2(inp)])))
    randomize(model, 6)
    W1, W2 = d1.get_weights()[0], d2.get_weights()[0]
    Wh = head.get_weights()[0][:, 0]
    x = rand_x((2, 4), seed=9)
    # the whole net is linear: z rule == x_i * dy/dx_i
    got = ktl.create_analyzer("lrp.z", model).analyze(x)
    np.testing.assert_allclose(got, x * ((W1 + W2) @ Wh), rtol=1e-4, atol=1e-5)
