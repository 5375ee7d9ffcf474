"""Argument checks and DTensor unwrapping shared by the public functions of :mod:`infoloss.parallel`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infoloss._validation import check_floating

from ._core import Comm, chunk_sizes


def _dtensor_types() -> tuple[Any, Any, Any]:
    """(DTensor, Shard, Replicate), or three Nones on a torch without DTensor."""
    try:
        from torch.distributed.tensor import DTensor, Replicate, Shard
    except ImportError:  # pragma: no cover - torch without DTensor
        return None, None, None
    return DTensor, Shard, Replicate


def is_dtensor(t: Any) -> bool:
    """Whether ``t`` is a DTensor (False on a torch without DTensor)."""
    dt, _, _ = _dtensor_types()
    return dt is not None and isinstance(t, dt)


def check_index(value: Any, name: str = "ignore_index") -> int:
    """``value`` as an int; TypeError for a bool or a non-int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def check_positive(value: Any, name: str) -> float:
    """``value`` as a float; TypeError for a non-number, ValueError unless finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not (v > 0 and v < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def unwrap(
    local_logits: Any, target: Any, weight: Any, group: Any, *, vocab_dim: int = 1
) -> tuple[Tensor, Any, Any, Comm, tuple[int, ...] | None]:
    """(local logits, local target, local weight, comm, known shard sizes) from tensors or a Shard(1) DTensor."""
    if not is_dtensor(local_logits):
        for t, name in ((target, "target"), (weight, "weight")):
            if is_dtensor(t):
                raise TypeError(
                    f"{name} is a DTensor but the logits are not: pass both as DTensors or as local tensors"
                )
        return local_logits, target, weight, Comm(group), None
    _, shard, replicate = _dtensor_types()
    mesh = local_logits.device_mesh
    if mesh.ndim != 1:
        raise ValueError(f"a DTensor input must live on a 1-D device mesh, got a {mesh.ndim}-D mesh")
    placement = local_logits.placements[0]
    if local_logits.dim() != 2 or not (isinstance(placement, shard) and placement.dim in (1, -1)):
        raise ValueError(
            "a DTensor input must be (N, V) logits sharded on the vocabulary: placements "
            f"(Shard(1),), got shape {tuple(local_logits.shape)} and {local_logits.placements}"
        )
    mesh_group = mesh.get_group()
    if group is not None and group is not mesh_group:
        raise ValueError("group must be None (or the DTensor's mesh group) for a DTensor input")
    vocab = int(local_logits.shape[1])
    sizes = chunk_sizes(vocab, mesh.size())
    # grad_placements: the gradient of the local shard is sharded like the logits (said, not left to a default)
    z = local_logits.to_local(grad_placements=local_logits.placements)

    def local_of(t: Any, name: str, ok: tuple[Any, ...]) -> Any:
        if not is_dtensor(t):
            return t
        if t.device_mesh != mesh or not isinstance(t.placements[0], ok):
            raise ValueError(
                f"a DTensor {name} must be on the logits' mesh with placement {ok[0].__name__}"
                f"{'' if len(ok) == 1 else ' or ' + ok[1].__name__}, got {t.placements}"
            )
        return t.to_local(grad_placements=t.placements)

    tgt = local_of(target, "target", (replicate, shard))
    if is_dtensor(target) and isinstance(target.placements[0], shard) and target.placements[0].dim not in (1, -1):
        raise ValueError("a sharded DTensor target must be a probability target sharded like the logits (Shard(1))")
    w = local_of(weight, "weight", (shard,)) if weight is not None else None
    comm = Comm(mesh_group)
    known = sizes if sizes[comm.rank] == z.shape[1] else None
    return z, tgt, w, comm, known


def check_logits_target(z: Any, target: Any, weight: Any, *, name: str = "local_logits") -> tuple[str, Tensor]:
    """Validate local (N, V_r) logits, the target and the local weight; returns (kind, target)."""
    check_floating(z, name)
    if z.dim() != 2:
        raise ValueError(f"{name} must be (N, V_r) local logits, got shape {tuple(z.shape)}")
    kind, target = check_target(target, z.shape[0], z.shape[1], z.device)
    if weight is not None:
        check_floating(weight, "weight")
        if weight.dim() != 1 or weight.shape[0] != z.shape[1]:
            raise ValueError(
                f"weight must be this rank's (V_r,) slice of the class weights with V_r={z.shape[1]}, "
                f"got shape {tuple(weight.shape)}"
            )
        if weight.device != z.device:
            raise ValueError(f"weight is on {weight.device} but the logits are on {z.device}")
    return kind, target


def check_target(target: Any, n: int, local: int, device: torch.device) -> tuple[str, Tensor]:
    """Validate a (N,) class-index or (N, V_r) probability target; returns (kind, target as int64 or as is)."""
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.device != device:
        raise ValueError(f"target is on {target.device} but the logits are on {device}")
    if target.dtype.is_floating_point:
        if tuple(target.shape) != (n, local):
            raise ValueError(
                f"a probability target must be this rank's (N, V_r) = {(n, local)} slice, got shape "
                f"{tuple(target.shape)} (class-index targets must have an integer dtype)"
            )
        return "prob", target
    if target.dtype == torch.bool or target.dtype.is_complex:
        raise TypeError(f"target must be integer class indices or floating probabilities, got {target.dtype}")
    if tuple(target.shape) != (n,):
        raise ValueError(
            f"a class-index target must be (N,) = ({n},) global class indices, got shape {tuple(target.shape)}"
        )
    return "index", target.long()


def check_hidden(hidden: Any, weight: Any, bias: Any, *, weight_name: str = "weight") -> None:
    """Validate ``(*, H)`` hidden, the (V, H) weight and the optional (V,) bias: dtypes, shapes, device."""
    check_floating(hidden, "hidden")
    check_floating(weight, weight_name)
    if hidden.dim() < 1:
        raise ValueError("hidden must be (N, H) (or (*, H)), got a scalar")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[-1]:
        raise ValueError(f"{weight_name} must be (V, H) with H={hidden.shape[-1]}, got shape {tuple(weight.shape)}")
    if bias is not None:
        check_floating(bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias must be (V,) with V={weight.shape[0]}, got shape {tuple(bias.shape)}")
    if weight.device != hidden.device or (bias is not None and bias.device != hidden.device):
        raise ValueError("hidden, weight and bias must be on one device")
    if weight.dtype != hidden.dtype:
        raise TypeError(f"hidden ({hidden.dtype}) and {weight_name} ({weight.dtype}) must have one dtype")
