"""``infoloss sweep``: a grid over loss keywords, settings chosen on validation, reported on test.

Each entry of ``losses`` is a *family*: a loss name and a grid of its keywords, e.g.
``min-ent:entropy_weight=-0.2,-0.1,0.05,0.1,0.2,0.5`` (a comma-separated token without ``=`` is one more
value of the key before it; several keys give their product). Every setting trains on every seed. Then:

1. each run's reported epoch: the final one, or (``select = "best-val"``) its best on ``select_metric``;
2. each family's setting: the one with the best mean ``select_metric`` over seeds (validation only:
   the test split never takes part in a choice);
3. each non-baseline family's chosen setting is compared, paired by seed on the test split, against
   each baseline family's chosen setting; all these comparisons are Holm-corrected together, and no
   verdict is given with fewer than five seeds.

Outputs in the run directory: ``summary.md`` / ``summary.json`` (per-setting table, chosen settings,
comparisons), ``sweep.png`` (metrics against the swept weight, mean ± 1 std over seeds) and the plots of
``compare`` for the chosen settings.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoloss.experiments import atomic
from infoloss.experiments.config import (
    ConfigError,
    SweepConfig,
    check_selection,
    check_train_config,
    to_dict,
)
from infoloss.experiments.data import Dataset, load_dataset
from infoloss.experiments.distributed import barrier, broadcast_object, init_distributed, pick_device
from infoloss.experiments.grid import (
    check_grid_dir,
    code_versions,
    load_records,
    plan,
    run_grid,
    validate_grid,
    write_grid_config,
)
from infoloss.experiments.losses import LOSSES, parse_spec
from infoloss.experiments.provenance import code_version
from infoloss.experiments.report import LossRow, RunRecord, build_rows, metric_label, signed, ts_cell, write_plots
from infoloss.experiments.stats import Paired, apply_holm, fmt_interval, metric_range, paired_comparison, summarize

__all__ = ["Family", "parse_grid", "expand", "choose", "SweepResult", "run_sweep", "summarize_sweep"]


@dataclass(frozen=True)
class Family:
    """One loss family of a sweep (built by :func:`parse_grid`).

    Attributes:
        name: the loss name.
        keys: the swept keywords.
        specs: the loss spec of each setting, in grid order.
        values: ``values[i]`` holds the keyword values of ``specs[i]``.

    Example:
        >>> parse_grid("ce")
        Family(name='ce', keys=(), specs=('ce',), values=((),))
    """

    name: str
    keys: tuple[str, ...]
    specs: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  # values[i] = the keyword values of specs[i]


def _parse_value(raw: str) -> Any:
    _, params = parse_spec(f"x:v={raw}")
    return params["v"]


def parse_grid(spec: str) -> Family:
    """Parse a grid spec ``name:key=v1,v2,...[,key2=w1,w2]`` into a :class:`Family`.

    A comma-separated token without ``=`` is one more value of the key before it; several keys give
    their product (the last key varies fastest).

    Args:
        spec: the grid spec.

    Returns:
        The :class:`Family`.

    Raises:
        ConfigError: an unknown loss name, a value before any ``key=``, a repeated key or value.

    Example:
        >>> f = parse_grid("min-ent:entropy_weight=-0.1,0.1,learnable=false")
        >>> f.specs
        ('min-ent:entropy_weight=-0.1,learnable=false', 'min-ent:entropy_weight=0.1,learnable=false')
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    keys: list[tuple[str, list[str]]] = []
    for tok in filter(None, (t.strip() for t in rest.split(","))):
        if "=" in tok:
            k, _, v = tok.partition("=")
            k = k.strip()
            if not k or any(k == kk for kk, _ in keys):
                raise ConfigError(f"grid {spec!r}: keyword {k!r} is empty or given twice")
            keys.append((k, [v.strip()]))
        elif not keys:
            raise ConfigError(f"grid {spec!r}: value {tok!r} comes before any key=value")
        else:
            keys[-1][1].append(tok)
    for k, vs in keys:
        if len(set(vs)) != len(vs) or "" in vs:
            raise ConfigError(f"grid {spec!r}: keyword {k!r} has an empty or repeated value")
    specs, values = [], []
    for combo in itertools.product(*[vs for _, vs in keys]):
        specs.append(name + (":" + ",".join(f"{k}={v}" for (k, _), v in zip(keys, combo, strict=True)) if keys else ""))
        values.append(tuple(_parse_value(v) for v in combo))
    return Family(name, tuple(k for k, _ in keys), tuple(specs), tuple(values))


def expand(losses: list[str]) -> list[Family]:
    """Parse every grid spec; family names must be distinct.

    Args:
        losses: grid specs.

    Returns:
        One :class:`Family` per spec, in order.

    Raises:
        ConfigError: a bad grid spec or a repeated family.

    Example:
        >>> [f.specs for f in expand(["ce", "min-ent:entropy_weight=0.1,0.2"])]
        [('ce',), ('min-ent:entropy_weight=0.1', 'min-ent:entropy_weight=0.2')]
    """
    fams = [parse_grid(s) for s in losses]
    names = [f.name for f in fams]
    if len(set(names)) != len(names):
        raise ConfigError(f"each loss family may appear once in a sweep, got {names}")
    return fams


def _better(metric: str) -> int:
    return 1 if metric.endswith("_acc") else -1


def choose(family: Family, runs: dict[str, list[RunRecord]], select_metric: str) -> tuple[str, list[dict[str, Any]]]:
    """Choose the family's setting: the best mean ``select_metric`` over seeds, at each run's reported epoch.

    Only ``val_*`` values are read; ties go to the earlier setting in grid order. Settings with no
    finished run are skipped; when seeds are missing, means are over the seeds each setting has.
    Accuracies are maximized, other metrics minimized.

    Args:
        family: the family.
        runs: loss spec -> finished runs.
        select_metric: the ``val_*`` metric.

    Returns:
        (chosen spec, one dict per setting: spec, values, n, val mean and std).

    Raises:
        ValueError: ``select_metric`` is not a validation metric, or no setting has a finished run.

    Example:
        >>> from infoloss.experiments.report import RunRecord
        >>> fam = parse_grid("min-ent:entropy_weight=0.1,0.2")
        >>> runs = {fam.specs[0]: [RunRecord(0, [{"val_acc": 90.0}]), RunRecord(1, [{"val_acc": 92.0}])],
        ...         fam.specs[1]: [RunRecord(0, [{"val_acc": 91.5}])]}
        >>> spec, table = choose(fam, runs, "val_acc")
        >>> spec, [(t["n"], t["val_mean"]) for t in table]
        ('min-ent:entropy_weight=0.2', [(2, 91.0), (1, 91.5)])
    """
    if not select_metric.startswith("val_"):
        raise ValueError(f"settings are chosen on validation metrics only, got {select_metric!r}")
    table, best, best_score = [], None, -math.inf
    for spec, vals in zip(family.specs, family.values, strict=True):
        recs = runs.get(spec, [])
        v = [float(r.row[select_metric]) for r in recs]
        s = summarize(v) if v else None
        table.append(
            {
                "spec": spec,
                "values": list(vals),
                "n": len(v),
                "val_mean": s.mean if s else None,
                "val_std": s.std if s else None,
            }
        )
        if s is not None and _better(select_metric) * s.mean > best_score:
            best, best_score = spec, _better(select_metric) * s.mean
    if best is None:
        raise ValueError(f"no finished run of {family.name!r}")
    return best, table


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep` (and :func:`summarize_sweep`).

    Attributes:
        run_dir: the sweep's directory.
        runs: loss spec -> finished runs.
        chosen: family -> its chosen spec.
        settings: family -> one dict per setting (spec, values, n, validation mean and std, test values).
        rows: summary rows of the chosen settings (labelled by family).
        comparisons: ``(family, baseline family, Paired)``, Holm-corrected together.
        table: the Markdown tables.
        interrupted: whether Ctrl-C stopped a run.
    """

    run_dir: Path
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    settings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows: list[LossRow] = field(default_factory=list)
    comparisons: list[tuple[str, str, Paired]] = field(default_factory=list)
    table: str = ""
    interrupted: bool = False


def validate_sweep(sc: SweepConfig) -> list[Family]:
    """Check the sweep's names, baselines, metric and selection before data is loaded.

    Args:
        sc: the sweep.

    Returns:
        Its families (:func:`expand`).

    Raises:
        ConfigError: naming the bad setting.
    """
    fams = expand(sc.losses)
    names = [f.name for f in fams]
    for b in sc.baselines:
        if b not in names:
            raise ConfigError(f"baseline {b!r} is not among the sweep's loss families {names}")
    if len(set(sc.baselines)) != len(sc.baselines) or not sc.baselines:
        raise ConfigError(f"baselines must be distinct and not empty, got {sc.baselines}")
    if not sc.seeds or len(set(sc.seeds)) != len(sc.seeds):
        raise ConfigError(f"seeds must be distinct and not empty, got {sc.seeds}")
    if sc.n_bootstrap < 1:
        raise ConfigError(f"n_bootstrap must be >= 1, got {sc.n_bootstrap}")
    check_train_config(sc.train)
    check_selection(sc.train, sc.metric, sc.select, sc.select_metric, need_val=True)
    return fams


def _pm(mean: float | None, std: float | None, d: int) -> str:
    if mean is None:
        return ""
    return f"{mean:.{d}f}" if std is None else f"{mean:.{d}f} ± {std:.{d}f}"


def _digits(metric: str) -> int:
    return 2 if metric.endswith("_acc") else 4


def summarize_sweep(
    sc: SweepConfig, out: Path, num_classes: int, *, quiet: bool = False, interrupted: bool = False
) -> SweepResult:
    """Choose each family's setting on validation, compare on test, write the summary and plots (no training).

    Without a finished run of every baseline family nothing is written.

    Args:
        sc: the sweep.
        out: its directory.
        num_classes: C (number of logits; the entropy plot's range).
        quiet: print nothing.
        interrupted: mark the summary as partial and the result as interrupted.

    Returns:
        The :class:`SweepResult`.

    Raises:
        ConfigError: a bad grid spec.
        ValueError: if a run lacks what ``sc.select`` needs.
        ImportError: if matplotlib is not installed.
    """
    fams = expand(sc.losses)
    specs = [s for f in fams for s in f.specs]
    planned = plan(out, specs, sc.seeds)
    res = SweepResult(out, runs=load_records(planned, sc.select, sc.select_metric), interrupted=interrupted)
    missing = [f"{p.loss} seed {p.seed}" for p in planned if not any(r.seed == p.seed for r in res.runs[p.loss])]
    for f in fams:
        try:
            res.chosen[f.name], res.settings[f.name] = choose(f, res.runs, sc.select_metric)
        except ValueError:
            continue
    for f in fams:  # per-setting test metrics, reported (never used for the choice)
        for row in res.settings.get(f.name, []):
            recs = res.runs.get(row["spec"], [])
            for key in (sc.metric, "test_ece", "test_ece_ts", "temperature"):
                v = [r.row[key] for r in recs if r.row.get(key) is not None]
                s = summarize(v, bounds=metric_range(key)) if v else None
                row[key] = {"mean": s.mean if s else None, "std": s.std if s else None}
            row["ts_fitted"] = sum(bool(r.row.get("temperature_fitted")) for r in recs)
    if not all(b in res.chosen for b in sc.baselines):
        if not quiet:
            print("no finished run of every baseline yet: no summary written", flush=True)
        return res

    chosen_runs = {f: res.runs[spec] for f, spec in res.chosen.items()}
    first = sc.baselines[0]
    res.rows = build_rows(chosen_runs, first, sc.metric, sc.n_bootstrap)
    for r in res.rows:  # the comparisons below replace build_rows' single-baseline ones
        r.paired = None
    unit = "points" if sc.metric == "test_acc" else ""
    raw: list[tuple[str, str, Paired]] = []
    for fam in (f.name for f in fams if f.name in res.chosen and f.name not in sc.baselines):
        for b in sc.baselines:
            base = {r.seed: r.row[sc.metric] for r in chosen_runs[b]}
            common = [r for r in chosen_runs[fam] if r.seed in base]
            if not common:
                continue
            raw.append(
                (
                    fam,
                    b,
                    paired_comparison(
                        [r.row[sc.metric] for r in common],
                        [base[r.seed] for r in common],
                        n_bootstrap=sc.n_bootstrap,
                        unit=unit,
                        digits=_digits(sc.metric),
                    ),
                )
            )
    adjusted = apply_holm([p for _, _, p in raw])
    res.comparisons = [(f, b, p) for (f, b, _), p in zip(raw, adjusted, strict=True)]
    res.table = _tables(sc, fams, res)
    versions = code_versions(planned)
    t = sc.train
    sel = "final epoch" if sc.select == "final" else f"epoch of best {sc.select_metric} (per run)"
    sub = f", train subset {t.train_subset}" if t.train_subset else ""
    partial = ""
    if interrupted or missing:
        partial = f"**Partial sweep: {len(missing)} of {len(planned)} runs missing.**\n\n"
    code = versions[0] if len(versions) == 1 else f"{len(versions)} code versions: " + " | ".join(versions)
    header = (
        f"# {sc.name}: {t.dataset}{sub}, validation {t.val_fraction:g} of train (seed {t.val_seed}), "
        f"{t.model}, {t.epochs} epochs, {t.optimizer} lr={t.lr}, batch {t.batch_size}, schedule "
        f"{t.schedule}; seeds {sc.seeds}; reported: {sel}; settings chosen by mean {sc.select_metric}\n\n"
        f"Code: {code or 'not recorded'} (this summary: {code_version()})\n\n{partial}"
    )
    atomic.write_text(out / "summary.md", header + res.table)
    atomic.write_json(
        out / "summary.json",
        {
            "config": to_dict(sc),
            "code_versions": versions,
            "missing": missing,
            "chosen": res.chosen,
            "settings": res.settings,
            "rows": [dataclasses.asdict(r) for r in res.rows],
            "comparisons": [{"family": f, "baseline": b, **dataclasses.asdict(p)} for f, b, p in res.comparisons],
        },
    )
    write_plots(
        {res.chosen[f.name]: chosen_runs[f.name] for f in fams if f.name in res.chosen},
        [dataclasses.replace(r, loss=res.chosen[r.loss]) for r in res.rows],
        out,
        num_classes,
    )
    write_sweep_plot(sc, fams, res, out / "sweep.png")
    if not quiet:
        print("\n" + header + res.table + f"\nrun directory: {out}", flush=True)
    return res


def _tables(sc: SweepConfig, fams: list[Family], res: SweepResult) -> str:
    d = _digits(sc.metric)
    sd = _digits(sc.select_metric)
    lines = [
        f"## Settings (chosen by mean {sc.select_metric}; test values shown, never used to choose)",
        "",
        f"| family | setting | seeds | {sc.select_metric} | {metric_label(sc.metric)} | ECE | ECE after TS | T |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in fams:
        for row in res.settings.get(f.name, []):
            mark = " **(chosen)**" if res.chosen.get(f.name) == row["spec"] else ""
            m, e, ets, tt = (row.get(k, {}) for k in (sc.metric, "test_ece", "test_ece_ts", "temperature"))
            t_txt = _pm(tt.get("mean"), tt.get("std"), 2)
            if t_txt and row.get("ts_fitted", row["n"]) != row["n"]:
                t_txt += f" (fitted {row['ts_fitted']}/{row['n']})"
            lines.append(
                f"| {f.name} | `{row['spec']}`{mark} | {row['n']} | {_pm(row['val_mean'], row['val_std'], sd)} | "
                f"{_pm(m.get('mean'), m.get('std'), d)} | {_pm(e.get('mean'), e.get('std'), 3)} | "
                f"{_pm(ets.get('mean'), ets.get('std'), 3)} | {t_txt} |"
            )
    lines += [
        "",
        "## Chosen settings on the test split",
        "",
        f"| family | chosen | seeds | {metric_label(sc.metric)} mean ± std | 95% t-interval | NLL | ECE | "
        f"T (val-fitted) | NLL after TS | ECE after TS | entropy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res.rows:
        lines.append(
            f"| {r.loss} | `{res.chosen[r.loss]}` | {r.metric.n} | {_pm(r.metric.mean, r.metric.std, d)} | "
            f"{fmt_interval(r.metric.ci_low, r.metric.ci_high, d)} | {_pm(r.nll.mean, r.nll.std, 3)} | "
            f"{_pm(r.ece.mean, r.ece.std, 3)} | "
            f"{ts_cell(r.temperature, r.extra.get('ts_fitted'), r.metric.n)} | "
            f"{_pm(r.nll_ts.mean, r.nll_ts.std, 3) if r.nll_ts else ''} | "
            f"{_pm(r.ece_ts.mean, r.ece_ts.std, 3) if r.ece_ts else ''} | "
            f"{_pm(r.entropy.mean, r.entropy.std, 3)} |"
        )
    m = sum(p.p_value is not None for _, _, p in res.comparisons)
    lines += [
        "",
        f"## Comparisons on {sc.metric} (paired by seed; Holm-Bonferroni over the {m} tested comparisons)",
        "",
        "| family | vs | Δ | paired p | Holm p | 95% bootstrap CI of Δ | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for fam, b, p in res.comparisons:
        lines.append(
            f"| {fam} | {b} | {signed(p.mean_diff, d)} | {'undefined' if p.p_value is None else f'{p.p_value:.2g}'} | "
            f"{'' if p.p_adjusted is None else f'{p.p_adjusted:.2g}'} | "
            f"{fmt_interval(p.ci_low, p.ci_high, d, signed=True)} | {p.n} |"
        )
    lines.append("")
    for fam, b, p in res.comparisons:
        lines.append(f"- **{fam}** vs {b}: {p.verdict}")
    return "\n".join(lines) + "\n"


def write_sweep_plot(sc: SweepConfig, fams: list[Family], res: SweepResult, path: Path) -> Path:
    """Plot metrics against each family's swept weight, mean ± 1 std over seeds (bands).

    Families without a grid (or with several keywords) are drawn as horizontal lines with their band;
    a star marks each family's chosen setting.

    Args:
        sc: the sweep.
        fams: its families.
        res: the result with runs and chosen settings.
        path: the PNG file (written atomically).

    Returns:
        ``path``.

    Raises:
        ImportError: if matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from infoloss.experiments.report import _save

    keys = [sc.select_metric, sc.metric, "test_ece", "test_ece_ts"]
    keys = list(dict.fromkeys(keys))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4), squeeze=False)
    xs_all = [v[0] for f in fams if len(f.keys) == 1 for v in f.values if isinstance(v[0], (int, float))]
    span = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
    for i, f in enumerate(fams):
        color = plt.get_cmap("tab10")(i % 10)
        for ax, key in zip(axes[0], keys, strict=True):
            pts = []
            for spec, vals in zip(f.specs, f.values, strict=True):
                v = [r.row[key] for r in res.runs.get(spec, []) if r.row.get(key) is not None]
                if v:
                    pts.append(
                        (vals[0] if vals else None, float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
                    )
            if not pts:
                continue
            chosen = res.chosen.get(f.name)
            lo, hi = metric_range(key)
            lo_, hi_ = (-np.inf if lo is None else lo), (np.inf if hi is None else hi)  # bands within the range
            if len(f.keys) == 1 and all(isinstance(p[0], (int, float)) for p in pts):
                x, m, s = (np.array(c, dtype=float) for c in zip(*pts, strict=True))
                ax.plot(x, m, "o-", color=color, label=f"{f.name} ({f.keys[0]})")
                ax.fill_between(x, np.clip(m - s, lo_, hi_), np.clip(m + s, lo_, hi_), color=color, alpha=0.2)
                if chosen in f.specs:
                    j = f.specs.index(chosen)
                    if j < len(x):
                        ax.plot(x[j], m[j], "*", color=color, markersize=13, markeredgecolor="black")
            else:
                m0, s0 = pts[0][1], pts[0][2]
                ax.axhline(m0, color=color, linestyle="--", label=f.name)
                ax.axhspan(max(m0 - s0, lo_), min(m0 + s0, hi_), color=color, alpha=0.12)
            ax.set(
                xlabel="swept weight (each family's keyword)",
                ylabel=key,
                title=key,
                xlim=(span[0] - 0.05, span[1] + 0.05),
            )
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{sc.name}: mean ± 1 std over {len(sc.seeds)} seeds; ★ = setting chosen on {sc.select_metric}")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def run_sweep(
    sc: SweepConfig,
    run_dir: str | Path | None = None,
    *,
    dataset: Dataset | None = None,
    quiet: bool = False,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
) -> SweepResult:
    """Validate, train every (setting, seed) (or one shard's share), then choose, compare and report.

    Args:
        sc: the sweep.
        run_dir: output directory (None: ``runs/<timestamp>-<name>``); finished runs are skipped.
        dataset: an already loaded dataset.
        quiet: print nothing.
        jobs: local processes for independent runs.
        shard: ``(i, n)``: train only this shard's runs; ``infoloss merge`` writes the summary.

    Returns:
        A :class:`SweepResult`; ``interrupted`` when Ctrl-C stopped a run.

    Raises:
        ConfigError: a bad setting, ``jobs < 1``, ``jobs > 1`` under torchrun, or a run directory of other
            settings (nothing was written).
        DatasetError: the dataset cannot be loaded.
        CheckpointError: a run's checkpoint cannot be read.

    Example:
        >>> sc = SweepConfig(losses=["ce", "min-ent:entropy_weight=0.1,0.2"], baselines=["ce"])
        >>> res = run_sweep(sc, "runs/sweep-example")  # doctest: +SKIP
        >>> res.chosen  # doctest: +SKIP
        {'ce': 'ce', 'min-ent': 'min-ent:entropy_weight=0.1'}
    """
    from infoloss.experiments.compare import default_run_dir

    fams = validate_sweep(sc)
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if jobs > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--jobs > 1 runs local processes; under torchrun use --jobs 1")
    device = pick_device(sc.train.device, int(os.environ.get("LOCAL_RANK", "0")))
    ds = dataset if dataset is not None else load_dataset(sc.train.dataset, sc.train.data_dir, sc.train.download)
    specs = [s for f in fams for s in f.specs]
    validate_grid(sc.train, specs, sc.seeds, ds)
    info = init_distributed(device)
    out = Path(broadcast_object(str(run_dir or default_run_dir(sc)), info))
    planned = plan(out, specs, sc.seeds, shard)
    total = len(specs) * len(sc.seeds)
    check_grid_dir(
        out, "sweep", sc.train, [(p, dataclasses.replace(sc.train, loss=p.loss, seed=p.seed)) for p in planned]
    )
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_grid_config(out, "sweep", sc)
    interrupted = run_grid(
        sc.train, planned, total, dataset=ds, dataset_given=dataset is not None, jobs=jobs, quiet=quiet, info=info
    )
    res = SweepResult(out, interrupted=interrupted)
    if shard is not None:
        if info.is_main and not quiet:
            print(
                f"shard {shard[0]}/{shard[1]} done ({len(planned)} of {total} runs); once every shard has "
                f"finished: infoloss merge {out}",
                flush=True,
            )
    elif info.is_main:
        res = summarize_sweep(sc, out, sc.train.num_outputs or ds.num_classes, quiet=quiet, interrupted=interrupted)
    barrier(info)
    return res
