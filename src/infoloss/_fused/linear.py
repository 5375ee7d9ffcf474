"""Fused linear + loss for large vocabularies: the (N, V) logits never exist at once.

``logits = hidden @ weight.T + bias`` is formed one row chunk at a time; each chunk's per-row loss and
logit gradient come from the fused row kernel (:mod:`infoloss._fused._rows`), and the gradient is pushed
straight through the linear layer (``dhidden = dlogits @ weight``, ``dweight += dlogits.T @ hidden``,
``dbias += dlogits.sum(0)``) before the chunk is dropped. With reduction 'mean' or 'sum' the gradients are
made in forward (the upstream gradient is a scalar, applied in backward); with 'none' backward recomputes
the chunks with the per-row upstream gradient. Peak extra memory: one chunk of logits and its gradient
plus the parameter-sized gradients.

The loss per row is the ``ce_family_rows`` contract of ``docs/design.md`` with no class weights:
``ce_coef * CE_i + ent_coef * s_i * H_i + rev_coef * s_i * R_i`` (s_i = 0 for ignored rows, else 1).
Reduction 'mean' divides by the number of non-ignored rows (class-index targets) or by N (probability
targets); an empty denominator gives 0.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from infoloss._validation import (
    check_finite_number,
    check_floating,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    flatten_input_target,
    log_base,
)

from ._rows import DOUBLE_BACKWARD_MSG, _compute

__all__ = ["linear_cross_entropy", "linear_min_entropy_loss", "linear_mixed_entropy_loss",
           "linear_token_stats", "TokenStats"]

_CHUNK_ELEMENTS = 1 << 23  # default chunk: ~32 MiB of float32 logits


class TokenStats(NamedTuple):
    """Per-token statistics from :func:`linear_token_stats` (both (N,), nats, float32/float64)."""

    entropy: Tensor
    target_logprob: Tensor


def _ln(base: float | None, name: str = "base") -> float:
    return log_base(base, name)


def _check(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None, reduction: str,
           label_smoothing: float, chunk_size: int | None, ignore_index: int = -100) -> None:
    check_floating(hidden, "hidden")
    check_floating(weight, "weight")
    if hidden.dim() != 2:
        raise ValueError(f"hidden must be (N, H), got shape {tuple(hidden.shape)}")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(f"weight must be (V, H) with H={hidden.shape[1]}, got shape {tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must be (V,) with V={weight.shape[0]}, got shape {tuple(bias.shape)}")
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    # Target shape, dtype and class-index range (on CPU) are checked as for every loss: the logits
    # (N, V) are never built, so validate against a zero-stride stand-in of that shape.
    stand_in = hidden.new_empty(()).expand(hidden.shape[0], weight.shape[0])
    flatten_input_target(stand_in, target, ignore_index)


def _rows_per_chunk(vocab: int, chunk_size: int | None) -> int:
    return int(chunk_size) if chunk_size is not None else max(1, _CHUNK_ELEMENTS // max(1, vocab))


def _denominator(target: Tensor, ignore_index: int, reduction: str) -> float:
    if reduction == "sum":
        return 1.0
    if target.dtype.is_floating_point:
        count = float(target.shape[0])
    else:
        count = float((target != ignore_index).sum())
    return count if reduction == "mean" else 1.0


def _logits(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.addmm(bias, h, weight.t()) if bias is not None else torch.mm(h, weight.t())


def _run(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None, opts: dict[str, Any],
         row_scale: Tensor | float, needs: tuple[bool, bool, bool]
         ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Per-row loss, and the gradients for (hidden, weight, bias) with rows scaled by ``row_scale``."""
    n, vocab = hidden.shape[0], weight.shape[0]
    need_h, need_w, need_b = needs
    want = need_h or need_w or need_b
    acc = torch.float64 if weight.dtype == torch.float64 else torch.float32
    loss = torch.empty(n, dtype=acc, device=hidden.device)
    gh = torch.zeros_like(hidden) if need_h else None
    gw = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
    gb = torch.zeros(vocab, dtype=acc, device=weight.device) if need_b else None
    step = _rows_per_chunk(vocab, opts["chunk_size"])
    row_opts = {k: v for k, v in opts.items() if k not in ("chunk_size",)}
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        h = hidden[r0:r1]
        z = _logits(h, weight, bias)
        lc, g = _compute(z, target[r0:r1], None, want_grad=want, chunk_rows=None, use_kernel=None,
                         **row_opts)
        loss[r0:r1] = lc
        if g is None:
            continue
        del z
        if isinstance(row_scale, Tensor):
            g.mul_(row_scale[r0:r1].to(g.dtype).unsqueeze(1))
        elif row_scale != 1.0:
            g.mul_(row_scale)
        if gh is not None:
            torch.mm(g, weight, out=gh[r0:r1])
        if gw is not None:
            if g.dtype == acc:
                gw.addmm_(g.t(), h)
            else:
                gw.addmm_(g.t().to(acc), h.to(acc))
        if gb is not None:
            gb.add_(g.sum(0, dtype=acc))
    return loss, gh, (gw.to(weight.dtype) if gw is not None else None), (
        gb.to(bias.dtype) if gb is not None and bias is not None else None)


class _LinearFamily(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: Tensor, weight: Tensor, bias: Tensor | None,  # type: ignore[override]
                target: Tensor, opts: dict[str, Any]) -> Tensor:
        reduction = opts.pop("reduction")
        ctx.reduction, ctx.opts, ctx.name = reduction, opts, opts.pop("name")
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], bias is not None and ctx.needs_input_grad[2])
        ctx.needs = needs
        if reduction == "none":
            loss, _, _, _ = _run(hidden, weight, target, bias, opts, 1.0, (False, False, False))
            ctx.save_for_backward(hidden, weight, bias, target)
            return loss
        denom = _denominator(target, opts["ignore_index"], reduction)
        scale = 1.0 / denom if denom > 0 else 0.0
        loss, gh, gw, gb = _run(hidden, weight, target, bias, opts, scale, needs)
        ctx.grads = (gh, gw, gb)
        return loss.sum() * scale

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=ctx.name))
        if ctx.reduction == "none":
            hidden, weight, bias, target = ctx.saved_tensors
            _, gh, gw, gb = _run(hidden, weight, target, bias, ctx.opts, grad_output, ctx.needs)
            return gh, gw, gb, None, None
        gh, gw, gb = ctx.grads
        go = float(grad_output)
        if go != 1.0:
            for g in (gh, gw, gb):
                if g is not None:
                    g.mul_(go)
        return gh, gw, gb, None, None


def _family(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None, *, name: str, ce: float,
            ent: float, rev: float, rev_log_eps: float, ignore_index: int, reduction: str,
            label_smoothing: float, chunk_size: int | None) -> Tensor:
    _check(hidden, weight, target, bias, reduction, label_smoothing, chunk_size, ignore_index)
    opts: dict[str, Any] = dict(ignore_index=int(ignore_index), label_smoothing=float(label_smoothing),
                                ce=ce, ent=ent, rev=rev, rev_log_eps=float(rev_log_eps),
                                chunk_size=chunk_size, reduction=reduction, name=name)
    out_dtype = hidden.dtype
    grads = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (hidden, weight, bias))
    if grads:
        out = _LinearFamily.apply(hidden, weight, bias, target, opts)
    else:
        reduction = opts.pop("reduction")
        opts.pop("name")
        with torch.no_grad():
            rows, _, _, _ = _run(hidden, weight, target, bias, opts, 1.0, (False, False, False))
        if reduction == "none":
            out = rows
        else:
            denom = _denominator(target, int(ignore_index), reduction)
            out = rows.sum() / denom if denom > 0 else rows.sum() * 0.0
    return out.to(out_dtype)


def linear_cross_entropy(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None, *,
                         ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                         base: float | None = None, chunk_size: int | None = None) -> Tensor:
    """Cross entropy of ``hidden @ weight.T + bias`` without materializing the (N, V) logits.

    ``loss_i = -sum_c q'_ic log softmax(z_i)_c`` with ``z_i = weight @ hidden_i + bias`` and the smoothed
    target ``q' = (1 - eps) q + eps / V`` (same as ``F.cross_entropy(F.linear(hidden, weight, bias), ...)``).

    Args:
        hidden: (N, H) hidden states.
        weight: (V, H) classifier weight.
        target: (N,) class indices, or (N, V) class probabilities.
        bias: optional (V,) classifier bias.
        ignore_index: class index whose rows are left out of the loss and of the 'mean' denominator.
        reduction: 'none' (N,) | 'mean' (over non-ignored rows; 0 if none) | 'sum'.
        label_smoothing: eps in [0, 1].
        base: logarithm base (None = nats, 2 = bits).
        chunk_size: rows per chunk (default: about 2**23 / V).

    Returns:
        The loss in ``hidden``'s dtype; gradients flow to hidden, weight and bias.

    Example:
        >>> h, w = torch.randn(8, 16, requires_grad=True), torch.randn(100, 16, requires_grad=True)
        >>> loss = linear_cross_entropy(h, w, torch.randint(0, 100, (8,)))
        >>> loss.backward()
    """
    return _family(hidden, weight, target, bias, name="linear_cross_entropy", ce=1.0 / _ln(base), ent=0.0,
                   rev=0.0, rev_log_eps=0.0, ignore_index=ignore_index, reduction=reduction,
                   label_smoothing=label_smoothing, chunk_size=chunk_size)


def linear_min_entropy_loss(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None, *,
                            ce_weight: float = 1.0, entropy_weight: float = 0.1, ce_base: float | None = None,
                            entropy_base: float | None = None, ignore_index: int = -100,
                            reduction: str = "mean", label_smoothing: float = 0.0,
                            chunk_size: int | None = None) -> Tensor:
    """MIN-ENT of ``hidden @ weight.T + bias``: ``ce_weight * CE_i + entropy_weight * s_i * H_i``, chunked.

    ``H_i = -sum_c p_ic log p_ic`` with ``p_i = softmax(z_i)``; ``s_i`` is 0 for ignored rows, else 1.
    Shapes, reduction and chunking as :func:`linear_cross_entropy`; a negative ``entropy_weight`` is the
    confidence penalty.

    Example:
        >>> h, w = torch.randn(8, 16, requires_grad=True), torch.randn(100, 16, requires_grad=True)
        >>> linear_min_entropy_loss(h, w, torch.randint(0, 100, (8,)), entropy_weight=0.1).backward()
    """
    return _family(hidden, weight, target, bias, name="linear_min_entropy_loss", ce=check_finite_number(ce_weight, "ce_weight") / _ln(ce_base, "ce_base"),
                   ent=check_finite_number(entropy_weight, "entropy_weight") / _ln(entropy_base, "entropy_base"), rev=0.0, rev_log_eps=0.0,
                   ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing,
                   chunk_size=chunk_size)


def linear_mixed_entropy_loss(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None,
                              *, ce_weight: float = 1.0, reverse_weight: float = 0.1,
                              ce_base: float | None = None, reverse_base: float | None = None,
                              eps: float = 1e-6, ignore_index: int = -100, reduction: str = "mean",
                              label_smoothing: float = 0.0, chunk_size: int | None = None) -> Tensor:
    """MIX-ENT of ``hidden @ weight.T + bias``: ``ce_weight * CE_i + reverse_weight * s_i * R_i``, chunked.

    ``R_i = -sum_c p_ic log max(q'_ic, eps)`` is the swapped (reverse) cross entropy. Shapes, reduction and
    chunking as :func:`linear_cross_entropy`.

    Example:
        >>> h, w = torch.randn(8, 16, requires_grad=True), torch.randn(100, 16, requires_grad=True)
        >>> linear_mixed_entropy_loss(h, w, torch.randint(0, 100, (8,)), reverse_weight=0.1).backward()
    """
    eps = check_open_unit(eps, "eps")
    return _family(hidden, weight, target, bias, name="linear_mixed_entropy_loss",
                   ce=check_finite_number(ce_weight, "ce_weight") / _ln(ce_base, "ce_base"), ent=0.0,
                   rev=check_finite_number(reverse_weight, "reverse_weight") / _ln(reverse_base, "reverse_base"),
                   rev_log_eps=math.log(eps), ignore_index=ignore_index, reduction=reduction,
                   label_smoothing=label_smoothing, chunk_size=chunk_size)


@torch.no_grad()
def linear_token_stats(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None, *,
                       ignore_index: int = -100, chunk_size: int | None = None) -> TokenStats:
    """Per-token entropy ``H_i`` and target log-probability ``log p_{i, y_i}`` (nats), no logits kept.

    Forward only (no gradient). (N, H), (V, H), (N,) -> TokenStats of two (N,) tensors; ``target_logprob``
    is 0 for rows whose target is ``ignore_index``.

    Example:
        >>> h, w = torch.randn(8, 16), torch.randn(100, 16)
        >>> stats = linear_token_stats(h, w, torch.randint(0, 100, (8,)))
        >>> stats.entropy.shape, stats.target_logprob.shape
        (torch.Size([8]), torch.Size([8]))
    """
    _check(hidden, weight, target, bias, "none", 0.0, chunk_size, ignore_index)
    if target.dtype.is_floating_point:
        raise TypeError("linear_token_stats needs class-index targets (an integer tensor)")
    n, vocab = hidden.shape[0], weight.shape[0]
    acc = torch.float64 if weight.dtype == torch.float64 else torch.float32
    ent = torch.empty(n, dtype=acc, device=hidden.device)
    logp = torch.empty(n, dtype=acc, device=hidden.device)
    never = torch.iinfo(torch.int64).min
    step = _rows_per_chunk(vocab, chunk_size)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        z = _logits(hidden[r0:r1], weight, bias)
        y = target[r0:r1]
        ent[r0:r1] = _compute(z, torch.zeros_like(y), None, ignore_index=never, label_smoothing=0.0, ce=0.0,
                              ent=1.0, rev=0.0, rev_log_eps=0.0, want_grad=False, chunk_rows=None,
                              use_kernel=None)[0]
        logp[r0:r1] = -_compute(z, y, None, ignore_index=ignore_index, label_smoothing=0.0, ce=1.0, ent=0.0,
                                rev=0.0, rev_log_eps=0.0, want_grad=False, chunk_rows=None,
                                use_kernel=None)[0]
    return TokenStats(ent, logp)
