"""``infoloss sweep``: grid specs, settings chosen on validation only, Holm across the table's
comparisons, no verdict below five seeds, the plot, and re-analysis without training."""

from __future__ import annotations

import json

import numpy as np
import pytest

import infoloss.experiments.grid as grid_mod
from infoloss.cli import main
from infoloss.experiments.config import ConfigError, SweepConfig, TrainConfig
from infoloss.experiments.grid import run_subdir
from infoloss.experiments.stats import holm
from infoloss.experiments.sweep import parse_grid, run_sweep, summarize_sweep


def test_parse_grid():
    f = parse_grid("min-ent:entropy_weight=-0.2,-0.1,0.05,0.1,0.2,0.5")
    assert f.name == "min-ent" and f.keys == ("entropy_weight",) and len(f.specs) == 6
    assert f.specs[0] == "min-ent:entropy_weight=-0.2" and f.values[0] == (-0.2,)
    g = parse_grid("mix-ent:reverse_weight=0.1,0.2,eps=1e-6,1e-4")
    assert g.specs == (
        "mix-ent:reverse_weight=0.1,eps=1e-6",
        "mix-ent:reverse_weight=0.1,eps=1e-4",
        "mix-ent:reverse_weight=0.2,eps=1e-6",
        "mix-ent:reverse_weight=0.2,eps=1e-4",
    )
    assert parse_grid("ce").specs == ("ce",)
    for bad, match in (
        ("min-ent:0.1", "comes before any key=value"),
        ("nope:x=1", "unknown loss 'nope'"),
        ("min-ent:entropy_weight=0.1,0.1", "repeated value"),
        ("min-ent:entropy_weight=1,entropy_weight=2", "given twice"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_grid(bad)


def _sc(seeds=5, **kw) -> SweepConfig:
    train = TrainConfig(model="mlp", epochs=1, batch_size=32, progress=False, device="cpu", val_fraction=0.25)
    base = dict(
        name="tiny-sweep",
        losses=["ce", "label-smoothing:label_smoothing=0.05,0.3", "min-ent:entropy_weight=0.05,0.5"],
        baselines=["ce", "label-smoothing"],
        seeds=list(range(seeds)),
        n_bootstrap=300,
        train=train,
    )
    base.update(kw)
    return SweepConfig(**base)


def _rows(path):
    return [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny):
    out = tmp_path_factory.mktemp("sweep")
    res = run_sweep(_sc(), out, dataset=tiny, quiet=True)
    return out, res


def test_sweep_chooses_on_validation_and_holm_corrects(swept):
    out, res = swept
    sc = _sc()
    for fam, specs in (
        ("label-smoothing", ["label-smoothing:label_smoothing=0.05", "label-smoothing:label_smoothing=0.3"]),
        ("min-ent", ["min-ent:entropy_weight=0.05", "min-ent:entropy_weight=0.5"]),
    ):
        means = [np.mean([_rows(run_subdir(out, s, k))[-1]["val_acc"] for k in sc.seeds]) for s in specs]
        assert res.chosen[fam] == specs[int(np.argmax(means))]  # first on ties, like np.argmax
    assert res.chosen["ce"] == "ce"
    # min-ent against both baselines: 2 comparisons, Holm-adjusted together
    assert [(f, b) for f, b, _ in res.comparisons] == [("min-ent", "ce"), ("min-ent", "label-smoothing")]
    raw = [p.p_value for _, _, p in res.comparisons]
    if all(p is not None for p in raw):
        assert [p.p_adjusted for _, _, p in res.comparisons] == pytest.approx(holm(raw))
        assert all(p.m == 2 for _, _, p in res.comparisons)
    ce = {k: _rows(run_subdir(out, "ce", k))[-1]["test_acc"] for k in sc.seeds}
    me = {k: _rows(run_subdir(out, res.chosen["min-ent"], k))[-1]["test_acc"] for k in sc.seeds}
    assert res.comparisons[0][2].mean_diff == pytest.approx(np.mean([me[k] - ce[k] for k in sc.seeds]))
    text = (out / "summary.md").read_text()
    assert "Holm-Bonferroni over the" in text and "**(chosen)**" in text and "Code: infoloss " in text
    assert "ECE after TS" in text and "T (val-fitted)" in text
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "reliability.png").is_file()
    saved = json.loads((out / "summary.json").read_text())
    assert saved["chosen"] == res.chosen and len(saved["comparisons"]) == 2


def test_changing_test_metrics_never_changes_a_choice(swept, tiny, tmp_path):
    import shutil

    out, res = swept
    work = tmp_path / "copy"
    shutil.copytree(out, work)
    sc = _sc()
    loser = next(s for s in ("min-ent:entropy_weight=0.05", "min-ent:entropy_weight=0.5") if s != res.chosen["min-ent"])
    for k in sc.seeds:  # the losing setting gets a perfect test score: the choice must not move
        p = run_subdir(work, loser, k)
        rows = [{**r, "test_acc": 100.0, "test_ece": 0.0, "test_nll": 0.0} for r in _rows(p)]
        (p / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = summarize_sweep(sc, work, tiny.num_classes, quiet=True)
    assert again.chosen == res.chosen
    for k in sc.seeds:  # now its validation accuracy is the best: it is chosen
        p = run_subdir(work, loser, k)
        rows = [{**r, "val_acc": 100.0} for r in _rows(p)]
        (p / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert summarize_sweep(sc, work, tiny.num_classes, quiet=True).chosen["min-ent"] == loser


def test_sweep_reanalysis_trains_nothing_and_few_seeds_give_no_verdict(swept, tiny, monkeypatch):
    out, res = swept

    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(grid_mod, "train", no_training)
    ece = run_sweep(_sc(metric="test_ece_ts"), out, dataset=tiny, quiet=True)
    assert ece.chosen == res.chosen  # the choice is on validation, whatever metric is reported
    assert "Comparisons on test_ece_ts" in (out / "summary.md").read_text()
    three = run_sweep(_sc(seeds=3), out, dataset=tiny, quiet=True)
    assert all(p.verdict.startswith("no verdict: 3 seeds, a verdict needs >= 5") for _, _, p in three.comparisons)


def test_sweep_cli(tmp_path, capsys):
    run = tmp_path / "s"
    argv = [
        "sweep",
        "--losses",
        "ce",
        "confidence-penalty:entropy_weight=-0.1,-0.3",
        "--baselines",
        "ce",
        "--num-seeds",
        "2",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--train-subset",
        "200",
        "--val-fraction",
        "0.2",
        "--no-progress",
        "--device",
        "cpu",
        "--run-dir",
        str(run),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "## Comparisons on test_acc" in out and "- **confidence-penalty** vs ce: no verdict: 2 seeds" in out
    assert json.loads((run / "config.json").read_text())["kind"] == "sweep"
