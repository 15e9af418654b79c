"""Handing each analyzer the options its class takes (``explain(..., epsilon=0.1, steps=32)``)."""

from __future__ import annotations

import inspect

from keras_text_lrp.errors import InvalidArgumentError

__all__ = ["split_options"]


def split_options(methods: list[str], kwargs: dict) -> dict[str, dict]:
    """Split ``kwargs`` per method: each gets the options its analyzer class takes.

    Parameters
    ----------
    methods : list of str
        Analyzer names (see :data:`keras_text_lrp.ANALYZERS`).
    kwargs : dict
        Options for any of them.

    Returns
    -------
    dict of str to dict
        Method name -> the options its class's ``__init__`` (or a base's) takes.

    Raises
    ------
    InvalidArgumentError
        On an unknown method name (listing the names) or an option that no
        method takes.
    """
    from keras_text_lrp.analyzers.registry import ANALYZERS, create_analyzer

    out, used = {}, set()
    for name in methods:
        if name not in ANALYZERS:
            create_analyzer(name, None)  # raises the error listing the names
        params = set()
        for cls in ANALYZERS[name].__mro__:
            if "__init__" in vars(cls):
                params.update(inspect.signature(cls.__init__).parameters)
        out[name] = {k: v for k, v in kwargs.items() if k in params}
        used.update(out[name])
    unused = sorted(set(kwargs) - used)
    if unused:
        raise InvalidArgumentError(f"option(s) {unused} are not taken by any of the methods {methods}.")
    return out
