"""Triton kernels for the fused rows (CUDA only). UNTESTED ON A GPU: written without access to one.

Imported only when CUDA is available (see :func:`infoloss._fused.triton_available`); importing this module
never fails: ``AVAILABLE`` is False when Triton is missing. One program handles one row: pass 1 computes
the online max / sum of exp / sum of exp * (z - m) over class blocks, pass 2 writes the gradient
``p_j (K + beta (z_j - m)) - c0 w_j`` (class-index targets). Probability targets, and anything this
kernel does not cover, use the eager chunked path (which runs on CUDA too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

try:  # pragma: no cover - needs triton
    import triton
    import triton.language as tl

    AVAILABLE = True
except Exception:  # pragma: no cover - CPU-only installs
    AVAILABLE = False


if AVAILABLE:  # pragma: no cover - needs a GPU

    @triton.jit
    def _rows_kernel(z_ptr, y_ptr, w_ptr, loss_ptr, g_ptr, C, stride_z, stride_g, ignore_index,
                     eps_s, ce, ent, rev, lo, ly, wsum,
                     HAS_W: tl.constexpr, HAS_GRAD: tl.constexpr, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        z_row = z_ptr + row * stride_z
        yi = tl.load(y_ptr + row)
        valid = yi != ignore_index
        # An out-of-range label must not read out of bounds (CUDA inputs skip the host-side range check):
        # it reads class 0 and its row's loss is stored as NaN, so the error shows instead of garbage.
        in_range = (yi >= 0) & (yi < C)
        y_safe = tl.where(valid & in_range, yi, 0)
        m = -float("inf")
        s = 0.0
        td = 0.0
        zw = 0.0
        for start in range(0, C, BLOCK):
            cols = start + tl.arange(0, BLOCK)
            mask = cols < C
            z = tl.load(z_row + cols, mask=mask, other=-float("inf")).to(tl.float32)
            m_new = tl.maximum(m, tl.max(z, 0))
            m_safe = tl.where(m_new > -float("inf"), m_new, 0.0)
            d = tl.maximum(z - m_safe, -1e30)
            e = tl.exp(d)
            scale = tl.exp(tl.maximum(m - m_safe, -1e30))
            # sum e*(z - m_new) = scale*(td + (m_old - m_new)*s_old) + sum e*d
            td = scale * (td + tl.maximum(m - m_safe, -1e30) * s) + tl.sum(e * d, 0)
            s = scale * s + tl.sum(e, 0)
            if HAS_W:
                wv = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
                zw += tl.sum(tl.where(mask, wv * z, 0.0), 0)
            else:
                zw += tl.sum(tl.where(mask, z, 0.0), 0)
            m = m_new
        m = tl.where(m > -float("inf"), m, 0.0)
        log_s = tl.log(s)
        lse = m + log_s
        h = log_s - td / s
        zy = tl.load(z_row + y_safe).to(tl.float32)
        py = tl.exp(zy - lse)
        if HAS_W:
            wy = tl.load(w_ptr + y_safe).to(tl.float32)
        else:
            wy = 1.0
        c_eps = eps_s / C
        a_sum = (1.0 - eps_s) * wy + c_eps * wsum
        cross = (1.0 - eps_s) * wy * (lse - zy) + c_eps * (wsum * lse - zw)
        r = -(lo + py * (ly - lo))
        loss = ce * cross + ent * wy * h + rev * wy * r
        tl.store(loss_ptr + row, tl.where(valid, tl.where(in_range, loss, float("nan")), 0.0))
        if HAS_GRAD:
            k = ce * a_sum - ent * wy * (h - log_s) - rev * wy * (lo + r)
            beta = -ent * wy
            c0 = ce * c_eps
            g_row = g_ptr + row * stride_g
            for start in range(0, C, BLOCK):
                cols = start + tl.arange(0, BLOCK)
                mask = cols < C
                z = tl.load(z_row + cols, mask=mask, other=-float("inf")).to(tl.float32)
                d = tl.maximum(z - m, -1e30)
                p = tl.exp(d - log_s)
                if HAS_W:
                    wv = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
                    g = p * (k + beta * d) - c0 * wv
                else:
                    g = p * (k + beta * d) - c0
                g = g - tl.where(cols == y_safe, ce * (1.0 - eps_s) * wy + rev * wy * (ly - lo) * py, 0.0)
                g = tl.where(valid, g, 0.0)
                tl.store(g_row + cols, g.to(g_ptr.dtype.element_ty), mask=mask)


def _launch(logits2d: Tensor, target: Tensor, weight: Tensor | None, want_grad: bool,
            opts: dict[str, Any]) -> tuple[Tensor, Tensor | None]:  # pragma: no cover - needs a GPU
    from ._rows import _rev_logs

    rows, num_classes = logits2d.shape
    z = logits2d if logits2d.stride(1) == 1 else logits2d.contiguous()
    dtype = torch.float64 if z.dtype == torch.float64 else torch.float32
    loss = torch.empty(rows, dtype=torch.float32, device=z.device)
    grad = torch.empty_like(z, memory_format=torch.contiguous_format) if want_grad else None
    if rows == 0:
        return loss.to(dtype), grad
    ly, lo = _rev_logs(num_classes, opts["label_smoothing"], opts["rev_log_eps"], torch.float32)
    w = weight.to(device=z.device, dtype=torch.float32).contiguous() if weight is not None else None
    wsum = float(w.sum()) if w is not None else float(num_classes)
    block = min(4096, triton.next_power_of_2(num_classes))
    _rows_kernel[(rows,)](z, target.contiguous(), w if w is not None else z, loss,
                          grad if grad is not None else z, num_classes, z.stride(0),
                          grad.stride(0) if grad is not None else 0, opts["ignore_index"],
                          opts["label_smoothing"], opts["ce"], opts["ent"], opts["rev"], lo, ly, wsum,
                          HAS_W=w is not None, HAS_GRAD=want_grad, BLOCK=block)
    return loss.to(dtype), grad


class _TritonRows(torch.autograd.Function):  # pragma: no cover - needs a GPU
    @staticmethod
    def forward(ctx: Any, logits2d: Tensor, target: Tensor, weight: Tensor | None,  # type: ignore[override]
                opts: dict[str, Any]) -> Tensor:
        loss, grad = _launch(logits2d, target, weight, True, opts)
        ctx.grad = grad
        ctx.opts = opts
        ctx.save_for_backward(logits2d, target, weight)
        ctx.name = opts.get("name", "ce_family_rows")
        return loss

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None, None]:  # type: ignore[override]
        from ._rows import DOUBLE_BACKWARD_MSG

        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=ctx.name))
        grad = ctx.grad
        if grad is None:  # second backward through the same graph: recompute
            logits2d, target, weight = ctx.saved_tensors
            grad = _launch(logits2d.detach(), target, weight, True, ctx.opts)[1]
        ctx.grad = None
        grad.mul_(grad_output.to(grad.dtype).unsqueeze(1))
        return grad, None, None, None


def ce_family_rows(logits2d: Tensor, target: Tensor, weight: Tensor | None,
                   **opts: Any) -> Tensor:  # pragma: no cover - needs a GPU
    """Dispatch: Triton for class-index targets in float32/16/bf16, the eager chunked path otherwise."""
    from ._rows import FusedRows, _compute

    opts = dict(opts)
    opts["use_kernel"] = False
    if target.dtype.is_floating_point or logits2d.dtype == torch.float64:
        if torch.is_grad_enabled() and logits2d.requires_grad:
            return FusedRows.apply(logits2d, target, weight, opts)
        opts.pop("name", None)
        return _compute(logits2d.detach(), target, weight, want_grad=False, **opts)[0]
    if torch.is_grad_enabled() and logits2d.requires_grad:
        return _TritonRows.apply(logits2d, target, weight, opts)
    return _launch(logits2d.detach(), target, weight, False, opts)[0]


