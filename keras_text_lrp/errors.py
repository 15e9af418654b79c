"""Errors raised by keras_text_lrp.

Every error is a ``ValueError`` so that callers who catch the broad class keep
working; the subclasses say which part of the input was wrong.
"""

__all__ = [
    "KerasTextLRPError",
    "InvalidModelError",
    "UnsupportedLayerError",
    "InvalidInputError",
    "InvalidArgumentError",
]


class KerasTextLRPError(ValueError):
    """Base class of every error raised by keras_text_lrp."""


class InvalidModelError(KerasTextLRPError):
    """The model cannot be analysed (no graph, softmax output, ...)."""


class UnsupportedLayerError(InvalidModelError):
    """A layer of the model has no rule."""


class InvalidInputError(KerasTextLRPError):
    """The data given to ``analyze`` does not fit the model."""


class InvalidArgumentError(KerasTextLRPError):
    """An analyzer option is out of its domain."""
