"""Selection of the row kernels behind :mod:`infoloss.functional`.

``"fused"`` (default when :mod:`infoloss._fused` is importable) computes loss and gradient in one chunked
pass; ``"reference"`` is the plain-PyTorch composition in :mod:`infoloss._reference`, kept as the oracle.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType

BACKENDS = ("fused", "reference")
_state = {"name": "fused"}


def set_backend(name: str) -> None:
    """Choose the kernels used by :mod:`infoloss.functional`: ``"fused"`` (default) or ``"reference"``.

    Example:
        >>> import infoloss
        >>> infoloss.set_backend("reference"); infoloss.get_backend()
        'reference'
        >>> infoloss.set_backend("fused")
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    _state["name"] = name


def get_backend() -> str:
    """The name of the backend in effect (``"fused"`` or ``"reference"``)."""
    return _state["name"]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager form of :func:`set_backend`; restores the previous backend on exit."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _state["name"] = previous


def ops() -> ModuleType:
    """The module providing ``ce_family_rows`` and ``entropy_rows`` for the backend in effect."""
    if _state["name"] == "fused":
        try:
            return importlib.import_module("infoloss._fused")
        except ImportError:
            pass
    return importlib.import_module("infoloss._reference")
