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
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoloss.experiments import atomic
from infoloss.experiments.config import CompareConfig, ConfigError, check_selection, to_dict
from infoloss.experiments.data import Dataset, load_dataset
from infoloss.experiments.distributed import barrier, broadcast_object, init_distributed, pick_device
from infoloss.experiments.grid import (
    check_grid_dir,
    code_versions,
    load_records,
    plan,
    run_grid,
    run_subdir,
    validate_grid,
    write_grid_config,
)
from infoloss.experiments.losses import LOSSES, parse_spec
from infoloss.experiments.models import MODELS
from infoloss.experiments.provenance import code_version
from infoloss.experiments.report import LossRow, RunRecord, build_rows, markdown_table, write_plots

__all__ = ["CompareResult", "run_compare", "summarize_compare", "default_run_dir", "run_subdir", "validate"]


@dataclass
class CompareResult:
    """Outcome of :func:`run_compare` (and :func:`summarize_compare`).

    Attributes:
        run_dir: the grid's directory.
        runs: loss label -> finished runs (empty after a shard or before the summary).
        rows: the summary rows (:func:`~infoloss.experiments.report.build_rows`).
        table: the Markdown table (:func:`~infoloss.experiments.report.markdown_table`).
        interrupted: whether Ctrl-C stopped a run.
    """

    run_dir: Path
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    rows: list[LossRow] = field(default_factory=list)
    table: str = ""
    interrupted: bool = False


def default_run_dir(cc: Any, root: str | Path = "runs") -> Path:
    """Return the default run directory ``<root>/<YYYYmmdd-HHMMSS>-<name>`` (local time).

    Args:
        cc: a config with a ``name`` (compare or sweep).
        root: the parent directory.

    Returns:
        The path (not created).

    Example:
        >>> default_run_dir(CompareConfig(name="fashion"), "runs").name  # doctest: +SKIP
        '20250101-120000-fashion'
    """
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{cc.name}"


def validate(cc: CompareConfig) -> None:
    """Check names and the analysis settings before any data is loaded or training starts.

    Unknown loss/model/dataset, duplicates, the baseline, the metric and the selection.

    Args:
        cc: the grid.

    Raises:
        ConfigError: a bad name or setting, with the valid names listed.

    Example:
        >>> validate(CompareConfig(baseline="focal"))
        Traceback (most recent call last):
        ...
        infoloss.experiments.config.ConfigError: baseline 'focal' is not among the losses ['ce', 'min-ent', 'mix-ent']
    """
    from infoloss.experiments.config import check_train_config
    from infoloss.experiments.data import DATASETS

    for spec in cc.losses:
        try:
            name, _ = parse_spec(spec)
        except ValueError as e:
            raise ConfigError(str(e)) from None
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
    if cc.n_bootstrap < 1:
        raise ConfigError(f"n_bootstrap must be >= 1, got {cc.n_bootstrap}")
    check_train_config(cc.train)
    check_selection(cc.train, cc.metric, cc.select, cc.select_metric, need_val=False)


def _header(cc: CompareConfig, versions: list[str], partial: str) -> str:
    t = cc.train
    sel = "final epoch" if cc.select == "final" else f"epoch of best {cc.select_metric} (per run)"
    val = f", validation {t.val_fraction:g} of train (seed {t.val_seed})" if t.val_fraction else ""
    sub = f", train subset {t.train_subset}" if t.train_subset else ""
    code = versions[0] if len(versions) == 1 else f"{len(versions)} code versions: " + " | ".join(versions)
    return (
        f"# {cc.name}: {t.dataset}{sub}{val}, {t.model}, {t.epochs} epochs, {t.optimizer} lr={t.lr}, "
        f"batch {t.batch_size}, schedule {t.schedule}; paired over seeds {cc.seeds}; reported: {sel}\n\n"
        f"Code: {code or 'not recorded'} (this summary: {code_version()})\n\n{partial}"
    )


def summarize_compare(
    cc: CompareConfig, out: Path, num_classes: int, *, quiet: bool = False, interrupted: bool = False
) -> CompareResult:
    """Read the finished runs of the grid in ``out`` and write ``summary.md``, ``summary.json`` and the plots.

    Nothing trains here: this is also what ``infoloss merge`` runs after the shards of a grid finished.
    Without a finished baseline run nothing is written.

    Args:
        cc: the grid.
        out: the grid's directory.
        num_classes: C (number of logits; the entropy plot's range).
        quiet: print nothing.
        interrupted: mark the summary as partial and the result as interrupted.

    Returns:
        The :class:`CompareResult`.

    Raises:
        ValueError: if a run lacks what ``cc.select`` needs (:func:`~infoloss.experiments.report.select_epoch`).
        ImportError: if matplotlib is not installed.
    """
    planned = plan(out, cc.losses, cc.seeds)
    result = CompareResult(out, runs=load_records(planned, cc.select, cc.select_metric), interrupted=interrupted)
    missing = [f"{p.loss} seed {p.seed}" for p in planned if not any(r.seed == p.seed for r in result.runs[p.loss])]
    if not result.runs.get(cc.baseline):
        if not quiet:
            print(f"no finished run of the baseline {cc.baseline!r} yet: no summary written", flush=True)
        return result
    result.rows = build_rows(result.runs, cc.baseline, cc.metric, cc.n_bootstrap)
    result.table = markdown_table(result.rows, cc.baseline, cc.metric)
    partial = ""
    if interrupted or missing:
        partial = f"**Partial grid: {len(missing)} of {len(planned)} runs missing ({', '.join(missing[:8])}"
        partial += ", ...)**\n\n" if len(missing) > 8 else ")**\n\n"
    header = _header(cc, code_versions(planned), partial)
    atomic.write_text(out / "summary.md", header + result.table)
    atomic.write_json(
        out / "summary.json",
        {
            "config": to_dict(cc),
            "code_versions": code_versions(planned),
            "missing": missing,
            "rows": [dataclasses.asdict(r) for r in result.rows],
            "reported": {
                loss: [
                    {
                        "seed": r.seed,
                        **{
                            k: v for k, v in r.row.items() if k not in ("reliability", "entropy_hist", "reliability_ts")
                        },
                    }
                    for r in recs
                ]
                for loss, recs in result.runs.items()
            },
        },
    )
    write_plots(result.runs, result.rows, out, num_classes)
    if not quiet:
        print("\n" + header + result.table + f"\nrun directory: {out}", flush=True)
    return result


def run_compare(
    cc: CompareConfig,
    run_dir: str | Path | None = None,
    *,
    dataset: Dataset | None = None,
    quiet: bool = False,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
) -> CompareResult:
    """Validate, train every (loss, seed) of the grid (or one shard's share), then write the comparison.

    Everything is checked before the run directory is created or any run trains: names, sizes, the
    metric and selection, every loss spec (built), the model, the splits, and, when ``run_dir`` exists,
    that it holds runs of the same training settings.

    Args:
        cc: the grid and the base training config (``cc.train.loss``/``seed`` are overridden per run).
        run_dir: output directory (None: :func:`default_run_dir`); finished runs in it are skipped.
        dataset: an already loaded dataset (None: load ``cc.train.dataset``).
        quiet: do not print the table.
        jobs: train independent runs in this many local processes (threads split among them).
        shard: ``(i, n)``: train only the runs at positions ``k % n == i``; no summary (``infoloss merge``
            writes it once every shard finished).

    Returns:
        A :class:`CompareResult`; ``interrupted`` when Ctrl-C stopped a run (the report then covers
        the finished runs; rerun with the same ``run_dir`` to continue).

    Raises:
        ConfigError: a bad setting, ``jobs < 1``, ``jobs > 1`` under torchrun, or a run directory of other
            settings (nothing was written).
        DatasetError: the dataset cannot be loaded.
        CheckpointError: a run's checkpoint cannot be read.

    Example:
        >>> from infoloss.experiments.config import TrainConfig
        >>> cc = CompareConfig(losses=["ce", "min-ent"], seeds=[0, 1], train=TrainConfig(epochs=2, progress=False))
        >>> res = run_compare(cc, "runs/example")  # doctest: +SKIP
        >>> [r.loss for r in res.rows]  # doctest: +SKIP
        ['ce', 'min-ent']
    """
    validate(cc)
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if jobs > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--jobs > 1 runs local processes; under torchrun use --jobs 1")
    device = pick_device(cc.train.device, int(os.environ.get("LOCAL_RANK", "0")))
    ds = dataset if dataset is not None else load_dataset(cc.train.dataset, cc.train.data_dir, cc.train.download)
    validate_grid(cc.train, cc.losses, cc.seeds, ds)
    info = init_distributed(device)
    out = Path(broadcast_object(str(run_dir or default_run_dir(cc)), info))
    planned = plan(out, cc.losses, cc.seeds, shard)
    total = len(cc.losses) * len(cc.seeds)
    runs = [(p, dataclasses.replace(cc.train, loss=p.loss, seed=p.seed)) for p in planned]
    check_grid_dir(out, "compare", cc.train, runs)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_grid_config(out, "compare", cc)
    interrupted = run_grid(
        cc.train, planned, total, dataset=ds, dataset_given=dataset is not None, jobs=jobs, quiet=quiet, info=info
    )
    result = CompareResult(out, interrupted=interrupted)
    if shard is not None:
        if info.is_main and not quiet:
            print(
                f"shard {shard[0]}/{shard[1]} done ({len(planned)} of {total} runs); once every shard has "
                f"finished: infoloss merge {out}",
                flush=True,
            )
    elif info.is_main:
        result = summarize_compare(
            cc, out, cc.train.num_outputs or ds.num_classes, quiet=quiet, interrupted=interrupted
        )
    barrier(info)
    return result
