"""Checkpoints: written atomically, read with ``torch.load(..., weights_only=True)`` only.

RNG states are stored as tensors and plain Python values so no unpickling of arbitrary objects is needed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infoloss.experiments.atomic import atomic_write

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state"]


class CheckpointError(RuntimeError):
    """Raised when a checkpoint cannot be read (missing, truncated, corrupted, or not a harness checkpoint).

    A subclass of ``RuntimeError``; the message names the file.
    """


def rng_state() -> dict[str, Any]:
    """Return the torch (CPU and CUDA), NumPy and Python RNG states as tensors and plain values.

    The result can be saved with :func:`save_checkpoint` and read back with ``weights_only=True``.

    Returns:
        ``{"torch": ByteTensor, "numpy": {...}, "python": {...}}`` plus ``"cuda"`` (one state per GPU)
        when CUDA is available.

    Example:
        >>> sorted(rng_state())[:3], sorted(rng_state()["numpy"])
        (['numpy', 'python', 'torch'], ['cached_gaussian', 'has_gauss', 'keys', 'pos'])
    """
    np_state: Any = np.random.get_state()  # noqa: NPY002  (the legacy global RNG is what user code seeds)
    py_state: Any = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_state[0]), "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNG states saved by :func:`rng_state`.

    The CUDA states are restored only when the state has them and CUDA is available.

    Args:
        state: a dict from :func:`rng_state` (possibly after a save/load round trip).

    Raises:
        KeyError: if ``state`` lacks the ``torch``, ``numpy`` or ``python`` entry.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> s = rng_state()
        >>> torch.rand(2)
        tensor([0.4963, 0.7682])
        >>> set_rng_state(s)
        >>> torch.rand(2)  # the same draws again
        tensor([0.4963, 0.7682])
    """
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomically save ``payload`` (state dicts, ints, floats, lists, tensors) with ``torch.save``.

    Args:
        path: destination file (e.g. ``run_dir / "checkpoint.pt"``); its directory is created if needed.
        payload: only tensors and plain types, so :func:`load_checkpoint` can use ``weights_only=True``.

    Raises:
        OSError: if the file cannot be written (the previous checkpoint stays).

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_checkpoint(pathlib.Path(d, "checkpoint.pt"), {"epoch": 3, "model": {"w": torch.ones(2)}})
        ...     ckpt = load_checkpoint(pathlib.Path(d, "checkpoint.pt"))
        >>> ckpt["epoch"], ckpt["model"]["w"]
        (3, tensor([1., 1.]))
    """
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(path, weights_only=True)``.

    Args:
        path: the checkpoint file.
        map_location: where the tensors are loaded (default CPU, so RNG states stay CPU tensors).

    Returns:
        The saved dict; it has at least ``model`` and ``epoch``.

    Raises:
        CheckpointError: the file is missing, truncated or corrupted, or is not a dict with ``model`` and
            ``epoch`` entries; the message names the file.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = pathlib.Path(d, "checkpoint.pt").write_bytes(b"not a checkpoint")
        ...     try:
        ...         load_checkpoint(pathlib.Path(d, "checkpoint.pt"))
        ...     except CheckpointError as e:
        ...         print(str(e).split(" (")[0].replace(d, "DIR"))
        checkpoint DIR/checkpoint.pt is corrupted or truncated
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise CheckpointError(f"checkpoint {p} is corrupted or truncated ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
        raise CheckpointError(f"checkpoint {p} is not an infoloss harness checkpoint (no model/epoch entries)")
    return ckpt
