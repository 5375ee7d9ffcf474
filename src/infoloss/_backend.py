"""Selection of the row kernels behind :mod:`infoloss.functional`.

``"fused"`` (the default) computes loss and gradient in one pass: the C kernel on CPU, chunked torch ops
elsewhere. ``"triton"`` is ``"fused"`` plus the Triton kernel for CUDA tensors with class-index targets:
opt-in until it has been verified on a GPU. ``"reference"`` is the plain-PyTorch composition in
:mod:`infoloss._reference`, kept as the oracle. :func:`infoloss._ops.implementation` gives the table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

BACKENDS = ("fused", "triton", "reference")
_state = {"name": "fused"}


def set_backend(name: str) -> None:
    """Choose the kernels used by :mod:`infoloss.functional`: ``"fused"`` (default), ``"triton"`` or ``"reference"``.

    Raises:
        ValueError: for any other name.

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
