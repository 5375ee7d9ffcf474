"""Multi-process training support: the same command runs alone or under ``torchrun``.

When ``WORLD_SIZE > 1`` in the environment the process group is initialized from the environment
variables (``env://``): NCCL on CUDA, Gloo on CPU. Metrics are aggregated with ``all_reduce`` of sums and
counts; only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "init_distributed",
    "all_reduce_sum",
    "broadcast_buffers",
    "broadcast_object",
    "barrier",
    "pick_device",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its ``rank`` of ``world_size`` processes and its local rank.

    Attributes:
        rank: global rank (0 for a single process).
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU).

    Example:
        >>> info = DistInfo()
        >>> info.rank, info.world_size, info.is_main, info.distributed
        (0, 1, True, False)
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def pick_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    """Return the device: ``auto`` picks cuda (this process's local GPU) > mps > cpu; otherwise ``pref``.

    Args:
        pref: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        local_rank: this process's local rank; ``auto`` on CUDA uses GPU ``local_rank % device_count``.

    Returns:
        The ``torch.device``.

    Raises:
        ConfigError: if ``pref`` is not a device name, names an unsupported type, or a device that is not
            available here (the message says why).

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    if pref != "auto":
        return _check_device(pref)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _check_device(pref: str) -> torch.device:
    """``torch.device(pref)`` after checking that it exists here (ConfigError naming what is available)."""
    from infoloss.experiments.config import ConfigError

    try:
        dev = torch.device(pref)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(f"unknown device {pref!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"device {pref!r} is not available: {why} (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {pref!r} is not available: {torch.cuda.device_count()} CUDA GPU(s) visible")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device {pref!r} is not available on this machine (use --device cpu or auto)")
    elif dev.type != "cpu":
        raise ConfigError(f"unsupported device {pref!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


def init_distributed(device: torch.device) -> DistInfo:
    """Initialize the default process group from env vars when ``WORLD_SIZE > 1`` (else do nothing).

    Reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (default: ``RANK``); a group that is already
    initialized is kept.

    Args:
        device: the training device; CUDA selects the NCCL backend, anything else Gloo.

    Returns:
        This process's :class:`DistInfo`.

    Raises:
        KeyError: if ``WORLD_SIZE > 1`` but ``RANK`` is not set.
        ValueError: if an environment variable is not an integer.

    Example:
        >>> init_distributed(torch.device("cpu"))  # WORLD_SIZE unset: a single process
        DistInfo(rank=0, world_size=1, local_rank=0)
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over all ranks (in place, returned); a no-op for one process.

    Args:
        t: a tensor on the process group's device.
        info: this process's :class:`DistInfo`.

    Returns:
        ``t`` itself, holding the sum.

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0]), DistInfo())
        tensor([1., 2.])
    """
    if info.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, in place.

    DDP broadcasts buffers at the start of each forward, so after the last training step every rank
    holds slightly different running statistics; evaluating (and saving) rank 0's makes all ranks score
    the same model.

    Args:
        module: the model (not its DDP wrapper).
        info: this process's :class:`DistInfo`.
    """
    if info.distributed:
        for b in module.buffers():
            dist.broadcast(b, src=0)


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Return rank 0's ``obj`` on every rank (a no-op for one process).

    Args:
        obj: a picklable object (only rank 0's is used).
        info: this process's :class:`DistInfo`.

    Returns:
        Rank 0's object.

    Example:
        >>> broadcast_object("runs/x", DistInfo())
        'runs/x'
    """
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (a no-op for one process).

    Args:
        info: this process's :class:`DistInfo`.
    """
    if info.distributed:
        dist.barrier()
