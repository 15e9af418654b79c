"""Atomic file writing shared by the text and view helpers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text"]


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` so that no partial file is ever visible.

    The text goes to a temporary file in the same folder, which is flushed,
    synced, given the old file's permissions (0o644 for a new
    file) and then moved over ``path`` with :func:`os.replace` (atomic on
    POSIX and Windows). On any error the temporary file is removed and
    ``path`` is left as it was; temporary files of writers that were killed
    (SIGKILL) are removed on the next write of the same file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file. Its folder must exist.
    text : str
        Content to write.
    encoding : str, default "utf-8"
        Text encoding.

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    from keras_text_lrp._safety import clean_stale_temporaries, temp_prefix

    target = Path(path)
    clean_stale_temporaries(target)  # left by a killed earlier write
    # The PID in the name lets a later run tell a dead writer's file from a live one's.
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix(target)}{os.getpid()}.", suffix=".tmp",
                               dir=target.parent or ".")
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
