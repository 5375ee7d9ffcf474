"""Fused CPU row kernels: one pass per row block computes the per-row loss and its analytic gradient.

Kernels behind :func:`compute` (the autograd layer over them is :mod:`infoloss._ops`):

* the compiled C kernel (``_kernel.c`` via :mod:`._ckernel`) for class-index and probability targets,
  used when a C compiler is available (float16/bfloat16 rows, and targets in another dtype or with a
  non-unit class stride, are converted to the compute dtype chunk by chunk);
* an eager path of in-place torch ops on row chunks (no compiler, or ``INFOLOSS_CPU_KERNEL=0``).

Neither keeps anything of size M x C alive except the gradient itself, computed in forward when asked.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infoloss._common import RowOptions, compute_dtype

from . import _ckernel

_CHUNK_ELEMENTS = 1 << 19  # eager path: ~2 MiB of float32 per temporary, about one L2 cache


def _chunk_rows(num_classes: int, chunk_rows: int | None) -> int:
    if chunk_rows is not None:
        return max(1, int(chunk_rows))
    return max(1, _CHUNK_ELEMENTS // max(1, num_classes))


def _eager_chunk(
    z: Tensor, target: Tensor, w: Tensor | None, wsum: Tensor | float, *, opts: RowOptions, want_grad: bool
) -> tuple[Tensor, Tensor | None]:
    """Loss (rows,) and gradient (rows, C) of one chunk in torch ops; ``z`` already in the compute dtype.

    The formula of ``docs/fused.md``: ``log p = (z - m) - log S`` (never the difference of two large
    numbers); ``0 log 0 = 0`` where a target or a probability is 0; a ``-inf`` logit against a positive
    target gives ``+inf``. Gradient ``p_j (ce*A - ent*s*(log p_j + H) - rev*s*(L_j + R)) - ce*a_j``.
    """
    dtype = z.dtype
    rows, num_classes = z.shape
    ce, ent, rev, eps = opts.ce, opts.ent, opts.rev, opts.label_smoothing
    m = z.amax(1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    logp = z - m
    p = logp.exp()
    s_row = p.sum(1, keepdim=True)
    p.div_(s_row)
    logp.sub_(s_row.log())
    finite_logp = torch.where(p == 0, torch.zeros_like(logp), logp)  # 0 * log 0 = 0 from here on
    ent_h = -torch.linalg.vecdot(p, finite_logp) if ent != 0 else None
    lo = ly = 0.0
    if target.dtype.is_floating_point:
        q = target.to(dtype)
        s = (q @ w) if w is not None else torch.ones(rows, dtype=dtype, device=z.device)
        qs = q * (1.0 - eps) + eps / num_classes if eps > 0 else q
        a = qs * w if w is not None else qs
        a_sum = a.sum(1)
        cross = -(torch.where(a == 0, torch.zeros_like(a), a * logp)).sum(1)
        log_q = qs.log().clamp_min_(opts.rev_log_eps) if rev != 0 else None
        rev_r = -torch.linalg.vecdot(p, log_q) if log_q is not None else None
        valid = None
        safe = None
        wy = None
        p_y = None
    else:
        a = None
        log_q = None
        valid = target != opts.ignore_index
        safe = torch.where(valid, target, torch.zeros_like(target)).unsqueeze(1)
        wy = w[safe.squeeze(1)] if w is not None else torch.ones(rows, dtype=dtype, device=z.device)
        s = torch.where(valid, wy, torch.zeros_like(wy))
        logp_y = logp.gather(1, safe).squeeze(1)
        cross = (1.0 - eps) * wy * (-logp_y) if eps < 1 else torch.zeros_like(wy)
        if eps > 0:
            cross = cross - (eps / num_classes) * ((logp @ w) if w is not None else logp.sum(1))
            a_sum = (1.0 - eps) * wy + (eps / num_classes) * wsum
        else:
            a_sum = wy
        ly, lo = opts.rev_logs(num_classes)
        p_y = p.gather(1, safe).squeeze(1)
        rev_r = -(lo + p_y * (ly - lo)) if rev != 0 else None
    loss = torch.zeros(rows, dtype=dtype, device=z.device)
    if ce != 0:
        loss = loss + ce * cross
    if ent_h is not None:
        loss = loss + ent * s * ent_h
    if rev_r is not None:
        loss = loss + rev * s * rev_r
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros_like(loss))
    if not want_grad:
        return loss, None
    k = ce * a_sum
    g = finite_logp
    if ent_h is not None:
        k = k - ent * s * ent_h
        g.mul_((-ent * s).unsqueeze(1))
    else:
        g.zero_()
    if rev_r is not None:
        if log_q is not None:
            k = k - rev * s * rev_r
            g.add_(log_q.mul_((-rev * s).unsqueeze(1)))
        else:
            k = k - rev * s * (lo + rev_r)
    g.add_(k.unsqueeze(1)).mul_(p)
    if a is not None:
        if ce != 0:
            g.sub_(a, alpha=ce)
    else:
        assert safe is not None and wy is not None and valid is not None and p_y is not None
        if ce != 0 and eps > 0:
            if w is not None:
                g.sub_(w, alpha=ce * eps / num_classes)
            else:
                g.sub_(ce * eps / num_classes)
        corr = -ce * (1.0 - eps) * wy if ce != 0 and eps < 1 else torch.zeros_like(wy)
        if rev_r is not None:
            corr = corr - rev * s * (ly - lo) * p_y
        g.scatter_add_(1, safe, corr.unsqueeze(1))
        g = torch.where(valid.unsqueeze(1), g, torch.zeros_like(g))
    return loss, g


def _kernel_prob(
    logits2d: Tensor,
    target: Tensor,
    w: Tensor | None,
    wsum: float,
    *,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    chunk_rows: int | None,
    loss: Tensor,
    grad: Tensor | None,
) -> None:
    """Probability targets through the C kernel; rows in another dtype or layout go chunk by chunk."""
    dtype = loss.dtype
    num_classes = logits2d.shape[1]
    ones = w is None
    wk = torch.ones(num_classes, dtype=dtype) if w is None else w
    consts: dict[str, Any] = dict(
        weighted=not ones, label_smoothing=label_smoothing, ce=ce, ent=ent, rev=rev, rev_log_eps=rev_log_eps, wsum=wsum
    )

    def ready(t: Tensor) -> bool:
        return t.dtype == dtype and t.stride(1) == 1

    if ready(logits2d) and ready(target) and (grad is None or grad.dtype == dtype):
        _ckernel.prob_rows(logits2d, target, wk, loss=loss, grad=grad, **consts)
        return
    step = _chunk_rows(num_classes, chunk_rows)
    direct = grad is None or grad.dtype == dtype  # grad is contiguous: write into it unless a cast is due
    gbuf = None if direct else torch.empty((min(step, logits2d.shape[0]), num_classes), dtype=dtype)
    for r0 in range(0, logits2d.shape[0], step):
        r1 = min(logits2d.shape[0], r0 + step)
        zc, qc = logits2d[r0:r1], target[r0:r1]
        zc = zc if ready(zc) else zc.to(dtype).contiguous()
        qc = qc if ready(qc) else qc.to(dtype).contiguous()
        gc = None if grad is None else (grad[r0:r1] if gbuf is None else gbuf[: r1 - r0])
        _ckernel.prob_rows(zc, qc, wk, loss=loss[r0:r1], grad=gc, **consts)
        if grad is not None and gbuf is not None and gc is not None:
            grad[r0:r1].copy_(gc)


def compute(
    logits2d: Tensor,
    target: Tensor,
    weight: Tensor | None,
    opts: RowOptions,
    *,
    want_grad: bool,
    impl: str = "auto",
    chunk_rows: int | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Per-row loss (M,) and, when ``want_grad``, the gradient (M, C) of the rows, by the chosen kernel.

    ``impl``: ``"auto"`` (the table in :func:`infoloss._ops.implementation`), ``"ckernel"``, ``"eager"``
    (chunked torch ops) or ``"triton"``. The loss is float32 (float64 for float64 input); the gradient has
    the input's dtype. Runs outside autograd: callers wrap it (``infoloss._ops``).
    """
    if impl == "auto":
        impl = "ckernel" if logits2d.is_cpu and _ckernel.available() else "eager"
    if (
        impl == "ckernel"
        and weight is None
        and target.dtype == torch.int64
        and logits2d.dtype in (torch.float32, torch.float64)
        and logits2d.shape[1] > 0
        and logits2d.stride(1) == 1
        and target.is_contiguous()
    ):  # the common small call, with no conversion to make: straight to the kernel
        loss = torch.empty(logits2d.shape[0], dtype=logits2d.dtype)
        grad = torch.empty_like(logits2d, memory_format=torch.contiguous_format) if want_grad else None
        _ckernel.rows_index(logits2d, target, opts, loss, grad)
        return loss, grad
    in_dtype = logits2d.dtype
    dtype = compute_dtype(in_dtype)
    rows, num_classes = logits2d.shape
    dev = logits2d.device
    if impl == "triton":
        from . import _triton

        return _triton.launch(logits2d, target, weight, want_grad, opts)
    loss = torch.empty(rows, dtype=dtype, device=dev)
    grad = torch.empty((rows, num_classes), dtype=in_dtype, device=dev) if want_grad else None
    if rows == 0 or num_classes == 0:
        loss.zero_()
        return loss, grad
    w = weight.to(device=dev, dtype=dtype).contiguous() if weight is not None else None
    index_target = not target.dtype.is_floating_point
    if impl == "ckernel":
        wsum = float(w.sum()) if w is not None else float(num_classes)  # CPU only: no device sync
        if not index_target:
            _kernel_prob(
                logits2d,
                target,
                w,
                wsum,
                label_smoothing=opts.label_smoothing,
                ce=opts.ce,
                ent=opts.ent,
                rev=opts.rev,
                rev_log_eps=opts.rev_log_eps,
                chunk_rows=chunk_rows,
                loss=loss,
                grad=grad,
            )
            return loss, grad
        y = target.to(torch.int64).contiguous()
        ly, lo = opts.rev_logs(num_classes)
        consts: dict[str, Any] = dict(
            ignore_index=opts.ignore_index,
            label_smoothing=opts.label_smoothing,
            ce=opts.ce,
            ent=opts.ent,
            rev=opts.rev,
            lo=lo,
            ly=ly,
            wsum=wsum,
        )
        if in_dtype == dtype and logits2d.stride(1) == 1:
            _ckernel.rows(logits2d, y, w, loss=loss, grad=grad, **consts)
            return loss, grad
        step = _chunk_rows(num_classes, chunk_rows)
        gbuf = torch.empty((min(step, rows), num_classes), dtype=dtype) if grad is not None else None
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            zc = logits2d[r0:r1].to(dtype).contiguous()
            gc = gbuf[: r1 - r0] if gbuf is not None else None
            _ckernel.rows(zc, y[r0:r1], w, loss=loss[r0:r1], grad=gc, **consts)
            if grad is not None and gc is not None:
                grad[r0:r1].copy_(gc)
        return loss, grad
    wsum_t: Tensor | float = w.sum() if w is not None else float(num_classes)
    step = _chunk_rows(num_classes, chunk_rows)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        lc, gc = _eager_chunk(logits2d[r0:r1].to(dtype), target[r0:r1], w, wsum_t, opts=opts, want_grad=want_grad)
        loss[r0:r1] = lc
        if grad is not None and gc is not None:
            grad[r0:r1] = gc
    return loss, grad


def _compute(
    logits2d: Tensor,
    target: Tensor,
    weight: Tensor | None,
    *,
    ignore_index: int,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    want_grad: bool,
    chunk_rows: int | None = None,
    use_kernel: bool | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Keyword form of :func:`compute` (used by the linear losses)."""
    opts = RowOptions(
        ignore_index=ignore_index, label_smoothing=label_smoothing, ce=ce, ent=ent, rev=rev, rev_log_eps=rev_log_eps
    )
    impl = "auto" if use_kernel is None else ("ckernel" if use_kernel else "eager")
    return compute(logits2d, target, weight, opts, want_grad=want_grad, impl=impl, chunk_rows=chunk_rows)
