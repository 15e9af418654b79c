"""Explain corpora on a Dask cluster: ``dask.bag`` partitions through an exported explainer.

Each partition of a bag of texts becomes a partition of records: a task
loads the SavedModel written by
:func:`keras_text_lrp.export.export_for_serving` (``text_signature=True``)
once per worker process (:func:`keras_text_lrp.exported.load`) and calls its
``explain_text_<method>`` signatures on batches of the partition's texts.
The workers need TensorFlow and this package, not the model's Python code;
the SavedModel folder must be readable from every worker (a shared
filesystem or ``gs://``/``s3://`` paths TensorFlow reads).

:func:`explain_bag`
    Bag of texts (or ``(id, text)`` pairs, or dicts with ``text``, ``id``,
    ``target``) -> bag of records, the records of
    :mod:`keras_text_lrp.exported` (those of :mod:`keras_text_lrp.beam`).
:func:`run` / ``python -m keras_text_lrp.dask``
    Text or JSON Lines files in, JSON Lines files out, on a scheduler given
    by address or on a local cluster of worker processes.

Beam's own DaskRunner is not used: with Beam 2.77 it fails to translate
``ReadFromText`` and its ``WriteToText`` writes empty shards.

Needs the ``dask`` extra: ``pip install "keras_text_lrp[dask]"``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

try:
    import dask.bag as db
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "keras_text_lrp.dask needs Dask: pip install 'keras_text_lrp[dask]' "
        "(or pip install 'dask[bag,distributed]')."
    ) from error

from keras_text_lrp import exported
from keras_text_lrp.errors import InvalidArgumentError, KerasTextLRPError

__all__ = ["explain_bag", "run"]


def _explain_partition(
    elements: Iterable[Any], saved_model_dir: str, methods: list[str], label_names: list[str] | None,
    include_text: bool, batch_size: int,
) -> list[dict]:
    """A partition's records (runs on a worker; the SavedModel is loaded once per process)."""
    model = exported.load(saved_model_dir, methods)
    return exported.explain_examples(model, list(elements), methods, label_names=label_names,
                                     include_text=include_text, batch_size=batch_size)


def explain_bag(
    bag: db.Bag,
    saved_model_dir: str,
    methods: str | Sequence[str] = ("lrp.epsilon",),
    *,
    label_names: Sequence[str] | None = None,
    include_text: bool = True,
    batch_size: int = 64,
    check: bool = True,
) -> db.Bag:
    """Texts -> explanation records, one partition per task.

    Parameters
    ----------
    bag : dask.bag.Bag
        Texts, ``(id, text)`` pairs or dicts with ``text`` and optional
        ``id`` and ``target``.
    saved_model_dir : str
        A SavedModel from ``export_for_serving(..., text_signature=True)``,
        readable from every worker.
    methods : str or sequence of str
        Exported method names.
    label_names : sequence of str, optional
        Stored in each record as ``labels``.
    include_text : bool
        Keep each text in its record.
    batch_size : int
        Most texts per signature call.
    check : bool
        Read the SavedModel's signature list here, before anything runs, so
        that a missing folder or method fails at once (turn off when this
        process cannot see the workers' filesystem).

    Returns
    -------
    dask.bag.Bag
        One record per input, in the input's order (lazy: ``.compute()``,
        ``.to_textfiles()``, ...).

    Raises
    ------
    InvalidArgumentError
        For a folder that is not a SavedModel, a method it has not exported,
        or a bad ``batch_size``.

    Examples
    --------
    >>> import dask.bag as db                                            # doctest: +SKIP
    >>> texts = db.from_sequence(["A gorgeous, witty movie.", "Dull."], npartitions=2)  # doctest: +SKIP
    >>> explain_bag(texts, "serving/sst5/1", ["lrp.epsilon"]).compute()  # doctest: +SKIP
    """
    names = exported.check_methods(methods)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}.")
    path = str(saved_model_dir)
    if check:
        exported.check_signatures(path, names, exported.signature_names(path))
    labels = None if label_names is None else [str(n) for n in label_names]
    return bag.map_partitions(_explain_partition, path, names, labels, bool(include_text), batch_size)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keras_text_lrp.dask",
        description="Explain a text corpus with an exported explainer (export_for_serving with text "
        "signatures) on a Dask cluster; writes JSON Lines records, one file per partition.",
    )
    exported.add_io_arguments(
        parser, input_help="input file pattern (local, s3://, gs://, ...)",
        output_help="output folder; one part-N.jsonl per partition", batch_option="--batch_size",
    )
    parser.add_argument("--blocksize", default="16MiB", help="bytes of input per partition")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="address of a running scheduler (tcp://HOST:8786)")
    where.add_argument("--workers", type=int, default=2,
                       help="without --scheduler: worker processes of a local cluster (default 2)")
    return parser


def run(argv: Sequence[str] | None = None) -> list[str]:
    """Run the corpus job: read, explain, write JSON Lines (``python -m keras_text_lrp.dask``).

    Parameters
    ----------
    argv : sequence of str, optional
        The command line (default ``sys.argv[1:]``); see
        ``python -m keras_text_lrp.dask --help``.

    Returns
    -------
    list of str
        The files written (``OUTPUT/part-N.jsonl``).
    """
    from distributed import Client, LocalCluster

    args = _parser().parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    labels = None if args.labels is None else [n.strip() for n in args.labels.split(",")]
    if args.scheduler is None and args.workers < 1:
        raise InvalidArgumentError(f"--workers must be at least 1, got {args.workers}.")
    lines = db.read_text(args.input, blocksize=args.blocksize, linedelimiter="\n")
    lines = lines.map(lambda line: line.rstrip("\r\n"))
    items = lines.map(exported.parse_jsonl) if args.input_format == "jsonl" else lines
    records = explain_bag(items, args.saved_model, methods, label_names=labels,
                          include_text=not args.no_text, batch_size=args.batch_size)
    out = records.map(lambda record: json.dumps(record, ensure_ascii=False))
    if args.scheduler is not None:
        with Client(args.scheduler):
            return out.to_textfiles(f"{args.output.rstrip('/')}/part-*.jsonl")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        return out.to_textfiles(f"{args.output.rstrip('/')}/part-*.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: exit 0, or 2 with a one-line message for a usage or input error."""
    try:
        run(argv)
    except KerasTextLRPError as error:
        print(f"python -m keras_text_lrp.dask: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through main()
    sys.exit(main())
