"""Non-finite values refused at the door: analyzer options, model weights, ids, relevance.

An analysis with a NaN stabiliser, a NaN reference or a NaN embedding row
returns NaN relevance for every token, which reads as an answer. These checks
refuse such input where it enters, with a message naming the culprit, and
refuse a non-finite result instead of returning it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from keras_text_lrp.errors import InvalidArgumentError, InvalidInputError, InvalidModelError

__all__ = ["check_analyzer", "check_finite_ids", "check_parameters", "check_relevance", "check_weights"]

# option -> (smallest allowed, whether the bound itself is allowed); all must be finite reals.
_RANGES: dict[str, tuple[float | None, bool]] = {
    "epsilon": (0.0, True),
    "bias_factor": (None, True),
    "alpha": (None, True),
    "beta": (0.0, True),
    "noise_scale": (0.0, True),
}
_POSITIVE_INTS = ("steps", "augment_by_n")


def _finite_real(name: str, value: Any, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.generic)):
        raise InvalidArgumentError(f"{owner}: {name} must be a finite number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{owner}: {name} must be a finite number, got {number!r}.")
    return number


def check_parameters(owner: str, **options: Any) -> None:
    """Refuse non-finite or out-of-range analyzer options.

    Parameters
    ----------
    owner : str
        Who takes the options (the analyzer's name), for the message.
    **options
        ``epsilon`` (>= 0), ``bias_factor``, ``alpha``, ``beta`` (>= 0),
        ``noise_scale`` (>= 0): finite reals; ``steps``, ``augment_by_n``:
        positive ints; ``reference_inputs``: finite numbers (array or list of
        arrays). Options not named here are not checked.

    Raises
    ------
    InvalidArgumentError
        Naming the option and the value.
    """
    for name, value in options.items():
        if value is None:
            continue
        if name in _RANGES:
            number = _finite_real(name, value, owner)
            low, inclusive = _RANGES[name]
            if low is not None and (number < low or (number == low and not inclusive)):
                raise InvalidArgumentError(f"{owner}: {name} must be >= {low:g}, got {number!r}.")
        elif name in _POSITIVE_INTS:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidArgumentError(f"{owner}: {name} must be a positive int, got {value!r}.")
        elif name == "reference_inputs":
            parts = value if isinstance(value, (list, tuple)) else [value]
            for i, part in enumerate(parts):
                try:
                    arr = np.asarray(part, dtype="float64")
                except (TypeError, ValueError):
                    raise InvalidArgumentError(
                        f"{owner}: reference_inputs must hold numbers, got {type(part).__name__}."
                    ) from None
                if not np.all(np.isfinite(arr)):
                    where = f" (entry {i})" if len(parts) > 1 else ""
                    raise InvalidArgumentError(
                        f"{owner}: reference_inputs{where} holds NaN or inf; give finite numbers "
                        "(e.g. 0.0, the default)."
                    )


def check_weights(model: Any) -> None:
    """Refuse a model whose weights hold NaN or inf, naming the first such layer and weight.

    Raises
    ------
    InvalidModelError
    """
    from keras import ops

    layers = model._flatten_layers(include_self=False, recursive=True) if hasattr(
        model, "_flatten_layers") else getattr(model, "layers", [])
    for layer in layers:
        if getattr(layer, "layers", None):
            continue  # a nested model: its own layers are visited
        for weight in getattr(layer, "weights", []):
            values = np.asarray(ops.convert_to_numpy(weight))
            if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
                bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
                raise InvalidModelError(
                    f"layer {layer.name!r} ({type(layer).__name__}) has NaN or inf in its weight "
                    f"{weight.path if hasattr(weight, 'path') else weight.name!r} (first at index {bad}); "
                    "every relevance through it would be NaN: fix or retrain the model."
                )


def check_analyzer(analyzer: Any) -> None:
    """The options of a constructed analyzer and its model's weights (see the functions above)."""
    owner = type(analyzer).__name__
    options = {name: getattr(analyzer, name) for name in (*_RANGES, *_POSITIVE_INTS, "reference_inputs")
               if hasattr(analyzer, name)}
    check_parameters(owner, **options)
    check_weights(analyzer.model)


def check_finite_ids(ids: Any, what: str = "ids", start: int = 0) -> None:
    """Refuse record ids that JSON cannot hold: float NaN/inf (ints, strings and others pass).

    Raises
    ------
    InvalidInputError
    """
    for position, rid in enumerate(ids, start=start):
        if isinstance(rid, (float, np.floating)) and not math.isfinite(float(rid)):
            raise InvalidInputError(
                f"input {position} has the id {rid!r}; {what} must be finite (an int or a str) so that "
                "the records stay JSON."
            )
        if isinstance(rid, (float, np.floating)) and float(rid) != int(rid):
            raise InvalidInputError(
                f"input {position} has the id {rid!r}; {what} must be integers or strings."
            )


def check_relevance(relevance: Any, owner: str) -> None:
    """Refuse relevance that holds NaN or inf instead of returning it.

    Raises
    ------
    InvalidModelError
    """
    arrays = relevance if isinstance(relevance, (list, tuple)) else [relevance]
    for r in arrays:
        arr = np.asarray(r)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise InvalidModelError(
                f"{owner} produced NaN or inf relevance (first at index {bad}): the model's values "
                "overflow or a stabiliser is 0 (e.g. lrp.z on zero pre-activations); try lrp.epsilon "
                "with a larger epsilon."
            )
