"""Property tests: random MLP / CNN architectures against the reference, batch ==
per sample, analysing twice gives the same numbers."""

import keras
import numpy as np
import reference as ref
from core_support import MAX_AMPLIFICATION, all_layers, assert_close, rand_x, randomize
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

L = keras.layers

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

SETTINGS_SHORT = settings(SETTINGS, max_examples=10)

ACTS = st.sampled_from(["relu", "tanh", "linear"])


@st.composite
def mlp(draw):
    n_in = draw(st.integers(1, 6))
    depth = draw(st.integers(1, 3))
    hidden = [(draw(st.integers(1, 8)), draw(ACTS)) for _ in range(depth - 1)]
    n_out = draw(st.integers(1, 4))
    batch = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 10_000))
    return {"n_in": n_in, "hidden": hidden, "n_out": n_out, "batch": batch, "seed": seed}


def build_mlp(spec):
    keras.utils.set_random_seed(spec["seed"] % 1000)
    layers = [L.Dense(w, activation=a) for w, a in spec["hidden"]] + [L.Dense(spec["n_out"])]
    model = keras.Sequential([keras.Input((spec["n_in"],))] + layers)
    randomize(model, spec["seed"])
    x = rand_x((spec["batch"], spec["n_in"]), spec["seed"])
    return model, ref.RefGraph.from_layers(layers, (spec["n_in"],)), x


@st.composite
def cnn(draw):
    nd = draw(st.integers(1, 2))
    size = draw(st.integers(4, 8))
    cin = draw(st.integers(1, 3))
    convs = []
    for _ in range(draw(st.integers(1, 2))):
        convs.append({"filters": draw(st.integers(1, 3)), "k": draw(st.integers(1, 3)),
                      "s": draw(st.integers(1, 2)),
                      "padding": draw(st.sampled_from(["valid", "same"])),
                      "act": draw(ACTS)})
    pool = draw(st.sampled_from([None, "max", "avg", "gmax", "gavg"]))
    return {"nd": nd, "size": size, "cin": cin, "convs": convs, "pool": pool,
            "n_out": draw(st.integers(1, 3)), "batch": draw(st.integers(1, 3)),
            "seed": draw(st.integers(0, 10_000))}


def build_cnn(spec):
    nd = spec["nd"]
    Conv = L.Conv1D if nd == 1 else L.Conv2D
    shape = (spec["size"],) * nd + (spec["cin"],)
    layers = []
    for c in spec["convs"]:
        # linear conv, then the activation as its own layer: pooling sits before the
        # activation so that ReLU zeros never tie at a max pooling
        layers.append(Conv(c["filters"], c["k"], strides=c["s"], padding=c["padding"]))
        if spec["pool"] in ("max", "avg") and c is spec["convs"][-1]:
            P = {("max", 1): L.MaxPooling1D, ("max", 2): L.MaxPooling2D,
                 ("avg", 1): L.AveragePooling1D, ("avg", 2): L.AveragePooling2D}
            layers.append(P[(spec["pool"], nd)](2, padding="same"))
        layers.append(L.Activation(c["act"]))
    if spec["pool"] in ("gmax", "gavg"):
        G = {("gmax", 1): L.GlobalMaxPooling1D, ("gmax", 2): L.GlobalMaxPooling2D,
             ("gavg", 1): L.GlobalAveragePooling1D, ("gavg", 2): L.GlobalAveragePooling2D}
        layers.append(G[(spec["pool"], nd)]())
    else:
        layers.append(L.Flatten())
    layers.append(L.Dense(spec["n_out"]))
    keras.utils.set_random_seed(spec["seed"] % 1000)
    try:
        model = keras.Sequential([keras.Input(shape)] + layers)
    except ValueError:  # a valid conv that shrinks below 1
        assume(False)
    assume(all(d is None or d > 0 for d in model.output_shape))
    randomize(model, spec["seed"])
    x = rand_x((spec["batch"],) + shape, spec["seed"])
    return model, ref.RefGraph.from_layers(all_layers(model), shape), x


def _compare(ktl, model, graph, x, name, **kw):
    expected = ref.analyze(graph, name, x, **kw)
    scale = max(1.0, float(np.abs(expected).max()))
    assume(ref.last_amplification / scale < MAX_AMPLIFICATION)  # well-conditioned data
    got = ktl.create_analyzer(name, model, **kw).analyze(x)
    assert_close(got, expected, err_msg=f"{name} {kw}")


EPS = st.sampled_from([1e-7, 0.01, 1.0])
BF = st.sampled_from([0.0, 1.0])


@SETTINGS
@given(spec=mlp(), eps=EPS, bf=BF)
def test_random_mlp_epsilon_and_gradient(ktl, spec, eps, bf):
    model, graph, x = build_mlp(spec)
    _compare(ktl, model, graph, x, "lrp.epsilon", epsilon=eps, bias_factor=bf)
    _compare(ktl, model, graph, x, "gradient")


@SETTINGS
@given(spec=cnn(), eps=EPS, bf=BF)
def test_random_cnn_epsilon_and_gradient(ktl, spec, eps, bf):
    model, graph, x = build_cnn(spec)
    _compare(ktl, model, graph, x, "lrp.epsilon", epsilon=eps, bias_factor=bf)
    _compare(ktl, model, graph, x, "gradient")


@SETTINGS_SHORT
@given(spec=cnn(), name=st.sampled_from(["lrp.alpha_2_beta_1", "lrp.z_plus", "lrp.flat",
                                         "lrp.w_square", "guided_backprop",
                                         "lrp.sequential_preset_b"]))
def test_random_cnn_other_rules(ktl, spec, name):
    model, graph, x = build_cnn(spec)
    _compare(ktl, model, graph, x, name)


@SETTINGS_SHORT
@given(spec=st.one_of(mlp(), cnn()),
       name=st.sampled_from(["lrp.epsilon", "gradient", "lrp.alpha_1_beta_0", "deep_taylor",
                             "integrated_gradients"]))
def test_batch_equals_per_sample_and_repeatable(ktl, spec, name):
    model, graph, x = (build_cnn if "nd" in spec else build_mlp)(spec)
    kw = {"steps": 4} if name == "integrated_gradients" else {}
    an = ktl.create_analyzer(name, model, **kw)
    whole = an.analyze(x)
    again = an.analyze(x)
    np.testing.assert_array_equal(whole, again)
    singles = np.concatenate([an.analyze(x[i:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(whole, singles, rtol=1e-5,
                               atol=1e-6 * max(1.0, float(np.abs(whole).max())))
