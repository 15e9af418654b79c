"""Document vectors weighted by relevance, and their PCA picture (Arras et al. 2016, Sec. 3.5).

Arras et al. build a document vector as a linear combination of its word
embeddings, weighted by the relevances explaining the *predicted* class:

- word level: ``d' = sum_t R(w_t) * w_t``, with ``R(w_t) = sum_i R_{i,t}``
  the word relevance (their Eq. 3 and the first equation of Sec. 3.5);
- element-wise: ``d'_e.w. = sum_t (R_{1,t}, ..., R_{D,t}) ⊙ w_t``, each
  embedding dimension weighted by its own relevance;
- uniform (their baseline "SUM"): ``sum_t w_t``.

"Finally we normalize the document vectors d' resp. d'_e.w. to unit
l2-norm and perform a PCA projection", shown in 2-D, coloured by category.

Reference: L. Arras, F. Horn, G. Montavon, K.-R. Müller, W. Samek (2016).
Explaining Predictions of Non-Linear Classifiers in NLP. Workshop on
Representation Learning for NLP, ACL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.evaluation._forward import check_batch_size, check_ids, get_perturber, logits_of_variants
from keras_text_lrp.evaluation._scores import Relevance, check_targets, relevance_values
from keras_text_lrp.text.relevance import POOLINGS, word_relevance

__all__ = [
    "DOCUMENT_MODES", "PCAProjection", "document_vectors", "embedding_vectors", "model_document_vectors",
    "pca_project", "plot_document_pca",
]

DOCUMENT_MODES = ("word", "element_wise", "uniform")
"""How word embeddings are weighted into a document vector."""


def embedding_vectors(model: keras.Model, ids: Any, batch_size: int = 256) -> np.ndarray:
    """The word embeddings a token model sees: its Embedding layer's output for ``ids``.

    Parameters
    ----------
    model : keras.Model
        A model whose token-id input feeds a ``keras.layers.Embedding``.
    ids : array_like of int, shape (texts, T)
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray, shape (texts, T, D)
        Padding positions hold the embedding of id 0 (mask them out with
        ``ids != 0``).
    """
    perturber = get_perturber(model, "zero_embedding")
    ids = check_ids(ids, perturber.input_dim)
    batch_size = check_batch_size(batch_size)
    layer = perturber.embedding_layer
    parts = [ops.convert_to_numpy(layer(ids[s:s + batch_size])) for s in range(0, len(ids), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def document_vectors(
    embeddings: Any,
    relevance: Any = None,
    *,
    mode: str = "word",
    mask: Any = None,
    pooling: str = "sum",
    normalize: bool = True,
) -> np.ndarray:
    """Relevance-weighted sums of word embeddings (Arras et al. 2016, Sec. 3.5).

    - ``mode="word"``: ``d = sum_t R(w_t) * w_t`` with ``R(w_t)`` the word
      relevance; ``relevance`` is ``(N, T)`` word scores, or ``(N, T, D)``
      pooled into them with ``pooling`` (``"sum"``, the paper's Eq. 3, for LRP;
      ``"l2_squared"`` or ``"l2"`` for its SA and SA(l2) variants).
    - ``mode="element_wise"``: ``d = sum_t R_t ⊙ w_t`` with ``R_t = (R_{1,t},
      ..., R_{D,t})`` the relevance of each embedding dimension; ``relevance``
      is ``(N, T, D)``.
    - ``mode="uniform"``: ``d = sum_t w_t``, the unweighted baseline ("SUM");
      ``relevance`` must be None.

    Parameters
    ----------
    embeddings : array_like, shape (N, T, D)
        The word vectors of each position (e.g. :func:`embedding_vectors`).
    relevance : array_like, optional
        See ``mode``.
    mode : {"word", "element_wise", "uniform"}, default "word"
    mask : array_like of bool, shape (N, T), optional
        True for real words (e.g. ``ids != 0``); other positions are left out
        of the sum. Default: every position.
    pooling : {"sum", "l2", "l2_squared", "max_abs"}, default "sum"
        Word pooling of ``(N, T, D)`` relevances in ``"word"`` mode.
    normalize : bool, default True
        Scale each vector to unit l2 norm, as in the paper (an all-zero vector
        stays zero).

    Returns
    -------
    numpy.ndarray of float64, shape (N, D)
    """
    if mode not in DOCUMENT_MODES:
        raise InvalidArgumentError(f"mode must be one of {DOCUMENT_MODES}, got {mode!r}.")
    if pooling not in POOLINGS:
        raise InvalidArgumentError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 3:
        raise InvalidInputError(f"embeddings must have shape (N, T, D), got {emb.shape}.")
    keep = np.ones(emb.shape[:2], bool) if mask is None else np.asarray(mask).astype(bool)
    if keep.shape != emb.shape[:2]:
        raise InvalidInputError(f"mask must have shape {emb.shape[:2]} (N, T), got {keep.shape}.")
    if mode == "uniform":
        if relevance is not None:
            raise InvalidArgumentError("mode='uniform' sums the embeddings unweighted; give relevance=None.")
        weights = keep[..., None].astype(np.float64)
    else:
        if relevance is None:
            raise InvalidArgumentError(f"mode={mode!r} needs relevance.")
        rel = np.asarray(relevance, dtype=np.float64)
        if mode == "element_wise":
            if rel.shape != emb.shape:
                raise InvalidInputError(
                    f"mode='element_wise' needs one relevance per embedding dimension, {emb.shape}; "
                    f"got {rel.shape}."
                )
            weights = rel * keep[..., None]
        else:
            if rel.ndim == 3 and rel.shape == emb.shape:
                rel = word_relevance(rel, pooling=pooling)
            if rel.shape != emb.shape[:2]:
                raise InvalidInputError(
                    f"mode='word' needs word relevances {emb.shape[:2]} (or {emb.shape}); got {rel.shape}."
                )
            weights = (rel * keep)[..., None]
    vectors = (weights * emb).sum(axis=1)
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return vectors


def model_document_vectors(
    model: keras.Model,
    ids: Any,
    relevance: Relevance | None = None,
    *,
    mode: str = "word",
    targets: Any = None,
    pooling: str = "sum",
    normalize: bool = True,
    batch_size: int = 256,
    analyzer_kwargs: dict | None = None,
) -> np.ndarray:
    """:func:`document_vectors` of texts, with the model's embeddings and relevances.

    As in Arras et al. (2016, Sec. 3.5) the relevances explain the predicted
    class unless ``targets`` are given.

    Parameters
    ----------
    model : keras.Model
        A token model ending in logits, its input feeding an Embedding.
    ids : array_like of int, shape (texts, T)
        Token ids, 0 = padding (left out of every sum).
    relevance : str, Analyzer, callable or numpy.ndarray, optional
        As in :func:`~keras_text_lrp.evaluation.deletion_curve`; it must give
        ``(texts, T, D)`` relevances for ``mode="element_wise"``. None for
        ``mode="uniform"``.
    mode : {"word", "element_wise", "uniform"}, default "word"
    targets : array_like of int, shape (texts,), optional
        The explained classes; by default the predicted ones.
    pooling, normalize
        As in :func:`document_vectors`.
    batch_size : int, default 256
    analyzer_kwargs : dict, optional

    Returns
    -------
    numpy.ndarray of float64, shape (texts, D)
    """
    batch_size = check_batch_size(batch_size)
    perturber = get_perturber(model, "zero_embedding")
    ids = check_ids(ids, perturber.input_dim)
    embeddings = embedding_vectors(model, ids, batch_size)
    values = None
    if mode != "uniform" and relevance is not None:
        if targets is None:
            full = logits_of_variants(perturber, ids, lambda a, b, j: np.ones(ids[a:b].shape, bool), 1,
                                      batch_size, progress=False)[0]
            chosen = full.argmax(-1).astype("int32")
        else:
            chosen = check_targets(targets, ids.shape[0], perturber.n_classes, "targets")
        values = relevance_values(model, ids, chosen, relevance, rows=np.arange(len(ids)),
                                  batch_size=batch_size, analyzer_kwargs=analyzer_kwargs)
    return document_vectors(
        embeddings, values, mode=mode, mask=ids != 0, pooling=pooling, normalize=normalize
    )


@dataclass
class PCAProjection:
    """A PCA of row vectors, from the SVD of the centred data ``X - mean = U S V^T``.

    Attributes
    ----------
    coords : numpy.ndarray, shape (N, k)
        The projections ``(X - mean) @ components.T`` (equal to ``U[:, :k] * S[:k]``).
    components : numpy.ndarray, shape (k, D)
        The first ``k`` right singular vectors (rows of ``V^T``), each signed so
        that its entry of largest magnitude is positive.
    mean : numpy.ndarray, shape (D,)
    explained_variance : numpy.ndarray, shape (k,)
        ``S**2 / (N - 1)``.
    explained_variance_ratio : numpy.ndarray, shape (k,)
        Share of the total variance.
    """

    coords: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray


def pca_project(X: Any, n_components: int = 2) -> PCAProjection:
    """Project row vectors on their first principal components (numpy SVD).

    Parameters
    ----------
    X : array_like, shape (N, D)
    n_components : int, default 2
        At most ``min(N, D)``.

    Returns
    -------
    PCAProjection
    """
    data = np.asarray(X, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise InvalidInputError(f"PCA needs at least two row vectors (N, D), got shape {data.shape}.")
    if not np.all(np.isfinite(data)):
        raise InvalidInputError("the vectors hold NaN or inf.")
    limit = min(data.shape)
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or not (
        1 <= n_components <= limit
    ):
        raise InvalidArgumentError(f"n_components must be an int in [1, {limit}], got {n_components!r}.")
    mean = data.mean(axis=0)
    centred = data - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    # Singular vectors have no sign of their own; fix one so that runs and backends agree.
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    components = vt[:n_components]
    variance = s**2 / (data.shape[0] - 1)
    total = variance.sum()
    return PCAProjection(
        coords=centred @ components.T, components=components, mean=mean,
        explained_variance=variance[:n_components],
        explained_variance_ratio=variance[:n_components] / total if total > 0 else np.zeros(n_components),
    )


def plot_document_pca(
    vectors: Any,
    categories: Sequence[Any] | np.ndarray,
    *,
    label_names: Sequence[str] | Mapping[Any, str] | None = None,
    project: bool = True,
    same_scale: bool = True,
    ncols: int | None = None,
    panel_size: float = 3.5,
    marker_size: float = 6.0,
    alpha: float = 0.7,
    legend: bool = True,
    dpi: float = 100.0,
) -> Figure:
    """Scatter the 2-D PCA projection of document vectors, coloured by category.

    One panel per weighting scheme, as Fig. 3 of Arras et al. (2016), which
    shows LRP, SA and SUM "on the same equal axis scale".

    Parameters
    ----------
    vectors : array_like (N, D) or mapping of str to array_like (N, D)
        Document vectors (e.g. :func:`document_vectors`); a mapping gives one
        titled panel per entry.
    categories : sequence, shape (N,)
        The category of each document (ints or strings), one colour each.
    label_names : sequence or mapping, optional
        Legend names of the categories (indexed by an int category, or a
        mapping category -> name).
    project : bool, default True
        Run :func:`pca_project` on each panel's vectors; False plots their
        first two columns as they are.
    same_scale : bool, default True
        Equal aspect and the same limits on every panel.
    ncols : int, optional
        Panels per row (default: all in one row, at most 4).
    panel_size : float, default 3.5
        Inches per panel.
    marker_size, alpha : float
    legend : bool, default True
    dpi : float, default 100.0

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = dict(vectors) if isinstance(vectors, Mapping) else {"": vectors}
    if not panels:
        raise InvalidArgumentError("give at least one set of document vectors.")
    cats = np.asarray(categories)
    if cats.ndim != 1:
        raise InvalidInputError(f"categories must be one value per document, got shape {cats.shape}.")
    points = {}
    for name, v in panels.items():
        array = np.asarray(v, dtype=np.float64)
        if array.ndim != 2 or array.shape[0] != len(cats):
            raise InvalidInputError(
                f"vectors {name!r} have shape {array.shape}; expected ({len(cats)}, D), "
                "one row per category value."
            )
        if project:
            points[name] = pca_project(array, 2).coords
        elif array.shape[1] < 2:
            raise InvalidInputError(f"vectors {name!r} need two columns to be plotted, got {array.shape}.")
        else:
            points[name] = array[:, :2]
    levels = list(dict.fromkeys(cats.tolist()))
    try:
        levels = sorted(levels)
    except TypeError:
        pass

    def name_of(c: Any) -> str:
        if isinstance(label_names, Mapping):
            return str(label_names.get(c, c))
        if label_names is not None and isinstance(c, (int, np.integer)) and 0 <= c < len(label_names):
            return str(label_names[c])
        return str(c)

    n = len(points)
    cols = min(n, 4) if ncols is None else max(1, int(ncols))
    rows = -(-n // cols)
    fig = Figure(figsize=(panel_size * cols, panel_size * rows + (0.6 if legend else 0.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    cmap = _category_colors(len(levels))
    for ax, (title, xy) in zip(axes, points.items()):
        for i, level in enumerate(levels):
            sel = cats == level
            ax.scatter(xy[sel, 0], xy[sel, 1], s=marker_size, alpha=alpha, color=cmap[i],
                       label=name_of(level), linewidths=0)
        ax.set_title(title)
        ax.set_xlabel("PC 1" if project else "x")
        ax.set_ylabel("PC 2" if project else "y")
    for ax in axes[n:]:
        ax.set_visible(False)
    if same_scale:
        stacked = np.concatenate(list(points.values()))
        lo, hi = stacked.min(axis=0), stacked.max(axis=0)
        half = max(float((hi - lo).max()) / 2 * 1.05, 1e-12)
        centre = (lo + hi) / 2
        for ax in axes[:n]:
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
            ax.set_aspect("equal", adjustable="box")
    if legend:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(levels), 5), frameon=False,
                   markerscale=2.0)
    fig.tight_layout(rect=(0, 0.12 if legend else 0, 1, 1))
    return fig


def _category_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
