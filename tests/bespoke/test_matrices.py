"""Target-matrix builders and validation: hand-derived values, torch's label smoothing, error messages."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from infoloss.bespoke import (
    SimilarityCrossEntropyLoss,
    label_smoothing_matrix,
    similarity_cross_entropy,
    target_matrix_from_distances,
    target_matrix_from_groups,
    target_matrix_from_similarities,
    validate_cost_matrix,
    validate_target_matrix,
)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.37, 1.0])
def test_label_smoothing_matrix_values(eps: float) -> None:
    t = label_smoothing_matrix(4, eps, dtype=torch.float64)
    eye = torch.eye(4, dtype=torch.float64)
    expected = torch.full((4, 4), eps / 4, dtype=torch.float64) + (1 - eps) * eye
    torch.testing.assert_close(t, expected)
    torch.testing.assert_close(t.sum(1), torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize("eps", [0.05, 0.3])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_label_smoothing_equals_torch(eps: float, reduction: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 5, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (6, 3), generator=g)
    y[0, 0] = y[3, 2] = -100
    t = label_smoothing_matrix(5, eps, dtype=torch.float64)
    loss = SimilarityCrossEntropyLoss(t, reduction=reduction)
    torch.testing.assert_close(loss(x, y), F.cross_entropy(x, y, reduction=reduction, label_smoothing=eps))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_label_smoothing_with_weight_equals_torch(reduction: str) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(10, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (10,), generator=g)
    y[2] = 7
    w = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
    ours = similarity_cross_entropy(
        x, y, label_smoothing_matrix(4, 0.2, dtype=torch.float64), weight=w, ignore_index=7, reduction=reduction
    )
    ref = F.cross_entropy(x, y, weight=w, ignore_index=7, reduction=reduction, label_smoothing=0.2)
    torch.testing.assert_close(ours, ref)


def test_label_smoothing_float32_exact_enough() -> None:
    x, y = torch.randn(32, 10), torch.randint(0, 10, (32,))
    ours = SimilarityCrossEntropyLoss(label_smoothing_matrix(10, 0.1))(x, y)
    torch.testing.assert_close(ours, F.cross_entropy(x, y, label_smoothing=0.1), rtol=1e-6, atol=1e-6)


def test_from_distances_hand_values() -> None:
    t = target_matrix_from_distances(
        [[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]], temperature=2.0, dtype=torch.float64
    )
    row0 = torch.tensor([1.0, math.exp(-0.5), math.exp(-1.5)], dtype=torch.float64)
    torch.testing.assert_close(t[0], row0 / row0.sum())
    assert t.sum(1).sub(1).abs().max() < 1e-12


def test_from_similarities_hand_values() -> None:
    t = target_matrix_from_similarities(torch.tensor([[1.0, 0.5], [0.5, 1.0]]), temperature=0.5, dtype=torch.float64)
    p = 1 / (1 + math.exp(-1.0))
    torch.testing.assert_close(t, torch.tensor([[p, 1 - p], [1 - p, p]], dtype=torch.float64))


def test_from_groups_keep_and_singletons() -> None:
    t = target_matrix_from_groups([[0, 2, 3]], 5, keep=0.7)
    expected = torch.eye(5)
    expected[0] = torch.tensor([0.7, 0, 0.15, 0.15, 0])
    expected[2] = torch.tensor([0.15, 0, 0.7, 0.15, 0])
    expected[3] = torch.tensor([0.15, 0, 0.15, 0.7, 0])
    torch.testing.assert_close(t, expected)


def test_from_groups_names() -> None:
    t = target_matrix_from_groups([["b", "c"]], keep=0.6, classes=["a", "b", "c"])
    torch.testing.assert_close(t, torch.tensor([[1.0, 0, 0], [0, 0.6, 0.4], [0, 0.4, 0.6]]))


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        ([[0.5, 0.5, 0.0]], r"square \(C, C\).*\(1, 3\)"),
        (torch.ones(3), r"square"),
        ([[0.5, 0.5], [0.2, 0.7]], r"row 1 sums to 0\.9"),
        ([[1.2, -0.2], [0.0, 1.0]], r"non-negative; entry \(0, 1\) is -0\.2"),
        ([[float("nan"), 1.0], [0.0, 1.0]], r"finite; entry \(0, 0\) is nan"),
        ([[float("inf"), 1.0], [0.0, 1.0]], r"finite; entry \(0, 0\) is inf"),
    ],
)
def test_validate_target_matrix_errors(matrix: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        validate_target_matrix(matrix)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        SimilarityCrossEntropyLoss(matrix)  # type: ignore[arg-type]


def test_validate_type_errors() -> None:
    with pytest.raises(TypeError, match="target_matrix must be a tensor"):
        validate_target_matrix("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="real-valued"):
        validate_target_matrix(torch.eye(2, dtype=torch.bool))


def test_validate_cost_matrix() -> None:
    with pytest.raises(ValueError, match=r"cost_matrix must be non-negative; entry \(1, 0\) is -1"):
        validate_cost_matrix([[0.0, 1.0], [-1.0, 0.0]])
    validate_cost_matrix([[-5.0, 1.0], [1.0, 0.0]], ignore_diagonal=True)
    with pytest.raises(ValueError, match="finite"):
        validate_cost_matrix([[0.0, float("inf")], [1.0, 0.0]])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: label_smoothing_matrix(0, 0.1), ValueError, "num_classes must be an int >= 1"),
        (lambda: label_smoothing_matrix(3, 1.5), ValueError, r"eps must be a number in \[0, 1\]"),
        (
            lambda: target_matrix_from_distances([[0.0, 1.0], [1.0, 0.0]], temperature=0.0),
            ValueError,
            "temperature must be a finite number > 0",
        ),
        (
            lambda: target_matrix_from_distances([[0.0, -1.0], [1.0, 0.0]]),
            ValueError,
            r"distance must be non-negative; entry \(0, 1\)",
        ),
        (
            lambda: target_matrix_from_similarities([[0.0, float("nan")], [1.0, 0.0]]),
            ValueError,
            "similarity must be finite",
        ),
        (
            lambda: target_matrix_from_groups([[0, 1], [1, 2]], 3),
            ValueError,
            "disjoint; class 1 is in group 0 and group 1",
        ),
        (lambda: target_matrix_from_groups([[0, 5]], 3), ValueError, "class index 5 in groups is out of range"),
        (lambda: target_matrix_from_groups([["a", "z"]], classes=["a", "b"]), ValueError, "unknown class name 'z'"),
        (lambda: target_matrix_from_groups([["a", "b"]], 2), ValueError, "pass classes"),
        (
            lambda: target_matrix_from_groups([[0, 1]], 2, keep=[0.5]),
            ValueError,
            "keep must be one number or 2 numbers",
        ),
        (lambda: target_matrix_from_groups([[0, 1]], 2, keep=1.5), ValueError, r"keep must lie in \[0, 1\]"),
        (lambda: target_matrix_from_groups([[0, 0]], 2), ValueError, "lists a class twice"),
    ],
)
def test_builder_errors(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()  # type: ignore[operator]
