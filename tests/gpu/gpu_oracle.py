"""float64 oracles for the GPU tests, written from the formulas (torch's own F.cross_entropy for the CE part)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _xlogy0(p: Tensor, logp: Tensor) -> Tensor:
    return torch.where(p > 0, p * logp, torch.zeros_like(p))


def ce_family(
    z: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    ce: float = 1.0,
    ent: float = 0.0,
    rev: float = 0.0,
    rev_eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """``ce * CE + ent * s * H + rev * s * R`` reduced like F.cross_entropy, in float64 (differentiable in z).

    CE is torch's ``F.cross_entropy`` (weights, smoothing, ignore_index, its 'mean' denominator); H the
    entropy of softmax(z); R = -sum_c p_c log max(q'_c, rev_eps) with q' the smoothed target; s_i the
    sample weight (w_y for class indices, 0 when ignored; sum_c w_c q_c for probabilities).
    """
    z = z.double()
    n, c = z.shape
    w = weight.double() if weight is not None else torch.ones(c, dtype=torch.float64, device=z.device)
    logp = torch.log_softmax(z, dim=1)
    p = logp.exp()
    h = -_xlogy0(p, logp).sum(1)
    if target.dtype.is_floating_point:
        q = target.double()
        ce_rows = F.cross_entropy(
            z,
            q,
            weight=weight.double() if weight is not None else None,
            reduction="none",
            label_smoothing=label_smoothing,
        )
        s = (q * w).sum(1)
        q_s = (1 - label_smoothing) * q + label_smoothing / c
        denom = torch.tensor(float(n), dtype=torch.float64, device=z.device)
    else:
        valid = target != ignore_index
        y = torch.where(valid, target, torch.zeros_like(target))
        ce_rows = F.cross_entropy(
            z,
            target,
            weight=weight.double() if weight is not None else None,
            ignore_index=ignore_index,
            reduction="none",
            label_smoothing=label_smoothing,
        )
        s = torch.where(valid, w[y], torch.zeros_like(w[y]))
        q_s = (1 - label_smoothing) * F.one_hot(y, c).double() + label_smoothing / c
        denom = s.sum()
    r = -(p * torch.log(q_s.clamp_min(rev_eps))).sum(1)
    rows = ce * ce_rows + ent * s * h + rev * s * r
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / denom if float(denom) > 0 else rows.sum() * 0.0


def loss_and_grads(fn, *tensors: Tensor, upstream: Tensor | None = None) -> tuple[Tensor, list[Tensor | None]]:
    """Evaluate ``fn(*leaves)`` on float64 leaf copies of ``tensors``; return the loss and the leaves' gradients."""
    leaves = [t.detach().double().requires_grad_() if t.dtype.is_floating_point else t for t in tensors]
    out = fn(*leaves)
    (out if upstream is None else (out * upstream.double()).sum()).sum().backward()
    return out.detach(), [t.grad if t.dtype.is_floating_point else None for t in leaves]


TOL = {  # (rtol, atol relative to the largest |reference|) per dtype: loss, gradient
    torch.float32: ((1e-5, 1e-6), (1e-4, 1e-5)),
    torch.float16: ((2e-3, 1e-3), (1e-2, 2e-3)),
    torch.bfloat16: ((1e-2, 8e-3), (2e-2, 1e-2)),
}


def assert_close_scaled(actual: Tensor, expected: Tensor, rtol: float, atol_rel: float, what: str = "") -> None:
    """assert_close in float64 with atol = atol_rel * max|expected| (gradients are tiny entries of a large tensor)."""
    expected = expected.double()
    scale = float(expected.abs().max()) if expected.numel() else 1.0
    torch.testing.assert_close(
        actual.double(), expected, rtol=rtol, atol=atol_rel * max(scale, 1e-30), msg=lambda m: f"{what}: {m}"
    )
