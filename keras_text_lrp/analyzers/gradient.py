"""The gradient family: Gradient, Input×Gradient, Integrated Gradients,
SmoothGrad, Guided Backprop and Deconvnet (SEMANTICS.md, "Gradient family").

Each starts the backward pass from 1 at the selected neuron and takes every
layer by its vector-Jacobian product; guided backprop and deconvnet change
the ReLUs and, as iNNvestigate, start from the selected output's value
(``seed="one"``: from 1). Integrated gradients and SmoothGrad batch all path points /
noise samples into one forward and one backward pass.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from keras import ops

from keras_text_lrp import backend
from keras_text_lrp.analyzers.base import Analyzer
from keras_text_lrp.engine import GRADIENT, Composite
from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.rules.activation import DeconvReLU, GuidedReLU

__all__ = [
    "Gradient",
    "InputTimesGradient",
    "IntegratedGradients",
    "SmoothGrad",
    "GuidedBackprop",
    "Deconvnet",
    "path_nodes",
]

_POSTPROCESS = (None, "abs", "square")


class Gradient(Analyzer):
    """The gradient of the selected logit with respect to the input.

    Parameters
    ----------
    model : keras.Model
    postprocess : {None, "abs", "square"}
        Applied to the gradient.
    **kwargs
        See :class:`~keras_text_lrp.analyzers.base.Analyzer`.

    Examples
    --------
    >>> Gradient(model).analyze(x)  # doctest: +SKIP
    """

    output_seed = "gradient"

    def __init__(self, model: Any, postprocess: str | None = None, **kwargs: Any):
        if postprocess not in _POSTPROCESS:
            raise InvalidArgumentError(
                f"postprocess must be one of {_POSTPROCESS}, got {postprocess!r}."
            )
        self.postprocess = postprocess
        super().__init__(model, **kwargs)

    def composite(self) -> Composite:
        return GRADIENT

    def _explain(self, points, masks, selection, extra):
        grads = super()._explain(points, masks, selection, extra)
        return [self._post(g) for g in grads]

    def _post(self, g: Any) -> Any:
        if self.postprocess == "abs":
            return ops.abs(g)
        if self.postprocess == "square":
            return ops.square(g)
        return g

    def _gradients(self, points: list, masks: list, index: Any) -> list:
        """Gradients of the logits at ``index`` for already selected neurons."""
        record = self._engine.forward(points, masks)
        logits = record["values"][self._output_key]
        seed = self._seed(logits, index)
        return self._engine.backward(record, {self._output_key: seed}, self.composite())

    def _clean_selection(self, points: list, masks: list, selection: Any) -> Any:
        """The neurons selected on the clean input, held for every perturbed copy."""
        if self.neuron_selection_mode != "max_activation":
            return selection
        record = self._engine.forward(points, masks)
        return self._select(record["values"][self._output_key], selection)


class InputTimesGradient(Gradient):
    """``x * dy/dx``: the input times the gradient of the selected logit."""

    def __init__(self, model: Any, **kwargs: Any):
        super().__init__(model, **kwargs)

    def _explain(self, points, masks, selection, extra):
        grads = Analyzer._explain(self, points, masks, selection, extra)
        return [p * g for p, g in zip(points, grads)]


def path_nodes(steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``a_k`` in [0, 1] and weights ``w_k`` of an integration scheme.

    Parameters
    ----------
    steps : int
        ``m``, the number of intervals (Riemann) or of Gauss-Legendre nodes.
    method : str
        ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
        ``"riemann_trapezoid"`` or ``"gausslegendre"``.
    """
    m = steps
    if method == "riemann_left":
        return np.arange(m) / m, np.full(m, 1.0 / m)
    if method == "riemann_right":
        return np.arange(1, m + 1) / m, np.full(m, 1.0 / m)
    if method == "riemann_middle":
        return (np.arange(m) + 0.5) / m, np.full(m, 1.0 / m)
    if method == "riemann_trapezoid":
        w = np.full(m + 1, 1.0 / m)
        w[0] = w[-1] = 0.5 / m
        return np.arange(m + 1) / m, w
    if method == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(m)
        return (x + 1.0) / 2.0, w / 2.0
    raise InvalidArgumentError(
        f"unknown integration method {method!r}; use one of {IntegratedGradients.METHODS}."
    )


class IntegratedGradients(Gradient):
    """Integrated gradients: ``(x - x') * sum_k w_k dy/dx(x' + a_k (x - x'))``.

    Parameters
    ----------
    model : keras.Model
    reference_inputs : float or array
        The baseline ``x'``: a number, an array broadcastable to the input
        (one per sample, or one for all), or for token models either token ids
        (embedded by the model's Embedding) or vectors in embedding space.
        Default 0 (zero vectors for token models).
    steps : int
        ``m``, the number of path intervals (default 64).
    method : str
        ``"riemann_trapezoid"`` (default), ``"riemann_left"`` (iNNvestigate's
        scheme), ``"riemann_right"``, ``"riemann_middle"``, ``"gausslegendre"``.
    path_batch_size : int, optional
        How many path points go through the model together: the nodes are
        taken in equal chunks of at most this many, one chunk per step of a
        compiled loop, so that memory holds ``path_batch_size`` copies of the
        batch instead of all ``steps + 1``. Default: all at once.
    """

    METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")

    def __init__(
        self,
        model: Any,
        reference_inputs: Any = 0.0,
        steps: int = 64,
        method: str = "riemann_trapezoid",
        path_batch_size: int | None = None,
        **kwargs: Any,
    ):
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise InvalidArgumentError(f"steps must be a positive int, got {steps!r}.")
        if path_batch_size is not None and (
            not isinstance(path_batch_size, (int, np.integer)) or isinstance(path_batch_size, bool)
            or path_batch_size < 1
        ):
            raise InvalidArgumentError(
                f"path_batch_size must be a positive int or None (all path points at once), got "
                f"{path_batch_size!r}."
            )
        self.steps = int(steps)
        self.method = method
        self.path_batch_size = None if path_batch_size is None else int(path_batch_size)
        self._alphas, self._weights = _chunked(*path_nodes(self.steps, method), self.path_batch_size)
        self.reference_inputs = reference_inputs
        super().__init__(model, **kwargs)
        self._references = self._prepare_references(reference_inputs)

    def _prepare_references(self, reference: Any) -> list:
        refs = reference if isinstance(reference, (list, tuple)) else [reference] * len(self.model.inputs)
        if len(refs) != len(self.model.inputs):
            raise InvalidArgumentError(
                f"reference_inputs has {len(refs)} entries for {len(self.model.inputs)} model inputs."
            )
        tokens = self._engine.token_inputs()
        out = []
        for i, r in enumerate(refs):
            r = np.asarray(r)
            if i in tokens and r.dtype.kind in "iu" and r.ndim >= 1:
                r = ops.convert_to_numpy(tokens[i](r.astype("int32")))
            out.append(r.astype("float32"))
        return out

    def _extra_inputs(self, inputs, start, stop, batch_index):
        # A reference with one row per sample is sliced with the batch; any
        # other is broadcast, with a leading axis of 1 added.
        refs = []
        for r, x in zip(self._references, inputs):
            point_ndim = x.ndim + (1 if x.dtype.kind in "iu" else 0)
            if r.ndim == point_ndim and r.shape[0] == x.shape[0]:
                refs.append(r[start:stop])
            else:
                refs.append(r.reshape((1,) + r.shape) if r.ndim else r)
        return {"reference": refs}

    def _repeat_extra(self, extra, k):
        refs = [
            r if len(r.shape) == 0 or r.shape[0] == 1 else ops.repeat(r, k, axis=0)
            for r in extra["reference"]
        ]
        return {"reference": [ops.convert_to_tensor(r) for r in refs]}

    def _explain(self, points, masks, selection, extra):
        index = self._clean_selection(points, masks, selection)
        diffs = [p - ops.cast(r, p.dtype) for p, r in zip(points, extra["reference"])]
        alphas = ops.convert_to_tensor(self._alphas.astype("float32"))
        weights = ops.convert_to_tensor(self._weights.astype("float32"))
        k = self._alphas.shape[1]  # path points per chunk
        path_masks = [None if m is None else ops.tile(m, [k] + [1] * (len(m.shape) - 1)) for m in masks]
        path_index = ops.tile(index, [k])

        def integrate(chunk, total):
            """``total + sum_k w_k dy/dx(x' + a_k (x - x'))`` over one chunk of nodes."""
            a, w = alphas[chunk], weights[chunk]
            paths = []
            for p, d in zip(points, diffs):
                shape = (k,) + (1,) * len(p.shape)
                path = ops.expand_dims(p - d, 0) + ops.reshape(a, shape) * ops.expand_dims(d, 0)
                paths.append(ops.reshape(path, (-1,) + tuple(ops.shape(p)[1:])))
            grads = self._gradients(paths, path_masks, path_index)
            return [
                t + ops.tensordot(w, ops.reshape(g, (k, -1) + tuple(ops.shape(d)[1:])), axes=1)
                for t, g, d in zip(total, grads, diffs)
            ]

        total = [ops.zeros_like(d) for d in diffs]
        if self._alphas.shape[0] == 1:
            total = integrate(0, total)
        else:
            total = ops.fori_loop(0, self._alphas.shape[0], integrate, total)
        return [self._post(d * t) for d, t in zip(diffs, total)]


def _chunked(alphas: np.ndarray, weights: np.ndarray, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights as ``(chunks, k)`` arrays of equal chunks of at most ``size``.

    The last chunk is filled up with nodes of weight 0 (at most ``chunks - 1``
    extra gradient evaluations).
    """
    n = 1 if size is None else -(-len(alphas) // size)
    k = -(-len(alphas) // n)
    fill = n * k - len(alphas)
    alphas = np.concatenate([alphas, np.zeros(fill)])
    weights = np.concatenate([weights, np.zeros(fill)])
    return alphas.reshape(n, k), weights.reshape(n, k)


class SmoothGrad(Gradient):
    """SmoothGrad: the mean gradient over noisy copies of the input.

    ``x + N(0, sigma^2)`` with ``sigma = noise_scale * (max(x) - min(x))`` per
    sample (unlike iNNvestigate, ``noise_scale`` is honoured; with
    ``compat="innvestigate"`` the noise is ``N(0, 1)`` in absolute units, as
    iNNvestigate 2.1.2 draws it, whatever ``noise_scale`` says).

    Parameters
    ----------
    model : keras.Model
    augment_by_n : int
        The number of noisy copies (default 64).
    noise_scale : float
        Relative noise level (default 0.15, within the 10-20% the SmoothGrad
        paper recommends).
    seed : int, optional
        Makes the noise reproducible; batch ``b`` of a streamed analysis
        draws from stream ``b``.
    **kwargs
        ``postprocess`` ({None, "abs", "square"}: applied to each noisy
        gradient before averaging) and the options of :class:`Gradient`.
    """

    def __init__(
        self,
        model: Any,
        augment_by_n: int = 64,
        noise_scale: float = 0.15,
        seed: int | None = None,
        **kwargs: Any,
    ):
        if not isinstance(augment_by_n, (int, np.integer)) or augment_by_n < 1:
            raise InvalidArgumentError(f"augment_by_n must be a positive int, got {augment_by_n!r}.")
        if noise_scale < 0:
            raise InvalidArgumentError(f"noise_scale must be >= 0, got {noise_scale!r}.")
        self.augment_by_n = int(augment_by_n)
        self.noise_scale = float(noise_scale)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        super().__init__(model, **kwargs)

    def _extra_inputs(self, inputs, start, stop, batch_index):
        base = self._rng.integers(0, 2**31 - 1) if self.seed is None else self.seed
        return {"seed": np.array([base, batch_index], "int32")}

    def _explain(self, points, masks, selection, extra):
        index = self._clean_selection(points, masks, selection)
        n = self.augment_by_n
        noisy = []
        for j, p in enumerate(points):
            axes = tuple(range(1, len(p.shape)))
            spread = ops.max(p, axis=axes, keepdims=True) - ops.min(p, axis=axes, keepdims=True)
            # iNNvestigate 2.1.2 draws N(0, 1) whatever noise_scale says (compat="innvestigate").
            sigma = ops.ones_like(spread) if self.compat == "innvestigate" else self.noise_scale * spread
            seed = ops.cast(extra["seed"], "int32") + ops.convert_to_tensor([0, 1 << 20], "int32") * j
            noise = backend.normal(ops.shape(ops.tile(p, [n] + [1] * len(axes))), seed, p.dtype)
            tiled = ops.tile(p, [n] + [1] * len(axes))
            noisy.append(tiled + noise * ops.tile(sigma, [n] + [1] * len(axes)))
        tiled_masks = [None if m is None else ops.tile(m, [n] + [1] * (len(m.shape) - 1)) for m in masks]
        grads = self._gradients(noisy, tiled_masks, ops.tile(index, [n]))
        return [
            ops.mean(ops.reshape(self._post(g), (n, -1) + tuple(ops.shape(p)[1:])), axis=0)
            for g, p in zip(grads, points)
        ]


_SEEDS = ("value", "one")


class _RectifiedGradient(Gradient):
    """Guided backprop and deconvnet: seeded with the selected output's value (or 1).

    Parameters
    ----------
    model : keras.Model
    seed : {"value", "one"}
        ``"value"`` (default, as iNNvestigate): the backward pass starts from
        the selected logit's value, so a negative logit meets the
        ``relu(signal)`` steps with a negative signal; ``"one"``: the textbook
        seed 1.
    **kwargs
        See :class:`Gradient`.
    """

    def __init__(self, model: Any, seed: str = "value", **kwargs: Any):
        if seed not in _SEEDS:
            raise InvalidArgumentError(
                f"seed must be one of {_SEEDS} ('value': the selected logit, as iNNvestigate; 'one': 1), "
                f"got {seed!r}."
            )
        self.seed = seed
        self.output_seed = "logit" if seed == "value" else "gradient"
        super().__init__(model, **kwargs)


class GuidedBackprop(_RectifiedGradient):
    """Guided backpropagation: at ReLUs ``relu(signal)`` masked by the forward ReLU.

    Starts from the selected logit's value (``seed="one"``: from 1).
    """

    def composite(self) -> Composite:
        return dataclasses.replace(GRADIENT, activation=GuidedReLU())


class Deconvnet(_RectifiedGradient):
    """Deconvnet: at ReLUs ``relu(signal)``, without the forward mask.

    Starts from the selected logit's value (``seed="one"``: from 1).
    """

    def composite(self) -> Composite:
        return dataclasses.replace(GRADIENT, activation=DeconvReLU())
