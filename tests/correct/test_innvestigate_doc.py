"""docs/innvestigate.md: its ported script runs, and its numbers are right.

The ```python block of the page is executed as it stands; then its results are checked:
the gradient and ``lrp.epsilon`` (epsilon 1e-3) against numpy on the page's two-layer ReLU
net. Both backends.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "innvestigate.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_ported_script_runs_and_gives_the_right_numbers():
    (block,) = _python_blocks()
    scope: dict = {}
    exec(compile(block, str(DOC), "exec"), scope)  # noqa: S102 - the documented script itself
    model, x, results = scope["model"], scope["x"], scope["results"]
    assert sorted(results) == ["gradient", "lrp.alpha_2_beta_1", "lrp.epsilon", "smoothgrad"]
    W1, b1 = [np.asarray(v, np.float64) for v in model.layers[1].get_weights()]
    W2, b2 = [np.asarray(v, np.float64) for v in model.layers[2].get_weights()]
    xd = x.astype(np.float64)
    z = xd @ W1 + b1
    h = np.maximum(z, 0.0)
    # gradient of logit 2 (the softmax removed by model_wo_softmax)
    np.testing.assert_allclose(results["gradient"], ((z > 0) * W2[:, 2]) @ W1.T, rtol=1e-5, atol=1e-6)

    def eps_rule(inp, W, b, R, eps=1e-3):
        zz = inp @ W + b
        zz = zz + eps * np.where(zz >= 0, 1.0, -1.0)
        return inp * ((R / zz) @ W.T)

    y = h @ W2 + b2
    R = np.zeros_like(y)
    R[:, 2] = y[:, 2]
    np.testing.assert_allclose(
        results["lrp.epsilon"], eps_rule(xd, W1, b1, eps_rule(h, W2, b2, R)), rtol=1e-4, atol=1e-6
    )
    assert results["smoothgrad"].shape == x.shape and np.isfinite(results["smoothgrad"]).all()
