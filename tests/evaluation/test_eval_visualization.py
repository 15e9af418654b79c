"""Document vectors (Arras et al. 2016, Sec. 3.5), PCA and its figure."""

import numpy as np
import pytest
from bow_models import IDS, bow_model
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import keras_text_lrp as ktl
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.evaluation import (
    document_vectors,
    embedding_vectors,
    model_document_vectors,
    pca_project,
    plot_document_pca,
)

EMB = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])     # one text, 3 positions, D = 2
MASK = np.array([[True, True, False]])                     # the third position is padding


def test_document_vectors_by_hand():
    word = np.array([[0.5, -1.0, 7.0]])
    per_dim = np.array([[[1.0, 0.0], [2.0, -1.0], [5.0, 5.0]]])
    # word level: .5*(1,2) - 1*(3,4); element-wise: (1*1 + 2*3, 0*2 - 1*4); uniform: (1+3, 2+4)
    got = document_vectors(EMB, word, mode="word", mask=MASK, normalize=False)
    np.testing.assert_allclose(got, [[-2.5, -3.0]])
    np.testing.assert_allclose(document_vectors(EMB, per_dim, mode="element_wise", mask=MASK,
                                                normalize=False), [[7.0, -4.0]])
    uniform = document_vectors(EMB, mode="uniform", mask=MASK, normalize=False)
    np.testing.assert_allclose(uniform, [[4.0, 6.0]])
    # (T, D) relevances in word mode are pooled (sum: word relevances 1 and 1) first
    np.testing.assert_allclose(document_vectors(EMB, per_dim, mask=MASK, normalize=False), [[4.0, 6.0]])
    np.testing.assert_allclose(document_vectors(EMB, word, mask=MASK), [[-2.5, -3.0]] / np.hypot(2.5, 3.0))
    # without a mask every position counts; an all-zero vector stays zero when normalised
    np.testing.assert_allclose(document_vectors(EMB, mode="uniform", normalize=False), [[13.0, 15.0]])
    np.testing.assert_array_equal(document_vectors(EMB, np.zeros((1, 3))), [[0.0, 0.0]])
    with pytest.raises(InvalidArgumentError, match="uniform"):
        document_vectors(EMB, word, mode="uniform")
    with pytest.raises(InvalidInputError, match="element_wise"):
        document_vectors(EMB, word, mode="element_wise")


def test_model_document_vectors_on_bow_model():
    model = bow_model()
    ixg = ktl.create_analyzer("input_t_gradient", model, neuron_selection_mode="index")
    np.testing.assert_allclose(embedding_vectors(model, IDS[:1])[0, :2], [[4.0, 0.0], [0.0, 2.0]])
    # t0 = great bad good fine, predicted class 0: R_{t,d} = e_td [d = 0] / 4, word relevance e_t0 / 4
    word = model_document_vectors(model, IDS[:1], ixg, normalize=False)
    np.testing.assert_allclose(word, [[1 * 4 + 0.5 * 2 + 0.25 * 1, 0.25 * 0.5]], atol=1e-6)
    ew = model_document_vectors(model, IDS[:1], ixg, mode="element_wise", normalize=False)
    np.testing.assert_allclose(ew, [[(16 + 4 + 1) / 4, 0.0]], atol=1e-6)
    uniform = model_document_vectors(model, IDS[:1], mode="uniform", normalize=False)
    np.testing.assert_allclose(uniform, [[7.0, 2.5]], atol=1e-6)
    # explaining class 1 instead: word relevances (0, .5, 0, .125)
    other = model_document_vectors(model, IDS[:1], ixg, targets=[1], normalize=False)
    np.testing.assert_allclose(other, [[0.125 * 1, 0.5 * 2 + 0.125 * 0.5]], atol=1e-6)


def test_pca_is_the_svd_of_the_centred_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5)) * [5.0, 3.0, 1.0, 0.5, 0.1]
    pca = pca_project(X, n_components=2)
    centred = X - X.mean(0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(np.sum(pca.components * vt[:2], axis=1))                    # +-1 per component
    np.testing.assert_allclose(pca.components, vt[:2] * signs[:, None], atol=1e-12)
    np.testing.assert_allclose(pca.coords, u[:, :2] * s[:2] * signs, atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance, s[:2] ** 2 / 19)
    np.testing.assert_allclose(pca.explained_variance_ratio, s[:2] ** 2 / np.sum(s**2))
    np.testing.assert_allclose(pca.mean, X.mean(0))
    for c in pca.components:                       # the sign convention: largest loading positive
        assert c[np.argmax(np.abs(c))] > 0
    full = pca_project(X, n_components=5)
    np.testing.assert_allclose(full.coords @ full.components + full.mean, X, atol=1e-10)
    with pytest.raises(InvalidArgumentError, match="n_components"):
        pca_project(X, n_components=6)


def test_plot_document_pca_panels_and_colours():
    rng = np.random.default_rng(1)
    cats = np.array([0, 1, 2] * 5)
    panels = {"LRP": rng.normal(size=(15, 4)) + cats[:, None], "SUM": rng.normal(size=(15, 4))}
    fig = plot_document_pca(panels, cats, label_names=["comp", "rec", "sci"])
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["LRP", "SUM"]
    for ax, vectors in zip(axes, panels.values()):
        scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert [s.get_label() for s in scatters] == ["comp", "rec", "sci"]
        coords = pca_project(vectors).coords
        for level, s in enumerate(scatters):
            np.testing.assert_allclose(s.get_offsets(), coords[cats == level])
        assert len({tuple(s.get_facecolor()[0]) for s in scatters}) == 3
    assert axes[0].get_xlim() == axes[1].get_xlim() and axes[0].get_ylim() == axes[1].get_ylim()
    fig.canvas.draw()
