"""infoloss.metrics: float64 references, torchmetrics' calibration error (and where its bins differ),
temperature scaling against SciPy, and the torchmetrics.Metric classes against the plain functions."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import optimize

from infoloss import metrics as M


def _data(n=400, c=7, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


def test_functions_against_float64_references():
    z, y = _data()
    logp = torch.log_softmax(z, 1)
    p = logp.exp()
    pred = z.argmax(1)
    assert float(M.accuracy(z, y)) == pytest.approx(float((pred == y).double().mean()))
    assert float(M.nll(z, y)) == pytest.approx(float(-logp[torch.arange(len(y)), y].mean()), rel=1e-12)
    assert float(M.predictive_entropy(z)) == pytest.approx(float(-(p * logp).sum(1).mean()), rel=1e-12)
    d = torch.rand(7, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    wrong = pred != y
    assert float(M.mistake_severity(z, y, d)) == pytest.approx(float(d[y[wrong], pred[wrong]].mean()), rel=1e-12)
    # ECE by a plain loop over the 15 right-closed bins
    conf, _ = p.max(1)
    ece = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        m = (conf > lo) & (conf <= hi) if b else (conf >= 0) & (conf <= hi)
        if m.any():
            ece += float(m.double().mean()) * abs(float(conf[m].mean()) - float((pred[m] == y[m]).double().mean()))
    assert float(M.expected_calibration_error(z, y)) == pytest.approx(ece, rel=1e-12)


def test_edge_cases_and_errors():
    z = torch.eye(3)
    assert math.isnan(float(M.mistake_severity(z, torch.arange(3), torch.ones(3, 3))))  # no mistake
    assert float(M.predictive_entropy(torch.tensor([[0.0, -math.inf]]))) == 0.0  # 0 log 0 = 0
    with pytest.raises(ValueError, match=r"logits must be a floating \(N, C\) tensor"):
        M.nll(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"target must lie in 0..2, got 0..3"):
        M.accuracy(z, torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="logits have 3 rows but target has 2"):
        M.nll(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        M.expected_calibration_error(z, torch.arange(3), n_bins=0)
    with pytest.raises(ValueError, match=r"distances must be \(3, 3\)"):
        M.mistake_severity(z, torch.arange(3), torch.ones(2, 2))


# --- ECE against torchmetrics -------------------------------------------------------------------------

tm_cls = pytest.importorskip("torchmetrics.functional.classification")


def _tm_ece(probs: torch.Tensor, y: torch.Tensor, n_bins: int) -> float:
    return float(tm_cls.multiclass_calibration_error(probs.float(), y, num_classes=probs.shape[1], n_bins=n_bins))


@pytest.mark.parametrize(("seed", "n_bins", "scale"), [(0, 15, 3.0), (1, 10, 1.0), (2, 15, 5.0), (3, 20, 0.5)])
def test_ece_matches_torchmetrics_away_from_bin_edges(seed, n_bins, scale):
    z, y = _data(n=2000, c=10, scale=scale, seed=seed)
    p = torch.softmax(z, 1).float().double()  # the float32 confidences torchmetrics sees
    conf = p.max(1).values
    edges = torch.arange(n_bins + 1, dtype=torch.float64) / n_bins
    assert (conf[:, None] - edges).abs().min() > 1e-7 and conf.max() < 1  # no edge case in this data
    ours = float(M.expected_calibration_error(p.log(), y, n_bins=n_bins))
    assert ours == pytest.approx(_tm_ece(p, y, n_bins), abs=2e-6)


def test_ece_bin_edge_convention_hand_computed_against_torchmetrics():
    # confidence exactly 1.0: ours pools it with (14/15, 1]; torchmetrics keeps a bin of its own for it.
    probs = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.95, 0.05]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0])  # right, wrong, right
    ours = 1.0 * abs((1.0 + 1.0 + 0.95) / 3 - 2 / 3)  # one bin: conf 0.98333, acc 2/3 -> 0.31667
    theirs = 1 / 3 * abs(0.95 - 1.0) + 2 / 3 * abs(1.0 - 0.5)  # [14/15, 1): 0.95 right; {1.0}: 1 of 2
    assert float(M.expected_calibration_error(probs.log(), y)) == pytest.approx(ours)
    assert _tm_ece(probs, y, 15) == pytest.approx(theirs, abs=1e-6)
    assert ours == pytest.approx(0.316667, abs=1e-6) and theirs == pytest.approx(0.35, abs=1e-6)
    # a confidence exactly on an inner edge: 0.5 of 10 bins is in (0.4, 0.5] here, in [0.5, 0.6) there
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.55, 0.45, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])  # 0.5 right, 0.55 wrong
    ours = 0.5 * abs(0.5 - 1) + 0.5 * abs(0.55 - 0)  # two bins: 0.525
    theirs = abs((0.5 + 0.55) / 2 - 0.5)  # one bin: 0.025
    counts, _, _ = M.calibration_bins(probs.max(1).values, probs.argmax(1) == y, 10)
    assert counts.tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert float(M.expected_calibration_error(probs.log(), y, n_bins=10)) == pytest.approx(ours)
    assert _tm_ece(probs, y, 10) == pytest.approx(theirs, abs=1e-6)


# --- temperature scaling ------------------------------------------------------------------------------


def _nll_at(z: np.ndarray, y: np.ndarray, t: float) -> float:
    s = z / t
    s = s - s.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(1)) - s[np.arange(len(y)), y]))


@pytest.mark.parametrize(("scale", "seed", "hotter"), [(6.0, 0, True), (0.4, 1, False), (2.0, 2, True)])
def test_fit_temperature_matches_scipy_minimize_scalar(scale, seed, hotter):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (500,), generator=g)
    # informative logits (the target gets a bonus), then scaled: over- (scale 6) or under-confident (0.4)
    z = (torch.randn(500, 5, generator=g, dtype=torch.float64) + 1.5 * torch.nn.functional.one_hot(y, 5)) * scale
    t = M.fit_temperature(z, y)
    zn, yn = z.numpy(), y.numpy()
    ref = optimize.minimize_scalar(
        lambda tt: _nll_at(zn, yn, tt), bounds=(0.01, 100), method="bounded", options={"xatol": 1e-10}
    )
    assert t == pytest.approx(ref.x, rel=1e-5)
    assert (t > 1) == hotter  # overconfident logits are cooled (T > 1), underconfident ones sharpened
    assert float(M.nll(z / t, y)) <= float(M.nll(z, y)) + 1e-12


def test_fit_temperature_hand_example_and_bounds():
    # 3 of 4 right with the same margin 4: NLL(T) = 3/4 log(1 + e^{-4/T}) + 1/4 log(1 + e^{4/T});
    # d/dT = 0 <=> sigma(-4/T) = 1/4 <=> 4/T = log 3 <=> T = 4 / log 3 = 3.64096
    z = torch.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    assert M.fit_temperature(z, y) == pytest.approx(4 / math.log(3), rel=1e-6)
    # every example right: the NLL falls as T -> 0 without a minimum; the lower bound is returned
    assert M.fit_temperature(torch.tensor([[3.0, 0.0], [0.0, 3.0]]), torch.tensor([0, 1])) == 0.01
    assert M.fit_temperature(torch.tensor([[3.0, 0.0]]), torch.tensor([0]), bounds=(0.2, 5.0)) == 0.2
    with pytest.raises(ValueError, match="at least one example"):
        M.fit_temperature(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


# --- torchmetrics.Metric classes ----------------------------------------------------------------------


def test_metric_classes_accumulate_to_the_functions():
    pytest.importorskip("torchmetrics")
    from torchmetrics import Metric

    z, y = _data(n=300, c=4)
    d = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 2], [2, 2, 0, 1], [2, 2, 1, 0]], dtype=torch.float64)
    objs = {
        "acc": (M.Accuracy(), M.accuracy(z, y)),
        "nll": (M.NegativeLogLikelihood(), M.nll(z, y)),
        "ent": (M.PredictiveEntropy(), M.predictive_entropy(z)),
        "ece": (M.ExpectedCalibrationError(n_bins=15), M.expected_calibration_error(z, y)),
        "sev": (M.MistakeSeverity(d), M.mistake_severity(z, y, d)),
    }
    for metric, _ in objs.values():
        assert isinstance(metric, Metric)
        for i in range(0, 300, 70):  # uneven batches
            metric.update(z[i : i + 70], y[i : i + 70])
    for name, (metric, ref) in objs.items():
        assert float(metric.compute()) == pytest.approx(float(ref), rel=1e-12), name
    m = objs["ece"][0]
    m.reset()
    m.update(z[:10], y[:10])
    assert float(m.compute()) == pytest.approx(float(M.expected_calibration_error(z[:10], y[:10])), rel=1e-12)


def test_importing_metrics_does_not_import_torchmetrics():
    code = "import sys, infoloss; infoloss.metrics.nll; assert 'torchmetrics' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="has no attribute 'Bogus'"):
        M.Bogus  # noqa: B018
