"""Fused row kernels with analytic gradients (the default backend of :mod:`infoloss.functional`).

The kernels live here: the C kernel (:mod:`._ckernel`, CPU), the chunked torch-op path and the dispatch
over them (:mod:`._rows`), and the Triton kernel (:mod:`._triton`, CUDA, opt-in). The autograd and
custom-op layer that calls them is :mod:`infoloss._ops`; the math is in ``docs/fused.md``.
"""

from __future__ import annotations

import torch

from . import _ckernel

__all__ = ["cpu_kernel_available", "triton_available"]


def cpu_kernel_available() -> bool:
    """True when the compiled CPU row kernel is usable (compiling it on first call, about 1 s)."""
    return _ckernel.available()


def triton_available() -> bool:
    """True when CUDA and Triton are both present (``infoloss.set_backend("triton")`` then uses it)."""
    if not torch.cuda.is_available():
        return False
    try:
        from . import _triton
    except Exception:
        return False
    return _triton.AVAILABLE


def ce_family_rows(
    logits2d: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    ce_coef: float,
    ent_coef: float,
    rev_coef: float,
    rev_log_eps: float,
) -> torch.Tensor:
    """The row contract of ``docs/design.md`` on the fused kernels (whatever backend is in effect).

    Per row ``ce_coef * CE_i + ent_coef * s_i * H_i + rev_coef * s_i * R_i`` in nats; (M, C) logits and
    (M,) int64 or (M, C) float targets -> (M,) float32 (float64 for float64 input).

    Example:
        >>> ce_family_rows(torch.zeros(1, 4), torch.tensor([0]), weight=None, ignore_index=-100,
        ...                label_smoothing=0.0, ce_coef=1.0, ent_coef=0.0, rev_coef=0.0, rev_log_eps=0.0)
        tensor([1.3863])
    """
    from infoloss._common import RowOptions
    from infoloss._ops import ce_family_rows as rows

    opts = RowOptions(
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        ce=ce_coef,
        ent=ent_coef,
        rev=rev_coef,
        rev_log_eps=rev_log_eps,
    )
    return rows(logits2d, target, weight, opts, fused=True)


def entropy_rows(logits2d: torch.Tensor) -> torch.Tensor:
    """Per-row entropy (nats) of ``softmax(logits2d)`` on the fused kernels; (M, C) -> (M,).

    Example:
        >>> entropy_rows(torch.zeros(1, 4))
        tensor([1.3863])
    """
    from infoloss._ops import entropy_rows as rows

    return rows(logits2d, fused=True)
