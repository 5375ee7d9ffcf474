"""ECE against a hand-computed example; shard sums combine to the whole-set metrics."""

from __future__ import annotations

import math

import pytest
import torch

from infoloss.experiments.metrics import EvalSums, accumulate, expected_calibration_error


def test_ece_hand_computed():
    # 15 bins of width 1/15; top-label confidence and correctness per row:
    #   0.95 right, 0.97 wrong  -> bin (14/15, 1]:   conf 0.96,  acc 0.5, weight 2/5
    #   0.55 right, 0.58 right  -> bin (8/15, 9/15]: conf 0.565, acc 1.0, weight 2/5
    #   0.42 wrong              -> bin (6/15, 7/15]: conf 0.42,  acc 0.0, weight 1/5
    probs = torch.tensor(
        [[0.95, 0.05, 0.00], [0.03, 0.97, 0.00], [0.55, 0.45, 0.00], [0.42, 0.58, 0.00], [0.30, 0.28, 0.42]]
    )
    labels = torch.tensor([0, 0, 0, 1, 0])
    expected = 2 / 5 * abs(0.5 - 0.96) + 2 / 5 * abs(1 - 0.565) + 1 / 5 * abs(0 - 0.42)
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)  # 0.442


def test_ece_perfect_and_bin_edges():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probs, torch.tensor([0, 1])) == pytest.approx(0.0)
    # 0.5 lies in bin (7/15, 8/15]; one right, one wrong -> acc 0.5 = conf 0.5 -> ECE 0
    probs = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    assert expected_calibration_error(probs, torch.tensor([0, 1])) == pytest.approx(0.0)


def test_accumulate_metrics_and_shards_add_up():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 4, generator=g) * 3
    y = torch.randint(0, 4, (50,), generator=g)
    dist = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 2], [2, 2, 0, 1], [2, 2, 1, 0]], dtype=torch.float32)
    whole = accumulate([(logits, y)], 4, dist).metrics()
    logp = torch.log_softmax(logits.double(), 1)
    pred = logp.argmax(1)
    assert whole["test_acc"] == pytest.approx(100 * float((pred == y).double().mean()))
    assert whole["test_nll"] == pytest.approx(float(-logp.gather(1, y[:, None]).mean()))
    assert whole["test_entropy"] == pytest.approx(float(-(logp.exp() * logp).sum(1).mean()))
    assert whole["test_ece"] == pytest.approx(expected_calibration_error(logp.exp(), y))
    wrong = pred != y
    assert whole["mistake_severity"] == pytest.approx(float(dist[y[wrong], pred[wrong]].mean()))
    assert sum(whole["entropy_hist"]) == 50 and sum(whole["reliability"]["count"]) == 50
    # two shards (as two ranks would hold) summed through the packed vector give the same metrics
    a = accumulate([(logits[0::2], y[0::2])], 4, dist).vector()
    b = accumulate([(logits[1::2], y[1::2])], 4, dist).vector()
    merged = EvalSums.from_vector(4, a + b).metrics()
    for k in ("test_acc", "test_nll", "test_ece", "test_entropy", "mistake_severity"):
        assert merged[k] == pytest.approx(whole[k], rel=1e-12)
    assert math.isclose(sum(merged["entropy_hist"]), 50)
