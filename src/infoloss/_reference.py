"""Plain-PyTorch row kernels: the readable oracle of the fused path.

Both this module and :mod:`infoloss._fused` implement the same two functions (see ``docs/design.md``):

* ``ce_family_rows(logits2d, target, ...)`` -> per-row loss
  ``ce_coef * CE_i + ent_coef * s_i * H_i + rev_coef * s_i * R_i`` (nats, coefficients carry 1/ln(base)).
* ``entropy_rows(logits2d)`` -> per-row Shannon entropy of ``softmax(logits2d)`` in nats.

Inputs are already validated and flattened: ``logits2d`` is (M, C) with the class dim last, ``target`` is
(M,) int64 class indices or (M, C) floating probabilities. Everything here is autograd-differentiable
composition of torch ops, so autograd provides the gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def xlogy_safe(x: Tensor, logy: Tensor) -> Tensor:
    """``x * logy`` with ``0 * log 0 = 0``: the derivative in ``x`` is ``logy`` (0 where ``logy = -inf`` and
    ``x = 0``, instead of NaN), the derivative in ``logy`` is ``x``."""
    return x * torch.where((x == 0) & (logy == -math.inf), torch.zeros_like(logy), logy)


def entropy_from_logp(logp: Tensor) -> Tensor:
    """H = -sum_c p_c log p_c over the last dim, with 0 log 0 = 0."""
    return -xlogy_safe(logp.exp(), logp).sum(-1)


def entropy_rows(logits2d: Tensor) -> Tensor:
    """Per-row entropy (nats) of ``softmax(logits2d)``; (M, C) -> (M,)."""
    logp = torch.log_softmax(logits2d.to(compute_dtype(logits2d.dtype)), dim=-1)
    return entropy_from_logp(logp)


def smoothed_target(
    target: Tensor, num_classes: int, label_smoothing: float, dtype: torch.dtype, ignore_index: int
) -> Tensor:
    """Dense (M, C) target distribution q' = (1 - eps) q + eps / C (ignored rows: one-hot of class 0)."""
    if target.dtype.is_floating_point:
        q = target.to(dtype)
    else:
        safe = torch.where(target == ignore_index, torch.zeros_like(target), target)
        # scatter, not one_hot: one_hot reads the labels' max (data-dependent, fails under vmap)
        q = torch.zeros((*safe.shape, num_classes), dtype=dtype, device=safe.device).scatter(
            -1, safe.unsqueeze(-1), 1.0
        )
    if label_smoothing > 0:
        q = q * (1.0 - label_smoothing) + label_smoothing / num_classes
    return q


def sample_weights(
    target: Tensor, weight: Tensor | None, ignore_index: int, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """Per-row sample weight s_i (see docs/design.md): w[y_i] (0 if ignored) or sum_c w_c q_ic."""
    if target.dtype.is_floating_point:
        if weight is None:
            return torch.ones(target.shape[0], dtype=dtype, device=device)
        return (target.to(dtype) * weight.to(dtype)).sum(-1)
    valid = target != ignore_index
    if weight is None:
        return valid.to(dtype)
    safe = torch.where(valid, target, torch.zeros_like(target))
    return torch.where(valid, weight.to(dtype)[safe], torch.zeros((), dtype=dtype, device=device))


def ce_rows(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, label_smoothing: float) -> Tensor:
    """torch's per-element cross entropy (reduction='none') from log-probabilities, 0 log 0 = 0."""
    dtype = logp.dtype
    num_classes = logp.shape[-1]
    w = None if weight is None else weight.to(dtype)
    if target.dtype.is_floating_point:
        q = smoothed_target(target, num_classes, label_smoothing, dtype, ignore_index)
        if w is not None:
            q = q * w
        return -xlogy_safe(q, logp).sum(-1)
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    if w is not None:
        nll = nll * w[safe]
    loss = nll
    if label_smoothing > 0:
        smooth = -(logp * w).sum(-1) if w is not None else -logp.sum(-1)
        loss = (1.0 - label_smoothing) * nll + (label_smoothing / num_classes) * smooth
    return torch.where(valid, loss, torch.zeros_like(loss))


def ce_family_rows(
    logits2d: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    ce_coef: float,
    ent_coef: float,
    rev_coef: float,
    rev_log_eps: float,
) -> Tensor:
    """Per-row ``ce_coef*CE + ent_coef*s*H + rev_coef*s*R`` in nats; (M, C), (M,)|(M, C) -> (M,)."""
    dtype = compute_dtype(logits2d.dtype)
    logp = torch.log_softmax(logits2d.to(dtype), dim=-1)
    loss = torch.zeros(logp.shape[0], dtype=dtype, device=logp.device)
    if ce_coef != 0:
        loss = loss + ce_coef * ce_rows(logp, target, weight, ignore_index, label_smoothing)
    if ent_coef != 0 or rev_coef != 0:
        s = sample_weights(target, weight, ignore_index, dtype, logp.device)
        if ent_coef != 0:
            loss = loss + ent_coef * s * entropy_from_logp(logp)
        if rev_coef != 0:
            q = smoothed_target(target, logp.shape[-1], label_smoothing, dtype, ignore_index)
            # log max(q, eps) without underflow; the inner where keeps log's backward off q = 0 (0/0 = NaN
            # there, although the floor makes the derivative 0)
            pos = q > 0
            log_q = torch.where(pos, torch.log(torch.where(pos, q, torch.ones_like(q))), -math.inf)
            log_q = log_q.clamp_min(rev_log_eps)
            rev = -(logp.exp() * log_q).sum(-1)
            loss = loss + rev_coef * s * rev
    return loss
