"""The worked examples of the tutorials in shared/reference, recomputed by hand and with infoloss.numpy.

Each expected number is derived here from first principles (``math.log``); where a tutorial printed a wrong
number the test pins the correct one and says so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import infoloss.numpy as inp

LN2, LN10 = math.log(2), math.log(10)


# ---------------------------------------------------------------- 01: entropy and cross-entropy tutorial
def test_tutorial01_three_class_example():
    # cat / dog / horse, label horse, prediction [0.1, 0.1, 0.8]: loss = -ln 0.8 = 0.2231 (tutorial: "0.22").
    probs = np.array([[0.1, 0.1, 0.8]])
    expected = -math.log(0.8)
    assert round(expected, 2) == 0.22
    assert float(inp.cross_entropy_from_probs(probs, np.array([[0.0, 0.0, 1.0]]))) == pytest.approx(expected)
    assert float(inp.cross_entropy_from_probs(probs, [2])) == pytest.approx(expected)
    # softmax(log p) = p, so the logits form agrees exactly, in every base.
    assert float(inp.cross_entropy(np.log(probs), [2])) == pytest.approx(expected, rel=1e-12)
    assert float(inp.cross_entropy(np.log(probs), [2], base=2)) == pytest.approx(0.32192809488736, rel=1e-12)
    assert float(inp.cross_entropy(np.log(probs), [2], base=10)) == pytest.approx(0.09691001300805, rel=1e-12)
    assert float(inp.information([0.8])[0]) == pytest.approx(expected)


def test_tutorial01_binary_formula_needs_the_minus_outside_both_terms():
    # The tutorial writes -(p log q) + (1 - p) log(1 - q); the correct BCE is -[p log q + (1 - p) log(1 - q)].
    p, q = 0.3, 0.6
    correct = -(p * math.log(q) + (1 - p) * math.log(1 - q))
    as_printed = -(p * math.log(q)) + (1 - p) * math.log(1 - q)
    got = float(inp.binary_cross_entropy([q], [p]))
    assert got == pytest.approx(correct)
    assert got != pytest.approx(as_printed)
    assert got == pytest.approx(F.binary_cross_entropy(torch.tensor([q]), torch.tensor([p])).item(), rel=1e-6)


def test_tutorial01_cross_entropy_is_log_softmax_then_nll():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, -1.0, 3.0]])
    target = np.array([0, 2])
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -log_softmax[np.arange(2), target]
    np.testing.assert_allclose(inp.cross_entropy(logits, target, reduction="none"), nll, rtol=1e-12)


# --------------------------------------------------------------- 02: cross entropy "from scratch" tutorial
PREDICTED = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
ONE_HOT = np.eye(3)


def test_tutorial02_from_scratch_cross_entropy():
    # mean(-ln 0.7, -ln 0.8, -ln 0.6) = 0.3635 nats = 0.5245 bits = 0.1579 hartleys (the tutorial prints no
    # number for this example).
    nats = (-math.log(0.7) - math.log(0.8) - math.log(0.6)) / 3
    assert round(nats, 4) == 0.3635
    assert float(inp.cross_entropy_from_probs(PREDICTED, ONE_HOT)) == pytest.approx(nats, rel=1e-12)
    assert float(inp.cross_entropy_from_probs(PREDICTED, [0, 1, 2])) == pytest.approx(nats, rel=1e-12)
    bits = float(inp.cross_entropy_from_probs(PREDICTED, ONE_HOT, base=2))
    hartleys = float(inp.cross_entropy_from_probs(PREDICTED, ONE_HOT, base=10))
    assert bits == pytest.approx(nats / LN2, rel=1e-12)
    assert round(bits, 4) == 0.5245
    assert hartleys == pytest.approx(nats / LN10, rel=1e-12)
    assert round(hartleys, 4) == 0.1579
    assert float(inp.cross_entropy(np.log(PREDICTED), [0, 1, 2])) == pytest.approx(nats, rel=1e-12)
    # The tutorial's own function: clip to [1e-15, 1 - 1e-15], sum, divide by N.
    tutorial = -np.sum(ONE_HOT * np.log(np.clip(PREDICTED, 1e-15, 1 - 1e-15))) / 3
    assert float(inp.cross_entropy_from_probs(PREDICTED, ONE_HOT, eps=1e-15)) == pytest.approx(tutorial)


LOGITS = np.array([[2.0, 1.0, 0.1]])


def test_tutorial02_softmax_and_cross_entropy_printed_values_are_right():
    # Printed: probabilities [0.6590, 0.2424, 0.0986] and CE 0.4170 -- both correct.
    z = np.exp(LOGITS[0]) / np.exp(LOGITS[0]).sum()
    np.testing.assert_allclose(np.round(z, 4), [0.6590, 0.2424, 0.0986])
    ce = float(inp.cross_entropy(LOGITS, [0]))
    assert ce == pytest.approx(-math.log(z[0]), rel=1e-12)
    assert round(ce, 4) == 0.4170
    assert ce == pytest.approx(F.cross_entropy(torch.tensor(LOGITS), torch.tensor([0])).item(), rel=1e-12)


def test_tutorial02_entropy_printed_value_is_wrong():
    # The tutorial prints "Entropy: 0.9686"; -sum p ln p for p = softmax([2, 1, 0.1]) is 0.8467 nats
    # (1.2216 bits). Its own code (-torch.sum(probs * torch.log(probs))) gives 0.8467 too.
    z = np.exp(LOGITS[0]) / np.exp(LOGITS[0]).sum()
    nats = -sum(p * math.log(p) for p in z)
    assert round(nats, 4) == 0.8467
    h = inp.entropy(LOGITS)
    assert h.shape == (1,)
    assert float(h[0]) == pytest.approx(nats, rel=1e-12)
    assert round(float(h[0]), 4) != 0.9686
    probs = torch.softmax(torch.tensor(LOGITS), dim=1)
    assert float(h[0]) == pytest.approx(-torch.sum(probs * torch.log(probs)).item(), rel=1e-12)
    assert float(inp.entropy(LOGITS, base=2)[0]) == pytest.approx(nats / LN2, rel=1e-12)
    assert round(nats / LN2, 4) == 1.2216
