"""Typed configs from TOML and flags (flags win), and the CLI's clear errors and exit codes."""

from __future__ import annotations

import json
import re

import pytest

from infoloss.cli import build_parser, main
from infoloss.experiments.cli import compare_config_from_args, default_compare_config, train_config_from_args
from infoloss.experiments.config import CompareConfig, ConfigError, TrainConfig, from_dict, load_toml


def test_from_dict_types_and_unknown_keys():
    cfg = from_dict(TrainConfig, {"epochs": 3, "lr": 1, "data-dir": "/x", "train_subset": None})
    assert cfg.epochs == 3 and cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.data_dir == "/x"
    with pytest.raises(ConfigError, match="unknown TrainConfig key 'epoch'; valid keys: name, dataset"):
        from_dict(TrainConfig, {"epoch": 3})
    with pytest.raises(ConfigError, match="TrainConfig.epochs: expected an integer, got '3'"):
        from_dict(TrainConfig, {"epochs": "3"})
    with pytest.raises(ConfigError, match="TrainConfig.progress: expected true/false, got 1"):
        from_dict(TrainConfig, {"progress": 1})
    with pytest.raises(ConfigError, match="CompareConfig.seeds: expected an integer, got 'a'"):
        from_dict(CompareConfig, {"seeds": ["a"]})


def test_toml_file_and_flags_override(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        'name = "x"\nlosses = ["ce", "mix-ent"]\nseeds = [3, 4]\n[train]\nepochs = 7\nlr = 0.1\ndataset = "digits"\n'
    )
    assert load_toml(f)["train"]["epochs"] == 7
    args = build_parser().parse_args(["compare", "--config", str(f), "--lr", "0.2", "--no-progress"])
    cc = compare_config_from_args(args)
    assert (cc.name, cc.losses, cc.seeds) == ("x", ["ce", "mix-ent"], [3, 4])
    assert (cc.train.epochs, cc.train.lr, cc.train.progress) == (7, 0.2, False)  # file, flag, flag
    args = build_parser().parse_args(["compare", "--config", str(f), "--num-seeds", "2", "--losses", "ce"])
    cc = compare_config_from_args(args)
    assert cc.seeds == [0, 1] and cc.losses == ["ce"]
    # train accepts the same file (its [train] table) or a flat one
    t = train_config_from_args(build_parser().parse_args(["train", "--config", str(f), "--epochs", "2"]))
    assert (t.epochs, t.lr) == (2, 0.1)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(ConfigError, match=r"invalid TOML in .*bad\.toml"):
        load_toml(bad)
    with pytest.raises(ConfigError, match=r"config file not found: .*none\.toml"):
        load_toml(tmp_path / "none.toml")


def test_embedded_default_is_digits_and_offline():
    cc = default_compare_config()
    assert cc.train.dataset == "digits" and {"ce", "min-ent", "mix-ent"} <= set(cc.losses)
    assert len(cc.seeds) >= 5 and cc.baseline == "ce"


def test_subcommands_are_registered():
    parser = build_parser()
    for cmd in ("compare", "train", "evaluate"):
        args = parser.parse_args([cmd, "ckpt.pt"] if cmd == "evaluate" else [cmd])
        assert callable(args.func)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["compare", "--losses", "ce", "bogus"], "unknown loss 'bogus'; valid losses: ce,"),
        (["compare", "--dataset", "cifar"], "unknown dataset 'cifar'; valid datasets: digits,"),
        (["compare", "--model", "resnet"], "unknown model 'resnet'; valid models: mlp, cnn"),
        (["train", "--loss", "bogus", "--epochs", "1"], "unknown loss 'bogus'"),
    ],
)
def test_cli_errors_are_clear(argv, match, tmp_path, capsys):
    assert main([*argv, "--out-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert re.search(match, err), err


def test_cli_missing_data_dir_names_the_path(tmp_path, capsys):
    missing = tmp_path / "fmnist"
    code = main(["train", "--dataset", "fashion-mnist", "--data-dir", str(missing), "--out-dir", str(tmp_path)])
    assert code == 2
    assert f"fashion-mnist: data directory {missing} does not exist" in capsys.readouterr().err


def test_cli_train_then_evaluate(tmp_path, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "--model",
                "mlp",
                "--epochs",
                "1",
                "--train-subset",
                "200",
                "--run-dir",
                str(run),
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    final = json.loads((run / "final.json").read_text())["final"]
    capsys.readouterr()
    assert main(["evaluate", str(run / "checkpoint.pt"), "--json", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["epoch"] == 1
    for k in ("test_acc", "test_nll", "test_ece", "test_entropy"):
        assert metrics[k] == pytest.approx(final[k], rel=1e-9)
    (tmp_path / "broken.pt").write_bytes(b"junk")
    assert main(["evaluate", str(tmp_path / "broken.pt")]) == 2
    assert "broken.pt is corrupted or truncated" in capsys.readouterr().err


def test_shipped_config_files_parse_and_default_file_matches_embedded():
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(configs.glob("*.toml"))
    if not files:
        pytest.skip("configs/ not present")
    from infoloss.experiments.compare import validate
    from infoloss.experiments.config import SweepConfig
    from infoloss.experiments.sweep import validate_sweep

    for f in files:
        data = load_toml(f)
        if "baselines" in data:  # a sweep
            validate_sweep(from_dict(SweepConfig, data))
        else:
            cc = from_dict(CompareConfig, data)
            assert cc.baseline in cc.losses, f
            validate(cc)
    default = configs / "default-digits.toml"
    if default.is_file():
        assert from_dict(CompareConfig, load_toml(default)) == default_compare_config()


def test_cli_compare_end_to_end(tmp_path, capsys):
    run = tmp_path / "cmp"
    argv = [
        "compare",
        "--losses",
        "ce",
        "mix-ent",
        "--num-seeds",
        "2",
        "--epochs",
        "1",
        "--model",
        "mlp",
        "--train-subset",
        "200",
        "--run-dir",
        str(run),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "- **mix-ent** vs ce: " in out and f"run directory: {run}" in out
    assert (run / "summary.md").is_file() and (run / "final_accuracy.png").is_file()
    saved = json.loads((run / "config.json").read_text())
    assert saved["losses"] == ["ce", "mix-ent"] and saved["train"]["train_subset"] == 200
