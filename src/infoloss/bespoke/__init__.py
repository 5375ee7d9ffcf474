"""Losses, target matrices and metrics for classification where some mistakes cost less than others.

* Target (soft-label) matrices ``T[true, j]``: :func:`label_smoothing_matrix`,
  :func:`target_matrix_from_distances`, :func:`target_matrix_from_similarities`,
  :func:`target_matrix_from_groups`, :func:`hierarchy_target_matrix`.
* Cost matrices ``cost[true, predicted]``: :func:`hierarchy_distance_matrix` (or any non-negative matrix).
* Losses: :class:`SimilarityCrossEntropyLoss` / :func:`similarity_cross_entropy`,
  :class:`PairwiseCostLoss` / :func:`pairwise_cost_loss`, :class:`ExpectedCostLoss` /
  :func:`expected_cost_loss`.
* Metrics and decisions: :func:`top1_accuracy`, :func:`mistake_severity`, :func:`average_cost`,
  :func:`hierarchical_distance_at_k`, :func:`expected_costs`, :func:`min_expected_cost_prediction`,
  :func:`argmax_prediction`.
* Worked examples: four animals (:data:`ANIMAL_CLASSES`: horse, zebra, whale, shark; :func:`animal_hierarchy`,
  :func:`animal_target_matrix`, :func:`animal_cost_matrix`) and a Fashion-MNIST class hierarchy
  (:func:`fashion_mnist_hierarchy`, :func:`fashion_mnist_distance_matrix`, :func:`fashion_mnist_target_matrix`).

The documentation's guide to these losses (``docs/bespoke.md``) says when to use which.

Example:
    >>> import torch
    >>> from infoloss.bespoke import ExpectedCostLoss, animal_cost_matrix, min_expected_cost_prediction
    >>> logits = torch.tensor([[2.0, 1.0, -1.0, -1.0]])  # horse, zebra, whale, shark
    >>> loss_fn = ExpectedCostLoss(animal_cost_matrix())
    >>> loss_fn(logits, torch.tensor([1]))  # true class zebra: p_horse + 2 (p_whale + p_shark)
    tensor(0.8172)
    >>> min_expected_cost_prediction(logits, animal_cost_matrix())
    tensor([0])
"""

from infoloss.bespoke.examples import (
    ANIMAL_CLASSES,
    FASHION_MNIST_CLASSES,
    animal_cost_matrix,
    animal_hierarchy,
    animal_target_matrix,
    fashion_mnist_distance_matrix,
    fashion_mnist_hierarchy,
    fashion_mnist_target_matrix,
)
from infoloss.bespoke.hierarchy import (
    Hierarchy,
    hierarchy_distance_matrix,
    hierarchy_leaves,
    hierarchy_target_matrix,
)
from infoloss.bespoke.losses import (
    ExpectedCostLoss,
    PairwiseCostLoss,
    SimilarityCrossEntropyLoss,
    expected_cost_loss,
    pairwise_cost_loss,
    similarity_cross_entropy,
)
from infoloss.bespoke.matrices import (
    label_smoothing_matrix,
    target_matrix_from_distances,
    target_matrix_from_groups,
    target_matrix_from_similarities,
    validate_cost_matrix,
    validate_target_matrix,
)
from infoloss.bespoke.metrics import (
    argmax_prediction,
    average_cost,
    expected_costs,
    hierarchical_distance_at_k,
    min_expected_cost_prediction,
    mistake_severity,
    top1_accuracy,
)

__all__ = [
    "ANIMAL_CLASSES",
    "FASHION_MNIST_CLASSES",
    "ExpectedCostLoss",
    "Hierarchy",
    "PairwiseCostLoss",
    "SimilarityCrossEntropyLoss",
    "animal_cost_matrix",
    "animal_hierarchy",
    "animal_target_matrix",
    "argmax_prediction",
    "average_cost",
    "expected_cost_loss",
    "expected_costs",
    "fashion_mnist_distance_matrix",
    "fashion_mnist_hierarchy",
    "fashion_mnist_target_matrix",
    "hierarchical_distance_at_k",
    "hierarchy_distance_matrix",
    "hierarchy_leaves",
    "hierarchy_target_matrix",
    "label_smoothing_matrix",
    "min_expected_cost_prediction",
    "mistake_severity",
    "pairwise_cost_loss",
    "similarity_cross_entropy",
    "target_matrix_from_distances",
    "target_matrix_from_groups",
    "target_matrix_from_similarities",
    "top1_accuracy",
    "validate_cost_matrix",
    "validate_target_matrix",
]
