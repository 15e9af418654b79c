"""word_relevance pooling maths against hand-computed numbers."""

import numpy as np
import pytest

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.text import unmasked_scores, unmasked_tokens, word_relevance

# batch 2, T 3, D 3
R = np.array(
    [
        [[0.1, -0.5, 0.3], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]],
        [[-2.0, 1.0, 2.0], [1.0, 1.0, 1.0], [-0.25, 0.0, 0.25]],
    ]
)


def test_sum():
    np.testing.assert_allclose(word_relevance(R, "sum"), [[-0.1, 7.0, 0.0], [1.0, 3.0, 0.0]], atol=1e-12)


def test_l2_and_l2_squared():
    np.testing.assert_allclose(word_relevance(R, "l2_squared"), [[0.35, 25.0, 0.0], [9.0, 3.0, 0.125]])
    np.testing.assert_allclose(word_relevance(R, "l2"), [[0.35**0.5, 5.0, 0.0], [3.0, 3**0.5, 0.125**0.5]])


def test_max_abs_keeps_sign_first_on_ties():
    # [-2, 1, 2]: |-2| == |2|, the first one (-2) wins; [-0.25, 0, 0.25] likewise gives -0.25
    np.testing.assert_allclose(word_relevance(R, "max_abs"), [[-0.5, 4.0, 0.0], [-2.0, 1.0, -0.25]])


def test_default_is_sum_and_dtype_kept():
    assert word_relevance(R.astype(np.float32)).dtype == np.float32
    assert word_relevance(np.ones((1, 2, 3), dtype=np.int64)).dtype == np.float64
    np.testing.assert_array_equal(word_relevance(R), word_relevance(R, "sum"))


@pytest.mark.parametrize("pooling", ["sum", "l2", "l2_squared", "max_abs"])
def test_mask_sets_exact_zero(pooling):
    mask = np.array([[True, False, True], [False, True, True]])
    out = word_relevance(R + 1.0, pooling, mask=mask)
    assert out[0, 1] == 0.0 and out[1, 0] == 0.0
    assert not np.signbit(out[~mask]).any()
    np.testing.assert_array_equal(out[mask], word_relevance(R + 1.0, pooling)[mask])
    ids = np.array([[5, 0, 7], [0, 3, 4]])
    np.testing.assert_array_equal(
        word_relevance(R, pooling, mask=ids != 0), word_relevance(R, pooling, mask=mask)
    )


def test_unmasked_helpers():
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    scores = word_relevance(R, mask=mask)
    kept = unmasked_scores(scores, mask)
    np.testing.assert_allclose(kept[0], [-0.1, 7.0])
    np.testing.assert_allclose(kept[1], [1.0])
    assert unmasked_tokens([["a", "b", ""], ["c", "", ""]], mask) == [["a", "b"], ["c"]]


def test_validation_errors():
    with pytest.raises(InvalidArgumentError, match="pooling must be one of"):
        word_relevance(R, "mean")
    with pytest.raises(InvalidArgumentError, match=r"shape \(batch, T, D\).*R\[None\]"):
        word_relevance(R[0])
    with pytest.raises(InvalidArgumentError, match=r"mask must have shape \(2, 3\)"):
        word_relevance(R, mask=np.ones((2, 4), bool))
    with pytest.raises(InvalidArgumentError, match="boolean"):
        word_relevance(R, mask=np.ones((2, 3)) * 0.5)
    with pytest.raises(InvalidArgumentError, match="rows"):
        unmasked_tokens([["a"]], np.ones((1, 2), bool))
