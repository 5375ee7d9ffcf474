"""Shipped worked examples: the forum's four animals and the Fashion-MNIST hierarchy."""

from __future__ import annotations

import math

import pytest
import torch

import infoloss.bespoke as bespoke
from infoloss.bespoke import (
    ANIMAL_CLASSES,
    FASHION_MNIST_CLASSES,
    SimilarityCrossEntropyLoss,
    animal_cost_matrix,
    animal_target_matrix,
    fashion_mnist_distance_matrix,
    fashion_mnist_hierarchy,
    fashion_mnist_target_matrix,
    hierarchy_leaves,
    validate_target_matrix,
)


def test_animal_rows_match_the_forum_answer() -> None:
    assert ANIMAL_CLASSES == ("horse", "zebra", "whale", "shark")
    expected = torch.tensor(
        [
            [0.8, 0.2, 0.0, 0.0],  # horse
            [0.3, 0.7, 0.0, 0.0],  # zebra
            [0.0, 0.0, 0.9, 0.1],  # whale
            [0.0, 0.0, 0.1, 0.9],  # shark
        ]
    )
    torch.testing.assert_close(animal_target_matrix(), expected)
    validate_target_matrix(animal_target_matrix())


def test_animal_worked_example_numbers() -> None:
    # the numbers quoted in docs/bespoke.md
    t, k = animal_target_matrix(dtype=torch.float64), animal_cost_matrix(dtype=torch.float64)
    y = torch.tensor([1])
    horse = torch.tensor([[2.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    whale = torch.tensor([[0.0, 1.0, 2.0, 0.0]], dtype=torch.float64)
    got = {
        name: (float(fn(horse, y, m)), float(fn(whale, y, m)))
        for name, fn, m in (
            ("sim", bespoke.similarity_cross_entropy, t),
            ("pair", bespoke.pairwise_cost_loss, k),
            ("exp", bespoke.expected_cost_loss, k),
        )
    }
    lse = math.log(math.exp(2) + math.exp(1) + 2)
    assert got["sim"][0] == pytest.approx(0.3 * (lse - 2) + 0.7 * (lse - 1))
    assert got["sim"][1] == pytest.approx(0.3 * lse + 0.7 * (lse - 1))
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert got["pair"][0] == pytest.approx(sp(1) + 2 * sp(-1) + 2 * sp(-1))
    assert got["pair"][1] == pytest.approx(sp(-1) + 2 * sp(1) + 2 * sp(-1))
    ce = torch.nn.functional.cross_entropy(horse, y)
    torch.testing.assert_close(ce, torch.nn.functional.cross_entropy(whale, y))  # plain CE: a tie


def test_fashion_mnist_hierarchy() -> None:
    assert FASHION_MNIST_CLASSES == (
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
    tree = fashion_mnist_hierarchy()
    assert sorted(hierarchy_leaves(tree)) == sorted(FASHION_MNIST_CLASSES)
    tree["tops"].append("x")
    assert "x" not in fashion_mnist_hierarchy()["tops"]  # a fresh dict each call


def test_fashion_mnist_distances() -> None:
    d = fashion_mnist_distance_matrix()
    tops, footwear = [0, 2, 4, 6], [5, 7, 9]
    group = {c: "tops" for c in tops} | {c: "footwear" for c in footwear} | {1: "trou", 3: "dress", 8: "bag"}
    expected = torch.tensor(
        [[0.0 if i == j else (1.0 if group[i] == group[j] else 2.0) for j in range(10)] for i in range(10)]
    )
    torch.testing.assert_close(d, expected)
    torch.testing.assert_close(fashion_mnist_distance_matrix(metric="path_length"), 2 * expected)


def test_fashion_mnist_target_matrix() -> None:
    t = fashion_mnist_target_matrix(beta=4.0, dtype=torch.float64)
    z = 1 + 3 * math.exp(-4) + 6 * math.exp(-8)
    assert float(t[0, 0]) == pytest.approx(1 / z)  # T-shirt
    assert float(t[0, 6]) == pytest.approx(math.exp(-4) / z)  # Shirt: same group
    assert float(t[0, 7]) == pytest.approx(math.exp(-8) / z)  # Sneaker
    zb = 1 + 9 * math.exp(-8)
    assert float(t[8, 8]) == pytest.approx(1 / zb)  # Bag: alone in its group
    loss = SimilarityCrossEntropyLoss(fashion_mnist_target_matrix())
    assert loss.num_classes == 10


def test_public_names() -> None:
    for name in bespoke.__all__:
        assert hasattr(bespoke, name), name
        obj = getattr(bespoke, name)
        if callable(obj) and not isinstance(obj, type(ANIMAL_CLASSES)) and name != "Hierarchy":
            assert obj.__doc__ and "Example" in obj.__doc__, name


@pytest.mark.parametrize(
    ("name", "horse", "whale"),
    [
        ("ce", 1.4938, 1.4938),
        ("sim", 1.1938, 1.7938),
        ("sim_bits", 1.7223, 2.5879),
        ("pair", 2.5663, 3.5663),
        ("exp", 0.9407, 1.4684),
        ("exp_ce", 2.4345, 2.9622),
    ],
)
def test_docs_table_numbers(name: str, horse: float, whale: float) -> None:
    t, k = animal_target_matrix(), animal_cost_matrix()
    fns = {
        "ce": lambda x, y: torch.nn.functional.cross_entropy(x, y),
        "sim": lambda x, y: bespoke.similarity_cross_entropy(x, y, t),
        "sim_bits": lambda x, y: bespoke.similarity_cross_entropy(x, y, t, base=2),
        "pair": lambda x, y: bespoke.pairwise_cost_loss(x, y, k),
        "exp": lambda x, y: bespoke.expected_cost_loss(x, y, k),
        "exp_ce": lambda x, y: bespoke.expected_cost_loss(x, y, k, ce_weight=1.0),
    }
    y = torch.tensor([1])
    assert float(fns[name](torch.tensor([[2.0, 1.0, 0.0, 0.0]]), y)) == pytest.approx(horse, abs=1e-4)
    assert float(fns[name](torch.tensor([[0.0, 1.0, 2.0, 0.0]]), y)) == pytest.approx(whale, abs=1e-4)
