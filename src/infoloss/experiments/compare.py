"""``infoloss compare``: train a grid of losses x seeds on one dataset and model, then report.

Run directory layout (every file written atomically, by rank 0 only)::

    <run_dir>/config.json                    the CompareConfig
    <run_dir>/runs/<loss>/seed<k>/...        each run's config.json, metrics.jsonl, checkpoint.pt, final.json
    <run_dir>/summary.md, summary.json       the table (also printed) and the raw statistics
    <run_dir>/*.png                          learning curves, reliability, entropy, final accuracy

Running the same command with ``--run-dir <run_dir>`` again skips finished runs and resumes the
unfinished one from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoloss.experiments import atomic
from infoloss.experiments.config import CompareConfig, ConfigError, to_dict
from infoloss.experiments.data import Dataset, load_dataset
from infoloss.experiments.distributed import barrier, broadcast_object, init_distributed, pick_device
from infoloss.experiments.losses import LOSSES, parse_spec
from infoloss.experiments.models import MODELS
from infoloss.experiments.report import LossRow, RunRecord, build_rows, markdown_table, write_plots
from infoloss.experiments.train import train

__all__ = ["CompareResult", "run_compare", "default_run_dir", "run_subdir", "validate"]


@dataclass
class CompareResult:
    """Outcome of :func:`run_compare`: the run directory, the records per loss, the rows and the table."""

    run_dir: Path
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    rows: list[LossRow] = field(default_factory=list)
    table: str = ""
    interrupted: bool = False


def default_run_dir(cc: CompareConfig, root: str | Path = "runs") -> Path:
    """``<root>/<YYYYmmdd-HHMMSS>-<name>``."""
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{cc.name}"


def run_subdir(run_dir: Path, loss: str, seed: int) -> Path:
    """Directory of one (loss, seed) run; the loss spec is made filesystem-safe."""
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", loss)
    return run_dir / "runs" / safe / f"seed{seed}"


def validate(cc: CompareConfig) -> None:
    """Check names before any training starts (unknown loss/model/dataset, duplicates, baseline).

    Raises:
        ConfigError: with the valid names listed.
    """
    from infoloss.experiments.data import DATASETS

    for spec in cc.losses:
        name, _ = parse_spec(spec)
        if name not in LOSSES:
            raise ConfigError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    if cc.train.model not in MODELS:
        raise ConfigError(f"unknown model {cc.train.model!r}; valid models: {', '.join(MODELS)}")
    if cc.train.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {cc.train.dataset!r}; valid datasets: {', '.join(DATASETS)}")
    if len(set(cc.losses)) != len(cc.losses) or len(set(cc.seeds)) != len(cc.seeds):
        raise ConfigError(f"losses and seeds must not repeat: {cc.losses}, {cc.seeds}")
    if not cc.seeds:
        raise ConfigError("seeds is empty")
    if cc.baseline not in cc.losses:
        raise ConfigError(f"baseline {cc.baseline!r} is not among the losses {cc.losses}")


def _read_final(path: Path) -> list[dict[str, Any]] | None:
    if not (path / "final.json").is_file() or not (path / "metrics.jsonl").is_file():
        return None
    with (path / "metrics.jsonl").open() as f:
        return [json.loads(line) for line in f if line.strip()]


def run_compare(
    cc: CompareConfig, run_dir: str | Path | None = None, *, dataset: Dataset | None = None, quiet: bool = False
) -> CompareResult:
    """Train every (loss, seed) of the grid, then write and return the comparison.

    Args:
        cc: the grid and the base training config (``cc.train.loss``/``seed`` are overridden per run).
        run_dir: output directory (None: :func:`default_run_dir`); finished runs in it are skipped.
        dataset: an already loaded dataset (None: load ``cc.train.dataset``).
        quiet: do not print the table.

    Returns:
        A :class:`CompareResult`; ``interrupted`` when Ctrl-C stopped a run (the report then covers
        the finished runs; rerun with the same ``run_dir`` to continue).
    """
    validate(cc)
    info = init_distributed(pick_device(cc.train.device, int(os.environ.get("LOCAL_RANK", "0"))))
    out = Path(broadcast_object(str(run_dir or default_run_dir(cc)), info))
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_json(out / "config.json", to_dict(cc))
    ds = dataset if dataset is not None else load_dataset(cc.train.dataset, cc.train.data_dir, cc.train.download)
    result = CompareResult(out, runs={loss: [] for loss in cc.losses})
    total = len(cc.losses) * len(cc.seeds)
    k = 0
    for seed in cc.seeds:  # seed-major: a partial grid still has complete pairs
        for loss in cc.losses:
            k += 1
            sub = run_subdir(out, loss, seed)
            history = broadcast_object(_read_final(sub) if info.is_main else None, info)
            if history is None:
                cfg = dataclasses.replace(cc.train, loss=loss, seed=seed, name=f"[{k}/{total}] {loss} s{seed}")
                res = train(cfg, sub, dataset=ds)
                if res.interrupted:
                    result.interrupted = True
                    break
                history = res.history
                if info.is_main and not quiet:
                    print(f"[{k}/{total}] {loss} seed {seed}: test acc {res.final['test_acc']:.2f}%  "
                          f"nll {res.final['test_nll']:.3f}  ece {res.final['test_ece']:.3f}", flush=True)  # fmt: skip
            elif info.is_main and not quiet:
                print(f"[{k}/{total}] {loss} seed {seed}: finished earlier, skipped", flush=True)
            result.runs[loss].append(RunRecord(seed, history))
        if result.interrupted:
            break

    if any(result.runs.values()) and result.runs.get(cc.baseline):
        result.rows = build_rows(result.runs, cc.baseline, cc.metric, cc.n_bootstrap)
        result.table = markdown_table(result.rows, cc.baseline, cc.metric)
    if info.is_main and result.rows:
        t = cc.train
        header = (f"# {cc.name}: {t.dataset}, {t.model}, {t.epochs} epochs, {t.optimizer} lr={t.lr}, "
                  f"batch {t.batch_size}, schedule {t.schedule}; paired over seeds {cc.seeds}\n\n")  # fmt: skip
        if result.interrupted:
            header += "**Interrupted: partial grid.**\n\n"
        atomic.write_text(out / "summary.md", header + result.table)
        atomic.write_json(out / "summary.json", {
            "config": to_dict(cc),
            "rows": [dataclasses.asdict(r) for r in result.rows],
            "final": {loss: [{"seed": r.seed, **{k: v for k, v in r.final.items()
                                                 if k not in ("reliability", "entropy_hist")}}
                             for r in recs] for loss, recs in result.runs.items()},
        })  # fmt: skip
        write_plots(result.runs, result.rows, out, ds.num_classes)
        if not quiet:
            print("\n" + header + result.table + f"\nrun directory: {out}", flush=True)
    barrier(info)
    return result
