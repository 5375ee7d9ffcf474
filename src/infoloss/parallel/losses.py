r"""Vocab-parallel losses on local logits: each rank holds the (N, V_r) slice of the logits on its contiguous
piece of the vocabulary (rank order gives the offsets; shards may be uneven) and every rank gets the loss of
the full (N, V) logits, with the semantics of :mod:`infoloss.functional` (``docs/design.md``).

Forward: a pass over the local logits computes per-row statistics (max, sum e, sum e*d, the target logit,
...), one all-gather of these (N, k) statistics, a local merge (``docs/parallel.md``). With class-index targets each rank
needs its offset before its pass: it is cached from earlier calls (or guessed as rank * V_r) and verified in
the same all-gather; when any rank's was wrong (first call on unusual uneven shards, a resharding), all ranks
redo the pass together (a second all-gather). Backward: no collective; the gradient on each rank's
slice is analytic (``dCE/dz = p - q'``, ``dH/dz = -p (log p + H)``).

``group=None`` is the default process group. The logits may also be a DTensor sharded ``Shard(1)`` on a
1-D mesh (what ``torch.distributed.tensor.parallel.loss_parallel`` users hold): the target is then a plain
or replicated DTensor of class indices, or the probability target sharded like the logits, and the weight a
``Shard(0)`` DTensor or the local slice. The result is a plain tensor, the same on every rank.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from infoloss._validation import (
    check_finite_number,
    check_floating,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    log_base,
)

from ._checks import check_index, check_logits_target, unwrap
from ._core import Spec, check_chunk_size
from ._engine import LogitsLoss, Plan

__all__ = [
    "vocab_parallel_cross_entropy",
    "vocab_parallel_min_entropy_loss",
    "vocab_parallel_mixed_entropy_loss",
    "vocab_parallel_entropy",
]


def _family(
    local_logits: Any,
    target: Any,
    *,
    name: str,
    group: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    ce: float,
    ent: float = 0.0,
    rev: float = 0.0,
    rev_log_eps: float = 0.0,
    chunk_size: int | None = None,
) -> Tensor:
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_index(ignore_index)
    check_chunk_size(chunk_size)
    z, tgt, w, comm, known = unwrap(local_logits, target, weight, group)
    kind, tgt = check_logits_target(z, tgt, w)
    spec = Spec(
        kind,
        weighted=w is not None,
        smoothing=label_smoothing,
        entropy=ent != 0,
        reverse=rev != 0,
        rev_log_eps=rev_log_eps,
        ignore_index=ignore_index,
    )
    plan = Plan(name, spec, comm, (ce, ent, rev), reduction, chunk_size, known)
    # torch's stubs leave Function.apply unannotated
    out: Tensor = LogitsLoss.apply(z, tgt, w, plan)  # type: ignore[no-untyped-call]
    return out


_ARGS = """
    Args:
        local_logits: (N, V_r) this rank's slice of the logits (or an (N, V) DTensor sharded ``Shard(1)``).
        target: (N,) global class indices (the same on every rank), or this rank's (N, V_r) slice of the
            class probabilities.
        group: the tensor-parallel process group (None: the default group).
        weight: optional (V_r,) this rank's slice of the class weights.
        ignore_index: class index whose rows are left out of the loss and the 'mean' denominator.
        reduction: 'none' (N,) | 'mean' | 'sum'. 'mean' divides by ``sum_i s_i`` (class indices; ``s_i = w_{y_i}``,
            0 when ignored) or by N (probabilities); an empty denominator gives 0.
        label_smoothing: eps in [0, 1], spread over the global V.
        chunk_size: rows per chunk of the local pass (default: about 2**19 / V_r).
"""

_RAISES = """
    Raises:
        ValueError / TypeError: bad shapes, dtypes or options (before any collective); on every rank, after
            the all-gather: a class index out of range (or a target that differs across ranks), a negative
            or NaN probability. RuntimeError: no initialized process group.
"""


def vocab_parallel_cross_entropy(
    local_logits: Any,
    target: Any,
    *,
    group: Any = None,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
    chunk_size: int | None = None,
) -> Tensor:
    r"""Cross entropy of vocabulary-sharded logits; equals :func:`infoloss.functional.cross_entropy` on the
    gathered (N, V) logits.

    .. math::
        \ell_i = -\sum_{c<V} w_c\, q'_{ic} \log_b \operatorname{softmax}(z_i)_c, \qquad
        q' = (1-\varepsilon) q + \varepsilon / V

    computed as ``(1-eps) w_y (log S - (z_y - m)) + eps/V sum_c w_c (log S - (z_c - m))`` from the merged
    row statistics (global max m, ``S = sum_c exp(z_c - m)``); V is the global vocabulary size.

    {args}        base: logarithm base (None: nats).

    Returns:
        The loss in the logits' dtype: a scalar, or (N,) for 'none'; the same on every rank. Gradients flow
        to each rank's local logits (no collective in backward).

    {raises}
    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_cross_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> logits = torch.tensor([[2.0, 1.0, 0.1]], requires_grad=True)  # a world of one holds all of V
        >>> loss = vocab_parallel_cross_entropy(logits, torch.tensor([0]))
        >>> round(loss.item(), 4)
        0.417
        >>> loss.backward(); logits.grad
        tensor([[-0.3410,  0.2424,  0.0986]])
        >>> dist.destroy_process_group()
    """
    return _family(
        local_logits,
        target,
        name="vocab_parallel_cross_entropy",
        group=group,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=1.0 / log_base(base),
        chunk_size=chunk_size,
    )


def vocab_parallel_min_entropy_loss(
    local_logits: Any,
    target: Any,
    *,
    group: Any = None,
    ce_weight: float = 1.0,
    entropy_weight: float = 0.1,
    ce_base: float | None = None,
    entropy_base: float | None = None,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    chunk_size: int | None = None,
) -> Tensor:
    r"""MIN-ENT of vocabulary-sharded logits; equals :func:`infoloss.functional.min_entropy_loss` on the
    gathered logits.

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}_i + w_H\, s_i\, H_i, \qquad
              H_i = \log S - \frac{1}{S} \sum_r e^{m_r - m} \Big(\sum_{c \in r} e^{z_c - m_r} (z_c - m_r)
              + (m_r - m) S_r\Big)

    H is merged from each shard's (max m_r, ``S_r = sum e^(z - m_r)``, ``sum e^(z - m_r) (z - m_r)``).

    {args}        ce_weight, entropy_weight: w_ce and w_H (a negative w_H is the confidence penalty).
        ce_base, entropy_base: logarithm base of each term (None: nats).

    Returns:
        The loss in the logits' dtype (scalar, or (N,) for 'none'), the same on every rank.

    {raises}
    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_min_entropy_loss
        >>> from infoloss.functional import min_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]), torch.tensor([0, 2])
        >>> value = vocab_parallel_min_entropy_loss(x, y, entropy_weight=0.1, label_smoothing=0.1)
        >>> torch.allclose(value, min_entropy_loss(x, y, entropy_weight=0.1, label_smoothing=0.1))
        True
        >>> dist.destroy_process_group()
    """
    ce = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    ent = check_finite_number(entropy_weight, "entropy_weight") / log_base(entropy_base, "entropy_base")
    return _family(
        local_logits,
        target,
        name="vocab_parallel_min_entropy_loss",
        group=group,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=ce,
        ent=ent,
        chunk_size=chunk_size,
    )


def vocab_parallel_mixed_entropy_loss(
    local_logits: Any,
    target: Any,
    *,
    group: Any = None,
    ce_weight: float = 1.0,
    reverse_weight: float = 0.1,
    ce_base: float | None = None,
    reverse_base: float | None = None,
    eps: float = 1e-6,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    chunk_size: int | None = None,
) -> Tensor:
    r"""MIX-ENT of vocabulary-sharded logits; equals :func:`infoloss.functional.mixed_entropy_loss` on the
    gathered logits.

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}_i + w_R\, s_i\, R_i, \qquad
              R_i = -\sum_c p_{ic} \log \max(q'_{ic}, \varepsilon)
              = -\frac{1}{S} \sum_r e^{m_r - m} \sum_{c \in r} e^{z_c - m_r} \log \max(q'_{ic}, \varepsilon)

    For class indices ``R = -(log max(q'_o, eps) + p_y (log max(q'_y, eps) - log max(q'_o, eps)))`` needs only
    ``p_y``.

    {args}        ce_weight, reverse_weight: w_ce and w_R.
        ce_base, reverse_base: logarithm base of each term (None: nats).
        eps: floor of the target inside the log, in (0, 1).

    Returns:
        The loss in the logits' dtype (scalar, or (N,) for 'none'), the same on every rank.

    {raises}
    Example:
        >>> import math, torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_mixed_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> value = vocab_parallel_mixed_entropy_loss(torch.zeros(1, 2), torch.tensor([0]), ce_weight=0.0,
        ...                                           reverse_weight=1.0, eps=1e-6)
        >>> math.isclose(value.item(), 0.5 * math.log(1e6), rel_tol=1e-6)
        True
        >>> dist.destroy_process_group()
    """
    ce = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    rev = check_finite_number(reverse_weight, "reverse_weight") / log_base(reverse_base, "reverse_base")
    eps = check_open_unit(eps, "eps")
    return _family(
        local_logits,
        target,
        name="vocab_parallel_mixed_entropy_loss",
        group=group,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce=ce,
        rev=rev,
        rev_log_eps=math.log(eps),
        chunk_size=chunk_size,
    )


def vocab_parallel_entropy(
    local_logits: Any,
    *,
    group: Any = None,
    reduction: str = "none",
    base: float | None = None,
    chunk_size: int | None = None,
) -> Tensor:
    r"""Shannon entropy of ``softmax`` over vocabulary-sharded logits; equals
    :func:`infoloss.functional.entropy` on the gathered logits.

    .. math:: H_i = -\sum_{c<V} p_{ic} \log_b p_{ic}, \qquad \frac{\partial H_i}{\partial z_{ic}} = -p_{ic}
              (\log p_{ic} + H_i)

    Args:
        local_logits: (N, V_r) this rank's slice of the logits (or an (N, V) DTensor sharded ``Shard(1)``).
        group: the process group (None: the default group).
        reduction: 'none' (N,) | 'mean' (over the N rows) | 'sum'.
        base: logarithm base (None: nats).
        chunk_size: rows per chunk of the local pass.

    Returns:
        The entropy in the logits' dtype, the same on every rank; one all-gather of (N, 3) statistics.

    Raises:
        ValueError / TypeError: bad shapes, dtypes or options. RuntimeError: no initialized process group.

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> vocab_parallel_entropy(torch.zeros(2, 4), base=2)
        tensor([2., 2.])
        >>> dist.destroy_process_group()
    """
    check_reduction(reduction)
    scale = log_base(base)
    check_chunk_size(chunk_size)
    z, _, _, comm, known = unwrap(local_logits, None, None, group)
    check_floating(z, "local_logits")
    if z.dim() != 2:
        raise ValueError(f"local_logits must be (N, V_r) local logits, got shape {tuple(z.shape)}")
    plan = Plan(
        "vocab_parallel_entropy",
        Spec("none", entropy=True),
        comm,
        (0.0, 1.0 / scale, 0.0),
        reduction,
        chunk_size,
        known,
    )
    # torch's stubs leave Function.apply unannotated
    out: Tensor = LogitsLoss.apply(z, z.new_zeros(0), None, plan)  # type: ignore[no-untyped-call]
    return out


for _fn in (vocab_parallel_cross_entropy, vocab_parallel_min_entropy_loss, vocab_parallel_mixed_entropy_loss):
    _fn.__doc__ = (
        (_fn.__doc__ or "")
        .replace("{args}", _ARGS.strip("\n").lstrip() + "\n")
        .replace("{raises}", _RAISES.strip("\n").lstrip() + "\n")
    )
del _fn
