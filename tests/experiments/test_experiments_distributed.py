"""DistributedDataParallel on CPU: 2 Gloo processes train one run; aggregated metrics equal a
single-process evaluation of the saved model, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infoloss.experiments.checkpoint import load_checkpoint
from infoloss.experiments.config import TrainConfig
from infoloss.experiments.data import Dataset, load_dataset
from infoloss.experiments.models import build_model
from infoloss.experiments.train import evaluate, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, run_dir: str, ds, cfg: TrainConfig) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    try:
        # every rank gets its own directory argument; only rank 0 may write into it
        train(cfg, run_dir if rank == 0 else os.path.join(run_dir, f"rank{rank}"), dataset=ds)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_two_gloo_processes_match_single_process_evaluation(tmp_path):
    full = load_dataset("digits")
    # odd test size: shards of 61 and 60 examples, no padding
    ds = Dataset("digits", full.x_train[:256], full.y_train[:256], full.x_test[:121], full.y_test[:121], full.classes)
    cfg = TrainConfig(
        dataset="digits", model="cnn", loss="mix-ent-learnable", epochs=2, batch_size=32, device="cpu", progress=False
    )
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), ds, cfg), nprocs=2, join=True)

    assert not (tmp_path / "rank1").exists()  # rank 1 wrote nothing
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and (tmp_path / "final.json").is_file()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    model = build_model("cnn", ds.input_shape, ds.num_classes)
    model.load_state_dict(ckpt["model"])
    single = evaluate(model, ds.x_test, ds.y_test, num_classes=ds.num_classes)
    ddp = rows[-1]
    assert ddp["test_acc"] == single["test_acc"]  # counts are exact
    for k in ("test_nll", "test_ece", "test_entropy"):
        assert ddp[k] == pytest.approx(single[k], rel=1e-9, abs=1e-12), k
    assert ddp["reliability"]["count"] == single["reliability"]["count"]
    assert sum(ddp["entropy_hist"]) == 121
