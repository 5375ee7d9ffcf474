"""Which code, library versions and machine produced a run (recorded in every ``config.json``).

The package version alone does not identify the code during development, so the record also holds a
SHA-256 of the package's own source files (every ``.py`` and ``.c`` under ``infoloss/``, in sorted
order), and, when the package lives in a git work tree, the commit and whether the tree had uncommitted
changes to the package.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["provenance", "source_hash", "git_state", "code_version"]

_PKG = Path(__file__).resolve().parents[1]  # .../infoloss


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """Return the SHA-256 (hex) over the relative path and bytes of every ``.py``/``.c`` file of the package.

    Files are taken in sorted path order, each as ``path NUL bytes NUL``; computed once per process.

    Returns:
        64 hex digits.

    Example:
        >>> len(source_hash())
        64
    """
    h = hashlib.sha256()
    for f in sorted(p for p in _PKG.rglob("*") if p.suffix in (".py", ".c") and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(_PKG)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any] | None:
    """Return the commit of the git work tree holding the package and whether the package has changes.

    Computed once per process; ``dirty`` looks at the package directory only.

    Returns:
        ``{"commit": sha, "dirty": bool}``, or None outside a git work tree (or without git).

    Example:
        >>> sorted(git_state() or {"commit": "", "dirty": False})
        ['commit', 'dirty']
    """
    try:
        top = subprocess.run(
            ["git", "-C", str(_PKG), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        commit = subprocess.run(
            ["git", "-C", top, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", top, "status", "--porcelain", "--", str(_PKG)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def code_version() -> str:
    """Return one short string naming the code.

    Returns:
        ``"infoloss <version>[, git <8 hex>[ (+uncommitted changes)]], source <12 hex of source_hash>"``.

    Example:
        >>> code_version()  # doctest: +ELLIPSIS
        'infoloss 0.1.0, ...source ...'
    """
    import infoloss

    g = git_state()
    parts = [f"infoloss {infoloss.__version__}"]
    if g is not None:
        parts.append(f"git {g['commit'][:8]}" + (" (+uncommitted changes)" if g["dirty"] else ""))
    parts.append(f"source {source_hash()[:12]}")
    return ", ".join(parts)


def provenance(device: Any = None) -> dict[str, Any]:
    """Return the record stored in ``config.json``: code, versions, threads, machine, device.

    Args:
        device: the run's torch device (its name and, for CUDA, the GPU model are recorded); None: none.

    Returns:
        A JSON-serializable dict: ``code_version``, ``infoloss_version``, ``source_sha256``, ``git``,
        ``torch_version``, ``numpy_version``, ``python_version``, ``threads``, ``cpu_count``, ``machine``
        (hostname, platform, processor), ``device`` and ``gpu``.

    Example:
        >>> sorted(provenance())[:4]
        ['code_version', 'cpu_count', 'device', 'git']
    """
    import numpy as np
    import torch

    import infoloss

    dev = str(device) if device is not None else None
    gpu = None
    if device is not None and getattr(device, "type", None) == "cuda" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(device)
    return {
        "code_version": code_version(),
        "infoloss_version": infoloss.__version__,
        "source_sha256": source_hash(),
        "git": git_state(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "device": dev,
        "gpu": gpu,
    }
