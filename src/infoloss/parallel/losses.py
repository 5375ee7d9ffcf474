r"""Vocab-parallel losses on local logits: each rank holds the (N, V_r) slice of the logits on its contiguous
piece of the vocabulary (rank order gives the offsets; shards may be uneven) and every rank gets the loss of
the full (N, V) logits, with the semantics of :mod:`infoloss.functional` (``docs/design.md``).

Forward: a pass over the local logits computes per-row statistics (max, sum e, sum e*d, the target logit,
...), one all-gather of these (N, k) statistics, a local merge (``docs/parallel.md``). With class-index
targets each rank needs its offset before its pass: it is cached from earlier calls (or guessed as rank * V_r)
and verified in the same all-gather; when any rank's was wrong (first call on unusual uneven shards, a
resharding), all ranks redo the pass together (a second all-gather). Backward: no collective; the gradient on
each rank's slice is analytic (``dCE/dz = p - q'``, ``dH/dz = -p (log p + H)``).

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
    r"""Cross entropy of vocabulary-sharded logits: the value of the gathered (N, V) logits, on every rank.

    Equals :func:`infoloss.functional.cross_entropy` on the gathered logits (same class weights,
    ``ignore_index``, label smoothing over the global V, ``'mean'`` denominator), computed from per-row
    statistics: one all-gather of ``(N, k)`` values in forward, no collective in backward.

    .. math::
        \ell_i = -\frac{1}{\ln \beta} \sum_{c=1}^{V} w_c\, q'_{ic} \log \operatorname{softmax}(z_i)_c, \qquad
        q'_i = (1 - \varepsilon)\, q_i + \varepsilon / V

    computed as ``(1 - eps) w_y (log S - (z_y - m)) + eps / V sum_c w_c (log S - (z_c - m))`` from the merged
    row statistics (global max ``m``, ``S = sum_c exp(z_c - m)``); V is the global vocabulary size.

    Args:
        local_logits: this rank's slice of the logits, shape ``(N, V_r)``, floating; or an ``(N, V)`` DTensor
            sharded ``Shard(1)`` on a 1-D mesh.
        target: global class indices, shape ``(N,)``, integer dtype, the same on every rank; or this rank's
            ``(N, V_r)`` slice of the class probabilities, floating.
        group: the tensor-parallel process group; None for the default group. Default None.
        weight: optional class weights, this rank's ``(V_r,)`` slice, floating. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by ``sum_i s_i`` (class indices;
            ``s_i = w_{y_i}``, 0 when ignored) or by N (probabilities); an empty denominator gives 0.
            Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        chunk_size: rows per chunk of the local pass, a positive int; None picks about ``2**19 / V_r`` rows.
            Default None.
        base: logarithm base; None for nats. Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(N,)`` (``'none'``) in the logits' dtype, the same on
        every rank. Gradients flow to each rank's local logits.

    Raises:
        TypeError: if the logits or weight is not a floating tensor; if target is not a tensor or has a bool/complex
            dtype; if target or weight is a DTensor while the logits are not; if ignore_index is not an int, or
            chunk_size is not an int or None (a bool included); if a
            numeric option (label_smoothing, base) is not a number.
        ValueError: before any collective: if the logits are not 2-D; if target or weight has the wrong shape or
            device; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            or base is not a finite number > 0 and != 1; for a DTensor input, if its mesh is not 1-D, it is
            not ``Shard(1)``, ``group`` is not its mesh's group, or target/weight is placed differently; if this
            process is not a member of ``group``. On every rank, after the all-gather: if a class index is out of
            range (or the target differs across ranks), or a probability is negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized (and the input is not a DTensor); on double
            backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_cross_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> logits = torch.tensor([[2.0, 1.0, 0.1]], requires_grad=True)  # a world of one holds all of V
        >>> loss = vocab_parallel_cross_entropy(logits, torch.tensor([0]))
        >>> round(loss.item(), 4)  # logsumexp(z) - z_0
        0.417
        >>> loss.backward()
        >>> logits.grad  # softmax(z) - onehot(0)
        tensor([[-0.3410,  0.2424,  0.0986]])
        >>> dist.destroy_process_group()

        On ``R`` ranks each passes its slice of the vocabulary, e.g. rank ``r`` of a tensor-parallel group:

        >>> local = full_logits.chunk(R, dim=1)[r]  # doctest: +SKIP
        >>> vocab_parallel_cross_entropy(local, target, group=tp_group)  # doctest: +SKIP

    References:
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
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
    r"""MIN-ENT of vocabulary-sharded logits: cross entropy plus weighted entropy of the gathered logits.

    Equals :func:`infoloss.functional.min_entropy_loss` on the gathered logits, on every rank. The entropy is
    merged from each shard's max ``m_r``, ``S_r = sum_{c in r} e^{z_c - m_r}`` and
    ``sum_{c in r} e^{z_c - m_r} (z_c - m_r)``. A negative ``entropy_weight`` is the confidence penalty.

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_H}{\ln \beta_H}\, s_i H_i, \qquad
        H_i = \log S - \frac{1}{S} \sum_r e^{m_r - m} \Big(\sum_{c \in r} e^{z_c - m_r} (z_c - m_r)
        + (m_r - m) S_r\Big)

    with ``CE_i`` as in :func:`vocab_parallel_cross_entropy` (in nats), ``S = sum_r e^{m_r - m} S_r`` and
    ``s_i = w_{y_i}`` (0 when ignored; 1 without class weights).

    Args:
        local_logits: this rank's slice of the logits, shape ``(N, V_r)``, floating; or an ``(N, V)`` DTensor
            sharded ``Shard(1)`` on a 1-D mesh.
        target: global class indices, shape ``(N,)``, integer dtype, the same on every rank; or this rank's
            ``(N, V_r)`` slice of the class probabilities, floating.
        group: the tensor-parallel process group; None for the default group. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        entropy_weight: finite coefficient ``w_H`` of the entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        entropy_base: logarithm base of the entropy; None for nats. Default None.
        weight: optional class weights, this rank's ``(V_r,)`` slice, floating. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by ``sum_i s_i`` (class indices;
            ``s_i = w_{y_i}``, 0 when ignored) or by N (probabilities); an empty denominator gives 0.
            Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        chunk_size: rows per chunk of the local pass, a positive int; None picks about ``2**19 / V_r`` rows.
            Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(N,)`` (``'none'``) in the logits' dtype, the same on
        every rank.

    Raises:
        TypeError: if the logits or weight is not a floating tensor; if target is not a tensor or has a bool/complex
            dtype; if target or weight is a DTensor while the logits are not; if ignore_index is not an int, or
            chunk_size is not an int or None (a bool included); if a
            numeric option (a weight, base or label_smoothing) is not a number.
        ValueError: before any collective: if the logits are not 2-D; if target or weight has the wrong shape or
            device; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            a weight is not finite, or a base is not a finite number > 0 and != 1; for a DTensor input, if its
            mesh is not 1-D, it is not ``Shard(1)``, ``group`` is not its mesh's group, or target/weight is placed
            differently; if this process is not a member of ``group``. On every rank, after the all-gather: if a
            class index is out of range (or the target differs across ranks), or a probability is negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized (and the input is not a DTensor); on double
            backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_min_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]), torch.tensor([0, 2])
        >>> vocab_parallel_min_entropy_loss(x, y, entropy_weight=0.1, label_smoothing=0.1, reduction="none")
        tensor([0.5984, 1.2085])
        >>> dist.destroy_process_group()

        The second row is uniform: ``CE = H = log 3``, so its loss is ``1.1 log 3``.

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
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
    r"""MIX-ENT of vocabulary-sharded logits: cross entropy plus reverse cross entropy of the gathered logits.

    Equals :func:`infoloss.functional.mixed_entropy_loss` on the gathered logits, on every rank. For class
    indices ``R_i`` needs only ``p_{i y_i}``:
    ``R = -(log max(q'_o, eps) + p_y (log max(q'_y, eps) - log max(q'_o, eps)))``, with ``q'_y`` and ``q'_o``
    the smoothed target of the true class and of the others.

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_R}{\ln \beta_R}\, s_i R_i, \qquad
        R_i = -\sum_c p_{ic} \log \max(q'_{ic}, \epsilon)
        = -\frac{1}{S} \sum_r e^{m_r - m} \sum_{c \in r} e^{z_c - m_r} \log \max(q'_{ic}, \epsilon)

    Args:
        local_logits: this rank's slice of the logits, shape ``(N, V_r)``, floating; or an ``(N, V)`` DTensor
            sharded ``Shard(1)`` on a 1-D mesh.
        target: global class indices, shape ``(N,)``, integer dtype, the same on every rank; or this rank's
            ``(N, V_r)`` slice of the class probabilities, floating.
        group: the tensor-parallel process group; None for the default group. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        reverse_weight: finite coefficient ``w_R`` of the reverse cross entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        reverse_base: logarithm base of the reverse cross entropy; None for nats. Default None.
        eps: floor of the target inside the log, in (0, 1). Default ``1e-6``.
        weight: optional class weights, this rank's ``(V_r,)`` slice, floating. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by ``sum_i s_i`` (class indices;
            ``s_i = w_{y_i}``, 0 when ignored) or by N (probabilities); an empty denominator gives 0.
            Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        chunk_size: rows per chunk of the local pass, a positive int; None picks about ``2**19 / V_r`` rows.
            Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or shape ``(N,)`` (``'none'``) in the logits' dtype, the same on
        every rank.

    Raises:
        TypeError: if the logits or weight is not a floating tensor; if target is not a tensor or has a bool/complex
            dtype; if target or weight is a DTensor while the logits are not; if ignore_index is not an int, or
            chunk_size is not an int or None (a bool included); if a
            numeric option (a weight, base, eps or label_smoothing) is not a number.
        ValueError: before any collective: if the logits are not 2-D; if target or weight has the wrong shape or
            device; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            a weight is not finite, a base is not a finite number > 0 and != 1, or eps is not in (0, 1); for a
            DTensor input, if its mesh is not 1-D, it is not ``Shard(1)``, ``group`` is not its mesh's group, or
            target/weight is placed differently; if this process is not a member of ``group``. On every rank, after
            the all-gather: if a class index is out of range (or the target differs across ranks), or a probability
            is negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized (and the input is not a DTensor); on double
            backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_mixed_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> x = torch.tensor([[2.0, 1.0, 0.1]])  # CE = 0.4170, R = -(1 - p_0) log 1e-6 = 4.7111
        >>> round(vocab_parallel_mixed_entropy_loss(x, torch.tensor([0]), reverse_weight=0.1).item(), 4)
        0.8881
        >>> dist.destroy_process_group()

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
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
    r"""Shannon entropy of ``softmax`` over vocabulary-sharded logits, the same on every rank.

    Equals :func:`infoloss.functional.entropy` on the gathered logits; one all-gather of ``(N, 3)`` row
    statistics in forward, no collective in backward.

    .. math::
        H_i = -\frac{1}{\ln \beta} \sum_{c=1}^{V} p_{ic} \log p_{ic}, \qquad
        \frac{\partial H_i}{\partial z_{ic}} = -\frac{p_{ic} (\log p_{ic} + H_i)}{\ln \beta}

    Args:
        local_logits: this rank's slice of the logits, shape ``(N, V_r)``, floating; or an ``(N, V)`` DTensor
            sharded ``Shard(1)`` on a 1-D mesh.
        group: the process group; None for the default group. Default None.
        reduction: ``'none'`` | ``'mean'`` (over the N rows) | ``'sum'``. Default ``'none'``.
        base: logarithm base; None for nats. Default None.
        chunk_size: rows per chunk of the local pass, a positive int; None picks about ``2**19 / V_r`` rows.
            Default None.

    Returns:
        Shape ``(N,)`` (``'none'``) or a scalar, in the logits' dtype, the same on every rank.

    Raises:
        TypeError: if the logits are not a floating tensor; if base is not a number; if chunk_size is not an int or
            None (a bool included).
        ValueError: if the logits are not 2-D; if reduction is unknown, base is not a finite number > 0 and != 1, or
            chunk_size is < 1; for a DTensor input, if its mesh is not 1-D, it is not
            ``Shard(1)``, or ``group`` is not its mesh's group; if this process is not a member of ``group``.
        RuntimeError: if ``torch.distributed`` is not initialized (and the input is not a DTensor); on double
            backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> vocab_parallel_entropy(torch.tensor([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]), base=2)  # 2nd: log2(3)
        tensor([1.2216, 1.5850])
        >>> dist.destroy_process_group()

    References:
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
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
