"""Builders of C x C target (soft-label) matrices, and their validation.

A *target matrix* ``T`` is row-stochastic: row ``y`` is the soft label used for an element whose true
class is ``y`` (``T[y, j]`` is the probability mass put on class ``j``). A *cost matrix* ``K`` is
indexed ``K[true, predicted]``; it is finite and non-negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from infoloss.bespoke._checks import (
    ROW_SUM_ATOL,
    as_float_matrix,
    check_finite,
    check_non_negative,
    check_positive,
)

__all__ = [
    "label_smoothing_matrix",
    "target_matrix_from_distances",
    "target_matrix_from_groups",
    "target_matrix_from_similarities",
    "validate_cost_matrix",
    "validate_target_matrix",
]


def validate_target_matrix(
    matrix: Tensor | Sequence[Sequence[float]], *, name: str = "target_matrix", atol: float = ROW_SUM_ATOL
) -> Tensor:
    """Check that ``matrix`` is a C x C row-stochastic matrix and return it as a floating tensor.

    Requires ``T[y, j] >= 0``, all finite, and ``|sum_j T[y, j] - 1| <= atol`` for every row ``y``.

    Args:
        matrix: (C, C) tensor or nested sequence; integer input is converted to float32.
        name: the argument name used in error messages.
        atol: tolerance on each row sum.

    Returns:
        The matrix as a detached (C, C) floating tensor (same dtype if already floating).

    Raises:
        TypeError: not a tensor / nested sequence of real numbers.
        ValueError: not square, a NaN/inf or negative entry (the message gives the entry), or a row
            whose sum is off (the message gives the row and its sum).

    Example:
        >>> validate_target_matrix([[0.8, 0.2], [0.3, 0.7]])
        tensor([[0.8000, 0.2000],
                [0.3000, 0.7000]])
    """
    m = as_float_matrix(matrix, name)
    check_finite(m, name)
    check_non_negative(m, name)
    sums = m.sum(dim=1, dtype=torch.float64)
    off = (sums - 1.0).abs() > atol
    if bool(off.any()):
        row = int(off.nonzero()[0, 0])
        raise ValueError(
            f"{name} must be row-stochastic (each row sums to 1 within {atol:g}); "
            f"row {row} sums to {sums[row].item():.6g}"
        )
    return m


def validate_cost_matrix(
    matrix: Tensor | Sequence[Sequence[float]], *, name: str = "cost_matrix", ignore_diagonal: bool = False
) -> Tensor:
    """Check that ``matrix`` is a finite, non-negative C x C cost matrix ``K[true, predicted]``.

    Args:
        matrix: (C, C) tensor or nested sequence; integer input is converted to float32.
        name: the argument name used in error messages.
        ignore_diagonal: skip the sign check on the diagonal (for losses that never read it).

    Returns:
        The matrix as a detached (C, C) floating tensor.

    Raises:
        TypeError: not a tensor / nested sequence of real numbers.
        ValueError: not square, or a NaN/inf or negative entry (the message gives the entry).

    Example:
        >>> validate_cost_matrix([[0, 1], [3, 0]])
        tensor([[0., 1.],
                [3., 0.]])
    """
    m = as_float_matrix(matrix, name)
    check_finite(m, name)
    check_non_negative(m, name, ignore_diagonal=ignore_diagonal)
    return m


def label_smoothing_matrix(num_classes: int, eps: float, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The label-smoothing target matrix: the true class keeps ``1 - eps``, plus ``eps / C`` on every class.

    ``T = (1 - eps) * I + eps / C * 1 1^T`` (so ``T[y, y] = 1 - eps + eps / C``), which makes
    ``SimilarityCrossEntropyLoss(label_smoothing_matrix(C, eps))`` equal to
    ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)``.

    Args:
        num_classes: C >= 1.
        eps: smoothing in [0, 1].
        dtype: floating dtype of the result.

    Returns:
        (C, C) row-stochastic tensor.

    Example:
        >>> label_smoothing_matrix(3, 0.3)
        tensor([[0.8000, 0.1000, 0.1000],
                [0.1000, 0.8000, 0.1000],
                [0.1000, 0.1000, 0.8000]])

    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
    """
    _check_num_classes(num_classes)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0.0 <= eps <= 1.0):
        raise ValueError(f"eps must be a number in [0, 1], got {eps!r}")
    eye = torch.eye(num_classes, dtype=torch.float64)
    return ((1.0 - eps) * eye + eps / num_classes).to(dtype)


def target_matrix_from_distances(
    distance: Tensor | Sequence[Sequence[float]], *, temperature: float = 1.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Soft labels from a class-distance matrix: a row softmax of ``-distance / temperature``.

    ``T[y, j] = exp(-D[y, j] / t) / sum_k exp(-D[y, k] / t)``. Close classes (small ``D``) get more mass;
    ``t -> 0`` gives one-hot rows when ``D`` has a zero diagonal and positive off-diagonal entries.
    With a tree distance and ``t = 1 / beta`` these are the soft labels of Bertinetto et al.,
    "Making Better Mistakes", CVPR 2020.

    Args:
        distance: (C, C) finite, non-negative distances (``D[y, j]``: how far class ``j`` is from ``y``).
        temperature: t > 0.
        dtype: floating dtype of the result.

    Returns:
        (C, C) row-stochastic tensor.

    Example:
        >>> target_matrix_from_distances([[0.0, 1.0], [1.0, 0.0]], temperature=1.0)
        tensor([[0.7311, 0.2689],
                [0.2689, 0.7311]])
    """
    t = check_positive(temperature, "temperature")
    d = as_float_matrix(distance, "distance").to(torch.float64)
    check_finite(d, "distance")
    check_non_negative(d, "distance")
    return torch.softmax(-d / t, dim=1).to(dtype)


def target_matrix_from_similarities(
    similarity: Tensor | Sequence[Sequence[float]], *, temperature: float = 1.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Soft labels from a class-similarity matrix: a row softmax of ``similarity / temperature``.

    ``T[y, j] = exp(S[y, j] / t) / sum_k exp(S[y, k] / t)``. Similar classes (large ``S``) get more mass;
    e.g. ``S`` can be cosine similarities of class embeddings (with ``S[y, y] = 1``).

    Args:
        similarity: (C, C) finite similarities (any sign).
        temperature: t > 0.
        dtype: floating dtype of the result.

    Returns:
        (C, C) row-stochastic tensor.

    Example:
        >>> target_matrix_from_similarities([[1.0, 0.0], [0.0, 1.0]], temperature=0.5)
        tensor([[0.8808, 0.1192],
                [0.1192, 0.8808]])
    """
    t = check_positive(temperature, "temperature")
    s = as_float_matrix(similarity, "similarity").to(torch.float64)
    check_finite(s, "similarity")
    return torch.softmax(s / t, dim=1).to(dtype)


def target_matrix_from_groups(
    groups: Sequence[Sequence[int | str]],
    num_classes: int | None = None,
    *,
    keep: float | Sequence[float] = 0.9,
    classes: Sequence[str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Soft labels from groups of interchangeable classes: the true class keeps ``keep``, its group the rest.

    For a class ``y`` in a group ``G`` with ``|G| > 1``: ``T[y, y] = keep_y`` and
    ``T[y, j] = (1 - keep_y) / (|G| - 1)`` for the other ``j`` in ``G``; 0 outside ``G``. A class in no
    group (or in a singleton group) gets a one-hot row.

    Args:
        groups: disjoint groups of class indices, or of class names when ``classes`` is given.
        num_classes: C; defaults to ``len(classes)``.
        keep: mass kept on the true class, in [0, 1]: one number, or one per class (length C).
        classes: class names in class-index order (needed when ``groups`` holds names).
        dtype: floating dtype of the result.

    Returns:
        (C, C) row-stochastic tensor.

    Example (the horse / zebra / whale / shark rows of the PyTorch-forum answer):
        >>> target_matrix_from_groups([["horse", "zebra"], ["whale", "shark"]], keep=[0.8, 0.7, 0.9, 0.9],
        ...                           classes=["horse", "zebra", "whale", "shark"])
        tensor([[0.8000, 0.2000, 0.0000, 0.0000],
                [0.3000, 0.7000, 0.0000, 0.0000],
                [0.0000, 0.0000, 0.9000, 0.1000],
                [0.0000, 0.0000, 0.1000, 0.9000]])
    """
    if num_classes is None:
        if classes is None:
            raise ValueError("target_matrix_from_groups needs num_classes or classes")
        num_classes = len(classes)
    _check_num_classes(num_classes)
    if classes is not None and len(classes) != num_classes:
        raise ValueError(f"classes has {len(classes)} names but num_classes is {num_classes}")
    keeps = _per_class(keep, num_classes, "keep")
    index_groups = [_group_indices(g, num_classes, classes) for g in groups]
    owner: dict[int, int] = {}
    for gi, g in enumerate(index_groups):
        if len(set(g)) != len(g):
            raise ValueError(f"group {gi} lists a class twice: {list(groups[gi])!r}")
        for c in g:
            if c in owner:
                raise ValueError(f"groups must be disjoint; class {c} is in group {owner[c]} and group {gi}")
            owner[c] = gi
    t = torch.eye(num_classes, dtype=torch.float64)
    for g in index_groups:
        if len(g) < 2:
            continue
        for y in g:
            for j in g:
                t[y, j] = keeps[y] if j == y else (1.0 - keeps[y]) / (len(g) - 1)
    return t.to(dtype)


def _check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")


def _per_class(value: float | Sequence[float], num_classes: int, name: str) -> list[float]:
    values = [value] * num_classes if isinstance(value, (int, float)) else list(value)
    if len(values) != num_classes:
        raise ValueError(f"{name} must be one number or {num_classes} numbers (one per class), got {len(values)}")
    for c, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must lie in [0, 1]; class {c} has {v!r}")
    return [float(v) for v in values]


def _group_indices(group: Sequence[int | str], num_classes: int, classes: Sequence[str] | None) -> list[int]:
    if isinstance(group, str):
        raise TypeError(f"each group must be a sequence of classes, got the string {group!r}")
    out = []
    for c in group:
        if isinstance(c, str):
            if classes is None:
                raise ValueError(f"group member {c!r} is a class name; pass classes=[...] to resolve names")
            if c not in classes:
                raise ValueError(f"unknown class name {c!r} in groups; known classes: {list(classes)}")
            out.append(list(classes).index(c))
        elif isinstance(c, int) and not isinstance(c, bool):
            if not 0 <= c < num_classes:
                raise ValueError(f"class index {c} in groups is out of range for {num_classes} classes")
            out.append(c)
        else:
            raise TypeError(f"group members must be class indices or names, got {c!r}")
    return out
