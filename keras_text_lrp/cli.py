"""The ``keras-text-lrp`` command line tool: explain texts, show a demo, list the shipped models, export.

::

    keras-text-lrp explain "A gorgeous, witty, seductive movie." --method lrp.epsilon --html page.html
    keras-text-lrp explain --file reviews.txt --json scores.json     # one text per line; - for stdin
    keras-text-lrp demo                                               # SST-5 sentences, 4 methods, 1 page
    keras-text-lrp models
    keras-text-lrp export sst5-cnn serving/sst5/1 --method lrp.epsilon --text  # TensorFlow Serving

The same runs as ``python -m keras_text_lrp.cli``. Problems with the command
line or its inputs (empty texts, unreadable or non-UTF-8 files, unknown models
or methods, a model that does not take token ids, ...) are reported as one
``error: ...`` line on standard error with exit status 2, and no output file
is written: HTML and JSON files are written to a temporary file next to the
destination and moved into place only once everything succeeded.

The Keras backend is the one Keras picks (``KERAS_BACKEND``, else
``~/.keras/keras.json``, else TensorFlow).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras/TensorFlow are first imported

import argparse
import contextlib
import dataclasses
import logging
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from keras_text_lrp._names import METHOD_NAMES
from keras_text_lrp._safety import check_distinct, clean_stale_temporaries, make_temporary, printable
from keras_text_lrp.errors import KerasTextLRPError

__all__ = ["DEMO_METHODS", "DEMO_SENTENCES", "CommandLineError", "build_parser", "main"]

PROG = "keras-text-lrp"
EXIT_ERROR = 2
"""Exit status of every reported error (as for argparse's usage errors)."""

DEFAULT_MODEL = "sst5-cnn"
DEFAULT_METHOD = "lrp.epsilon"
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_TOKENS = 1000
"""Default --max-tokens: longer texts are cut (with a warning) rather than run for minutes."""
LONG_TEXT_CHARS = 20_000
"""Argument texts longer than this get a progress bar, as --file does."""
DEMO_HTML = "keras_text_lrp_demo.html"
DEMO_METHODS = ("lrp.epsilon", "lrp.alpha_2_beta_1", "gradient", "integrated_gradients")
"""The methods ``keras-text-lrp demo`` shows side by side."""
DEMO_SENTENCES = (19, 24, 13, 130, 840, 1095, 46, 51, 141, 644, 4, 1074)
"""Indices into the shipped SST-5 test split of the demo sentences (short, every class, no PTB escapes)."""

_PACKAGE_DIR = Path(__file__).resolve().parent
_WARNING_SUBJECT = re.compile(r"\btext (\d+)\b")


class CommandLineError(Exception):
    """A problem with the command line or its inputs, reported as one ``error:`` line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become :class:`CommandLineError` (one line, exit status 2)."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------- small helpers
def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _target(value: str) -> str | int:
    """``pred``, a class index, or a class name (resolved once the model's labels are known)."""
    value = value.strip()
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if not value:
        raise argparse.ArgumentTypeError("expected 'pred', a class index or a class name, got ''")
    return value


def _label_names(value: str) -> list[str]:
    """The --labels value: comma-separated class names in logit order, none empty, no two alike."""
    names = [name.strip() for name in value.split(",")]
    if any(not name for name in names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated class names, got {value!r} (a name is empty)"
        )
    folded = [name.casefold() for name in names]
    alike = [name for name, key in zip(names, folded, strict=True) if folded.count(key) > 1]
    if alike:
        raise argparse.ArgumentTypeError(
            f"class names must differ (case aside) for --target NAME, got {', '.join(map(repr, alike))}"
        )
    return names


def _methods(values: Sequence[str] | None) -> list[str]:
    """The --method values (repeatable, comma-separated lists allowed), unique, in order."""
    from keras_text_lrp._names import METHOD_NAMES as ANALYZERS  # no Keras import for a usage error

    names: list[str] = []
    for value in values or [DEFAULT_METHOD]:
        for name in value.split(","):
            name = name.strip()
            if not name:
                raise CommandLineError(f"--method {value!r} holds an empty method name")
            if name not in ANALYZERS:
                raise CommandLineError(
                    f"unknown method {printable(name, one_line=True)!r}; the methods are: "
                    f"{', '.join(sorted(ANALYZERS))}"
                )
            if name not in names:
                names.append(name)
    return names


def _check_output(path: str | None, option: str, allow_stdout: bool) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    if path is None or (allow_stdout and path == "-"):
        return
    if path in ("", "-"):
        raise CommandLineError(f"{option} needs a file name, got {path!r}")
    target = Path(path)
    if target.is_dir():
        raise CommandLineError(f"{option} {path!r} is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise CommandLineError(f"cannot write {option} {path!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandLineError(f"cannot write {option} {path!r}: the folder {str(folder)!r} is not writable")


def _label(k: int, labels: Sequence[str] | None) -> str:
    return f"{labels[k]} ({k})" if labels and 0 <= k < len(labels) else str(k)


def _with_labels(pretrained: Any, names: Sequence[str] | None) -> Any:
    """``pretrained`` with the --labels class names, refused unless there is one per class."""
    if names is None:
        return pretrained
    from keras_text_lrp.models import _class_count

    classes = _class_count(pretrained.model)  # a one-unit sigmoid head is two classes
    classes = len(pretrained.labels) if classes is None else int(classes)
    if len(names) != classes:
        raise CommandLineError(
            f"--labels gives {len(names)} class name{'s' if len(names) != 1 else ''} but the model "
            f"{pretrained.name!r} has {classes} classes (logits); give {classes} comma-separated names in "
            "logit order"
        )
    return dataclasses.replace(pretrained, labels=tuple(names))


def _resolve_target(target: str | int, labels: Sequence[str]) -> str | int:
    """``"pred"`` and ints pass (explain() checks the range); a class name becomes its index."""
    if target == "pred" or isinstance(target, int):
        return target
    folded = [name.casefold() for name in labels]
    if target.casefold() in folded:
        return folded.index(target.casefold())
    raise CommandLineError(
        f"--target {target!r} is neither 'pred', a class index nor a class name of the model "
        f"({', '.join(f'{i}={name}' for i, name in enumerate(labels))})"
    )


def _emit(line: str, stream: TextIO) -> None:
    """Print a line without tearing a progress bar that may be on the terminal."""
    from tqdm import tqdm

    tqdm.write(line, file=stream)


def _token_cap(args: argparse.Namespace, pretrained: Any) -> int | None:
    """``--max-len``, else the ``--max-tokens`` cap; none for a model whose TextVectorization (or
    keras-hub preprocessor) cuts itself."""
    if args.max_len is not None:
        return args.max_len
    if pretrained.vocabulary is None:  # a keras-hub classifier: its preprocessor's sequence_length
        return None
    import keras

    layers = pretrained.model._flatten_layers(include_self=False)
    if any(isinstance(layer, keras.layers.TextVectorization) for layer in layers):
        return None
    return args.max_tokens


def _quiet_backend_logs() -> None:
    """Keep TensorFlow's Python-side logging (e.g. retracing notices) off the terminal."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)


# ------------------------------------------------------------------------------- text sources
@dataclass(frozen=True)
class _Item:
    """One text to explain and where it came from (``"text 2"``, ``"line 7"``)."""

    text: str
    where: str
    line: int | None = None


def _argument_texts(texts: Sequence[str]) -> list[_Item]:
    items = []
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            what = "empty" if not text else "whitespace only"
            raise CommandLineError(f"text {number} is {what}; there are no words to explain")
        items.append(_Item(text, f"text {number}"))
    return items


def _source_name(source: str) -> str:
    return "standard input" if source == "-" else repr(source)


def _read_lines(source: str) -> Iterator[_Item]:
    """The non-blank lines of a UTF-8 file (``-``: standard input), one text each.

    Lines are read as bytes and decoded one by one, so that a non-UTF-8 byte is
    reported with its line; a UTF-8 byte order mark at the start is skipped.
    """
    name = _source_name(source)
    if source == "-":
        stream: Any = getattr(sys.stdin, "buffer", sys.stdin)
        closing: Any = contextlib.nullcontext(stream)
    else:
        if Path(source).is_dir():
            raise CommandLineError(f"cannot read --file {name}: it is a folder")
        try:
            closing = open(source, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as error:
            raise CommandLineError(f"cannot read --file {name}: {error.strerror or error}") from None
    with closing as stream:
        for number, raw in enumerate(stream, start=1):
            if isinstance(raw, bytes):
                if number == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise CommandLineError(
                        f"{name} is not UTF-8 text: line {number} has the byte 0x{raw[error.start]:02x} "
                        f"at column {error.start + 1}; convert it (e.g. iconv -f latin1 -t utf-8)"
                    ) from None
            else:
                line = raw
            line = line.rstrip("\r\n")
            if line.strip():
                yield _Item(line, f"line {number}", number)


def _batches(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------------------- outputs
class _RecordSink:
    """JSON records written as they come, into a file that appears only when :meth:`commit` is called.

    ``fmt="json"`` writes one JSON array (one record per line); ``fmt="jsonl"``
    one record per line (JSON Lines). A path is written through a temporary
    file in the same folder, moved over the path by :meth:`commit`
    (:func:`os.replace`) and deleted by :meth:`discard`; ``"-"`` writes to
    standard output as the records come.
    """

    def __init__(self, path: str, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.count = 0
        self._tmp: str | None = None
        if path == "-":
            self._handle: TextIO = sys.stdout
        else:
            target = Path(path)
            clean_stale_temporaries(target)  # left by a killed earlier run
            self._handle, self._tmp = make_temporary(target, "w", encoding="utf-8", newline="\n")

    def write(self, records: Iterable[dict]) -> None:
        from keras_text_lrp._safety import json_line

        try:
            for record in records:
                line = json_line(record)
                if self.fmt == "jsonl":
                    self._handle.write(line + "\n")
                else:
                    self._handle.write(("[\n" if self.count == 0 else ",\n") + line)
                self.count += 1
            self._handle.flush()
        except OSError as error:
            raise self._failed(error) from None

    def _failed(self, error: OSError) -> CommandLineError:
        self.discard()
        return CommandLineError(f"cannot write --{self.fmt} {self.path!r}: {error.strerror or error} "
                                "(nothing was written)")

    def commit(self) -> None:
        try:
            if self.fmt == "json":
                self._handle.write("[]\n" if self.count == 0 else "\n]\n")
            self._handle.flush()
            if self._tmp is None:
                return
            os.fsync(self._handle.fileno())
            self._handle.close()
            target = Path(self.path)
            os.chmod(self._tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
            os.replace(self._tmp, target)
        except OSError as error:
            raise self._failed(error) from None
        self._tmp = None

    def discard(self) -> None:
        if self._tmp is None:
            return
        with contextlib.suppress(OSError):  # e.g. the disk is full: the buffered rest cannot be flushed
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
        self._tmp = None


@contextlib.contextmanager
def _relayed_warnings(items: Sequence[_Item], stream: TextIO) -> Iterator[None]:
    """Catch the warnings of one explain() call and print keras_text_lrp's as ``warning:`` lines.

    explain() numbers texts within its batch (``text 3 has ...``); the message
    is re-addressed to where the text came from (``line 12 has ...``).
    Warnings from other libraries (Keras about masks, ...) are dropped.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        try:
            ours = Path(warning.filename).resolve().is_relative_to(_PACKAGE_DIR)
        except (OSError, ValueError):
            ours = False
        if not ours:
            continue
        message = str(warning.message)
        match = _WARNING_SUBJECT.search(message)
        if match and int(match.group(1)) < len(items):
            where = items[int(match.group(1))].where
            message = message[: match.start()] + where + message[match.end():]
        _emit(printable(f"warning: {' '.join(message.split())}", one_line=True), stream)


class _Printer:
    """Coloured terminal lines of explained texts: a heading per text, one line per method."""

    def __init__(self, stream: TextIO, no_color: bool, labels: Sequence[str] | None) -> None:
        from keras_text_lrp.views import color_mode

        self.stream = stream
        self.mode = "plain" if no_color else color_mode(stream)
        self.labels = labels

    def text(self, where: str, heading: str, tokens: list[str], scores: dict[str, Any],
             oov: Sequence[bool] | None = None) -> None:
        """Print one text: ``tokens`` as the user wrote them, out-of-vocabulary ones marked."""
        from keras_text_lrp.views import colorize

        width = max(len(name) for name in scores)
        # The heading (labels, texts) is neutralised here; colorize neutralises each token itself and
        # adds the only escape sequences that reach the terminal, its colours.
        lines = [printable(f"[{where}] {heading}")]
        tokens = [printable(token, one_line=True) for token in tokens]
        for name, values in scores.items():
            shown = colorize(tokens, values, mode=self.mode, oov=oov)
            lines.append(f"    {printable(name, one_line=True):<{width}}  {shown}")
        _emit("\n".join(lines), self.stream)


class _Page:
    """Texts and scores collected batch by batch for one HTML heatmap page."""

    def __init__(self, methods: Sequence[str], labels: Sequence[str] | None) -> None:
        self.labels = labels
        self.tokens: list[list[str]] = []
        self.oov: list[list[bool]] = []
        self.scores: dict[str, list[Any]] = {name: [] for name in methods}
        self.pred: list[int] = []
        self.target: list[int] = []
        self.logits: list[Any] = []

    def add(self, explanation: Any) -> None:
        self.tokens.extend(explanation.display_tokens)  # the characters the user wrote
        self.oov.extend(explanation.oov)
        for name in self.scores:
            self.scores[name].extend(explanation.scores[name])
        self.pred.extend(int(k) for k in explanation.predicted)
        self.target.extend(int(k) for k in explanation.target)
        self.logits.extend(explanation.logits)

    def html(self, title: str) -> str:
        from keras_text_lrp.views import HeatmapPage

        page = HeatmapPage(
            self.tokens, self.scores, label_names=self.labels, pred=self.pred, target=self.target,
            logits=self.logits, title=title, oov=self.oov,
        )
        return page.to_html(full=True)


def _write_html(path: str, html: str) -> None:
    from keras_text_lrp._fileio import atomic_write_text

    try:
        atomic_write_text(path, html)
    except OSError as error:
        raise CommandLineError(f"cannot write --html {path!r}: {error.strerror or error}") from None


def _custom_objects(specs: Sequence[str] | None) -> dict[str, Any] | None:
    """The --custom-objects MODULE:CLASS values, imported."""
    if not specs:
        return None
    import importlib

    found: dict[str, Any] = {}
    for spec in specs:
        module, _, name = spec.partition(":")
        if not module or not name:
            raise CommandLineError(f"--custom-objects expects MODULE:CLASS, got {spec!r}")
        try:
            found[name] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise CommandLineError(f"--custom-objects {spec!r}: cannot import it ({error})") from None
    return found


def _load_model(name: str, vocab: str | None = None, args: argparse.Namespace | None = None) -> Any:
    from keras_text_lrp import models

    options: dict[str, Any] = {}
    if vocab is not None:
        options["vocabulary"] = vocab
    unsafe = bool(getattr(args, "unsafe_deserialization", False))
    custom = _custom_objects(getattr(args, "custom_objects", None))
    if (unsafe or custom) and name in models.MODELS:
        raise CommandLineError("--unsafe-deserialization and --custom-objects are for a .keras file, "
                               f"not the shipped model {name!r}")
    if unsafe:
        options["safe_mode"] = False
    if custom:
        options["custom_objects"] = custom
    return models.load(name, **options)


# --------------------------------------------------------------------------------- commands
def _run_explain(args: argparse.Namespace) -> int:
    if bool(args.texts) == (args.file is not None):
        raise CommandLineError(
            "give the texts to explain as arguments, or --file FILE (one text per line; - for standard "
            "input), not both" if args.texts else
            "nothing to explain: give texts as arguments or --file FILE (one text per line; - for stdin)"
        )
    outputs = [(args.html, "--html", False), (args.json, "--json", True), (args.jsonl, "--jsonl", True)]
    for path, option, allow_stdout in outputs:
        _check_output(path, option, allow_stdout)
    named = [(option, path) for path, option, _ in outputs if path is not None]
    for i, (option, path) in enumerate(named):
        for other_option, other in named[i + 1:]:
            if path != "-" and Path(path).resolve() == Path(other).resolve():
                raise CommandLineError(f"{option} and {other_option} name the same file {path!r}")
    model_files = []
    if Path(args.model).suffix == ".keras":  # the model file and the vocabulary beside it are inputs
        model_files = [("--model", args.model)]
        if args.vocab is None:
            beside = str(Path(args.model).with_suffix(".vocab.json"))
            model_files.append(("the vocabulary of --model", beside))
    check_distinct(named, [("--file", args.file), ("--vocab", args.vocab), *model_files], CommandLineError)
    methods = _methods(args.method)

    if args.file is None:
        items: Iterable[_Item] = _argument_texts(args.texts)
        total: int | None = len(args.texts)
    elif args.file == "-":
        items, total = _read_lines("-"), None
    else:
        total = sum(1 for _ in _read_lines(args.file))  # checks the whole file (UTF-8) before any work
        if total == 0:
            raise CommandLineError(f"--file {args.file!r} holds no text to explain (only blank lines)")
        items = _read_lines(args.file)

    from keras_text_lrp.explain import explain  # the first Keras import: arguments and files are checked

    pretrained = _with_labels(_load_model(args.model, args.vocab, args), args.labels)
    _quiet_backend_logs()
    labels = list(pretrained.labels)
    target = _resolve_target(args.target, labels)
    to_stdout = "-" in (args.json, args.jsonl)
    view_stream = sys.stderr if to_stdout else sys.stdout
    printer = None if args.quiet else _Printer(view_stream, args.no_color, labels)
    page = _Page(methods, labels) if args.html else None
    sinks: list[_RecordSink] = []
    try:
        for path, fmt in ((args.json, "json"), (args.jsonl, "jsonl")):
            if path is not None:
                sinks.append(_RecordSink(path, fmt))
        count = 0
        max_len = _token_cap(args, pretrained)
        long_texts = args.file is None and any(len(item.text) > LONG_TEXT_CHARS for item in items)
        show_bar = not args.quiet and (args.file is not None or long_texts)
        # The bar ticks per stage of each batch (tokens, logits, each method), so that one long text
        # shows where it is too.
        stages = 2 + len(methods)
        steps = None if total is None else total * stages
        progress = _progress(steps) if show_bar else contextlib.nullcontext()
        with progress as bar:
            for batch in _batches(items, args.batch_size):
                tick = None if bar is None else _ticker(bar, len(batch))
                with _relayed_warnings(batch, sys.stderr):
                    explanation = explain(
                        pretrained, [item.text for item in batch], methods, target,
                        batch_size=args.batch_size, max_len=max_len, padding=args.padding,
                        min_len=args.min_len, progress=tick,
                    )
                records = explanation.to_records()
                for i, (item, record) in enumerate(zip(batch, records, strict=True)):
                    if item.line is not None:
                        record["line"] = item.line
                    if printer is not None:
                        heading = (
                            f"pred: {_label(int(explanation.predicted[i]), labels)}   "
                            f"target: {_label(int(explanation.target[i]), labels)}"
                        )
                        printer.text(item.where, heading, explanation.display_tokens[i],
                                     {name: explanation.scores[name][i] for name in methods},
                                     explanation.oov[i])
                for sink in sinks:
                    sink.write(records)
                if page is not None:
                    page.add(explanation)
                count += len(batch)
        if count == 0:
            raise CommandLineError(f"{_source_name(args.file)} holds no text to explain (only blank lines)")
        if page is not None:
            _write_html(args.html, page.html(f"{pretrained.name}: {', '.join(methods)}"))
        for sink in sinks:
            sink.commit()
    finally:
        for sink in sinks:
            sink.discard()
    for path, option, _ in outputs:
        if path is not None and path != "-":
            print(printable(f"wrote {option.lstrip('-')}: {path}", one_line=True), file=sys.stderr)
    return 0


def _progress(total: int | None) -> Any:
    """The bar of ``explain``: ``total`` steps (texts x stages), on a terminal only (tqdm's disable=None)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=" steps", file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)


def _ticker(bar: Any, texts: int) -> Any:
    """The ``progress`` hook of explain() for one batch: each stage advances the bar by its texts."""
    def tick(stage: str) -> None:
        bar.set_postfix_str(printable(stage, one_line=True), refresh=False)
        bar.update(texts)

    return tick


def _demo_texts(n: int) -> tuple[list[str], list[int]]:
    """The first ``n`` demo sentences as plain text (PTB escapes undone, detokenized) and their labels."""
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    from keras_text_lrp.datasets import load_sst5
    from keras_text_lrp.text import ptb_unescape_tokens

    texts, labels = load_sst5("test")
    detokenizer = TreebankWordDetokenizer()
    picks = DEMO_SENTENCES[:n]
    plain = [detokenizer.detokenize(ptb_unescape_tokens(texts[i].split(" "))) for i in picks]
    return plain, [int(labels[i]) for i in picks]


def _run_demo(args: argparse.Namespace) -> int:
    from keras_text_lrp.datasets import SST5_LABEL_NAMES
    from keras_text_lrp.explain import explain

    if not 1 <= args.n <= len(DEMO_SENTENCES):
        raise CommandLineError(f"--n must be between 1 and {len(DEMO_SENTENCES)}, got {args.n}")
    _check_output(args.html, "--html", allow_stdout=False)
    texts, truth = _demo_texts(args.n)
    pretrained = _load_model(args.model, None, args)
    _quiet_backend_logs()
    labels = list(pretrained.labels)
    items = [_Item(text, f"{i + 1}") for i, text in enumerate(texts)]
    with _relayed_warnings(items, sys.stderr):
        explanation = explain(pretrained, texts, list(DEMO_METHODS))
    title = (f"keras_text_lrp demo: {pretrained.name} on {len(texts)} SST-5 test sentences "
             f"(relevance for the predicted class)")
    # The gold labels are known for the demo sentences; one card per text keeps the page compact.
    html = explanation.heatmap(title=title, gold=list(truth), layout="grid").to_html(full=True)
    _write_html(args.html, html)

    print(printable(f"{title}; red: for the class, blue: against it.\n"))
    printer = _Printer(sys.stdout, args.no_color, labels)
    for i, item in enumerate(items):
        true = SST5_LABEL_NAMES[truth[i]] if 0 <= truth[i] < len(SST5_LABEL_NAMES) else str(truth[i])
        heading = f"{item.text}\n    true: {true}   pred: {_label(int(explanation.predicted[i]), labels)}"
        printer.text(item.where, heading, explanation.tokens[i],
                     {name: explanation.scores[name][i] for name in DEMO_METHODS})
    page = Path(args.html).resolve()
    print(printable(f"\nHeatmap page ({len(DEMO_METHODS)} methods side by side): {page}"))
    return 0


def _card_accuracy(card: Path) -> float | None:
    """The test accuracy in a model card's results table, if there is one."""
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r"^\| test \| \d+ \| ([0-9.]+) \|", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _run_models(args: argparse.Namespace) -> int:
    from keras_text_lrp import models

    names = models.list_models()
    width = max(len(name) for name in names)
    for name in names:
        files = [models.PRETRAINED_DIR / f"{name}{suffix}" for suffix in (".keras", ".vocab.json")]
        accuracy = _card_accuracy(models.PRETRAINED_DIR / f"{name}.md")
        if not all(path.is_file() for path in files):
            note = "not installed: its files are missing from keras_text_lrp/pretrained/"
        elif accuracy is not None:
            data = "SST-2" if name.startswith("sst2-") else "SST-5"
            note = f"{data} test accuracy {accuracy:.3f}"
        else:
            note = "installed"
        print(f"{name:<{width}}  {models.MODELS[name]} [{note}]")
    print(f"\nUse one with: {PROG} explain \"TEXT\" --model NAME (or the path of a .keras file "
          "with its .vocab.json beside it)")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from keras_text_lrp.export import export_for_serving

    methods = _methods(args.method)
    target = Path(args.dir)
    if target.exists() and not args.overwrite and (not target.is_dir() or any(target.iterdir())):
        raise CommandLineError(f"{args.dir!r} exists and is not empty; give --overwrite to replace it "
                               "(or a new version folder: NAME/1, NAME/2, ...)")
    _quiet_backend_logs()
    path = export_for_serving(args.model, target, methods, vocabulary=args.vocab,
                              text_signature=True if args.text else None, dimensions=args.dimensions,
                              text_tokenizer=args.text_tokenizer, padding=args.padding,
                              overwrite=args.overwrite)
    from tensorflow.core.protobuf import saved_model_pb2

    graph = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    signatures = sorted(k for k in graph.meta_graphs[0].signature_def if not k.startswith("__"))
    print(printable(f"wrote SavedModel: {path}"))
    print(printable(f"signatures: {', '.join(signatures)}"))
    print(printable(f"inspect with: saved_model_cli show --all --dir {path}"))
    return 0


# ----------------------------------------------------------------------------------- parser
_EXPLAIN_EPILOG = """\
examples:
  keras-text-lrp explain "A gorgeous, witty, seductive movie." "Dull and lifeless."
  keras-text-lrp explain "Not bad at all." --method lrp.epsilon --method gradient --html page.html
  keras-text-lrp explain --file reviews.txt --batch-size 128 --jsonl scores.jsonl --quiet
  keras-text-lrp explain "Not bad." --model my_model.keras --labels neg,neutral,pos --target pos
  keras-text-lrp explain "Not bad." --model my_tv_model.keras --labels neg,pos   # TextVectorization inside
  keras-text-lrp explain --file reviews.txt --model my_bilstm.keras --padding pre --min-len 200
  cat reviews.txt | keras-text-lrp explain --file - --json -

Red words speak for the explained class, blue ones against it (plain word[+0.12] scores
when the output is not a terminal, NO_COLOR is set or --no-color is given). A text that
starts with '-' goes after '--'. JSON records hold text, tokens, character offsets,
scores per method, logits, predicted and target class, the label names and, with
--file, the line number.
"""

_EXPORT_EPILOG = """\
examples:
  keras-text-lrp export sst5-cnn serving/sst5/1 --method lrp.epsilon --method gradient --text
  saved_model_cli show --all --dir serving/sst5/1
"""


_METHOD_HELP = (f"analyzer name, repeatable or comma-separated (default: {DEFAULT_METHOD}); one of: "
                f"{', '.join(METHOD_NAMES)}")


def _loading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unsafe-deserialization", action="store_true",
                        help="load a .keras file whose Lambda layers hold code (Keras safe_mode=False); "
                             "off by default: use it only for files you trust")
    parser.add_argument("--custom-objects", action="append", metavar="MODULE:CLASS",
                        help="a custom layer class the .keras file needs, repeatable")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-text-lrp`` (sub-commands ``explain``, ``demo``, ``models``, ``export``).

    Returns
    -------
    argparse.ArgumentParser
        Its usage errors raise :class:`CommandLineError` instead of exiting.
    """
    from keras_text_lrp import __version__

    parser = _Parser(
        prog=PROG,
        description="Word-level explanations (LRP, gradients, integrated gradients, ...) of Keras 3 "
        "text classifiers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    explain = commands.add_parser(
        "explain", help="explain texts word by word",
        description="Explain a text classifier's decision on each text, word by word.",
        epilog=_EXPLAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("texts", nargs="*", metavar="TEXT", help="texts to explain")
    explain.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH",
                         help=f"shipped model name (see '{PROG} models') or a .keras file "
                              f"(default: {DEFAULT_MODEL})")
    explain.add_argument("--vocab", metavar="FILE", default=None,
                         help="vocabulary JSON of a .keras model (default: <model>.vocab.json beside it; "
                              "none for a model that begins with its TextVectorization layer)")
    explain.add_argument("--method", action="append", metavar="NAME", help=_METHOD_HELP)
    explain.add_argument("--target", type=_target, default="pred", metavar="pred|INT|NAME",
                         help="class explained: the predicted one (default), a class index or name")
    explain.add_argument("--labels", type=_label_names, default=None, metavar="NAME,NAME,...",
                         help="class names in logit order, one per class of the model (default: the "
                              "model's own: the SST-5 names for a shipped model or a .keras file with 5 "
                              "outputs, else the class indices 0,1,...)")
    explain.add_argument("--file", metavar="FILE|-", default=None,
                         help="read the texts from a UTF-8 file, one per line (blank lines skipped); "
                              "- for standard input")
    explain.add_argument("--html", metavar="FILE", default=None, help="write an HTML heatmap page")
    explain.add_argument("--json", metavar="FILE|-", default=None,
                         help="write the records as a JSON array (- for standard output)")
    explain.add_argument("--jsonl", metavar="FILE|-", default=None,
                         help="write the records as JSON Lines (- for standard output)")
    explain.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, metavar="N",
                         help=f"texts per batch (default: {DEFAULT_BATCH_SIZE})")
    explain.add_argument("--max-len", type=_positive_int, default=None, metavar="N",
                         help="explain at most the first N tokens of a text (a model with a fixed "
                              "input length cuts texts at that length anyway)")
    explain.add_argument("--padding", choices=("post", "pre"), default=None,
                         help="pad after the tokens (default) or before them, as the model was trained "
                              "(Keras's pad_sequences pre-pads)")
    explain.add_argument("--min-len", type=_positive_int, default=None, metavar="N",
                         help="pad every text to at least N ids (with --max-len N: a fixed length); by "
                              "default the model's input length or the least its convolutions need")
    explain.add_argument("--max-tokens", type=_positive_int, default=DEFAULT_MAX_TOKENS, metavar="N",
                         help="cut longer texts to their first N tokens, with a warning (default: "
                              f"{DEFAULT_MAX_TOKENS}, or the model's own input length when it has one)")
    explain.add_argument("--no-color", action="store_true", help="plain word[+0.12] scores, no colours")
    explain.add_argument("-q", "--quiet", action="store_true",
                         help="do not print the texts, no progress bar")
    _loading_options(explain)
    explain.set_defaults(run=_run_explain)

    demo = commands.add_parser(
        "demo", help="explain a few SST-5 test sentences with several methods into one HTML page",
        description="Explain a few SST-5 test sentences (shipped with the package) with "
        f"{', '.join(DEMO_METHODS)}, print them and write one HTML page with the methods side by side.",
    )
    demo.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH",
                      help=f"shipped model name or a .keras file (default: {DEFAULT_MODEL})")
    demo.add_argument("--html", default=DEMO_HTML, metavar="FILE",
                      help=f"the page to write (default: {DEMO_HTML})")
    demo.add_argument("--n", type=_positive_int, default=6, metavar="N",
                      help=f"number of sentences, 1 to {len(DEMO_SENTENCES)} (default: 6)")
    demo.add_argument("--no-color", action="store_true", help="plain word[+0.12] scores, no colours")
    _loading_options(demo)
    demo.set_defaults(run=_run_demo)

    listing = commands.add_parser("models", help="list the shipped models",
                                  description="List the shipped models with their test accuracy.")
    listing.set_defaults(run=_run_models)

    export = commands.add_parser(
        "export", help="write a model and its explainers as one SavedModel for TensorFlow Serving",
        description="Write MODEL and one explain_<method> signature set per --method into the SavedModel "
        "folder DIR (TensorFlow backend; see the README, 'Serving explanations').",
        epilog=_EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("model", metavar="MODEL", help="shipped model name or a .keras file")
    export.add_argument("dir", metavar="DIR", help="the SavedModel folder to write, e.g. serving/sst5/1")
    export.add_argument("--method", action="append", metavar="NAME", help=_METHOD_HELP)
    export.add_argument("--dimensions", action="store_true",
                        help="also return relevance_dimensions (batch, T, embedding dim)")
    export.add_argument("--text", action="store_true",
                        help="add explain_text_<method> signatures taking raw strings (on anyway for a "
                             "model with a TextVectorization layer)")
    export.add_argument("--text-tokenizer", default="treebank", choices=("treebank", "whitespace", "space"),
                        help="in-graph tokenizer of the text signatures (default: treebank)")
    export.add_argument("--vocab", metavar="FILE", default=None,
                        help="vocabulary JSON of a .keras model (default: <model>.vocab.json beside it)")
    export.add_argument("--padding", choices=("post", "pre"), default="post",
                        help="where the text signatures pad, as the model was trained (default: post)")
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty DIR")
    _loading_options(export)
    export.set_defaults(run=_run_export)
    return parser


def _check_arguments(argv: Sequence[str]) -> None:
    """Refuse arguments that are not valid UTF-8 (Python holds their bytes as lone surrogates)."""
    for number, value in enumerate(argv, start=1):
        bad = next((i for i, ch in enumerate(value) if "\ud800" <= ch <= "\udfff"), None)
        if bad is not None:
            byte = ord(value[bad]) - 0xDC00 if ord(value[bad]) >= 0xDC80 else None
            what = f"the byte 0x{byte:02x}" if byte is not None else "a lone surrogate"
            raise CommandLineError(
                f"argument {number} ('{printable(value, one_line=True)}') is not UTF-8 text: it has {what} "
                f"at character {bad + 1}; give UTF-8 (e.g. convert with iconv -f latin1 -t utf-8)"
            )


def _fail(message: str) -> int:
    print(printable(f"error: {' '.join(str(message).split())}", one_line=True), file=sys.stderr)
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``keras-text-lrp`` with ``argv`` (default ``sys.argv[1:]``).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on an error (reported on standard
        error as one ``error: ...`` line), 130 when interrupted.
    """
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        _check_arguments(argv)
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else 0
    except (CommandLineError, KerasTextLRPError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        with contextlib.suppress(Exception):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        where = f" {error.filename!r}" if error.filename else ""
        return _fail(f"cannot access{where}: {error.strerror or error}")
    except Exception as error:  # noqa: BLE001 - the tool never ends in a traceback
        return _fail(f"{type(error).__name__}: {error} (an unexpected failure; please report it with the "
                     "command line)")


if __name__ == "__main__":
    sys.exit(main())
