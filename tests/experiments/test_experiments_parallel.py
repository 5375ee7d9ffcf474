"""``--jobs N`` gives the same runs as serial; ``--shard i/n`` + ``infoloss merge`` give the same table."""

from __future__ import annotations

import json

from infoloss.cli import main
from infoloss.experiments.compare import run_compare, run_subdir
from infoloss.experiments.config import CompareConfig, TrainConfig
from infoloss.experiments.grid import plan
from infoloss.experiments.merge import merge

_TIMING = ("images_per_s", "epoch_time_s")


def _rows(path):
    return [
        {k: v for k, v in json.loads(x).items() if k not in _TIMING}
        for x in (path / "metrics.jsonl").read_text().splitlines()
    ]


def test_jobs_equal_serial(tmp_path, capsys):
    argv = [
        "compare",
        "--losses",
        "ce",
        "min-ent",
        "--num-seeds",
        "2",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--train-subset",
        "200",
        "--threads",
        "1",
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main([*argv, "--run-dir", str(tmp_path / "serial")]) == 0
    assert main([*argv, "--run-dir", str(tmp_path / "jobs"), "--jobs", "2"]) == 0
    capsys.readouterr()
    for loss in ("ce", "min-ent"):
        for seed in (0, 1):
            a = _rows(run_subdir(tmp_path / "serial", loss, seed))
            b = _rows(run_subdir(tmp_path / "jobs", loss, seed))
            assert a == b, (loss, seed)  # bit-identical metrics at every epoch
    table = (tmp_path / "serial" / "summary.md").read_text().split("\n| loss")[1]
    assert (tmp_path / "jobs" / "summary.md").read_text().split("\n| loss")[1] == table


def _cc():
    train = TrainConfig(model="mlp", epochs=1, batch_size=32, progress=False, device="cpu")
    return CompareConfig(name="shards", losses=["ce", "min-ent", "sce"], seeds=[0, 1], train=train, n_bootstrap=200)


def test_shards_then_merge_equal_one_grid(tmp_path, tiny):
    whole = run_compare(_cc(), tmp_path / "whole", dataset=tiny, quiet=True)
    shares = [plan(tmp_path, _cc().losses, _cc().seeds, (i, 3)) for i in range(3)]
    assert sorted(p.index for s in shares for p in s) == list(range(6))  # a partition of the grid
    # separate directories, then merged into a new one
    for i in range(3):
        res = run_compare(_cc(), tmp_path / f"s{i}", dataset=tiny, quiet=True, shard=(i, 3))
        assert not (tmp_path / f"s{i}" / "summary.md").exists() and not res.rows
    merged = merge([tmp_path / f"s{i}" for i in range(3)], tmp_path / "merged", quiet=True)
    assert merged.table == whole.table
    # shards sharing one directory (a cluster's shared filesystem), then merge in place
    for i in (1, 0):
        run_compare(_cc(), tmp_path / "shared", dataset=tiny, quiet=True, shard=(i, 2))
    assert merge([tmp_path / "shared"], quiet=True).table == whole.table


def test_merge_refuses_different_grids(tmp_path, tiny, capsys):
    run_compare(_cc(), tmp_path / "a", dataset=tiny, quiet=True, shard=(0, 2))
    other = _cc()
    other.train.lr = 0.1
    run_compare(other, tmp_path / "b", dataset=tiny, quiet=True, shard=(1, 2))
    assert main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")]) == 2
    assert "are different grids (lr: 0.05 -> 0.1)" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "none")]) == 2
    assert "holds no compare/sweep config.json" in capsys.readouterr().err
