"""The op layer: one dispatch, one gradient formula, one backward, for every CE-family row loss.

``ce_family_rows(logits2d, target, weight, opts)`` returns per-row
``opts.ce * CE_i + opts.ent * s_i * H_i + opts.rev * s_i * R_i`` (nats; see ``docs/design.md``), computed
with its analytic gradient in one pass (``docs/fused.md``); :func:`ce_family_loss` adds the reduction.
The entry points share the kernels and the backward:

* CPU eager calls reduce inside one autograd node (:class:`_Reduced`): the kernel's gradient buffer is
  the gradient of the reduced loss, handed to autograd without a copy or a rescale for
  ``loss.backward()``. A plain small CE is torch's own ``F.cross_entropy`` (:func:`plain_cross_entropy`).
* the custom op ``torch.ops.infoloss.ce_family_rows`` (:func:`torch.library.custom_op`) with a fake
  implementation, an autograd formula (``register_autograd`` + ``setup_context``) and a vmap rule. It is
  what ``torch.export`` and ``torch.func`` transforms see, and eager calls on other devices (through
  :class:`_Rows`): an opaque node, no graph break, no recompilation per batch size.
* under ``torch.compile``, small inputs are plain torch ops (:func:`_composed_rows`, the same formula),
  which inductor fuses into the surrounding step: there the custom op's dispatch would be the cost of
  the call. Large inputs keep the custom op and its one-pass kernel.

Implementation table (:func:`implementation`), by backend, device and target kind:

=============  ==========  =============  ===========================================================
backend        device      target         implementation
=============  ==========  =============  ===========================================================
fused          cpu, eager  class indices  ``F.cross_entropy`` for a plain CE (no H/R term, no weights,
                                          nothing ignored) when M*C <= 16384
fused          cpu         any            C kernel (``_kernel.c``); eager chunked torch ops without a
                                          compiler
fused          cuda/other  any            eager chunked torch ops (covered by the tests)
triton         cuda        class indices  Triton kernel (opt-in until verified on a GPU); else eager
reference      any         any            :mod:`infoloss._reference` (the oracle, plain autograd)
any but        any,        any            torch ops traced by ``torch.compile`` (:func:`_composed_rows`)
triton         compiled                   when M*C <= 65536; the custom op above that
=============  ==========  =============  ===========================================================
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from infoloss import _backend
from infoloss._backend import _state as _backend_state  # by name: composes() reads it with one guard
from infoloss._common import (
    _IS_EXPORTING as _is_exporting,
)
from infoloss._common import (
    ENTROPY_OPTIONS,
    RowOptions,
    ce_rows,
    compute_dtype,
    sample_weights,
    smoothed_target,
    tracing,
)
from infoloss._fused import _ckernel
from infoloss._fused._rows import compute
from infoloss._reduction import reduce_loss
from infoloss._validation import Flat, _check_labels

__all__ = ["ce_family_rows", "entropy_rows", "implementation", "RowOptions"]

DOUBLE_BACKWARD_MSG = (
    "infoloss's fused losses do not support double backward (create_graph=True followed by a second "
    "differentiation): the gradient is computed analytically in forward. Use "
    "infoloss.set_backend('reference') for higher-order gradients."
)


COMPILE_COMPOSE_ELEMENTS = 1 << 16  # under torch.compile, at or below this many logits: plain torch ops


def composes(numel: int) -> bool:
    """Whether a CE-family call of ``numel`` logits, now being traced, runs as plain torch ops.

    True under ``torch.compile`` (not ``torch.export``, not the opt-in Triton backend) for at most
    ``COMPILE_COMPOSE_ELEMENTS`` logits: there inductor fuses :func:`_composed_rows` into the same loops as a
    hand-written composition, where a custom op would pay its dispatch on every step. Under compile the
    size test is a guard, so crossing it recompiles once.

    Example:
        >>> composes(1000)   # eager: nothing is being compiled
        False
    """
    # Dynamo guards every global this reads, on every compiled call: each is bound here, by name (the
    # backend's state dict, not get_backend() in another module), so that the check is a few cheap guards
    return (
        _is_compiling()
        and not _is_exporting()  # first: under export the size test would be a constraint on the batch size
        and numel <= COMPILE_COMPOSE_ELEMENTS
        and _backend_state["name"] != "triton"
    )


_is_compiling = torch.compiler.is_compiling

SMALL_ELEMENTS = 1 << 14  # at or below this many logits a CPU eager call is overhead-bound: compose aten ops


def implementation(
    device: torch.device | str,
    dtype: torch.dtype,
    prob_target: bool,
    *,
    fused: bool = False,
    numel: int | None = None,
    traced: bool | None = None,
    plain_ce: bool = False,
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
    dev = device.type if isinstance(device, torch.device) else torch.device(device).type
    if backend == "reference" and not fused:
        return "reference"
    if backend == "triton" and dev == "cuda" and not prob_target and dtype != torch.float64:
        from infoloss._fused import triton_available

        if triton_available():
            return "triton"
    if dev == "cpu" and (tracing() if traced is None else traced):
        return "auto"
    if (
        dev == "cpu"
        and plain_ce
        and not fused
        and not prob_target
        and dtype in (torch.float32, torch.float64)
        and numel is not None
        and numel <= SMALL_ELEMENTS
    ):
        return "aten"
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
        assert weight is not None
        outs = [
            torch.ops.infoloss.ce_family_rows(
                logits.select(ld, i) if ld is not None else logits,
                target.select(td, i) if td is not None else target,
                weight.select(wd, i),
                *args,
            )
            for i in range(bsz)
        ]
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


def _call_op(
    logits: Tensor, target: Tensor, weight: Tensor | None, opts: RowOptions, want_grad: bool, impl: str
) -> tuple[Tensor, Tensor]:
    """``torch.ops.infoloss.ce_family_rows`` with the options unpacked (its schema takes scalars)."""
    out: tuple[Tensor, Tensor] = torch.ops.infoloss.ce_family_rows(
        logits,
        target,
        weight,
        opts.ignore_index,
        opts.label_smoothing,
        opts.ce,
        opts.ent,
        opts.rev,
        opts.rev_log_eps,
        want_grad,
        impl,
    )
    return out


# ------------------------------------------------------------------------- the one backward (scaling)
class _ScaleRows(torch.autograd.Function):
    """``grad * grad_loss[:, None]``; differentiating it again raises (the Hessian is not implemented)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(grad: Tensor, grad_loss: Tensor, logits: Tensor) -> Tensor:
        return grad * grad_loss.to(grad.dtype).unsqueeze(-1)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[None, None, None]:
        raise RuntimeError(DOUBLE_BACKWARD_MSG)


def _scale(grad: Tensor, grad_loss: Tensor, logits: Tensor) -> Tensor:
    """The backward of every row op: ``dL/dz = grad_rows * dL/dloss_rows``."""
    if torch.is_grad_enabled() and (logits.requires_grad or grad_loss.requires_grad or tracing()):
        scaled: Tensor = _ScaleRows.apply(grad, grad_loss, logits)  # type: ignore[no-untyped-call]  # untyped in torch
        return scaled
    return grad * grad_loss.to(grad.dtype).unsqueeze(1)


def _take_grad(ctx: Any, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
    """The gradient buffer made in forward, handed over once (autograd may keep it as ``.grad``); a second
    backward through a retained graph recomputes it from the saved inputs."""
    grad: Tensor | None = ctx.grad
    ctx.grad = None
    if grad is None:
        grad = compute(logits.detach(), target, weight, ctx.opts, want_grad=True, impl=ctx.impl)[1]
        assert grad is not None
    return grad


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
        opts: RowOptions,
        impl: str,
        via_op: bool,
    ) -> tuple[Tensor, Tensor]:
        if via_op:
            return _call_op(logits, target, weight, opts, True, impl)
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
    def backward(ctx: Any, grad_loss: Tensor, _unused: Tensor | None) -> tuple[Tensor | None, ...]:
        none5 = (None,) * 5
        if ctx.via_op:
            grad, logits = ctx.saved_tensors
            return (_scale(grad, grad_loss, logits),) + none5
        logits, target, weight = ctx.saved_tensors
        grad = _take_grad(ctx, logits, target, weight)
        if torch.is_grad_enabled():  # create_graph=True: keep the graph link that raises on double backward
            return (_scale(grad, grad_loss, logits),) + none5
        if grad_loss.device.type == "cpu" and grad_loss.dim() == 1 and grad_loss.numel() and grad_loss.stride(0) == 0:
            scale = float(grad_loss[0])  # an expanded scalar from .sum()/.mean(): one multiply, or none
            if scale != 1.0:
                grad.mul_(scale)
            return (grad,) + none5
        grad.mul_(grad_loss.to(grad.dtype).unsqueeze(1))
        return (grad,) + none5


# ------------------------------------------------------------------- CPU eager: the reduction fused in
class _Reduced(torch.autograd.Function):
    """Loss rows, gradient and reduction in one autograd node (CPU eager; no tracing, no CUDA).

    Forward runs the row kernel once and reduces: ``'none'`` reshapes, ``'sum'`` adds, ``'mean'`` adds rows
    computed with the coefficients divided by ``denom`` (a Python number: on CPU reading the sum of the
    sample weights costs no device synchronisation), so that the gradient buffer already is the gradient
    of the mean. ``denom == 0`` gives 0 with zero gradients. Backward scales that buffer once, in place,
    and not at all when the upstream gradient is 1 (``loss.backward()``). One node instead of a kernel
    node plus two or three reduction nodes is what makes small batches cheap.
    """

    @staticmethod
    def forward(
        ctx: Any,
        logits2d: Tensor,
        target: Tensor,
        weight: Tensor | None,
        spec: tuple[RowOptions, str, str, float, torch.Size, torch.dtype],
    ) -> Tensor:
        opts, impl, reduction, denom, out_shape, out_dtype = spec  # one argument: apply() inspects each
        ctx.reduction = reduction
        ctx.save_for_backward(logits2d, target, weight)
        ctx.post = 1.0  # divisor applied after the kernel (only when pre-dividing would overflow)
        if reduction == "mean":
            if not denom:  # nothing to average: 0, with zero gradients
                ctx.grad = ctx.opts = None
                return logits2d.new_zeros((), dtype=out_dtype)
            coefs = (opts.ce / denom, opts.ent / denom, opts.rev / denom)
            if math.isfinite(denom) and all(abs(c) <= _PREDIVIDE_LIMIT for c in coefs):
                opts = RowOptions(opts.ignore_index, opts.label_smoothing, *coefs, opts.rev_log_eps)
            else:  # tiny (1/denom overflows float32) or non-finite sample-weight sums: divide afterwards,
                ctx.post = denom  # so that inf / inf gives NaN as in torch, not 0 from coefficients 1/inf
        loss, grad = compute(logits2d.detach(), target, weight, opts, want_grad=True, impl=impl)
        ctx.grad, ctx.opts, ctx.impl = grad, opts, impl
        out = loss.reshape(out_shape) if reduction == "none" else loss.sum()
        if ctx.post != 1.0:
            out = out / ctx.post
        return out if out.dtype == out_dtype else out.to(out_dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        none3 = (None,) * 3
        logits, target, weight = ctx.saved_tensors
        if ctx.opts is None:
            return (torch.zeros_like(logits),) + none3
        grad = _take_grad(ctx, logits, target, weight)
        if ctx.reduction == "none":
            rows_grad = grad_out.reshape(-1)
        else:
            rows_grad = grad_out.reshape(1).expand(grad.shape[0])
        if torch.is_grad_enabled():  # create_graph=True: keep the graph link that raises on double backward
            if ctx.post != 1.0:  # divide the buffer, not the upstream 1: 1 / denom can overflow float32
                grad = grad.div_(ctx.post)
            return (_scale(grad, rows_grad, logits),) + none3
        if ctx.reduction == "none":
            grad.mul_(rows_grad.to(grad.dtype).unsqueeze(1))
        else:
            scale = float(grad_out)
            if scale != 1.0:
                grad.mul_(scale)
            if ctx.post != 1.0:
                grad.div_(ctx.post)  # a division: 1 / denom can overflow float32 where denom itself does not
        return (grad,) + none3


_PREDIVIDE_LIMIT = 1e30  # a coefficient / denominator above this is not passed to the float32 kernel


def _host_denominator(flat: Flat, weight: Tensor | None, ignore_index: int, reduction: str) -> float:
    """The 'mean' denominator of docs/design.md as a Python number (CPU tensors only: no device sync)."""
    if reduction != "mean":
        return 1.0
    rows = flat.logits2d.shape[0]
    if flat.prob_target or (weight is None and flat.no_ignored):
        return float(rows)
    if weight is None:
        return float((flat.target != ignore_index).sum())
    dtype = compute_dtype(flat.logits2d.dtype)
    return float(sample_weights(flat.target, weight, ignore_index, dtype, flat.logits2d.device).sum())


def ce_family_loss(
    flat: Flat,
    weight: Tensor | None,
    opts: RowOptions,
    reduction: str,
    out_dtype: torch.dtype,
    *,
    coef: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """The reduced CE-family loss of validated, flattened input (the body of every public CE-family loss).

    ``reduction``: ``'none'`` (shape ``flat.out_shape``), ``'sum'``, or ``'mean'`` over the sample weights
    (docs/design.md), returned in ``out_dtype``. CPU eager calls take one of two short paths (see the
    module's table): torch's own ``F.cross_entropy`` for a plain small CE, or :class:`_Reduced`. Every
    other call (CUDA, tracing, the reference backend, gradients w.r.t. targets or weights) composes
    :func:`ce_family_rows` with :func:`infoloss._reduction.reduce_loss`, which never reads a device value.
    ``coef``: run-time coefficients, which select the composed path (see :func:`_composed_rows`).

    Example:
        >>> from infoloss._validation import flatten_input_target
        >>> flat = flatten_input_target(torch.zeros(2, 4), torch.tensor([0, 3]), -100)
        >>> ce_family_loss(flat, None, RowOptions(ent=1.0), "mean", torch.float32)
        tensor(2.7726)
    """
    z = flat.logits2d
    if (
        coef is None
        and z.is_cpu
        and not (weight is not None and weight.requires_grad)
        and not (flat.prob_target and flat.target.requires_grad)
        and not tracing()
    ):
        impl = implementation(
            z.device, z.dtype, flat.prob_target, numel=z.numel(), traced=False, plain_ce=_plain_ce(flat, weight, opts)
        )
        if impl == "aten":  # torch's own kernel: at this size the cost of a call is its overhead
            out = torch.nn.functional.cross_entropy(
                z, flat.target, reduction=reduction, label_smoothing=opts.label_smoothing
            )
            if opts.ce != 1.0:
                out = out * opts.ce
            if reduction == "none":
                out = out.reshape(flat.out_shape)
            return out if out.dtype == out_dtype else out.to(out_dtype)
        if impl in ("ckernel", "eager") and z.requires_grad and torch.is_grad_enabled():
            denom = _host_denominator(flat, weight, opts.ignore_index, reduction)
            spec = (opts, impl, reduction, denom, flat.out_shape, out_dtype)
            reduced: Tensor = _Reduced.apply(z, flat.target, weight, spec)  # type: ignore[no-untyped-call]  # untyped in torch
            return reduced
    rows = ce_family_rows(z, flat.target, weight, opts, coef=coef)
    denom_t: Tensor | int | None
    if reduction != "mean":
        denom_t = None
    elif flat.prob_target:
        denom_t = rows.shape[0]
    else:
        denom_t = sample_weights(flat.target, weight, opts.ignore_index, rows.dtype, rows.device).sum()
    return reduce_loss(rows, denom_t, reduction, flat.out_shape, out_dtype)


def plain_cross_entropy(
    input: Tensor, target: Tensor, ignore_index: int, reduction: str, label_smoothing: float
) -> Tensor | None:
    """``F.cross_entropy`` itself for the commonest small call, or None (take the general path).

    The call must be one whose value torch computes exactly as docs/design.md defines it: CPU eager (N, C)
    float32/float64 logits with 0 < N*C <= ``SMALL_ELEMENTS``, (N,) int64 labels with none equal to
    ``ignore_index`` (torch's empty mean is NaN where infoloss's is 0, and torch's gradient on an ignored
    row of non-finite logits is NaN where infoloss's is 0), a float ``label_smoothing`` in [0, 1], the fused
    backend. At that size the cost of a call is its Python and dispatch overhead, so the checks are few:
    for a negative ``ignore_index`` (the default -100) one ``min`` over the labels tells that none is
    ignored; torch's own kernel rejects a label >= C or a mismatched shape, and then the general path runs
    and raises infoloss's error.

    Example:
        >>> plain_cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3]), -100, "mean", 0.0)
        tensor(1.3863)
        >>> plain_cross_entropy(torch.zeros(2, 4), torch.tensor([0, -100]), -100, "mean", 0.0) is None
        True
    """
    enum = _REDUCTION_ENUM.get(reduction) if type(reduction) is str else None
    if not (
        enum is not None
        and type(input) is Tensor
        and type(target) is Tensor
        and type(ignore_index) is int
        and type(label_smoothing) is float
        and 0.0 <= label_smoothing <= 1.0
        and input.is_cpu
        and target.is_cpu
        and target.dtype is torch.int64
        and input.dtype in _PLAIN_DTYPES
        and input.dim() == 2
        and 0 < input.numel() <= SMALL_ELEMENTS
        and _backend._state["name"] != "reference"
        and not tracing()
    ):
        return None
    if ignore_index < 0:
        if target.min().item() < 0:  # maybe ignored, or out of range: the general path decides (and raises)
            return None
    elif not _check_labels(target, input.shape[1], ignore_index):
        return None
    if _ATEN_CE is None:  # a torch without the binding: F.cross_entropy's Python wrapper
        return torch.nn.functional.cross_entropy(input, target, reduction=reduction, label_smoothing=label_smoothing)
    try:  # F.cross_entropy's own kernel call, without its Python argument handling
        out: Tensor = _ATEN_CE(input, target, None, enum, ignore_index, label_smoothing)
    except (IndexError, RuntimeError, ValueError):  # a label >= C, a target of the wrong length or shape
        return None
    return out


_PLAIN_DTYPES = (torch.float32, torch.float64)

# What F.cross_entropy calls once it has checked for __torch_function__ overrides (excluded above by the
# exact Tensor type test) and turned the reduction into torch's enum; F.cross_entropy if a torch lacks it.
_ATEN_CE = getattr(torch._C._nn, "cross_entropy_loss", None)
_REDUCTION_ENUM = {"none": 0, "mean": 1, "sum": 2}


def _plain_ce(flat: Flat, weight: Tensor | None, opts: RowOptions) -> bool:
    """Whether torch's ``F.cross_entropy`` computes this loss exactly as docs/design.md defines it.

    Class-index targets, no entropy or reverse term, no class weights, and no ignored element (torch's
    empty mean is NaN where infoloss's is 0): checked on CPU by :func:`flatten_input_target`.
    """
    return flat.no_ignored and weight is None and opts.ent == 0.0 and opts.rev == 0.0


# ------------------------------------------------------------------ under torch.compile: plain torch ops
def _composed_rows(
    logits2d: Tensor, target: Tensor, weight: Tensor | None, opts: RowOptions, coef: tuple[Tensor, Tensor] | None = None
) -> Tensor:
    """The row loss as differentiable torch ops, for ``torch.compile`` to fuse (inductor, not a kernel call).

    Same formula as the kernels (docs/fused.md), from ``d = z - max z`` (the max detached: the loss does
    not change under a shift of a row), never from the difference of two large numbers. Without a
    regularizer, ``log_softmax``. With one, ``S = sum e`` of ``e = exp(max(d, -1e4))``, one exp per logit
    (where ``log_softmax`` then ``exp`` take two): ``CE_i = s_i log S - s_i d_y`` for class indices (its
    gradient ``s_i (p - onehot)`` needs no row sum in the backward), ``p = e / S``, and ``H = log S - sum e d
    / S``, a sum of two nonnegative terms. The floor makes ``e = 0`` and ``e d = 0`` for a ``-inf`` logit (``0 log 0 =
    0``, zero gradient); ``exp`` of anything below it is 0 in float32 and float64, so nothing else changes.
    A ``-inf`` logit against a positive target gives ``+inf``. A compiled graph that calls the custom op pays
    its dispatch on every step; these ops compile into the same fused loops as a hand-written composition.

    ``coef`` (a module's weights, see ``infoloss.modules``): a pair of 0-d float64 CPU tensors ``(ce, ent or rev)``
    multiplied in instead of ``opts.ce`` and ``opts.ent``/``opts.rev``, which then only tell which terms
    are on. A tensor is one graph input that is read at run time: assigning a new weight neither recompiles
    nor costs the per-call float-to-tensor conversion and value guards of a float read from an attribute.
    """
    dtype = compute_dtype(logits2d.dtype)
    z = logits2d.to(dtype)
    w = weight.to(dtype) if weight is not None else None
    index = not target.dtype.is_floating_point
    ce_scale = coef[0] if coef is not None else opts.ce
    if opts.ent == 0 and opts.rev == 0:
        logp = torch.log_softmax(z, 1)
        if index:  # nll_loss, not gather: its backward fuses (a gather's is a scatter, an extern call)
            loss = torch.nn.functional.nll_loss(
                logp, target, weight=w, ignore_index=opts.ignore_index, reduction="none"
            )
            if opts.label_smoothing > 0:
                loss = _smoothed_index_ce(loss, logp, target, w, opts)
        else:
            loss = ce_rows(logp, target, w, opts.ignore_index, opts.label_smoothing)
        return loss * ce_scale
    d = z - z.detach().amax(1, keepdim=True)
    dc = d.clamp_min(-1e4)  # a literal: dynamo lifts a float read from a module global into a graph input
    e = dc.exp()
    sum_e = e.sum(1, keepdim=True)
    log_s = sum_e.log()
    s = sample_weights(target, weight, opts.ignore_index, dtype, z.device)
    if index:
        # CE_i = s_i (log S_i - d_iy), with -s_i d_iy the nll of d: autograd's gradient is then s (e / S - onehot)
        # directly, where the nll of log p = d - log S adds a row sum to the backward (a second loop)
        loss = s * log_s.squeeze(1) + torch.nn.functional.nll_loss(
            d, target, weight=w, ignore_index=opts.ignore_index, reduction="none"
        )
        if opts.label_smoothing > 0:
            loss = _smoothed_index_ce(loss, d - log_s, target, w, opts)
    else:
        loss = ce_rows(d - log_s, target, w, opts.ignore_index, opts.label_smoothing)
    loss = loss * ce_scale
    reg = coef[1] if coef is not None else None
    num_classes = z.shape[1]
    p = e / sum_e
    if opts.ent != 0:
        entropy = log_s.squeeze(1) - (e * dc).sum(1) / sum_e.squeeze(1)
        loss = loss + ((opts.ent if reg is None else reg) * s) * entropy
    if opts.rev != 0:
        if target.dtype.is_floating_point:
            q = smoothed_target(target, num_classes, opts.label_smoothing, dtype, opts.ignore_index)
            pos = q > 0  # the inner where keeps log's backward off q = 0 (0/0 = NaN; the floor's derivative is 0)
            log_q = torch.where(pos, torch.where(pos, q, torch.ones_like(q)).log(), -math.inf)
            log_q = log_q.clamp_min(opts.rev_log_eps)
            rev = -(p * log_q).sum(1)
        else:
            ly, lo = opts.rev_logs(num_classes)
            p_y = -torch.nn.functional.nll_loss(p, target, ignore_index=opts.ignore_index, reduction="none")
            rev = -(lo + p_y * (ly - lo))  # p_y = 0 on ignored rows, whose s is 0
        loss = loss + ((opts.rev if reg is None else reg) * s) * rev
    return loss


def _smoothed_index_ce(nll: Tensor, logp: Tensor, target: Tensor, w: Tensor | None, opts: RowOptions) -> Tensor:
    """``(1 - eps) nll_i + (eps / C) sum_c -w_c log p_ic`` (0 on ignored rows): label smoothing of index targets."""
    eps = opts.label_smoothing
    smooth = -(logp * w).sum(1) if w is not None else -logp.sum(1)
    smooth = torch.where(target != opts.ignore_index, smooth, torch.zeros_like(smooth))
    return (1.0 - eps) * nll + (eps / logp.shape[1]) * smooth


# ----------------------------------------------------------------------------------------- entry points
def ce_family_rows(
    logits2d: Tensor,
    target: Tensor,
    weight: Tensor | None,
    opts: RowOptions,
    *,
    fused: bool = False,
    coef: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Per-row ``ce*CE_i + ent*s_i*H_i + rev*s_i*R_i`` (nats) for (M, C) logits; (M,) float32/float64.

    ``target`` is (M,) int64 class indices or (M, C) probabilities, ``weight`` optional (C,). The result
    is differentiable w.r.t. ``logits2d`` (gradient in its dtype), under eager autograd, ``torch.compile``,
    ``torch.export`` and ``torch.func``. ``coef``: a pair of 0-d float64 tensors ``(ce, ent or rev)`` holding
    the coefficients, ``opts`` then saying only which terms are on; it selects :func:`_composed_rows` (the
    modules' compiled path, see ``infoloss.modules``).

    Example:
        >>> z = torch.zeros(2, 4, requires_grad=True)
        >>> loss = ce_family_rows(z, torch.tensor([0, 3]), None, RowOptions())
        >>> loss.detach(), loss.requires_grad
        (tensor([1.3863, 1.3863]), True)
    """
    if coef is not None or (not fused and composes(logits2d.numel())):
        return _composed_rows(logits2d, target, weight, opts, coef)
    traced = tracing()
    impl = implementation(
        logits2d.device,
        logits2d.dtype,
        target.dtype.is_floating_point,
        fused=fused,
        numel=logits2d.numel(),
        traced=traced,
    )
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
        rows: Tensor = _Rows.apply(logits2d, target, weight, opts, impl, traced)[0]  # type: ignore[no-untyped-call]
        return rows
    if traced:
        return _call_op(logits2d, target, weight, opts, False, impl)[0]
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
    small = implementation(device, dtype, prob, numel=1, plain_ce=True)
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
        text += f"; torch's F.cross_entropy for a plain CE of <= {SMALL_ELEMENTS} logits in eager mode"
    if large != "triton":
        text += f"; plain torch ops under torch.compile for <= {COMPILE_COMPOSE_ELEMENTS} logits"
    return text
