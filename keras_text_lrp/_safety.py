"""Output safety shared by every writer and printer: neutralised strings, same-file checks, locks.

Nothing here imports Keras or TensorFlow, so that the command line tool can
answer usage and file errors at once.

* :func:`printable` is the one function every string passes through before it
  reaches a terminal (texts, labels, model names, paths, error messages): C0
  and C1 control characters, bidi overrides/isolates and lone surrogates are
  written as visible escapes, so no byte sequence of the input can drive the
  terminal (retitle it, move the cursor, reorder what is shown).
* :func:`json_line` is ``json.dumps`` that also escapes C1 controls and the
  bidi controls (JSON escapes C0 controls already), for JSON printed to a
  terminal or read by one.
* :func:`same_file` / :func:`check_distinct` refuse an output that is the same
  file as an input, through links and ``-``.
* :class:`FileLock` is an exclusive ``fcntl.flock`` on a lock file beside an
  output, holding the holder's PID, refused at once when another process
  holds it.
* :func:`clean_stale_temporaries` removes the temporary files a killed writer
  left beside its output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "FileLock",
    "LockedError",
    "check_distinct",
    "clean_stale_temporaries",
    "json_line",
    "printable",
    "same_file",
]

# C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates and marks,
# and lone surrogates (from undecodable command-line bytes).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any, *, one_line: bool = False) -> str:
    """``str(value)`` safe to print on a terminal.

    Parameters
    ----------
    value : Any
        Text, label, path, error message, ...
    one_line : bool
        Also escape tabs and newlines (for values inside a one-line message).

    Returns
    -------
    str
        The string with every control character (C0 but tab and newline
        unless ``one_line``, DEL, C1), bidi control and lone surrogate
        replaced by ``\\xNN`` / ``\\uNNNN``.

    Examples
    --------
    >>> printable("\\x1b]0;title\\x07ok")
    '\\\\x1b]0;title\\\\x07ok'
    """
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, str(value))


def json_line(record: Any) -> str:
    """``json.dumps(record, ensure_ascii=False)`` with C1 and bidi controls escaped as ``\\uXXXX``.

    The result parses back to the same value; lone surrogates (which are not
    UTF-8) are escaped by ``json`` itself.
    """
    text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    # Lone surrogates cannot be encoded as UTF-8; JSON can hold them escaped.
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are the same existing file (hard or symbolic links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        # One does not exist (yet): then they differ unless they resolve to the same path.
        return Path(a).resolve() == Path(b).resolve()


def check_distinct(outputs: Iterable[tuple[str, Any]], inputs: Iterable[tuple[str, Any]],
                   error: type[Exception]) -> None:
    """Raise ``error`` when an output path is the same file as an input path.

    Parameters
    ----------
    outputs, inputs : iterable of (what, path)
        ``what`` names the option or argument (``"--json"``); ``None`` paths and
        ``"-"`` (standard streams) are skipped.
    error : type of Exception
        Raised with a one-line message naming both.
    """
    ins = [(what, p) for what, p in inputs if p not in (None, "-")]
    for what, path in outputs:
        if path in (None, "-"):
            continue
        for in_what, in_path in ins:
            if same_file(path, in_path):
                raise error(
                    f"{what} {printable(str(path), one_line=True)!r} is the same file as {in_what} "
                    f"{printable(str(in_path), one_line=True)!r}; writing it would destroy the input: "
                    "give another output file"
                )


# ---------------------------------------------------------------------------- temporary files
TMP_SUFFIX = ".tmp"


def temp_prefix(target: Path) -> str:
    """The name prefix of a writer's temporary files for ``target`` (hidden, with the target's name)."""
    return f".{target.name}."


def clean_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files that a killed writer left beside ``target``.

    Only files and folders named ``.<target name>.<pid>.*`` ending in ``.tmp``,
    ``.partial`` or ``.old`` whose process ``pid`` is no longer running are
    removed (a live writer's are left alone).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    removed = []
    pattern = re.compile(re.escape(temp_prefix(target)) + r"(\d+)\..*(?:\.tmp|\.partial|\.old)")
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _alive(int(match.group(1))):
            stale = folder / name
            with contextlib.suppress(OSError):
                if stale.is_dir() and not stale.is_symlink():
                    import shutil

                    shutil.rmtree(stale)
                else:
                    stale.unlink()
                removed.append(stale)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_temporary(target: Path, mode: str = "w", **kwargs: Any) -> tuple[Any, str]:
    """An open temporary file beside ``target`` named with this PID (so a later run can clean it)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix(target)}{os.getpid()}.", suffix=TMP_SUFFIX,
                               dir=target.parent if str(target.parent) else ".")
    try:
        return os.fdopen(fd, mode, **kwargs), tmp
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------- locks
class LockedError(OSError):
    """Another process holds the lock of an output file."""


class FileLock:
    """An exclusive, non-blocking lock on ``<folder>/.<name>.lock`` beside ``target``.

    The lock is ``fcntl.flock`` (released by the kernel when the process dies,
    so a killed writer never leaves a stale lock); the lock file holds the
    holder's PID, which a refused writer reports.

    Parameters
    ----------
    target : str or os.PathLike
        The output file the lock protects.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        target = Path(target)
        self.path = target.parent / f".{target.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> FileLock:
        """Take the lock or raise :class:`LockedError` naming the holder's PID at once."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another process (PID {holder}) is writing {str(self.path.parent / self.path.name[1:-5])!r}"
                f" (lock {str(self.path)!r}); wait for it to finish or stop it"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock.

        The lock file stays (empty): removing it would let a process that opened
        it just before lock a file no longer on disk while a third one locks a
        new one.
        """
        if self._fd is None:
            return
        import fcntl

        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def umask_mode(directory: bool = True) -> int:
    """The permissions a new folder (or file) gets under the current umask (mkdtemp's are 0o700)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links resolved)."""
    p, f = Path(path).resolve(), Path(folder).resolve()
    return p == f or f in p.parents
