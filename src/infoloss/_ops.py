"""The op layer: one dispatch, one gradient formula, one backward, for every CE-family row loss.

``ce_family_rows(logits2d, target, weight, opts)`` returns per-row
``opts.ce * CE_i + opts.ent * s_i * H_i + opts.rev * s_i * R_i`` (nats; see ``docs/design.md``), computed
with its analytic gradient in one pass (``docs/fused.md``). Two entry points share the kernels and the
backward:

* the custom op ``torch.ops.infoloss.ce_family_rows`` (:func:`torch.library.custom_op`) with a fake
  implementation, an autograd formula (``register_autograd`` + ``setup_context``) and a vmap rule. It is
  what ``torch.compile``, ``torch.export`` and ``torch.func`` transforms see: an opaque node, no graph
  break, no recompilation per batch size.
* a plain :class:`torch.autograd.Function` for eager calls, which skips the custom-op dispatcher (about
  100 us per call at small sizes) and can scale the gradient buffer in place.

Implementation table (:func:`implementation`), by backend, device and target kind:

=============  ==========  =============  =========================================================
backend        device      target         implementation
=============  ==========  =============  =========================================================
fused          cpu, eager  class indices  aten composition when M*C <= 16384 (per-call overhead dominates there)
fused          cpu         any            C kernel (``_kernel.c``); eager chunked torch ops without a compiler
fused          cuda/other  any            eager chunked torch ops (covered by the tests)
triton         cuda        class indices  Triton kernel (opt-in until verified on a GPU); else eager
reference      any         any            :mod:`infoloss._reference` (the oracle, plain autograd)
=============  ==========  =============  =========================================================
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infoloss import _backend
from infoloss._common import ENTROPY_OPTIONS, RowOptions, compute_dtype, tracing, xlogy_safe
from infoloss._fused import _ckernel
from infoloss._fused._rows import compute

__all__ = ["ce_family_rows", "entropy_rows", "implementation", "RowOptions"]

DOUBLE_BACKWARD_MSG = (
    "infoloss's fused losses do not support double backward (create_graph=True followed by a second "
    "differentiation): the gradient is computed analytically in forward. Use "
    "infoloss.set_backend('reference') for higher-order gradients."
)


SMALL_ELEMENTS = 1 << 14  # at or below this many logits a CPU eager call is overhead-bound: compose aten ops


def implementation(
    device: torch.device | str,
    dtype: torch.dtype,
    prob_target: bool,
    *,
    fused: bool = False,
    numel: int | None = None,
    traced: bool | None = None,
) -> str:
    """The kernel that runs for ``(device, dtype, target kind)`` under the backend in effect.

    One of ``"reference"``, ``"aten"``, ``"ckernel"``, ``"eager"``, ``"triton"`` (see the module's table), or ``"auto"``
    while tracing on CPU (the op then picks ``"ckernel"`` or ``"eager"`` when it runs);
    ``fused=True`` answers as if the backend were ``"fused"`` (or ``"triton"``) when it is ``"reference"``.

    Example:
        >>> implementation("cpu", torch.float32, prob_target=False, numel=10**6) in ("ckernel", "eager")
        True
    """
    backend = _backend.get_backend()
    dev = torch.device(device).type
    if backend == "reference" and not fused:
        return "reference"
    if backend == "triton" and dev == "cuda" and not prob_target and dtype != torch.float64:
        from infoloss._fused import triton_available

        if triton_available():
            return "triton"
    if dev == "cpu" and (tracing() if traced is None else traced):
        return "auto"
    if dev == "cpu" and not fused and not prob_target and numel is not None and numel <= SMALL_ELEMENTS:
        return "aten"  # decided when the op runs (the first call builds the kernel: nothing to trace)
    if dev == "cpu" and _ckernel.available():
        return "ckernel"
    return "eager"


# --------------------------------------------------------------------------------------- the custom op
@torch.library.custom_op("infoloss::ce_family_rows", mutates_args=(), device_types=None)
def _rows_op(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    want_grad: bool,
    impl: str,
) -> tuple[Tensor, Tensor]:
    """Loss rows (M,) and gradient rows (M, C) (an empty (0,) tensor when ``want_grad`` is False)."""
    opts = RowOptions(ignore_index, label_smoothing, ce, ent, rev, rev_log_eps)
    loss, grad = compute(logits, target, weight, opts, want_grad=want_grad, impl=impl)
    return loss, (grad if grad is not None else logits.new_empty((0,)))


@_rows_op.register_fake
def _rows_fake(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    want_grad: bool,
    impl: str,
) -> tuple[Tensor, Tensor]:
    loss = logits.new_empty((logits.shape[0],), dtype=compute_dtype(logits.dtype))
    grad = logits.new_empty(logits.shape) if want_grad else logits.new_empty((0,))
    return loss, grad


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    logits, target, weight = inputs[:3]
    ctx.args = inputs[3:]
    ctx.save_for_backward(output[1], logits, target, weight)
    ctx.mark_non_differentiable(output[1])


def _op_backward(ctx: Any, grad_loss: Tensor, _grad_grad: Tensor | None) -> tuple[Tensor | None, ...]:
    grad, logits, target, weight = ctx.saved_tensors
    if grad.dim() != 2:  # computed without the gradient (e.g. traced with want_grad=False): recompute
        args = list(ctx.args)
        args[-2] = True
        grad = torch.ops.infoloss.ce_family_rows(logits.detach(), target, weight, *args)[1]
    return (_scale(grad, grad_loss, logits),) + (None,) * 10


_rows_op.register_autograd(_op_backward, setup_context=_setup_context)


@_rows_op.register_vmap
def _rows_vmap(
    info: Any, in_dims: tuple[Any, ...], logits: Tensor, target: Tensor, weight: Tensor | None, *args: Any
) -> tuple[tuple[Tensor, Tensor], tuple[int | None, int | None]]:
    """Rows are independent: fold the vmapped dim into the rows, run once, unfold."""
    ld, td, wd = in_dims[:3]
    bsz = info.batch_size
    if wd is not None:  # batched class weights: one call per sample
        outs = [
            torch.ops.infoloss.ce_family_rows(
                logits.select(ld, i) if ld is not None else logits,
                target.select(td, i) if td is not None else target,
                weight.select(wd, i),
                *args,
            )
            for i in range(bsz)
        ]  # type: ignore[union-attr]
        loss = torch.stack([o[0] for o in outs])
        want_grad = args[-2]
        grad = torch.stack([o[1] for o in outs]) if want_grad else outs[0][1]
        return (loss, grad), (0, 0 if want_grad else None)
    z = logits.movedim(ld, 0) if ld is not None else logits.unsqueeze(0).expand(bsz, *logits.shape)
    t = target.movedim(td, 0) if td is not None else target.unsqueeze(0).expand(bsz, *target.shape)
    rows, num_classes = z.shape[1], z.shape[2]
    loss, grad = torch.ops.infoloss.ce_family_rows(
        z.reshape(bsz * rows, num_classes), t.reshape(bsz * rows, *t.shape[2:]), weight, *args
    )
    if args[-2]:
        return (loss.reshape(bsz, rows), grad.reshape(bsz, rows, num_classes)), (0, 0)
    return (loss.reshape(bsz, rows), grad), (0, None)


# ------------------------------------------------------------------------- the one backward (scaling)
class _ScaleRows(torch.autograd.Function):
    """``grad * grad_loss[:, None]``; differentiating it again raises (the Hessian is not implemented)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(grad: Tensor, grad_loss: Tensor, logits: Tensor) -> Tensor:  # type: ignore[override]
        return grad * grad_loss.to(grad.dtype).unsqueeze(-1)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[None, None, None]:  # type: ignore[override]
        raise RuntimeError(DOUBLE_BACKWARD_MSG)


def _scale(grad: Tensor, grad_loss: Tensor, logits: Tensor) -> Tensor:
    """The backward of every row op: ``dL/dz = grad_rows * dL/dloss_rows``."""
    if torch.is_grad_enabled() and (logits.requires_grad or grad_loss.requires_grad or tracing()):
        return _ScaleRows.apply(grad, grad_loss, logits)
    return grad * grad_loss.to(grad.dtype).unsqueeze(1)


# --------------------------------------------------------------------------------- the autograd Function
class _Rows(torch.autograd.Function):
    """The one autograd entry point: the gradient is made in forward, scaled by :func:`_scale` in backward.

    ``via_op`` (under compile, export and ``torch.func``) routes the forward through the custom op, whose
    fake and vmap rules make it traceable (``generate_vmap_rule``: the forward is then the custom op). In
    plain eager mode the kernels are called directly and the gradient buffer is handed to autograd without
    a copy (a second backward through a retained graph recomputes it).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        logits: Tensor,
        target: Tensor,
        weight: Tensor | None,
        opts: RowOptions,  # type: ignore[override]
        impl: str,
        via_op: bool,
    ) -> tuple[Tensor, Tensor]:
        if via_op:
            return torch.ops.infoloss.ce_family_rows(
                logits,
                target,
                weight,
                opts.ignore_index,
                opts.label_smoothing,
                opts.ce,
                opts.ent,
                opts.rev,
                opts.rev_log_eps,
                True,
                impl,
            )
        loss, grad = compute(logits.detach(), target, weight, opts, want_grad=True, impl=impl)
        assert grad is not None
        return loss, grad

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
        logits, target, weight, opts, impl, via_op = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.opts, ctx.impl, ctx.via_op = opts, impl, via_op
        if via_op:
            ctx.save_for_backward(output[1], logits)
        else:
            ctx.grad = output[1]
            ctx.save_for_backward(logits, target, weight)  # references only: a second backward recomputes

    @staticmethod
    def backward(ctx: Any, grad_loss: Tensor, _unused: Tensor | None) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        none5 = (None,) * 5
        if ctx.via_op:
            grad, logits = ctx.saved_tensors
            return (_scale(grad, grad_loss, logits),) + none5
        logits, target, weight = ctx.saved_tensors
        grad = ctx.grad
        if grad is None:  # a second backward through a retained graph: the first one handed the buffer over
            grad = compute(logits.detach(), target, weight, ctx.opts, want_grad=True, impl=ctx.impl)[1]
            assert grad is not None
        ctx.grad = None
        if torch.is_grad_enabled():  # create_graph=True: keep the graph link that raises on double backward
            return (_scale(grad, grad_loss, logits),) + none5
        if grad_loss.device.type == "cpu" and grad_loss.dim() == 1 and grad_loss.numel() and grad_loss.stride(0) == 0:
            scale = float(grad_loss[0])  # an expanded scalar from .sum()/.mean(): one multiply, or none
            if scale != 1.0:
                grad.mul_(scale)
            return (grad,) + none5
        grad.mul_(grad_loss.to(grad.dtype).unsqueeze(1))
        return (grad,) + none5


# ----------------------------------------------------------------------------- small inputs: aten ops
def _aten_rows(logits2d: Tensor, target: Tensor, weight: Tensor | None, opts: RowOptions) -> Tensor:
    """The row loss of class-index targets as a few aten ops (autograd gives the gradient).

    Used for small CPU inputs in eager mode, where a call's cost is per-op overhead, not memory traffic:
    the CE term is torch's own ``cross_entropy`` (weights, ignore_index, smoothing), H and R come from one
    ``log_softmax`` (``R = -(L_o + p_y (L_y - L_o))`` for a one-hot target).
    """
    dtype = compute_dtype(logits2d.dtype)
    z = logits2d.to(dtype)
    w = weight.to(dtype) if weight is not None else None
    loss = torch.zeros(z.shape[0], dtype=dtype)
    if opts.ce != 0:
        ce = torch.nn.functional.cross_entropy(
            z, target, weight=w, ignore_index=opts.ignore_index, reduction="none", label_smoothing=opts.label_smoothing
        )
        loss = ce * opts.ce
    if opts.ent != 0 or opts.rev != 0:
        logp = torch.log_softmax(z, 1)
        p = logp.exp()
        valid = target != opts.ignore_index
        safe = torch.where(valid, target, torch.zeros_like(target))
        s = valid.to(dtype) if w is None else torch.where(valid, w[safe], torch.zeros((), dtype=dtype))
        if opts.ent != 0:
            loss = loss + (opts.ent * s) * -xlogy_safe(p, logp).sum(1)
        if opts.rev != 0:
            ly, lo = opts.rev_logs(z.shape[1])
            p_y = p.gather(1, safe.unsqueeze(1)).squeeze(1)
            loss = loss + (opts.rev * s) * -(lo + p_y * (ly - lo))
    return loss


# ----------------------------------------------------------------------------------------- entry points
def ce_family_rows(
    logits2d: Tensor, target: Tensor, weight: Tensor | None, opts: RowOptions, *, fused: bool = False
) -> Tensor:
    """Per-row ``ce*CE_i + ent*s_i*H_i + rev*s_i*R_i`` (nats) for (M, C) logits; (M,) float32/float64.

    ``target`` is (M,) int64 class indices or (M, C) probabilities, ``weight`` optional (C,). The result
    is differentiable w.r.t. ``logits2d`` (gradient in its dtype), under eager autograd, ``torch.compile``,
    ``torch.export`` and ``torch.func``.

    Example:
        >>> z = torch.zeros(2, 4, requires_grad=True)
        >>> loss = ce_family_rows(z, torch.tensor([0, 3]), None, RowOptions())
        >>> loss.detach(), loss.requires_grad
        (tensor([1.3863, 1.3863]), True)
    """
    traced = tracing()
    impl = implementation(
        logits2d.device,
        logits2d.dtype,
        target.dtype.is_floating_point,
        fused=fused,
        numel=logits2d.numel(),
        traced=traced,
    )
    if impl == "aten":
        return _aten_rows(logits2d, target, weight, opts)
    if (
        impl == "reference"
        or (target.dtype.is_floating_point and target.requires_grad)
        or (weight is not None and weight.requires_grad)
    ):
        # the reference composes gradients w.r.t. targets and class weights too
        from infoloss import _reference

        return _reference.ce_family_rows(
            logits2d,
            target,
            weight=weight,
            ignore_index=opts.ignore_index,
            label_smoothing=opts.label_smoothing,
            ce_coef=opts.ce,
            ent_coef=opts.ent,
            rev_coef=opts.rev,
            rev_log_eps=opts.rev_log_eps,
        )
    if torch.is_grad_enabled() and (logits2d.requires_grad or traced):
        return _Rows.apply(logits2d, target, weight, opts, impl, traced)[0]
    if traced:
        return torch.ops.infoloss.ce_family_rows(
            logits2d,
            target,
            weight,
            opts.ignore_index,
            opts.label_smoothing,
            opts.ce,
            opts.ent,
            opts.rev,
            opts.rev_log_eps,
            False,
            impl,
        )[0]
    return compute(logits2d.detach(), target, weight, opts, want_grad=False, impl=impl)[0]


def entropy_rows(logits2d: Tensor, *, fused: bool = False) -> Tensor:
    """Per-row Shannon entropy ``H_i = -sum_c p_ic log p_ic`` (nats) of ``softmax(logits2d)``; (M, C) -> (M,).

    The gradient is ``dH/dz_j = -p_j (log p_j + H)``.

    Example:
        >>> entropy_rows(torch.zeros(2, 4))
        tensor([1.3863, 1.3863])
    """
    target = torch.zeros(logits2d.shape[0], dtype=torch.int64, device=logits2d.device)
    if _backend.get_backend() == "reference" and not fused:
        from infoloss import _reference

        return _reference.entropy_rows(logits2d)
    return ce_family_rows(logits2d, target, None, ENTROPY_OPTIONS, fused=fused)


def implementation_for(device: str, dtype: torch.dtype, target: str) -> str:
    """A readable description of :func:`implementation` for ``infoloss doctor`` (target "index" or "prob").

    Example:
        >>> import infoloss
        >>> with infoloss.use_backend("reference"):
        ...     print(implementation_for("cpu", torch.float32, "index"))
        reference (plain PyTorch autograd composition, infoloss._reference)
    """
    prob = target == "prob"
    dev = torch.device(device).type
    if dev == "cuda" and not torch.cuda.is_available():
        return "n/a (no CUDA device)"
    large = implementation(device, dtype, prob, numel=1 << 30)
    small = implementation(device, dtype, prob, numel=1)
    if large == "reference":
        return "reference (plain PyTorch autograd composition, infoloss._reference)"
    if large == "ckernel":
        info = _ckernel.build_info() if hasattr(_ckernel, "build_info") else {}
        build = "vector" if info.get("vector", True) else "scalar"
        text = f"C kernel ({build} build, {torch.get_num_threads()} threads)"
    elif large == "triton":
        text = "Triton kernel (infoloss._fused._triton; opt-in, not yet verified on a GPU)"
    else:
        why = "" if dev != "cpu" else f" (C kernel unavailable: {_ckernel.failure_reason() or 'not tried'})"
        text = "eager chunked torch path" + why
    if small == "aten":
        text += f"; aten ops for <= {SMALL_ELEMENTS} logits in eager mode"
    return text
