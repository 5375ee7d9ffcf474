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
    """A checkpoint cannot be read (missing, truncated, corrupted, or not a harness checkpoint)."""


def rng_state() -> dict[str, Any]:
    """Return the torch (CPU and CUDA), NumPy and Python RNG states as tensors and plain values."""
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
    """Restore the RNG states saved by :func:`rng_state`."""
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
        path: destination file (e.g. ``run_dir / "checkpoint.pt"``).
        payload: only tensors and plain types, so :func:`load_checkpoint` can use ``weights_only=True``.
    """
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(path, weights_only=True)``.

    Raises:
        CheckpointError: the file is missing, truncated or corrupted; the message names the file.

    Example:
        >>> ckpt = load_checkpoint("runs/x/checkpoint.pt")  # doctest: +SKIP
        >>> ckpt["epoch"]  # doctest: +SKIP
        10
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
