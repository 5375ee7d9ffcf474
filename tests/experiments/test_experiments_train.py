"""Training: exact resume after Ctrl-C, checkpoints (weights_only, corrupted/truncated), learnable losses."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

import infoloss.experiments.train as train_mod
from infoloss.experiments.checkpoint import CheckpointError, load_checkpoint, rng_state, set_rng_state
from infoloss.experiments.config import ConfigError, TrainConfig
from infoloss.experiments.train import train

_TIMING = ("images_per_s", "epoch_time_s")


def _cfg(**kw) -> TrainConfig:
    base = dict(
        dataset="digits",
        model="cnn",
        loss="mix-ent-learnable",
        epochs=4,
        batch_size=32,
        lr=0.05,
        progress=False,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def _strip(history):
    return [{k: v for k, v in row.items() if k not in _TIMING} for row in history]


def test_resume_after_ctrl_c_matches_uninterrupted_run(tmp_path, tiny, monkeypatch, capsys):
    cfg = _cfg()
    full = train(cfg, tmp_path / "full", dataset=tiny)
    assert not full.interrupted and len(full.history) == 4

    real_evaluate = train_mod.evaluate
    calls = {"n": 0}

    def interrupt_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", interrupt_in_epoch_3)
    part = train(cfg, tmp_path / "resumed", dataset=tiny)
    assert part.interrupted and len(part.history) == 2
    assert "checkpoint after epoch 2 kept in" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 2
    assert not (tmp_path / "resumed" / "final.json").exists()

    monkeypatch.setattr(train_mod, "evaluate", real_evaluate)
    resumed = train(cfg, tmp_path / "resumed", dataset=tiny)
    assert not resumed.interrupted
    assert _strip(resumed.history) == _strip(full.history)  # exactly equal metrics, every epoch
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)
    for k in a["loss"]:  # the learnable loss weights too
        torch.testing.assert_close(a["loss"][k], b["loss"][k], rtol=0, atol=0)
    assert (tmp_path / "resumed" / "final.json").is_file()


def test_stop_after_epoch_then_resume(tmp_path, tiny):
    cfg = _cfg(loss="ce", model="mlp", epochs=3, schedule="step", step_size=1, optimizer="adamw", lr=0.01)
    full = train(cfg, tmp_path / "a", dataset=tiny)
    assert train(cfg, tmp_path / "b", dataset=tiny, stop_after_epoch=1).interrupted
    assert _strip(train(cfg, tmp_path / "b", dataset=tiny).history) == _strip(full.history)


def test_run_directory_files_and_metrics(tmp_path, tiny):
    res = train(_cfg(loss="min-ent", epochs=2), tmp_path, dataset=tiny)
    for name in ("config.json", "metrics.jsonl", "checkpoint.pt", "final.json"):
        assert (tmp_path / name).is_file(), name
    row = res.final
    for k in ("train_loss", "test_acc", "test_nll", "test_ece", "test_entropy", "images_per_s", "lr"):
        assert np.isfinite(row[k]), k
    assert 0 <= row["test_ece"] <= 1 and 0 <= row["test_acc"] <= 100
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_learnable_loss_weights_are_optimized(tmp_path, tiny):
    res = train(_cfg(loss="min-ent-learnable", epochs=2), None, dataset=tiny)
    first, last = res.history[0]["loss_params"], res.history[-1]["loss_params"]
    assert first and set(first) == set(last)
    assert any(first[k] != last[k] for k in first)


def test_paired_runs_share_initialization_and_data_order(tiny):
    a = train(_cfg(loss="ce", epochs=1), None, dataset=tiny)
    b = train(_cfg(loss="ce", epochs=1), None, dataset=tiny)
    assert _strip(a.history) == _strip(b.history)  # same seed: bit-identical run
    c = train(_cfg(loss="ce", epochs=1, seed=1), None, dataset=tiny)
    assert _strip(c.history) != _strip(a.history)


def test_resume_with_other_config_is_refused(tmp_path, tiny):
    train(_cfg(loss="ce", epochs=1), tmp_path, dataset=tiny)
    with pytest.raises(ConfigError, match=r"holds a run with other settings \(loss: 'ce' -> 'min-ent'\)"):
        train(_cfg(loss="min-ent", epochs=1), tmp_path, dataset=tiny)


@pytest.mark.parametrize(
    ("key", "value"),
    [("weight_decay", 1e-3), ("momentum", 0.5), ("gamma", 0.5), ("val_fraction", 0.2), ("train_subset", 200)],
)
def test_resume_refuses_any_changed_setting(tmp_path, tiny, key, value):
    cfg = _cfg(loss="ce", model="mlp", epochs=3)
    assert train(cfg, tmp_path, dataset=tiny, stop_after_epoch=1).interrupted
    before = (tmp_path / "config.json").read_text()
    changed = dataclasses.replace(cfg, **{key: value})
    with pytest.raises(ConfigError, match=rf"other settings \({key}: "):
        train(changed, tmp_path, dataset=tiny)
    assert (tmp_path / "config.json").read_text() == before  # nothing rewritten
    # the checkpoint alone (config.json lost) refuses it too
    (tmp_path / "config.json").unlink()
    with pytest.raises(
        ConfigError, match=rf"cannot resume .*checkpoint.pt: it was trained with other settings \({key}: "
    ):
        train(changed, tmp_path, dataset=tiny)
    # knobs that do not change what is computed may change
    res = train(
        dataclasses.replace(cfg, threads=1, progress=False, eval_batch_size=64, name="x"), tmp_path, dataset=tiny
    )
    assert not res.interrupted and len(res.history) == 3


def test_checkpoint_without_config_or_of_another_model_is_refused(tmp_path, tiny):
    cfg = _cfg(loss="ce", model="mlp", epochs=2)
    train(cfg, tmp_path, dataset=tiny, stop_after_epoch=1)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del ckpt["config"]
    torch.save(ckpt, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt records no config"):
        train(cfg, tmp_path, dataset=tiny)
    # a checkpoint whose weights are another model's, under a config that names this one
    other = tmp_path / "other"
    train(_cfg(loss="ce", model="cnn", epochs=2), other, dataset=tiny, stop_after_epoch=1)
    ck = torch.load(other / "checkpoint.pt", weights_only=True)
    ck["config"]["model"] = "mlp"
    torch.save(ck, other / "checkpoint.pt")
    (other / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"does not fit model 'mlp'"):
        train(cfg, other, dataset=tiny)


def test_truncated_and_corrupted_checkpoints_name_the_file(tmp_path, tiny):
    train(_cfg(loss="ce", model="mlp", epochs=1), tmp_path, dataset=tiny)
    good = (tmp_path / "checkpoint.pt").read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint .*trunc\.pt is corrupted or truncated"):
        load_checkpoint(trunc)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt is corrupted or truncated"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not an infoloss harness checkpoint"):
        load_checkpoint(other)
    # a corrupted checkpoint in a run directory stops training with the same clear error
    (tmp_path / "checkpoint.pt").write_bytes(good[:100])
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt is corrupted or truncated"):
        train(_cfg(loss="ce", model="mlp", epochs=1), tmp_path, dataset=tiny)


def test_checkpoint_loads_with_weights_only(tmp_path, tiny):
    train(_cfg(loss="ce", model="mlp", epochs=1), tmp_path, dataset=tiny)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "loss", "epoch", "rng", "history", "config"} <= set(ckpt)


def test_rng_state_round_trip():
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    state = rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws  # noqa: NPY002


def test_bad_optimizer_and_schedule(tiny):
    with pytest.raises(ConfigError, match="unknown optimizer 'lbfgs'; valid optimizers: sgd, adam, adamw"):
        train(_cfg(optimizer="lbfgs"), None, dataset=tiny)
    with pytest.raises(ConfigError, match="unknown schedule 'linear'; valid schedules: cosine, step, none"):
        train(_cfg(schedule="linear"), None, dataset=tiny)


def test_unknown_loss_lists_valid_names(tiny):
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid losses: ce, label-smoothing, min-ent"):
        train(_cfg(loss="hinge"), None, dataset=tiny)


def test_hierarchy_loss_without_hierarchy(tiny):
    with pytest.raises(ValueError, match="this loss needs a class hierarchy; dataset 'digits' has none"):
        train(_cfg(loss="expected-cost"), None, dataset=tiny)
