"""Models that start with an Embedding: the analysis is taken at the Embedding's
output, (batch, T, D); positions masked by mask_zero=True are exactly 0."""

import keras
import numpy as np
import pytest
import reference as ref
from core_support import assert_close, randomize

L = keras.layers
V, T, D = 20, 7, 4

# Conv1D / Flatten drop an Embedding mask (that is the model as Keras runs it)
pytestmark = pytest.mark.filterwarnings("ignore:Layer .* does not support masking")

TOKEN_ANALYZERS = [
    ("gradient", {}), ("input_t_gradient", {}),
    ("integrated_gradients", {"steps": 5, "method": "riemann_middle"}),
    ("guided_backprop", {}), ("deconvnet", {}), ("deep_taylor", {}),
    ("lrp.z", {}), ("lrp.epsilon", {}), ("lrp.epsilon", {"epsilon": 0.01, "bias_factor": 1.0}),
    ("lrp.alpha_beta", {"alpha": 3.0, "beta": 2.0}), ("lrp.alpha_2_beta_1", {}),
    ("lrp.alpha_2_beta_1_IB", {}), ("lrp.alpha_1_beta_0", {}), ("lrp.alpha_1_beta_0_IB", {}),
    ("lrp.z_plus", {}), ("lrp.w_square", {}), ("lrp.flat", {}),
    ("lrp.sequential_preset_a", {}), ("lrp.sequential_preset_b", {}),
]


def _id(v):
    return v[0] + ("" if not v[1] else "-" + "-".join(f"{k}={w}" for k, w in v[1].items()))


def _ids(seed=0, pad_tail=None):
    """Distinct tokens in each row (a repeated n-gram would tie at a max pooling,
    where the routing of a tied maximum is a convention the spec leaves open)."""
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.permutation(np.arange(1, V))[:T] for _ in range(3)]).astype("int32")
    if pad_tail:
        for s, n in enumerate(pad_tail):
            if n:
                ids[s, -n:] = 0
    return ids


_CACHE = {}


# conv_gmp: a seed whose data have no all-zero (tied) ReLU channel before the
# global max pooling (ties make the routing of the max a matter of convention)
DEFAULT_SEED = {"conv_gmp": 10}


def token_model(kind, mask_zero=False, seed=None):
    seed = DEFAULT_SEED.get(kind, 0) if seed is None else seed
    key = (kind, mask_zero, seed)
    if key in _CACHE:
        return _CACHE[key]
    keras.utils.set_random_seed(seed)
    emb = L.Embedding(V, D, mask_zero=mask_zero)
    if kind == "conv_gmp":
        rest = [L.Conv1D(5, 3, activation="relu"), L.GlobalMaxPooling1D(), L.Dense(3)]
    elif kind == "gap":
        rest = [L.Dense(6, activation="relu"), L.GlobalAveragePooling1D(), L.Dense(3)]
    elif kind == "flatten":
        rest = [L.Flatten(), L.Dense(6, activation="relu"), L.Dense(3)]
    elif kind == "flatten_tanh":
        rest = [L.Flatten(), L.Dense(6, activation="tanh"), L.Dense(3)]
    else:
        raise ValueError(kind)
    inp = keras.Input((T,), dtype="int32")
    h = emb(inp)
    for lay in rest:
        h = lay(h)
    model = keras.Model(inp, h)
    randomize(model, seed)
    _CACHE[key] = (model, emb, rest)
    return _CACHE[key]


def ref_token(kind, model, emb, rest, ids, name, **kw):
    """Reference at the Embedding output; masked positions set to 0."""
    E = np.asarray(emb.get_weights()[0], np.float64)
    x = E[ids]
    mask = (ids != 0) if emb.mask_zero else None
    # only GlobalAveragePooling1D (right after Dense, which keeps the mask) uses it
    graph = ref.RefGraph.from_layers(rest, (T, D), mask=mask)
    out = ref.analyze(graph, name, x, **kw)
    if mask is not None:
        m = mask[:, None, :, None] if kw.get("neuron_selection_mode") == "all" \
            else mask[:, :, None]
        out = out * m
    return out, graph, x


@pytest.mark.parametrize("variant", TOKEN_ANALYZERS, ids=_id)
def test_embedding_conv_globalmax_dense(variant, ktl):
    name, kw = variant
    model, emb, rest = token_model("conv_gmp")
    ids = _ids()
    expected, graph, x = ref_token("conv_gmp", model, emb, rest, ids, name, **kw)
    # no tied (all-zero) channel at the max pooling
    h = np.maximum(ref.RefGraph.from_layers(rest[:1], (T, D)).output([x])[0], 0)
    assert (h.max(1) > 0).all(), "pick another seed"
    got = ktl.create_analyzer(name, model, **kw).analyze(ids)
    assert got.shape == (3, T, D)
    assert_close(got, expected)


@pytest.mark.parametrize("name", ["gradient", "integrated_gradients", "lrp.epsilon",
                                  "lrp.alpha_1_beta_0", "deep_taylor"])
def test_embedding_flatten_dense(name, ktl):
    """Integrated gradients with its default quadrature: x' = zero vectors."""
    model, emb, rest = token_model("flatten")
    ids = _ids(1)
    expected, _, _ = ref_token("flatten", model, emb, rest, ids, name)
    got = ktl.create_analyzer(name, model).analyze(ids)
    assert_close(got, expected)


def test_token_integrated_gradients_reference_and_completeness(ktl):
    model, emb, rest = token_model("flatten_tanh")
    ids = _ids(2)
    an = ktl.create_analyzer("integrated_gradients", model, steps=32, method="gausslegendre")
    R = an.analyze(ids)
    out = np.asarray(model(ids), np.float64)
    sel = out.argmax(1)
    # f(x') at zero embedding vectors, through the layers after the Embedding
    g = ref.RefGraph.from_layers(rest, (T, D))
    base = g.output([np.zeros((3, T, D))])[0][np.arange(3), sel]
    np.testing.assert_allclose(R.reshape(3, -1).sum(1), out[np.arange(3), sel] - base,
                               rtol=1e-4, atol=1e-4)
    expected, _, _ = ref_token("flatten_tanh", model, emb, rest, ids, "integrated_gradients",
                               steps=32, method="gausslegendre")
    assert_close(R, expected)


@pytest.mark.parametrize("mode", ["all", "index"])
def test_token_selection_modes(mode, ktl):
    model, emb, rest = token_model("gap")
    ids = _ids(3)
    kw = {"neuron_selection_mode": mode}
    call = {"neuron_selection": np.array([2, 1, 0])} if mode == "index" else {}
    expected, _, _ = ref_token("gap", model, emb, rest, ids, "lrp.epsilon",
                               **kw, **call, bias_factor=1.0)
    got = ktl.create_analyzer("lrp.epsilon", model, bias_factor=1.0, **kw).analyze(ids, **call)
    assert_close(got, expected)


@pytest.mark.parametrize("kind", ["conv_gmp", "gap", "flatten"])
@pytest.mark.parametrize("variant", [("gradient", {}), ("input_t_gradient", {}),
                                     ("integrated_gradients", {"steps": 4}),
                                     ("lrp.epsilon", {}), ("lrp.z", {}),
                                     ("lrp.alpha_2_beta_1", {}), ("lrp.flat", {}),
                                     ("deep_taylor", {}), ("guided_backprop", {})], ids=_id)
def test_mask_zero_padded_positions_exactly_zero(kind, variant, ktl):
    name, kw = variant
    model, emb, rest = token_model(kind, mask_zero=True)
    ids = _ids(4, pad_tail=[0, 2, 4])
    got = ktl.create_analyzer(name, model, **kw).analyze(ids)
    assert got.shape == (3, T, D)
    assert np.all(got[ids == 0] == 0.0), got[ids == 0]
    assert np.any(got[ids != 0] != 0.0)
    if name != "integrated_gradients":
        expected, _, _ = ref_token(kind, model, emb, rest, ids, name, **kw)
        assert_close(got, expected)


@pytest.mark.parametrize("path_batch_size", [None, 1, 3, 4])
def test_mask_zero_gap_integrated_gradients(path_batch_size, ktl):
    """Masked average pooling ignores padded positions, so interpolating them or
    not does not matter: the unmasked positions equal the reference, whether
    the 7 path points go through the model at once or in chunks (1, 3 and 4:
    7 chunks; 3 of 3 with two zero-weight nodes; 2 of 4 with one)."""
    model, emb, rest = token_model("gap", mask_zero=True)
    ids = _ids(5, pad_tail=[1, 0, 3])
    kw = {"steps": 6, "method": "riemann_trapezoid"}
    an = ktl.create_analyzer("integrated_gradients", model, path_batch_size=path_batch_size, **kw)
    expected, _, _ = ref_token("gap", model, emb, rest, ids, "integrated_gradients", **kw)
    assert_close(an.analyze(ids), expected)


def test_mask_zero_smoothgrad_and_all_mode(ktl):
    model, emb, rest = token_model("gap", mask_zero=True)
    ids = _ids(6, pad_tail=[3, 0, 1])
    sg = ktl.create_analyzer("smoothgrad", model, augment_by_n=4, noise_scale=0.2, seed=0)
    got = sg.analyze(ids)
    assert got.shape == (3, T, D)
    assert np.all(got[ids == 0] == 0.0)
    an = ktl.create_analyzer("lrp.alpha_1_beta_0", model, neuron_selection_mode="all")
    got = an.analyze(ids)
    assert got.shape == (3, 3, T, D)
    assert np.all(got.transpose(0, 2, 1, 3)[ids == 0] == 0.0)
    expected, _, _ = ref_token("gap", model, emb, rest, ids, "lrp.alpha_1_beta_0",
                               neuron_selection_mode="all")
    assert_close(got, expected)


def test_token_smoothgrad_seeded_in_embedding_space(ktl):
    model, emb, rest = token_model("conv_gmp")
    ids = _ids(7)
    a = ktl.create_analyzer("smoothgrad", model, augment_by_n=6, noise_scale=0.1, seed=3)
    r1 = a.analyze(ids)
    r2 = ktl.create_analyzer("smoothgrad", model, augment_by_n=6, noise_scale=0.1,
                             seed=3).analyze(ids)
    assert r1.shape == (3, T, D)
    np.testing.assert_array_equal(r1, r2)
    # noise_scale=0: plain gradient at the embedding output
    r0 = ktl.create_analyzer("smoothgrad", model, augment_by_n=3, noise_scale=0.0,
                             seed=3).analyze(ids)
    expected, _, _ = ref_token("conv_gmp", model, emb, rest, ids, "gradient")
    assert_close(r0, expected)


@pytest.mark.parametrize("name", ["lrp.epsilon", "gradient", "integrated_gradients",
                                  "smoothgrad"])
def test_variable_length_token_model(name, ktl):
    """keras.Input((None,)): one analyzer, sequences of different lengths."""
    keras.utils.set_random_seed(0)
    emb = L.Embedding(V, D, mask_zero=True)
    rest = [L.Conv1D(5, 2, padding="same", activation="tanh"), L.GlobalMaxPooling1D(),
            L.Dense(3)]
    inp = keras.Input((None,), dtype="int32")
    h = emb(inp)
    for lay in rest:
        h = lay(h)
    model = keras.Model(inp, h)
    randomize(model, 9)
    kw = {"integrated_gradients": {"steps": 3, "method": "riemann_right"},
          "smoothgrad": {"augment_by_n": 2, "noise_scale": 0.0}}.get(name, {})
    an = ktl.create_analyzer(name, model, **kw)
    E = np.asarray(emb.get_weights()[0], np.float64)
    for t in (5, 9):
        # distinct tokens: a repeated n-gram would tie at the max pooling
        rng = np.random.default_rng(t)
        ids = np.stack([rng.permutation(np.arange(1, V))[:t] for _ in range(2)]).astype("int32")
        ids[1, -2:] = 0
        graph = ref.RefGraph.from_layers(rest, (t, D))
        if name == "smoothgrad":  # noise_scale=0: the gradient
            expected = ref.analyze(graph, "gradient", E[ids]) * (ids != 0)[:, :, None]
        else:
            expected = ref.analyze(graph, name, E[ids], **kw) * (ids != 0)[:, :, None]
        got = an.analyze(ids)
        assert got.shape == (2, t, D)
        assert_close(got, expected)
