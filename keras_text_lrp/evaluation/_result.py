"""Results as plain data: ``to_dict``, ``to_json`` and ``from_dict`` for the evaluation dataclasses."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, TypeVar

from keras_text_lrp._fileio import atomic_write_text

__all__ = ["PlainResult"]

R = TypeVar("R", bound="PlainResult")


class PlainResult:
    """Mixin for dataclasses whose fields hold only str, int, float, None and lists of them."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict of plain Python values (``json.dumps`` takes it as it is)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The fields as JSON text; written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict())
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """The result back from :meth:`to_dict` (or from parsed :meth:`to_json` text)."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})
