"""Shipped pretrained text classifiers: ``load("sst5-cnn")``, ``"sst5-bilstm"``, ``"sst2-transformer"``.

Each shipped model is three files in the package's ``pretrained`` folder:
``<name>.keras`` (the Keras model: int32 token ids ``(batch, T)`` in, five
SST-5 logits out, or two SST-2 logits for ``sst2-transformer`` (T fixed at
64 there), no softmax), ``<name>.vocab.json`` (its
:class:`~keras_text_lrp.text.Vocabulary`) and ``<name>.md`` (the model card:
data, architecture, hyper-parameters, measured accuracies, the command that
retrains it). The SHA-256 of the ``.keras`` and vocabulary files are listed in
``pretrained/checksums.json`` and checked on load. Nothing is downloaded.

>>> from keras_text_lrp import models
>>> clf = models.load("sst5-cnn")                                   # doctest: +SKIP
>>> ids = clf.encode(["a gorgeous , witty , seductive movie ."])  # doctest: +SKIP
>>> logits = clf.model(ids)                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_text_lrp.datasets._files import _sha256
from keras_text_lrp.datasets.sst import SST2_LABEL_NAMES, SST5_LABEL_NAMES
from keras_text_lrp.errors import InvalidArgumentError, KerasTextLRPError
from keras_text_lrp.text.tokenize import TOKENIZERS, tokenize
from keras_text_lrp.text.vocab import Vocabulary

__all__ = [
    "MODELS",
    "PRETRAINED_DIR",
    "ModelFileError",
    "PretrainedModel",
    "UnknownModelError",
    "list_models",
    "load",
]

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
"""Folder holding the shipped models, vocabularies, model cards and ``checksums.json``."""

MODELS: dict[str, str] = {
    "sst5-cnn": "Kim-style word-bigram CNN on SST-5 (GloVe-50d initialised), 5 logits",
    "sst5-bilstm": "Bidirectional LSTM(60) on SST-5 after Arras et al. 2017 (GloVe-50d init), 5 logits",
    "sst2-transformer": "2-layer BERT-style encoder (4-head attention) on SST-2 (GloVe-50d init), 2 logits",
}
"""The shipped models: name -> one-line description."""

_LABELS = {"sst2-transformer": SST2_LABEL_NAMES}
"""Class names of the shipped models that are not SST-5 ones."""

TOKENIZER_METHOD = "space"
"""Tokenizer of the shipped models: SST's own PTB tokens, split on ASCII spaces."""

LOWERCASE = True
"""The shipped models see lowercased tokens."""

CHECKSUM_FILE = "checksums.json"

# The shipped CNN feeds the masked Embedding output into a Conv1D on purpose (it is built so that
# padding cannot change its output, see its card); Keras warns about the dropped mask on every
# build and on the first call. Silence exactly that message for exactly that layer.
_CNN_MASK_WARNING = r"Layer 'bigram_conv' \(of type Conv1D\) was passed an input with a mask"


class UnknownModelError(InvalidArgumentError):
    """The name given to :func:`load` is neither a shipped model nor a ``.keras`` file."""


class ModelFileError(KerasTextLRPError):
    """A model, vocabulary or card file is missing, unreadable, damaged or inconsistent."""


@dataclass(frozen=True, eq=False)
class PretrainedModel:
    """A trained Keras text classifier together with what is needed to feed it.

    Attributes
    ----------
    name : str
        ``"sst5-cnn"``, ``"sst5-bilstm"``, or the file stem of a model loaded from a path.
    model : keras.Model
        Takes int32 token ids of shape ``(batch, T)`` (0 = padding) and returns
        logits of shape ``(batch, len(labels))``; there is no softmax.
    vocabulary : Vocabulary or None
        Token to id mapping (0 padding, 1 out-of-vocabulary); ``None`` for a
        keras-hub classifier, whose own ``preprocessor`` encodes the texts.
    labels : tuple of str
        Class names in logit order.
    card : str
        The model card (Markdown); empty if none was found.
    path : pathlib.Path
        The ``.keras`` file.
    tokenizer : str
        Method of :func:`keras_text_lrp.text.tokenize` used in training.
    lowercase : bool
        Whether tokens were lowercased in training.
    max_len : int or None
        The model's fixed input length (``sst2-transformer``: 64), to which
        :meth:`encode` pads; ``None`` for models that take any length.
    """

    name: str
    model: Any
    vocabulary: Vocabulary | None
    labels: tuple[str, ...]
    card: str
    path: Path
    tokenizer: str = TOKENIZER_METHOD
    lowercase: bool = LOWERCASE
    max_len: int | None = None

    def tokenize(self, text: str) -> list[str]:
        """Split one text into tokens exactly as the training sentences were split.

        The shipped models were trained on SST sentences, which are already
        tokenized Penn-Treebank style (``"it 's not bad ."``, brackets as
        ``-LRB-``/``-RRB-``): the text is split on ASCII spaces and
        lowercased. Raw text should be tokenized PTB style first (e.g. with
        ``keras_text_lrp.text.tokenize(text, "treebank")``, joined by spaces);
        otherwise punctuation stays glued to words and they become
        out-of-vocabulary.

        Parameters
        ----------
        text : str
            One sentence.

        Returns
        -------
        list of str
            The tokens.
        """
        return tokenize(text, self.tokenizer, lowercase=self.lowercase)[0]

    def encode(self, texts: str | Sequence[str], max_len: int | None = None) -> np.ndarray:
        """Turn texts into the padded int32 id matrix the model takes.

        Parameters
        ----------
        texts : str or sequence of str
            One text or a batch of texts (each tokenized by :meth:`tokenize`).
        max_len : int, optional
            Sequence length ``T``; by default the model's fixed input length
            (:attr:`max_len`), else the longest text's length (at least 1).
            Longer texts are cut at the end.

        Returns
        -------
        numpy.ndarray of int32, shape (B, T)
            Token ids, padding (0) after the tokens, unknown tokens 1.
        """
        if self.vocabulary is None:
            raise InvalidArgumentError(
                f"{self.name!r} is a keras-hub classifier: encode texts with its own preprocessor "
                "(model.preprocessor(texts)), or explain them with keras_text_lrp.explain"
            )
        if isinstance(texts, str):
            texts = [texts]
        token_lists = [self.tokenize(text) for text in texts]
        if max_len is None:
            max_len = self.max_len or max(1, max((len(tokens) for tokens in token_lists), default=0))
        ids, _ = self.vocabulary.encode(token_lists, max_len=max_len)
        unknown = [t for tokens in token_lists for t in tokens if t not in self.vocabulary]
        if unknown:
            shown = ", ".join(repr(t) for t in dict.fromkeys(unknown))
            warnings.warn(
                f"{len(unknown)} of {sum(map(len, token_lists))} tokens are not in the vocabulary and were "
                f"encoded as {self.vocabulary.oov_token}: {shown[:200]} (this model splits on "
                f"{self.tokenizer!r}; tokenize raw text PTB-style first, or use keras_text_lrp.explain).",
                stacklevel=2,
            )
        return ids

    def predict_logits(self, texts: str | Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Logits of texts, encoded with :meth:`encode` and run through ``model.predict``.

        Parameters
        ----------
        texts : str or sequence of str
            One text or a batch of texts.
        batch_size : int, default 256
            Texts per forward pass.

        Returns
        -------
        numpy.ndarray of float32, shape (B, len(labels))
            The logits (no softmax).
        """
        ids = self.encode(texts)
        import keras

        return np.concatenate([
            keras.ops.convert_to_numpy(self.model(ids[s : s + batch_size], training=False))
            for s in range(0, len(ids), batch_size)
        ]).astype("float32")

    def __repr__(self) -> str:
        return (
            f"PretrainedModel(name={self.name!r}, path={str(self.path)!r}, "
            f"vocabulary_size={len(self.vocabulary)}, labels={self.labels})"
        )


def list_models() -> list[str]:
    """Names of the shipped models, for :func:`load`.

    Returns
    -------
    list of str
        ``["sst2-transformer", "sst5-bilstm", "sst5-cnn"]``.
    """
    return sorted(MODELS)


def _retrain_hint(name: str) -> str:
    kind = name.removeprefix("sst5-").removeprefix("sst2-")
    return (
        f"Reinstall keras_text_lrp or rebuild the file with "
        f"`python -m keras_text_lrp.pretrained.train {kind}`."
    )


def _verify_shipped(name: str, files: Sequence[Path]) -> None:
    manifest = PRETRAINED_DIR / CHECKSUM_FILE
    try:
        digests = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(
            f"Cannot read the checksum list {str(manifest)!r} ({type(error).__name__}: {error}). "
            f"{_retrain_hint(name)}"
        ) from None
    for path in files:
        expected = digests.get(path.name) if isinstance(digests, dict) else None
        if not path.is_file():
            raise ModelFileError(f"Model file {str(path)!r} is missing. {_retrain_hint(name)}")
        if expected is None:
            raise ModelFileError(
                f"{str(manifest)!r} lists no checksum for {path.name!r}. {_retrain_hint(name)}"
            )
        actual = _sha256(path)
        if actual != expected:
            raise ModelFileError(
                f"Model file {str(path)!r} is damaged: sha256 is {actual}, expected {expected}. "
                f"{_retrain_hint(name)}"
            )


def _load_keras(path: Path, custom_objects: dict | None = None, safe_mode: bool = True) -> Any:
    import zipfile

    if not path.is_file():
        raise ModelFileError(f"Model file {str(path)!r} does not exist")
    # A .keras file is a zip archive: say so plainly rather than let Keras report "file not found".
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"Cannot load the Keras model file {str(path)!r}: it is not a readable .keras archive (not a zip "
            "archive; a .keras file is one)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        damaged = str(error) or "unreadable"
    if damaged is not None:
        raise ModelFileError(
            f"Cannot load the Keras model file {str(path)!r}: it is not a readable .keras archive (the zip "
            f"archive is truncated or damaged, at {damaged!r})"
        )
    import keras

    from keras_text_lrp.pretrained import position  # noqa: F401  (registers the transformer's layer)

    warnings.filterwarnings("ignore", message=_CNN_MASK_WARNING, category=UserWarning)
    try:
        model = keras.saving.load_model(path, compile=False, custom_objects=custom_objects,
                                        safe_mode=safe_mode)
    except Exception as error:  # any failure means the file is unusable
        text = str(error)
        unknown = re.search(r"Could not locate (?:class|function) '([^']+)'", text)
        if unknown:
            raise ModelFileError(
                f"Cannot load the Keras model file {str(path)!r}: it uses the custom class "
                f"{unknown.group(1)!r}, which is not registered; pass custom_objects={{"
                f"{unknown.group(1)!r}: TheClass}} (command line: --custom-objects module:{unknown.group(1)})"
            ) from None
        if "safe_mode" in text:
            raise ModelFileError(
                f"Cannot load the Keras model file {str(path)!r}: it holds code (a Lambda layer) that "
                "Keras only runs with safe_mode=False; if you trust the file, pass safe_mode=False "
                "(command line: --unsafe-deserialization)"
            ) from None
        reason = text.strip().splitlines()[0] if text.strip() else ""
        raise ModelFileError(
            f"Cannot load the Keras model file {str(path)!r}: it is not a readable .keras archive "
            f"({type(error).__name__}: {reason[:300]})"
        ) from None
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{str(path)!r} holds a {type(model).__name__}, not a keras.Model")
    return model


def _load_vocabulary(path: Path) -> Vocabulary:
    try:
        return Vocabulary.load(path)
    except FileNotFoundError:
        raise ModelFileError(
            f"Vocabulary file {str(path)!r} does not exist; pass vocabulary=... to load()"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFileError(
            f"Cannot read the vocabulary file {str(path)!r} ({type(error).__name__}: {error})"
        ) from None


def _embedding_input_dim(model: Any) -> int | None:
    import keras

    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
        found = _embedding_input_dim(layer)
        if found is not None:
            return found
    return None


def _text_vectorization(model: Any) -> Any:
    """The TextVectorization layer a model's input goes through, or None."""
    import keras

    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.TextVectorization):
            return layer
    return None


def _path_vocabulary(model: Any, path: Path, vocabulary: Any) -> Vocabulary:
    """The vocabulary of a ``.keras`` file: given, beside it, or its own TextVectorization's."""
    if isinstance(vocabulary, Vocabulary):
        return vocabulary
    vocab_path = Path(vocabulary) if vocabulary is not None else path.with_suffix(".vocab.json")
    layer = _text_vectorization(model)
    if vocabulary is None and layer is not None and not vocab_path.is_file():
        return Vocabulary.from_text_vectorization(layer)  # raw strings in: the layer encodes
    return _load_vocabulary(vocab_path)


def _outputs(model: Any) -> int | None:
    outputs = getattr(model, "outputs", None)
    return None if not outputs or outputs[0].shape[-1] is None else int(outputs[0].shape[-1])


def _class_count(model: Any) -> int | None:
    """Classes of the model's first output: its units, 2 for a one-unit sigmoid head."""
    units = _outputs(model)
    if units != 1:
        return units
    try:
        from keras_text_lrp.engine import Engine

        engine = Engine(model)
        head = engine.strip_head(engine.graph.outputs[0])
    except Exception:  # a graph the engine cannot read: count the units (the analyzers will say why)
        return units
    return 2 if head == "sigmoid" else units


def load(
    name_or_path: str | os.PathLike[str],
    vocabulary: str | os.PathLike[str] | Vocabulary | None = None,
    labels: Sequence[str] | None = None,
    tokenizer: str = TOKENIZER_METHOD,
    lowercase: bool = LOWERCASE,
    *,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
) -> PretrainedModel:
    """Load a shipped model by name, or a ``.keras`` file with its vocabulary.

    Works offline: the shipped files are in the package.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A name from :func:`list_models` (``"sst5-cnn"``, ``"sst5-bilstm"``),
        or the path of a ``.keras`` file (e.g. one written by
        ``python -m keras_text_lrp.pretrained.train cnn --out DIR``).
    vocabulary : str, os.PathLike or Vocabulary, optional
        Only for a path: the vocabulary (or its JSON file, from
        :meth:`Vocabulary.save`). By default ``<stem>.vocab.json`` next to
        the ``.keras`` file; for a model that begins with a
        ``TextVectorization`` layer and has no such file, the layer's own
        vocabulary (the layer then encodes the texts). The Embedding may have
        more rows than the vocabulary has tokens, not fewer.
    labels : sequence of str, optional
        Only for a path: class names in logit order. By default the SST-5
        names for a model with five classes, else the class indices
        (``"0"``, ``"1"``, ...); a one-unit sigmoid head is two classes.
    tokenizer : str, default "space"
        Only for a path: the :func:`keras_text_lrp.text.tokenize` method the
        model was trained with.
    lowercase : bool, default True
        Only for a path: whether training tokens were lowercased.
    custom_objects : dict, optional
        Only for a path: custom layer classes by name, for
        ``keras.saving.load_model``.
    safe_mode : bool, default True
        Only for a path: ``False`` lets Keras run the code a ``Lambda`` layer
        holds; only for files you trust.

    Returns
    -------
    PretrainedModel
        With ``.model``, ``.vocabulary``, ``.labels``, ``.name``, ``.card``,
        ``.tokenize(text)`` and ``.encode(texts)``. A model card
        ``<stem>.md`` next to the file is read if present.

    Raises
    ------
    UnknownModelError
        If ``name_or_path`` is neither a shipped name nor a ``.keras`` path
        (the message lists the shipped names).
    ModelFileError
        If a file is missing, unreadable, damaged (checksum) or the model does
        not fit the vocabulary; the message names the file.
    """
    if isinstance(name_or_path, str) and name_or_path in MODELS:
        if vocabulary is not None or labels is not None or (tokenizer, lowercase) != (
            TOKENIZER_METHOD,
            LOWERCASE,
        ):
            raise InvalidArgumentError(
                "vocabulary=, labels=, tokenizer= and lowercase= are only for a .keras path; "
                f"{name_or_path!r} ships with its own"
            )
        name = name_or_path
        path = PRETRAINED_DIR / f"{name}.keras"
        vocab_path = PRETRAINED_DIR / f"{name}.vocab.json"
        _verify_shipped(name, [path, vocab_path])
        vocab = _load_vocabulary(vocab_path)
        label_names = tuple(_LABELS.get(name, SST5_LABEL_NAMES))
        tokenizer, lowercase = TOKENIZER_METHOD, LOWERCASE
    else:
        vocab_path = None
        if not isinstance(name_or_path, str | os.PathLike):
            raise UnknownModelError(
                f"expected a model name or a path, got {type(name_or_path).__name__}; "
                f"shipped models: {list_models()}"
            )
        path = Path(name_or_path)
        if path.suffix != ".keras":
            raise UnknownModelError(
                f"unknown model {str(name_or_path)!r}: the shipped models are {list_models()}; "
                f"or give the path of a .keras file"
            )
        if tokenizer not in TOKENIZERS:
            raise InvalidArgumentError(f"tokenizer must be one of {TOKENIZERS}, got {tokenizer!r}")
        name = path.stem
        if not path.is_file():
            raise ModelFileError(f"Model file {str(path)!r} does not exist")
        label_names = None if labels is None else tuple(str(label) for label in labels)
    model = _load_keras(path, custom_objects, safe_mode)
    from keras_text_lrp.text.hub import hub_preprocessor

    hub = vocab_path is None and hub_preprocessor(model) is not None
    if hub and vocabulary is not None:
        raise InvalidArgumentError(
            f"{str(path)!r} is a keras-hub classifier with its own preprocessor (tokenizer and "
            "vocabulary); do not pass a vocabulary"
        )
    if hub:  # its preprocessor encodes the texts
        vocab = None
    elif vocab_path is None:  # a .keras path
        vocab = _path_vocabulary(model, path, vocabulary)
    input_dim = None if hub else _embedding_input_dim(model)
    if input_dim is not None and input_dim < len(vocab):
        raise ModelFileError(
            f"The Embedding of {str(path)!r} has {input_dim} rows but the vocabulary has {len(vocab)} "
            "tokens (an Embedding may have more rows than the vocabulary, not fewer): they do not belong "
            "together"
        )
    n_out = _class_count(model)
    if label_names is None:  # a .keras path without labels=: SST-5's for five classes, else the indices
        label_names = (tuple(SST5_LABEL_NAMES) if n_out is None or n_out == len(SST5_LABEL_NAMES)
                       else tuple(str(k) for k in range(n_out)))
    if n_out is not None and n_out != len(label_names):
        raise ModelFileError(
            f"{str(path)!r} has {n_out} classes but {len(label_names)} labels were given"
            + (" (its one-unit sigmoid head is two classes: [negative, positive])"
               if n_out == 2 and _outputs(model) == 1 else "")
        )
    card_path = path.with_suffix(".md")
    try:
        card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(
            f"Cannot read the model card {str(card_path)!r} ({type(error).__name__}: {error})"
        ) from None
    fixed = model.inputs[0].shape[1] if len(model.inputs) == 1 and len(model.inputs[0].shape) == 2 else None
    return PretrainedModel(
        max_len=int(fixed) if isinstance(fixed, int) else None,
        name=name,
        model=model,
        vocabulary=vocab,
        labels=label_names,
        card=card,
        path=path,
        tokenizer=tokenizer,
        lowercase=lowercase,
    )
