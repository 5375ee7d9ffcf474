"""Atomic file writes: write a temporary file in the destination's directory, then ``os.replace`` it.

A crash mid-write leaves the previous version (or nothing), never a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "write_text", "write_json", "write_jsonl"]


def atomic_write(path: str | Path, writer: Callable[[IO[bytes]], Any]) -> None:
    """Call ``writer(f)`` on a temporary binary file next to ``path`` and move it onto ``path`` atomically.

    The file is flushed and fsynced, given the usual permissions (``0o666`` minus the umask), renamed
    onto ``path`` with ``os.replace`` and the directory fsynced. On any exception (also
    ``KeyboardInterrupt``) the temporary file is removed and ``path`` keeps its previous content.

    Args:
        path: destination; its parent directory is created if needed.
        writer: writes the content into the open file object.

    Raises:
        OSError: if the directory cannot be created or the file cannot be written or renamed; any
            exception of ``writer`` propagates.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     atomic_write(pathlib.Path(d, "sub", "x.bin"), lambda f: f.write(b"data"))
        ...     print(pathlib.Path(d, "sub", "x.bin").read_bytes(), sorted(p.name for p in pathlib.Path(d, "sub").iterdir()))
        b'data' ['x.bin']
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, p)
        _fsync_dir(p.parent)  # make the rename itself durable
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    r"""Atomically write ``text`` (UTF-8) to ``path`` (:func:`atomic_write`).

    Args:
        path: destination; its parent directory is created if needed.
        text: the content.

    Raises:
        OSError: if the file cannot be written.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_text(pathlib.Path(d, "a.txt"), "héllo\n")
        ...     print(pathlib.Path(d, "a.txt").read_bytes())
        b'h\xc3\xa9llo\n'
    """
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as JSON (2-space indent, keys in their order, final newline) to ``path``.

    Args:
        path: destination; its parent directory is created if needed.
        obj: a JSON-serializable value.

    Raises:
        TypeError: if ``obj`` is not JSON-serializable (nothing is written).
        OSError: if the file cannot be written.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_json(pathlib.Path(d, "a.json"), {"b": 1, "a": [1, 2]})
        ...     print(pathlib.Path(d, "a.json").read_text())
        {
          "b": 1,
          "a": [
            1,
            2
          ]
        }
        <BLANKLINE>
    """
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Atomically (re)write ``path`` with one JSON object per line (JSON Lines).

    Args:
        path: destination; its parent directory is created if needed.
        rows: the objects, one per line.

    Raises:
        TypeError: if a row is not JSON-serializable (nothing is written).
        OSError: if the file cannot be written.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_jsonl(pathlib.Path(d, "m.jsonl"), [{"epoch": 1}, {"epoch": 2}])
        ...     print(pathlib.Path(d, "m.jsonl").read_text(), end="")
        {"epoch": 1}
        {"epoch": 2}
    """
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
