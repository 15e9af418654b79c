"""Run an exported explainer on batches of raw texts: the part every corpus engine shares.

:func:`keras_text_lrp.export.export_for_serving` with ``text_signature=True``
writes a SavedModel whose ``explain_text_<method>`` signatures take raw
strings. The engines (:mod:`keras_text_lrp.beam`, :mod:`keras_text_lrp.dask`,
:mod:`keras_text_lrp.spark`) ship only the folder's path to their workers;
each worker process loads the SavedModel once (:func:`load`, cached per
process) and turns batches of inputs into records (:func:`explain_examples`).

A record has the keys of :func:`keras_text_lrp.explain`'s records except
``offsets`` (the in-graph tokenizers give none): ``id`` (when the input
gives one), ``text`` (unless ``include_text=False``), ``tokens``, ``scores``
(method -> one relevance per token), ``logits``, ``predicted``, ``target``
and ``labels`` (with ``label_names``). An empty text, or one with no token
after the export's tokenization, gets a record with empty tokens, ``None``
logits and classes and an ``"error"``; a target outside the model's classes
is refused with :class:`~keras_text_lrp.errors.InvalidInputError`.

Only TensorFlow is needed on the workers, not the model's Python code.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError

__all__ = [
    "TextExample", "add_io_arguments", "explain_examples", "load", "load_count", "parse_jsonl", "to_example",
]


def signature_name(method: str, *, text: bool = False, target: bool = False) -> str:
    """As :func:`keras_text_lrp.export.signature_name` (imported lazily: it pulls in Keras)."""
    from keras_text_lrp.export import signature_name as name

    return name(method, text=text, target=target)


class TextExample(NamedTuple):
    """One input: a text, its id and the class to explain.

    ``id`` and ``target`` may be None (no id; explain the predicted class).
    """

    text: str
    id: Any = None
    target: int | None = None


def to_example(element: Any) -> TextExample:
    """A text, an ``(id, text)`` pair or a dict with ``text`` (``id``, ``target``) as a TextExample."""
    if isinstance(element, TextExample):
        example = element
    elif isinstance(element, Mapping):
        if "text" not in element:
            raise InvalidInputError(f"an input dict has no 'text' key (keys: {sorted(element)}).")
        example = TextExample(element["text"], element.get("id"), element.get("target"))
    elif isinstance(element, (tuple, list)):
        if len(element) != 2:
            raise InvalidInputError(
                f"an input has {len(element)} parts; give a text, an (id, text) pair or a dict with 'text'."
            )
        example = TextExample(element[1], element[0])
    else:
        example = TextExample(element)
    text = example.text.decode("utf-8") if isinstance(example.text, bytes) else example.text
    if not isinstance(text, str):
        raise InvalidInputError(f"an input's text is a {type(text).__name__}, not a str: {element!r:.80}.")
    target = example.target
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, np.integer))):
        raise InvalidInputError(f"an input's target must be a class index (int), got {target!r}.")
    return TextExample(text, example.id, None if target is None else int(target))


def error_record(example: TextExample, methods: Sequence[str], include_text: bool, error: str) -> dict:
    """The record of an input that could not be explained (empty text, no token)."""
    record = {} if example.id is None else {"id": example.id}
    if include_text:
        record["text"] = example.text
    record.update({"tokens": [], "scores": {m: [] for m in methods}, "logits": None, "predicted": None,
                   "target": None, "error": error})
    return record


def signature_names(saved_model_dir: str) -> list[str]:
    """The signature names of a SavedModel, read from its ``saved_model.pb`` (nothing is loaded)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = tf.io.gfile.join(str(saved_model_dir), "saved_model.pb")
    if not tf.io.gfile.exists(path):
        raise InvalidArgumentError(
            f"{str(saved_model_dir)!r} is not a SavedModel folder (it has no saved_model.pb); give the "
            "folder export_for_serving wrote (e.g. serving/sst5/1)."
        )
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as handle:
        proto.ParseFromString(handle.read())
    return sorted({name for graph in proto.meta_graphs for name in graph.signature_def})


def check_signatures(saved_model_dir: str, methods: Sequence[str], available: Iterable[str]) -> None:
    """Refuse methods whose two text signatures (predicted / given target) were not exported."""
    available = set(available)
    wanted = [signature_name(m, text=True, target=t) for m in methods for t in (False, True)]
    missing = [name for name in wanted if name not in available]
    if missing:
        texts = sorted(n for n in available if n.startswith("explain_text_") and not n.endswith("_target"))
        raise InvalidArgumentError(
            f"the SavedModel {str(saved_model_dir)!r} has no signature(s) {missing}. Its text signatures are "
            f"{texts or 'none'}: export the methods {list(methods)} with text_signature=True "
            "(export_for_serving(..., text_signature=True) or `keras-text-lrp export MODEL DIR --text`)."
        )


def check_methods(methods: str | Sequence[str]) -> list[str]:
    """``methods`` as a non-empty list of names."""
    names = [methods] if isinstance(methods, str) else list(methods)
    if not names or not all(isinstance(m, str) and m for m in names):
        raise InvalidArgumentError(f"give at least one method name (str), got {methods!r}.")
    return names


# One loaded SavedModel per folder and process: engines call load() from every task, and a worker
# process runs many tasks, so the (seconds-long) load happens once per process, not once per batch.
_CACHE: dict[str, Any] = {}
_LOADS: dict[str, int] = {}
_LOCK = threading.Lock()


def load(saved_model_dir: str, methods: Sequence[str] = ()) -> Any:
    """The SavedModel at ``saved_model_dir``, loaded once per process (its signatures checked).

    Parameters
    ----------
    saved_model_dir : str
        A folder written by ``export_for_serving(..., text_signature=True)``
        (a local path or any filesystem TensorFlow reads, e.g. ``gs://``).
    methods : sequence of str
        Methods whose text signatures must be there.

    Returns
    -------
    object
        What ``tf.saved_model.load`` returns; later calls in this process
        return the same object.

    Raises
    ------
    InvalidArgumentError
        If the folder is not a SavedModel or lacks a method's signatures.
    """
    import tensorflow as tf

    key = str(saved_model_dir)
    with _LOCK:
        if key not in _CACHE:
            signature_names(key)  # a one-line error for a folder that is not a SavedModel
            _CACHE[key] = tf.saved_model.load(key)
            _LOADS[key] = _LOADS.get(key, 0) + 1
        loaded = _CACHE[key]
    check_signatures(key, methods, loaded.signatures.keys())
    return loaded


def load_count(saved_model_dir: str | None = None) -> int:
    """How often this process loaded ``saved_model_dir`` (all folders when None): 0 or 1."""
    if saved_model_dir is None:
        return sum(_LOADS.values())
    return _LOADS.get(str(saved_model_dir), 0)


def _classes(model: Any, method: str) -> int:
    signature = model.signatures[signature_name(method, text=True)]
    return int(signature.structured_outputs["logits"].shape[-1])


def _record(example: TextExample, outputs: dict, j: int, methods: Sequence[str],
            label_names: Sequence[str] | None, include_text: bool) -> dict:
    first = outputs[methods[0]]
    keep = first["mask"][j]
    if not keep.any():
        return error_record(example, methods, include_text, "no tokens")
    logits = first["logits"][j]
    record = {} if example.id is None else {"id": example.id}
    if include_text:
        record["text"] = example.text
    record["tokens"] = [t.decode("utf-8") for t in first["tokens"][j][keep]]
    record["scores"] = {m: [float(v) for v in outputs[m]["relevance"][j][keep]] for m in methods}
    record["logits"] = [float(v) for v in logits]
    record["predicted"] = int(np.argmax(logits))
    record["target"] = int(first["target"][j])
    if label_names is not None:
        record["labels"] = list(label_names)
    return record


def explain_examples(
    model: Any,
    examples: Sequence[Any],
    methods: Sequence[str],
    *,
    label_names: Sequence[str] | None = None,
    include_text: bool = True,
    batch_size: int = 64,
) -> list[dict]:
    """One record per input, in input order: each method's signature called once per batch and target group.

    Parameters
    ----------
    model : object
        A SavedModel from :func:`load`.
    examples : sequence
        Texts, ``(id, text)`` pairs, dicts with ``text`` (``id``, ``target``)
        or :class:`TextExample` (see :func:`to_example`).
    methods : sequence of str
        Exported method names.
    label_names : sequence of str, optional
        Stored in each record as ``labels``.
    include_text : bool
        Keep each text in its record.
    batch_size : int
        Most texts per signature call (each call is padded to its longest text).

    Returns
    -------
    list of dict

    Raises
    ------
    InvalidInputError
        For an input that is not a text, or a target outside the model's classes.
    """
    import tensorflow as tf

    examples = [to_example(e) for e in examples]
    records: list[dict | None] = [None] * len(examples)
    classes = _classes(model, methods[0])
    for i, example in enumerate(examples):
        if example.target is not None and not 0 <= example.target < classes:
            where = f"input {example.id!r}" if example.id is not None else f"input {example.text[:40]!r}"
            raise InvalidInputError(
                f"{where} has target {example.target}: the model has {classes} classes (0..{classes - 1})."
            )
        if not example.text.strip():
            # kept out of the graph: a batch in which no text has a token is refused by the SavedModel
            records[i] = error_record(example, methods, include_text, "empty text")
    for with_target in (False, True):
        rows = [i for i, e in enumerate(examples)
                if records[i] is None and (e.target is not None) == with_target]
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            inputs = {"text": tf.constant([examples[i].text for i in chunk])}
            if with_target:
                inputs["target"] = tf.constant([examples[i].target for i in chunk], tf.int32)
            outputs = {}
            for method in methods:
                signature = model.signatures[signature_name(method, text=True, target=with_target)]
                outputs[method] = {k: v.numpy() for k, v in signature(**inputs).items()}
            for j, i in enumerate(chunk):
                records[i] = _record(examples[i], outputs, j, methods, label_names, include_text)
    return records  # type: ignore[return-value]


def parse_jsonl(line: str) -> Any:
    """One JSON Lines input line as a Python object; a line that is not JSON is refused, quoting it."""
    try:
        return json.loads(line)
    except ValueError as error:
        raise InvalidInputError(f"an input line is not JSON ({error}): {line[:80]!r}") from None


def add_io_arguments(parser: argparse.ArgumentParser, *, input_help: str, output_help: str,
                     batch_option: str) -> None:
    """Add the command-line arguments every corpus engine's job takes (``python -m keras_text_lrp.<engine>``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The engine's parser; engine-specific arguments are added after these.
    input_help, output_help : str
        What ``--input`` and ``--output`` mean for the engine (file systems it reads, how it shards).
    batch_option : str
        The name of the batch-size option (Beam's RunInference calls it ``--max_batch_size``).
    """
    parser.add_argument("--saved_model", required=True, help="the exported SavedModel folder")
    parser.add_argument("--input", required=True, help=input_help)
    parser.add_argument("--output", required=True, help=output_help)
    parser.add_argument("--methods", default="lrp.epsilon", help="comma-separated exported method names")
    parser.add_argument("--input_format", choices=("text", "jsonl"), default="text",
                        help="text: one text per line; jsonl: one {'text', 'id', 'target'} object per line")
    parser.add_argument("--labels", default=None, help="comma-separated class names, stored per record")
    parser.add_argument(batch_option, type=int, default=64, help="most texts per signature call")
    parser.add_argument("--no_text", action="store_true", help="leave the texts out of the records")
