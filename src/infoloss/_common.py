"""Helpers shared by the production layers (functional, bespoke, kernels), each concept in one place.

* dtypes: :func:`compute_dtype`, :func:`loss_dtype` (autocast-aware, like torch's float32 list);
* the target: :func:`smoothed_target`, :func:`sample_weights`, :func:`xlogy_safe`;
* values that must not be checked while tracing: :func:`tracing` (and :func:`exporting`);
* the options of the row kernels: :class:`RowOptions`;
* what ``torch.compile`` records as one call: :func:`one_call_in_graph`, :func:`register_in_graph`.

:mod:`infoloss._reference` (the oracle) does not import from here: it stays an independent composition.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

from infoloss._backend import _state as _backend_state

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def loss_dtype(input: Tensor) -> torch.dtype:
    """The dtype a loss is returned in: the input's, or float32 under autocast (torch's float32 list).

    Under ``torch.autocast`` torch runs ``cross_entropy`` & co. in float32 and returns float32 even for a
    bfloat16 input; infoloss does the same for every CE-family loss.
    """
    if input.dtype in (torch.float16, torch.bfloat16) and torch.is_autocast_enabled(input.device.type):
        return torch.float32
    return input.dtype


def tracing() -> bool:
    """True under ``torch.compile`` / ``torch.export`` tracing or a ``torch.func`` transform.

    Value-dependent checks (index ranges, probability signs) are skipped then: they would need a
    data-dependent branch. torch's own kernels still check index ranges at run time.
    """
    return bool(
        torch.compiler.is_compiling() or _IS_EXPORTING() or _FUNCTORCH_ACTIVE() or _FAKE_MODE(_FAKE_KEY) is not None
    )


# A fake-tensor mode is active while dynamo runs a one_call_in_graph body on fake tensors and while
# AOTAutograd traces it. On torch 2.13 is_compiling() is True there too; older releases set it only while
# dynamo traces Python, so a body would otherwise read values of fake tensors.
_FAKE_KEY = getattr(getattr(torch._C, "_TorchDispatchModeKey", None), "FAKE", None)
_FAKE_MODE: Callable[[Any], object] = torch._C._get_dispatch_mode if _FAKE_KEY is not None else (lambda key: None)


def exporting() -> bool:
    """True while ``torch.export`` traces (``torch.compiler.is_exporting``, absent from older torch)."""
    return bool(_IS_EXPORTING())


# looked up once: tracing() runs on every eager call, where each attribute lookup is a measurable share
_IS_EXPORTING = getattr(torch.compiler, "is_exporting", lambda: False)
_FUNCTORCH_ACTIVE = torch._C._are_functorch_transforms_active


_ONE_CALL: list[Callable[..., Any]] = []  # what register_in_graph registers (see one_call_in_graph)
_REGISTERED: list[bool] = []  # [True] once registered, [False] if torch.compiler.allow_in_graph failed


def one_call_in_graph(fn: _Fn) -> _Fn:
    """Mark ``fn`` (a loss body) to be registered with ``torch.compiler.allow_in_graph`` by :func:`register_in_graph`.

    Dynamo then records a call of ``fn`` as one node instead of tracing it: no guard on infoloss's
    validation, dispatch or default arguments, which are checked on every compiled call (at 256 x 26 they
    were ~5% of a compiled training step). AOTAutograd and inductor still trace through it, into the same
    fused kernels. Its arguments must be tensors, numbers, bools, strings or None; a float that the caller
    passes as a variable arrives as a ``torch.SymFloat``, which the validators accept.

    Example:
        >>> def body(x): return x * 2
        >>> one_call_in_graph(body) is body
        True
        >>> _ONE_CALL.remove(body)
    """
    _ONE_CALL.append(fn)
    if _REGISTERED == [True]:
        torch.compiler.allow_in_graph(fn)  # type: ignore[no-untyped-call]  # untyped in torch
    return fn


def register_in_graph() -> bool:
    """Register every :func:`one_call_in_graph` function with ``torch.compiler.allow_in_graph``, once.

    Returns whether they are registered. Called when a fixed-weight module is built, and from a loss while
    dynamo traces it: this function is marked as dynamo's ``assume_constant_result`` marks one, so dynamo
    runs it (registering before it reaches the body's call) instead of tracing it, and never guards on it. Registering imports
    ``torch._dynamo`` (~1-3 s), which ``torch.compile`` has imported by then. Where registering fails,
    dynamo traces through the bodies instead: the same values, with more guards, and one warning.

    Example:
        >>> register_in_graph()
        True
    """
    if not _REGISTERED:
        try:
            for fn in _ONE_CALL:
                torch.compiler.allow_in_graph(fn)  # type: ignore[no-untyped-call]  # untyped in torch
            _REGISTERED.append(True)
        except (ImportError, RuntimeError) as err:  # e.g. a Python that this torch's dynamo does not support
            _REGISTERED.append(False)
            warnings.warn(
                f"infoloss: torch.compiler.allow_in_graph failed ({err}); under torch.compile the losses are "
                "traced through instead (same values, more guards per call)",
                RuntimeWarning,
                stacklevel=2,
            )
    return _REGISTERED[0]


# What torch.compiler.assume_constant_result sets (since torch 2.0), without importing torch._dynamo at
# import time: dynamo calls the function while tracing and takes its result as a constant.
register_in_graph._dynamo_marked_constant = True  # type: ignore[attr-defined]


def before_one_call() -> None:
    """What a loss does while dynamo traces it, just before its one opaque call (:func:`one_call_in_graph`).

    It registers the bodies (:func:`register_in_graph`, which dynamo runs instead of tracing) and reads the
    backend's name in a branch, so that dynamo guards it: a body picks its kernel by the backend, and
    dynamo does not see inside it, so without the guard a ``set_backend()`` after a compile would keep the
    old kernel.

    Example:
        >>> before_one_call()   # eagerly: registers, once
    """
    register_in_graph()
    if _backend_state["name"] != "fused":  # the guard; nothing to do here
        pass


def xlogy_safe(x: Tensor, logy: Tensor) -> Tensor:
    """``x * logy`` with ``0 * log 0 = 0``: the derivative in ``x`` is ``logy`` (0 where ``logy = -inf`` and
    ``x = 0``, instead of NaN), the derivative in ``logy`` is ``x``."""
    return x * torch.where((x == 0) & (logy == -math.inf), torch.zeros_like(logy), logy)


def smoothed_target(
    target: Tensor, num_classes: int, label_smoothing: float, dtype: torch.dtype, ignore_index: int
) -> Tensor:
    """Dense (M, C) target distribution ``q' = (1 - eps) q + eps / C`` (ignored rows: one-hot of class 0)."""
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
    """Per-row sample weight ``s_i`` (docs/design.md): ``w[y_i]`` (0 if ignored) or ``sum_c w_c q_ic``."""
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
    """torch's per-element cross entropy (reduction='none') from (M, C) log-probabilities, 0 log 0 = 0."""
    dtype = logp.dtype
    num_classes = logp.shape[-1]
    w = None if weight is None else weight.to(dtype)
    if target.dtype.is_floating_point:
        q = smoothed_target(target, num_classes, label_smoothing, dtype, ignore_index)
        return -xlogy_safe(q * w if w is not None else q, logp).sum(-1)
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    if w is not None:
        nll = nll * w[safe]
    if label_smoothing > 0:
        smooth = -(logp * w).sum(-1) if w is not None else -logp.sum(-1)
        nll = (1.0 - label_smoothing) * nll + (label_smoothing / num_classes) * smooth
    return torch.where(valid, nll, torch.zeros_like(nll))


@dataclass(frozen=True)
class RowOptions:
    """Options of the row kernels: per row ``ce * CE_i + ent * s_i * H_i + rev * s_i * R_i`` (nats).

    ``rev_log_eps`` is ``log(eps)`` of the floor in ``R_i = -sum_c p_c log max(q'_c, eps)`` (<= 0; -inf
    is allowed and means no floor). The coefficients carry ``1/ln(base)``.
    """

    ignore_index: int = -100
    label_smoothing: float = 0.0
    ce: float = 1.0
    ent: float = 0.0
    rev: float = 0.0
    rev_log_eps: float = 0.0

    def rev_logs(self, num_classes: int) -> tuple[float, float]:
        """``log max(q'_c, eps)`` for the true class (``ly``) and the others (``lo``) of a one-hot target.

        Computed from ``log q'`` (never ``exp(rev_log_eps)``, which underflows for eps < 1e-45).
        """
        eps = self.label_smoothing
        off = eps / num_classes
        log_true = math.log(1.0 - eps + off) if 1.0 - eps + off > 0 else -math.inf
        log_off = math.log(off) if off > 0 else -math.inf
        return max(log_true, self.rev_log_eps), max(log_off, self.rev_log_eps)


ENTROPY_OPTIONS = RowOptions(ignore_index=-1, label_smoothing=0.0, ce=0.0, ent=1.0, rev=0.0, rev_log_eps=0.0)
