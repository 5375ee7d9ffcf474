"""Every bad setting fails before training: one ``infoloss <cmd>: error:`` line, exit code 2, no run
directory left behind; a run directory made with other settings is refused, never mixed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infoloss.cli import main
from infoloss.experiments.data import write_idx

TINY = ["--model", "mlp", "--epochs", "1", "--train-subset", "120", "--no-progress", "--device", "cpu"]


def _fails(argv, match, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    run = tmp_path / "run"
    code = main([*argv, "--out-dir", str(out)] if argv[0] in ("compare", "sweep", "train") else argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"infoloss {argv[0]}: error: "), err
    assert match in lines[0], lines[0]
    assert list(out.iterdir()) == [] and not run.exists()  # nothing written
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "--batch-size", "0"], "batch_size must be >= 1, got 0"),
        (["train", "--train-subset", "-5"], "train_subset must be >= 1"),
        (["train", "--train-subset", "99999"], "train_subset must lie in 1..1347"),
        (["train", "--threads", "-3"], "threads must be >= 0, got -3"),
        (["train", "--epochs", "0"], "epochs must be >= 1, got 0"),
        (["train", "--schedule", "step", "--step-size", "0"], "step_size must be >= 1, got 0"),
        (["train", "--eval-batch-size", "0"], "eval_batch_size must be >= 1"),
        (["train", "--lr", "-1"], "lr must be a positive number"),
        (["train", "--momentum", "1.5"], "momentum must lie in [0, 1)"),
        (["train", "--val-fraction", "1.5"], "val_fraction must lie in [0, 1)"),
        (["train", "--val-fraction", "0.0001"], "leaves no validation example"),
        (["train", "--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
        (["train", "--schedule", "random-restart"], "steered by validation accuracy: set val_fraction > 0"),
        (["train", "--device", "gpu"], "unknown device 'gpu'"),
        (["train", "--num-outputs", "3"], "num_outputs 3 is fewer than the 10 classes"),
        (["train", "--loss", "min-ent:entropy_weight=abc"], "entropy_weight must be a number"),
        (["train", "--loss", "min-ent:bogus=1"], "unexpected keyword argument 'bogus'"),
        (["train", "--loss", "mix-ent:eps=2"], "eps must lie in the open interval (0, 1)"),
        (["train", "--loss", "min-ent:learnable=maybe"], "learnable must be true or false"),
        (["train", "--loss", "pairwise"], "needs a class hierarchy; dataset 'digits' has none"),
        (["train", "--hierarchy", "animals"], "unknown hierarchy 'animals'"),
        (["compare", "--metric", "bogus"], "unknown metric 'bogus'; this configuration records: test_acc"),
        (["compare", "--metric", "val_acc"], "validation and temperature-scaled metrics need val_fraction > 0"),
        (["compare", "--metric", "mistake_severity"], "unknown metric 'mistake_severity'"),
        (["compare", "--losses", "ce", "min-ent:entropy_weight=abc"], "entropy_weight must be a number"),
        (["compare", "--losses", "ce", "pairwise"], "loss spec 'pairwise': this loss needs a class hierarchy"),
        (["compare", "--select", "best-val"], "select 'best-val' needs a validation split"),
        (
            ["compare", "--select", "best-val", "--val-fraction", "0.1", "--select-metric", "test_acc"],
            "select_metric must be a validation metric",
        ),
        (["compare", "--num-seeds", "0"], "--num-seeds must be >= 1"),
        (["compare", "--jobs", "0"], "jobs must be >= 1"),
        (["compare", "--shard", "3/2"], "--shard must be i/n with 0 <= i < n"),
        (["compare", "--batch-size", "0"], "batch_size must be >= 1"),
        (["sweep", "--baselines", "focal"], "baseline 'focal' is not among the sweep's loss families"),
        (["sweep", "--val-fraction", "0"], "this command needs a validation split"),
        (["sweep", "--losses", "ce", "min-ent:0.1"], "value '0.1' comes before any key=value"),
    ],
)
def test_bad_settings_fail_before_training(argv, match, tmp_path, capsys):
    cmd, rest = argv[0], argv[1:]
    base = TINY if cmd == "train" else [*TINY, "--num-seeds", "2"]
    if cmd == "sweep":
        base = [
            *TINY,
            "--num-seeds",
            "2",
            "--val-fraction",
            "0.2",
            "--losses",
            "ce",
            "label-smoothing",
            "confidence-penalty",
        ]
    _fails([cmd, *base, *rest, "--run-dir", str(tmp_path / "run")], match, tmp_path, capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine(tmp_path, capsys):
    line = _fails(
        ["train", *TINY[:-2], "--device", "cuda", "--run-dir", str(tmp_path / "run")],
        "device 'cuda' is not available",
        tmp_path,
        capsys,
    )
    assert "use --device cpu or auto" in line


def test_config_that_is_a_directory(tmp_path, capsys):
    _fails(
        ["compare", "--config", str(tmp_path), "--run-dir", str(tmp_path / "run")],
        "is a directory, not a TOML",
        tmp_path,
        capsys,
    )


def test_empty_test_split(tmp_path, capsys):
    d = tmp_path / "fm"
    d.mkdir()
    rng = np.random.default_rng(0)
    write_idx(d / "train-images-idx3-ubyte", rng.integers(0, 255, (50, 28, 28), dtype=np.uint8))
    write_idx(d / "train-labels-idx1-ubyte", rng.integers(0, 10, 50, dtype=np.uint8))
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((0, 28, 28), dtype=np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(0, dtype=np.uint8))
    _fails(
        [
            "train",
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            str(d),
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--no-progress",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        "fashion-mnist: the test split is empty",
        tmp_path,
        capsys,
    )


def test_evaluate_checkpoint_without_config_or_of_another_model(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--run-dir", str(run)]) == 0
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    capsys.readouterr()
    no_cfg = tmp_path / "nocfg.pt"
    torch.save({k: v for k, v in ckpt.items() if k != "config"}, no_cfg)
    _fails(["evaluate", str(no_cfg)], "nocfg.pt records no config", tmp_path, capsys)
    other = tmp_path / "other.pt"
    torch.save({**ckpt, "config": {**ckpt["config"], "model": "cnn"}}, other)
    _fails(
        ["evaluate", str(other), "--device", "cpu"], "its weights do not fit model 'cnn' on digits", tmp_path, capsys
    )
    _fails(["evaluate", str(run / "checkpoint.pt"), "--batch-size", "0"], "--batch-size must be >= 1", tmp_path, capsys)


def test_compare_run_dir_with_other_settings_is_refused(tmp_path, capsys):
    run = tmp_path / "cmp"
    argv = ["compare", *TINY, "--losses", "ce", "min-ent", "--num-seeds", "2", "--run-dir", str(run)]
    assert main(argv) == 0
    capsys.readouterr()
    summary, config = (run / "summary.md").read_text(), (run / "config.json").read_text()
    for flag, value, shown in (
        ("--epochs", "2", "train.epochs: 1 -> 2"),
        ("--lr", "0.1", "train.lr: 0.05 -> 0.1"),
        ("--model", "cnn", "train.model: 'mlp' -> 'cnn'"),
        ("--weight-decay", "0", "train.weight_decay: 0.0005 -> 0.0"),
    ):
        changed = [*argv, flag, value]
        assert main(changed) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("infoloss compare: error: run directory") and shown in err, err
        assert (run / "summary.md").read_text() == summary and (run / "config.json").read_text() == config
    # only the analysis changes: finished runs are re-analysed, nothing trains, the summary follows
    assert main([*argv, "--metric", "test_ece"]) == 0
    out = capsys.readouterr().out
    assert out.count("finished earlier, skipped") == 4 and "test_ece mean ± std" in out
    # a new loss adds runs under the same settings; the earlier ones are reused
    assert main([*argv[:-5], "--losses", "ce", "min-ent", "sce", "--num-seeds", "2", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.count("finished earlier, skipped") == 4 and out.count("sce seed") == 2
    saved = json.loads((run / "config.json").read_text())
    assert saved["kind"] == "compare" and saved["losses"] == ["ce", "min-ent", "sce"]


def test_sweep_directory_is_not_a_compare_directory(tmp_path, capsys):
    run = tmp_path / "cmp"
    assert main(["compare", *TINY, "--losses", "ce", "--num-seeds", "1", "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "sweep",
                *TINY,
                "--losses",
                "ce",
                "label-smoothing",
                "--baselines",
                "ce",
                "--num-seeds",
                "1",
                "--val-fraction",
                "0.2",
                "--run-dir",
                str(run),
            ]
        )
        == 2
    )
    assert "holds a compare, not a sweep" in capsys.readouterr().err
