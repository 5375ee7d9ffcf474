"""Hierarchy distances hand-derived for a small unbalanced tree; soft labels; error messages."""

from __future__ import annotations

import math

import pytest
import torch

from infoloss.bespoke import hierarchy_distance_matrix, hierarchy_leaves, hierarchy_target_matrix

# root ─┬─ a ─┬─ b ─┬─ x          heights: b=1, a=2, root=3
#       │     │     └─ y
#       │     └─ z
#       └─ w
TREE = {"a": {"b": ["x", "y"], "z": None}, "w": None}


def test_leaves_depth_first() -> None:
    assert hierarchy_leaves(TREE) == ["x", "y", "z", "w"]
    assert hierarchy_leaves(["p", "q"]) == ["p", "q"]
    assert hierarchy_leaves({"g": "only", "h": [{"i": ["j"]}, "k"]}) == ["only", "j", "k"]


def test_lca_height_hand_derived() -> None:
    expected = torch.tensor(
        [
            [0, 1, 2, 3],  # x: y under b (h=1), z under a (h=2), w under root (h=3)
            [1, 0, 2, 3],
            [2, 2, 0, 3],
            [3, 3, 3, 0],
        ],
        dtype=torch.float32,
    )
    torch.testing.assert_close(hierarchy_distance_matrix(TREE), expected)


def test_path_length_hand_derived() -> None:
    expected = torch.tensor(
        [
            [0, 2, 3, 4],  # x-y: x->b->y; x-z: x->b->a->z; x-w: x->b->a->root->w
            [2, 0, 3, 4],
            [3, 3, 0, 3],
            [4, 4, 3, 0],
        ],
        dtype=torch.float32,
    )
    torch.testing.assert_close(hierarchy_distance_matrix(TREE, metric="path_length"), expected)


def test_classes_reorder_rows_and_columns() -> None:
    d = hierarchy_distance_matrix(TREE, ["w", "z", "y", "x"])
    torch.testing.assert_close(d, hierarchy_distance_matrix(TREE).flip(0).flip(1))


def test_distance_is_ultrametric() -> None:
    d = hierarchy_distance_matrix(TREE, dtype=torch.float64)
    assert torch.equal(d, d.T)
    n = d.shape[0]
    for i in range(n):
        for j in range(n):
            for k in range(n):
                assert d[i, k] <= max(d[i, j], d[j, k])


def test_target_matrix_hand_values() -> None:
    t = hierarchy_target_matrix(TREE, beta=0.5, dtype=torch.float64)
    row_x = torch.tensor([1.0, math.exp(-0.5), math.exp(-1.0), math.exp(-1.5)], dtype=torch.float64)
    torch.testing.assert_close(t[0], row_x / row_x.sum())
    torch.testing.assert_close(t.sum(1), torch.ones(4, dtype=torch.float64))
    big = hierarchy_target_matrix(TREE, beta=50.0, dtype=torch.float64)
    torch.testing.assert_close(big, torch.eye(4, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: hierarchy_leaves({"a": ["x", "y"], "b": ["y"]}), ValueError, "duplicate leaf name 'y'"),
        (lambda: hierarchy_distance_matrix(TREE, ["x", "y", "z", "cat"]), ValueError, r"unknown class names \['cat'\]"),
        (lambda: hierarchy_distance_matrix(TREE, ["x", "y", "z"]), ValueError, r"leaves \['w'\] are missing"),
        (lambda: hierarchy_distance_matrix(TREE, ["x", "x", "y", "z", "w"]), ValueError, "duplicate class name 'x'"),
        (
            lambda: hierarchy_distance_matrix(TREE, metric="euclid"),  # type: ignore[arg-type]
            ValueError,
            "metric must be one of",
        ),
        (lambda: hierarchy_leaves({"a": []}), ValueError, "node 'a' has no leaves"),
        (lambda: hierarchy_leaves({"a": 3}), TypeError, "node 'a' has a value of type int"),
        (
            lambda: hierarchy_leaves({1: ["x"]}),  # type: ignore[dict-item]
            TypeError,
            "node names must be str",
        ),
        (lambda: hierarchy_target_matrix(TREE, beta=0.0), ValueError, "beta must be a finite number > 0"),
    ],
)
def test_errors(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()  # type: ignore[operator]
