"""Losses where some mistakes cost less: similarity cross entropy, pairwise cost, expected cost.

All three take logits ``input`` of shape (N, C), (N, C, d1, ...) or (C,) and integer class-index
``target`` of the input's shape without the class dim, and share the library's conventions
(those of :mod:`infoloss.functional`): per-element sample weight ``s_i = weight[y_i]`` (1 without ``weight``, 0 where
``y_i == ignore_index``), ``reduction='mean'`` divides by ``sum_i s_i`` (the number of non-ignored
elements without ``weight``), and an empty denominator gives 0 instead of NaN. Matrices are indexed by
the true class first: ``target_matrix[true, j]`` and ``cost_matrix[true, predicted]``.

The functional forms validate the matrix values on every call (one device sync); the modules validate
once, at construction, and keep the matrix as a buffer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infoloss import _ops
from infoloss._common import RowOptions, loss_dtype
from infoloss._reduction import reduce_loss
from infoloss.bespoke._checks import (
    check_reduction,
    check_target_range,
    check_weight,
    compute_dtype,
    flatten_logits_and_target,
    log_base,
)
from infoloss.bespoke.matrices import validate_cost_matrix, validate_target_matrix

__all__ = [
    "ExpectedCostLoss",
    "PairwiseCostLoss",
    "SimilarityCrossEntropyLoss",
    "expected_cost_loss",
    "pairwise_cost_loss",
    "similarity_cross_entropy",
]

MatrixLike = Tensor | Sequence[Sequence[float]]


# ----------------------------------------------------------------------------------------------------
# shared plumbing


def _prepare(
    input: Tensor,
    target: Tensor,
    matrix: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    fn_name: str,
    matrix_name: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None]:
    """Validate shapes; return (logits2d, safe target, valid mask, s_i, matrix, weight) in compute dtype."""
    check_reduction(reduction)
    c = matrix.shape[0]
    logits2d, tgt = flatten_logits_and_target(input, target, c, matrix_name, fn_name)
    check_weight(weight, c)
    valid = check_target_range(tgt, c, ignore_index, fn_name)
    dtype = compute_dtype(input.dtype)
    logits2d = logits2d.to(dtype)
    safe = torch.where(valid, tgt, torch.zeros_like(tgt))
    w = None if weight is None else weight.to(device=input.device, dtype=dtype)
    s = valid.to(dtype) if w is None else torch.where(valid, w[safe], torch.zeros((), dtype=dtype, device=input.device))
    return logits2d, safe, valid, s, matrix.to(device=input.device, dtype=dtype), w


def _reduce(loss: Tensor, s: Tensor, reduction: str, target: Tensor, out_dtype: torch.dtype) -> Tensor:
    """Reduce per-element losses (M,) with the shared 'mean' denominator sum_i s_i (0 if empty)."""
    return reduce_loss(loss, s.sum(), reduction, target.shape, out_dtype)


# ----------------------------------------------------------------------------------------------------
# similarity cross entropy


def _similarity_cross_entropy(
    input: Tensor,
    target: Tensor,
    target_matrix: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    base: float | None,
) -> Tensor:
    """Similarity cross entropy on an already validated target matrix."""
    ln_b = log_base(base)
    logits2d, safe, valid, s, t, w = _prepare(
        input, target, target_matrix, weight, ignore_index, reduction, "similarity_cross_entropy", "target_matrix"
    )
    # The soft-target row kernel of the core (fused by default): -sum_j w_j T[y, j] log p_j per row.
    rows = _ops.ce_family_rows(logits2d, t[safe], w, RowOptions(ignore_index=ignore_index, ce=1.0 / ln_b))
    loss = torch.where(valid, rows, torch.zeros_like(rows))
    return _reduce(loss, s, reduction, target, loss_dtype(input))


def similarity_cross_entropy(
    input: Tensor,
    target: Tensor,
    target_matrix: MatrixLike,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    base: float | None = None,
) -> Tensor:
    r"""Return the cross entropy against the soft label ``target_matrix[y]`` of each class-index target ``y``.

    Per element ``i`` with true class ``y_i`` and ``p = softmax(input)`` over the class dim:

    .. math::
        \ell_i = -\frac{1}{\ln b} \sum_j w_j\, T_{y_i j} \log p_{ij}, \qquad s_i = w_{y_i}
        \ (0 \text{ if ignored}), \qquad \text{'mean'} = \frac{\sum_i \ell_i}{\sum_i s_i}

    Without ``weight`` this equals ``torch.nn.functional.cross_entropy(input, target_matrix[target])``
    over the non-ignored elements; with ``target_matrix = label_smoothing_matrix(C, eps)`` it equals
    ``torch.nn.functional.cross_entropy(input, target, weight, label_smoothing=eps)`` (weights included).
    All elements ignored gives 0 for ``'mean'``, not NaN. Stable for extreme logits (``log_softmax``).

    Args:
        input: logits, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``; float16/bfloat16/float32/float64.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype, values in
            ``[0, C)`` or ``ignore_index``.
        target_matrix: row-stochastic soft labels ``T[true, j]``, shape ``(C, C)``; validated on every call.
        weight: class weights ``w``, shape ``(C,)``, floating. Default None.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base ``b``: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``.
            Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or the target's shape (``'none'``), in the input's dtype
        (computed in float32 for float16/bfloat16; float32 under autocast).

    Raises:
        TypeError: if ``input``/``target`` are not tensors, ``input`` is not floating, ``target`` is not an
            integer tensor, ``weight`` is not a floating tensor, ``ignore_index`` is not an int, ``base`` is
            not a number, or ``target_matrix`` is not a real tensor / nested sequence.
        ValueError: if ``target_matrix`` is not square, has a NaN/inf or negative entry or a row not summing
            to 1; ``reduction`` or ``base`` is invalid; ``input`` is 0-d or its class count differs from the
            matrix; ``target``'s shape does not match; ``weight`` is not ``(C,)``; or (CPU tensors) a target
            index is outside ``[0, C)``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import animal_target_matrix, similarity_cross_entropy
        >>> logits = torch.tensor([[2.0, 1.0, -1.0, -1.0]])
        >>> similarity_cross_entropy(logits, torch.tensor([1]), animal_target_matrix())  # zebra: T = [.3, .7, 0, 0]
        tensor(1.0835)

    References:
        - "Bespoke Cross Entropy Loss", PyTorch Forums (soft-label rows per true class).
          https://discuss.pytorch.org/t/bespoke-cross-entropy-loss/86622
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020 (soft labels). https://arxiv.org/abs/1912.09393
    """
    t = validate_target_matrix(target_matrix)
    return _similarity_cross_entropy(input, target, t, weight, ignore_index, reduction, base)


class _MatrixLoss(nn.Module):
    """Common options of the three bespoke modules: a validated (C, C) matrix buffer, class ``weight``,
    ``ignore_index``, ``reduction`` and ``base``, all checked once at construction."""

    weight: Tensor | None
    _matrix_name = "matrix"

    def __init__(
        self, matrix: Tensor, *, ignore_index: int, reduction: str, base: float | None, weight: Tensor | None
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        log_base(base)
        check_weight(weight, matrix.shape[0])
        self.register_buffer(self._matrix_name, matrix.clone())
        self.register_buffer("weight", None if weight is None else weight.detach().clone())
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.base = base

    @property
    def num_classes(self) -> int:
        """The number of classes ``C`` (the matrix is ``C x C``)."""
        return int(getattr(self, self._matrix_name).shape[0])

    def _extra_options(self) -> str:
        """Extra ``name=value, `` text for :meth:`extra_repr` (subclasses with more options override it)."""
        return ""

    def extra_repr(self) -> str:
        """The options shown in the module's repr."""
        return (
            f"num_classes={self.num_classes}, {self._extra_options()}ignore_index={self.ignore_index}, "
            f"reduction={self.reduction!r}, base={self.base}"
        )


class SimilarityCrossEntropyLoss(_MatrixLoss):
    r"""Cross entropy against soft labels taken from the rows of a class-similarity (target) matrix.

    .. math::
        \ell_i = -\frac{1}{\ln b} \sum_j w_j\, T_{y_i j} \log \operatorname{softmax}(x_i)_j

    ``'mean'`` divides by ``sum_i w[y_i]`` over the non-ignored elements (their count without
    ``weight``); all ignored gives 0. See :func:`similarity_cross_entropy`. The matrix is validated once
    here and stored as the buffer ``target_matrix``; ``weight`` is stored as a buffer too.

    Args:
        target_matrix: row-stochastic soft labels ``T[true, j]``, shape ``(C, C)``, e.g. from
            :func:`label_smoothing_matrix`, :func:`target_matrix_from_distances` or
            :func:`hierarchy_target_matrix`.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: None (nats), 2 (bits), ... Default None.
        weight: class weights, shape ``(C,)``, floating. Default None.

    Raises:
        TypeError: if ``target_matrix`` is not a real tensor / nested sequence, ``base`` is not a number, or
            ``weight`` is not a floating tensor.
        ValueError: if ``target_matrix`` is not a valid row-stochastic ``(C, C)`` matrix, ``reduction`` or
            ``base`` is invalid, or ``weight`` is not ``(C,)``. ``forward`` raises as
            :func:`similarity_cross_entropy`.

    Shape:
        - Input: ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)`` logits.
        - Target: ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()`` class indices.
        - Output: scalar; the target's shape if ``reduction='none'``.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from infoloss.bespoke import SimilarityCrossEntropyLoss, label_smoothing_matrix
        >>> loss_fn = SimilarityCrossEntropyLoss(label_smoothing_matrix(5, 0.1))
        >>> x = torch.tensor([[2.0, 1.0, 0.1, -1.0, 0.5], [0.0, 0.5, 1.0, 0.0, -0.5]])
        >>> y = torch.tensor([0, 2])
        >>> loss_fn(x, y), F.cross_entropy(x, y, label_smoothing=0.1)
        (tensor(0.8763), tensor(0.8763))

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020 (soft labels). https://arxiv.org/abs/1912.09393
    """

    target_matrix: Tensor
    _matrix_name = "target_matrix"

    def __init__(
        self,
        target_matrix: MatrixLike,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        base: float | None = None,
        weight: Tensor | None = None,
    ) -> None:
        super().__init__(
            validate_target_matrix(target_matrix),
            ignore_index=ignore_index,
            reduction=reduction,
            base=base,
            weight=weight,
        )

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Return the loss of the logits ``input`` against the class indices ``target`` (see the class)."""
        return _similarity_cross_entropy(
            input, target, self.target_matrix, self.weight, self.ignore_index, self.reduction, self.base
        )


# ----------------------------------------------------------------------------------------------------
# pairwise cost


def _pairwise_cost_loss(
    input: Tensor,
    target: Tensor,
    cost_matrix: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    base: float | None,
) -> Tensor:
    """Pairwise cost loss on an already validated cost matrix."""
    ln_b = log_base(base)
    logits2d, safe, valid, s, k, _ = _prepare(
        input, target, cost_matrix, weight, ignore_index, reduction, "pairwise_cost_loss", "cost_matrix"
    )
    c = k.shape[0]
    k = k * (1 - torch.eye(c, dtype=k.dtype, device=k.device))  # the diagonal is never read
    cost = k[safe]
    z_true = logits2d.gather(-1, safe.unsqueeze(-1))
    used = cost > 0
    # masking the margin too keeps NaN (e.g. -inf - -inf on the diagonal) out of values and gradients
    margin = torch.where(used, logits2d - z_true, torch.zeros_like(logits2d))
    terms = torch.where(used, cost * F.softplus(margin), torch.zeros_like(margin))
    loss = torch.where(valid, s * terms.sum(-1), torch.zeros_like(s)) / ln_b
    return _reduce(loss, s, reduction, target, loss_dtype(input))


def pairwise_cost_loss(
    input: Tensor,
    target: Tensor,
    cost_matrix: MatrixLike,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    base: float | None = None,
) -> Tensor:
    r"""Return the cost-weighted sum of the binary cross entropies of the true class against each wrong class.

    Per element ``i`` with true class ``y`` and logits ``z``:

    .. math::
        \ell_i = \frac{s_i}{\ln b} \sum_{j \ne y} K_{yj} \operatorname{softplus}(z_j - z_y), \qquad
        s_i = w_y \ (0 \text{ if ignored})

    where ``softplus(z_j - z_y) = -log sigmoid(z_y - z_j)`` is the binary cross entropy of "it is ``y``,
    not ``j``". ``'mean'`` divides by ``sum_i s_i`` (0 if all ignored). The diagonal of ``K`` is ignored.
    Stable for extreme logits (softplus is linear for large margins; entries with ``K = 0`` are masked
    out, so ``-inf`` logits there give no NaN).

    Args:
        input: logits, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``; float16/bfloat16/float32/float64.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype, values in
            ``[0, C)`` or ``ignore_index``.
        cost_matrix: non-negative costs ``K[true, predicted]``, shape ``(C, C)`` (diagonal ignored);
            validated on every call.
        weight: class weights, shape ``(C,)``, floating (``s_i = weight[y_i]``). Default None.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base of the binary cross entropies: None (nats), 2 (bits), ... Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or the target's shape (``'none'``), in the input's dtype
        (float32 under autocast).

    Raises:
        TypeError: if ``input``/``target`` are not tensors, ``input`` is not floating, ``target`` is not an
            integer tensor, ``weight`` is not a floating tensor, ``ignore_index`` is not an int, ``base`` is
            not a number, or ``cost_matrix`` is not a real tensor / nested sequence.
        ValueError: if ``cost_matrix`` is not square or has a NaN/inf or negative off-diagonal entry;
            ``reduction`` or ``base`` is invalid; ``input`` is 0-d or its class count differs from the
            matrix; ``target``'s shape does not match; ``weight`` is not ``(C,)``; or (CPU tensors) a target
            index is outside ``[0, C)``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import pairwise_cost_loss
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> pairwise_cost_loss(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0]), cost)  # (1 + 4) ln 2
        tensor(3.4657)
        >>> pairwise_cost_loss(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0]), cost, base=2)
        tensor(5.)

    References:
        - "Bespoke Cross Entropy Loss", PyTorch Forums (weighted pairwise cross entropies with the right
          answer). https://discuss.pytorch.org/t/bespoke-cross-entropy-loss/86622
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    k = validate_cost_matrix(cost_matrix, ignore_diagonal=True)
    return _pairwise_cost_loss(input, target, k, weight, ignore_index, reduction, base)


class PairwiseCostLoss(_MatrixLoss):
    r"""Sum over the wrong classes ``j`` of ``cost[y, j] * softplus(z_j - z_y)``: cheap confusions cost less.

    .. math::
        \ell_i = \frac{w_{y_i}}{\ln b} \sum_{j \ne y_i} K_{y_i j} \operatorname{softplus}(z_{ij} - z_{i y_i})

    See :func:`pairwise_cost_loss`. The cost matrix is validated once here and stored as the buffer
    ``cost_matrix``; ``weight`` is stored as a buffer too.

    Args:
        cost_matrix: non-negative ``K[true, predicted]``, shape ``(C, C)`` (diagonal ignored), e.g.
            :func:`hierarchy_distance_matrix`.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: None (nats), 2 (bits), ... Default None.
        weight: class weights, shape ``(C,)``, floating. Default None.

    Raises:
        TypeError: if ``cost_matrix`` is not a real tensor / nested sequence, ``base`` is not a number, or
            ``weight`` is not a floating tensor.
        ValueError: if ``cost_matrix`` is not square or has a NaN/inf or negative off-diagonal entry,
            ``reduction`` or ``base`` is invalid, or ``weight`` is not ``(C,)``. ``forward`` raises as
            :func:`pairwise_cost_loss`.

    Shape:
        - Input: ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)`` logits.
        - Target: ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()`` class indices.
        - Output: scalar; the target's shape if ``reduction='none'``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import PairwiseCostLoss
        >>> loss_fn = PairwiseCostLoss(1 - torch.eye(4))  # all mistakes equal: 3 pairwise BCEs of ln 2
        >>> loss_fn(torch.zeros(2, 4), torch.tensor([0, 3]))
        tensor(2.0794)

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """

    cost_matrix: Tensor
    _matrix_name = "cost_matrix"

    def __init__(
        self,
        cost_matrix: MatrixLike,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        base: float | None = None,
        weight: Tensor | None = None,
    ) -> None:
        super().__init__(
            validate_cost_matrix(cost_matrix, ignore_diagonal=True),
            ignore_index=ignore_index,
            reduction=reduction,
            base=base,
            weight=weight,
        )

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Return the loss of the logits ``input`` against the class indices ``target`` (see the class)."""
        return _pairwise_cost_loss(
            input, target, self.cost_matrix, self.weight, self.ignore_index, self.reduction, self.base
        )


# ----------------------------------------------------------------------------------------------------
# expected cost


def _expected_cost_loss(
    input: Tensor,
    target: Tensor,
    cost_matrix: Tensor,
    ce_weight: float,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    base: float | None,
) -> Tensor:
    """Expected cost loss on an already validated cost matrix."""
    ln_b = log_base(base)
    logits2d, safe, valid, s, k, _ = _prepare(
        input, target, cost_matrix, weight, ignore_index, reduction, "expected_cost_loss", "cost_matrix"
    )
    logp = torch.log_softmax(logits2d, dim=-1)
    risk = (k[safe] * logp.exp()).sum(-1)
    per = risk
    if ce_weight != 0:
        nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
        per = per + (ce_weight / ln_b) * nll
    loss = torch.where(valid, s * per, torch.zeros_like(s))
    return _reduce(loss, s, reduction, target, loss_dtype(input))


def _check_ce_weight(ce_weight: float) -> float:
    """``ce_weight`` as a float; ValueError unless it is a number >= 0."""
    if isinstance(ce_weight, bool) or not isinstance(ce_weight, (int, float)) or not ce_weight >= 0:
        raise ValueError(f"ce_weight must be a number >= 0, got {ce_weight!r}")
    return float(ce_weight)


def expected_cost_loss(
    input: Tensor,
    target: Tensor,
    cost_matrix: MatrixLike,
    *,
    ce_weight: float = 0.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    base: float | None = None,
) -> Tensor:
    r"""Return the expected cost (Bayes risk) of the predicted distribution, optionally plus cross entropy.

    Per element ``i`` with true class ``y`` and ``p = softmax(input)``:

    .. math::
        \ell_i = s_i \Bigl(\sum_j K_{yj}\, p_j + \lambda \frac{-\log p_y}{\ln b}\Bigr), \qquad
        s_i = w_y \ (0 \text{ if ignored})

    with ``lambda = ce_weight``; ``'mean'`` divides by ``sum_i s_i`` (0 if all ignored). ``base`` scales
    only the cross-entropy term (the expected cost is in the cost matrix's units). The diagonal
    ``K[y, y]`` is used as given (usually 0). Alone (``ce_weight=0``) the loss is bounded and its
    gradient vanishes for confidently wrong predictions, so a small ``ce_weight`` helps training from
    scratch.

    Args:
        input: logits, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``; float16/bfloat16/float32/float64.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype, values in
            ``[0, C)`` or ``ignore_index``.
        cost_matrix: non-negative costs ``K[true, predicted]``, shape ``(C, C)``; validated on every call.
        ce_weight: ``lambda >= 0``, the weight of the cross-entropy term. Default 0.0.
        weight: class weights, shape ``(C,)``, floating (``s_i = weight[y_i]``). Default None.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base of the cross-entropy term: None (nats), 2 (bits), ... Default None.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or the target's shape (``'none'``), in the input's dtype
        (float32 under autocast).

    Raises:
        TypeError: if ``input``/``target`` are not tensors, ``input`` is not floating, ``target`` is not an
            integer tensor, ``weight`` is not a floating tensor, ``ignore_index`` is not an int, ``base`` is
            not a number, or ``cost_matrix`` is not a real tensor / nested sequence.
        ValueError: if ``cost_matrix`` is not square or has a NaN/inf or negative entry; ``ce_weight`` is
            not a number >= 0; ``reduction`` or ``base`` is invalid; ``input`` is 0-d or its class count
            differs from the matrix; ``target``'s shape does not match; ``weight`` is not ``(C,)``; or (CPU
            tensors) a target index is outside ``[0, C)``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import expected_cost_loss
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> x, y = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0])
        >>> expected_cost_loss(x, y, cost)  # (0 + 1 + 4) / 3
        tensor(1.6667)
        >>> expected_cost_loss(x, y, cost, ce_weight=1.0, base=2)  # 5/3 + log2(3)
        tensor(3.2516)

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020 (costs as mistake severity). https://arxiv.org/abs/1912.09393
    """
    k = validate_cost_matrix(cost_matrix)
    cw = _check_ce_weight(ce_weight)
    return _expected_cost_loss(input, target, k, cw, weight, ignore_index, reduction, base)


class ExpectedCostLoss(_MatrixLoss):
    r"""Expected cost ``sum_j cost[y, j] * p_j`` of the softmax prediction, plus ``ce_weight`` times cross entropy.

    .. math::
        \ell_i = w_{y_i} \Bigl(\sum_j K_{y_i j}\, p_{ij} + \lambda \frac{-\log p_{i y_i}}{\ln b}\Bigr)

    See :func:`expected_cost_loss`. The cost matrix is validated once here and stored as the buffer
    ``cost_matrix``; ``weight`` is stored as a buffer too.

    Args:
        cost_matrix: non-negative ``K[true, predicted]``, shape ``(C, C)``, e.g.
            :func:`hierarchy_distance_matrix`.
        ce_weight: ``lambda >= 0``, the weight of the cross-entropy term (0: pure expected cost).
            Default 0.0.
        ignore_index: target value excluded from the loss and from the ``'mean'`` denominator. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base of the cross-entropy term: None (nats), 2 (bits), ... Default None.
        weight: class weights, shape ``(C,)``, floating. Default None.

    Raises:
        TypeError: if ``cost_matrix`` is not a real tensor / nested sequence, ``base`` is not a number, or
            ``weight`` is not a floating tensor.
        ValueError: if ``cost_matrix`` is not square or has a NaN/inf or negative entry, ``ce_weight`` is
            not a number >= 0, ``reduction`` or ``base`` is invalid, or ``weight`` is not ``(C,)``.
            ``forward`` raises as :func:`expected_cost_loss`.

    Shape:
        - Input: ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)`` logits.
        - Target: ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()`` class indices.
        - Output: scalar; the target's shape if ``reduction='none'``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import ExpectedCostLoss
        >>> loss_fn = ExpectedCostLoss(1 - torch.eye(4), ce_weight=0.0)  # expected 0-1 loss: 1 - p_y
        >>> loss_fn(torch.zeros(2, 4), torch.tensor([0, 3]))
        tensor(0.7500)

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """

    cost_matrix: Tensor
    _matrix_name = "cost_matrix"

    def __init__(
        self,
        cost_matrix: MatrixLike,
        *,
        ce_weight: float = 0.0,
        ignore_index: int = -100,
        reduction: str = "mean",
        base: float | None = None,
        weight: Tensor | None = None,
    ) -> None:
        super().__init__(
            validate_cost_matrix(cost_matrix), ignore_index=ignore_index, reduction=reduction, base=base, weight=weight
        )
        self.ce_weight = _check_ce_weight(ce_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Return the loss of the logits ``input`` against the class indices ``target`` (see the class)."""
        return _expected_cost_loss(
            input, target, self.cost_matrix, self.ce_weight, self.weight, self.ignore_index, self.reduction, self.base
        )

    def _extra_options(self) -> str:
        """The ``ce_weight`` option for the repr."""
        return f"ce_weight={self.ce_weight}, "
