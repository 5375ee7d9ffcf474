"""Metrics and decision rules against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from infoloss.bespoke import (
    argmax_prediction,
    average_cost,
    expected_costs,
    hierarchical_distance_at_k,
    min_expected_cost_prediction,
    mistake_severity,
    top1_accuracy,
)

COST = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 4.0], [2.0, 3.0, 0.0]])  # cost[true, predicted]


def test_top1_accuracy_indices_scores_and_ignore() -> None:
    y = torch.tensor([0, 1, 2, 2, -100])
    pred = torch.tensor([0, 2, 2, 1, 0])
    assert float(top1_accuracy(pred, y)) == pytest.approx(2 / 4)
    scores = torch.nn.functional.one_hot(pred, 3).float()
    assert float(top1_accuracy(scores, y)) == pytest.approx(0.5)
    assert float(top1_accuracy(pred, torch.full((5,), -100))) == 0.0


def test_average_cost_and_mistake_severity() -> None:
    y = torch.tensor([0, 1, 2, 2, 0, -100])
    pred = torch.tensor([0, 0, 1, 0, 2, 2])
    # costs: 0, 1, 3, 2, 4 (last ignored); mistakes: 1, 3, 2, 4
    assert float(average_cost(pred, y, COST)) == pytest.approx(10 / 5)
    assert float(mistake_severity(pred, y, COST)) == pytest.approx(10 / 4)
    assert float(mistake_severity(y.clamp_min(0), y.clamp_min(0), COST)) == 0.0


def test_mistake_severity_nd_scores() -> None:
    y = torch.tensor([[0, 2]])  # (N=1, d=2)
    scores = torch.zeros(1, 3, 2)
    scores[0, 1, 0] = 1.0  # element 0 predicts 1 (cost 1)
    scores[0, 0, 1] = 1.0  # element 1 predicts 0 (cost 2)
    assert float(mistake_severity(scores, y, COST)) == pytest.approx(1.5)


def test_hierarchical_distance_at_k() -> None:
    scores = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    y = torch.tensor([2, 1])
    # row 0: top2 = {0, 1} -> D[2,0]=2, D[2,1]=3 ; row 1: top2 = {2, 1} -> D[1,2]=4, D[1,1]=0
    assert float(hierarchical_distance_at_k(scores, y, COST, k=2)) == pytest.approx((2 + 3 + 4 + 0) / 4)
    assert float(hierarchical_distance_at_k(scores, y, COST, k=1)) == pytest.approx((2 + 4) / 2)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\]"):
        hierarchical_distance_at_k(scores, y, COST, k=4)


def test_expected_costs_and_bayes_decision() -> None:
    p = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    # R_j = sum_k p_k cost[k, j]
    r0 = [0.3 * 1 + 0.1 * 2, 0.6 * 1 + 0.1 * 3, 0.6 * 4 + 0.3 * 4]
    r1 = [0.2 * 1 + 0.6 * 2, 0.2 * 1 + 0.6 * 3, 0.2 * 4 + 0.2 * 4]
    torch.testing.assert_close(expected_costs(p.log(), COST), torch.tensor([r0, r1]))
    assert min_expected_cost_prediction(p.log(), COST).tolist() == [0, 0]
    assert argmax_prediction(p.log()).tolist() == [0, 2]


def test_bayes_decision_with_zero_one_cost_is_argmax() -> None:
    x = torch.randn(20, 5, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(min_expected_cost_prediction(x, 1 - torch.eye(5)), argmax_prediction(x))
    assert argmax_prediction(x[0, :, 0]).dim() == 0


def test_bayes_decision_minimises_average_cost_in_expectation() -> None:
    # labels drawn from p: the Bayes rule's expected average cost is <= argmax's
    p = torch.tensor([[0.45, 0.1, 0.45]])
    cost = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [10.0, 10.0, 0.0]])
    r = expected_costs(p.log(), cost)[0]
    assert int(min_expected_cost_prediction(p.log(), cost)) == 2
    assert float(r[2]) < float(r[int(argmax_prediction(p.log()))])


def test_metric_errors() -> None:
    y = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="prediction index 3 is out of range for 3 classes"):
        mistake_severity(torch.tensor([3, 1]), y, COST)
    with pytest.raises(ValueError, match="target index 5 is out of range"):
        average_cost(torch.tensor([0, 1]), torch.tensor([0, 5]), COST)
    with pytest.raises(ValueError, match=r"target shape \(2,\) does not match scores shape"):
        top1_accuracy(torch.zeros(3, 3), y)
    with pytest.raises(ValueError, match="differs from target shape"):
        top1_accuracy(torch.tensor([0, 1, 2]), y)
    with pytest.raises(ValueError, match="cost_matrix is 3 x 3 but input has 4 classes"):
        expected_costs(torch.zeros(2, 4), COST)
    with pytest.raises(ValueError, match="square"):
        mistake_severity(y, y, torch.ones(2, 3))
