"""Worked examples shipped with the package: four animals (horse, zebra, whale, shark) and Fashion-MNIST."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infoloss.bespoke.hierarchy import Metric, hierarchy_distance_matrix, hierarchy_target_matrix
from infoloss.bespoke.matrices import target_matrix_from_groups

__all__ = [
    "ANIMAL_CLASSES",
    "FASHION_MNIST_CLASSES",
    "animal_cost_matrix",
    "animal_hierarchy",
    "animal_target_matrix",
    "fashion_mnist_distance_matrix",
    "fashion_mnist_hierarchy",
    "fashion_mnist_target_matrix",
]

ANIMAL_CLASSES: tuple[str, ...] = ("horse", "zebra", "whale", "shark")
"""The four animal classes, in index order: two land animals, then two sea animals."""

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST class names in the dataset's label order (0..9)."""


def animal_hierarchy() -> dict[str, Any]:
    """Return the two-group tree of the four animals: land (horse, zebra) and sea (whale, shark).

    Returns:
        A fresh nested dict ``{"land": ["horse", "zebra"], "sea": ["whale", "shark"]}``.

    Example:
        >>> from infoloss.bespoke import ANIMAL_CLASSES, animal_hierarchy, hierarchy_distance_matrix
        >>> animal_hierarchy()
        {'land': ['horse', 'zebra'], 'sea': ['whale', 'shark']}
        >>> hierarchy_distance_matrix(animal_hierarchy(), ANIMAL_CLASSES)[1]  # zebra's row
        tensor([1., 0., 2., 2.])
    """
    return {"land": ["horse", "zebra"], "sea": ["whale", "shark"]}


def animal_target_matrix(*, dtype: torch.dtype = torch.float32) -> Tensor:
    """Return the soft-label target matrix for horse / zebra / whale / shark (rows: true class).

    ``horse [0.8, 0.2, 0, 0]; zebra [0.3, 0.7, 0, 0]; whale [0, 0, 0.9, 0.1]; shark [0, 0, 0.1, 0.9]``,
    built by :func:`target_matrix_from_groups` with groups {horse, zebra}, {whale, shark} and the true
    class keeping 0.8, 0.7, 0.9, 0.9. For :class:`SimilarityCrossEntropyLoss`.

    Args:
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(4, 4)`` row-stochastic tensor in :data:`ANIMAL_CLASSES` order.

    Example:
        >>> from infoloss.bespoke import animal_target_matrix
        >>> animal_target_matrix()[1]  # zebra
        tensor([0.3000, 0.7000, 0.0000, 0.0000])

    References:
        - "Bespoke Cross Entropy Loss", PyTorch Forums (this matrix is the one proposed there).
          https://discuss.pytorch.org/t/bespoke-cross-entropy-loss/86622
    """
    return target_matrix_from_groups(
        [["horse", "zebra"], ["whale", "shark"]], keep=[0.8, 0.7, 0.9, 0.9], classes=ANIMAL_CLASSES, dtype=dtype
    )


def animal_cost_matrix(*, dtype: torch.dtype = torch.float32) -> Tensor:
    """Return the costs ``cost[true, predicted]`` for the animals: the LCA height in :func:`animal_hierarchy`.

    0 on the diagonal, 1 within the land or the sea animals, 2 across. For :class:`PairwiseCostLoss`,
    :class:`ExpectedCostLoss` and :func:`mistake_severity`.

    Args:
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(4, 4)`` tensor in :data:`ANIMAL_CLASSES` order.

    Example:
        >>> from infoloss.bespoke import animal_cost_matrix
        >>> animal_cost_matrix()[0]  # horse mistaken for horse, zebra, whale, shark
        tensor([0., 1., 2., 2.])
    """
    return hierarchy_distance_matrix(animal_hierarchy(), ANIMAL_CLASSES, dtype=dtype)


def fashion_mnist_hierarchy() -> dict[str, Any]:
    """Return a two-level class hierarchy of Fashion-MNIST: tops, dresses, trousers, footwear, bags.

    Every leaf is at depth 2 (singleton groups for Dress, Trouser and Bag), so the LCA-height distance is
    0 (same class), 1 (same group) or 2 (different groups)::

        tops:     T-shirt/top, Pullover, Coat, Shirt
        dresses:  Dress
        trousers: Trouser
        footwear: Sandal, Sneaker, Ankle boot
        bags:     Bag

    Returns:
        A fresh nested dict whose leaves are the :data:`FASHION_MNIST_CLASSES` (in a different order).

    Example:
        >>> from infoloss.bespoke import fashion_mnist_hierarchy, hierarchy_leaves
        >>> hierarchy_leaves(fashion_mnist_hierarchy())
        ['T-shirt/top', 'Pullover', 'Coat', 'Shirt', 'Dress', 'Trouser', 'Sandal', 'Sneaker', 'Ankle boot', 'Bag']

    References:
        - H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
          Learning Algorithms", 2017. https://arxiv.org/abs/1708.07747
    """
    return {
        "tops": ["T-shirt/top", "Pullover", "Coat", "Shirt"],
        "dresses": ["Dress"],
        "trousers": ["Trouser"],
        "footwear": ["Sandal", "Sneaker", "Ankle boot"],
        "bags": ["Bag"],
    }


def fashion_mnist_distance_matrix(*, metric: Metric = "lca_height", dtype: torch.dtype = torch.float32) -> Tensor:
    """Return the ``10 x 10`` tree distance of :func:`fashion_mnist_hierarchy` in the dataset's label order.

    Use it as the cost matrix of :class:`PairwiseCostLoss` / :class:`ExpectedCostLoss` and of
    :func:`mistake_severity`.

    Args:
        metric: ``'lca_height'`` (values 0/1/2) | ``'path_length'`` (0/2/4). Default ``'lca_height'``.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(10, 10)`` tensor, rows and columns in :data:`FASHION_MNIST_CLASSES` order.

    Raises:
        ValueError: if ``metric`` is not one of the two names.

    Example:
        >>> from infoloss.bespoke import fashion_mnist_distance_matrix
        >>> fashion_mnist_distance_matrix()[0]  # T-shirt/top vs each class; 1 for Pullover, Coat, Shirt
        tensor([0., 2., 1., 2., 1., 2., 1., 2., 2., 2.])
    """
    return hierarchy_distance_matrix(fashion_mnist_hierarchy(), FASHION_MNIST_CLASSES, metric=metric, dtype=dtype)


def fashion_mnist_target_matrix(
    *, beta: float = 4.0, metric: Metric = "lca_height", dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Return hierarchy soft labels for Fashion-MNIST: ``T[y, j]`` proportional to ``exp(-beta * D[y, j])``.

    .. math::
        T_{yj} = \frac{\exp(-\beta D_{yj})}{\sum_k \exp(-\beta D_{yk})}

    with ``D`` from :func:`fashion_mnist_distance_matrix`.

    Args:
        beta: hardness, finite and > 0. Default 4.0.
        metric: ``'lca_height'`` | ``'path_length'``. Default ``'lca_height'``.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(10, 10)`` row-stochastic tensor in :data:`FASHION_MNIST_CLASSES` order (for
        :class:`SimilarityCrossEntropyLoss`).

    Raises:
        TypeError: if ``beta`` is not a number.
        ValueError: if ``beta`` is not finite and > 0, or ``metric`` is not one of the two names.

    Example:
        >>> from infoloss.bespoke import fashion_mnist_target_matrix
        >>> round(float(fashion_mnist_target_matrix(beta=4.0)[0, 0]), 4)  # 1 / (1 + 3 e^-4 + 6 e^-8)
        0.9461

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020 (soft labels). https://arxiv.org/abs/1912.09393
    """
    return hierarchy_target_matrix(
        fashion_mnist_hierarchy(), FASHION_MNIST_CLASSES, beta=beta, metric=metric, dtype=dtype
    )
