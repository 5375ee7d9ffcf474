"""Worked examples shipped with the package: the forum's four animals and the Fashion-MNIST hierarchy."""

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
"""The four classes of the PyTorch-forum question "Bespoke Cross Entropy Loss", in index order."""

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
    """The two-group tree of the forum's animals: land (horse, zebra) and sea (whale, shark).

    Returns:
        A fresh nested dict ``{"land": ["horse", "zebra"], "sea": ["whale", "shark"]}``.

    Example:
        >>> hierarchy_distance_matrix(animal_hierarchy(), ANIMAL_CLASSES)[1]   # zebra's row
        tensor([1., 0., 2., 2.])
    """
    return {"land": ["horse", "zebra"], "sea": ["whale", "shark"]}


def animal_target_matrix(*, dtype: torch.dtype = torch.float32) -> Tensor:
    """The forum answer's target matrix for horse / zebra / whale / shark (rows: true class).

    ``horse [0.8, 0.2, 0, 0]; zebra [0.3, 0.7, 0, 0]; whale [0, 0, 0.9, 0.1]; shark [0, 0, 0.1, 0.9]``,
    built as groups {horse, zebra}, {whale, shark} with the true class keeping 0.8, 0.7, 0.9, 0.9.

    Args:
        dtype: floating dtype of the result.

    Returns:
        (4, 4) row-stochastic tensor in :data:`ANIMAL_CLASSES` order.

    Example:
        >>> animal_target_matrix()[1]
        tensor([0.3000, 0.7000, 0.0000, 0.0000])

    K. Frank, answer to "Bespoke Cross Entropy Loss", PyTorch forums.
    """
    return target_matrix_from_groups(
        [["horse", "zebra"], ["whale", "shark"]], keep=[0.8, 0.7, 0.9, 0.9], classes=ANIMAL_CLASSES, dtype=dtype
    )


def animal_cost_matrix(*, dtype: torch.dtype = torch.float32) -> Tensor:
    """Costs ``cost[true, predicted]`` for the animals: the LCA height of :func:`animal_hierarchy`.

    0 on the diagonal, 1 within land or sea animals, 2 across.

    Args:
        dtype: floating dtype of the result.

    Returns:
        (4, 4) tensor in :data:`ANIMAL_CLASSES` order.

    Example:
        >>> animal_cost_matrix()[0]
        tensor([0., 1., 2., 2.])
    """
    return hierarchy_distance_matrix(animal_hierarchy(), ANIMAL_CLASSES, dtype=dtype)


def fashion_mnist_hierarchy() -> dict[str, Any]:
    """A two-level class hierarchy of Fashion-MNIST: tops, dresses, trousers, footwear, bags.

    Every leaf is at depth 2 (singleton groups for Dress, Trouser and Bag), so the LCA-height distance is
    0 (same class), 1 (same group) or 2 (different groups)::

        tops:     T-shirt/top, Pullover, Coat, Shirt
        dresses:  Dress
        trousers: Trouser
        footwear: Sandal, Sneaker, Ankle boot
        bags:     Bag

    Returns:
        A fresh nested dict whose leaves are :data:`FASHION_MNIST_CLASSES`.

    Example:
        >>> from infoloss.bespoke import hierarchy_leaves
        >>> sorted(hierarchy_leaves(fashion_mnist_hierarchy())) == sorted(FASHION_MNIST_CLASSES)
        True
    """
    return {
        "tops": ["T-shirt/top", "Pullover", "Coat", "Shirt"],
        "dresses": ["Dress"],
        "trousers": ["Trouser"],
        "footwear": ["Sandal", "Sneaker", "Ankle boot"],
        "bags": ["Bag"],
    }


def fashion_mnist_distance_matrix(*, metric: Metric = "lca_height", dtype: torch.dtype = torch.float32) -> Tensor:
    """The 10 x 10 tree distance of :func:`fashion_mnist_hierarchy` in the dataset's label order.

    Use it as the cost matrix of :class:`PairwiseCostLoss` / :class:`ExpectedCostLoss` and of
    :func:`mistake_severity`.

    Args:
        metric: 'lca_height' (0/1/2) or 'path_length' (0/2/4).
        dtype: floating dtype of the result.

    Returns:
        (10, 10) tensor, rows and columns in :data:`FASHION_MNIST_CLASSES` order.

    Example:
        >>> fashion_mnist_distance_matrix()[0]   # T-shirt/top vs each class
        tensor([0., 2., 1., 2., 1., 2., 1., 2., 2., 2.])
    """
    return hierarchy_distance_matrix(fashion_mnist_hierarchy(), FASHION_MNIST_CLASSES, metric=metric, dtype=dtype)


def fashion_mnist_target_matrix(
    *, beta: float = 4.0, metric: Metric = "lca_height", dtype: torch.dtype = torch.float32
) -> Tensor:
    """Hierarchy soft labels for Fashion-MNIST: ``T[y, j]`` proportional to ``exp(-beta * D[y, j])``.

    Args:
        beta: hardness > 0.
        metric: 'lca_height' or 'path_length'.
        dtype: floating dtype of the result.

    Returns:
        (10, 10) row-stochastic tensor in :data:`FASHION_MNIST_CLASSES` order (for
        :class:`SimilarityCrossEntropyLoss`).

    Example:
        >>> round(float(fashion_mnist_target_matrix(beta=4.0)[0, 0]), 4)   # T-shirt keeps most of the mass
        0.9461

    Bertinetto et al., "Making Better Mistakes", CVPR 2020 (soft labels).
    """
    return hierarchy_target_matrix(
        fashion_mnist_hierarchy(), FASHION_MNIST_CLASSES, beta=beta, metric=metric, dtype=dtype
    )
