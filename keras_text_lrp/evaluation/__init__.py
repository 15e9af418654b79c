"""Faithfulness evaluation of explanations: word deletion, AOPC, ERASER, document PCA.

- :mod:`~keras_text_lrp.evaluation.deletion`: word-deletion curves with the
  protocol of Arras et al. (2016, 2017) and their random baseline.
- :mod:`~keras_text_lrp.evaluation.aopc`: AOPC (Samek et al. 2017), ERASER
  comprehensiveness and sufficiency (DeYoung et al. 2020).
- :mod:`~keras_text_lrp.evaluation.visualization`: relevance-weighted document
  vectors and their PCA picture (Arras et al. 2016, Sec. 3.5).
- :mod:`~keras_text_lrp.evaluation.plots`: figures of deletion curves.

>>> from keras_text_lrp.evaluation import deletion_curve, random_baseline, plot_deletion_curves
>>> lrp = deletion_curve(model, ids, labels, "lrp.epsilon", steps=10)  # doctest: +SKIP
>>> rnd = random_baseline(model, ids, labels, steps=10)  # doctest: +SKIP
>>> plot_deletion_curves({"LRP": lrp}, baseline=rnd).savefig("deletion.png")  # doctest: +SKIP
"""

from keras_text_lrp.evaluation._forward import DELETIONS
from keras_text_lrp.evaluation.aopc import (
    ERASER_FRACTIONS,
    OUTPUTS,
    AOPCResult,
    EraserResult,
    aopc,
    comprehensiveness_sufficiency,
    softmax,
)
from keras_text_lrp.evaluation.deletion import EXPERIMENTS, DeletionCurve, deletion_curve, random_baseline
from keras_text_lrp.evaluation.plots import plot_deletion_curves
from keras_text_lrp.evaluation.visualization import (
    DOCUMENT_MODES,
    PCAProjection,
    document_vectors,
    embedding_vectors,
    model_document_vectors,
    pca_project,
    plot_document_pca,
)

__all__ = [
    "AOPCResult", "DELETIONS", "DOCUMENT_MODES", "DeletionCurve", "ERASER_FRACTIONS", "EXPERIMENTS",
    "EraserResult", "OUTPUTS", "PCAProjection", "aopc", "comprehensiveness_sufficiency", "deletion_curve",
    "document_vectors", "embedding_vectors", "model_document_vectors", "pca_project", "plot_deletion_curves",
    "plot_document_pca", "random_baseline", "softmax",
]
