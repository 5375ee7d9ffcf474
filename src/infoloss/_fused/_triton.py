"""Triton kernels for the fused rows (CUDA only). UNTESTED ON A GPU: written without access to one.

Imported only when CUDA is available (see :func:`infoloss._fused.triton_available`); importing this module
never fails: ``AVAILABLE`` is False when Triton is missing. One program handles one row: pass 1 computes
the online max / sum of exp / sum of exp * (z - m) over class blocks, pass 2 writes the gradient
``p_j (K + beta (z_j - m)) - c0 w_j`` (class-index targets). Probability targets, and anything this
kernel does not cover, use the eager chunked path (which runs on CUDA too).
"""

from __future__ import annotations

import torch
from torch import Tensor

from infoloss._common import RowOptions

try:  # pragma: no cover - needs triton
    import triton
    import triton.language as tl

    AVAILABLE = True
except Exception:  # pragma: no cover - CPU-only installs
    AVAILABLE = False


if AVAILABLE:  # pragma: no cover - needs a GPU

    @triton.jit
    def _rows_kernel(
        z_ptr,
        y_ptr,
        w_ptr,
        loss_ptr,
        g_ptr,
        C,
        stride_z,
        stride_g,
        ignore_index,
        eps_s,
        ce,
        ent,
        rev,
        lo,
        ly,
        HAS_W: tl.constexpr,
        HAS_GRAD: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
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
        zw = 0.0  # sum_c w_c (z_c - m), kept relative to the running max
        ws = 0.0  # sum_c w_c
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
            shift = tl.where(m > -float("inf"), m - m_safe, 0.0)
            if HAS_W:
                wv = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
                zw = zw + shift * ws + tl.sum(tl.where(mask & (wv != 0), wv * (z - m_safe), 0.0), 0)
                ws += tl.sum(wv, 0)
            else:
                zw = zw + shift * ws + tl.sum(tl.where(mask, z - m_safe, 0.0), 0)
                ws += tl.sum(tl.where(mask, 1.0, 0.0), 0)
            m = m_new
        m = tl.where(m > -float("inf"), m, 0.0)
        log_s = tl.log(s)
        h = log_s - td / s
        dy = tl.load(z_row + y_safe).to(tl.float32) - m  # log p_y = dy - log S: no large differences
        py = tl.exp(dy - log_s)
        if HAS_W:
            wy = tl.load(w_ptr + y_safe).to(tl.float32)
        else:
            wy = 1.0
        c_eps = eps_s / C
        a_sum = (1.0 - eps_s) * wy + c_eps * ws
        cross = (1.0 - eps_s) * wy * (log_s - dy)
        if eps_s > 0:
            cross += c_eps * (ws * log_s - zw)
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


def launch(
    logits2d: Tensor, target: Tensor, weight: Tensor | None, want_grad: bool, opts: RowOptions
) -> tuple[Tensor, Tensor | None]:  # pragma: no cover - needs a GPU or the interpreter
    """Loss rows and (optionally) gradient rows by the Triton kernel; probability targets and float64 take
    the eager chunked path (the Triton kernel covers class-index targets in float32/float16/bfloat16)."""
    from ._rows import compute

    if target.dtype.is_floating_point or logits2d.dtype == torch.float64:
        return compute(logits2d, target, weight, opts, want_grad=want_grad, impl="eager")
    rows, num_classes = logits2d.shape
    z = logits2d if logits2d.stride(1) == 1 else logits2d.contiguous()
    loss = torch.empty(rows, dtype=torch.float32, device=z.device)
    grad = torch.empty_like(z, memory_format=torch.contiguous_format) if want_grad else None
    if rows == 0:
        return loss, grad
    ly, lo = opts.rev_logs(num_classes)
    w = weight.to(device=z.device, dtype=torch.float32).contiguous() if weight is not None else None
    _rows_kernel[(rows,)](
        z,
        target.contiguous(),
        w if w is not None else z,
        loss,
        grad if grad is not None else z,
        num_classes,
        z.stride(0),
        grad.stride(0) if grad is not None else 0,
        opts.ignore_index,
        opts.label_smoothing,
        opts.ce,
        opts.ent,
        opts.rev,
        lo,
        ly,
        HAS_W=w is not None,
        HAS_GRAD=want_grad,
        BLOCK=min(4096, triton.next_power_of_2(num_classes)),
    )
    return loss, grad
