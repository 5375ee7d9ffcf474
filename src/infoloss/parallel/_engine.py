"""The two engines behind :mod:`infoloss.parallel` and :mod:`infoloss.tokens`: local logits (N, V_r), and a
local linear head (hidden (N, H) @ weight (V_r, H)^T) whose logits are formed one row chunk at a time.

Both run the same three steps (see :mod:`._core`): local statistics chunk by chunk, one all-gather, merge;
backward recomputes the local logits chunk by chunk from the saved per-row values and needs no collective
(the linear engine all-reduces the (N, H) hidden gradient once unless ``reduce_hidden_grad=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from infoloss._common import compute_dtype

from . import _core
from ._core import DOUBLE_BACKWARD_MSG, Comm, Layout, Merged, RowCoefs, Spec

LOGITS_CHUNK = 1 << 19  # elements per temporary of the logits engine (~2 MiB of float32)
LINEAR_CHUNK = 1 << 23  # elements of one chunk of logits in the linear engine (~32 MiB of float32)


@dataclass
class Plan:
    """Options of one call (validated by the public functions)."""

    name: str
    spec: Spec
    comm: Comm
    coefs: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (ce, ent, rev), 1/ln(base) included
    reduction: str = "none"  # 'none' | 'mean' | 'sum' | 'tokens' (two outputs: logprob, entropy)
    chunk_size: int | None = None
    known_sizes: tuple[int, ...] | None = None
    temperature: float = 1.0
    softcap: float | None = None
    reduce_hidden_grad: bool = True


def target_error(target: Tensor, spec: Spec) -> float:
    """1.0 if a probability target has a negative or NaN entry (sent with the statistics: every rank raises)."""
    if spec.target != "prob" or target.numel() == 0:
        return 0.0
    return float(bool(((target < 0) | torch.isnan(target)).any()))


def _reduce(rows: Tensor, denom: float, reduction: str) -> Tensor:
    """Apply the reduction to the per-row losses (an empty 'mean' denominator gives 0)."""
    if reduction == "none":
        return rows
    total = rows.sum()
    if reduction == "sum":
        return total
    return total / denom if denom > 0 else total * 0.0


def _scale(go: Tensor, n: int, denom: float, reduction: str, dtype: torch.dtype) -> Tensor:
    """The upstream gradient of each row, (n,), the 'mean' denominator included."""
    if reduction == "none":
        return go.to(dtype).reshape(n)
    s = go.to(dtype).reshape(())
    if reduction == "mean":
        s = s / denom if denom > 0 else s * 0.0
    return s.expand(n)


def _token_coefs(mg: Merged, g_lp: Tensor | None, g_h: Tensor | None, n: int, dtype: torch.dtype) -> RowCoefs:
    assert mg.valid is not None
    mask = mg.valid.to(dtype)
    ce = -(g_lp.to(dtype).reshape(n) * mask) if g_lp is not None else None
    ent = g_h.to(dtype).reshape(n) * mask if g_h is not None else None
    return RowCoefs(ce, ent, None)


def _token_outputs(mg: Merged) -> tuple[Tensor, Tensor]:
    assert mg.logp_y is not None and mg.ent is not None and mg.valid is not None
    ent = torch.where(mg.valid, mg.ent, torch.zeros_like(mg.ent))
    return mg.logp_y + 0.0, ent  # + 0.0: -0.0 -> 0.0 on ignored rows


# --------------------------------------------------------------------------------------------- logits engine
def _logits_forward(z: Tensor, target: Tensor, w: Tensor | None, plan: Plan) -> tuple[Merged, Layout]:
    dtype = compute_dtype(z.dtype)
    n, local = z.shape
    step = _core.rows_per_chunk(local, plan.chunk_size, LOGITS_CHUNK)
    wc = w.to(dtype) if w is not None else None
    inv_t = 1.0 / plan.temperature

    def make(r0: int, r1: int) -> Tensor:
        zc = z[r0:r1].to(dtype)
        return zc * inv_t if inv_t != 1.0 else zc

    return _core.forward_stats(
        plan.comm,
        make,
        n,
        local,
        target,
        wc,
        plan.spec,
        dtype,
        z.device,
        step,
        known_sizes=plan.known_sizes,
        error=target_error(target, plan.spec),
        coefs=plan.coefs,
    )


class _TargetChunks:
    """Row slices of the target, probability targets converted to the compute dtype slice by slice."""

    def __init__(self, target: Tensor, spec: Spec, dtype: torch.dtype) -> None:
        self.target, self.convert, self.dtype = target, spec.target == "prob", dtype

    def __getitem__(self, sl: slice) -> Tensor:
        t = self.target[sl]
        return t.to(self.dtype) if self.convert else t


def _logits_backward(
    z: Tensor, target: Tensor, w: Tensor | None, plan: Plan, mg: Merged, layout: Layout, k: RowCoefs
) -> Tensor:
    dtype = compute_dtype(z.dtype)
    n, local = z.shape
    step = _core.rows_per_chunk(local, plan.chunk_size, LOGITS_CHUNK)
    wc = w.to(dtype) if w is not None else None
    tgt = _TargetChunks(target, plan.spec, dtype)
    inv_t = 1.0 / plan.temperature
    grad = torch.empty_like(z, memory_format=torch.contiguous_format)
    direct = grad.dtype == dtype  # write each chunk's gradient in place (no copy)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        zc = z[r0:r1].to(dtype)
        if inv_t != 1.0:
            zc = zc * inv_t
        g = _core.grad_chunk(
            zc,
            tgt[r0:r1],
            wc,
            plan.spec,
            layout.offset,
            layout.vocab,
            mg,
            k,
            slice(r0, r1),
            out=grad[r0:r1] if direct else None,
        )
        if inv_t != 1.0:
            g.mul_(inv_t)
        if not direct:
            grad[r0:r1] = g
    return grad


class LogitsLoss(torch.autograd.Function):
    """Reduced or per-row loss of local logits; gradient analytic, no collective in backward."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, target: Tensor, w: Tensor | None, plan: Plan) -> Tensor:
        mg, layout = _logits_forward(z.detach(), target, w, plan)
        rows = _core.row_loss(mg, plan.coefs)
        denom = _core.denominator(mg, plan.spec, plan.reduction)
        ctx.state = (mg, layout, denom, plan)
        ctx.save_for_backward(z, target, w)
        return _reduce(rows, denom, plan.reduction).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, go: Tensor) -> tuple[Tensor | None, None, None, None]:
        mg, layout, denom, plan = ctx.state
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=plan.name))
        z, target, w = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        dtype = compute_dtype(z.dtype)
        k = _core.loss_coefs(mg, plan.coefs, _scale(go, z.shape[0], denom, plan.reduction, dtype))
        return _logits_backward(z.detach(), target, w, plan, mg, layout, k), None, None, None


class LogitsTokens(torch.autograd.Function):
    """(log p_y, H) per row of local logits, both differentiable."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, target: Tensor, plan: Plan) -> tuple[Tensor, Tensor]:
        mg, layout = _logits_forward(z.detach(), target, None, plan)
        ctx.state = (mg, layout, plan)
        ctx.save_for_backward(z, target)
        return _token_outputs(mg)

    @staticmethod
    def backward(ctx: Any, g_lp: Tensor | None, g_h: Tensor | None) -> tuple[Tensor | None, None, None]:
        mg, layout, plan = ctx.state
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=plan.name))
        z, target = ctx.saved_tensors
        if not ctx.needs_input_grad[0] or (g_lp is None and g_h is None):
            return None, None, None
        k = _token_coefs(mg, g_lp, g_h, z.shape[0], compute_dtype(z.dtype))
        return _logits_backward(z.detach(), target, None, plan, mg, layout, k), None, None


# --------------------------------------------------------------------------------------------- linear engine
def _head(
    h: Tensor, weight: Tensor, bias: Tensor | None, plan: Plan, dtype: torch.dtype, buf: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """Compute-dtype logits of one row chunk, and tanh(raw / softcap) when soft-capped (for backward);
    ``buf``: a reusable (rows >= chunk, V_r) buffer of weight's dtype for the product."""
    out = buf[: h.shape[0]] if buf is not None else None
    if bias is not None:
        raw = torch.addmm(bias, h, weight.t(), out=out) if out is not None else torch.addmm(bias, h, weight.t())
    else:
        raw = torch.mm(h, weight.t(), out=out) if out is not None else torch.mm(h, weight.t())
    z = raw.to(dtype)
    th = None
    if plan.softcap is not None:
        th = z.div_(plan.softcap).tanh_()
        z = th * (plan.softcap / plan.temperature)
    elif plan.temperature != 1.0:
        z = z.mul_(1.0 / plan.temperature)
    return z, th


def _linear_forward(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, plan: Plan
) -> tuple[Merged, Layout]:
    dtype = compute_dtype(hidden.dtype)
    n, local = hidden.shape[0], weight.shape[0]
    step = _core.rows_per_chunk(local, plan.chunk_size, LINEAR_CHUNK)

    buf = torch.empty((min(step, n), local), dtype=weight.dtype, device=weight.device)

    def make(r0: int, r1: int) -> Tensor:
        return _head(hidden[r0:r1], weight, bias, plan, dtype, buf)[0]

    return _core.forward_stats(
        plan.comm,
        make,
        n,
        local,
        target,
        None,
        plan.spec,
        dtype,
        hidden.device,
        step,
        known_sizes=plan.known_sizes,
        error=target_error(target, plan.spec),
        coefs=plan.coefs,
    )


def _linear_backward(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    plan: Plan,
    mg: Merged,
    layout: Layout,
    k: RowCoefs,
    needs: tuple[bool, bool, bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    dtype = mg.log_s.dtype
    n, local = hidden.shape[0], weight.shape[0]
    step = _core.rows_per_chunk(local, plan.chunk_size, LINEAR_CHUNK)
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    need_h, need_w, need_b = needs
    gh = torch.zeros_like(hidden) if need_h else None
    gw = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
    gb = torch.zeros(local, dtype=acc, device=weight.device) if need_b else None
    tgt = _TargetChunks(target, plan.spec, dtype)
    buf = torch.empty((min(step, n), local), dtype=weight.dtype, device=weight.device)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        h = hidden[r0:r1]
        z, th = _head(h, weight, bias, plan, dtype, buf)
        g = _core.grad_chunk(
            z, tgt[r0:r1], None, plan.spec, layout.offset, layout.vocab, mg, k, slice(r0, r1), out=z
        )  # z is not needed afterwards: the gradient overwrites it
        del z
        if th is not None:  # z = c tanh(raw / c) / T: dz/draw = (1 - tanh^2) / T
            g.mul_(th.square_().neg_().add_(1.0))
        if plan.temperature != 1.0:
            g.mul_(1.0 / plan.temperature)
        if gh is not None:
            gh[r0:r1] = torch.mm(g.to(weight.dtype), weight)
        if gw is not None:
            gw.addmm_(g.t().to(acc), h.to(acc))
        if gb is not None:
            gb.add_(g.sum(0, dtype=acc))
    if gh is not None and plan.reduce_hidden_grad:
        plan.comm.all_reduce_(gh)
    return (
        gh,
        (gw.to(weight.dtype) if gw is not None else None),
        (gb.to(bias.dtype) if gb is not None and bias is not None else None),
    )


def _needs(ctx: Any, bias: Tensor | None) -> tuple[bool, bool, bool]:
    return (
        bool(ctx.needs_input_grad[0]),
        bool(ctx.needs_input_grad[1]),
        bias is not None and bool(ctx.needs_input_grad[2]),
    )


class LinearLoss(torch.autograd.Function):
    """Reduced or per-row loss of a local linear head; backward recomputes the logits chunk by chunk."""

    @staticmethod
    def forward(ctx: Any, hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, plan: Plan) -> Tensor:
        mg, layout = _linear_forward(
            hidden.detach(), weight.detach(), bias.detach() if bias is not None else None, target, plan
        )
        rows = _core.row_loss(mg, plan.coefs)
        denom = _core.denominator(mg, plan.spec, plan.reduction)
        ctx.state = (mg, layout, denom, plan)
        ctx.needs = _needs(ctx, bias)
        ctx.save_for_backward(hidden, weight, bias, target)
        return _reduce(rows, denom, plan.reduction).to(hidden.dtype)

    @staticmethod
    def backward(ctx: Any, go: Tensor) -> tuple[Tensor | None, ...]:
        mg, layout, denom, plan = ctx.state
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=plan.name))
        hidden, weight, bias, target = ctx.saved_tensors
        k = _core.loss_coefs(mg, plan.coefs, _scale(go, hidden.shape[0], denom, plan.reduction, mg.log_s.dtype))
        gh, gw, gb = _linear_backward(
            hidden.detach(),
            weight.detach(),
            bias.detach() if bias is not None else None,
            target,
            plan,
            mg,
            layout,
            k,
            ctx.needs,
        )
        return gh, gw, gb, None, None


class LinearTokens(torch.autograd.Function):
    """(log p_y, H) per row of a local linear head, both differentiable."""

    @staticmethod
    def forward(
        ctx: Any, hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, plan: Plan
    ) -> tuple[Tensor, Tensor]:
        mg, layout = _linear_forward(
            hidden.detach(), weight.detach(), bias.detach() if bias is not None else None, target, plan
        )
        ctx.state = (mg, layout, plan)
        ctx.needs = _needs(ctx, bias)
        ctx.save_for_backward(hidden, weight, bias, target)
        return _token_outputs(mg)

    @staticmethod
    def backward(ctx: Any, g_lp: Tensor | None, g_h: Tensor | None) -> tuple[Tensor | None, ...]:
        mg, layout, plan = ctx.state
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=plan.name))
        hidden, weight, bias, target = ctx.saved_tensors
        if g_lp is None and g_h is None:
            return None, None, None, None, None
        k = _token_coefs(mg, g_lp, g_h, hidden.shape[0], mg.log_s.dtype)
        gh, gw, gb = _linear_backward(
            hidden.detach(),
            weight.detach(),
            bias.detach() if bias is not None else None,
            target,
            plan,
            mg,
            layout,
            k,
            ctx.needs,
        )
        return gh, gw, gb, None, None


def no_grad_needed(*tensors: Tensor | None) -> bool:
    """True when grad mode is off or no given tensor requires grad."""
    return not torch.is_grad_enabled() or not any(t is not None and t.requires_grad for t in tensors)


__all__ = ["Plan", "LogitsLoss", "LogitsTokens", "LinearLoss", "LinearTokens"]
