"""The ops-level graph: tensor reuse, keras.ops in functional models, squashed heads, nesting.

References are the backend's own autodiff (``tf.GradientTape`` / ``jax.grad``) of the
model's logits, computed by calling the model's layers directly, and conservation.
"""

import keras
import numpy as np
import pytest
from core_support import rand_x, randomize
from gradient_reference import autodiff
from hypothesis import given
from hypothesis import strategies as st

L = keras.layers
ops = keras.ops


def _assert_gradient_is_autodiff(ktl, model, x, index, logits_fn=None):
    logits_fn = logits_fn or (lambda v: model(v, training=False))
    an = ktl.create_analyzer("gradient", model, neuron_selection_mode="index")
    got = an.analyze(x, neuron_selection=index)
    np.testing.assert_allclose(got, autodiff(logits_fn, x, index), rtol=1e-5, atol=1e-6)
    ixg = ktl.create_analyzer("input_t_gradient", model, neuron_selection_mode="index")
    np.testing.assert_allclose(ixg.analyze(x, neuron_selection=index), x * got, rtol=1e-5, atol=1e-6)


def _assert_conserves(ktl, model, x, index, name="lrp.epsilon", **options):
    an = ktl.create_analyzer(name, model, neuron_selection_mode="index", **options)
    r = an.analyze(x, neuron_selection=index)
    logits = np.asarray(model(x, training=False))
    np.testing.assert_allclose(
        r.reshape(len(x), -1).sum(axis=1), logits[np.arange(len(x)), index], rtol=1e-4, atol=1e-5
    )


# ----------------------------------------------------------------------------
# tensor reuse: each argument slot gets its own share
# ----------------------------------------------------------------------------
def _reuse_model(how):
    # tanh: no exact zeros, where bias_factor=1 would hand relevance to a zero input of a sum
    x = keras.Input((5,))
    h = L.Dense(4, activation="tanh")(x)
    if how == "add_xx":
        m = L.Add()([h, h])
    elif how == "concat_xx":
        m = L.Concatenate()([h, h])
    elif how == "add_dropout":
        m = L.Add()([h, L.Dropout(0.1)(h)])
    elif how == "add_identity":
        m = L.Add()([h, L.Identity()(h)])
    elif how == "op_xx":
        m = h + h
    else:  # a shared Dense called twice
        shared = L.Dense(4, activation="tanh")
        m = L.Add()([shared(h), shared(shared(h))])
    model = keras.Model(x, L.Dense(3)(m))
    randomize(model, 7)
    return model


@pytest.mark.parametrize("how", ["add_xx", "concat_xx", "add_dropout", "add_identity", "op_xx", "shared"])
def test_reuse_gradient_equals_autodiff_and_lrp_conserves(how, ktl):
    model = _reuse_model(how)
    x = rand_x((6, 5), seed=3)
    index = np.array([0, 1, 2, 0, 1, 2])
    _assert_gradient_is_autodiff(ktl, model, x, index)
    _assert_conserves(ktl, model, x, index, epsilon=1e-9, bias_factor=1.0)


def test_reuse_add_xx_relevance_is_split_per_slot(ktl):
    """Add()([h, h]) doubles h: the z rule gives each slot half, so h keeps R (not 2R)."""
    x = keras.Input((3,))
    h = L.Dense(2, use_bias=False)(x)
    model = keras.Model(x, L.Dense(1, use_bias=False)(L.Add()([h, h])))
    randomize(model, 1)
    W1, W2 = model.layers[1].get_weights()[0], model.layers[3].get_weights()[0]
    v = rand_x((4, 3), seed=1)
    hv = v @ W1
    z = 2 * hv @ W2
    # z rule by hand: R_h = 2 * h W2 / z * z = 2 h W2 (both slots), then R_x = x W1 (R_h / h)
    R_h = 2 * hv * W2[:, 0]
    R_x = v[:, :, None] * W1[None] * (R_h / hv)[:, None, :]
    r = ktl.create_analyzer("lrp.z", model).analyze(v)
    np.testing.assert_allclose(r, R_x.sum(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.sum(1), z[:, 0], rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------
# keras.ops recorded in functional graphs
# ----------------------------------------------------------------------------
def _ops_model(which):
    x = keras.Input((4, 6))
    h = L.Dense(6, activation="tanh")(x)
    if which == "add_mean":
        y = ops.mean(h + x, axis=1)
    elif which == "multiply_const":
        y = ops.sum(ops.multiply(h, 0.5) - x / 4.0, axis=1)
    elif which == "reshape_transpose":
        y = ops.reshape(ops.transpose(h, (0, 2, 1)), (-1, 24))
    elif which == "concat_take_slice":
        y = ops.concatenate([ops.take(h, [0, 2], axis=1), h[:, 1:2, :]], axis=1)
        y = ops.reshape(y, (-1, 18))
    elif which == "expand_squeeze_cast":
        y = ops.squeeze(ops.expand_dims(ops.cast(ops.max(h, axis=1), "float32"), 1), 1)
    elif which == "matmul_weight":
        y = ops.matmul(ops.mean(h, axis=1), ops.convert_to_tensor(np.linspace(-1, 1, 18).reshape(6, 3)))
    elif which == "where_mask":
        y = ops.sum(ops.where(x > 0, h, ops.zeros_like(h)), axis=1)
    elif which == "product":
        y = ops.mean(h * L.Dense(6)(x), axis=1)
    else:  # einsum of two activations (an attention-like score)
        y = ops.reshape(ops.einsum("bik,bjk->bij", h, x), (-1, 16))
    model = keras.Model(x, L.Dense(3)(y))
    randomize(model, 11)
    return model


OPS = [
    "add_mean", "multiply_const", "reshape_transpose", "concat_take_slice", "expand_squeeze_cast",
    "matmul_weight", "where_mask", "product", "einsum",
]


@pytest.mark.parametrize("which", OPS)
def test_ops_gradient_equals_autodiff(which, ktl):
    model = _ops_model(which)
    x = rand_x((5, 4, 6), seed=2)
    _assert_gradient_is_autodiff(ktl, model, x, np.array([0, 1, 2, 1, 0]))


@pytest.mark.parametrize("which", OPS)
def test_ops_lrp_conserves(which, ktl):
    """Sums split proportionally, routes route, products split evenly: all conserve."""
    model = _ops_model(which)
    x = rand_x((5, 4, 6), seed=2) + 0.5  # away from 0, where stabilisers would absorb
    if which == "where_mask":  # the masked-out branch (a constant 0) takes no relevance anyway
        pass
    _assert_conserves(ktl, model, x, np.array([0, 1, 2, 1, 0]), epsilon=1e-9, bias_factor=1.0)


def test_unknown_op_refused_for_lrp_but_differentiated(ktl, errors):
    x = keras.Input((5,))
    h = ops.sort(L.Dense(5)(x), axis=-1)
    model = keras.Model(x, L.Dense(2)(h))
    with pytest.raises(errors.UnsupportedLayerError, match=r"operation .*of class Sort has no LRP rule"):
        ktl.create_analyzer("lrp.epsilon", model)
    _assert_gradient_is_autodiff(ktl, model, rand_x((3, 5), seed=4), np.array([0, 1, 1]))


@pytest.fixture(scope="module")
def errors(ktl):
    import keras_text_lrp.errors as errors
    return errors


# ----------------------------------------------------------------------------
# squashed heads
# ----------------------------------------------------------------------------
def _sigmoid_model():
    x = keras.Input((5,))
    h = L.Dense(4, activation="relu")(x)
    model = keras.Model(x, L.Dense(1, activation="sigmoid")(h))
    randomize(model, 5)
    return model


def test_one_unit_sigmoid_is_two_classes(ktl):
    model = _sigmoid_model()
    x = rand_x((8, 5), seed=6)
    (W1, b1), (W2, b2) = model.layers[1].get_weights(), model.layers[2].get_weights()
    h = np.maximum(x @ W1 + b1, 0)
    z = (h @ W2 + b2)[:, 0]
    assert (z > 0).any() and (z < 0).any()
    g = ktl.create_analyzer("gradient", model)
    assert g.n_outputs == 2 and "sigmoid" in g.explained_output
    np.testing.assert_allclose(g.scores(x), np.stack([-z, z], 1), rtol=1e-5, atol=1e-6)
    # max_activation explains class 1 iff z > 0: the gradient of z, or of -z
    grad_z = ((h > 0) * W2[:, 0]) @ W1.T
    np.testing.assert_allclose(g.analyze(x), np.where(z[:, None] > 0, grad_z, -grad_z), rtol=1e-4, atol=1e-6)
    for name, options in (("lrp.z", {}), ("lrp.epsilon", {"bias_factor": 1.0})):
        an = ktl.create_analyzer(name, model, neuron_selection_mode="index", **options)
        r1, r0 = an.analyze(x, neuron_selection=1), an.analyze(x, neuron_selection=0)
        np.testing.assert_allclose(r0, -r1, rtol=1e-6, atol=1e-7)
        if options:  # conserving: class 1 sums to z, class 0 to -z
            np.testing.assert_allclose(r1.sum(1), z, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(r0.sum(1), -z, rtol=1e-4, atol=1e-5)
    every = ktl.create_analyzer("lrp.z", model, neuron_selection_mode="all").analyze(x)
    assert every.shape == (8, 2, 5)
    np.testing.assert_allclose(every[:, 0], -every[:, 1], rtol=1e-6, atol=1e-7)


def test_nested_squashed_head_and_textvectorization(ktl):
    """The Keras examples' end-to-end model: strings -> TextVectorization -> nested model -> softmax."""
    ids = keras.Input((None,), dtype="int64")
    e = L.Embedding(30, 4)(ids)
    inner = keras.Model(ids, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(e)))
    randomize(inner, 8)
    tv = L.TextVectorization(max_tokens=30, output_mode="int", output_sequence_length=6)
    tv.adapt(["the cat sat on the mat", "a dog ran far", "the dog sat"])
    text = keras.Input((1,), dtype="string")
    model = keras.Model(text, inner(tv(text)))
    texts = ["The cat sat.", "A dog, far!", "mat"]
    an = ktl.create_analyzer("lrp.epsilon", model, epsilon=1e-9, bias_factor=1.0)
    assert an.takes_text and an.embedding is inner.layers[1]
    assert an.tokens(texts) == [["the", "cat", "sat"], ["a", "dog", "far"], ["mat"]]
    token_ids = an.vectorize(texts)
    np.testing.assert_array_equal(token_ids, np.asarray(tv(np.array([[t] for t in texts]))))
    E = np.asarray(inner.layers[1](token_ids))
    W, b = inner.layers[-1].get_weights()
    logits = E.mean(axis=1) @ W + b
    np.testing.assert_allclose(an.scores(texts), logits, rtol=1e-5, atol=1e-6)
    r = an.analyze(texts)
    assert r.shape == (3, 6, 4)
    np.testing.assert_allclose(r.sum((1, 2)), logits.max(1), rtol=1e-4, atol=1e-5)
    g = ktl.create_analyzer("gradient", model).analyze(texts)
    expected = np.broadcast_to(W[:, logits.argmax(1)].T[:, None, :] / 6, g.shape)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)
    # the stripped model still works for ported code, through the nesting
    stripped = ktl.model_wo_softmax(model)
    if keras.backend.backend() == "tensorflow":  # Keras on JAX cannot call a string-input model
        out = stripped(np.array([[t] for t in texts]))
    else:
        out = stripped.layers[-1](token_ids)  # the stripped nested model, on the ids
    np.testing.assert_allclose(np.asarray(out), logits, rtol=1e-5, atol=1e-6)


def test_text_and_id_inputs_refuse_the_other_kind(ktl, errors):
    ids = keras.Input((None,), dtype="int32")
    model = keras.Model(ids, L.Dense(2)(L.GlobalAveragePooling1D()(L.Embedding(10, 3)(ids))))
    with pytest.raises(errors.InvalidInputError, match=r"takes integer token ids, but got strings"):
        ktl.create_analyzer("gradient", model).analyze(np.array([["a b"], ["c"]]))
    tv = L.TextVectorization(max_tokens=10, output_sequence_length=4)
    tv.adapt(["a b c", "d e"])
    text = keras.Input((1,), dtype="string")
    tmodel = keras.Model(text, model(tv(text)))
    with pytest.raises(errors.InvalidInputError, match=r"takes raw text strings, but got"):
        ktl.create_analyzer("gradient", tmodel).analyze(np.array([[1, 2]]))
    # integral float ids are accepted (Keras examples declare Input(shape=(n,)) with floats)
    an = ktl.create_analyzer("gradient", model)
    np.testing.assert_allclose(an.analyze(np.array([[1.0, 2.0]], "float32")), an.analyze(np.array([[1, 2]])))
    with pytest.raises(errors.InvalidInputError, match=r"non-integral"):
        an.analyze(np.array([[1.5, 2.0]], "float32"))


def test_two_embeddings_on_two_inputs(ktl):
    a, b = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    ea, eb = L.Embedding(10, 3)(a), L.Embedding(12, 3)(b)
    model = keras.Model([a, b], L.Dense(2)(L.Concatenate()([L.GlobalAveragePooling1D()(ea),
                                                            L.GlobalMaxPooling1D()(eb)])))
    randomize(model, 2)
    an = ktl.create_analyzer("lrp.epsilon", model, epsilon=1e-9, bias_factor=1.0)
    xa, xb = np.array([[1, 2, 3], [4, 5, 6]]), np.array([[7, 8], [9, 11]])
    ra, rb = an.analyze([xa, xb])
    logits = np.asarray(model([xa, xb]))
    np.testing.assert_allclose(ra.sum((1, 2)) + rb.sum((1, 2)), logits.max(1), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------
# random graphs of layers and ops: gradient == autodiff, bias-free z rule conserves
# ----------------------------------------------------------------------------
_UNARY = ["dense", "dense_relu", "op_relu", "scale", "identity", "dropout"]
_BINARY = ["add_layer", "add_op", "subtract_op", "multiply_op", "concat_dense"]


def _random_graph(choices, width=4):
    inp = keras.Input((width,))
    pool = [L.Dense(width, activation="relu", use_bias=False)(inp)]
    inner_in = keras.Input((width,))
    nested = keras.Model(inner_in, L.Dense(width, activation="relu", use_bias=False)(inner_in))
    for kind, i, j in choices:
        x, y = pool[i % len(pool)], pool[j % len(pool)]  # i == j: one tensor read twice
        if kind == "dense":
            out = L.Dense(width, use_bias=False)(x)
        elif kind == "dense_relu":
            out = L.Dense(width, activation="relu", use_bias=False)(x)
        elif kind == "op_relu":
            out = ops.relu(x)
        elif kind == "scale":
            out = x * 0.5
        elif kind == "identity":
            out = L.Identity()(x)
        elif kind == "dropout":
            out = L.Dropout(0.2)(x)
        elif kind == "nested":
            out = nested(x)
        elif kind == "add_layer":
            out = L.Add()([x, y])
        elif kind == "add_op":
            out = x + y
        elif kind == "subtract_op":
            out = x - y
        elif kind == "multiply_op":
            out = x * y
        else:
            out = L.Dense(width, use_bias=False)(L.Concatenate()([x, y]))
        pool.append(out)
    model = keras.Model(inp, L.Dense(3, use_bias=False)(pool[-1]))
    return model


_STEP = st.tuples(st.sampled_from(_UNARY + _BINARY + ["nested"]), st.integers(0, 8), st.integers(0, 8))


@given(st.lists(_STEP, min_size=1, max_size=6), st.integers(0, 2**16))
def test_random_graphs(ktl, choices, seed):
    model = _random_graph(choices)
    randomize(model, seed % 1000)
    x = rand_x((4, 4), seed=seed % 97)
    index = np.array([0, 1, 2, 0])
    _assert_gradient_is_autodiff(ktl, model, x, index)
    relu_only = all(kind not in ("subtract_op", "multiply_op", "dense") for kind, _, _ in choices)
    if relu_only:
        # bias-free ReLU nets with sums: the z rule conserves wherever the logit is not tiny
        an = ktl.create_analyzer("lrp.z", model, neuron_selection_mode="index")
        r = an.analyze(x, neuron_selection=index)
        logits = np.asarray(model(x))[np.arange(4), index]
        keep = np.abs(logits) > 1e-3
        np.testing.assert_allclose(r.sum(1)[keep], logits[keep], rtol=1e-3, atol=1e-5)


class LookupTable(L.Layer):
    """A hand-written embedding: ids -> vectors, not a keras.layers.Embedding."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(10, 3), initializer="random_normal")

    def call(self, ids):
        return ops.take(self.table, ops.cast(ids, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (3,)


def test_vanishing_relevance_warns_naming_the_layer(ktl):
    ids = keras.Input((4,), dtype="int32")
    table = LookupTable(name="my_table")
    model = keras.Model(ids, L.Dense(2)(L.Flatten()(table(ids))))
    ktl.register_rule(LookupTable, "route")
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    with pytest.warns(UserWarning, match=r"vanished at 'my_table' \(LookupTable\)"):
        r = ktl.create_analyzer("lrp.epsilon", model).analyze(x)
    assert r.shape == (2, 4) and not r.any()
