"""Validation split (deterministic, stored in config.json), best-val epoch selection that never reads a
test metric, and the per-run temperature against a SciPy fit of the same NLL."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from scipy import optimize

import infoloss.experiments.compare as compare_mod
from infoloss.experiments.checkpoint import load_checkpoint
from infoloss.experiments.config import CompareConfig, TrainConfig
from infoloss.experiments.data import make_splits
from infoloss.experiments.models import build_model
from infoloss.experiments.report import select_epoch
from infoloss.experiments.train import predict, train


def test_split_is_deterministic_disjoint_and_independent_of_the_run(tiny):
    a = make_splits(tiny, None, 0.25, 3)
    b = make_splits(tiny, None, 0.25, 3)
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_train, b.y_train) and a.info == b.info
    assert len(a.y_val) == 60 and len(a.y_train) == 180 and torch.equal(a.x_test, tiny.x_test)
    # disjoint, and together exactly the training split
    rows = {tuple(r.flatten().tolist()) for r in tiny.x_train}
    tr = {tuple(r.flatten().tolist()) for r in a.x_train}
    va = {tuple(r.flatten().tolist()) for r in a.x_val}
    assert not tr & va and tr | va == rows
    c = make_splits(tiny, None, 0.25, 4)
    assert c.info["val_indices_sha256"] != a.info["val_indices_sha256"]
    # with a subset, validation is carved out of the subset
    s = make_splits(tiny, 100, 0.2, 0)
    assert (len(s.y_train), len(s.y_val)) == (80, 20)
    assert make_splits(tiny).info["n_val"] == 0


def test_every_run_of_a_grid_validates_on_the_same_recorded_split(tmp_path, tiny):
    train_cfg = TrainConfig(model="mlp", epochs=1, batch_size=32, progress=False, device="cpu", val_fraction=0.25)
    cc = CompareConfig(losses=["ce", "min-ent"], seeds=[0, 1], train=train_cfg, n_bootstrap=200)
    compare_mod.run_compare(cc, tmp_path, dataset=tiny, quiet=True)
    splits = [
        json.loads((compare_mod.run_subdir(tmp_path, loss, s) / "config.json").read_text())["split"]
        for loss in cc.losses
        for s in cc.seeds
    ]
    assert all(sp == splits[0] for sp in splits)
    assert splits[0]["n_val"] == 60 and splits[0]["val_seed"] == 0 and len(splits[0]["val_indices_sha256"]) == 64
    row = json.loads((compare_mod.run_subdir(tmp_path, "ce", 0) / "metrics.jsonl").read_text().splitlines()[0])
    for k in ("val_acc", "val_nll", "val_ece", "temperature", "test_ece_ts", "test_nll_ts", "val_ece_ts"):
        assert np.isfinite(row[k]), k


def _history(n=6, seed=0):
    rng = random.Random(seed)
    return [
        {
            "epoch": i + 1,
            "val_acc": rng.choice([90.0, 91.0, 92.0]),
            "val_nll": rng.random(),
            "val_ece": rng.random(),
            "test_acc": rng.random() * 100,
            "test_nll": rng.random(),
            "test_ece": rng.random(),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_best_val_never_reads_test_metrics(seed):
    h = _history(seed=seed)
    best = select_epoch(h, "best-val", "val_acc")
    top = max(r["val_acc"] for r in h)
    ties = [i for i, r in enumerate(h) if r["val_acc"] == top]
    assert best == min(ties, key=lambda i: (h[i]["val_nll"], i))  # ties: lower val NLL, then earlier
    assert select_epoch(h, "best-val", "val_ece") == min(range(len(h)), key=lambda i: (h[i]["val_ece"], i))
    rng = random.Random(100 + seed)
    for _ in range(20):  # any test values: the same choice
        scrambled = [{**r, **{k: rng.random() * 100 for k in r if k.startswith("test_")}} for r in h]
        assert select_epoch(scrambled, "best-val", "val_acc") == best
    assert select_epoch(h, "final") == -1
    with pytest.raises(ValueError, match="must be a validation metric"):
        select_epoch(h, "best-val", "test_acc")


def test_compare_select_best_val_reports_the_chosen_epoch(tmp_path, tiny):
    train_cfg = TrainConfig(
        model="mlp", epochs=4, batch_size=32, progress=False, device="cpu", val_fraction=0.25, lr=0.02
    )
    cc = CompareConfig(losses=["ce", "min-ent"], seeds=[0, 1], train=train_cfg, n_bootstrap=200, select="best-val")
    res = compare_mod.run_compare(cc, tmp_path, dataset=tiny, quiet=True)
    reported = json.loads((tmp_path / "summary.json").read_text())["reported"]
    for loss in cc.losses:
        for seed, rec in zip(cc.seeds, reported[loss], strict=True):
            rows = [
                json.loads(x)
                for x in (compare_mod.run_subdir(tmp_path, loss, seed) / "metrics.jsonl").read_text().splitlines()
            ]
            want = max(range(4), key=lambda i: (rows[i]["val_acc"], -rows[i]["val_nll"], -i))
            assert rec["epoch"] == want + 1 and rec["test_acc"] == rows[want]["test_acc"]
    assert "reported: epoch of best val_acc" in (tmp_path / "summary.md").read_text()
    row = next(r for r in res.rows if r.loss == "ce")
    assert row.metric.mean == pytest.approx(np.mean([r["test_acc"] for r in reported["ce"]]))


def test_run_temperature_matches_a_scipy_fit_on_the_validation_logits(tmp_path, tiny):
    cfg = TrainConfig(model="mlp", epochs=2, batch_size=32, lr=0.1, progress=False, device="cpu", val_fraction=0.3)
    res = train(cfg, tmp_path, dataset=tiny)
    model = build_model("mlp", tiny.input_shape, tiny.num_classes)
    model.load_state_dict(load_checkpoint(tmp_path / "checkpoint.pt")["model"])
    s = make_splits(tiny, None, 0.3, 0)
    z, y = predict(model, s.x_val).numpy(), s.y_val.numpy()

    def nll(t):
        a = z / t
        a = a - a.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(a).sum(1)) - a[np.arange(len(y)), y]))

    ref = optimize.minimize_scalar(nll, bounds=(0.01, 100), method="bounded", options={"xatol": 1e-10}).x
    final = res.final
    assert final["temperature_fitted"] and final["temperature"] == pytest.approx(ref, rel=1e-5)
    assert final["val_nll_ts"] == pytest.approx(nll(ref), rel=1e-6) and final["val_nll_ts"] <= final["val_nll"]
    zt = predict(model, s.x_test) / final["temperature"]
    assert final["test_nll_ts"] == pytest.approx(float(torch.nn.functional.cross_entropy(zt, s.y_test)), rel=1e-9)
    assert final["test_acc"] == pytest.approx(100 * float((zt.argmax(1) == s.y_test).double().mean()))
