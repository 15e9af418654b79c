"""Explain corpora with Apache Beam: an exported explainer under ``RunInference``.

The explainer runs as a SavedModel written by
:func:`keras_text_lrp.export.export_for_serving` with ``text_signature=True``
(on by default for a model with a ``TextVectorization`` layer): each worker
loads it with plain ``tf.saved_model.load`` and calls its
``explain_text_<method>`` signatures on batches of raw texts, so the workers
need TensorFlow and Beam, not the model's Python code. The pieces:

:class:`ExplainTextHandler`
    A Beam ``ModelHandler`` for ``apache_beam.ml.inference.RunInference``.
:class:`ExplainTexts`
    A ``PTransform`` from texts to records (one JSON-ready dict per text).
:func:`run` / ``python -m keras_text_lrp.beam``
    A whole pipeline: text or JSON Lines files in, JSON Lines files out, on
    any runner (DirectRunner, Dataflow, Flink, Spark).

A record has the keys of :func:`keras_text_lrp.streaming.explain_dataset`'s
records except ``offsets`` (the in-graph tokenizers give none): ``id`` (when
the input gives one), ``text`` (unless ``include_text=False``), ``tokens``,
``scores`` (method -> one relevance per token), ``logits``, ``predicted``,
``target`` and ``labels`` (with ``label_names``). The numbers are those of
:func:`keras_text_lrp.explain` on the same texts with the exported analyzers
and ``pooling="sum"``. A text that is empty, or has no token after the
export's tokenization, gets a record with empty tokens, ``null`` logits and
classes and an ``"error"``, so that every input has its record.

Needs the ``beam`` extra: ``pip install "keras_text_lrp[beam]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "keras_text_lrp.beam needs Apache Beam: pip install 'keras_text_lrp[beam]' "
        "(or pip install apache-beam)."
    ) from error

from keras_text_lrp._safety import check_distinct, json_line, printable
from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.exported import TextExample, add_io_arguments, explain_examples, parse_jsonl, to_example
from keras_text_lrp.exported import check_signatures as _check_signatures
from keras_text_lrp.exported import error_record as _error_record
from keras_text_lrp.exported import signature_names as _signature_names

__all__ = ["ExplainTextHandler", "ExplainTexts", "TextExample", "run"]


class ExplainTextHandler(ModelHandler):
    """A ``RunInference`` model handler running an exported explainer on raw texts.

    Parameters
    ----------
    saved_model_dir : str
        A SavedModel written by :func:`~keras_text_lrp.export.export_for_serving`
        with text signatures (a local path or any filesystem TensorFlow reads,
        e.g. ``gs://``).
    methods : str or sequence of str
        The exported methods to run (``"lrp.epsilon"`` uses the signatures
        ``explain_text_lrp_epsilon`` and ``explain_text_lrp_epsilon_target``).
    label_names : sequence of str, optional
        Class names, stored in each record as ``labels``.
    include_text : bool
        Keep each text in its record.
    min_batch_size, max_batch_size : int, optional
        Bounds of the batches Beam forms (``beam.BatchElements``); each batch
        is one call of each signature, padded to its longest text.
    **kwargs
        Other ``ModelHandler`` options (``max_batch_duration_secs``,
        ``large_model``, ``model_copies``, ...).

    Notes
    -----
    The handler takes :class:`TextExample` elements (see :func:`to_example`)
    and yields ``PredictionResult(example, record)``. Texts of one batch with
    a ``target`` go through the ``..._target`` signatures, the others through
    the signatures explaining the predicted class. Empty texts must be kept
    out of the batches (:class:`ExplainTexts` does): a batch in which no text
    has a token is refused by the SavedModel.

    Examples
    --------
    >>> from apache_beam.ml.inference.base import RunInference     # doctest: +SKIP
    >>> handler = ExplainTextHandler("serving/sst5/1", ["lrp.epsilon"])  # doctest: +SKIP
    >>> results = examples | RunInference(handler)                # doctest: +SKIP
    """

    def __init__(
        self,
        saved_model_dir: str,
        methods: str | Sequence[str] = ("lrp.epsilon",),
        *,
        label_names: Sequence[str] | None = None,
        include_text: bool = True,
        min_batch_size: int | None = None,
        max_batch_size: int | None = 64,
        **kwargs: Any,
    ):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self.saved_model_dir = str(saved_model_dir)
        self.methods = [methods] if isinstance(methods, str) else list(methods)
        if not self.methods:
            raise InvalidArgumentError("give at least one method.")
        self.label_names = None if label_names is None else [str(n) for n in label_names]
        self.include_text = bool(include_text)

    def load_model(self) -> Any:
        """The SavedModel, loaded with ``tf.saved_model.load`` (its signatures checked)."""
        import tensorflow as tf

        loaded = tf.saved_model.load(self.saved_model_dir)
        _check_signatures(self.saved_model_dir, self.methods, loaded.signatures.keys())
        if self.label_names is None:
            # The export's own class names (a pretrained model's), when it has them.
            from keras_text_lrp.export import LABELS_FILE

            labels = f"{self.saved_model_dir.rstrip('/')}/{LABELS_FILE}"
            if tf.io.gfile.exists(labels):
                with tf.io.gfile.GFile(labels) as f:
                    self.label_names = [str(n) for n in json.load(f)]
        return loaded

    def run_inference(
        self, batch: Sequence[TextExample], model: Any, inference_args: dict | None = None
    ) -> Iterable[PredictionResult]:
        """One record per example: each method's signature called once per target group."""
        examples = [to_example(e) for e in batch]
        records = explain_examples(model, examples, self.methods, label_names=self.label_names,
                                   include_text=self.include_text, batch_size=max(len(examples), 1))
        return [PredictionResult(e, r) for e, r in zip(examples, records)]

    def get_num_bytes(self, batch: Sequence[TextExample]) -> int:
        return sum(len(to_example(e).text.encode("utf-8")) for e in batch)

    def get_metrics_namespace(self) -> str:
        return "keras_text_lrp"


class ExplainTexts(beam.PTransform):
    """Texts -> explanation records, through an exported explainer under ``RunInference``.

    Parameters
    ----------
    saved_model_dir : str
        The export (see :class:`ExplainTextHandler`).
    methods : str or sequence of str
        Exported method names.
    label_names : sequence of str, optional
        Stored in each record as ``labels``.
    include_text : bool
        Keep each text in its record.
    max_batch_size : int
        Most texts per signature call.
    check : bool
        Read the SavedModel's signature list when the pipeline is built, so
        that a missing signature fails before anything runs.
    **handler_kwargs
        More :class:`ExplainTextHandler` options.

    Notes
    -----
    Input elements: texts, ``(id, text)`` pairs or dicts with ``text`` and
    optional ``id`` and ``target``. Output: one record (dict) per input, in
    no particular order (give ids to join them back). Empty texts are kept
    out of ``RunInference`` and get an ``"error": "empty text"`` record.

    Examples
    --------
    >>> import apache_beam as beam                                       # doctest: +SKIP
    >>> with beam.Pipeline() as p:                                       # doctest: +SKIP
    ...     (p | beam.Create(["A gorgeous, witty movie.", "Dull."])
    ...        | ExplainTexts("serving/sst5/1", ["lrp.epsilon", "gradient"])
    ...        | beam.Map(print))
    """

    def __init__(
        self,
        saved_model_dir: str,
        methods: str | Sequence[str] = ("lrp.epsilon",),
        *,
        label_names: Sequence[str] | None = None,
        include_text: bool = True,
        max_batch_size: int = 64,
        check: bool = True,
        **handler_kwargs: Any,
    ):
        super().__init__()
        if not isinstance(max_batch_size, int) or isinstance(max_batch_size, bool) or max_batch_size < 1:
            raise InvalidArgumentError(f"max_batch_size must be a positive int, got {max_batch_size!r}.")
        self.handler = ExplainTextHandler(
            saved_model_dir, methods, label_names=label_names, include_text=include_text,
            max_batch_size=max_batch_size, **handler_kwargs,
        )
        if check:
            _check_signatures(self.handler.saved_model_dir, self.handler.methods,
                              _signature_names(self.handler.saved_model_dir))

    def expand(self, texts: Any) -> Any:
        methods, include_text = self.handler.methods, self.handler.include_text
        examples = texts | "ToExample" >> beam.Map(to_example)
        full, empty = examples | "SplitEmpty" >> beam.Partition(lambda e, _: 0 if e.text.strip() else 1, 2)
        explained = (
            full
            | "Explain" >> RunInference(self.handler)
            | "Record" >> beam.Map(lambda result: result.inference)
        )
        refused = empty | "EmptyRecord" >> beam.Map(
            lambda e: _error_record(e, methods, include_text, "empty text")
        )
        return (explained, refused) | "AllRecords" >> beam.Flatten()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keras_text_lrp.beam",
        description="Explain a text corpus with an exported explainer (export_for_serving with text "
        "signatures) on an Apache Beam runner; writes JSON Lines records. Options not listed here "
        "are Beam pipeline options (--runner, --project, --region, --temp_location, ...).",
    )
    add_io_arguments(
        parser, input_help="input file pattern (local, gs://, ...)",
        output_help="output prefix; shards end in .jsonl", batch_option="--max_batch_size",
    )
    parser.add_argument("--num_shards", type=int, default=0, help="output shards (0: the runner decides)")
    return parser


def _refuse_dask_runner(beam_args: Sequence[str]) -> None:
    """Beam's DaskRunner loses records (checked with Beam 2.77): refuse it, naming the direct path."""
    runners = [beam_args[i + 1] for i, a in enumerate(beam_args[:-1]) if a == "--runner"]
    runners += [a.split("=", 1)[1] for a in beam_args if a.startswith("--runner=")]
    if any(r.rsplit(".", 1)[-1].lower() == "daskrunner" for r in runners):
        raise InvalidArgumentError(
            "Beam's DaskRunner cannot run this pipeline (ReadFromText fails to translate and WriteToText "
            "writes empty shards, Beam 2.77); on a Dask cluster use `python -m keras_text_lrp.dask "
            "--scheduler ADDRESS ...` (keras_text_lrp.dask.explain_bag) instead."
        )


def run(argv: Sequence[str] | None = None, save_main_session: bool = False) -> Any:
    """Run the corpus pipeline: read, explain, write JSON Lines (``python -m keras_text_lrp.beam``).

    Parameters
    ----------
    argv : sequence of str, optional
        The command line (default ``sys.argv[1:]``): the options of
        ``python -m keras_text_lrp.beam --help`` plus any Beam pipeline
        options, e.g. ``--runner DataflowRunner --project P --region R
        --temp_location gs://B/tmp``.
    save_main_session : bool
        Beam's ``save_main_session`` pipeline option.

    Returns
    -------
    apache_beam.runners.runner.PipelineResult
        The finished run (its ``metrics()`` hold RunInference's counters
        under the ``keras_text_lrp`` namespace).
    """
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

    args, beam_args = _parser().parse_known_args(argv)
    _refuse_dask_runner(beam_args)
    _refuse_output_over_input(args.input, args.output)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    labels = None if args.labels is None else [n.strip() for n in args.labels.split(",")]
    explain = ExplainTexts(args.saved_model, methods, label_names=labels, include_text=not args.no_text,
                           max_batch_size=args.max_batch_size)
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = save_main_session
    pipeline = beam.Pipeline(options=options)
    lines = pipeline | "Read" >> beam.io.ReadFromText(args.input)
    if args.input_format == "jsonl":
        lines = lines | "ParseJson" >> beam.Map(parse_jsonl)
    (
        lines
        | "Explain" >> explain
        | "ToJson" >> beam.Map(json_line)
        | "Write" >> beam.io.WriteToText(args.output, file_name_suffix=".jsonl", num_shards=args.num_shards)
    )
    result = pipeline.run()
    result.wait_until_finish()
    return result


def _refuse_output_over_input(pattern: str, prefix: str) -> None:
    """Refuse a local output prefix whose shards would be among (or replace) the input files."""
    import glob

    if "://" in pattern or "://" in prefix:
        return  # remote file systems: Beam's own business
    inputs = glob.glob(pattern)
    check_distinct([("--output", prefix)], [("--input", p) for p in inputs], InvalidArgumentError)
    shards = os.path.abspath(prefix)
    for found in inputs:
        if os.path.abspath(found).startswith(shards) and found.endswith(".jsonl"):
            raise InvalidArgumentError(
                f"--input {printable(pattern, one_line=True)!r} matches {printable(found, one_line=True)!r},"
                f" a shard of --output {printable(prefix, one_line=True)!r}; the run would overwrite its own "
                "input: give another --output"
            )


def _remove_beam_temporaries(prefix: str) -> None:
    """Remove the ``beam-temp-*`` folders a failed run left beside the output prefix."""
    import glob

    if "://" in prefix:
        return
    folder = os.path.dirname(os.path.abspath(prefix))
    for stale in glob.glob(os.path.join(folder, "beam-temp-*")):
        shutil.rmtree(stale, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m keras_text_lrp.beam``: :func:`run`, with every failure one ``error:`` line (exit 2).

    Parameters
    ----------
    argv : sequence of str, optional
        As for :func:`run`.

    Returns
    -------
    int
        0 on success, 2 on an error (its temporary folders removed), 130 when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, _ = _parser().parse_known_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    try:
        run(argv)
        return 0
    except KeyboardInterrupt:
        _remove_beam_temporaries(args.output)
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        _remove_beam_temporaries(args.output)
        message = " ".join(str(error).split()) or type(error).__name__
        print(printable(f"error: {message}", one_line=True), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - exercised through main()
    sys.exit(main())
