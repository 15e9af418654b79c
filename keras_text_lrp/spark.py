"""Explain a Spark DataFrame of texts with an exported explainer, through ``mapInPandas``.

:func:`explain_dataframe` maps each Arrow batch of a DataFrame's partitions
to explanation rows in Spark's Python worker processes: a worker loads the
SavedModel written by :func:`keras_text_lrp.export.export_for_serving`
(``text_signature=True``) once (:func:`keras_text_lrp.exported.load`,
cached per process; Spark reuses its Python workers across tasks) and calls
its ``explain_text_<method>`` signatures on the batch's texts. Executors
need TensorFlow and this package, not the model's Python code; the
SavedModel folder must be readable from every executor (a shared
filesystem, HDFS through TensorFlow's ``hdfs://``, ``gs://``, ``s3://``).

Needs the ``spark`` extra (``pip install "keras_text_lrp[spark]"``: pyspark,
pandas, pyarrow) and a Java runtime (17 or later, e.g. Debian's
``openjdk-17-jre-headless``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

try:
    from pyspark.sql import DataFrame
    from pyspark.sql import types as T
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "keras_text_lrp.spark needs PySpark: pip install 'keras_text_lrp[spark]' "
        "(or pip install pyspark pandas pyarrow); Spark also needs a Java runtime (17+)."
    ) from error

from keras_text_lrp import exported
from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["explain_dataframe", "output_schema"]


def output_schema(df: DataFrame, text_col: str, id_col: str | None, include_text: bool,
                  label_names: Sequence[str] | None) -> T.StructType:
    """The schema of :func:`explain_dataframe`'s result for ``df``."""
    fields = [] if id_col is None else [T.StructField(id_col, df.schema[id_col].dataType, True)]
    if include_text:
        fields.append(T.StructField(text_col, T.StringType(), True))
    fields += [
        T.StructField("tokens", T.ArrayType(T.StringType(), False), False),
        T.StructField("scores", T.MapType(T.StringType(), T.ArrayType(T.DoubleType(), False), False), False),
        T.StructField("logits", T.ArrayType(T.DoubleType(), False), True),
        T.StructField("predicted", T.IntegerType(), True),
        T.StructField("target", T.IntegerType(), True),
    ]
    if label_names is not None:
        fields.append(T.StructField("labels", T.ArrayType(T.StringType(), False), True))
    fields.append(T.StructField("error", T.StringType(), True))
    return T.StructType(fields)


def _target(value: Any) -> Any:
    """A target cell as an int or None (pandas turns a nullable int column into floats with NaN)."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # anything else is refused by exported.to_example, naming the value


def _explain_batches(
    batches: Iterator[Any], saved_model_dir: str, methods: list[str], text_col: str, id_col: str | None,
    target_col: str | None, include_text: bool, label_names: list[str] | None, batch_size: int,
    columns: list[str],
) -> Iterator[Any]:
    """mapInPandas' function: pandas batches of inputs -> pandas batches of rows (on an executor)."""
    import pandas as pd

    model = exported.load(saved_model_dir, methods)
    for frame in batches:
        ids = frame[id_col].tolist() if id_col is not None else [None] * len(frame)
        targets = frame[target_col].tolist() if target_col is not None else [None] * len(frame)
        examples = [exported.TextExample(text, i, _target(t))
                    for text, i, t in zip(frame[text_col].tolist(), ids, targets)]
        records = exported.explain_examples(model, examples, methods, label_names=label_names,
                                            include_text=include_text, batch_size=batch_size)
        # column by column, as Python objects: a record without "error" or "labels" gives None (null),
        # where pandas' from_records would put NaN, which Arrow cannot turn into a null list
        data = {c: [r.get(c) for r in records] for c in columns if c not in (id_col, text_col)}
        rows = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
        if id_col is not None:
            rows[id_col] = frame[id_col].to_numpy()
        if include_text:
            rows[text_col] = frame[text_col].to_numpy()
        rows["predicted"] = rows["predicted"].astype("Int32")
        rows["target"] = rows["target"].astype("Int32")
        yield rows[columns]


def explain_dataframe(
    df: DataFrame,
    saved_model_dir: str,
    methods: str | Sequence[str] = ("lrp.epsilon",),
    *,
    text_col: str = "text",
    id_col: str | None = None,
    target_col: str | None = None,
    label_names: Sequence[str] | None = None,
    include_text: bool = False,
    batch_size: int = 64,
    check: bool = True,
) -> DataFrame:
    """A DataFrame of texts -> a DataFrame of explanations, one row per input row.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Has a string column ``text_col`` and optionally ``id_col`` (any
        type, copied through) and ``target_col`` (integer class index; null:
        explain the predicted class).
    saved_model_dir : str
        A SavedModel from ``export_for_serving(..., text_signature=True)``,
        readable from every executor.
    methods : str or sequence of str
        Exported method names.
    text_col, id_col, target_col : str
        Column names.
    label_names : sequence of str, optional
        Class names, stored per row as ``labels``.
    include_text : bool
        Keep the text column in the result.
    batch_size : int
        Most texts per signature call (Spark's Arrow batches,
        ``spark.sql.execution.arrow.maxRecordsPerBatch``, are split into
        calls of at most this many texts).
    check : bool
        Read the SavedModel's signature list on the driver first, so that a
        missing folder or method fails before any job runs.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; columns ``[id_col], [text_col], tokens, scores, logits,
        predicted, target, [labels], error`` where ``scores`` maps each
        method to one relevance per token (those of
        :func:`keras_text_lrp.explain` with ``pooling="sum"``). An empty
        text gets a row with no tokens, null logits and classes and
        ``error = "empty text"``; a target outside the model's classes fails
        the job with a message naming it.

    Raises
    ------
    InvalidArgumentError
        For a missing column, a folder that is not a SavedModel, a method it
        has not exported, or a bad ``batch_size``.

    Examples
    --------
    >>> df = spark.createDataFrame([(1, "A gorgeous, witty movie.")], ["id", "text"])  # doctest: +SKIP
    >>> explain_dataframe(df, "serving/sst5/1", ["lrp.epsilon"], id_col="id").show()  # doctest: +SKIP
    """
    names = exported.check_methods(methods)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}.")
    for role, col in (("text_col", text_col), ("id_col", id_col), ("target_col", target_col)):
        if col is not None and col not in df.columns:
            raise InvalidArgumentError(
                f"{role}={col!r} is not a column of the DataFrame (columns: {df.columns})."
            )
    if not isinstance(df.schema[text_col].dataType, T.StringType):
        raise InvalidArgumentError(
            f"text_col={text_col!r} is a {df.schema[text_col].dataType.simpleString()} column; "
            "give a string column."
        )
    if target_col is not None and not isinstance(df.schema[target_col].dataType, T.IntegralType):
        raise InvalidArgumentError(
            f"target_col={target_col!r} is a {df.schema[target_col].dataType.simpleString()} column; "
            "give an integer column of class indices."
        )
    path = str(saved_model_dir)
    if check:
        exported.check_signatures(path, names, exported.signature_names(path))
    labels = None if label_names is None else [str(n) for n in label_names]
    schema = output_schema(df, text_col, id_col, include_text, labels)
    columns = schema.fieldNames()
    keep = [c for c in dict.fromkeys((id_col, text_col, target_col)) if c is not None]

    def explain_batches(batches: Iterator[Any]) -> Iterator[Any]:
        return _explain_batches(batches, path, names, text_col, id_col, target_col, bool(include_text),
                                labels, batch_size, columns)

    return df.select(*keep).mapInPandas(explain_batches, schema)
