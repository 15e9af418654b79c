"""Bad models, bad inputs, bad options: ValueError subclasses whose messages
say what is wrong (and what would be right)."""

import keras
import numpy as np
import pytest
from core_support import cached_case, case_input, rand_x, randomize

L = keras.layers


@pytest.fixture(scope="module")
def dense_model():
    return cached_case("dense")[0]


@pytest.fixture(scope="module")
def errors(ktl):
    import keras_text_lrp.errors as errors
    return errors


# ----------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------
class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = L.Dense(4, activation="relu")
        self.d2 = L.Dense(3)

    def call(self, x):
        return self.d2(self.d1(x))


def test_subclassed_model_without_graph_refused(ktl, errors):
    model = _Subclassed()
    x = rand_x((2, 5))
    model(x)
    with pytest.raises(ValueError, match=r"(?i)subclass|functional|sequential|graph") as e:
        ktl.create_analyzer("lrp.epsilon", model).analyze(x)
    assert isinstance(e.value, errors.InvalidModelError)


@pytest.mark.parametrize("how", ["dense_softmax", "activation_layer", "softmax_layer", "sigmoid"])
def test_squashed_output_explains_its_logits(how, ktl):
    """A final softmax/sigmoid is recognised: analyzers explain the pre-activation logits."""
    keras.utils.set_random_seed(0)
    if how == "dense_softmax":
        layers = [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")]
    elif how == "activation_layer":
        layers = [L.Dense(4, activation="relu"), L.Dense(3), L.Activation("softmax")]
    elif how == "softmax_layer":
        layers = [L.Dense(4, activation="relu"), L.Dense(3), L.Softmax()]
    else:  # three sigmoid units: a multi-label head, each unit's logit explained
        layers = [L.Dense(4, activation="relu"), L.Dense(3, activation="sigmoid")]
    model = keras.Sequential([keras.Input((5,))] + layers)
    randomize(model, 2)
    (W1, b1), (W2, b2) = model.layers[0].get_weights(), model.layers[1].get_weights()
    x = rand_x((4, 5), seed=2)
    h = np.maximum(x @ W1 + b1, 0)
    logits = h @ W2 + b2
    g = ktl.create_analyzer("gradient", model, neuron_selection_mode="index")
    assert ("sigmoid" if how == "sigmoid" else "softmax") in g.explained_output
    np.testing.assert_allclose(g.scores(x), logits, rtol=1e-5, atol=1e-6)
    for k in range(3):
        expected = ((h > 0) * W2[:, k]) @ W1.T
        np.testing.assert_allclose(g.analyze(x, neuron_selection=k), expected, rtol=1e-4, atol=1e-5)
    # the largest logit is explained, and z-rule LRP with the bias conserves it
    z = ktl.create_analyzer("lrp.epsilon", model, epsilon=1e-9, bias_factor=1.0)
    r = z.analyze(x)
    assert z.n_outputs == 3
    np.testing.assert_allclose(r.sum(axis=1), logits.max(axis=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("how", ["dense_softmax", "activation_layer"])
def test_model_wo_softmax_gives_logits_of_same_weights(how, ktl):
    keras.utils.set_random_seed(1)
    if how == "dense_softmax":
        layers = [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")]
    else:
        layers = [L.Dense(4, activation="relu"), L.Dense(3), L.Activation("softmax")]
    model = keras.Sequential([keras.Input((5,))] + layers)
    randomize(model, 1)
    (W1, b1), (W2, b2) = model.layers[0].get_weights(), model.layers[1].get_weights()
    x = rand_x((4, 5), seed=1)
    logits = np.maximum(x @ W1 + b1, 0) @ W2 + b2
    stripped = ktl.model_wo_softmax(model)
    np.testing.assert_allclose(np.asarray(stripped(x)), logits, rtol=1e-5, atol=1e-6)
    # the original model is left alone
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model(x)), probs, rtol=1e-5, atol=1e-6)
    # and the stripped model can be analysed: gradient of the logit
    g = ktl.create_analyzer("gradient", stripped, neuron_selection_mode="index").analyze(
        x, neuron_selection=0)
    expected = ((x @ W1 + b1 > 0) * W2[:, 0]) @ W1.T
    np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-5)


class Cube(L.Layer):
    def call(self, x):
        return x * x * x


class SignSwitch(L.Layer):
    def call(self, x):
        if keras.ops.convert_to_numpy(keras.ops.sum(x)) > 0:  # Python branching on a value
            return x
        return -x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_custom_layer_of_ops_is_traced_and_explained(ktl):
    """A custom layer built from keras.ops is opened up: its products get the product rule."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((5,))
    h = L.Dense(4)(inp)
    h = Cube(name="my_cube_layer")(h)
    model = keras.Model(inp, L.Dense(3)(h))
    randomize(model, 3)
    # pre-activations near 1, so that no product is near 0 (where its stabiliser would absorb)
    W1 = 0.1 * model.layers[1].get_weights()[0]
    b1 = np.ones(4, "float32")
    model.layers[1].set_weights([W1, b1])
    W2, b2 = model.layers[3].get_weights()
    x = rand_x((3, 5), seed=3)
    a = x @ W1 + b1
    g = ktl.create_analyzer("gradient", model, neuron_selection_mode="index").analyze(x, neuron_selection=1)
    np.testing.assert_allclose(g, (3 * a**2 * W2[:, 1]) @ W1.T, rtol=1e-4, atol=1e-5)
    r = ktl.create_analyzer("lrp.epsilon", model, epsilon=1e-9, bias_factor=1.0,
                            neuron_selection_mode="index").analyze(x, neuron_selection=1)
    # x*x*x: two products, each splitting evenly; the output bias and the Dense biases take their
    # share (bias_factor=1), so the total is the logit.
    np.testing.assert_allclose(r.sum(axis=1), (a**3 @ W2 + b2)[:, 1], rtol=1e-4, atol=1e-5)


def test_untraceable_layer_named_with_line_and_how_to_register(ktl, errors):
    inp = keras.Input((5,))
    h = L.Dense(4)(inp)
    h = SignSwitch(name="my_switch")(h)
    model = keras.Model(inp, L.Dense(3)(h))
    with pytest.raises(ValueError) as e:
        ktl.create_analyzer("lrp.epsilon", model)
    msg = str(e.value)
    assert isinstance(e.value, errors.UnsupportedLayerError)
    assert "my_switch" in msg and "SignSwitch" in msg, msg
    assert "register_rule(SignSwitch" in msg, msg
    assert "if keras.ops.convert_to_numpy" in msg and "line" in msg, msg  # the line that stopped the trace
    assert "\n" not in msg and len(msg) < 1000 and "Supported classes" not in msg


# ----------------------------------------------------------------------------
# analyzer names and options
# ----------------------------------------------------------------------------
def test_unknown_analyzer_name_lists_names(ktl, dense_model, errors):
    with pytest.raises(ValueError, match=r"lrp\.epsilon") as e:
        ktl.create_analyzer("lrp.epsilonn", dense_model)
    msg = str(e.value)
    assert "lrp.epsilonn" in msg
    for name in ("integrated_gradients", "deep_taylor", "lrp.alpha_2_beta_1"):
        assert name in msg, msg


@pytest.mark.parametrize("alpha,beta", [(2.0, 2.0), (1.0, 1.0), (3.0, 1.0)])
def test_alpha_beta_must_differ_by_one(alpha, beta, ktl, dense_model, errors):
    with pytest.raises(ValueError, match=r"(?i)alpha") as e:
        ktl.create_analyzer("lrp.alpha_beta", dense_model, alpha=alpha,
                            beta=beta).analyze(case_input("dense"))
    assert isinstance(e.value, errors.InvalidArgumentError)


def test_bad_neuron_selection_mode(ktl, dense_model):
    with pytest.raises(ValueError, match=r"max_activation|index|all"):
        ktl.create_analyzer("gradient", dense_model,
                            neuron_selection_mode="maximum").analyze(case_input("dense"))


def test_bad_integrated_gradients_method(ktl, dense_model):
    with pytest.raises(ValueError, match=r"riemann_trapezoid|gausslegendre"):
        ktl.create_analyzer("integrated_gradients", dense_model,
                            method="simpson").analyze(case_input("dense"))


@pytest.mark.parametrize("steps", [0, -3])
def test_bad_integrated_gradients_steps(steps, ktl, dense_model):
    with pytest.raises(ValueError, match=r"(?i)steps"):
        ktl.create_analyzer("integrated_gradients", dense_model,
                            steps=steps).analyze(case_input("dense"))


# ----------------------------------------------------------------------------
# neuron selection
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("sel", [3, 17, -1, [0, 1, 3], [0, -1, 2]])
def test_neuron_selection_out_of_range(sel, ktl, dense_model, errors):
    an = ktl.create_analyzer("lrp.epsilon", dense_model, neuron_selection_mode="index")
    with pytest.raises(ValueError, match=r"(?i)range|neuron|index") as e:
        an.analyze(case_input("dense", batch=3), neuron_selection=sel)
    assert isinstance(e.value, (errors.InvalidInputError, errors.InvalidArgumentError))


@pytest.mark.parametrize("sel", [[0, 1], [0, 1, 2, 0], np.zeros((3, 1, 2), int)])
def test_neuron_selection_wrong_length(sel, ktl, dense_model):
    an = ktl.create_analyzer("gradient", dense_model, neuron_selection_mode="index")
    with pytest.raises(ValueError, match=r"(?i)length|shape|one index per sample|sample"):
        an.analyze(case_input("dense", batch=3), neuron_selection=sel)


def test_index_mode_needs_neuron_selection(ktl, dense_model):
    an = ktl.create_analyzer("gradient", dense_model, neuron_selection_mode="index")
    with pytest.raises(ValueError, match=r"neuron_selection"):
        an.analyze(case_input("dense", batch=3))


# ----------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (3, 6, 1), (6,), (3, 7)])
def test_wrong_input_shape(shape, ktl, dense_model, errors):
    an = ktl.create_analyzer("lrp.epsilon", dense_model)
    with pytest.raises(ValueError, match=r"(?i)shape") as e:
        an.analyze(np.zeros(shape, "float32") + 0.5)
    assert isinstance(e.value, errors.InvalidInputError)


def test_wrong_input_dtype(ktl, dense_model, errors):
    an = ktl.create_analyzer("gradient", dense_model)
    with pytest.raises(ValueError, match=r"(?i)dtype|numeric|float|type") as e:
        an.analyze(np.full((2, 6), "a"))
    assert isinstance(e.value, errors.InvalidInputError)


def test_token_model_refuses_non_integer_ids(ktl, errors):
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,), dtype="int32")
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(L.Embedding(10, 3)(inp))))
    an = ktl.create_analyzer("gradient", model)
    with pytest.raises(ValueError, match=r"(?i)integer|int|token") as e:
        an.analyze(np.full((2, 5), 1.5, "float32"))
    assert isinstance(e.value, errors.InvalidInputError)
    with pytest.raises(ValueError, match=r"(?i)range|vocab|id|token"):
        an.analyze(np.full((2, 5), 12, "int32"))  # ids beyond the vocabulary


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad, ktl, dense_model, errors):
    x = case_input("dense", batch=3)
    x[1, 2] = bad
    an = ktl.create_analyzer("lrp.epsilon", dense_model)
    with pytest.raises(ValueError, match=r"(?i)nan|inf|finite") as e:
        an.analyze(x)
    assert isinstance(e.value, errors.InvalidInputError)


def test_multi_input_model_needs_a_list(ktl):
    keras.utils.set_random_seed(0)
    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], L.Dense(2)(L.Concatenate()([a, b])))
    an = ktl.create_analyzer("gradient", model)
    with pytest.raises(ValueError, match=r"(?i)input"):
        an.analyze(rand_x((2, 3)))
    with pytest.raises(ValueError, match=r"(?i)input|shape"):
        an.analyze([rand_x((2, 3)), rand_x((2, 2)), rand_x((2, 2))])
    with pytest.raises(ValueError, match=r"(?i)batch|sample|shape"):
        an.analyze([rand_x((2, 3)), rand_x((3, 2))])
