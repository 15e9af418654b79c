"""Explain whole corpora: stream texts through the analyzers into a JSON Lines file.

:func:`explain_dataset` reads texts lazily (a ``tf.data.Dataset``, a generator,
a file object, any iterable), explains them one batch at a time with analyzers
built once, and appends one JSON record per text to a ``.jsonl`` file, flushed
after every batch. Memory stays bounded by one batch. An interrupted run is
resumed by calling it again with the same arguments: the complete lines of the
file are counted, a trailing partial line (a write cut short) is cut off, and
that many inputs are skipped, so the file ends up with exactly the rows of an
uninterrupted run, none twice.

The numbers are those of :func:`keras_text_lrp.explain` on the same texts
(same tokenization, vocabulary look-up, target choice and pooling); each
record is :meth:`Explanation.to_records`'s record with an ``"id"`` first.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_text_lrp import _safety
from keras_text_lrp.checks import check_finite_ids
from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError
from keras_text_lrp.explain import _explain_batch, _setup

__all__ = ["StreamSummary", "explain_dataset"]

_BLOCK = 1 << 20


@dataclass(frozen=True)
class StreamSummary:
    """What one :func:`explain_dataset` call did.

    Attributes
    ----------
    path : pathlib.Path
        The JSON Lines file.
    resumed_from : int
        Complete records found in the file at the start (inputs skipped).
    written : int
        Records this call appended.
    total : int
        Records in the file now.
    empty : int
        Of those written, records of empty texts (with an ``"error"``).
    truncated : int
        Of those written, texts cut to the model's length.
    """

    path: Path
    resumed_from: int
    written: int
    total: int
    empty: int = 0
    truncated: int = 0


@dataclass
class _Item:
    position: int
    id: Any
    text: str
    target: Any = None


# ---------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """numpy scalars and bytes (from a tf.data.Dataset) as Python values."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value


def _is_dataset(data: Any) -> bool:
    return hasattr(data, "as_numpy_iterator") and hasattr(data, "element_spec")


def _items(data: Any) -> Iterator[_Item]:
    """Each input as (position, id, text, target)."""
    if isinstance(data, (str, bytes)):
        raise InvalidArgumentError(
            "data must be an iterable of texts (or (id, text) pairs, or dicts), not one string; "
            "wrap a single text in a list."
        )
    source = data.as_numpy_iterator() if _is_dataset(data) else iter(data)
    for position, item in enumerate(source):
        rid, target = None, None
        if isinstance(item, dict):
            if "text" not in item:
                raise InvalidInputError(f"input {position} is a dict without a 'text' key: {sorted(item)}.")
            rid, text, target = item.get("id"), item["text"], item.get("target")
        elif isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise InvalidInputError(
                    f"input {position} has {len(item)} parts; give a text or an (id, text) pair."
                )
            rid, text = item
        else:
            text = item
        text = _plain(text)
        if not isinstance(text, str):
            raise InvalidInputError(f"input {position} is a {type(text).__name__}, not a str.")
        rid, target = _plain(rid), _plain(target)
        if rid is not None:
            check_finite_ids([rid], "ids", start=position)
        yield _Item(position, position if rid is None else rid, text, target)


def _total(data: Any, total: int | None) -> int | None:
    if total is not None:
        return total
    if _is_dataset(data):
        n = int(data.cardinality())
        return n if n >= 0 else None
    try:
        return len(data)
    except TypeError:
        return None


# ---------------------------------------------------------------------------
# the output file
# ---------------------------------------------------------------------------
def _complete_records(path: Path) -> tuple[int, int, bytes]:
    """Number of complete lines, the offset after the last one, and the last one (bounded reads)."""
    count, end, last, tail, pos = 0, 0, b"", b"", 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            i = block.rfind(b"\n")
            if i >= 0:
                count += block.count(b"\n")
                j = block.rfind(b"\n", 0, i)
                last = tail + block[:i] if j < 0 else block[j + 1 : i]
                end = pos + i + 1
                tail = block[i + 1 :]
            else:
                tail += block
            pos += len(block)
    return count, end, last


def _params_path(path: Path) -> Path:
    """The sidecar recording the parameters of the run that writes ``path``."""
    return path.with_name(path.name + ".params.json")


def _model_identity(model: Any) -> dict:
    """The model's name, input/output shapes and a SHA-256 of its weights (the same model, same numbers)."""
    import hashlib

    from keras import ops

    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(ops.convert_to_numpy(weight)).tobytes())
    return {"name": model.name, "weights_sha256": digest.hexdigest(),
            "outputs": [list(t.shape) for t in model.outputs]}


def _run_parameters(model: Any, methods: list[str], analyzer_kwargs: dict, **settings: Any) -> dict:
    """What decides the records: model, methods and options, tokenizer, padding, target, batching."""
    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return repr(value)

    return json.loads(json.dumps({
        "model": _model_identity(model), "methods": methods,
        "options": {k: plain(v) for k, v in sorted(analyzer_kwargs.items())},
        **{k: plain(v) for k, v in settings.items()},
    }))


def _differences(recorded: dict, current: dict) -> list[str]:
    keys = sorted(set(recorded) | set(current))
    return [f"{k}: file {recorded.get(k)!r}, now {current.get(k)!r}" for k in keys
            if recorded.get(k) != current.get(k)]


def _validate_lines(path: Path, end: int) -> None:
    """Every complete line of ``path`` (up to ``end``) is a JSON object with an ``"id"``; else refused."""
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            if offset >= end:
                break
            offset += len(raw)
            try:
                record = json.loads(raw.decode("utf-8"))
                ok = isinstance(record, dict) and "id" in record
            except ValueError:
                ok = False
            if not ok:
                raise InvalidArgumentError(
                    f"{_safety.printable(str(path), one_line=True)!r} line {number} is not a record "
                    "written by explain_dataset (a JSON object with an 'id'); the file was left as it "
                    "was: give another path, or resume=False to overwrite it."
                )


def _prepare(path: Path, resume: bool, params: dict, batch_size: int) -> int:
    """Records kept in ``path`` and the last one; the file is validated *before* anything is cut.

    A resume keeps whole batches only (records up to the last batch boundary),
    so that the remaining batches are those of an uninterrupted run and their
    numbers are identical.
    """
    sidecar = _params_path(path)
    if not path.exists() or not resume:
        path.write_bytes(b"")
        _write_params(sidecar, params)
        return 0
    count, end, _ = _complete_records(path)
    if sidecar.exists():
        try:
            recorded = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidArgumentError(
                f"cannot read the run parameters {str(sidecar)!r} of {str(path)!r}: {error}; "
                "give resume=False to start afresh."
            ) from None
        differ = _differences(recorded, params)
        if differ:
            raise InvalidArgumentError(
                f"{str(path)!r} was written with other parameters ({'; '.join(differ)}); resuming would "
                "mix records of different runs: give the same arguments, another path, or resume=False."
            )
    elif path.stat().st_size and not count:
        raise InvalidArgumentError(
            f"{_safety.printable(str(path), one_line=True)!r} holds no record written by explain_dataset "
            "(no complete JSON line, no run parameters beside it); the file was left as it was: give "
            "another path, or resume=False to overwrite it."
        )
    _validate_lines(path, end)
    if path.stat().st_size != end:  # a torn last line, in a file whose other lines validated
        with path.open("r+b") as handle:
            handle.truncate(end)
    if not sidecar.exists():
        _write_params(sidecar, params)
    return count


def _offset_after_lines(path: Path, n: int) -> int:
    offset = 0
    with path.open("rb") as handle:
        for _, raw in zip(range(n), handle):
            offset += len(raw)
    return offset


def _line_at(path: Path, index: int) -> bytes:
    with path.open("rb") as handle:
        for i, raw in enumerate(handle):
            if i == index:
                return raw
    raise InvalidArgumentError(f"{str(path)!r} has fewer than {index + 1} lines.")


def _write_params(sidecar: Path, params: dict) -> None:
    from keras_text_lrp._fileio import atomic_write_text

    atomic_write_text(sidecar, json.dumps(params, indent=1, sort_keys=True) + "\n")


def _refuse_same_as_input(path: Path, data: Any) -> None:
    """Refuse ``path`` when it is the file the data comes from (a file object, or a file open for reading)."""
    inputs = []
    name = getattr(data, "name", None)
    if isinstance(name, (str, os.PathLike)):
        inputs.append(("the data", name))
    inputs.extend(("the data (a file open for reading)", p) for p in _files_open_for_reading())
    _safety.check_distinct([("the output", str(path))], inputs, InvalidArgumentError)


def _files_open_for_reading() -> list[str]:
    """Regular files this process has open for reading (Linux ``/proc``; none elsewhere)."""
    found = []
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = int(next(line for line in info if line.startswith("flags:")).split()[1], 8)
        except (OSError, StopIteration, ValueError):
            continue
        if target.startswith("/") and flags & 3 in (os.O_RDONLY, os.O_RDWR) and os.path.isfile(target):
            found.append(target)
    return found


def _empty_record(item: _Item, methods: list[str], include_text: bool) -> dict:
    record = {"id": item.id, **({"text": item.text} if include_text else {})}
    record.update({"tokens": [], "offsets": [], "scores": {m: [] for m in methods}, "logits": None,
                   "predicted": None, "target": None, "error": "empty text"})
    return record


def _check_resumed(path: Path, done: int, last: dict, skipped: list[_Item]) -> None:
    """The last record written must be the one of input ``done - 1`` (same id, and text if kept)."""
    if not skipped:
        raise InvalidArgumentError(
            f"{str(path)!r} already holds {done} records but the data has fewer inputs; it was written "
            "from other data (give resume=False to start afresh)."
        )
    item = skipped[0]
    if json.loads(json.dumps(item.id)) != last["id"] or last.get("text", item.text) != item.text:
        raise InvalidArgumentError(
            f"{str(path)!r} ends with the record of id {last['id']!r}, but input {done - 1} is id "
            f"{item.id!r} with another text: the file was written from other data (give resume=False "
            "to start afresh)."
        )


def _batch_target(batch: list[_Item], target: Any) -> Any:
    given = [item.target for item in batch]
    if all(t is None for t in given):
        return target
    if any(t is None for t in given):
        raise InvalidInputError(
            "some inputs give a 'target' and others do not; give it for every input or for none."
        )
    return np.asarray(given)


# ---------------------------------------------------------------------------
# the public function
# ---------------------------------------------------------------------------
def explain_dataset(
    model: Any,
    data: Iterable[Any],
    path: str | os.PathLike[str],
    methods: str | Sequence[str] = ("lrp.epsilon",),
    *,
    batch_size: int = 64,
    target: Any = "pred",
    vocabulary: Any = None,
    tokenizer: str = "treebank",
    lowercase: bool | None = None,
    pooling: str = "sum",
    max_len: int | None = None,
    padding: str | None = None,
    min_len: int | None = None,
    label_names: Sequence[str] | None = None,
    resume: bool = True,
    include_text: bool = True,
    progress: bool = True,
    total: int | None = None,
    fsync: bool = False,
    **analyzer_kwargs: Any,
) -> StreamSummary:
    """Explain a corpus batch by batch into a JSON Lines file, resumably.

    Parameters
    ----------
    model : keras.Model, str or PretrainedModel
        As for :func:`keras_text_lrp.explain`.
    data : iterable or tf.data.Dataset
        The texts, read once and lazily: strings (or UTF-8 bytes), ``(id,
        text)`` pairs, or dicts with ``"text"`` and optional ``"id"`` and
        ``"target"``; a ``tf.data.Dataset`` of scalar strings, pairs or such
        dicts. A record's id is the given id, else the input's position
        (0-based).
    path : str or os.PathLike
        The ``.jsonl`` output: one JSON object per line and per input.
    methods : str or sequence of str
        Analyzer names.
    batch_size : int
        Texts per batch (the unit of memory, of flushing and of progress).
    target : "pred" or int
        The class explained when the inputs give none: the predicted one, or
        one class for all.
    vocabulary, tokenizer, lowercase, pooling, max_len, padding, min_len, label_names
        As for :func:`keras_text_lrp.explain`.
    resume : bool
        Continue a file that already holds records: cut a trailing partial
        line, skip as many inputs as there are complete records (checking that
        the last record's id, and text if kept, are those of the last skipped
        input), append the rest. With False the file is started afresh.
    include_text : bool
        Store each text in its record.
    progress : bool
        Show a tqdm progress bar (on standard error).
    total : int, optional
        Number of inputs, for the progress bar (default: ``len(data)`` or the
        dataset's cardinality, when known).
    fsync : bool
        ``os.fsync`` after every batch (survives power loss, not only a killed
        process; slower).
    **analyzer_kwargs
        Options of the analyzers (``epsilon``, ``steps``, ...).

    Returns
    -------
    StreamSummary

    Raises
    ------
    InvalidArgumentError
        On bad options, or when resuming a file whose last record does not
        match the inputs (another corpus).
    InvalidInputError
        On an input that is not a text; rows before it are kept.

    Notes
    -----
    Each record: ``id``, ``text`` (unless ``include_text=False``),
    ``tokens``, ``offsets``, ``scores`` (method -> one score per token),
    ``logits``, ``predicted``, ``target`` and, for a labelled model,
    ``labels``. An empty or whitespace-only text gets a record with empty
    tokens, ``null`` logits/classes and ``"error": "empty text"`` (unlike
    :func:`explain`, which refuses it) so that records and inputs stay
    aligned for resuming. Texts longer than the model takes are cut, with
    one warning at the end.

    Examples
    --------
    >>> texts = (line.rstrip("\\n") for line in open("reviews.txt"))  # doctest: +SKIP
    >>> explain_dataset("sst5-cnn", texts, "scores.jsonl", ["lrp.epsilon", "gradient"])  # doctest: +SKIP
    """
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}.")
    if isinstance(target, str) and target != "pred":
        raise InvalidArgumentError(f"target must be 'pred' or an int, got {target!r}.")
    methods = [methods] if isinstance(methods, str) else list(methods)
    # The analyzers and the text pipeline are built (and so checked) before the file is touched;
    # the analyzers are shared with explain()'s cache and traced once.
    setup = _setup(
        model, vocabulary, label_names, methods, analyzer_kwargs, tokenizer=tokenizer, lowercase=lowercase,
        max_len=max_len, padding=padding, min_len=min_len,
    )

    path = Path(path)
    pipeline = setup.pipeline
    params = _run_parameters(
        setup.model, methods, analyzer_kwargs, target=target, tokenizer=tokenizer, lowercase=lowercase,
        pooling=pooling, max_len=setup.limit, padding=padding, min_len=min_len, label_names=setup.label_names,
        include_text=include_text, batch_size=int(batch_size),
        vocabulary_size=None if pipeline is None else len(pipeline.vocabulary),
    )
    items = _items(data)
    # The first input is read before the file is touched, so that a generator reading the output
    # file has opened it and is recognised.
    first = list(itertools.islice(items, 1))
    items = itertools.chain(first, items)
    _refuse_same_as_input(path, data)
    lock = _safety.FileLock(path)
    try:
        lock.acquire()
    except _safety.LockedError as error:
        raise InvalidArgumentError(str(error)) from None
    try:
        return _stream(path, data, items, resume, params, int(batch_size), total, progress, fsync, setup,
                       methods, target, pooling, include_text)
    finally:
        lock.release()


def _stream(path, data, items, resume, params, batch_size, total, progress, fsync, setup, methods, target,
            pooling, include_text) -> StreamSummary:  # noqa: ANN001 - the locals of explain_dataset
    """The body of :func:`explain_dataset`, run while the output's lock is held."""
    done = _prepare(path, resume, params, batch_size)
    if done:
        # Resume at a batch boundary, so that every later batch is the one of an uninterrupted run
        # (same texts together, same padding: identical numbers). A last partial batch is kept only
        # when the data ends there (the file is complete).
        keep = (done // batch_size) * batch_size
        tail = collections.deque(itertools.islice(items, keep), maxlen=1)
        rest = list(itertools.islice(items, done - keep + 1))
        if len(rest) < done - keep:
            _check_resumed(path, done, {}, [])  # fewer inputs than records: refused
        last_item = rest[done - keep - 1] if keep < done else tail[0]
        _check_resumed(path, done, json.loads(_line_at(path, done - 1)), [last_item])
        if keep < done and len(rest) == done - keep:
            return StreamSummary(path=path, resumed_from=done, written=0, total=done)
        if keep < done:
            with path.open("r+b") as handle:
                handle.truncate(_offset_after_lines(path, keep))
        items = itertools.chain(rest, items)
        done = keep

    from tqdm.auto import tqdm

    written = empty = truncated = 0
    with path.open("a", encoding="utf-8") as handle, tqdm(
        total=_total(data, total), initial=done, unit="text", disable=not progress,
        desc=f"explaining into {path.name}",
    ) as bar:
        while True:
            batch = list(itertools.islice(items, int(batch_size)))
            if not batch:
                break
            full = [item for item in batch if item.text.strip()]
            records: dict[int, dict] = {}
            if full:
                explanation, cut = _explain_batch(
                    setup, [item.text for item in full], _batch_target(full, target), pooling=pooling,
                    batch_size=int(batch_size), warn=False,
                )
                truncated += cut
                for item, record in zip(full, explanation.to_records()):
                    if not include_text:
                        del record["text"]
                    records[item.position] = {"id": item.id, **record}
            lines = []
            for item in batch:
                if item.position not in records:
                    empty += 1
                    records[item.position] = _empty_record(item, methods, include_text)
                lines.append(_safety.json_line(records[item.position]) + "\n")
            handle.write("".join(lines))
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            written += len(batch)
            bar.update(len(batch))
    if truncated:
        warnings.warn(
            f"{truncated} text(s) had more tokens than the model takes ({setup.limit}); "
            "only their first tokens were explained.", stacklevel=3,
        )
    return StreamSummary(path=path, resumed_from=done, written=written, total=done + written, empty=empty,
                         truncated=truncated)
