"""Logs: one line per epoch off a terminal, the bar's loss read every ``log_every`` steps at most;
provenance (code version, source hash, torch, threads, machine) in every config.json."""

from __future__ import annotations

import json
import platform
import socket

import torch

import infoloss
import infoloss.experiments.train as train_mod
from infoloss.experiments.compare import run_compare
from infoloss.experiments.config import CompareConfig, TrainConfig
from infoloss.experiments.provenance import code_version, source_hash
from infoloss.experiments.train import train


def _cfg(**kw):
    base = dict(model="mlp", epochs=3, batch_size=32, progress=True, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_non_tty_log_is_one_line_per_epoch(tmp_path, tiny, capsys):
    train(_cfg(val_fraction=0.25), tmp_path, dataset=tiny)  # pytest's capture is not a terminal
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    for k, line in enumerate(lines, 1):
        assert line.startswith(f"run epoch {k}/3: train loss ") and "test acc" in line and "val acc" in line
    train(_cfg(progress=False, epochs=1), tmp_path / "quiet", dataset=tiny)
    assert capsys.readouterr().err == ""


def test_terminal_bar_reads_the_loss_every_log_every_steps(tmp_path, tiny, monkeypatch):
    calls = {"postfix": 0, "update": 0}

    class FakeBar:
        def __init__(self, *a, **k):
            assert k["mininterval"] >= 0.1 and k["total"] == 8  # 240 examples / batch 32
            self.disable = k["disable"]

        def update(self, n=1):
            calls["update"] += n

        def set_postfix(self, **k):
            calls["postfix"] += 1

        def close(self):
            pass

    class TTY:
        def __init__(self, real):
            self.real = real

        def isatty(self):
            return True

        def write(self, s):
            return self.real.write(s)

        def flush(self):
            self.real.flush()

    monkeypatch.setattr(train_mod, "tqdm", FakeBar)
    monkeypatch.setattr(train_mod.sys, "stderr", TTY(train_mod.sys.stderr))
    train(_cfg(epochs=2, log_every=3), None, dataset=tiny)
    assert calls["update"] == 16  # every step counted (no stale count)
    assert calls["postfix"] == 2 * 3  # steps 3, 6 and the last (8) of each epoch: the loss read 3 times, not 8


def test_provenance_in_every_config(tmp_path, tiny):
    cc = CompareConfig(losses=["ce"], seeds=[0], train=_cfg(epochs=1, progress=False, threads=1), n_bootstrap=100)
    run_compare(cc, tmp_path, dataset=tiny, quiet=True)
    top = json.loads((tmp_path / "config.json").read_text())
    run = json.loads((tmp_path / "runs" / "ce" / "seed0" / "config.json").read_text())
    final = json.loads((tmp_path / "runs" / "ce" / "seed0" / "final.json").read_text())
    for prov in (top["provenance"], run["provenance"][-1], final["provenance"]):
        assert prov["infoloss_version"] == infoloss.__version__
        assert prov["source_sha256"] == source_hash() and len(prov["source_sha256"]) == 64
        assert prov["torch_version"] == torch.__version__
        assert prov["machine"]["hostname"] == socket.gethostname()
        assert prov["machine"]["platform"] == platform.platform()
        assert isinstance(prov["threads"], int) and prov["threads"] >= 1
        assert prov["code_version"] == code_version()
    assert run["provenance"][-1]["threads"] == 1 and run["provenance"][-1]["device"] == "cpu"
    assert f"Code: {code_version()}" in (tmp_path / "summary.md").read_text()
    # a resumed run appends the code that resumed it
    cfg = _cfg(epochs=2, progress=False)
    train(cfg, tmp_path / "r", dataset=tiny, stop_after_epoch=1)
    train(cfg, tmp_path / "r", dataset=tiny)
    assert len(json.loads((tmp_path / "r" / "config.json").read_text())["provenance"]) == 2
