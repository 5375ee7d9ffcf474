"""Fused row kernels with analytic gradients (the default backend of :mod:`infoloss.functional`).

Same two functions and semantics as :mod:`infoloss._reference` (see ``docs/design.md`` and
``docs/fused.md``)::

    ce_family_rows(logits2d, target, *, weight, ignore_index, label_smoothing,
                   ce_coef, ent_coef, rev_coef, rev_log_eps) -> (M,)
    entropy_rows(logits2d) -> (M,)

On CPU the rows are processed in cache-sized blocks by a compiled C kernel (class-index and probability
targets; built on first use with the system C compiler and cached) or, without a compiler, by in-place
torch ops on row chunks. On CUDA with
Triton installed, Triton kernels are used (untested on a GPU so far). Anything else takes the eager path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infoloss import _reference

from . import _ckernel
from ._rows import FusedRows, _compute

__all__ = ["ce_family_rows", "entropy_rows", "cpu_kernel_available", "triton_available"]


def cpu_kernel_available() -> bool:
    """True when the compiled CPU row kernel is usable (compiling it on first call, about 1 s)."""
    return _ckernel.available()


def triton_available() -> bool:
    """True when CUDA and Triton are both present (the Triton kernels are then used for CUDA tensors)."""
    if not torch.cuda.is_available():
        return False
    try:
        from . import _triton
    except Exception:
        return False
    return _triton.AVAILABLE


def _use_triton(x: Tensor) -> bool:
    return x.device.type == "cuda" and triton_available()


def ce_family_rows(logits2d: Tensor, target: Tensor, *, weight: Tensor | None, ignore_index: int,
                   label_smoothing: float, ce_coef: float, ent_coef: float, rev_coef: float,
                   rev_log_eps: float) -> Tensor:
    """Per-row ``ce_coef * CE_i + ent_coef * s_i * H_i + rev_coef * s_i * R_i`` in nats, fused.

    Args:
        logits2d: (M, C) logits, class dim last.
        target: (M,) int64 class indices or (M, C) floating class probabilities.
        weight: optional (C,) class weights.
        ignore_index: class index whose rows give loss 0 and gradient 0.
        label_smoothing: eps in [0, 1]; the target becomes ``(1 - eps) q + eps / C``.
        ce_coef, ent_coef, rev_coef: coefficients of CE, ``s_i * H_i`` and ``s_i * R_i``.
        rev_log_eps: ``log(eps)`` of the floor in ``R_i = -sum_c p_c log max(q'_c, eps)``.

    Returns:
        (M,) float32 loss (float64 for float64 input), differentiable w.r.t. ``logits2d`` with the gradient
        in ``logits2d``'s dtype. Double backward raises a RuntimeError.

    Example:
        >>> z = torch.randn(4, 10, requires_grad=True)
        >>> y = torch.tensor([1, 0, 9, -100])
        >>> loss = ce_family_rows(z, y, weight=None, ignore_index=-100, label_smoothing=0.0,
        ...                       ce_coef=1.0, ent_coef=0.1, rev_coef=0.0, rev_log_eps=-13.8)
        >>> loss.sum().backward()
    """
    if (target.dtype.is_floating_point and target.requires_grad) or (
            weight is not None and weight.requires_grad):
        # gradients w.r.t. the target or the class weights: only the reference composes them
        return _reference.ce_family_rows(logits2d, target, weight=weight, ignore_index=ignore_index,
                                         label_smoothing=label_smoothing, ce_coef=ce_coef,
                                         ent_coef=ent_coef, rev_coef=rev_coef, rev_log_eps=rev_log_eps)
    opts: dict[str, Any] = dict(ignore_index=int(ignore_index), label_smoothing=float(label_smoothing), ce=float(ce_coef),
                ent=float(ent_coef), rev=float(rev_coef), rev_log_eps=float(rev_log_eps), chunk_rows=None,
                use_kernel=None)
    if _use_triton(logits2d):
        from . import _triton

        return _triton.ce_family_rows(logits2d, target, weight, **opts)
    if torch.is_grad_enabled() and logits2d.requires_grad:
        return FusedRows.apply(logits2d, target, weight, opts)
    loss, _ = _compute(logits2d.detach(), target, weight, want_grad=False, **opts)
    return loss


def entropy_rows(logits2d: Tensor) -> Tensor:
    """Per-row Shannon entropy ``H_i = -sum_c p_ic log p_ic`` (nats), ``p = softmax(logits2d)``, fused.

    The gradient is ``dH/dz_j = -p_j (log p_j + H)``. (M, C) -> (M,), float32 (float64 for float64 input).

    Example:
        >>> h = entropy_rows(torch.zeros(2, 4))  # log(4) = 1.3863 per row
    """
    rows = logits2d.shape[0]
    target = torch.zeros(rows, dtype=torch.int64, device=logits2d.device)
    opts: dict[str, Any] = dict(ignore_index=-1, label_smoothing=0.0, ce=0.0, ent=1.0, rev=0.0, rev_log_eps=0.0,
                chunk_rows=None, use_kernel=None, name="entropy_rows")
    if _use_triton(logits2d):
        from . import _triton

        return _triton.ce_family_rows(logits2d, target, None, **opts)
    if torch.is_grad_enabled() and logits2d.requires_grad:
        return FusedRows.apply(logits2d, target, None, opts)
    opts.pop("name")
    loss, _ = _compute(logits2d.detach(), target, None, want_grad=False, **opts)
    return loss
