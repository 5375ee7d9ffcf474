"""Argument checks shared by the functional API and the modules.

Validation happens once, at the public boundary; every error names the argument, what was expected and what
was given. Shape, dtype and option checks are plain Python and always run. Checks that need the tensor's
values (index ranges, probability signs) run on CPU tensors in eager mode only: a CUDA call never forces a
device synchronisation, and under ``torch.compile`` / ``torch.export`` / ``torch.func`` they are skipped
(they would be data-dependent branches). On CUDA an out-of-range class index then reads class 0's row in
the eager path and NaN in the Triton kernel; validate labels once in your data pipeline if that matters.
"""

from __future__ import annotations

import math
from typing import NamedTuple, cast

import torch
from torch import Tensor

from infoloss._common import tracing

REDUCTIONS = ("none", "mean", "sum")


def _finite(value: float) -> bool:
    """``math.isfinite`` as one comparison (False for NaN and +-inf), so that a symbolic float under
    ``torch.compile`` adds one guard instead of breaking the graph."""
    return bool(abs(value) < math.inf)


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def log_base(base: float | None, name: str = "base") -> float:
    """ln(base): divide a value in nats by this to express it in ``base`` (1.0 for ``None``)."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, _NUMBERS):
        raise TypeError(f"{name} must be None or a positive number != 1, got {type(base).__name__}")
    if not _finite(base) or base <= 0 or base == 1:
        raise ValueError(f"{name} must be None (nats) or a finite number > 0 and != 1, got {base!r}")
    return math.log(base)


def check_finite_number(value: float, name: str) -> float:
    """A finite ``int`` or ``float`` as a float; a symbolic one (a float variable under ``torch.compile``) as
    it is, checked by guards (``float()`` would specialize it: one recompile per value)."""
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not _finite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value if isinstance(value, _SYMBOLIC) else float(value)


_SYMBOLIC = (torch.SymInt, torch.SymFloat)
_NUMBERS = (int, float, *_SYMBOLIC)


def check_open_unit(value: float, name: str) -> float:
    value = check_finite_number(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return value


def check_label_smoothing(value: float) -> float:
    value = check_finite_number(value, "label_smoothing")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {value!r}")
    return value


def check_floating(t: Tensor, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name} must have a floating dtype, got {t.dtype}")


def _cpu(t: Tensor) -> bool:
    """Whether value checks run for ``t``: a CPU tensor outside any tracing or functorch transform."""
    return t.is_cpu and not tracing()


def check_ignore_index(ignore_index: int) -> int:
    """``ignore_index`` must be an int (torch raises TypeError for a float too)."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, torch.SymInt)):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__} {ignore_index!r}")
    return int(ignore_index)  # a symbolic one (an int variable under torch.compile) specialized: one guard


def check_probabilities(t: Tensor, name: str) -> None:
    """Floating tensor with entries in [0, 1] (checked on CPU)."""
    check_floating(t, name)
    if _cpu(t) and t.numel() and bool(((t < 0) | (t > 1) | torch.isnan(t)).any()):
        bad = t[(t < 0) | (t > 1) | torch.isnan(t)][0].item()
        raise ValueError(f"{name} must contain probabilities in [0, 1]; found {bad!r}")


class Flat(NamedTuple):
    """Input flattened to (M, C) rows with the class dim last, plus what is needed to undo it."""

    logits2d: Tensor
    target: Tensor  # (M,) int64 class indices or (M, C) probabilities
    prob_target: bool
    out_shape: torch.Size  # shape of a 'none' result
    no_ignored: bool = False  # class-index target checked on CPU: every entry a valid class, none ignored


def class_dim(input: Tensor) -> int:
    return 0 if input.dim() == 1 else 1


def to_rows(x: Tensor) -> Tensor:
    """(C,) -> (1, C); (N, C) -> itself; (N, C, d1, ...) -> (N*d1*..., C)."""
    if x.dim() == 1:
        return x.unsqueeze(0)
    if x.dim() == 2:
        return x
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def none_shape(input: Tensor) -> torch.Size:
    """The shape of a ``reduction='none'`` result: ``input.shape`` without its class dim."""
    shape = input.shape
    if len(shape) == 1:
        return torch.Size([])
    if len(shape) == 2:
        return cast(torch.Size, shape[:1])  # a Size at run time (the stubs say tuple)
    return torch.Size([shape[0], *shape[2:]])


def check_weight(weight: Tensor | None, num_classes: int, input: Tensor) -> Tensor | None:
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a 1-D tensor of {num_classes} class weights, got {type(weight).__name__}")
    if weight.dim() != 1 or weight.shape[0] != num_classes:
        raise ValueError(
            f"weight must be a 1-D tensor with one entry per class ({num_classes}), got shape {tuple(weight.shape)}"
        )
    check_floating(weight, "weight")
    if weight.device != input.device:
        raise ValueError(f"weight is on {weight.device} but input is on {input.device}")
    return weight


def _flat_rows_fast(input: Tensor, target: Tensor, ignore_index: int) -> Flat | None:
    """The common call in few operations: CPU eager (N, C) floating logits and (N,) int64 labels in range.

    Anything else returns None and takes the full checks below; the label check is the same one
    (:func:`_check_labels`), so this path accepts and raises exactly what they do.
    """
    if not (
        type(input) is Tensor
        and type(target) is Tensor
        and type(ignore_index) is int
        and input.dim() == 2
        and target.dim() == 1
        and target.dtype == torch.int64
        and input.dtype.is_floating_point
        and input.is_cpu
        and target.is_cpu
    ):
        return None
    rows, num_classes = input.shape
    if rows == 0 or num_classes == 0 or target.shape[0] != rows or tracing():
        return None
    return Flat(input, target, False, input.shape[:1], _check_labels(target, num_classes, ignore_index))


def _check_labels(labels: Tensor, num_classes: int, ignore_index: int) -> bool:
    """Raise ValueError for a class index outside ``[0, C)`` that is not ``ignore_index`` (CPU labels).

    One ``aminmax`` pass; the masked search runs only when something lies outside ``[0, C)``. Returns
    whether no element can be ``ignore_index`` (``Flat.no_ignored``).
    """
    lo_t, hi_t = torch.aminmax(labels)
    lo, hi = int(lo_t), int(hi_t)
    if lo < 0 or hi >= num_classes:
        bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
        if bool(bad.any()):
            raise ValueError(
                f"class index {int(labels[bad][0])} is out of range for {num_classes} classes "
                f"(valid: 0..{num_classes - 1}, or ignore_index={ignore_index})"
            )
        return False
    return not lo <= ignore_index <= hi


def flatten_input_target(input: Tensor, target: Tensor, ignore_index: int) -> Flat:
    """Validate (input, target) of a classification loss and flatten them to rows.

    ``input``: (C,), (N, C) or (N, C, d1, ...) floating logits. ``target``: integer class indices of shape
    ``input.shape`` without the class dim, or floating probabilities of ``input.shape``.
    """
    flat = _flat_rows_fast(input, target, ignore_index)
    if flat is not None:
        return flat
    check_floating(input, "input")
    check_ignore_index(ignore_index)
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if input.dim() == 0:
        raise ValueError(
            "input must have a class dimension: expected shape (C,), (N, C) or (N, C, d1, ...), got a scalar"
        )
    if target.device != input.device:
        raise ValueError(f"target is on {target.device} but input is on {input.device}")
    num_classes = input.shape[class_dim(input)]
    if num_classes == 0:
        raise ValueError(
            f"input has no classes: its class dim (dim {class_dim(input)}) has size 0, shape {tuple(input.shape)}"
        )
    logits2d = to_rows(input)
    if target.dtype.is_floating_point:
        if target.shape != input.shape:
            raise ValueError(
                f"probability target must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)} "
                "(class-index targets must have an integer dtype)"
            )
        if _cpu(target) and target.numel() and not bool(target.min() >= 0):  # one pass; min() propagates NaN
            bad = (target < 0) | torch.isnan(target)
            raise ValueError(f"probability target has a negative or NaN entry: {target[bad][0].item()!r}")
        return Flat(logits2d, to_rows(target), True, none_shape(input))
    if target.dtype == torch.bool or target.dtype.is_complex:
        raise TypeError(f"target must be integer class indices or floating probabilities, got {target.dtype}")
    expected = none_shape(input)
    if target.shape != expected:
        raise ValueError(
            f"class-index target must have shape {tuple(expected)} (input {tuple(input.shape)} without its class "
            f"dim), got {tuple(target.shape)}"
        )
    flat_t = target if target.dim() == 1 and target.dtype == torch.int64 else target.reshape(-1).long()
    if not (_cpu(flat_t) and flat_t.numel()):
        return Flat(logits2d, flat_t, False, expected)
    return Flat(logits2d, flat_t, False, expected, _check_labels(flat_t, num_classes, ignore_index))
