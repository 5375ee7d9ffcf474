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
    """The class dim: 1 for >= 2 dims, 0 for 1-D; ValueError for a 0-d tensor."""
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


def _check_target(target: Tensor, ignore_index: int) -> None:
    """TypeError unless ``target`` is an integer tensor of class indices and ``ignore_index`` an int."""
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be an integer tensor of class indices, got {type(target).__name__}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise TypeError(f"target must be an integer tensor of class indices, got dtype {target.dtype}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__} {ignore_index!r}")


def _predictions(prediction: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    """Flat (M,) predicted indices from indices or scores."""
    _check_target(target, ignore_index)
    if not isinstance(prediction, Tensor):
        raise TypeError(
            f"prediction must be a tensor (integer class indices or floating scores), got {type(prediction).__name__}"
        )
    if prediction.dtype.is_complex or prediction.dtype == torch.bool:
        raise TypeError(f"prediction must be integer class indices or floating scores, got dtype {prediction.dtype}")
    if prediction.dtype.is_floating_point:
        return _flat_scores(prediction, target).argmax(-1)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction indices shape {tuple(prediction.shape)} differs from target shape {tuple(target.shape)}"
        )
    return prediction.reshape(-1)


def _cost(cost_matrix: Tensor, name: str) -> Tensor:
    """The cost matrix as a finite square floating tensor (TypeError / ValueError otherwise)."""
    m = as_float_matrix(cost_matrix, name)
    check_finite(m, name)
    return m


def _check_range(values: Tensor, num_classes: int, what: str) -> None:
    """Raise ValueError naming the first index outside ``0..num_classes-1``."""
    bad = (values < 0) | (values >= num_classes)
    if bool(bad.any()):
        raise ValueError(f"{what} index {int(values[bad][0])} is out of range for {num_classes} classes")


def _costed_pairs(
    prediction: Tensor, target: Tensor, cost_matrix: Tensor, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(cost matrix, true, predicted) over the non-ignored elements, both index vectors range-checked."""
    k = _cost(cost_matrix, "cost_matrix")
    pred = _predictions(prediction, target, ignore_index)
    y = target.reshape(-1)
    keep = y != ignore_index
    y, pred = y[keep], pred[keep]
    _check_range(y, k.shape[0], "target")
    _check_range(pred, k.shape[0], "prediction")
    return k, y, pred


def top1_accuracy(prediction: Tensor, target: Tensor, *, ignore_index: int = -100) -> Tensor:
    r"""Return the fraction of (non-ignored) elements whose predicted class is the target.

    .. math::
        \mathrm{acc} = \frac{1}{|V|} \sum_{i \in V} [\mathrm{pred}_i = y_i], \qquad V = \{i : y_i \ne \texttt{ignore\_index}\}

    0 when there is no element.

    Args:
        prediction: class indices shaped as ``target`` (integer), or scores ``(N, C)``,
            ``(N, C, d_1, ..., d_K)`` or ``(C,)`` (floating) reduced by argmax over the class dim.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype.
        ignore_index: target value to leave out. Default -100.

    Returns:
        0-d float32 tensor in [0, 1].

    Raises:
        TypeError: if ``prediction`` is not a tensor or has a bool/complex dtype, ``target`` is not an
            integer tensor, or ``ignore_index`` is not an int.
        ValueError: if ``prediction``'s shape does not match ``target`` (indices: the same shape; scores:
            ``target``'s shape plus the class dim), or scores are 0-d.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import top1_accuracy
        >>> top1_accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 1, 1]))
        tensor(0.6667)
    """
    pred = _predictions(prediction, target, ignore_index)
    y = target.reshape(-1)
    keep = y != ignore_index
    n = int(keep.sum())
    if n == 0:
        return torch.zeros((), dtype=torch.float32)
    return (pred[keep] == y[keep]).sum().to(torch.float32) / n


def average_cost(prediction: Tensor, target: Tensor, cost_matrix: Tensor, *, ignore_index: int = -100) -> Tensor:
    r"""Return the mean cost ``cost[y_i, pred_i]`` over all (non-ignored) elements, correct ones included.

    .. math::
        \bar K = \frac{1}{|V|} \sum_{i \in V} K[y_i, \mathrm{pred}_i]

    This is the empirical risk that :func:`min_expected_cost_prediction` minimises in expectation.

    Args:
        prediction: class indices shaped as ``target`` (integer), or scores ``(N, C, ...)`` / ``(C,)``
            (floating) reduced by argmax over the class dim.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype.
        cost_matrix: ``cost[true, predicted]``, shape ``(C, C)``, finite.
        ignore_index: target value to leave out. Default -100.

    Returns:
        0-d tensor of the cost matrix's floating dtype (float32 for an integer matrix); 0 when there is no
        element.

    Raises:
        TypeError: if ``prediction`` is not a tensor or has a bool/complex dtype, ``target`` is not an
            integer tensor, ``ignore_index`` is not an int, or ``cost_matrix`` is not a real tensor / nested
            sequence.
        ValueError: if the shapes do not match, ``cost_matrix`` is not square or has a NaN/inf entry, or a
            (non-ignored) target or predicted index is outside ``0..C-1``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import average_cost
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> average_cost(torch.tensor([1, 1, 0]), torch.tensor([0, 1, 2]), cost)  # (1 + 0 + 4) / 3
        tensor(1.6667)

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    k, y, pred = _costed_pairs(prediction, target, cost_matrix, ignore_index)
    if y.numel() == 0:
        return torch.zeros((), dtype=k.dtype)
    return k.to(y.device)[y, pred].mean()


def mistake_severity(prediction: Tensor, target: Tensor, cost_matrix: Tensor, *, ignore_index: int = -100) -> Tensor:
    r"""Return the mean cost of the mistakes only.

    .. math::
        \mathrm{severity} = \frac{1}{|M|} \sum_{i \in M} K[y_i, \mathrm{pred}_i], \qquad
        M = \{i \in V : \mathrm{pred}_i \ne y_i\}

    With a hierarchy distance (:func:`hierarchy_distance_matrix`, LCA height) as ``cost_matrix`` this is the
    "mistake severity" of Bertinetto et al. (2020). Returns 0 when there is no mistake (report it next
    to :func:`top1_accuracy`, which tells how many mistakes there are).

    Args:
        prediction: class indices shaped as ``target`` (integer), or scores ``(N, C, ...)`` / ``(C,)``
            (floating) reduced by argmax over the class dim.
        target: class indices, shape ``(N,)``, ``(N, d_1, ..., d_K)`` or ``()``, integer dtype.
        cost_matrix: ``cost[true, predicted]``, shape ``(C, C)``, finite.
        ignore_index: target value to leave out. Default -100.

    Returns:
        0-d tensor of the cost matrix's floating dtype; 0 when there is no mistake.

    Raises:
        TypeError: if ``prediction`` is not a tensor or has a bool/complex dtype, ``target`` is not an
            integer tensor, ``ignore_index`` is not an int, or ``cost_matrix`` is not a real tensor / nested
            sequence.
        ValueError: if the shapes do not match, ``cost_matrix`` is not square or has a NaN/inf entry, or a
            (non-ignored) target or predicted index is outside ``0..C-1``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import mistake_severity
        >>> cost = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [4.0, 4.0, 0.0]])
        >>> mistake_severity(torch.tensor([1, 1, 0]), torch.tensor([0, 1, 2]), cost)  # (1 + 4) / 2
        tensor(2.5000)

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
    """
    k, y, pred = _costed_pairs(prediction, target, cost_matrix, ignore_index)
    wrong = pred != y
    if not bool(wrong.any()):
        return torch.zeros((), dtype=k.dtype)
    return k.to(y.device)[y[wrong], pred[wrong]].mean()


def hierarchical_distance_at_k(
    scores: Tensor, target: Tensor, distance_matrix: Tensor, *, k: int = 5, ignore_index: int = -100
) -> Tensor:
    r"""Return the average distance between the true class and each of the ``k`` highest-scoring classes.

    .. math::
        \frac{1}{|V|} \sum_{i \in V} \frac{1}{k} \sum_{j \in \operatorname{top}_k(s_i)} D[y_i, j]

    The true class counts with distance 0 when it is among the top ``k``: this is the "average
    hierarchical distance@k" of Bertinetto et al. (2020).

    Args:
        scores: logits or probabilities, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``, floating.
        target: class indices, the scores' shape without the class dim.
        distance_matrix: distances ``D[true, predicted]``, shape ``(C, C)``, finite (e.g.
            :func:`hierarchy_distance_matrix`).
        k: ``1 <= k <= C``. Default 5.
        ignore_index: target value to leave out. Default -100.

    Returns:
        0-d tensor of the distance matrix's floating dtype; 0 when there is no element.

    Raises:
        TypeError: if ``scores`` is not a floating tensor, ``target`` is not an integer tensor,
            ``distance_matrix`` is not a real tensor / nested sequence, or ``k`` or ``ignore_index`` is not
            an int.
        ValueError: if ``scores`` is 0-d, ``target``'s shape does not match, ``distance_matrix`` is not
            square, has a NaN/inf entry or does not have ``C`` classes, ``k`` is not in ``[1, C]``, or a
            (non-ignored) target is outside ``0..C-1``.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import hierarchical_distance_at_k
        >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
        >>> scores = torch.tensor([[3.0, 2.0, 1.0]])  # top-2 = {0, 1}
        >>> hierarchical_distance_at_k(scores, torch.tensor([2]), d, k=2)  # (D[2, 0] + D[2, 1]) / 2
        tensor(2.)
        >>> hierarchical_distance_at_k(scores, torch.tensor([1]), d, k=2)  # (D[1, 0] + D[1, 1]) / 2
        tensor(0.5000)

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
    """
    dist = _cost(distance_matrix, "distance_matrix")
    _check_target(target, ignore_index)
    flat = _flat_scores(scores, target)
    c = flat.shape[-1]
    if c != dist.shape[0]:
        raise ValueError(f"distance_matrix is {dist.shape[0]} x {dist.shape[0]} but scores have {c} classes")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int in [1, {c}], got {type(k).__name__} {k!r}")
    if not 1 <= k <= c:
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
    r"""Return the expected cost of predicting each class under ``p = softmax(input)``.

    .. math::
        R_j = \sum_k p_k\, K[k, j]

    (the sum runs over the *true* class ``k``, the first index of ``cost[true, predicted]``).
    Computed in float64, without gradients.

    Args:
        input: logits, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``, floating.
        cost_matrix: ``cost[true, predicted]``, shape ``(C, C)``, finite.

    Returns:
        Tensor of the input's shape (class dim in place): ``R[..., j, ...]`` is the risk of predicting
        ``j``; float32, or float64 for a float64 input.

    Raises:
        TypeError: if ``input`` is not a floating tensor, or ``cost_matrix`` is not a real tensor / nested
            sequence.
        ValueError: if ``input`` is 0-d, or ``cost_matrix`` is not square, has a NaN/inf entry or does not
            have ``C`` classes.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import expected_costs
        >>> cost = torch.tensor([[0.0, 1.0], [5.0, 0.0]])
        >>> expected_costs(torch.tensor([[0.0, 0.0]]), cost)  # p = [0.5, 0.5]: [0.5 * 5, 0.5 * 1]
        tensor([[2.5000, 0.5000]])

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
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
    r"""Return the Bayes decision: the class with the smallest expected cost under ``p = softmax(input)``.

    .. math::
        \hat y = \arg\min_j \sum_k p_k\, K[k, j]

    With ``cost = 1 - I`` (0-1 loss) this is :func:`argmax_prediction`. Note the index order: ``cost`` is
    ``cost[true, predicted]``, so the sum runs over the *first* index (true class ``k``) for a fixed
    decision ``j``.

    Args:
        input: logits, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``, floating.
        cost_matrix: ``cost[true, predicted]``, shape ``(C, C)``, finite.

    Returns:
        int64 class indices of the input's shape without the class dim.

    Raises:
        TypeError: as :func:`expected_costs`.
        ValueError: as :func:`expected_costs`.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import argmax_prediction, min_expected_cost_prediction
        >>> cost = torch.tensor([[0.0, 1.0], [5.0, 0.0]])  # missing class 1 is 5x worse
        >>> logits = torch.log(torch.tensor([[0.7, 0.3]]))  # risks: [0.3 * 5, 0.7 * 1] = [1.5, 0.7]
        >>> argmax_prediction(logits), min_expected_cost_prediction(logits, cost)
        (tensor([0]), tensor([1]))

    References:
        - C. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    risk = expected_costs(input, cost_matrix)
    return risk.argmin(dim=_class_dim(input))


def argmax_prediction(input: Tensor) -> Tensor:
    r"""Return the most probable class: the argmax over the class dim (1 for >= 2 dims, 0 for 1-D).

    .. math::
        \hat y = \arg\max_j \; \mathrm{input}_j

    Args:
        input: logits or probabilities, shape ``(N, C)``, ``(N, C, d_1, ..., d_K)`` or ``(C,)``.

    Returns:
        int64 class indices of the input's shape without the class dim.

    Raises:
        TypeError: if ``input`` is not a tensor.
        ValueError: if ``input`` is 0-d.

    Example:
        >>> import torch
        >>> from infoloss.bespoke import argmax_prediction
        >>> argmax_prediction(torch.tensor([[0.1, 2.0, 0.3]]))
        tensor([1])
    """
    if not isinstance(input, Tensor):
        raise TypeError("input must be a tensor")
    return input.detach().argmax(dim=_class_dim(input))
