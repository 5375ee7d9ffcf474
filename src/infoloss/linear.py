"""Linear + loss for large vocabularies: the (N, V) logits never exist at once.

``z = hidden @ weight.T + bias`` (optionally soft-capped and divided by a temperature) is formed one row chunk
at a time; each chunk's per-row loss and logit gradient come from the fused row kernel, and the gradient is
pushed straight through the linear layer (``dhidden = g @ weight``, ``dweight += g.T @ hidden``,
``dbias += g.sum(0)``) before the chunk is dropped. With reduction 'mean' or 'sum' the gradients are made in
forward (the upstream gradient is a scalar, applied in backward); with 'none' backward recomputes the chunks
with the per-row upstream gradient. Peak extra memory: one chunk of logits and its gradient plus the
parameter-sized gradients.

The loss per row is the ``ce_family_rows`` contract of ``docs/design.md`` with no class weights:
``ce_coef * CE_i + ent_coef * s_i * H_i + rev_coef * s_i * R_i`` (s_i = 0 for ignored rows, else 1).
Reduction 'mean' divides by the number of non-ignored rows (class-index targets) or by N (probability
targets); an empty denominator gives 0.

The work runs in ``torch.library`` custom ops (namespace ``infoloss``) with fake (meta) kernels, so the
losses compose with ``torch.compile(fullgraph=True, dynamic=True)`` and ``torch.export``; the public functions
wrap them in an autograd Function with ``setup_context``, so ``torch.func.grad`` works too (torch 2.13's
``register_autograd`` alone does not support functorch transforms). The ops:

* ``infoloss::linear_ce_family_reduced(hidden, weight, bias, target, <options>, mean, need_h, need_w, need_b)
  -> (loss, grad_hidden, grad_weight, grad_bias)``: the reduced loss (0-dim) and its gradients (empty (0,)
  tensors where not needed);
* ``infoloss::linear_ce_family_rows(hidden, weight, bias, target, <options>) -> loss_rows (N,)``;
* ``infoloss::linear_ce_family_rows_backward(grad_rows, hidden, weight, bias, target, <options>, need_h,
  need_w, need_b) -> (grad_hidden, grad_weight, grad_bias)``.

``<options>`` are the fields of :class:`LinearLossOptions` as primitives (floats, ints, a dtype).
"""

from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any, NamedTuple

import torch
from torch import Tensor

from infoloss._common import RowOptions
from infoloss._fused._rows import compute
from infoloss._validation import (
    check_finite_number,
    check_floating,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    log_base,
)

__all__ = [
    "linear_cross_entropy",
    "linear_min_entropy_loss",
    "linear_mixed_entropy_loss",
    "linear_token_stats",
    "TokenStats",
    "LinearLossOptions",
]

_CHUNK_ELEMENTS = 1 << 23  # default chunk: ~32 MiB of float32 logits

DOUBLE_BACKWARD_MSG = (
    "infoloss.linear.{name} does not support double backward (create_graph=True): its gradient is computed "
    "analytically. Compute the logits explicitly and use infoloss.functional with "
    "infoloss.set_backend('reference') for higher-order gradients."
)


class TokenStats(NamedTuple):
    r"""Per-token entropy and target log-probability, as returned by :func:`linear_token_stats`.

    .. math::
        H_i = -\sum_c p_{ic} \log p_{ic}, \qquad \log p_{i y_i}, \qquad p_i = \operatorname{softmax}(W h_i + b)

    Example:
        >>> import torch
        >>> from infoloss.linear import TokenStats
        >>> TokenStats(torch.tensor([0.6931]), torch.tensor([-0.6931]))
        TokenStats(entropy=tensor([0.6931]), target_logprob=tensor([-0.6931]))
    """

    #: ``H_i`` in nats, shape ``(N,)``; float32 (float64 for float64 input).
    entropy: Tensor
    #: ``log p_{i, y_i}`` in nats, shape ``(N,)``; 0 on rows whose target is ``ignore_index``.
    target_logprob: Tensor


@dataclasses.dataclass(frozen=True)
class LinearLossOptions:
    r"""Options of one linear-loss call, as the ``infoloss::linear_ce_family_*`` custom ops receive them.

    The public functions build it from their keywords (already validated); it is not checked here. The loss
    of row ``i`` is

    .. math::
        \ell_i = \mathrm{ce}\, \mathrm{CE}_i + \mathrm{ent}\, s_i H_i + \mathrm{rev}\, s_i R_i, \qquad
        z_i = \frac{c \tanh((W h_i + b) / c)}{T}

    on the logits ``z_i`` (no cap when ``softcap = 0``), with ``s_i = 0`` for ignored rows, else 1.

    Args:
        ce: coefficient of the cross entropy, ``1 / ln(base)`` included.
        ent: coefficient of the entropy ``H_i``, ``1 / ln(base)`` included.
        rev: coefficient of the reverse cross entropy ``R_i``, ``1 / ln(base)`` included.
        rev_log_eps: ``log(eps)``, the floor of ``log q'`` inside ``R_i``.
        ignore_index: class index of ignored rows.
        label_smoothing: eps in [0, 1].
        softcap: ``c > 0``, or 0 for no cap.
        temperature: ``T > 0``.
        chunk_size: rows per chunk; 0 picks about ``2**23 / V``.
        gemm_dtype: dtype the GEMMs run in (the autocast dtype under autocast, else the parameters' dtype).

    Example:
        >>> import torch
        >>> from infoloss.linear import LinearLossOptions
        >>> o = LinearLossOptions(1.0, 0.1, 0.0, 0.0, -100, 0.0, 0.0, 1.0, 0, torch.float32)
        >>> o.args()
        (1.0, 0.1, 0.0, 0.0, -100, 0.0, 0.0, 1.0, 0, torch.float32)
    """

    ce: float
    ent: float
    rev: float
    rev_log_eps: float
    ignore_index: int
    label_smoothing: float
    softcap: float
    temperature: float
    chunk_size: int
    gemm_dtype: torch.dtype

    def args(self) -> tuple[Any, ...]:
        """The fields in declaration order, the options part of the custom ops' arguments."""
        return (
            self.ce,
            self.ent,
            self.rev,
            self.rev_log_eps,
            self.ignore_index,
            self.label_smoothing,
            self.softcap,
            self.temperature,
            self.chunk_size,
            self.gemm_dtype,
        )


def _acc_dtype(gemm_dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if gemm_dtype == torch.float64 else torch.float32


def _rows_per_chunk(vocab: int, chunk_size: int | None) -> int:
    return int(chunk_size) if chunk_size else max(1, _CHUNK_ELEMENTS // max(1, vocab))


def _logits(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.addmm(bias, h, weight.t()) if bias is not None else torch.mm(h, weight.t())


def _run(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    o: LinearLossOptions,
    needs: tuple[bool, bool, bool],
    row_scale: Tensor | None = None,
    denom: Tensor | float | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Per-row loss and the gradients for (hidden, weight, bias), rows scaled by ``row_scale`` / ``denom``.

    Runs with autocast off; the GEMMs run in ``o.gemm_dtype`` and the row kernel in float32 (float64).
    """
    n, vocab = hidden.shape[0], weight.shape[0]
    need_h, need_w, need_b = needs
    want = need_h or need_w or need_b
    gd = o.gemm_dtype
    acc = _acc_dtype(gd)
    dev = hidden.device
    loss = torch.zeros(n, dtype=acc, device=dev)
    gh = torch.zeros(hidden.shape, dtype=hidden.dtype, device=dev) if need_h else None
    gw = torch.zeros(weight.shape, dtype=acc, device=dev) if need_w else None
    gb = torch.zeros(vocab, dtype=acc, device=dev) if need_b else None
    w_g = weight.to(gd)
    b_g = bias.to(gd) if bias is not None else None
    step = _rows_per_chunk(vocab, o.chunk_size)
    cap, temp = o.softcap, o.temperature
    row_opts = RowOptions(
        ignore_index=o.ignore_index,
        label_smoothing=o.label_smoothing,
        ce=o.ce,
        ent=o.ent,
        rev=o.rev,
        rev_log_eps=o.rev_log_eps,
    )
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        h_g = hidden[r0:r1].to(gd)
        z = _logits(h_g, w_g, b_g)
        if z.dtype != acc:
            z = z.to(acc)  # float32 logits from a low-precision GEMM, as autocast's F.cross_entropy sees them
        t = None
        if cap > 0:
            t = z.div_(cap).tanh_()
            z = t.mul(cap / temp)
        elif temp != 1.0:
            z.div_(temp)
        lc, g = compute(z, target[r0:r1], None, row_opts, want_grad=want)
        loss[r0:r1] = lc
        if g is None:
            continue
        del z
        # chain rule through z' = cap * tanh(z / cap) / T: dz'/dz = (1 - tanh^2) / T
        if t is not None:
            g.mul_(t.square_().neg_().add_(1.0).div_(temp))
            del t
        elif temp != 1.0:
            g.div_(temp)
        if row_scale is not None:
            g.mul_(row_scale[r0:r1].to(g.dtype).unsqueeze(1))
        if denom is not None:
            g.div_(denom)
        if gb is not None:
            gb.add_(g.sum(0, dtype=acc))
        g_g = g.to(gd)
        del g
        if gh is not None:
            if gh.dtype == gd:
                torch.mm(g_g, w_g, out=gh[r0:r1])
            else:
                gh[r0:r1].copy_(torch.mm(g_g, w_g))
        if gw is not None:
            if gd == acc:
                gw.addmm_(g_g.t(), h_g)
            else:
                gw.add_(torch.mm(g_g.t(), h_g))
    return (
        loss,
        gh,
        gw.to(weight.dtype) if gw is not None else None,
        gb.to(bias.dtype) if gb is not None and bias is not None else None,
    )


def _no_autocast(device: torch.device) -> Any:
    return torch.autocast(device_type=device.type, enabled=False)


def _empty(like: Tensor) -> Tensor:
    return like.new_empty((0,))


def _opts(args: tuple[Any, ...]) -> LinearLossOptions:
    return LinearLossOptions(*args)


# ----------------------------------------------------------------------------------------------------------
# custom ops
# ----------------------------------------------------------------------------------------------------------


@torch.library.custom_op("infoloss::linear_ce_family_reduced", mutates_args=())
def _reduced_op(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
    mean: bool,
    need_h: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    o = LinearLossOptions(
        ce, ent, rev, rev_log_eps, ignore_index, label_smoothing, softcap, temperature, chunk_size, gemm_dtype
    )
    acc = _acc_dtype(gemm_dtype)
    denom: Tensor | float | None = None  # a 0-dim tensor for class indices: never read on the host
    if mean:
        if target.dtype.is_floating_point:
            denom = float(max(1, target.shape[0]))
        else:
            denom = (target != ignore_index).sum().clamp_min(1).to(acc)
    with _no_autocast(hidden.device):
        rows, gh, gw, gb = _run(
            hidden, weight, bias, target, o, (need_h, need_w, need_b and bias is not None), denom=denom
        )
    loss = rows.sum()
    if denom is not None:
        loss = loss / denom
    return (
        loss,
        gh if gh is not None else _empty(hidden),
        gw if gw is not None else _empty(weight),
        gb if gb is not None else _empty(weight),
    )


@_reduced_op.register_fake
def _reduced_fake(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
    mean: bool,
    need_h: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    loss = hidden.new_empty((), dtype=_acc_dtype(gemm_dtype))
    gh = hidden.new_empty(hidden.shape) if need_h else _empty(hidden)
    gw = weight.new_empty(weight.shape) if need_w else _empty(weight)
    gb = bias.new_empty(bias.shape) if need_b and bias is not None else _empty(weight)
    return loss, gh, gw, gb


@torch.library.custom_op("infoloss::linear_ce_family_rows", mutates_args=())
def _rows_op(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
) -> Tensor:
    o = LinearLossOptions(
        ce, ent, rev, rev_log_eps, ignore_index, label_smoothing, softcap, temperature, chunk_size, gemm_dtype
    )
    with _no_autocast(hidden.device):
        return _run(hidden, weight, bias, target, o, (False, False, False))[0]


@_rows_op.register_fake
def _rows_fake(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
) -> Tensor:
    return hidden.new_empty((hidden.shape[0],), dtype=_acc_dtype(gemm_dtype))


@torch.library.custom_op("infoloss::linear_ce_family_rows_backward", mutates_args=())
def _rows_backward_op(
    grad_rows: Tensor,
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
    need_h: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    o = LinearLossOptions(
        ce, ent, rev, rev_log_eps, ignore_index, label_smoothing, softcap, temperature, chunk_size, gemm_dtype
    )
    with _no_autocast(hidden.device):
        _, gh, gw, gb = _run(
            hidden, weight, bias, target, o, (need_h, need_w, need_b and bias is not None), row_scale=grad_rows
        )
    return (
        gh if gh is not None else _empty(hidden),
        gw if gw is not None else _empty(weight),
        gb if gb is not None else _empty(weight),
    )


@_rows_backward_op.register_fake
def _rows_backward_fake(
    grad_rows: Tensor,
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    label_smoothing: float,
    softcap: float,
    temperature: float,
    chunk_size: int,
    gemm_dtype: torch.dtype,
    need_h: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    gh = hidden.new_empty(hidden.shape) if need_h else _empty(hidden)
    gw = weight.new_empty(weight.shape) if need_w else _empty(weight)
    gb = bias.new_empty(bias.shape) if need_b and bias is not None else _empty(weight)
    return gh, gw, gb


# --- autograd: one formula per op, shared by register_autograd and the functorch-friendly Function ----------


def _check_not_double_backward(name: str) -> None:
    # torch.func.grad runs backward with grad mode on (create_graph=True) at its own level: allowed there.
    if (
        torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
        and not torch._C._are_functorch_transforms_active()
    ):
        raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name=name))


def _scaled(grad: Tensor, go: Tensor, needed: bool) -> Tensor | None:
    # a new tensor every time: the saved gradient is never modified, so a retained graph stays exact
    return grad * go.to(grad.dtype) if needed else None


def _reduced_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    _, gh, gw, gb = output
    ctx.mark_non_differentiable(gh, gw, gb)
    ctx.save_for_backward(gh, gw, gb)
    ctx.needs = (bool(inputs[-3]), bool(inputs[-2]), bool(inputs[-1]) and inputs[2] is not None)
    ctx.name = "linear_ce_family_reduced"


def _reduced_backward(ctx: Any, go: Tensor, *_: Any) -> tuple[Tensor | None, ...]:
    _check_not_double_backward(ctx.name)
    gh, gw, gb = ctx.saved_tensors
    need_h, need_w, need_b = ctx.needs
    return (_scaled(gh, go, need_h), _scaled(gw, go, need_w), _scaled(gb, go, need_b)) + (None,) * 15


def _rows_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    hidden, weight, bias, target = inputs[:4]
    ctx.save_for_backward(hidden, weight, bias, target)
    ctx.opt_args = tuple(inputs[4:14])
    ctx.needs = None  # the op called directly: use ctx.needs_input_grad
    ctx.name = "linear_ce_family_rows"


def _rows_backward(ctx: Any, grad_rows: Tensor) -> tuple[Tensor | None, ...]:
    _check_not_double_backward(ctx.name)
    hidden, weight, bias, target = ctx.saved_tensors
    need_h, need_w, need_b = (bool(x) for x in (ctx.needs or ctx.needs_input_grad[:3]))
    need_b = need_b and bias is not None
    with torch.no_grad():  # the result is not differentiable again (and functorch needs the no-grad path)
        gh, gw, gb = _rows_backward_op(grad_rows, hidden, weight, bias, target, *ctx.opt_args, need_h, need_w, need_b)
    return (gh if need_h else None, gw if need_w else None, gb if need_b else None) + (None,) * 11


_reduced_op.register_autograd(_reduced_backward, setup_context=_reduced_setup)
_rows_op.register_autograd(_rows_backward, setup_context=_rows_setup)


def _rows_backward_backward(ctx: Any, *grads: Any) -> tuple[None, ...]:
    raise RuntimeError(DOUBLE_BACKWARD_MSG.format(name="linear_ce_family_rows_backward"))


def _rows_backward_setup(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    pass


_rows_backward_op.register_autograd(_rows_backward_backward, setup_context=_rows_backward_setup)


def _traced() -> bool:
    return torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active()


class _Reduced(torch.autograd.Function):
    """'mean' / 'sum': the op's gradients, made in forward, scaled by the upstream scalar in backward.

    Eager: the gradient buffers are handed to autograd in backward, scaled in place (no parameter-sized
    copy), and the Function drops its reference; a second backward through a retained graph recomputes them
    from the saved inputs (references, no copies), so it is exact. Under torch.compile / torch.func the
    backward is functional (``grad * go``) and the buffers are saved tensors.
    """

    @staticmethod
    def forward(
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        name: str,
        opt_args: tuple[Any, ...],
        mean: bool,
        needs: tuple[bool, bool, bool],
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        out: tuple[Tensor, Tensor, Tensor, Tensor] = _reduced_op(hidden, weight, bias, target, *opt_args, mean, *needs)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
        _, gh, gw, gb = output
        ctx.mark_non_differentiable(gh, gw, gb)
        ctx.name = inputs[4]
        needs = inputs[7]
        ctx.needs = (needs[0], needs[1], needs[2] and inputs[2] is not None)
        if _traced():
            ctx.handover = None
            ctx.save_for_backward(gh, gw, gb)
        else:
            ctx.handover = [gh, gw, gb]
            ctx.recompute = (inputs[5], inputs[6])
            ctx.save_for_backward(*inputs[:4])

    @staticmethod
    def backward(ctx: Any, go: Tensor, *_: Any) -> tuple[Tensor | None, ...]:
        if ctx.handover is None:
            return _reduced_backward(ctx, go)[:4] + (None,) * 4
        _check_not_double_backward(ctx.name)
        need_h, need_w, need_b = ctx.needs
        if ctx.handover:
            grads, ctx.handover = ctx.handover, []
        else:  # a second backward through the same graph: the buffers were handed over; recompute them
            hidden, weight, bias, target = ctx.saved_tensors
            opt_args, mean = ctx.recompute
            with torch.no_grad():
                grads = list(_reduced_op(hidden, weight, bias, target, *opt_args, mean, need_h, need_w, need_b)[1:])
        out = []
        for g, need in zip(grads, ctx.needs, strict=True):
            out.append(g.mul_(go) if need else None)
        del grads
        return (*out, None, None, None, None, None)


class _Rows(torch.autograd.Function):
    """'none': per-row losses; backward recomputes the chunks with the per-row upstream gradient."""

    @staticmethod
    def forward(
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        name: str,
        opt_args: tuple[Any, ...],
        needs: tuple[bool, bool, bool],
    ) -> Tensor:
        out: Tensor = _rows_op(hidden, weight, bias, target, *opt_args)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        hidden, weight, bias, target = inputs[:4]
        ctx.save_for_backward(hidden, weight, bias, target)
        ctx.name, ctx.opt_args, ctx.needs = inputs[4], inputs[5], inputs[6]

    @staticmethod
    def backward(ctx: Any, grad_rows: Tensor) -> tuple[Tensor | None, ...]:
        return _rows_backward(ctx, grad_rows)[:4] + (None,) * 3


# ----------------------------------------------------------------------------------------------------------
# validation and the public functions
# ----------------------------------------------------------------------------------------------------------


def _check_index(value: Any, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None


def _positive(value: Any, name: str) -> float:
    v = check_finite_number(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _gemm_dtype(hidden: Tensor, weight: Tensor, bias: Tensor | None) -> tuple[torch.dtype, bool]:
    """The dtype the GEMMs run in, and whether autocast chose it."""
    dev = hidden.device.type
    params = [hidden.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
    if dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev) and torch.float64 not in params:
        return torch.get_autocast_dtype(dev), True
    if len(set(params)) != 1:
        names = "hidden, weight" + (", bias" if bias is not None else "")
        raise TypeError(f"{names} must have one dtype (outside autocast), got {', '.join(map(str, params))}")
    return hidden.dtype, False


def _check_target(target: Tensor, n_lead: torch.Size, vocab: int, ignore_index: int) -> bool:
    """Validate the target; True for a probability target. The range check runs on CPU tensors in eager mode."""
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.dtype.is_floating_point:
        if target.shape != (*n_lead, vocab):
            raise ValueError(
                f"probability target must have shape {(*n_lead, vocab)} (hidden's leading dims and "
                f"V={vocab}), got {tuple(target.shape)} (class-index targets must have an "
                "integer dtype)"
            )
        if target.requires_grad:
            raise ValueError("the linear losses do not differentiate w.r.t. a probability target; pass target.detach()")
        if target.device.type == "cpu" and not torch.compiler.is_compiling() and target.numel():
            bad = (target < 0) | torch.isnan(target)
            if bool(bad.any()):
                raise ValueError(f"probability target has a negative or NaN entry: {target[bad][0].item()!r}")
        return True
    if target.dtype == torch.bool or target.dtype.is_complex:
        raise TypeError(f"target must be integer class indices or floating probabilities, got {target.dtype}")
    if target.shape != n_lead:
        raise ValueError(
            f"class-index target must have shape {tuple(n_lead)} (hidden's leading dims), got {tuple(target.shape)}"
        )
    if target.device.type == "cpu" and not torch.compiler.is_compiling() and target.numel():
        flat = target.reshape(-1)
        bad = (flat != ignore_index) & ((flat < 0) | (flat >= vocab))
        if bool(bad.any()):
            raise ValueError(
                f"class index {int(flat[bad][0])} is out of range for {vocab} classes "
                f"(valid: 0..{vocab - 1}, or ignore_index={ignore_index})"
            )
    return False


def _family(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None,
    *,
    name: str,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    softcap: float | None,
    temperature: float,
    chunk_size: int | None,
) -> Tensor:
    check_floating(hidden, "hidden")
    check_floating(weight, "weight")
    if hidden.dim() < 1:
        raise ValueError("hidden must be (*, H), got a scalar")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[-1]:
        raise ValueError(f"weight must be (V, H) with H={hidden.shape[-1]}, got shape {tuple(weight.shape)}")
    if weight.shape[0] == 0:
        raise ValueError("weight has no rows (V = 0 classes)")
    if bias is not None:
        check_floating(bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias must be (V,) with V={weight.shape[0]}, got shape {tuple(bias.shape)}")
    for t, tname in ((weight, "weight"), (bias, "bias"), (target, "target")):
        if isinstance(t, Tensor) and t.device != hidden.device:
            raise ValueError(f"{tname} is on {t.device} but hidden is on {hidden.device}")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = _check_index(ignore_index, "ignore_index")
    if isinstance(chunk_size, bool):
        raise TypeError(f"chunk_size must be a positive int or None, got bool {chunk_size!r}")
    if chunk_size is not None and _check_index(chunk_size, "chunk_size") < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    cap = 0.0 if softcap is None else _positive(softcap, "softcap")
    temperature = _positive(temperature, "temperature")
    gd, autocast = _gemm_dtype(hidden, weight, bias)
    vocab = weight.shape[0]
    lead = hidden.shape[:-1]
    prob = _check_target(target, lead, vocab, ignore_index)
    h2 = hidden.reshape(-1, hidden.shape[-1])
    t2 = target.reshape(-1, vocab) if prob else target.reshape(-1)
    if t2.dtype != torch.int64 and not prob:
        t2 = t2.long()
    opts = LinearLossOptions(
        float(ce),
        float(ent),
        float(rev),
        float(rev_log_eps),
        ignore_index,
        label_smoothing,
        cap,
        temperature,
        int(chunk_size or 0),
        gd,
    )
    grad_on = torch.is_grad_enabled()
    needs = (
        grad_on and hidden.requires_grad,
        grad_on and weight.requires_grad,
        grad_on and bias is not None and bias.requires_grad,
    )
    # torch's stubs leave Function.apply unannotated: hence the ignores and the annotated locals
    out: Tensor
    if reduction == "none":
        rows: Tensor = _Rows.apply(h2, weight, bias, t2, name, opts.args(), needs)  # type: ignore[no-untyped-call]
        out = rows.reshape(lead)
    else:
        reduced: tuple[Tensor, ...] = _Reduced.apply(  # type: ignore[no-untyped-call]
            h2, weight, bias, t2, name, opts.args(), reduction == "mean", needs
        )
        out = reduced[0]
    return out if autocast else out.to(hidden.dtype)


def linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
    softcap: float | None = None,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    r"""Cross entropy of the linear layer ``hidden @ weight.T + bias``, without materializing the (N, V) logits.

    The same value as ``F.cross_entropy(F.linear(hidden, weight, bias), target, ...)`` for large vocabularies:
    the logits are formed one row chunk at a time, and each chunk's logit gradient ``g`` is pushed through the
    linear layer (``dhidden = g @ weight``, ``dweight += g.T @ hidden``, ``dbias += g.sum(0)``) before the
    chunk is dropped. Peak extra memory: one chunk of logits and its gradient, plus the parameter-sized
    gradients. The row loss runs in float32 (float64 for float64 input), with a stable log-sum-exp.

    .. math::
        z_i = \frac{\operatorname{cap}(W h_i + b)}{T}, \qquad
        \ell_i = -\frac{1}{\ln \beta} \sum_{c=1}^{V} q'_{ic} \log \operatorname{softmax}(z_i)_c, \qquad
        q'_i = (1 - \varepsilon)\, q_i + \varepsilon / V

    with ``cap(u) = c tanh(u / c)`` (the identity when ``softcap`` is None), ``beta = base``, and ``q_i`` the
    one-hot of the class index ``y_i`` (or the given probabilities).

    Args:
        hidden: hidden states, shape ``(*, H)`` (e.g. ``(B, T, H)``; flattened to N rows);
            float16/bfloat16/float32/float64.
        weight: classifier weight, shape ``(V, H)`` (e.g. ``lm_head.weight``); hidden's dtype outside autocast.
        target: class indices, shape ``(*)`` (hidden's leading dims), integer dtype; or class probabilities,
            shape ``(*, V)``, floating and not requiring grad.
        bias: optional classifier bias, shape ``(V,)``. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when every row is ignored. Default ``'mean'``.
        label_smoothing: eps in [0, 1]. Default 0.
        base: logarithm base; None for nats, 2 for bits. Default None.
        softcap: None, or ``c > 0``: the logits become ``c * tanh(z / c)`` (Gemma 2/3 final-logit
            softcapping). Default None.
        temperature: ``T > 0``; the (capped) logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V`` rows (about 32 MiB of
            float32 logits). Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(*)`` (``'none'``), in hidden's dtype; float32 under
        ``torch.autocast`` (the GEMMs then run in the autocast dtype). Gradients flow to hidden, weight and
        bias, each in its own dtype.

    Raises:
        TypeError: if hidden, weight or bias is not a floating tensor; if their dtypes differ outside
            autocast; if target is not a tensor or has a bool/complex dtype; if ignore_index or chunk_size is
            not an int (or chunk_size is a bool);
            if base, label_smoothing, softcap or temperature is not a number.
        ValueError: if hidden is 0-dim; if weight is not ``(V, H)`` with hidden's H, or V = 0; if bias is not
            ``(V,)``; if weight, bias or target is on another device than hidden; if target's shape does not
            match; if a probability target requires grad; if reduction is unknown, label_smoothing is outside
            [0, 1], chunk_size is < 1, softcap or temperature is not a finite number > 0, or base is
            not a finite number > 0 and != 1; for CPU tensors in eager mode, also if a class index is out of
            range or a probability is negative or NaN.
        RuntimeError: on double backward (``create_graph=True``).

    Example:
        >>> import torch
        >>> from infoloss.linear import linear_cross_entropy
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)
        >>> y = torch.tensor([0, 1])  # logits z = [1, 0, -1] and [0, 2, 0]
        >>> linear_cross_entropy(h.detach(), w.detach(), y, reduction="none")  # logsumexp(z) - z_y
        tensor([0.4076, 0.2395])
        >>> loss = linear_cross_entropy(h, w, y)
        >>> round(loss.item(), 4)
        0.3236
        >>> loss.backward()
        >>> h.grad  # (softmax(z) - onehot(y)) @ w / 2
        tensor([[-0.2124,  0.1224],
                [ 0.0000, -0.1065]])

    References:
        - Hsu et al., "Liger Kernel: Efficient Triton Kernels for LLM Training", 2024.
          https://arxiv.org/abs/2410.10989
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
    """
    return _family(
        hidden,
        weight,
        target,
        bias,
        name="linear_cross_entropy",
        ce=1.0 / log_base(base),
        ent=0.0,
        rev=0.0,
        rev_log_eps=0.0,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def linear_min_entropy_loss(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    ce_weight: float = 1.0,
    entropy_weight: float = 0.1,
    ce_base: float | None = None,
    entropy_base: float | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    r"""MIN-ENT of the linear layer ``hidden @ weight.T + bias``: cross entropy plus weighted entropy, chunked.

    Computed as :func:`linear_cross_entropy` (row chunks, no (N, V) logits), with the entropy of the same
    (capped, tempered) softmax added per row. A positive ``entropy_weight`` lowers the entropy (MIN-ENT); a
    negative one is the confidence penalty (an entropy bonus).

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_H}{\ln \beta_H}\, s_i H_i, \qquad
        H_i = -\sum_{c=1}^{V} p_{ic} \log p_{ic}, \qquad p_i = \operatorname{softmax}(z_i)

    with ``CE_i`` and ``z_i`` as in :func:`linear_cross_entropy` (in nats), ``s_i = 0`` for ignored rows, else 1.

    Args:
        hidden: hidden states, shape ``(*, H)`` (e.g. ``(B, T, H)``; flattened to N rows);
            float16/bfloat16/float32/float64.
        weight: classifier weight, shape ``(V, H)``; hidden's dtype outside autocast.
        target: class indices, shape ``(*)``, integer dtype; or class probabilities, shape ``(*, V)``,
            floating and not requiring grad.
        bias: optional classifier bias, shape ``(V,)``. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        entropy_weight: finite coefficient ``w_H`` of the entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        entropy_base: logarithm base of the entropy; None for nats. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when every row is ignored. Default ``'mean'``.
        label_smoothing: eps in [0, 1], applied to the cross-entropy target. Default 0.
        softcap: None, or ``c > 0``: the logits become ``c * tanh(z / c)``. Default None.
        temperature: ``T > 0``; the (capped) logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V`` rows. Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(*)`` (``'none'``), in hidden's dtype; float32 under
        ``torch.autocast``. Gradients flow to hidden, weight and bias.

    Raises:
        TypeError: if hidden, weight or bias is not a floating tensor; if their dtypes differ outside
            autocast; if target is not a tensor or has a bool/complex dtype; if ignore_index or chunk_size is
            not an int (or chunk_size is a bool);
            if a weight, base, label_smoothing, softcap or temperature is not a number.
        ValueError: if hidden is 0-dim; if weight is not ``(V, H)`` with hidden's H, or V = 0; if bias is not
            ``(V,)``; if weight, bias or target is on another device than hidden; if target's shape does not
            match; if a probability target requires grad; if a weight is not finite, a base is not a finite
            number > 0 and != 1, reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            or softcap or temperature is not a finite number > 0; for CPU tensors in eager mode, also
            if a class index is out of range or a probability is negative or NaN.
        RuntimeError: on double backward (``create_graph=True``).

    Example:
        >>> import torch
        >>> from infoloss.linear import linear_min_entropy_loss
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> y = torch.tensor([0, 1])  # CE = [0.4076, 0.2395], H = [0.8324, 0.6656]
        >>> linear_min_entropy_loss(h, w, y, entropy_weight=0.5, reduction="none")
        tensor([0.8238, 0.5723])
        >>> round(linear_min_entropy_loss(h, w, y, entropy_weight=0.5).item(), 4)
        0.6981

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Pereyra et al., "Regularizing Neural Networks by Penalizing Confident Output Distributions", 2017.
          https://arxiv.org/abs/1701.06548
        - Hsu et al., "Liger Kernel: Efficient Triton Kernels for LLM Training", 2024.
          https://arxiv.org/abs/2410.10989
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
    """
    return _family(
        hidden,
        weight,
        target,
        bias,
        name="linear_min_entropy_loss",
        ce=check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base"),
        ent=check_finite_number(entropy_weight, "entropy_weight") / log_base(entropy_base, "entropy_base"),
        rev=0.0,
        rev_log_eps=0.0,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def linear_mixed_entropy_loss(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    ce_weight: float = 1.0,
    reverse_weight: float = 0.1,
    ce_base: float | None = None,
    reverse_base: float | None = None,
    eps: float = 1e-6,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    r"""MIX-ENT of the linear layer ``hidden @ weight.T + bias``: cross entropy plus reverse cross entropy, chunked.

    Computed as :func:`linear_cross_entropy` (row chunks, no (N, V) logits), with the reverse (swapped) cross
    entropy of the same (capped, tempered) softmax added per row; the target is floored at ``eps`` inside the
    log, so a one-hot target gives ``R_i = -(1 - p_{i y_i}) log eps``.

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_R}{\ln \beta_R}\, s_i R_i, \qquad
        R_i = -\sum_{c=1}^{V} p_{ic} \log \max(q'_{ic}, \epsilon), \qquad p_i = \operatorname{softmax}(z_i)

    with ``CE_i``, ``z_i`` and the smoothed target ``q'`` as in :func:`linear_cross_entropy`, ``s_i = 0`` for
    ignored rows, else 1.

    Args:
        hidden: hidden states, shape ``(*, H)`` (e.g. ``(B, T, H)``; flattened to N rows);
            float16/bfloat16/float32/float64.
        weight: classifier weight, shape ``(V, H)``; hidden's dtype outside autocast.
        target: class indices, shape ``(*)``, integer dtype; or class probabilities, shape ``(*, V)``,
            floating and not requiring grad.
        bias: optional classifier bias, shape ``(V,)``. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        reverse_weight: finite coefficient ``w_R`` of the reverse cross entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        reverse_base: logarithm base of the reverse cross entropy; None for nats. Default None.
        eps: floor of the target inside the log, in (0, 1). Default ``1e-6``.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when every row is ignored. Default ``'mean'``.
        label_smoothing: eps in [0, 1] of the smoothed target ``q'``. Default 0.
        softcap: None, or ``c > 0``: the logits become ``c * tanh(z / c)``. Default None.
        temperature: ``T > 0``; the (capped) logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V`` rows. Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(*)`` (``'none'``), in hidden's dtype; float32 under
        ``torch.autocast``. Gradients flow to hidden, weight and bias.

    Raises:
        TypeError: if hidden, weight or bias is not a floating tensor; if their dtypes differ outside
            autocast; if target is not a tensor or has a bool/complex dtype; if ignore_index or chunk_size is
            not an int (or chunk_size is a bool);
            if a weight, base, eps, label_smoothing, softcap or temperature is not a number.
        ValueError: if eps is not in (0, 1); if hidden is 0-dim; if weight is not ``(V, H)`` with hidden's H,
            or V = 0; if bias is not ``(V,)``; if weight, bias or target is on another device than hidden; if
            target's shape does not match; if a probability target requires grad; if a weight is not finite,
            a base is not a finite number > 0 and != 1, reduction is unknown, label_smoothing is outside
            [0, 1], chunk_size is < 1, or softcap or temperature is not a finite number > 0; for CPU
            tensors in eager mode, also if a class index is out of range or a probability is negative or NaN.
        RuntimeError: on double backward (``create_graph=True``).

    Example:
        >>> import torch
        >>> from infoloss.linear import linear_mixed_entropy_loss
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> y = torch.tensor([0, 1])  # CE = [0.4076, 0.2395], R = -(1 - p_y) log 1e-6 = [4.6249, 2.9429]
        >>> linear_mixed_entropy_loss(h, w, y, reverse_weight=0.1, reduction="none")
        tensor([0.8701, 0.5338])
        >>> round(linear_mixed_entropy_loss(h, w, y, reverse_weight=0.1).item(), 4)
        0.702

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Hsu et al., "Liger Kernel: Efficient Triton Kernels for LLM Training", 2024.
          https://arxiv.org/abs/2410.10989
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
    """
    eps = check_open_unit(eps, "eps")
    return _family(
        hidden,
        weight,
        target,
        bias,
        name="linear_mixed_entropy_loss",
        ce=check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base"),
        ent=0.0,
        rev=check_finite_number(reverse_weight, "reverse_weight") / log_base(reverse_base, "reverse_base"),
        rev_log_eps=math.log(eps),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
    )


@torch.no_grad()
def linear_token_stats(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    ignore_index: int = -100,
    chunk_size: int | None = None,
) -> TokenStats:
    r"""Per-token entropy and target log-probability of ``softmax(hidden @ weight.T + bias)``, no logits kept.

    Forward only, under ``torch.no_grad()``: a thin alias of :func:`infoloss.tokens.token_logprob_entropy`
    (the differentiable primitive, which also gives 0 entropy on ignored rows), here with the entropy of every
    row, ignored rows included.

    .. math::
        H_i = -\sum_{c=1}^{V} p_{ic} \log p_{ic}, \qquad \log p_{i y_i} = z_{i y_i} - \log \sum_c e^{z_{ic}},
        \qquad z_i = W h_i + b

    Args:
        hidden: hidden states, shape ``(N, H)``, floating.
        weight: classifier weight, shape ``(V, H)``, hidden's dtype.
        target: class indices, shape ``(N,)``, integer dtype.
        bias: optional classifier bias, shape ``(V,)``. Default None.
        ignore_index: rows with this target get ``target_logprob`` 0 (their entropy is still computed).
            Default ``-100``.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V`` rows. Default None.

    Returns:
        :class:`TokenStats` ``(entropy, target_logprob)``, two tensors of shape ``(N,)`` in nats; float32
        (float64 for float64 input).

    Raises:
        TypeError: if hidden, weight or bias is not a floating tensor; if hidden and weight dtypes differ; if
            target is not a tensor, is floating (a probability target), or has a bool/complex dtype; if
            ignore_index is not an int; if chunk_size is not an int or None (a bool included).
        ValueError: if hidden is not 2-D; if weight is not ``(V, H)`` with hidden's H; if bias is not
            ``(V,)``; if target is not ``(N,)``; if weight, bias or target is on another device than hidden;
            if a class index is out of range; if chunk_size is < 1.

    Example:
        >>> import torch
        >>> from infoloss.linear import linear_token_stats
        >>> h, w = torch.zeros(2, 3), torch.zeros(4, 3)  # uniform over 4 classes: H = log 4, log p = -log 4
        >>> stats = linear_token_stats(h, w, torch.tensor([1, -100]))
        >>> stats.entropy, stats.target_logprob
        (tensor([1.3863, 1.3863]), tensor([-1.3863,  0.0000]))

    References:
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
    """
    check_floating(hidden, "hidden")
    check_floating(weight, "weight")
    if hidden.dim() != 2:
        raise ValueError(f"hidden must be (N, H), got shape {tuple(hidden.shape)}")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(f"weight must be (V, H) with H={hidden.shape[1]}, got shape {tuple(weight.shape)}")
    if bias is not None:
        check_floating(bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias must be (V,) with V={weight.shape[0]}, got shape {tuple(bias.shape)}")
    ignore_index = _check_index(ignore_index, "ignore_index")
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
        raise TypeError("linear_token_stats needs class-index targets (an integer tensor)")
    _check_target(target, hidden.shape[:-1], weight.shape[0], ignore_index)
    # A thin alias of infoloss.tokens.token_logprob_entropy (which gives 0 entropy on ignored rows): ask it for
    # every row, ignored targets replaced by class 0, and zero the ignored rows' log-probability here.
    from infoloss.tokens import token_logprob_entropy

    valid = target != ignore_index
    out = token_logprob_entropy(
        hidden,
        weight,
        torch.where(valid, target.long(), 0),
        bias=bias,
        ignore_index=torch.iinfo(torch.int64).min,
        chunk_size=chunk_size,
    )
    return TokenStats(out.entropy, torch.where(valid, out.logprob, 0.0))
