"""Explanations during training: :class:`ExplainCallback` for ``model.fit``.

Every ``every`` epochs the callback explains a fixed set of texts with the
model's current weights and writes

- an HTML timeline (``html=``): one heatmap row per epoch per text and method,
  escaped and self-contained as :class:`~keras_text_lrp.views.HeatmapPage`;
- TensorBoard summaries under ``log_dir``: each heatmap as markdown text
  (``explain/<method>/text_<i>``) and as an image
  (``explain_image/<method>/text_<i>``), and, when labels are given, the
  deletion AOPC of each method (``aopc/<method>``,
  :func:`keras_text_lrp.evaluation.aopc`, for the gold classes) as a scalar.
  The step is the epoch number (1-based).

The analyzers are built once, when training starts; their compiled functions
read the model's variables, so each epoch runs the same traced function on the
new weights (no retracing). The callback only reads the model: it runs the
analysis and the forward pass without ``training=True``, and touches neither
the optimizer nor any random-number state of the training.

TensorBoard summaries are written with ``tf.summary`` (the ``tensorflow``
package, a dependency of keras_text_lrp), so they are written on the JAX
backend too.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_text_lrp._fileio import atomic_write_text
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError

__all__ = ["ExplainCallback", "heatmap_markdown"]

_MD_SPECIAL = "\\`*_{}[]()#+-.!|<>&~"


def _md_escape(token: str) -> str:
    # TensorBoard renders text summaries as markdown and strips raw HTML; backslash-escape every
    # markdown character so a token such as "*" or "|" shows as itself and cannot break the table.
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in token)


def heatmap_markdown(tokens: Sequence[str], scores: Sequence[float]) -> str:
    """One text's word relevances as a markdown table (TensorBoard text summaries).

    Two rows: the tokens (markdown-escaped) and their scores with 6
    significant digits (``+``/``-`` signed).

    Parameters
    ----------
    tokens : sequence of str
    scores : sequence of float
        One per token.

    Returns
    -------
    str

    Examples
    --------
    >>> print(heatmap_markdown(["not", "bad"], [-0.5, 1.25]))
    | not | bad |
    | --- | --- |
    | -0.5 | +1.25 |
    """
    if len(tokens) != len(scores):
        raise InvalidArgumentError(f"{len(tokens)} tokens but {len(scores)} scores")
    head = "| " + " | ".join(_md_escape(t) for t in tokens) + " |"
    rule = "| " + " | ".join("---" for _ in tokens) + " |"
    values = "| " + " | ".join(f"{float(s):+.6g}" for s in scores) + " |"
    return "\n".join([head, rule, values])


def _png(tokens: list[str], scores: np.ndarray, title: str) -> np.ndarray:
    """The heatmap figure of one text as an RGB uint8 array (height, width, 3)."""
    from matplotlib.image import imread

    from keras_text_lrp.views import plot_text_heatmap

    figure = plot_text_heatmap(tokens, scores, title=title, colorbar=False, width=6.0, dpi=60)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    image = imread(buffer, format="png")[..., :3]
    return np.round(image * 255).astype("uint8")


class ExplainCallback(keras.callbacks.Callback):
    """Explain fixed texts every ``every`` epochs of ``model.fit``.

    Parameters
    ----------
    texts : sequence of str
        The texts to follow through training (raw text).
    labels : sequence of int, optional
        Their gold classes. Shown in the timeline, explained instead of the
        predicted class (``target="label"``, the default when labels are
        given), and used for the deletion AOPC scalar.
    methods : str or sequence of str, default ("lrp.epsilon",)
        Analyzer names (:data:`keras_text_lrp.ANALYZERS`).
    every : int, default 1
        Explain after every ``every``-th epoch (1-based: epochs ``every``,
        ``2 * every``, ...).
    log_dir : str or os.PathLike, optional
        TensorBoard log folder (summaries go to ``<log_dir>/explain``).
    html : str or os.PathLike, optional
        The HTML timeline, rewritten atomically after each explained epoch.
    vocabulary : Vocabulary, optional
        Required for a token-id model (its input feeds an Embedding); a
        model with a ``TextVectorization`` layer is fed the raw texts and
        explained through its own tokens.
    label_names : sequence of str, optional
        Class names for the timeline.
    target : {"label", "pred"} or int, optional
        The explained class: the gold label (default when ``labels`` are
        given), the current prediction (default otherwise), or a fixed class.
    tokenizer : str, default "treebank"
        How a token-id model's texts are split (as :func:`~keras_text_lrp.explain`).
    lowercase : bool, default False
    aopc_steps : int, default 10
        ``K`` of the AOPC scalar.
    images : bool, default True
        Also write the heatmaps as TensorBoard images.
    **analyzer_kwargs
        Options for the analyzers (``epsilon``, ``steps``, ...).

    Attributes
    ----------
    history : list of dict
        One entry per explained epoch: ``{"epoch", "seconds", "scores":
        {method: [per-text arrays]}, "logits", "target", "aopc": {method:
        float}, "seconds_aopc", "seconds_writing"}`` (``seconds``: the
        analysis; the others: AOPC, and the TensorBoard and HTML writing).
    tokens : list of list of str
        The tokens shown for each text.

    Examples
    --------
    >>> cb = ExplainCallback(["a fine film ."], labels=[1], vocabulary=vocab,  # doctest: +SKIP
    ...                      log_dir="logs", html="timeline.html")
    >>> model.fit(x, y, epochs=3, callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | None = None,
        methods: str | Sequence[str] = ("lrp.epsilon",),
        every: int = 1,
        log_dir: str | os.PathLike[str] | None = None,
        html: str | os.PathLike[str] | None = None,
        *,
        vocabulary: Any = None,
        label_names: Sequence[str] | None = None,
        target: str | int | None = None,
        tokenizer: str = "treebank",
        lowercase: bool = False,
        aopc_steps: int = 10,
        images: bool = True,
        **analyzer_kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a list of str (one text per entry), not one str.")
        self.texts = list(texts)
        if not self.texts:
            raise InvalidInputError("ExplainCallback needs at least one text.")
        for i, t in enumerate(self.texts):
            if not isinstance(t, str) or not t.strip():
                raise InvalidInputError(f"text {i} must be a non-empty str, got {t!r}.")
        self.labels = None if labels is None else np.asarray(labels)
        bad = self.labels is not None and (
            self.labels.shape != (len(self.texts),) or self.labels.dtype.kind not in "iu"
        )
        if bad:
            raise InvalidArgumentError(
                f"labels must be one int per text ({len(self.texts)}), got shape {self.labels.shape} "
                f"of {self.labels.dtype}."
            )
        self.methods = [methods] if isinstance(methods, str) else list(methods)
        if not self.methods:
            raise InvalidArgumentError("give at least one method.")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise InvalidArgumentError(f"every must be an int >= 1 (epochs), got {every!r}.")
        self.every = int(every)
        if target is None:
            target = "label" if self.labels is not None else "pred"
        if target == "label" and self.labels is None:
            raise InvalidArgumentError("target='label' needs labels=.")
        if not (target in ("label", "pred") or isinstance(target, (int, np.integer))):
            raise InvalidArgumentError(f"target must be 'label', 'pred' or an int, got {target!r}.")
        self.target = target
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.html = None if html is None else Path(html)
        self.vocabulary = vocabulary
        self.label_names = None if label_names is None else [str(n) for n in label_names]
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.aopc_steps = int(aopc_steps)
        self.images = images
        self.analyzer_kwargs = analyzer_kwargs
        self.history: list[dict] = []
        self.tokens: list[list[str]] = []
        self._analyzers: dict[str, Any] | None = None
        self._writer: Any = None
        self._text_model = False

    # ------------------------------------------------------------- set-up
    def _build(self) -> None:
        """Build the analyzers (once) and the inputs they are fed."""
        from keras_text_lrp.analyzers.registry import create_analyzer
        from keras_text_lrp.explain import _split_options

        options = _split_options(self.methods, self.analyzer_kwargs)
        self._analyzers = {
            name: create_analyzer(name, self.model, neuron_selection_mode="index", **options[name])
            for name in self.methods
        }
        first = self._analyzers[self.methods[0]]
        self._text_model = first.takes_text
        self._id_model = None  # the token-id part of a TextVectorization model, for AOPC
        if self._text_model:
            self._inputs = np.asarray(self.texts, dtype=object)
            self.tokens = first.tokens(self.texts)
            self._ids = first.vectorize(self.texts)
        else:
            if self.vocabulary is None:
                raise InvalidArgumentError(
                    "ExplainCallback on a token-id model needs vocabulary=Vocabulary(...) (or a model "
                    "with a TextVectorization layer, which is fed the raw texts)."
                )
            from keras_text_lrp.text.pipeline import TextPipeline, model_lengths

            # The one text pipeline explain() uses: same tokens, forms, cut and padding.
            fixed, least = model_lengths(self.model)
            pipeline = TextPipeline(self.vocabulary, self.tokenizer, lowercase=self.lowercase, limit=fixed,
                                    width=fixed, min_width=least)
            batch = pipeline.encode(list(self.texts))
            ids, tokens = batch.ids, [list(t) for t in batch.tokens]
            self._ids = np.asarray(ids, "int32")
            self._inputs = self._ids
            self.tokens = tokens
        if self.log_dir is not None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(self.log_dir / "explain"))

    def on_train_begin(self, logs: dict | None = None) -> None:  # noqa: D102 - Keras hook
        if self._analyzers is None or any(a.model is not self.model for a in self._analyzers.values()):
            self._build()

    # ------------------------------------------------------------ per epoch
    def explain_now(self) -> dict:
        """Explain the texts with the current weights (what each explained epoch records).

        Returns
        -------
        dict
            ``{"scores": {method: [per-text word scores]}, "logits", "target",
            "seconds"}``; the epoch hook adds ``"epoch"`` and ``"aopc"``.
        """
        entry = self._explain()
        entry.pop("_words")
        return entry

    def _explain(self) -> dict:
        if self._analyzers is None:
            self._build()
        start = time.perf_counter()
        first = self._analyzers[self.methods[0]]
        logits = first.scores(self._inputs)
        if self.target == "label":
            targets = self.labels.astype("int32")
        elif self.target == "pred":
            targets = np.argmax(logits, axis=-1).astype("int32")
        else:
            targets = np.full(len(self.texts), int(self.target), "int32")
        mask = self._ids != 0
        scores = {}
        for name, analyzer in self._analyzers.items():
            r = np.asarray(analyzer.analyze(self._inputs, neuron_selection=targets))
            words = np.where(mask, r.sum(axis=-1), 0.0)
            scores[name] = [words[i, : len(tok)] for i, tok in enumerate(self.tokens)]
        seconds = time.perf_counter() - start
        return {"scores": scores, "logits": logits, "target": targets, "seconds": seconds,
                "_words": {m: np.stack([np.pad(s, (0, self._ids.shape[1] - len(s))) for s in v])
                           for m, v in scores.items()}}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102 - Keras hook
        step = epoch + 1
        if step % self.every:
            return
        entry = self._explain()
        entry["epoch"] = step
        start = time.perf_counter()
        entry["aopc"] = self._aopc(entry) if self.labels is not None else {}
        entry["seconds_aopc"] = time.perf_counter() - start
        entry.pop("_words")
        self.history.append(entry)
        start = time.perf_counter()
        if self._writer is not None:
            self._summaries(entry)
        if self.html is not None:
            atomic_write_text(self.html, self.timeline_html())
        entry["seconds_writing"] = time.perf_counter() - start

    def _aopc(self, entry: dict) -> dict[str, float]:
        from keras_text_lrp.evaluation import aopc

        model = self.model
        if self._text_model:
            # The deletion curves delete token ids: a TextVectorization model is walked from the
            # layer's ids (the sub-model past it shares the weights being trained).
            from keras_text_lrp.model_tools import text_vectorization, token_id_model

            if self._id_model is None:
                self._id_model = token_id_model(self.model, text_vectorization(self.model))
            model = self._id_model
        return {
            name: aopc(model, self._ids, words, self.labels, steps=self.aopc_steps, progress=False).aopc
            for name, words in entry["_words"].items()
        }

    def _summaries(self, entry: dict) -> None:
        import tensorflow as tf

        step = entry["epoch"]
        with self._writer.as_default(step=step):
            for name in self.methods:
                for i, (tokens, scores) in enumerate(zip(self.tokens, entry["scores"][name], strict=True)):
                    tf.summary.text(f"explain/{name}/text_{i}", heatmap_markdown(tokens, scores))
                    if self.images:
                        image = _png(tokens, scores, f"epoch {step}, {name}, text {i}")
                        tf.summary.image(f"explain_image/{name}/text_{i}", image[None])
                if name in entry["aopc"]:
                    tf.summary.scalar(f"aopc/{name}", entry["aopc"][name])
        self._writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:  # noqa: D102 - Keras hook
        if self._writer is not None:
            self._writer.flush()

    # --------------------------------------------------------------- views
    def _label(self, k: int) -> str:
        k = int(k)
        if self.label_names and 0 <= k < len(self.label_names):
            return f"{self.label_names[k]} ({k})"
        return str(k)

    def timeline_html(self) -> str:
        """The HTML timeline so far: per text, one row per explained epoch and a column per method.

        Every token and label is HTML-escaped; the page has no JavaScript and
        loads nothing. Each word's ``data-score`` holds its exact score.
        """
        from keras_text_lrp.views.colors import resolve_vmax
        from keras_text_lrp.views.html import _CSS, _tokens_html

        out = [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f"<title>keras_text_lrp timeline</title><style>{_CSS}</style></head><body>",
            '<div class="ktl-page"><h2>Explanations during training</h2>',
            "<p>Red words speak for the explained class, blue against it (0 = white; scale per cell).</p>",
        ]
        for i, tokens in enumerate(self.tokens):
            gold = "" if self.labels is None else f"; gold label: {self._label(self.labels[i])}"
            out.append(f'<div class="ktl-card" data-text="{i}"><div class="ktl-meta">'
                       f"#{i}: {escape(self.texts[i])}{escape(gold)}</div><table><thead><tr>"
                       "<th>epoch</th><th>prediction</th><th>explained</th>")
            out.extend(f"<th>{escape(m)}</th>" for m in self.methods)
            out.append("</tr></thead><tbody>")
            for entry in self.history:
                cells = [[entry["scores"][m][i] for m in self.methods]]
                vmax = resolve_vmax(cells, "text")[0]
                pred = int(np.argmax(entry["logits"][i]))
                out.append(f'<tr data-epoch="{entry["epoch"]}"><td>{entry["epoch"]}</td>'
                           f"<td>{escape(self._label(pred))}</td>"
                           f"<td>{escape(self._label(entry['target'][i]))}</td>")
                out.extend(
                    f'<td data-method="{escape(m, quote=True)}">{_tokens_html(tokens, s, v)}</td>'
                    for m, s, v in zip(self.methods, cells[0], vmax, strict=True)
                )
                out.append("</tr>")
            out.append("</tbody></table></div>")
        out.append("</div></body></html>\n")
        return "".join(out)
