"""Running a grid of (loss, seed) runs: validation first, then serial, in local processes, or as a shard.

Shared by ``compare`` and ``sweep``. A grid directory holds ``config.json`` (the grid's config, its
``kind`` and provenance) and ``runs/<loss>/seed<k>/`` (one :func:`~infoloss.experiments.train.train` run
each). The directory is keyed by its training settings: a directory made with other settings is
refused before anything trains (:func:`check_grid_dir`); changing only the analysis (losses, seeds,
baseline, metric, selection) re-analyses finished runs and trains the missing ones.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import multiprocessing
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infoloss.experiments import atomic
from infoloss.experiments.config import (
    ConfigError,
    TrainConfig,
    key_differences,
    run_key,
    to_dict,
)
from infoloss.experiments.data import Dataset
from infoloss.experiments.distributed import DistInfo
from infoloss.experiments.losses import LossContext
from infoloss.experiments.report import RunRecord, select_epoch
from infoloss.experiments.train import check_loss, check_run, check_run_dir, train

__all__ = [
    "Planned",
    "plan",
    "parse_shard",
    "run_subdir",
    "check_grid_dir",
    "write_grid_config",
    "read_grid_config",
    "run_grid",
    "load_records",
    "code_versions",
    "validate_grid",
]


@dataclass(frozen=True)
class Planned:
    """One run of a grid (built by :func:`plan`).

    Attributes:
        loss: the loss spec.
        seed: the seed.
        index: position in the whole grid (0-based, seed-major).
        path: the run's directory (:func:`run_subdir`).
    """

    loss: str
    seed: int
    index: int
    path: Path


def run_subdir(run_dir: Path, loss: str, seed: int) -> Path:
    """Return the directory of one (loss, seed) run; the loss spec is made filesystem-safe.

    Runs of characters other than letters, digits and ``._=-`` become ``_``.

    Args:
        run_dir: the grid's directory.
        loss: the loss spec.
        seed: the seed.

    Returns:
        ``run_dir / "runs" / <safe spec> / "seed<seed>"``.

    Example:
        >>> run_subdir(Path("r"), "min-ent:entropy_weight=0.2", 3).as_posix()
        'r/runs/min-ent_entropy_weight=0.2/seed3'
    """
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", loss)
    return Path(run_dir) / "runs" / safe / f"seed{seed}"


def plan(run_dir: Path, losses: list[str], seeds: list[int], shard: tuple[int, int] | None = None) -> list[Planned]:
    """Return the runs in seed-major order (all losses for seed 0, then seed 1, ...), or one shard's share.

    Shard ``(i, n)`` takes the runs whose position ``k`` has ``k % n == i``.

    Args:
        run_dir: the grid's directory.
        losses: loss specs.
        seeds: seeds.
        shard: ``(i, n)`` or None (every run).

    Returns:
        The :class:`Planned` runs.

    Example:
        >>> [(p.loss, p.seed) for p in plan(Path("r"), ["ce", "min-ent"], [0, 1], shard=(1, 2))]
        [('min-ent', 0), ('min-ent', 1)]
    """
    out = []
    k = 0
    for seed in seeds:
        for loss in losses:
            if shard is None or k % shard[1] == shard[0]:
                out.append(Planned(loss, seed, k, run_subdir(run_dir, loss, seed)))
            k += 1
    return out


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """Parse a ``--shard`` value ``"i/n"`` (0 <= i < n) into ``(i, n)``; None stays None.

    Args:
        text: ``"i/n"`` (spaces allowed) or None.

    Returns:
        ``(i, n)`` or None.

    Raises:
        ConfigError: not of the form i/n, or i out of range.

    Example:
        >>> parse_shard("2/4")
        (2, 4)
    """
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or int(m.group(2)) < 1 or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise ConfigError(f"--shard must be i/n with 0 <= i < n (e.g. 0/4 .. 3/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _grid_key(train: dict[str, Any]) -> dict[str, Any]:
    key = run_key(train)
    key.pop("loss", None)  # set per run
    key.pop("seed", None)
    return key


def read_grid_config(run_dir: Path) -> dict[str, Any] | None:
    """Return the saved ``config.json`` of a grid directory (None when there is none).

    Args:
        run_dir: the grid's directory.

    Returns:
        The saved dict (with ``kind``, the grid's settings and ``train``), or None.

    Raises:
        ConfigError: if the file cannot be read or parsed, or has no ``train`` table.
    """
    p = Path(run_dir) / "config.json"
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {p}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("train"), dict):
        raise ConfigError(f"{p} is not a compare/sweep configuration")
    return data


def check_grid_dir(run_dir: Path, kind: str, train: TrainConfig, runs: list[tuple[Planned, TrainConfig]]) -> None:
    """Refuse a grid directory made with other training settings, or of another kind, or holding runs that differ.

    Args:
        run_dir: the grid's directory (it need not exist).
        kind: ``"compare"`` or ``"sweep"``.
        train: the grid's base training configuration.
        runs: the planned runs with their full configurations (each run directory is checked with
            :func:`~infoloss.experiments.train.check_run_dir`).

    Raises:
        ConfigError: the directory holds another kind of grid, or runs of other settings (listing them).
        CheckpointError: a run's checkpoint cannot be read or records no config.
    """
    saved = read_grid_config(run_dir)
    if saved is not None:
        saved_kind = saved.get("kind", "compare")
        if saved_kind != kind:
            raise ConfigError(f"run directory {run_dir} holds a {saved_kind}, not a {kind}; use another --run-dir")
        diffs = key_differences(_grid_key(saved["train"]), _grid_key(to_dict(train)))
        if diffs:
            raise ConfigError(
                f"run directory {run_dir} holds runs made with other settings (train.{'; train.'.join(diffs)}); "
                f"use another --run-dir, or the settings it was made with (changing only losses, seeds, baseline, "
                f"metric or selection is allowed: finished runs are re-analysed)"
            )
    for p, cfg in runs:
        check_run_dir(cfg, p.path)


def write_grid_config(run_dir: Path, kind: str, cfg: Any) -> None:
    """Write the grid's ``config.json`` atomically: its kind, every setting and the provenance of this process.

    Args:
        run_dir: the grid's directory.
        kind: ``"compare"`` or ``"sweep"``.
        cfg: the :class:`~infoloss.experiments.config.CompareConfig` or
            :class:`~infoloss.experiments.config.SweepConfig`.

    Raises:
        OSError: if the file cannot be written.
    """
    from infoloss.experiments.provenance import provenance

    atomic.write_json(Path(run_dir) / "config.json", {"kind": kind, **to_dict(cfg), "provenance": provenance()})


def validate_grid(train: TrainConfig, losses: list[str], seeds: list[int], ds: Dataset) -> None:
    """Check every run of the grid before any trains: settings, splits, each loss spec, the model.

    Args:
        train: the grid's base training configuration.
        losses: the loss specs.
        seeds: the seeds.
        ds: the loaded dataset.

    Raises:
        ConfigError: empty or repeated losses or seeds, or the first bad setting, naming it.
    """
    if not seeds:
        raise ConfigError("seeds is empty")
    if not losses:
        raise ConfigError("losses is empty")
    if len(set(losses)) != len(losses) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"losses and seeds must not repeat: {losses}, {seeds}")
    check_run(dataclasses.replace(train, loss=losses[0], seed=seeds[0]), ds, model=True)
    n_out = train.num_outputs or ds.num_classes
    ctx = LossContext(n_out, ds.name, train.hierarchy)
    for loss in losses[1:]:
        check_loss(loss, ctx)


def _finished(path: Path) -> bool:
    return (path / "final.json").is_file() and (path / "metrics.jsonl").is_file()


def _history(path: Path) -> list[dict[str, Any]]:
    with (path / "metrics.jsonl").open() as f:
        return [json.loads(line) for line in f if line.strip()]


_WORKER_DS: Dataset | None = None


def _init_worker(ds: Dataset | None, threads: int) -> None:
    import torch

    global _WORKER_DS
    _WORKER_DS = ds
    torch.set_num_threads(threads)


def _run_in_worker(cfg_dict: dict[str, Any], path: str) -> tuple[bool, dict[str, Any]]:
    from infoloss.experiments.config import from_dict

    cfg = from_dict(TrainConfig, cfg_dict)
    res = train(cfg, path, dataset=_WORKER_DS)
    return res.interrupted, res.final


def _line(k: int, total: int, p: Planned, final: dict[str, Any]) -> str:
    return (
        f"[{k}/{total}] {p.loss} seed {p.seed}: test acc {final['test_acc']:.2f}%  "
        f"nll {final['test_nll']:.3f}  ece {final['test_ece']:.3f}"
    )


def run_grid(
    train_cfg: TrainConfig,
    planned: list[Planned],
    total: int,
    *,
    dataset: Dataset,
    dataset_given: bool,
    jobs: int = 1,
    quiet: bool = False,
    info: DistInfo | None = None,
    train_fn: Callable[..., Any] | None = None,
) -> bool:
    """Train the unfinished runs of ``planned`` (serially, or in ``jobs`` local processes).

    With ``jobs > 1`` the runs go to that many local processes (spawned; each with
    ``max(1, threads // jobs)`` torch threads, ``threads`` being ``train_cfg.threads`` or torch's
    default), and the results are read back from the run directories, so they equal a serial run's
    whenever the per-process thread count is the same (CPU float reductions can depend on it).

    Args:
        train_cfg: the base config (loss and seed are set per run).
        planned: the runs (from :func:`plan`).
        total: size of the whole grid (for the ``[k/total]`` lines).
        dataset: the loaded dataset.
        dataset_given: whether the caller passed the dataset in (then workers receive it; otherwise
            each worker loads it by name).
        jobs: local processes.
        quiet: print nothing.
        info: this process's rank (only rank 0 prints).
        train_fn: the function that trains one run (tests substitute it); default
            :func:`~infoloss.experiments.train.train`.

    Returns:
        True when a run was interrupted (Ctrl-C); finished runs are kept either way.

    Raises:
        ConfigError, CheckpointError: from a run (see :func:`~infoloss.experiments.train.train`).
    """
    info = info or DistInfo()
    train_fn = train_fn or train
    say = info.is_main and not quiet
    todo = []
    for p in planned:
        if _finished(p.path):
            if say:
                print(f"[{p.index + 1}/{total}] {p.loss} seed {p.seed}: finished earlier, skipped", flush=True)
        else:
            todo.append(p)
    if jobs <= 1 or len(todo) <= 1:
        for p in todo:
            cfg = dataclasses.replace(
                train_cfg, loss=p.loss, seed=p.seed, name=f"[{p.index + 1}/{total}] {p.loss} s{p.seed}"
            )
            res = train_fn(cfg, p.path, dataset=dataset)
            if res.interrupted:
                return True
            if say:
                print(_line(p.index + 1, total, p, res.final), flush=True)
        return False

    import torch

    threads = max(1, (train_cfg.threads or torch.get_num_threads()) // jobs)
    ctx = multiprocessing.get_context("spawn")
    interrupted = False
    with cf.ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(dataset if dataset_given else None, threads),
    ) as pool:
        futures = {}
        for p in todo:
            cfg = dataclasses.replace(
                train_cfg,
                loss=p.loss,
                seed=p.seed,
                threads=threads,
                progress=False,
                name=f"[{p.index + 1}/{total}] {p.loss} s{p.seed}",
            )
            futures[pool.submit(_run_in_worker, to_dict(cfg), str(p.path))] = p
        try:
            for fut in cf.as_completed(futures):
                p = futures[fut]
                stopped, final = fut.result()
                if stopped:
                    interrupted = True
                elif say:
                    print(_line(p.index + 1, total, p, final), flush=True)
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            interrupted = True
    return interrupted


def load_records(
    planned: list[Planned], select: str = "final", select_metric: str = "val_acc"
) -> dict[str, list[RunRecord]]:
    """Read the finished runs of ``planned`` by loss, in seed order, each with its reported epoch chosen.

    Args:
        planned: the runs.
        select: ``final`` or ``best-val`` (:func:`~infoloss.experiments.report.select_epoch`).
        select_metric: the validation metric of ``best-val``.

    Returns:
        Loss spec -> :class:`~infoloss.experiments.report.RunRecord` list (empty for a loss with no
        finished run).

    Raises:
        ValueError: if ``best-val`` cannot be applied (see :func:`~infoloss.experiments.report.select_epoch`).
    """
    out: dict[str, list[RunRecord]] = {}
    for p in planned:
        out.setdefault(p.loss, [])
        if _finished(p.path):
            h = _history(p.path)
            out[p.loss].append(RunRecord(p.seed, h, select_epoch(h, select, select_metric)))
    for recs in out.values():
        recs.sort(key=lambda r: r.seed)
    return out


def code_versions(planned: list[Planned]) -> list[str]:
    """Return the distinct code versions (provenance) that made the finished runs, in first-seen order.

    Args:
        planned: the runs; unreadable or unfinished ones are skipped.

    Returns:
        The ``code_version`` strings.
    """
    seen: list[str] = []
    for p in planned:
        f = p.path / "config.json"
        if not _finished(p.path) or not f.is_file():
            continue
        try:
            prov = json.loads(f.read_text()).get("provenance") or []
        except (OSError, ValueError):
            continue
        for entry in prov if isinstance(prov, list) else [prov]:
            v = entry.get("code_version") if isinstance(entry, dict) else None
            if v and v not in seen:
                seen.append(v)
    return seen
