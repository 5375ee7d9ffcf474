"""Metrics and decision rules when mistakes have different costs (plain functions, no gradients).

Index convention: ``cost[true, predicted]``. Predictions are either class indices (integer tensor of the
target's shape) or scores / logits / probabilities with a class dim (1 for >= 2 dims, 0 for 1-D), which
are turned into predictions by argmax. Elements whose target is ``ignore_index`` are left out.
"""

from __future__ import annotations

import torch
from torch import Tensor

from infoloss.bespoke._checks import as_float_matrix, check_finite

__all__ = [
    "argmax_prediction",
    "average_cost",
    "expected_costs",
    "hierarchical_distance_at_k",
    "min_expected_cost_prediction",
    "mistake_severity",
    "top1_accuracy",
]


def _class_dim(x: Tensor) -> int:
    if x.dim() == 0:
        raise ValueError("scores must have a class dimension, got a 0-d tensor")
    return 1 if x.dim() >= 2 else 0


def _flat_scores(scores: Tensor, target: Tensor | None = None) -> Tensor:
    """(M, C) with the class dim last; checks the target shape if given."""
    if not isinstance(scores, Tensor) or not scores.dtype.is_floating_point:
        raise TypeError("scores must be a floating tensor (logits or probabilities)")
    cd = _class_dim(scores)
    if target is not None:
        expected = scores.shape[:cd] + scores.shape[cd + 1 :]
        if target.shape != expected:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match scores shape "
                f"{tuple(scores.shape)} without the class dim (expected {tuple(expected)})"
            )
    return scores.detach().movedim(cd, -1).reshape(-1, scores.shape[cd])


def _predictions(prediction: Tensor, target: Tensor) -> Tensor:
    """Flat (M,) predicted indices from indices or scores."""
    if not isinstance(target, Tensor) or target.dtype.is_floating_point:
        raise TypeError("target must be an integer tensor of class indices")
    if prediction.dtype.is_floating_point:
        return _flat_scores(prediction, target).argmax(-1)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction indices shape {tuple(prediction.shape)} differs from target shape {tuple(target.shape)}"
        )
    return prediction.reshape(-1)


def _cost(cost_matrix: Tensor, name: str) -> Tensor:
    m = as_float_matrix(cost_matrix, name)
    check_finite(m, name)
    return m


def _check_range(values: Tensor, num_classes: int, what: str) -> None:
    bad = (values < 0) | (values >= num_classes)
    if bool(bad.any()):
        raise ValueError(f"{what} index {int(values[bad][0])} is out of range for {num_classes} classes")


def _costed_pairs(
    prediction: Tensor, target: Tensor, cost_matrix: Tensor, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(cost matrix, true, predicted) over the non-ignored elements, both index vectors range-checked."""
    k = _cost(cost_matrix, "cost_matrix")
    pred = _predictions(prediction, target)
    y = target.reshape(-1)
    keep = y != ignore_index
    y, pred = y[keep], pred[keep]
    _check_range(y, k.shape[0], "target")
    _check_range(pred, k.shape[0], "prediction")
    return k, y, pred


def top1_accuracy(prediction: Tensor, target: Tensor, *, ignore_index: int = -100) -> Tensor:
    """The fraction of (non-ignored) elements whose predicted class is the target.

    ``acc = mean_i [pred_i == y_i]``; 0 when there is no element.

    Args:
        prediction: class indices (shape of target) or scores (N, C, ...) reduced by argmax.
        target: int class indices (N,), (N, d1, ...).
        ignore_index: target value to leave out.

    Returns:
        0-d float32 tensor.

    Example:
        >>> top1_accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 1, 1]))
        tensor(0.6667)
    """
    pred = _predictions(prediction, target)
    y = target.reshape(-1)
    keep = y != ignore_index
    n = int(keep.sum())
    if n == 0:
        return torch.zeros((), dtype=torch.float32)
    return (pred[keep] == y[keep]).sum().to(torch.float32) / n


def average_cost(prediction: Tensor, target: Tensor, cost_matrix: Tensor, *, ignore_index: int = -100) -> Tensor:
    """The mean cost ``cost[y_i, pred_i]`` over all (non-ignored) elements, correct ones included.

    This is the empirical risk that :func:`min_expected_cost_prediction` minimises in expectation.

    Args:
        prediction: class indices (shape of target) or scores (N, C, ...) reduced by argmax.
        target: int class indices.
        cost_matrix: (C, C) ``cost[true, predicted]``.
        ignore_index: target value to leave out.

    Returns:
        0-d float tensor (0 when there is no element).

    Example:
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> average_cost(torch.tensor([1, 1, 0]), torch.tensor([0, 1, 2]), cost)
        tensor(1.6667)
    """
    k, y, pred = _costed_pairs(prediction, target, cost_matrix, ignore_index)
    if y.numel() == 0:
        return torch.zeros((), dtype=k.dtype)
    return k.to(y.device)[y, pred].mean()


def mistake_severity(prediction: Tensor, target: Tensor, cost_matrix: Tensor, *, ignore_index: int = -100) -> Tensor:
    """The mean cost of the mistakes only: ``mean_{i: pred_i != y_i} cost[y_i, pred_i]``.

    With a hierarchy distance (:func:`hierarchy_distance_matrix`, LCA height) as ``cost_matrix`` this is the
    "mistake severity" of Bertinetto et al., "Making Better Mistakes", CVPR 2020. Returns 0 when there
    is no mistake (report it next to :func:`top1_accuracy`, which tells how many mistakes there are).

    Args:
        prediction: class indices (shape of target) or scores (N, C, ...) reduced by argmax.
        target: int class indices.
        cost_matrix: (C, C) ``cost[true, predicted]``.
        ignore_index: target value to leave out.

    Returns:
        0-d float tensor.

    Example:
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> mistake_severity(torch.tensor([1, 1, 0]), torch.tensor([0, 1, 2]), cost)   # (1 + 4) / 2
        tensor(2.5000)
    """
    k, y, pred = _costed_pairs(prediction, target, cost_matrix, ignore_index)
    wrong = pred != y
    if not bool(wrong.any()):
        return torch.zeros((), dtype=k.dtype)
    return k.to(y.device)[y[wrong], pred[wrong]].mean()


def hierarchical_distance_at_k(
    scores: Tensor, target: Tensor, distance_matrix: Tensor, *, k: int = 5, ignore_index: int = -100
) -> Tensor:
    """Average distance between the true class and each of the k highest-scoring classes.

    ``mean_i (1/k) sum_{j in topk(scores_i)} D[y_i, j]`` (the true class counts with distance 0 when it
    is among the top k): the "average hierarchical distance@k" of Bertinetto et al., "Making Better
    Mistakes", CVPR 2020.

    Args:
        scores: logits or probabilities (N, C), (N, C, d1, ...) or (C,).
        target: int class indices of the scores' shape without the class dim.
        distance_matrix: (C, C) distances ``D[true, predicted]`` (e.g. :func:`hierarchy_distance_matrix`).
        k: 1 <= k <= C.
        ignore_index: target value to leave out.

    Returns:
        0-d float tensor (0 when there is no element).

    Example:
        >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
        >>> hierarchical_distance_at_k(torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([2]), d, k=2)
        tensor(2.)
    """
    dist = _cost(distance_matrix, "distance_matrix")
    flat = _flat_scores(scores, target)
    c = flat.shape[-1]
    if c != dist.shape[0]:
        raise ValueError(f"distance_matrix is {dist.shape[0]} x {dist.shape[0]} but scores have {c} classes")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= c:
        raise ValueError(f"k must be an int in [1, {c}], got {k!r}")
    y = target.reshape(-1)
    keep = y != ignore_index
    y, flat = y[keep], flat[keep]
    _check_range(y, c, "target")
    if y.numel() == 0:
        return torch.zeros((), dtype=dist.dtype)
    top = flat.topk(k, dim=-1).indices
    return dist.to(y.device)[y.unsqueeze(-1), top].mean()


def expected_costs(input: Tensor, cost_matrix: Tensor) -> Tensor:
    """The expected cost of predicting each class: ``R_j = sum_k p_k * cost[k, j]``, ``p = softmax(input)``.

    Args:
        input: logits (N, C), (N, C, d1, ...) or (C,).
        cost_matrix: (C, C) ``cost[true, predicted]``.

    Returns:
        Tensor of the input's shape (class dim in place): ``R[..., j, ...]`` is the risk of predicting j.

    Example:
        >>> cost = torch.tensor([[0.0, 1.0], [5.0, 0.0]])
        >>> expected_costs(torch.tensor([[0.0, 0.0]]), cost)
        tensor([[2.5000, 0.5000]])
    """
    k = _cost(cost_matrix, "cost_matrix")
    if not isinstance(input, Tensor) or not input.dtype.is_floating_point:
        raise TypeError("input must be a floating tensor of logits")
    cd = _class_dim(input)
    if input.shape[cd] != k.shape[0]:
        raise ValueError(f"cost_matrix is {k.shape[0]} x {k.shape[0]} but input has {input.shape[cd]} classes")
    p = torch.softmax(input.detach().to(torch.float64), dim=cd).movedim(cd, -1)
    risk = p @ k.to(device=input.device, dtype=torch.float64)
    return risk.movedim(-1, cd).to(torch.promote_types(input.dtype, torch.float32))


def min_expected_cost_prediction(input: Tensor, cost_matrix: Tensor) -> Tensor:
    """The Bayes decision: the class with the smallest expected cost, ``argmin_j sum_k p_k cost[k, j]``.

    With ``cost = 1 - I`` (0-1 loss) this is :func:`argmax_prediction`. Note the index order: ``cost`` is
    ``cost[true, predicted]``, so the sum runs over the *first* index (true class ``k``) for a fixed
    decision ``j``.

    Args:
        input: logits (N, C), (N, C, d1, ...) or (C,).
        cost_matrix: (C, C) ``cost[true, predicted]``.

    Returns:
        int64 class indices of the input's shape without the class dim.

    Example:
        >>> cost = torch.tensor([[0.0, 1.0], [5.0, 0.0]])   # missing class 1 is 5x worse
        >>> logits = torch.log(torch.tensor([[0.7, 0.3]]))
        >>> argmax_prediction(logits), min_expected_cost_prediction(logits, cost)
        (tensor([0]), tensor([1]))
    """
    risk = expected_costs(input, cost_matrix)
    return risk.argmin(dim=_class_dim(input))


def argmax_prediction(input: Tensor) -> Tensor:
    """The most probable class: ``argmax_j input_j`` over the class dim (1 for >= 2 dims, 0 for 1-D).

    Args:
        input: logits or probabilities (N, C), (N, C, d1, ...) or (C,).

    Returns:
        int64 class indices of the input's shape without the class dim.

    Example:
        >>> argmax_prediction(torch.tensor([[0.1, 2.0, 0.3]]))
        tensor([1])
    """
    if not isinstance(input, Tensor):
        raise TypeError("input must be a tensor")
    return input.detach().argmax(dim=_class_dim(input))
