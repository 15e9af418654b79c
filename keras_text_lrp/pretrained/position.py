"""The learned position embedding of the shipped transformer (``sst2-transformer``).

Keras 3 has no position-embedding layer, so the shipped transformer uses this
one: it adds a trained table ``P`` (``(max_length, dim)``) to the token
embeddings, ``y[b, t] = x[b, t] + P[t]``, and passes the Keras mask
(``mask_zero``) on. The model's input has the fixed length ``max_length``, so
the added table is a constant of the analysis: keras_text_lrp inlines the
layer and routes the sum (SEMANTICS.md, "Transformer layers": the word
relevance of a position includes the position embedding's share).

Importing this module registers the layer for ``keras.saving.load_model``
(:func:`keras_text_lrp.models.load` imports it).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["PositionEmbedding"]


@keras.saving.register_keras_serializable(package="keras_text_lrp")
class PositionEmbedding(keras.layers.Layer):
    """Add a learned embedding per position: ``y[:, t] = x[:, t] + table[t]``.

    Parameters
    ----------
    max_length : int
        The sequence length (the model's fixed input length).
    initializer : str, default "glorot_uniform"
        Initializer of the table.
    **kwargs
        Keras layer arguments.
    """

    def __init__(self, max_length: int, initializer: str = "glorot_uniform", **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.initializer = initializer
        self.supports_masking = True  # the token mask passes unchanged

    def build(self, input_shape: Any) -> None:
        self.table = self.add_weight(
            name="table", shape=(self.max_length, int(input_shape[-1])), initializer=self.initializer
        )

    def call(self, x: Any) -> Any:
        # The whole table: the input has exactly max_length positions (a fixed-length Input).
        return x + ops.expand_dims(ops.cast(self.table, x.dtype), 0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "max_length": self.max_length, "initializer": self.initializer}
