"""Train the shipped models from the shipped data (no download).

``python -m keras_text_lrp.pretrained.train cnn|bilstm|transformer [--out DIR] [--seed 0]``

- ``cnn`` writes ``sst5-cnn``: a Kim-style CNN (GloVe-50d initialised
  Embedding, word-bigram Conv1D with ReLU, global max pooling, dropout,
  Dense logits), the model of the iNNvestigate sentiment tutorial.
- ``bilstm`` writes ``sst5-bilstm``: Embedding (GloVe-50d initialised),
  ``Bidirectional(LSTM(60, dropout=0.5))``, ``Dense(5, use_bias=False)`` logits, shaped
  like the model of Arras et al. (2017).
- ``transformer`` writes ``sst2-transformer`` (binary SST-2): a small
  BERT-style encoder (GloVe-50d initialised token Embedding plus a learned
  position embedding, two pre-LayerNorm blocks of ``MultiHeadAttention(4
  heads, key_dim 16)`` and a GELU feed-forward with residual adds, a final
  LayerNormalization, masked mean pooling, ``Dense(2)`` logits).

Each run writes ``<name>.keras``, ``<name>.vocab.json`` and the model card
``<name>.md`` into ``--out`` (default: the package's ``pretrained`` folder)
and records the SHA-256 of the first two in ``checksums.json`` there. Seeds
are fixed (``keras.utils.set_random_seed``; TensorFlow op determinism on the
TensorFlow backend). The epoch is chosen on the dev split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_text_lrp._fileio import atomic_write_text  # noqa: E402
from keras_text_lrp.datasets import SST2_LABEL_NAMES, SST5_LABEL_NAMES, load_glove, load_sst2, load_sst5  # noqa: E402,E501
from keras_text_lrp.models import (  # noqa: E402
    _CNN_MASK_WARNING,
    CHECKSUM_FILE,
    LOWERCASE,
    PRETRAINED_DIR,
    TOKENIZER_METHOD,
    PretrainedModel,
)
from keras_text_lrp.models import load as load_model  # noqa: E402
from keras_text_lrp.text import Vocabulary, ptb_unescape_tokens, tokenize  # noqa: E402

__all__ = ["SPECS", "build_bilstm", "build_cnn", "build_transformer", "glove_table", "main", "measure",
           "train"]

MAX_LEN = 60
"""Training sequence length (the longest SST-5 training sentence has 52 tokens)."""

SPECS: dict[str, dict[str, Any]] = {
    "cnn": {
        "name": "sst5-cnn",
        "filters": 200,
        "kernel_size": 2,
        "dropout": 0.5,
        "learning_rate": 1e-3,
        "batch_size": 50,
        "max_epochs": 20,
        "patience": 4,
    },
    "bilstm": {
        "name": "sst5-bilstm",
        "units": 60,
        "dropout": 0.5,
        "learning_rate": 1e-3,
        "batch_size": 32,
        "max_epochs": 20,
        "patience": 4,
    },
    "transformer": {
        "name": "sst2-transformer",
        "dataset": "sst2",
        "max_length": 64,
        "layers": 2,
        "heads": 4,
        "key_dim": 16,
        "ffn_units": 100,
        "dropout": 0.1,
        "learning_rate": 5e-4,
        "batch_size": 32,
        "max_epochs": 12,
        "patience": 3,
    },
}
"""Hyper-parameters of each model kind (``--epochs`` overrides ``max_epochs``)."""


# --------------------------------------------------------------------- data
_LOADERS = {"sst5": (load_sst5, SST5_LABEL_NAMES), "sst2": (load_sst2, SST2_LABEL_NAMES)}


def sst5_tokens(split: str, dataset: str = "sst5") -> tuple[list[list[str]], np.ndarray]:
    """Tokens (SST's PTB tokens, lowercased) and labels of a split of SST-5 (or ``dataset="sst2"``)."""
    texts, labels = _LOADERS[dataset][0](split)
    return [tokenize(text, TOKENIZER_METHOD, lowercase=LOWERCASE)[0] for text in texts], labels


def glove_table(vocab: Vocabulary, seed: int) -> tuple[np.ndarray, int]:
    """Initial embedding matrix: GloVe 6B 50d where known, random normal elsewhere.

    A vocabulary token is looked up as is, then with its PTB escapes undone
    (``-lrb-`` -> ``(``, ``\\/`` -> ``/``). Rows 0 (padding) and 1 (OOV) are 0;
    tokens without a GloVe vector get N(0, s^2), s the standard deviation of
    the GloVe values.

    Returns
    -------
    table : numpy.ndarray of float32, shape (len(vocab), 50)
    found : int
        Number of vocabulary words initialised from GloVe.
    """
    words, vectors = load_glove("sst_vocab")
    glove = dict(zip(words, vectors, strict=True))
    rng = np.random.default_rng(seed)
    table = rng.normal(0.0, float(vectors.std()), (len(vocab), vectors.shape[1])).astype("float32")
    table[:2] = 0.0
    found = 0
    for index, word in enumerate(vocab.get_vocabulary()[2:], start=2):
        vector = glove.get(word)
        if vector is None:
            vector = glove.get(ptb_unescape_tokens([word], quotes=False)[0])
        if vector is not None:
            table[index] = vector
            found += 1
    return table, found


# ------------------------------------------------------------------- models
def build_cnn(vocab_size: int, dim: int, spec: dict[str, Any], classes: int = 5) -> keras.Model:
    """Embedding(mask_zero) -> Conv1D(2, ReLU, "same", no bias) -> GlobalMaxPooling1D -> Dropout -> Dense.

    With the padding row of the embedding kept at 0, ``padding="same"`` and
    no convolution bias, the logits do not depend on how much padding follows
    a sentence: an all-padding window gives ReLU(0) = 0, never above the
    max over the sentence's (non-negative) windows, and the window (last
    word, padding) is the same as the (last word, zero padding) window that
    ``"same"`` adds to an unpadded sentence.
    """
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")(ids)
    x = keras.layers.Conv1D(
        spec["filters"], spec["kernel_size"], padding="same", use_bias=False, activation="relu",
        name="bigram_conv",
    )(x)
    x = keras.layers.GlobalMaxPooling1D(name="max_over_time")(x)
    x = keras.layers.Dropout(spec["dropout"], name="dropout")(x)
    logits = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(ids, logits, name="sst5_cnn")


def build_bilstm(vocab_size: int, dim: int, spec: dict[str, Any], classes: int = 5) -> keras.Model:
    """Embedding(mask_zero) -> Bidirectional(LSTM(units)) (concat) -> Dense(use_bias=False)."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")(ids)
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(spec["units"], dropout=spec.get("dropout", 0.0)), name="bilstm"
    )(x)
    logits = keras.layers.Dense(classes, use_bias=False, name="logits")(x)
    return keras.Model(ids, logits, name="sst5_bilstm")


def build_transformer(vocab_size: int, dim: int, spec: dict[str, Any], classes: int = 2) -> keras.Model:
    """A small BERT-style encoder of plain Keras layers (and :class:`PositionEmbedding`).

    ``Embedding(mask_zero)`` + position embedding, then ``spec["layers"]``
    blocks ``x = x + MHA(LN(x), LN(x)); x = x + FFN(LN(x))`` (pre-LayerNorm),
    a final LayerNormalization, ``GlobalAveragePooling1D`` over the
    non-padding positions (the Keras mask) and ``Dense(classes)`` logits.

    Pre-LN, not BERT's post-LN, for a reason of Keras's own: a
    ``MultiHeadAttention`` call deletes the Keras mask of the tensors it is
    given, so in a post-LN block the residual (the same tensor) would lose
    the padding mask in the model's own call and the second block and the
    pooling would see the padding. In pre-LN the attention reads a
    LayerNormalization output that nothing else reads.
    """
    from keras_text_lrp.pretrained.position import PositionEmbedding

    length = spec["max_length"]
    ids = keras.Input((length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")(ids)
    x = PositionEmbedding(length, name="position_embedding")(x)
    for i in range(spec["layers"]):
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(x)
        a = keras.layers.MultiHeadAttention(
            spec["heads"], spec["key_dim"], dropout=spec["dropout"], name=f"block{i}_attention"
        )(h, h)
        x = keras.layers.Add(name=f"block{i}_attention_residual")([x, a])
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ffn_norm")(x)
        h = keras.layers.Dense(spec["ffn_units"], activation="gelu", name=f"block{i}_ffn_in")(h)
        h = keras.layers.Dense(dim, name=f"block{i}_ffn_out")(h)
        h = keras.layers.Dropout(spec["dropout"], name=f"block{i}_ffn_dropout")(h)
        x = keras.layers.Add(name=f"block{i}_ffn_residual")([x, h])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    x = keras.layers.Dropout(spec["dropout"], name="dropout")(x)
    logits = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(ids, logits, name="sst2_transformer")


_BUILDERS = {"cnn": build_cnn, "bilstm": build_bilstm, "transformer": build_transformer}


class _KeepPaddingRowZero(keras.callbacks.Callback):
    """Reset row 0 (padding) of the Embedding to zero after every training step."""

    def __init__(self, layer: keras.layers.Embedding) -> None:
        super().__init__()
        self.layer = layer

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        table = keras.ops.convert_to_numpy(self.layer.embeddings)
        if np.any(table[0]):
            table[0] = 0.0
            self.layer.embeddings.assign(table)


# ------------------------------------------------------------- measurement
def measure(pretrained: PretrainedModel, split: str, dataset: str = "sst5") -> dict[str, float]:
    """Accuracy and mean cross-entropy of a model on a split of SST-5 (or SST-2), in one forward pass.

    The texts go through ``pretrained.encode`` (padded to the split's
    longest sentence, or to the model's fixed length), exactly as the tests
    recompute them.
    """
    texts, labels = _LOADERS[dataset][0](split)
    ids = pretrained.encode(texts)
    logits = keras.ops.convert_to_numpy(pretrained.model(ids, training=False)).astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return {
        "sentences": len(texts),
        "accuracy": float(np.mean(np.argmax(logits, axis=1) == labels)),
        "loss": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------- train
def train(kind: str, out_dir: str | os.PathLike[str] | None = None, seed: int = 0,
          max_epochs: int | None = None, verbose: int = 2) -> dict[str, Any]:
    """Train one model kind, save it with its vocabulary and card, and return the report.

    Parameters
    ----------
    kind : {"cnn", "bilstm", "transformer"}
        Which model.
    out_dir : str or os.PathLike, optional
        Output folder (created if needed); the package's ``pretrained`` folder by default.
    seed : int, default 0
        Seed for Keras, NumPy, Python and the embedding initialisation.
    max_epochs : int, optional
        Override the kind's ``max_epochs``.
    verbose : int, default 2
        Keras ``fit`` verbosity.

    Returns
    -------
    dict
        Hyper-parameters, epochs, timings, metrics per split, file sizes and digests.
    """
    if kind not in SPECS:
        raise ValueError(f"kind must be one of {tuple(SPECS)}, got {kind!r}")
    spec = dict(SPECS[kind])
    if max_epochs is not None:
        spec["max_epochs"] = int(max_epochs)
    out = Path(out_dir) if out_dir is not None else PRETRAINED_DIR
    out.mkdir(parents=True, exist_ok=True)
    backend = keras.backend.backend()
    warnings.filterwarnings("ignore", message=_CNN_MASK_WARNING, category=UserWarning)

    keras.utils.set_random_seed(seed)
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    dataset = spec.get("dataset", "sst5")
    label_names = _LOADERS[dataset][1]
    max_len = spec.get("max_length", MAX_LEN)
    train_tokens, y_train = sst5_tokens("train", dataset)
    dev_tokens, y_dev = sst5_tokens("dev", dataset)
    vocab = Vocabulary.from_tokens(train_tokens, min_count=1)
    table, found = glove_table(vocab, seed)
    x_train, _ = vocab.encode(train_tokens, max_len=max_len)
    x_dev, _ = vocab.encode(dev_tokens, max_len=max_len)

    build = _BUILDERS[kind]
    model = build(len(vocab), table.shape[1], spec, len(label_names))
    embedding = model.get_layer("embedding")
    embedding.embeddings.assign(table)
    model.compile(
        optimizer=keras.optimizers.Adam(spec["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=spec["patience"], restore_best_weights=True
    )
    print(f"Training {spec['name']} on {dataset.upper()} ({len(x_train)} sentences, vocabulary {len(vocab)}, "
          f"{found} GloVe vectors, backend {backend}, seed {seed})", flush=True)
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, validation_data=(x_dev, y_dev), epochs=spec["max_epochs"],
        batch_size=spec["batch_size"], shuffle=True, verbose=verbose,
        callbacks=[_KeepPaddingRowZero(embedding), stopper],
    )
    seconds = time.perf_counter() - start
    epochs_run = len(history.history["loss"])
    best_epoch = int(stopper.best_epoch) + 1 if stopper.best_weights is not None else epochs_run

    # Save an uncompiled copy: no optimizer state in the file (a third of the size).
    final = build(len(vocab), table.shape[1], spec, len(label_names))
    final.set_weights(model.get_weights())
    name = spec["name"]
    model_path = out / f"{name}.keras"
    vocab_path = out / f"{name}.vocab.json"
    tmp_path = out / f".{name}.tmp.keras"
    final.save(tmp_path)
    os.replace(tmp_path, model_path)
    vocab.save(vocab_path)

    pretrained = load_model(model_path)
    metrics = {split: measure(pretrained, split, dataset) for split in ("train", "dev", "test")}
    dev_tokens_all = [t for tokens in dev_tokens for t in tokens]
    test_tokens, _ = sst5_tokens("test", dataset)
    test_tokens_all = [t for tokens in test_tokens for t in tokens]
    report = {
        "name": name,
        "kind": kind,
        "dataset": dataset,
        "max_len": max_len,
        "spec": spec,
        "seed": seed,
        "backend": backend,
        "versions": _versions(backend),
        "vocabulary_size": len(vocab),
        "glove_found": found,
        "oov_rate": {
            "dev": sum(t not in vocab for t in dev_tokens_all) / len(dev_tokens_all),
            "test": sum(t not in vocab for t in test_tokens_all) / len(test_tokens_all),
        },
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "history": {key: [float(v) for v in values] for key, values in history.history.items()},
        "train_seconds": seconds,
        "metrics": metrics,
        "summary": _layer_table(final),
        "params": int(final.count_params()),
        "files": {
            path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in (model_path, vocab_path)
        },
    }
    _update_checksums(out, {key: value["sha256"] for key, value in report["files"].items()})
    atomic_write_text(out / f"{name}.md", _card(report))
    return report


def _versions(backend: str) -> dict[str, str]:
    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__}
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    return versions


def _layer_table(model: keras.Model) -> list[tuple[str, str, str, int]]:
    rows = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape_text = str(tuple(shape.shape)) if shape is not None else ""
        rows.append((layer.name, type(layer).__name__, shape_text, int(layer.count_params())))
    return rows


def _update_checksums(out: Path, digests: dict[str, str]) -> None:
    path = out / CHECKSUM_FILE
    current: dict[str, str] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            current = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            current = {}
    current.update(digests)
    atomic_write_text(path, json.dumps(dict(sorted(current.items())), indent=2) + "\n")


# -------------------------------------------------------------------- card
_ARCHITECTURE = {
    "cnn": (
        "A Kim-style (Kim 2014) one-layer CNN, the model of the iNNvestigate sentiment tutorial:\n"
        "GloVe-initialised `Embedding(mask_zero=True)` -> `Conv1D({filters}, kernel_size={kernel_size}, "
        "padding=\"same\", use_bias=False, activation=\"relu\")` (word bigrams) -> `GlobalMaxPooling1D` -> "
        "`Dropout({dropout})` -> `Dense(5)` logits (no softmax).\n\n"
        "Two deliberate details make the logits independent of how much padding follows a sentence "
        "(a sentence alone and the same sentence in a padded batch get the same logits): the padding "
        "row (id 0) of the embedding is held at 0 during training (reset after every step), and the "
        "convolution has no bias and `padding=\"same\"`, so all-padding windows give ReLU(0) = 0 and "
        "never win the max, and the window (last word, padding) is present whether or not the "
        "sentence is padded. `Conv1D` does not use the Keras mask; this construction is what makes "
        "padding harmless."
    ),
    "bilstm": (
        "Shaped like the bidirectional LSTM of Arras et al. (2017), \"Explaining Recurrent Neural "
        "Network Predictions in Sentiment Analysis\" (WASSA 2017):\n"
        "GloVe-initialised `Embedding(mask_zero=True)` -> `Bidirectional(LSTM({units}, dropout={dropout}))` "
        "(standard Keras LSTM: tanh / sigmoid, merge mode concat, last hidden state of each direction; "
        "`dropout` drops LSTM inputs in training only) -> `Dense(5, use_bias=False)` logits (no softmax). "
        "Padding is masked, so the logits do not depend on padding.\n\n"
        "**Embedding size:** the paper's model used 60-dimensional word embeddings; the shipped "
        "GloVe vectors are 50-dimensional (GloVe 6B 50d), so this model has 50-d embeddings with "
        "60 LSTM units per direction. It is a re-implementation with the same shape, not the "
        "authors' weights."
    ),
    "transformer": (
        "A small BERT-style encoder of plain Keras layers (and the package's `PositionEmbedding`, "
        "`keras_text_lrp/pretrained/position.py`, registered for loading):\n"
        "GloVe-initialised `Embedding(mask_zero=True)` + a learned position embedding (fixed input length "
        "{max_length}), then {layers} pre-LayerNorm blocks `x = x + MultiHeadAttention({heads} heads, "
        "key_dim={key_dim}, dropout={dropout})(LN(x), LN(x)); x = x + Dropout(Dense(50)(GELU("
        "Dense({ffn_units})(LN(x)))))`, a final `LayerNormalization`, `GlobalAveragePooling1D` over the "
        "non-padding positions "
        "(the Keras mask), `Dropout({dropout})`, `Dense(2)` logits (no softmax). Padding is masked in the "
        "attention and the pooling, so the logits do not depend on padding.\n\n"
        "**Pre-LN, not BERT's post-LN**: a Keras `MultiHeadAttention` call deletes the Keras mask of the "
        "tensors it is given; in a post-LN block the residual is that same tensor, so in the model's own "
        "call the second block and the pooling would lose the padding mask. In pre-LN the attention reads a "
        "LayerNormalization output that nothing else reads. Explain it with `lrp.epsilon` (attention rule "
        "cp), `lrp.attnlrp` or the gradient family; the position embedding's share of relevance stays "
        "with the word at its position."
    ),
}

_DATA = {
    "sst5": (
        "SST-5 sentence level (Socher et al. 2013), the copy shipped in\n"
        "  `keras_text_lrp/datasets/data/sst5/` (checksummed; loaded with\n"
        "  `keras_text_lrp.datasets.load_sst5`): train 8544 / dev 1101 / test 2210 sentences, root labels\n"
        "  only (no phrase-level training)."
    ),
    "sst2": (
        "SST-2 sentence level (Socher et al. 2013, neutral sentences dropped, binary labels), the copy\n"
        "  shipped in `keras_text_lrp/datasets/data/sst2/` (checksummed; loaded with\n"
        "  `keras_text_lrp.datasets.load_sst2`): train 6920 / dev 872 / test 1821 sentences, root labels\n"
        "  only (no phrase-level training)."
    ),
}


def _card(report: dict[str, Any]) -> str:
    spec = report["spec"]
    kind = report["kind"]
    metrics = report["metrics"]
    hyper = {key: value for key, value in spec.items() if key != "name"}
    layer_rows = "\n".join(
        f"| `{name}` | {cls} | {shape} | {params:,} |" for name, cls, shape, params in report["summary"]
    )
    metric_rows = "\n".join(
        f"| {split} | {m['sentences']} | {m['accuracy']:.4f} | {m['loss']:.4f} |"
        for split, m in metrics.items()
    )
    history = report["history"]
    epoch_rows = "\n".join(
        f"| {i + 1} | {history['loss'][i]:.4f} | {history['accuracy'][i]:.4f} | "
        f"{history['val_loss'][i]:.4f} | {history['val_accuracy'][i]:.4f} |"
        for i in range(report["epochs_run"])
    )
    versions = ", ".join(f"{key} {value}" for key, value in report["versions"].items())
    files = "\n".join(
        f"| `{name}` | {info['bytes']:,} | `{info['sha256']}` |" for name, info in report["files"].items()
    )
    command = f"python -m keras_text_lrp.pretrained.train {kind}"
    if report["seed"] != 0:
        command += f" --seed {report['seed']}"
    architecture = _ARCHITECTURE[kind].format(**spec)
    dataset = report.get("dataset", "sst5")
    names = _LOADERS[dataset][1]
    what = "Five-class" if len(names) == 5 else "Binary"
    return f"""# {report['name']}

{what} sentence sentiment classifier ({dataset.upper().replace("SST", "SST-")}) shipped with keras_text_lrp
for explanation examples and tests: load it with `keras_text_lrp.models.load("{report['name']}")`.
Output: {len(names)} logits in the order of `keras_text_lrp.datasets.{dataset.upper()}_LABEL_NAMES`
({", ".join(names)}); no softmax layer (trained with `from_logits=True`).
Not meant for production use.

## Results

Measured after saving, by reloading the `.keras` file through `keras_text_lrp.models.load` and
running each whole split through `.encode` and one batched forward pass
(backend {report['backend']}):

| split | sentences | accuracy | loss (mean cross-entropy) |
| --- | ---: | ---: | ---: |
{metric_rows}

## Data

- {_DATA[dataset]} License / terms: no license file in the original archive,
  distributed by the Stanford NLP group for research; cite the paper. See
  `keras_text_lrp/datasets/data/{dataset}/README.md` and `keras_text_lrp/datasets/data/NOTICE.md`.
- Word vectors: GloVe 6B 50d (Pennington et al. 2014), the shipped subset
  `keras_text_lrp/datasets/data/glove_6b_50d/` (`load_glove("sst_vocab")`), PDDL v1.0.

## Input pipeline

- Tokens: the SST's own Penn-Treebank tokens, split on ASCII spaces and lowercased:
  `keras_text_lrp.text.tokenize(text, "{TOKENIZER_METHOD}", lowercase={LOWERCASE})` (what `.tokenize` does;
  PTB escapes such as `-lrb-` and `\\/` are kept as tokens). Raw text should be PTB-tokenized first.
- Vocabulary: every token of the training split (min_count 1), {report['vocabulary_size']:,} ids including
  padding (id 0, `""`) and out-of-vocabulary (id 1, `"[UNK]"`); saved as `{report['name']}.vocab.json`
  (`Vocabulary.save`). Out-of-vocabulary token rate: dev {report['oov_rate']['dev']:.1%},
  test {report['oov_rate']['test']:.1%}.
- Ids: int32, shape `(batch, T)`, padding 0 after the tokens (`.encode(texts)`); training used
  T = {report.get("max_len", MAX_LEN)} (no sentence is cut); {"any T works at inference"
  if kind != "transformer"
  else "the input length is fixed at " + str(report.get("max_len")) + " (`.encode` pads to it)"}.
- Embedding initialisation: GloVe 50d for {report['glove_found']:,} of the {report['vocabulary_size'] - 2:,}
  words (looked up as is, then with PTB escapes undone); N(0, s^2) with s the standard deviation of the
  GloVe values for the others; padding and OOV rows 0. The embedding is trained (non-static).
  The OOV row never receives a gradient and stays 0.

## Architecture

{architecture}

| layer | class | output shape | parameters |
| --- | --- | --- | ---: |
{layer_rows}

Total parameters: {report['params']:,}.

## Training

- Loss: sparse categorical cross-entropy on logits; optimizer Adam; no weight decay.
- Hyper-parameters: `{json.dumps(hyper)}`.
- Epoch selection: up to {spec['max_epochs']} epochs, early stopping on dev accuracy with patience
  {spec['patience']}, weights of the best dev epoch restored: {report['epochs_run']} epochs run, best epoch
  {report['best_epoch']}.
- Seed {report['seed']} (`keras.utils.set_random_seed`, TensorFlow op determinism on the TensorFlow backend;
  the embedding initialisation uses `numpy.random.default_rng(seed)`); the training batches are shuffled.
- Environment: backend {report['backend']}, CPU; {versions}.
- Training time: {report['train_seconds']:.0f} s (`fit` only).

| epoch | train loss | train accuracy | dev loss | dev accuracy |
| --- | ---: | ---: | ---: | ---: |
{epoch_rows}

(Per-epoch train numbers are running averages over the epoch in training mode (dropout active);
dev numbers are computed after each epoch with T = {report.get("max_len", MAX_LEN)}.)

## Retrain

```
{command}
```

writes `{report['name']}.keras`, `{report['name']}.vocab.json` and this card into
`keras_text_lrp/pretrained/` (`--out DIR` for another folder) and updates `checksums.json`. Results
are reproducible on the same platform and versions; other versions or CPUs may give slightly
different weights.

## Files

| file | bytes | sha256 |
| --- | ---: | --- |
{files}

The `.keras` file holds no optimizer state. It loads with `keras.saving.load_model` on the
TensorFlow and JAX backends (no custom objects).
"""


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_text_lrp.pretrained.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("kind", choices=tuple(SPECS), help="which model to train")
    parser.add_argument("--out", default=None, help="output folder (default: the package's pretrained/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the maximum number of epochs")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    report = train(args.kind, args.out, seed=args.seed, max_epochs=args.epochs, verbose=args.verbose)
    for split, m in report["metrics"].items():
        print(f"{report['name']} {split}: accuracy {m['accuracy']:.4f} loss {m['loss']:.4f}")
    print(f"epochs run {report['epochs_run']}, best {report['best_epoch']}, "
          f"fit {report['train_seconds']:.0f} s, files {report['files']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
