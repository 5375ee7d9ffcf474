"""One training run, top to bottom: seed, data, model, loss, optimizer, then epochs of train + evaluate.

Files in the run directory (rank 0 only, every write atomic): ``config.json``, ``metrics.jsonl`` (one
row per epoch), ``checkpoint.pt`` (after every epoch; resumed from automatically) and ``final.json``
(written last: its presence marks the run finished).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
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
from infoloss.experiments.augment import apply_augment
from infoloss.experiments.checkpoint import (
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from infoloss.experiments.config import (
    ConfigError,
    TrainConfig,
    check_train_config,
    key_differences,
    run_key,
    to_dict,
)
from infoloss.experiments.data import Dataset, Splits, load_dataset, make_splits
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
from infoloss.experiments.provenance import provenance
from infoloss.metrics import fit_temperature

__all__ = [
    "RunResult",
    "train",
    "evaluate",
    "predict",
    "seed_everything",
    "loss_parameters",
    "check_run",
    "check_loss",
    "check_run_dir",
]

_TS_KEYS = ("nll", "ece", "entropy")  # metrics that temperature scaling changes (accuracy does not)


@dataclass
class RunResult:
    """What :func:`train` returns: the per-epoch metric rows, the last one, and whether it stopped early.

    Attributes:
        run_dir: the run directory (None when nothing was written).
        history: one metrics dict per finished epoch.
        interrupted: True after Ctrl-C or ``stop_after_epoch``.

    Example:
        >>> RunResult(None, [{"test_acc": 90.0}, {"test_acc": 91.0}]).final
        {'test_acc': 91.0}
    """

    run_dir: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's metrics row (empty when no epoch finished)."""
        return self.history[-1] if self.history else {}


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and CUDA).

    Args:
        seed: the seed.

    Example:
        >>> seed_everything(0)
        >>> torch.rand(1)
        tensor([0.4963])
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (seed the legacy global RNG that third-party code uses)
    torch.manual_seed(seed)


def loss_parameters(loss: nn.Module) -> dict[str, float]:
    """Return the learnable parameters of a loss by name, each as the float mean of its values.

    Args:
        loss: a loss module (e.g. learnable MIN-ENT, whose parameter holds log-variances).

    Returns:
        Parameter name -> mean value; empty for a loss without parameters.

    Example:
        >>> from infoloss.experiments.losses import LossContext, build_loss
        >>> loss_parameters(build_loss("ce", LossContext(3)))
        {}
        >>> {k: round(v, 4) for k, v in loss_parameters(build_loss("min-ent-learnable", LossContext(3))).items()}
        {'log_vars': 1.1513}
    """
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
    if cfg.schedule in ("none", "random-restart"):  # random-restart: set by train() after each epoch
        return None
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; valid schedules: cosine, step, none, random-restart")


def _num_outputs(cfg: TrainConfig, ds: Dataset) -> int:
    n = cfg.num_outputs or ds.num_classes
    if n < ds.num_classes:
        raise ConfigError(f"num_outputs {n} is fewer than the {ds.num_classes} classes of {ds.name}")
    return n


def check_run(cfg: TrainConfig, ds: Dataset, *, model: bool = True) -> Splits:
    """Validate everything a run of ``cfg`` on ``ds`` needs before it trains; write nothing.

    Checks the settings (:func:`~infoloss.experiments.config.check_train_config`), the device, the splits
    (subset in range, validation and test not empty), the loss spec (parsed and built, hierarchy present
    where the loss needs one) and, with ``model``, that the model accepts the images.

    Args:
        cfg: the run's configuration.
        ds: the loaded dataset.
        model: also build the model once to check it accepts the images.

    Returns:
        The run's :class:`~infoloss.experiments.data.Splits`.

    Raises:
        ConfigError: naming the bad setting (also an unavailable device, a bad split, a loss or hierarchy
            that does not fit, or a model that cannot take the images).
    """
    check_train_config(cfg)
    pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    splits = make_splits(ds, cfg.train_subset, cfg.val_fraction, cfg.val_seed)
    n_out = _num_outputs(cfg, ds)
    ctx = LossContext(n_out, ds.name, cfg.hierarchy)
    try:
        class_distance_matrix(ctx)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check_loss(cfg.loss, ctx)
    if model:
        try:
            build_model(cfg.model, ds.input_shape, n_out)
        except (ValueError, TypeError) as e:
            raise ConfigError(str(e)) from None
    return splits


def check_loss(spec: str, ctx: LossContext) -> None:
    """Parse and build the loss ``spec`` (then drop it): bad names, keywords and values fail here.

    Args:
        spec: the loss spec.
        ctx: number of classes, dataset and hierarchy.

    Raises:
        ConfigError: the message names the spec.

    Example:
        >>> from infoloss.experiments.losses import LossContext
        >>> check_loss("focal:gama=2", LossContext(3))
        Traceback (most recent call last):
        ...
        infoloss.experiments.config.ConfigError: loss spec 'focal:gama=2': FocalLoss.__init__() got an unexpected keyword argument 'gama'
    """
    try:
        build_loss(spec, ctx)
    except (ValueError, TypeError) as e:
        raise ConfigError(str(e)) from None


def _saved_config(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a run configuration")
    return data


def check_run_dir(cfg: TrainConfig, run_dir: str | Path, split_info: dict[str, Any] | None = None) -> None:
    """Refuse a run directory that holds a run of other settings (``config.json`` or ``checkpoint.pt``).

    Every :class:`TrainConfig` field except the performance/output knobs
    (:data:`~infoloss.experiments.config.NON_KEY_FIELDS`) must match, and so must the validation split.

    Args:
        cfg: the run's configuration.
        run_dir: the run directory (it need not exist).
        split_info: the run's :attr:`~infoloss.experiments.data.Splits.info` (None: the split is not
            compared).

    Raises:
        ConfigError: listing each differing setting (``weight_decay: 0.0005 -> 0.001``).
        CheckpointError: a checkpoint that cannot be read or records no config.
    """
    out = Path(run_dir)
    want = run_key(cfg)
    saved = _saved_config(out / "config.json")
    if saved is not None:
        diffs = key_differences(run_key(saved), want)
        if diffs:
            raise ConfigError(
                f"run directory {out} holds a run with other settings ({'; '.join(diffs)}); "
                f"use another run directory, or the settings it was made with"
            )
        old_split = saved.get("split")
        if (
            split_info is not None
            and old_split
            and old_split.get("val_indices_sha256") != split_info["val_indices_sha256"]
        ):
            raise ConfigError(
                f"run directory {out} was validated on another split of the training data "
                f"({old_split}); use another run directory"
            )
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        if not isinstance(ckpt.get("config"), dict):
            raise CheckpointError(
                f"checkpoint {ckpt_path} records no config, so what it was trained with is "
                f"unknown; use another run directory"
            )
        diffs = key_differences(run_key(ckpt["config"]), want)
        if diffs:
            raise ConfigError(
                f"cannot resume {ckpt_path}: it was trained with other settings ({'; '.join(diffs)}); "
                f"use another run directory"
            )


@torch.no_grad()
def predict(
    model: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Return the logits of ``model`` (put in eval mode) for all of ``x``, without gradients.

    Args:
        model: maps ``(B, ...)`` inputs to ``(B, C)`` logits.
        x: inputs, shape ``(N, ...)``.
        batch_size: inputs per forward pass.
        device: where to run the model.
        amp_dtype: autocast dtype or None.

    Returns:
        float64 CPU tensor of shape ``(N, C)`` (``(0, 0)`` for no input).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> logits = predict(torch.nn.Linear(2, 3), torch.zeros(4, 2))
        >>> logits.shape, logits.dtype
        (torch.Size([4, 3]), torch.float64)
    """
    device = torch.device(device)
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
            outs.append(model(xb).double().cpu())
    return torch.cat(outs) if outs else torch.zeros(0, 0, dtype=torch.float64)


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
    temperature: float | None = None,
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
        amp_dtype: autocast dtype (CUDA) or None.
        temperature: when given, also the metrics of ``logits / temperature``: ``test_nll_ts``,
            ``test_ece_ts``, ``test_entropy_ts`` and ``reliability_ts``.

    Returns:
        The dict of :meth:`~infoloss.experiments.metrics.EvalSums.metrics` (``test_acc``, ``test_nll``,
        ``test_ece``, ...).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(2, 3)  # zero inputs: every logit row is the bias
        >>> m = evaluate(model, torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), num_classes=3)
        >>> [round(m[k], 4) for k in ("test_acc", "test_nll", "test_ece", "test_entropy")]
        [25.0, 1.1846, 0.2264, 1.0548]
    """
    info = info or DistInfo()
    device = torch.device(device)
    model.eval()
    xs, ys = x[info.rank :: info.world_size], y[info.rank :: info.world_size]
    logits = predict(model, xs, batch_size=batch_size, device=device, amp_dtype=amp_dtype)
    sums = [accumulate([(logits, ys)], num_classes, distances)]
    if temperature is not None:
        sums.append(accumulate([(logits, ys)], num_classes, distances, temperature=temperature))
    if info.distributed:
        sums = [EvalSums.from_vector(num_classes, all_reduce_sum(s.vector().to(device), info)) for s in sums]
    out = sums[0].metrics()
    if temperature is not None:
        ts = sums[1].metrics(suffix="_ts")
        out.update({f"test_{k}_ts": ts[f"test_{k}_ts"] for k in _TS_KEYS})
        out["reliability_ts"] = ts["reliability_ts"]
    return out


def _validation_metrics(
    model: nn.Module,
    splits: Splits,
    num_classes: int,
    cfg: TrainConfig,
    device: torch.device,
    distances: torch.Tensor | None,
    amp_dtype: torch.dtype | None,
) -> tuple[dict[str, Any], float | None]:
    """Validation metrics and the temperature fitted on the validation logits (every rank: the whole set)."""
    if len(splits.y_val) == 0:
        return {}, None
    logits = predict(model, splits.x_val, batch_size=cfg.eval_batch_size, device=device, amp_dtype=amp_dtype)
    # with no validation mistake the NLL has no minimum (T -> 0): then no scaling (T = 1), flagged
    no_mistake = bool(logits.argmax(1).eq(splits.y_val).all())
    t = 1.0 if no_mistake else fit_temperature(logits, splits.y_val)
    raw = accumulate([(logits, splits.y_val)], num_classes, distances).metrics("val")
    ts = accumulate([(logits, splits.y_val)], num_classes, distances, temperature=t).metrics("val", "_ts")
    out = {k: v for k, v in raw.items() if k not in ("val_reliability", "val_entropy_hist")}
    out.update({f"val_{k}_ts": ts[f"val_{k}_ts"] for k in _TS_KEYS})
    out["temperature"] = t
    out["temperature_fitted"] = not no_mistake
    return out, t


def _restart_lr(base_lr: float, seed: int, epoch: int) -> float:
    """SpinalNet's random restart: ``lr = base * u^3``, u uniform in [0, 1) drawn from (seed, epoch)."""
    u = float(np.random.default_rng([seed, epoch, 0x5EED]).random())
    return base_lr * u**3


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(
    cfg: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    dataset: Dataset | None = None,
    stop_after_epoch: int | None = None,
) -> RunResult:
    """Train one configuration, evaluating on the validation (if any) and test splits after every epoch.

    Everything is validated before anything is written (:func:`check_run`, :func:`check_run_dir`): a
    bad setting leaves no run directory behind, and a run directory holding a run with other settings is
    refused. Resumes from ``run_dir/checkpoint.pt`` when it exists (same seed: same final metrics as an
    uninterrupted run on CPU). Under ``torchrun`` (``WORLD_SIZE > 1``) trains with
    DistributedDataParallel; ``cfg.batch_size`` is the global batch, split across ranks.

    With a validation split (``val_fraction > 0``) every epoch also records ``val_*`` metrics, the
    temperature fitted on the validation logits (:func:`infoloss.metrics.fit_temperature`) and the test
    metrics after dividing the logits by it (``test_nll_ts``, ``test_ece_ts``, ``test_entropy_ts``).

    Args:
        cfg: the run's configuration.
        run_dir: where files go (None: write nothing).
        dataset: an already loaded dataset (None: load ``cfg.dataset``).
        stop_after_epoch: stop after this epoch as if interrupted (for tests and time-sliced jobs).

    Returns:
        A :class:`RunResult`; ``interrupted`` is True after Ctrl-C or ``stop_after_epoch``.

    Raises:
        ConfigError: a bad setting, or a run directory with other settings.
        CheckpointError: an unreadable checkpoint, or one that records no config or another model.

    Example:
        >>> res = train(TrainConfig(dataset="digits", model="mlp", epochs=2, progress=False))  # doctest: +SKIP
        >>> res.final["test_acc"]  # doctest: +SKIP
        93.1
    """
    # --- validate everything before anything is written ---
    check_train_config(cfg)
    device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    ds = dataset if dataset is not None else load_dataset(cfg.dataset, cfg.data_dir, cfg.download)
    splits = check_run(cfg, ds, model=False)
    out = Path(run_dir) if run_dir is not None else None
    if out is not None:
        check_run_dir(cfg, out, splits.info)

    # --- where we run ---
    info = init_distributed(device)
    amp_dtype = _amp_dtype(cfg.amp, device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    write = out is not None and info.is_main

    # --- model, loss, optimizer (seeded: same init for every loss at a given seed) ---
    seed_everything(cfg.seed)
    n_out = _num_outputs(cfg, ds)
    ctx = LossContext(n_out, ds.name, cfg.hierarchy)
    distances = class_distance_matrix(ctx)
    model = build_model(cfg.model, ds.input_shape, n_out).to(device)
    loss_fn = build_loss(cfg.loss, ctx).to(device)
    opt = _optimizer(cfg, model, loss_fn)
    sched = _scheduler(cfg, opt)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    net: nn.Module = model
    if info.distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    train_set = TensorDataset(splits.x_train, splits.y_train)
    order = torch.Generator()
    aug_gen = torch.Generator()
    sampler: DistributedSampler[int] | RandomSampler
    if info.distributed:
        sampler = DistributedSampler(train_set, info.world_size, info.rank, shuffle=True, seed=cfg.seed)
    else:
        sampler = RandomSampler(train_set, generator=order)
    per_rank_batch = max(cfg.batch_size // info.world_size, 1)
    loader = DataLoader(
        train_set,
        batch_size=per_rank_batch,
        sampler=sampler,
        num_workers=cfg.num_workers,
        pin_memory=device.type == "cuda",
        drop_last=False,
    )

    # --- resume ---
    result = RunResult(out)
    start_epoch = 0
    restart = {"best": -math.inf, "lr": cfg.lr}  # schedule "random-restart"
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    prov = provenance(device)
    prov_history: list[dict[str, Any]] = []
    if ckpt_path is not None and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)  # on CPU: RNG states must stay CPU tensors
        try:
            model.load_state_dict(ckpt["model"])
            loss_fn.load_state_dict(ckpt["loss"])
        except (RuntimeError, KeyError) as e:
            raise CheckpointError(
                f"checkpoint {ckpt_path} does not fit model {cfg.model!r} with loss "
                f"{cfg.loss!r}: {str(e).splitlines()[0]}"
            ) from None
        opt.load_state_dict(ckpt["optimizer"])
        if sched is not None and ckpt.get("scheduler") is not None:
            sched.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("restart"):
            restart = {k: float(v) for k, v in ckpt["restart"].items()}
        set_rng_state(ckpt["rng"])
        start_epoch = int(ckpt["epoch"])
        result.history = list(ckpt.get("history", []))
        saved = _saved_config(out / "config.json") if out is not None else None
        prov_history = list((saved or {}).get("provenance", []))
    if write:
        assert out is not None
        atomic.write_json(
            out / "config.json",
            {**to_dict(cfg), "split": {**splits.info, "num_outputs": n_out}, "provenance": [*prov_history, prov]},
        )

    def checkpoint(epoch: int) -> None:
        if not write or ckpt_path is None:
            return
        save_checkpoint(
            ckpt_path,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "loss": loss_fn.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                "rng": rng_state(),
                "history": result.history,
                "config": to_dict(cfg),
                "restart": restart,
            },
        )

    if ckpt_path is not None and not ckpt_path.is_file():
        checkpoint(0)  # so that Ctrl-C in the first epoch still leaves a resumable checkpoint

    # --- epochs ---
    show = cfg.progress and info.is_main
    tty = show and sys.stderr.isatty()
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.epochs):
            net.train()
            loss_fn.train()
            order.manual_seed(cfg.seed * 1_000_003 + epoch)  # data order depends on (seed, epoch) only
            aug_gen.manual_seed(cfg.seed * 1_000_003 + epoch + 7_919)
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(epoch)
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)  # sum of per-example losses
            seen = 0
            t0 = time.perf_counter()
            # a bar only on a terminal (non-TTY logs get one line per epoch, below); the loss shown is read
            # from the device every log_every steps at most
            bar = tqdm(
                total=len(loader),
                desc=f"{cfg.name} {epoch + 1}/{cfg.epochs}",
                leave=False,
                disable=not tty,
                unit="batch",
                mininterval=0.5,
                dynamic_ncols=True,
            )
            for step, (xb, yb) in enumerate(loader, 1):
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                if cfg.augment != "none":
                    xb = apply_augment(cfg.augment, xb, aug_gen)
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
                loss_sum += loss.detach().double() * len(yb)
                seen += len(yb)
                if tty:
                    bar.update(1)
                    if step % cfg.log_every == 0 or step == len(loader):
                        rate = seen * info.world_size / max(time.perf_counter() - t0, 1e-9)
                        bar.set_postfix(loss=f"{float(loss.detach()):.4f}", img_s=f"{rate:.0f}", refresh=False)
            bar.close()
            totals = torch.stack([loss_sum, torch.tensor(float(seen), dtype=torch.float64, device=device)])
            all_reduce_sum(totals, info)
            train_time = time.perf_counter() - t0
            lr = opt.param_groups[0]["lr"]
            if sched is not None:
                sched.step()

            broadcast_buffers(model, info)  # every rank scores (and rank 0 saves) the same BN statistics
            val, temp = _validation_metrics(model, splits, n_out, cfg, device, distances, amp_dtype)
            metrics = evaluate(
                model,
                splits.x_test,
                splits.y_test,
                num_classes=n_out,
                batch_size=cfg.eval_batch_size,
                device=device,
                info=info,
                distances=distances,
                amp_dtype=amp_dtype,
                temperature=temp,
            )
            row = {
                "epoch": epoch + 1,
                "train_loss": float(totals[0] / totals[1].clamp_min(1)),
                "lr": lr,
                "images_per_s": float(totals[1]) / train_time,
                "epoch_time_s": train_time,
                **metrics,
                **val,
                "loss_params": loss_parameters(loss_fn),
            }
            if not math.isfinite(row["train_loss"]):
                raise FloatingPointError(f"{cfg.name}: training loss is {row['train_loss']} at epoch {epoch + 1}")
            if cfg.schedule == "random-restart":  # steered by validation accuracy, never by the test set
                if row["val_acc"] > restart["best"]:
                    restart["best"] = row["val_acc"]
                else:
                    restart["lr"] = _restart_lr(cfg.lr, cfg.seed, epoch)
                    for g in opt.param_groups:
                        g["lr"] = restart["lr"]
            result.history.append(row)
            if write:
                assert out is not None
                atomic.write_jsonl(out / "metrics.jsonl", result.history)
            checkpoint(epoch + 1)
            if show:
                v = f", val acc {row['val_acc']:.2f}%, T {row['temperature']:.2f}" if val else ""
                _log(
                    f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}: train loss {row['train_loss']:.4f}, "
                    f"test acc {row['test_acc']:.2f}%{v}, {row['images_per_s']:.0f} img/s"
                )
            if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < cfg.epochs:
                result.interrupted = True
                return result
    except KeyboardInterrupt:
        # The checkpoint of the last finished epoch (or of the initial state) is already on disk.
        done = len(result.history)
        if info.is_main:
            print(
                f"\ninterrupted in epoch {epoch + 1}; checkpoint after epoch {done} kept in {ckpt_path}; "
                f"run the same command again to resume"
            )
        result.interrupted = True
        return result

    if write:
        assert out is not None
        atomic.write_json(
            out / "final.json",
            {"config": to_dict(cfg), "final": result.final, "epochs": len(result.history), "provenance": prov},
        )
    return result
