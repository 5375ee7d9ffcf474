"""Argument checks shared by the bespoke builders, losses and metrics (private).

Every check raises ``TypeError`` or ``ValueError`` with a message that names the argument, what was
expected and what was found. Checks on matrix *values* (finite, non-negative, row sums) force a device
sync, so losses run them once at construction; the cheap shape checks run on every call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# One implementation of these checks for the whole library (re-exported for the bespoke modules).
from infoloss._common import compute_dtype as compute_dtype
from infoloss._common import tracing
from infoloss._validation import _finite
from infoloss._validation import check_reduction as check_reduction
from infoloss._validation import log_base as log_base

ROW_SUM_ATOL = 1e-4


def as_float_matrix(matrix: Tensor | Sequence[Sequence[float]], name: str) -> Tensor:
    """Convert ``matrix`` to a 2-D square floating tensor (float32 unless it already is floating)."""
    if isinstance(matrix, Tensor):
        m = matrix.detach()
    elif isinstance(matrix, Sequence) and not isinstance(matrix, str):
        try:
            m = torch.tensor(matrix, dtype=torch.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a tensor or a nested sequence of numbers; got {matrix!r}") from err
    else:
        raise TypeError(f"{name} must be a tensor or a nested sequence of numbers, got {type(matrix).__name__}")
    if not m.dtype.is_floating_point:
        if m.dtype.is_complex or m.dtype == torch.bool:
            raise TypeError(f"{name} must be real-valued, got dtype {m.dtype}")
        m = m.to(torch.float32)
    if m.dim() != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square (C, C) matrix, got shape {tuple(m.shape)}")
    if m.shape[0] == 0:
        raise ValueError(f"{name} must have at least one class, got shape {tuple(m.shape)}")
    return m


def check_finite(m: Tensor, name: str) -> None:
    """Raise ValueError naming the first NaN/inf entry of ``m``."""
    if tracing():
        return
    bad = ~torch.isfinite(m)
    if bool(bad.any()):
        idx = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} must be finite; entry {idx} is {m[idx].item()}")


def check_non_negative(m: Tensor, name: str, *, ignore_diagonal: bool = False) -> None:
    """Raise ValueError naming the first negative entry of ``m`` (optionally skipping the diagonal)."""
    if tracing():
        return
    neg = m < 0
    if ignore_diagonal:
        neg = neg & ~torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    if bool(neg.any()):
        idx = tuple(int(i) for i in neg.nonzero()[0])
        raise ValueError(f"{name} must be non-negative; entry {idx} is {m[idx].item()}")


def check_positive(value: float, name: str) -> float:
    """Return ``float(value)`` if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (_finite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def check_weight(weight: Tensor | None, num_classes: int) -> None:
    """``weight`` must be None or a 1-D floating tensor of length C."""
    if weight is None:
        return
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a tensor or None, got {type(weight).__name__}")
    if not weight.dtype.is_floating_point:
        raise TypeError(f"weight must be a floating tensor, got dtype {weight.dtype}")
    if weight.shape != (num_classes,):
        raise ValueError(f"weight must have shape ({num_classes},) (one entry per class), got {tuple(weight.shape)}")


def flatten_logits_and_target(
    input: Tensor, target: Tensor, num_classes: int, matrix_name: str, fn_name: str
) -> tuple[Tensor, Tensor]:
    """Check shapes and return ``(logits2d (M, C), target1d (M,))`` with the class dim last.

    The class dim is 1 for inputs of >= 2 dims and 0 for a 1-D input (C,) with a 0-d target.
    """
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{fn_name}: input and target must be tensors")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn_name}: input must be floating-point logits, got dtype {input.dtype}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise TypeError(
            f"{fn_name}: target must hold integer class indices, got dtype {target.dtype} "
            "(for probability targets use infoloss.functional.cross_entropy)"
        )
    if input.dim() == 0:
        raise ValueError(f"{fn_name}: input must have a class dimension, got a 0-d tensor")
    class_dim = 1 if input.dim() >= 2 else 0
    c = input.shape[class_dim]
    if c != num_classes:
        raise ValueError(
            f"{fn_name}: {matrix_name} is {num_classes} x {num_classes} but input has {c} classes "
            f"(input shape {tuple(input.shape)}, class dim {class_dim})"
        )
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"{fn_name}: target shape {tuple(target.shape)} does not match input shape {tuple(input.shape)} "
            f"without the class dim (expected {tuple(expected)})"
        )
    logits2d = input.movedim(class_dim, -1).reshape(-1, c)
    return logits2d, target.reshape(-1)


def check_target_range(target: Tensor, num_classes: int, ignore_index: int, fn_name: str) -> Tensor:
    """Return the mask of non-ignored elements, raising if any other index is outside [0, C).

    The range check reads values, so (as in :mod:`infoloss.functional`) it runs on CPU tensors only: a CUDA call never
    forces a device synchronisation, and torch's indexing kernels assert out-of-range labels there.
    """
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"{fn_name}: ignore_index must be an int, got {type(ignore_index).__name__} {ignore_index!r}")
    valid = target != ignore_index
    if target.device.type != "cpu" or tracing():
        return valid
    bad = valid & ((target < 0) | (target >= num_classes))
    if bool(bad.any()):
        value = int(target[bad][0])
        raise ValueError(
            f"{fn_name}: target index {value} is out of range for {num_classes} classes "
            f"(valid: 0..{num_classes - 1}, or ignore_index={ignore_index})"
        )
    return valid


def float_dtype(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` if it is a floating torch dtype (a matrix of probabilities or costs); TypeError otherwise."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating torch dtype (the matrix holds probabilities or costs), got {dtype!r}"
        )
    return dtype
