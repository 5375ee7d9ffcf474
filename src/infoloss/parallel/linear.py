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
    """Flatten ``(*, H)`` hidden and a ``(*)`` / ``(*, V_r)`` target to (N, H) and (N,) / (N, V_r), with the kind."""
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
    """Validated ``(softcap, temperature)``: softcap None or a finite number > 0; temperature a finite number > 0."""
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
    r"""Cross entropy of a vocabulary-parallel linear head, without the (N, V_r) logits kept.

    Equals :func:`infoloss.linear_cross_entropy` with the gathered weight (and
    :func:`infoloss.functional.cross_entropy` on the gathered logits), on every rank.

    .. math::
        \ell_i = -\frac{1}{\ln \beta} \sum_{c=1}^{V} q'_{ic} \log \operatorname{softmax}(z_i)_c, \qquad
        z_i = [\, \operatorname{cap}(W_0 h_i + b_0) \,|\, \dots \,|\, \operatorname{cap}(W_{R-1} h_i + b_{R-1})
        \,] / T

    with ``W_r`` the classifier rows of rank ``r``, ``cap(u) = c tanh(u / c)`` (identity without softcap)
    and ``q' = (1 - eps) q + eps / V``.

    Args:
        hidden: hidden states, shape ``(N, H)`` or ``(*, H)``, floating, the same on every rank.
        local_weight: this rank's rows of the classifier, shape ``(V_r, H)``, hidden's dtype (vocabulary
            slices in rank order).
        target: global class indices, shape ``(N,)`` / ``(*)``, integer dtype, the same on every rank; or this
            rank's ``(N, V_r)`` / ``(*, V_r)`` slice of the class probabilities, floating.
        bias: optional, this rank's ``(V_r,)`` slice of the classifier bias. Default None.
        group: the tensor-parallel process group; None for the default group. Default None.
        base: logarithm base; None for nats. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when empty. Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        softcap: None, or ``c > 0``: ``z = c tanh(z / c)`` before the temperature (Gemma 2/3). Default None.
        temperature: ``T > 0``; the logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V_r`` rows. Default None.
        reduce_hidden_grad: all-reduce hidden's gradient over the group in backward; False leaves each rank's
            partial gradient ``dz_r @ local_weight`` (when the surrounding tensor-parallel code reduces it).
            Default True.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or hidden's leading shape (``'none'``) in hidden's dtype, the same
        on every rank. Gradients flow to hidden, local_weight and bias (not to the target).

    Raises:
        TypeError: if hidden, local_weight or bias is not a floating tensor; if hidden and local_weight dtypes
            differ; if target is not a tensor or has a bool/complex dtype; if ignore_index is not an int, or chunk_size
            is not an int or None (a bool included); if a
            numeric option (label_smoothing, base, softcap, temperature) is not a number.
        ValueError: before any collective: if hidden is 0-dim; if local_weight is not ``(V_r, H)`` with hidden's H;
            if bias is not ``(V_r,)``; if target's shape does not match; if a tensor is on another device than
            hidden; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            softcap or temperature is not a finite number > 0, or base is not a finite number > 0 and != 1; if
            this process is not a member of ``group``. On every rank, after the all-gather: if a class index is out
            of range (or the target differs across ranks), or a probability is negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized; on double backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_cross_entropy
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)  # a world of one: all V
        >>> loss = vocab_parallel_linear_cross_entropy(h, w, torch.tensor([0, 1]))  # z = [1, 0, -1], [0, 2, 0]
        >>> round(loss.item(), 4)
        0.3236
        >>> loss.backward()
        >>> h.grad  # (softmax(z) - onehot(y)) @ w / 2
        tensor([[-0.2124,  0.1224],
                [ 0.0000, -0.1065]])
        >>> dist.destroy_process_group()

        On ``R`` ranks each passes its rows of the classifier, e.g. rank ``r`` of a tensor-parallel group:

        >>> local_w = lm_head.weight.chunk(R, dim=0)[r]  # doctest: +SKIP
        >>> vocab_parallel_linear_cross_entropy(hidden, local_w, target, group=tp_group)  # doctest: +SKIP

    References:
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
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
    r"""MIN-ENT of a vocabulary-parallel linear head: cross entropy plus weighted entropy, chunked.

    Equals :func:`infoloss.linear_min_entropy_loss` with the gathered weight, on every rank.

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_H}{\ln \beta_H}\, s_i H_i, \qquad
        H_i = -\sum_c p_{ic} \log p_{ic}, \qquad
        \frac{\partial H_i}{\partial z_{ic}} = -p_{ic} (\log p_{ic} + H_i)

    with ``z_i`` and ``CE_i`` as in :func:`vocab_parallel_linear_cross_entropy`, ``p_i = softmax(z_i)`` and
    ``s_i = 0`` for ignored rows, else 1.

    Args:
        hidden: hidden states, shape ``(N, H)`` or ``(*, H)``, floating, the same on every rank.
        local_weight: this rank's rows of the classifier, shape ``(V_r, H)``, hidden's dtype (vocabulary
            slices in rank order).
        target: global class indices, shape ``(N,)`` / ``(*)``, integer dtype, the same on every rank; or this
            rank's ``(N, V_r)`` / ``(*, V_r)`` slice of the class probabilities, floating.
        bias: optional, this rank's ``(V_r,)`` slice of the classifier bias. Default None.
        group: the tensor-parallel process group; None for the default group. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        entropy_weight: finite coefficient ``w_H`` of the entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        entropy_base: logarithm base of the entropy; None for nats. Default None.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when empty. Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        softcap: None, or ``c > 0``: ``z = c tanh(z / c)`` before the temperature (Gemma 2/3). Default None.
        temperature: ``T > 0``; the logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V_r`` rows. Default None.
        reduce_hidden_grad: all-reduce hidden's gradient over the group in backward; False leaves each rank's
            partial gradient ``dz_r @ local_weight`` (when the surrounding tensor-parallel code reduces it).
            Default True.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or hidden's leading shape (``'none'``) in hidden's dtype, the same
        on every rank. Gradients flow to hidden, local_weight and bias (not to the target).

    Raises:
        TypeError: if hidden, local_weight or bias is not a floating tensor; if hidden and local_weight dtypes
            differ; if target is not a tensor or has a bool/complex dtype; if ignore_index is not an int, or chunk_size
            is not an int or None (a bool included); if a
            numeric option (a weight, base, label_smoothing, softcap, temperature) is not a number.
        ValueError: before any collective: if hidden is 0-dim; if local_weight is not ``(V_r, H)`` with hidden's H;
            if bias is not ``(V_r,)``; if target's shape does not match; if a tensor is on another device than
            hidden; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            softcap or temperature is not a finite number > 0, or a weight is not finite or a base is not a
            finite number > 0 and != 1; if this process is not a member of ``group``. On every rank, after the
            all-gather: if a class index is out of range (or the target differs across ranks), or a probability is
            negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized; on double backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_min_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> y = torch.tensor([0, 1])  # CE = [0.4076, 0.2395], H = [0.8324, 0.6656]
        >>> round(vocab_parallel_linear_min_entropy_loss(h, w, y, entropy_weight=0.5).item(), 4)
        0.6981
        >>> dist.destroy_process_group()

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
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
    r"""MIX-ENT of a vocabulary-parallel linear head: cross entropy plus reverse cross entropy, chunked.

    Equals :func:`infoloss.linear_mixed_entropy_loss` with the gathered weight, on every rank.

    .. math::
        \ell_i = \frac{w_{ce}}{\ln \beta_{ce}}\, \mathrm{CE}_i + \frac{w_R}{\ln \beta_R}\, s_i R_i, \qquad
        R_i = -\sum_c p_{ic} \log \max(q'_{ic}, \epsilon)

    with ``z_i``, ``CE_i`` and the smoothed target ``q'`` as in :func:`vocab_parallel_linear_cross_entropy`,
    ``p_i = softmax(z_i)`` and ``s_i = 0`` for ignored rows, else 1.

    Args:
        hidden: hidden states, shape ``(N, H)`` or ``(*, H)``, floating, the same on every rank.
        local_weight: this rank's rows of the classifier, shape ``(V_r, H)``, hidden's dtype (vocabulary
            slices in rank order).
        target: global class indices, shape ``(N,)`` / ``(*)``, integer dtype, the same on every rank; or this
            rank's ``(N, V_r)`` / ``(*, V_r)`` slice of the class probabilities, floating.
        bias: optional, this rank's ``(V_r,)`` slice of the classifier bias. Default None.
        group: the tensor-parallel process group; None for the default group. Default None.
        ce_weight: finite coefficient ``w_ce`` of the cross entropy. Default 1.
        reverse_weight: finite coefficient ``w_R`` of the reverse cross entropy. Default 0.1.
        ce_base: logarithm base of the cross entropy; None for nats. Default None.
        reverse_base: logarithm base of the reverse cross entropy; None for nats. Default None.
        eps: floor of the target inside the log, in (0, 1). Default ``1e-6``.
        ignore_index: class index whose rows are left out of the loss and of the ``'mean'`` denominator (an
            int). Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the number of non-ignored rows
            (class indices) or by N (probabilities); 0 when empty. Default ``'mean'``.
        label_smoothing: eps in [0, 1], spread over the global V. Default 0.
        softcap: None, or ``c > 0``: ``z = c tanh(z / c)`` before the temperature (Gemma 2/3). Default None.
        temperature: ``T > 0``; the logits are divided by T. Default 1.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V_r`` rows. Default None.
        reduce_hidden_grad: all-reduce hidden's gradient over the group in backward; False leaves each rank's
            partial gradient ``dz_r @ local_weight`` (when the surrounding tensor-parallel code reduces it).
            Default True.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or hidden's leading shape (``'none'``) in hidden's dtype, the same
        on every rank. Gradients flow to hidden, local_weight and bias (not to the target).

    Raises:
        TypeError: if hidden, local_weight or bias is not a floating tensor; if hidden and local_weight dtypes
            differ; if target is not a tensor or has a bool/complex dtype; if ignore_index is not an int, or chunk_size
            is not an int or None (a bool included); if a
            numeric option (a weight, base, eps, label_smoothing, softcap, temperature) is not a number.
        ValueError: before any collective: if hidden is 0-dim; if local_weight is not ``(V_r, H)`` with hidden's H;
            if bias is not ``(V_r,)``; if target's shape does not match; if a tensor is on another device than
            hidden; if reduction is unknown, label_smoothing is outside [0, 1], chunk_size is < 1,
            softcap or temperature is not a finite number > 0, or a weight is not finite, a base is not a
            finite number > 0 and != 1, or eps is not in (0, 1); if this process is not a member of ``group``. On
            every rank, after the all-gather: if a class index is out of range (or the target differs across ranks),
            or a probability is negative or NaN.
        RuntimeError: if ``torch.distributed`` is not initialized; on double backward (``create_graph=True``).

    Example:
        >>> import torch, torch.distributed as dist
        >>> from infoloss.parallel import vocab_parallel_linear_mixed_entropy_loss
        >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> y = torch.tensor([0, 1])  # CE = [0.4076, 0.2395], R = -(1 - p_y) log 1e-6 = [4.6249, 2.9429]
        >>> vocab_parallel_linear_mixed_entropy_loss(h, w, y, reverse_weight=0.1, reduction="none")
        tensor([0.8701, 0.5338])
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
