r"""Vocab-parallel linear losses: ``z = hidden @ local_weight.T + bias`` on each rank's (V_r, H) slice of the
classifier, without the (N, V_r) logits existing at once (row chunks), and the loss of the full (N, V)
logits on every rank.

Forward: the chunks' row statistics, one all-gather (N, k), the merge of :mod:`infoloss.parallel`.
Backward: the local logits are recomputed chunk by chunk from the saved per-row values; the gradients of
``local_weight`` and ``bias`` are local; the (N, H) gradient of the replicated ``hidden`` is the sum over
ranks of their partial products, reduced by one all-reduce (pass ``reduce_hidden_grad=False`` when the
surrounding tensor-parallel code reduces it itself, e.g. Megatron's ``copy_to_tensor_model_parallel_region``).
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from infoloss._validation import (
    check_finite_number,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    log_base,
)

from ._checks import check_hidden, check_index, check_positive, check_target
from ._core import Comm, Spec, check_chunk_size
from ._engine import LinearLoss, Plan

__all__ = [
    "vocab_parallel_linear_cross_entropy",
    "vocab_parallel_linear_min_entropy_loss",
    "vocab_parallel_linear_mixed_entropy_loss",
]


def flatten_hidden_target(hidden: Tensor, weight: Tensor, target: Any) -> tuple[Tensor, str, Tensor]:
    """``(*, H)`` hidden and ``(*)`` / ``(*, V_r)`` target -> (N, H), kind, (N,) / (N, V_r)."""
    lead = tuple(hidden.shape[:-1])
    h2 = hidden.reshape(math.prod(lead), hidden.shape[-1])
    if isinstance(target, Tensor):
        want = lead + ((weight.shape[0],) if target.dtype.is_floating_point else ())
        if tuple(target.shape) != want:
            kind = "probability" if target.dtype.is_floating_point else "class-index"
            raise ValueError(
                f"a {kind} target must have shape {want} for hidden {tuple(hidden.shape)} and "
                f"weight {tuple(weight.shape)}, got {tuple(target.shape)}"
            )
        target = target.reshape(h2.shape[0], weight.shape[0]) if target.dtype.is_floating_point else target.reshape(-1)
    kind, t = check_target(target, h2.shape[0], weight.shape[0], hidden.device)
    return h2, kind, t


def linear_options(softcap: float | None, temperature: float) -> tuple[float | None, float]:
    return (None if softcap is None else check_positive(softcap, "softcap")), check_positive(temperature, "temperature")


def _linear_family(
    hidden: Tensor,
    local_weight: Tensor,
    target: Any,
    bias: Tensor | None,
    *,
    name: str,
    group: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    ce: float,
    ent: float = 0.0,
    rev: float = 0.0,
    rev_log_eps: float = 0.0,
    softcap: float | None,
    temperature: float,
    chunk_size: int | None,
    reduce_hidden_grad: bool,
) -> Tensor:
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_index(ignore_index)
    check_chunk_size(chunk_size)
    softcap, temperature = linear_options(softcap, temperature)
    check_hidden(hidden, local_weight, bias, weight_name="local_weight")
    lead = tuple(hidden.shape[:-1])
    h2, kind, tgt = flatten_hidden_target(hidden, local_weight, target)
    spec = Spec(
        kind,
        smoothing=label_smoothing,
        entropy=ent != 0,
        reverse=rev != 0,
        rev_log_eps=rev_log_eps,
        ignore_index=ignore_index,
    )
    plan = Plan(
        name,
        spec,
        Comm(group),
        (ce, ent, rev),
        reduction,
        chunk_size,
        None,
        temperature,
        softcap,
        bool(reduce_hidden_grad),
    )
    # torch's stubs leave Function.apply unannotated
    out: Tensor = LinearLoss.apply(h2, local_weight, bias, tgt, plan)  # type: ignore[no-untyped-call]
    return out.reshape(lead) if reduction == "none" else out


_ARGS = """
    Args:
        hidden: (N, H) or ``(*, H)`` hidden states, the same on every rank.
        local_weight: (V_r, H) this rank's rows of the classifier (vocabulary slices in rank order).
        target: (N,) / ``(*)`` global class indices (the same on every rank), or this rank's (N, V_r) / ``(*, V_r)``
            slice of the class probabilities.
        bias: optional (V_r,) this rank's slice of the classifier bias.
        group: the tensor-parallel process group (None: the default group).
        ignore_index: class index whose rows are left out of the loss and the 'mean' denominator.
        reduction: 'none' (hidden's leading shape) | 'mean' (over non-ignored rows; N for probabilities;
            0 when empty) | 'sum'.
        label_smoothing: eps in [0, 1], spread over the global V.
        softcap: None, or c > 0: ``z = c tanh(z / c)`` before the temperature (Gemma 2/3).
        temperature: T > 0: the logits are divided by T.
        chunk_size: rows per chunk (default: about 2**23 / V_r).
        reduce_hidden_grad: all-reduce the hidden gradient over the group in backward (default); False leaves
            each rank's partial gradient ``dz_r @ local_weight``.
"""

_TAIL = """
    Returns:
        The loss in hidden's dtype (scalar, or hidden's leading shape for 'none'), the same on every rank;
        gradients flow to hidden, local_weight and bias (not to the target).

    Raises:
        ValueError / TypeError: bad shapes, dtypes or options (before any collective); on every rank after
            the all-gather: a class index out of range, a negative or NaN probability.
        RuntimeError: no initialized process group; double backward.
"""


def vocab_parallel_linear_cross_entropy(
    hidden: Tensor,
    local_weight: Tensor,
    target: Any,
    bias: Tensor | None = None,
    *,
    group: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
    softcap: float | None = None,
    temperature: float = 1.0,
    chunk_size: int | None = None,
    reduce_hidden_grad: bool = True,
) -> Tensor:
    r"""Cross entropy of a vocabulary-parallel linear head, no (N, V_r) logits kept.

    .. math:: \ell_i = -\sum_{c<V} q'_{ic} \log_b \operatorname{softmax}(z_i)_c, \qquad
              z_i = [\, W_0 h_i + b_0 \,|\, \dots \,|\, W_{R-1} h_i + b_{R-1} \,] / T

    Equals :func:`infoloss.linear_cross_entropy` with the gathered weight (and
    :func:`infoloss.functional.cross_entropy` on the gathered logits).

    {args}        base: logarithm base (None: nats).

    {tail}
    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_cross_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> h, w = torch.zeros(3, 4, requires_grad=True), torch.zeros(8, 4, requires_grad=True)
        >>> loss = vocab_parallel_linear_cross_entropy(h, w, torch.tensor([1, 2, -100]))
        >>> round(loss.item(), 4)  # log 8
        2.0794
        >>> loss.backward(); w.grad.shape
        torch.Size([8, 4])
        >>> dist.destroy_process_group()
    """
    return _linear_family(
        hidden,
        local_weight,
        target,
        bias,
        name="vocab_parallel_linear_cross_entropy",
        group=group,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=1.0 / log_base(base),
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
        reduce_hidden_grad=reduce_hidden_grad,
    )


def vocab_parallel_linear_min_entropy_loss(
    hidden: Tensor,
    local_weight: Tensor,
    target: Any,
    bias: Tensor | None = None,
    *,
    group: Any = None,
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
    reduce_hidden_grad: bool = True,
) -> Tensor:
    r"""MIN-ENT of a vocabulary-parallel linear head: ``w_ce CE_i + w_H s_i H_i`` (s_i = 0 if ignored, else 1).

    .. math:: \frac{\partial H_i}{\partial z_{ic}} = -p_{ic} (\log p_{ic} + H_i), \qquad
              \frac{\partial z_{ic}}{\partial (W h_i)_c} = 1 / T

    Equals :func:`infoloss.linear_min_entropy_loss` with the gathered weight.

    {args}        ce_weight, entropy_weight: w_ce and w_H.
        ce_base, entropy_base: logarithm base of each term (None: nats).

    {tail}
    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_min_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> h, w = torch.zeros(2, 4), torch.zeros(8, 4)
        >>> round(vocab_parallel_linear_min_entropy_loss(h, w, torch.tensor([1, 2]), entropy_weight=1.0).item(), 4)
        4.1589
        >>> dist.destroy_process_group()
    """
    ce = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    ent = check_finite_number(entropy_weight, "entropy_weight") / log_base(entropy_base, "entropy_base")
    return _linear_family(
        hidden,
        local_weight,
        target,
        bias,
        name="vocab_parallel_linear_min_entropy_loss",
        group=group,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=ce,
        ent=ent,
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
        reduce_hidden_grad=reduce_hidden_grad,
    )


def vocab_parallel_linear_mixed_entropy_loss(
    hidden: Tensor,
    local_weight: Tensor,
    target: Any,
    bias: Tensor | None = None,
    *,
    group: Any = None,
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
    reduce_hidden_grad: bool = True,
) -> Tensor:
    r"""MIX-ENT of a vocabulary-parallel linear head: ``w_ce CE_i + w_R s_i R_i``,
    ``R_i = -sum_c p_ic log max(q'_ic, eps)``.

    Equals :func:`infoloss.linear_mixed_entropy_loss` with the gathered weight.

    {args}        ce_weight, reverse_weight: w_ce and w_R.
        ce_base, reverse_base: logarithm base of each term (None: nats).
        eps: floor of the target inside the log, in (0, 1).

    {tail}
    Example:
        >>> import math, torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_mixed_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> v = vocab_parallel_linear_mixed_entropy_loss(torch.zeros(1, 3), torch.zeros(2, 3), torch.tensor([0]),
        ...                                              ce_weight=0.0, reverse_weight=1.0)
        >>> math.isclose(v.item(), 0.5 * math.log(1e6), rel_tol=1e-6)
        True
        >>> dist.destroy_process_group()
    """
    ce = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    rev = check_finite_number(reverse_weight, "reverse_weight") / log_base(reverse_base, "reverse_base")
    eps = check_open_unit(eps, "eps")
    return _linear_family(
        hidden,
        local_weight,
        target,
        bias,
        name="vocab_parallel_linear_mixed_entropy_loss",
        group=group,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=ce,
        rev=rev,
        rev_log_eps=math.log(eps),
        softcap=softcap,
        temperature=temperature,
        chunk_size=chunk_size,
        reduce_hidden_grad=reduce_hidden_grad,
    )


for _fn in (
    vocab_parallel_linear_cross_entropy,
    vocab_parallel_linear_min_entropy_loss,
    vocab_parallel_linear_mixed_entropy_loss,
):
    _fn.__doc__ = (
        (_fn.__doc__ or "")
        .replace("{args}", _ARGS.strip("\n").lstrip() + "\n")
        .replace("{tail}", _TAIL.strip("\n").lstrip() + "\n")
    )
del _fn
