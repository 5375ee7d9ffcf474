"""One training run, top to bottom: seed, data, model, loss, optimizer, then epochs of train + evaluate.

Files in the run directory (rank 0 only, every write atomic): ``config.json``, ``metrics.jsonl`` (one
row per epoch), ``checkpoint.pt`` (after every epoch; resumed from automatically) and ``final.json``
(written last: its presence marks the run finished).
"""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, TensorDataset
from tqdm.auto import tqdm

from infoloss.experiments import atomic
from infoloss.experiments.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from infoloss.experiments.config import ConfigError, TrainConfig, to_dict
from infoloss.experiments.data import Dataset, load_dataset
from infoloss.experiments.distributed import (
    DistInfo,
    all_reduce_sum,
    broadcast_buffers,
    init_distributed,
    pick_device,
)
from infoloss.experiments.losses import LossContext, build_loss, class_distance_matrix
from infoloss.experiments.metrics import EvalSums, accumulate
from infoloss.experiments.models import build_model

__all__ = ["RunResult", "train", "evaluate", "seed_everything", "loss_parameters"]

# config keys that must match when resuming from a checkpoint
_RESUME_KEYS = ("dataset", "train_subset", "model", "loss", "seed", "epochs", "batch_size", "optimizer",
                "lr", "schedule")  # fmt: skip


@dataclass
class RunResult:
    """What :func:`train` returns: the per-epoch metric rows, the last one, and whether it stopped early."""

    run_dir: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's metrics row (empty when no epoch finished)."""
        return self.history[-1] if self.history else {}


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (seed the legacy global RNG that third-party code uses)
    torch.manual_seed(seed)


def loss_parameters(loss: nn.Module) -> dict[str, float]:
    """Scalar learnable parameters of a loss by name (e.g. the log-variances of learnable MIN-ENT)."""
    return {n: float(p.detach().float().mean()) for n, p in loss.named_parameters()}


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise ConfigError(f"amp must be one of auto, bf16, fp16, off; got {amp!r}")
    if amp == "off" or device.type != "cuda":
        return None  # autocast only on CUDA; CPU/MPS runs stay in float32 (and bit-reproducible)
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "bf16":
        return torch.bfloat16
    return torch.float16


def _optimizer(cfg: TrainConfig, model: nn.Module, loss: nn.Module) -> torch.optim.Optimizer:
    groups: list[dict[str, Any]] = [{"params": list(model.parameters())}]
    loss_params = list(loss.parameters())
    if loss_params:  # learnable loss weights: optimized too, never weight-decayed
        groups.append({"params": loss_params, "weight_decay": 0.0})
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; valid optimizers: sgd, adam, adamw")


def _scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "none":
        return None
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; valid schedules: cosine, step, none")


def _subset(ds: Dataset, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    if n is None or n >= len(ds.y_train):
        return ds.x_train, ds.y_train
    # a fixed subset (same for every seed and loss), so seeds vary only initialization and data order
    idx = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(0))[:n]
    return ds.x_train[idx], ds.y_train[idx]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    num_classes: int,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
    info: DistInfo | None = None,
    distances: torch.Tensor | None = None,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Score ``model`` on ``(x, y)``: accuracy (%), NLL, ECE (15 bins), mean entropy, mistake severity.

    Under several processes each rank scores the examples ``rank::world_size`` (no padding, no
    duplicates) and the sums are all-reduced, so the result equals a single-process evaluation.

    Args:
        model: maps (B, ...) inputs to (B, C) logits; put in eval mode here.
        x: (N, ...) inputs; y: (N,) int64 labels.
        num_classes: C.
        batch_size: evaluation batch size.
        device: where to run the model.
        info: this process's rank/world size (None: single process).
        distances: optional (C, C) class distances for mistake severity.

    Returns:
        The dict of :meth:`EvalSums.metrics` (``test_acc``, ``test_nll``, ``test_ece``, ...).
    """
    info = info or DistInfo()
    device = torch.device(device)
    model.eval()
    xs, ys = x[info.rank :: info.world_size], y[info.rank :: info.world_size]

    def batches():  # type: ignore[no-untyped-def]
        for i in range(0, len(ys), batch_size):
            xb = xs[i : i + batch_size].to(device, non_blocking=True)
            ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
            with ctx:
                logits = model(xb)
            yield logits.float(), ys[i : i + batch_size]

    sums = accumulate(batches(), num_classes, distances)
    if info.distributed:
        v = all_reduce_sum(sums.vector().to(device), info)
        sums = EvalSums.from_vector(num_classes, v)
    return sums.metrics()


def train(
    cfg: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    dataset: Dataset | None = None,
    stop_after_epoch: int | None = None,
) -> RunResult:
    """Train one configuration, evaluating on the test split after every epoch.

    Resumes from ``run_dir/checkpoint.pt`` when it exists (same seed: same final metrics as an
    uninterrupted run on CPU). Under ``torchrun`` (``WORLD_SIZE > 1``) trains with
    DistributedDataParallel; ``cfg.batch_size`` is the global batch, split across ranks.

    Args:
        cfg: the run's configuration.
        run_dir: where files go (None: write nothing).
        dataset: an already loaded dataset (None: load ``cfg.dataset``).
        stop_after_epoch: stop after this epoch as if interrupted (for tests and time-sliced jobs).

    Returns:
        A :class:`RunResult`; ``interrupted`` is True after Ctrl-C or ``stop_after_epoch``.

    Example:
        >>> res = train(TrainConfig(dataset="digits", model="mlp", epochs=2, progress=False))  # doctest: +SKIP
        >>> res.final["test_acc"]  # doctest: +SKIP
        93.1
    """
    # --- where we run ---
    device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    info = init_distributed(device)
    amp_dtype = _amp_dtype(cfg.amp, device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(run_dir) if run_dir is not None else None
    write = out is not None and info.is_main

    # --- data, model, loss, optimizer (seeded: same init for every loss at a given seed) ---
    seed_everything(cfg.seed)
    ds = dataset if dataset is not None else load_dataset(cfg.dataset, cfg.data_dir, cfg.download)
    x_train, y_train = _subset(ds, cfg.train_subset)
    ctx = LossContext(ds.num_classes, ds.name, cfg.hierarchy)
    distances = class_distance_matrix(ctx)
    model = build_model(cfg.model, ds.input_shape, ds.num_classes).to(device)
    loss_fn = build_loss(cfg.loss, ctx).to(device)
    opt = _optimizer(cfg, model, loss_fn)
    sched = _scheduler(cfg, opt)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    net: nn.Module = model
    if info.distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    train_set = TensorDataset(x_train, y_train)
    order = torch.Generator()
    sampler: DistributedSampler | RandomSampler
    if info.distributed:
        sampler = DistributedSampler(train_set, info.world_size, info.rank, shuffle=True, seed=cfg.seed)
    else:
        sampler = RandomSampler(train_set, generator=order)
    per_rank_batch = max(cfg.batch_size // info.world_size, 1)
    loader = DataLoader(train_set, batch_size=per_rank_batch, sampler=sampler, num_workers=cfg.num_workers,
                        pin_memory=device.type == "cuda", drop_last=False)  # fmt: skip

    # --- resume ---
    result = RunResult(out)
    start_epoch = 0
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    if ckpt_path is not None and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)  # on CPU: RNG states must stay CPU tensors
        saved = ckpt.get("config", {})
        for k in _RESUME_KEYS:
            if k in saved and saved[k] != getattr(cfg, k):
                raise ConfigError(
                    f"cannot resume {ckpt_path}: it was trained with {k}={saved[k]!r}, this config has "
                    f"{k}={getattr(cfg, k)!r} (use another run directory)"
                )
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        loss_fn.load_state_dict(ckpt["loss"])
        if sched is not None and ckpt.get("scheduler") is not None:
            sched.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        start_epoch = int(ckpt["epoch"])
        result.history = list(ckpt.get("history", []))
    if write:
        assert out is not None
        atomic.write_json(out / "config.json", to_dict(cfg))

    def checkpoint(epoch: int) -> None:
        if not write or ckpt_path is None:
            return
        save_checkpoint(ckpt_path, {
            "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else None,
            "loss": loss_fn.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "rng": rng_state(), "history": result.history, "config": to_dict(cfg),
        })  # fmt: skip

    if ckpt_path is not None and not ckpt_path.is_file():
        checkpoint(0)  # so that Ctrl-C in the first epoch still leaves a resumable checkpoint

    # --- epochs ---
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.epochs):
            net.train()
            loss_fn.train()
            order.manual_seed(cfg.seed * 1_000_003 + epoch)  # data order depends on (seed, epoch) only
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(epoch)
            loss_sum = torch.zeros(2, dtype=torch.float64, device=device)  # (sum of losses, examples)
            t0 = time.perf_counter()
            bar = tqdm(loader, desc=f"{cfg.name} {epoch + 1}/{cfg.epochs}", leave=False,
                       disable=not (cfg.progress and info.is_main), unit="batch")  # fmt: skip
            for xb, yb in bar:
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
                    loss = loss_fn(net(xb).float(), yb)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if info.distributed:  # DDP syncs the model's grads; the loss's own weights we average here
                    for p in loss_fn.parameters():
                        if p.grad is not None:
                            all_reduce_sum(p.grad, info).div_(info.world_size)
                scaler.step(opt)
                scaler.update()
                loss_sum[0] += loss.detach().double() * len(yb)
                loss_sum[1] += len(yb)
                seen = float(loss_sum[1]) * info.world_size
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
            all_reduce_sum(loss_sum, info)
            train_time = time.perf_counter() - t0
            lr = opt.param_groups[0]["lr"]
            if sched is not None:
                sched.step()

            broadcast_buffers(model, info)  # every rank scores (and rank 0 saves) the same BN statistics
            metrics = evaluate(model, ds.x_test, ds.y_test, num_classes=ds.num_classes,
                               batch_size=cfg.eval_batch_size, device=device, info=info,
                               distances=distances, amp_dtype=amp_dtype)  # fmt: skip
            row = {
                "epoch": epoch + 1,
                "train_loss": float(loss_sum[0] / loss_sum[1].clamp_min(1)),
                "lr": lr,
                "images_per_s": float(loss_sum[1]) / train_time,
                "epoch_time_s": train_time,
                **metrics,
                "loss_params": loss_parameters(loss_fn),
            }
            if not math.isfinite(row["train_loss"]):
                raise FloatingPointError(f"{cfg.name}: training loss is {row['train_loss']} at epoch {epoch + 1}")
            result.history.append(row)
            if write:
                assert out is not None
                atomic.write_jsonl(out / "metrics.jsonl", result.history)
            checkpoint(epoch + 1)
            if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < cfg.epochs:
                result.interrupted = True
                return result
    except KeyboardInterrupt:
        # The checkpoint of the last finished epoch (or of the initial state) is already on disk.
        done = len(result.history)
        if info.is_main:
            print(f"\ninterrupted in epoch {epoch + 1}; checkpoint after epoch {done} kept in {ckpt_path}; "
                  f"run the same command again to resume")  # fmt: skip
        result.interrupted = True
        return result

    if write:
        assert out is not None
        atomic.write_json(out / "final.json", {"config": to_dict(cfg), "final": result.final,
                                               "epochs": len(result.history)})  # fmt: skip
    return result
