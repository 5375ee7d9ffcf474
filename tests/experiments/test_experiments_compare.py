"""End to end: a tiny ``compare`` writes every output file, prints the table and resumes by skipping."""

from __future__ import annotations

import json

import pytest

import infoloss.experiments.compare as compare_mod
import infoloss.experiments.grid as grid_mod
from infoloss.experiments.config import CompareConfig, ConfigError, TrainConfig
from infoloss.experiments.report import PLOT_FILES


def _cc(**kw) -> CompareConfig:
    train = TrainConfig(dataset="digits", model="mlp", epochs=2, batch_size=32, progress=False, device="cpu")
    return CompareConfig(
        name="tiny", losses=["ce", "min-ent", "sce"], seeds=[0, 1, 2], train=train, n_bootstrap=500, **kw
    )


def test_compare_writes_every_output_and_resumes(tmp_path, tiny, capsys, monkeypatch):
    res = compare_mod.run_compare(_cc(), tmp_path, dataset=tiny)
    out = capsys.readouterr().out
    assert "| loss | seeds | test acc (%) mean ± std | 95% t-interval" in out
    assert "- **min-ent** vs ce: " in out and "- **sce** vs ce: " in out
    for name in ("config.json", "summary.md", "summary.json", *PLOT_FILES):
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, name
    for png in PLOT_FILES:
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for loss in ("ce", "min-ent", "sce"):
        for seed in (0, 1, 2):
            run = compare_mod.run_subdir(tmp_path, loss, seed)
            for name in ("config.json", "metrics.jsonl", "checkpoint.pt", "final.json"):
                assert (run / name).is_file(), (loss, seed, name)
            assert json.loads((run / "config.json").read_text())["loss"] == loss
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["loss"] for r in summary["rows"]] == ["ce", "min-ent", "sce"]
    assert summary["rows"][1]["paired"]["n"] == 3
    assert (tmp_path / "summary.md").read_text().endswith(res.table)
    assert json.loads((tmp_path / "config.json").read_text())["losses"] == ["ce", "min-ent", "sce"]

    # resumed: every run is finished, so nothing trains and the same table comes out
    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(grid_mod, "train", no_training)
    again = compare_mod.run_compare(_cc(), tmp_path, dataset=tiny)
    assert capsys.readouterr().out.count("finished earlier, skipped") == 9
    assert again.table == res.table


def test_compare_resumes_a_partial_grid(tmp_path, tiny, monkeypatch, capsys):
    real_train = grid_mod.train
    calls = {"n": 0}

    def interrupt_third(cfg, run_dir, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            return real_train(cfg, run_dir, stop_after_epoch=1, **kw)  # as if Ctrl-C after epoch 1
        return real_train(cfg, run_dir, **kw)

    monkeypatch.setattr(grid_mod, "train", interrupt_third)
    cc = _cc()
    cc.losses, cc.seeds = ["ce", "min-ent"], [0, 1]
    part = compare_mod.run_compare(cc, tmp_path, dataset=tiny)
    assert part.interrupted and "Partial grid: 2 of 4 runs missing" in (tmp_path / "summary.md").read_text()
    monkeypatch.setattr(grid_mod, "train", real_train)
    full = compare_mod.run_compare(cc, tmp_path, dataset=tiny)
    assert not full.interrupted and all(len(v) == 2 for v in full.runs.values())
    assert capsys.readouterr().out.count("finished earlier, skipped") == 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"losses": ["ce", "nope"]}, "unknown loss 'nope'; valid losses: ce, label-smoothing"),
        ({"baseline": "focal"}, r"baseline 'focal' is not among the losses \['ce', 'min-ent', 'sce'\]"),
        ({"seeds": [0, 0]}, "must not repeat"),
    ],
)
def test_compare_validates_before_training(tmp_path, change, match):
    cc = _cc()
    for k, v in change.items():
        setattr(cc, k, v)
    with pytest.raises(ConfigError, match=match):
        compare_mod.run_compare(cc, tmp_path)


def test_compare_unknown_model_and_dataset(tmp_path):
    cc = _cc()
    cc.train.model = "vit"
    with pytest.raises(ConfigError, match="unknown model 'vit'; valid models: mlp, cnn, vgg5, spinal-vgg5"):
        compare_mod.run_compare(cc, tmp_path)
    cc.train.model, cc.train.dataset = "mlp", "svhn"
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'; valid datasets: digits, fashion-mnist"):
        compare_mod.run_compare(cc, tmp_path)
