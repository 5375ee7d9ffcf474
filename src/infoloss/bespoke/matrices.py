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
    float_dtype,
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
    r"""Check that ``matrix`` is a ``C x C`` row-stochastic matrix and return it as a floating tensor.

    .. math::
        T_{yj} \ge 0, \qquad T_{yj} \text{ finite}, \qquad \Bigl|\sum_j T_{yj} - 1\Bigr| \le \text{atol}
        \quad \text{for every row } y

    Args:
        matrix: soft labels ``T[true, j]``, shape ``(C, C)``: a tensor or a nested sequence of numbers;
            integer input is converted to float32.
        name: the argument name used in error messages. Default ``'target_matrix'``.
        atol: tolerance on each row sum. Default 1e-4.

    Returns:
        The matrix as a detached ``(C, C)`` floating tensor (same dtype if it already is floating).

    Raises:
        TypeError: if ``matrix`` is not a tensor or a nested sequence of real numbers (bool and complex
            tensors included).
        ValueError: if it is not square, has no class, has a NaN/inf or negative entry (the message gives
            the entry), or has a row whose sum is off by more than ``atol`` (the message gives the row and
            its sum).

    Example:
        >>> from infoloss.bespoke import validate_target_matrix
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
    r"""Check that ``matrix`` is a finite, non-negative ``C x C`` cost matrix ``K[true, predicted]``.

    .. math::
        K_{yj} \ge 0 \text{ and finite for every } y, j \quad (j \ne y \text{ only, if } \texttt{ignore\_diagonal})

    Args:
        matrix: costs ``K[true, predicted]``, shape ``(C, C)``: a tensor or a nested sequence of numbers;
            integer input is converted to float32.
        name: the argument name used in error messages. Default ``'cost_matrix'``.
        ignore_diagonal: skip the sign check on the diagonal (for losses that never read it).
            Default False.

    Returns:
        The matrix as a detached ``(C, C)`` floating tensor.

    Raises:
        TypeError: if ``matrix`` is not a tensor or a nested sequence of real numbers.
        ValueError: if it is not square, has no class, or has a NaN/inf or (checked) negative entry (the
            message gives the entry).

    Example:
        >>> from infoloss.bespoke import validate_cost_matrix
        >>> validate_cost_matrix([[0, 1], [3, 0]])
        tensor([[0., 1.],
                [3., 0.]])
    """
    m = as_float_matrix(matrix, name)
    check_finite(m, name)
    check_non_negative(m, name, ignore_diagonal=ignore_diagonal)
    return m


def label_smoothing_matrix(num_classes: int, eps: float, *, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Build the label-smoothing target matrix: the true class keeps ``1 - eps``, plus ``eps / C`` on every class.

    .. math::
        T = (1 - \varepsilon) I + \frac{\varepsilon}{C} \mathbf{1}\mathbf{1}^\top, \qquad
        T_{yy} = 1 - \varepsilon + \varepsilon / C

    so ``SimilarityCrossEntropyLoss(label_smoothing_matrix(C, eps))`` equals
    ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)``.

    Args:
        num_classes: ``C >= 1``.
        eps: smoothing in [0, 1].
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` row-stochastic tensor (built in float64, then cast to ``dtype``).

    Raises:
        TypeError: if ``eps`` is not a number (a bool included), ``num_classes`` is not an int, or ``dtype``
            is not a floating dtype.
        ValueError: if ``num_classes`` is < 1, or ``eps`` is not in [0, 1] (NaN included).

    Example:
        >>> from infoloss.bespoke import label_smoothing_matrix
        >>> label_smoothing_matrix(3, 0.3)
        tensor([[0.8000, 0.1000, 0.1000],
                [0.1000, 0.8000, 0.1000],
                [0.1000, 0.1000, 0.8000]])

    References:
        - C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
          https://arxiv.org/abs/1512.00567
    """
    _check_num_classes(num_classes)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a number in [0, 1], got {type(eps).__name__} {eps!r}")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be a number in [0, 1], got {eps!r}")
    eye = torch.eye(num_classes, dtype=torch.float64)
    return ((1.0 - eps) * eye + eps / num_classes).to(float_dtype(dtype))


def target_matrix_from_distances(
    distance: Tensor | Sequence[Sequence[float]], *, temperature: float = 1.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Build soft labels from a class-distance matrix: a row softmax of ``-distance / temperature``.

    .. math::
        T_{yj} = \frac{\exp(-D_{yj} / t)}{\sum_k \exp(-D_{yk} / t)}

    Close classes (small ``D``) get more mass; ``t -> 0`` gives one-hot rows when ``D`` has a zero
    diagonal and positive off-diagonal entries. With a tree distance and ``t = 1 / beta`` these are the
    soft labels of Bertinetto et al. (2020); see also :func:`hierarchy_target_matrix`.

    Args:
        distance: distances ``D[y, j]`` (how far class ``j`` is from ``y``), shape ``(C, C)``, finite and
            non-negative; a tensor or a nested sequence.
        temperature: ``t > 0``. Default 1.0.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` row-stochastic tensor (computed in float64, then cast to ``dtype``).

    Raises:
        TypeError: if ``temperature`` is not a number, ``distance`` is not a tensor or a nested sequence
            of real numbers, or ``dtype`` is not a floating dtype.
        ValueError: if ``temperature`` is not finite and > 0, or ``distance`` is not square, has no class,
            or has a NaN/inf or negative entry.

    Example:
        >>> from infoloss.bespoke import target_matrix_from_distances
        >>> target_matrix_from_distances([[0.0, 1.0], [1.0, 0.0]], temperature=1.0)  # e^0, e^-1 normalized
        tensor([[0.7311, 0.2689],
                [0.2689, 0.7311]])

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
    """
    t = check_positive(temperature, "temperature")
    d = as_float_matrix(distance, "distance").to(torch.float64)
    check_finite(d, "distance")
    check_non_negative(d, "distance")
    return torch.softmax(-d / t, dim=1).to(float_dtype(dtype))


def target_matrix_from_similarities(
    similarity: Tensor | Sequence[Sequence[float]], *, temperature: float = 1.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Build soft labels from a class-similarity matrix: a row softmax of ``similarity / temperature``.

    .. math::
        T_{yj} = \frac{\exp(S_{yj} / t)}{\sum_k \exp(S_{yk} / t)}

    Similar classes (large ``S``) get more mass; e.g. ``S`` can be cosine similarities of class
    embeddings (with ``S[y, y] = 1``).

    Args:
        similarity: similarities ``S[y, j]``, shape ``(C, C)``, finite (any sign); a tensor or a nested
            sequence.
        temperature: ``t > 0``. Default 1.0.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` row-stochastic tensor (computed in float64, then cast to ``dtype``).

    Raises:
        TypeError: if ``temperature`` is not a number, ``similarity`` is not a tensor or a nested
            sequence of real numbers, or ``dtype`` is not a floating dtype.
        ValueError: if ``temperature`` is not finite and > 0, or ``similarity`` is not square, has no class,
            or has a NaN/inf entry.

    Example:
        >>> from infoloss.bespoke import target_matrix_from_similarities
        >>> target_matrix_from_similarities([[1.0, 0.0], [0.0, 1.0]], temperature=0.5)  # softmax([2, 0])
        tensor([[0.8808, 0.1192],
                [0.1192, 0.8808]])
    """
    t = check_positive(temperature, "temperature")
    s = as_float_matrix(similarity, "similarity").to(torch.float64)
    check_finite(s, "similarity")
    return torch.softmax(s / t, dim=1).to(float_dtype(dtype))


def target_matrix_from_groups(
    groups: Sequence[Sequence[int | str]],
    num_classes: int | None = None,
    *,
    keep: float | Sequence[float] = 0.9,
    classes: Sequence[str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Build soft labels from groups of interchangeable classes: the true class keeps ``keep``, its group the rest.

    For a class ``y`` in a group ``G`` with ``|G| > 1``:

    .. math::
        T_{yy} = \mathrm{keep}_y, \qquad T_{yj} = \frac{1 - \mathrm{keep}_y}{|G| - 1} \ (j \in G,\ j \ne y),
        \qquad T_{yj} = 0 \ (j \notin G)

    A class in no group (or in a singleton group) gets a one-hot row.

    Args:
        groups: disjoint groups of class indices, or of class names when ``classes`` is given.
        num_classes: ``C``. Default None: ``len(classes)``.
        keep: mass kept on the true class, in [0, 1]: one number, or one per class (length ``C``).
            Default 0.9.
        classes: class names in class-index order (needed when ``groups`` holds names). Default None.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` row-stochastic tensor.

    Raises:
        ValueError: if neither ``num_classes`` nor ``classes`` is given, ``num_classes`` is not an int >= 1
            or differs from ``len(classes)``, ``keep`` has the wrong length or a value outside [0, 1], a
            group lists a class twice, the groups overlap, a name is unknown (or given without
            ``classes``), or an index is outside ``0..C-1``.
        TypeError: if a group is a single str, or a member is neither an int nor a str.

    Example:
        >>> from infoloss.bespoke import target_matrix_from_groups
        >>> target_matrix_from_groups(
        ...     [["horse", "zebra"], ["whale", "shark"]],
        ...     keep=[0.8, 0.7, 0.9, 0.9],
        ...     classes=["horse", "zebra", "whale", "shark"],
        ... )
        tensor([[0.8000, 0.2000, 0.0000, 0.0000],
                [0.3000, 0.7000, 0.0000, 0.0000],
                [0.0000, 0.0000, 0.9000, 0.1000],
                [0.0000, 0.0000, 0.1000, 0.9000]])

    References:
        - "Bespoke Cross Entropy Loss", PyTorch Forums (the four-animal matrix above).
          https://discuss.pytorch.org/t/bespoke-cross-entropy-loss/86622
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
    return t.to(float_dtype(dtype))


def _check_num_classes(num_classes: int) -> None:
    """Raise TypeError unless ``num_classes`` is an int, ValueError unless it is >= 1."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an int >= 1, got {type(num_classes).__name__} {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")


def _per_class(value: float | Sequence[float], num_classes: int, name: str) -> list[float]:
    """One float in [0, 1] per class from a number or a length-C sequence; ValueError otherwise."""
    values = [value] * num_classes if isinstance(value, (int, float)) else list(value)
    if len(values) != num_classes:
        raise ValueError(f"{name} must be one number or {num_classes} numbers (one per class), got {len(values)}")
    for c, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must lie in [0, 1]; class {c} has {v!r}")
    return [float(v) for v in values]


def _group_indices(group: Sequence[int | str], num_classes: int, classes: Sequence[str] | None) -> list[int]:
    """The class indices of one group (names resolved through ``classes``), range-checked."""
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
