"""Comparison report: the Markdown summary table and the PNG plots (matplotlib, Agg backend).

Input everywhere is ``runs: dict[loss_label, list[RunRecord]]`` with the records of one loss in seed
order; all files are written atomically.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from infoloss.experiments import atomic
from infoloss.experiments.stats import (
    Paired,
    Summary,
    apply_holm,
    fmt_interval,
    metric_range,
    paired_comparison,
    summarize,
)

__all__ = [
    "RunRecord",
    "LossRow",
    "build_rows",
    "markdown_table",
    "write_plots",
    "select_epoch",
    "metric_label",
    "signed",
    "ts_cell",
    "PLOT_FILES",
]

PLOT_FILES = ("learning_curves.png", "reliability.png", "entropy_hist.png", "final_accuracy.png")


@dataclass
class RunRecord:
    """One finished run: its seed, per-epoch metric rows and the index of the reported (selected) epoch.

    Attributes:
        seed: the run's seed.
        history: one metrics dict per epoch (the rows of ``metrics.jsonl``).
        index: the reported epoch: -1 (the final one) unless :func:`select_epoch` chose another on
            validation.

    Example:
        >>> r = RunRecord(0, [{"test_acc": 90.0}, {"test_acc": 91.0}], index=0)
        >>> r.row["test_acc"], r.final["test_acc"]
        (90.0, 91.0)
    """

    seed: int
    history: list[dict[str, Any]]
    index: int = -1

    @property
    def final(self) -> dict[str, Any]:
        """The final epoch's metrics (``history[-1]``)."""
        return self.history[-1]

    @property
    def row(self) -> dict[str, Any]:
        """Metrics of the reported epoch (``history[index]``)."""
        return self.history[self.index]


def _better(metric: str) -> int:
    """+1 when higher is better (accuracy), -1 when lower is (NLL, ECE, severity)."""
    return 1 if metric.endswith("_acc") else -1


def select_epoch(history: list[dict[str, Any]], select: str = "final", select_metric: str = "val_acc") -> int:
    """Index of the epoch to report: the last (``final``) or the best on validation (``best-val``).

    ``best-val`` maximizes a ``val_*_acc`` metric or minimizes any other ``val_*`` metric; ties go to the
    lower validation NLL, then to the earlier epoch. Only ``val_*`` keys are read: test metrics never
    take part in a choice.

    Args:
        history: one metrics dict per epoch.
        select: ``final`` or ``best-val``.
        select_metric: the ``val_*`` metric of ``best-val``.

    Returns:
        The epoch's index into ``history`` (-1 for ``final``).

    Raises:
        ValueError: an unknown ``select``, a non-validation ``select_metric``, or epochs without it.

    Example:
        >>> h = [{"val_acc": 90.0, "val_nll": 0.3}, {"val_acc": 92.0, "val_nll": 0.4}, {"val_acc": 92.0, "val_nll": 0.2}]
        >>> select_epoch(h, "best-val"), select_epoch(h)
        (2, -1)
    """
    if select == "final":
        return -1
    if select != "best-val":
        raise ValueError(f"unknown select {select!r}; valid: final, best-val")
    if not select_metric.startswith("val_"):
        raise ValueError(f"select_metric must be a validation metric (val_*), got {select_metric!r}")
    sign = _better(select_metric)
    best, best_key = -1, None
    for i, h in enumerate(history):
        if h.get(select_metric) is None:
            raise ValueError(f"epoch {i + 1} has no {select_metric!r}: runs need a validation split (val_fraction > 0)")
        key = (sign * h[select_metric], -h.get("val_nll", 0.0))
        if best_key is None or key > best_key:
            best, best_key = i, key
    return best


@dataclass
class LossRow:
    """Statistics of one loss across seeds (and its paired comparison with the baseline); built by :func:`build_rows`.

    Attributes:
        loss: the loss label.
        seeds: the seeds of its finished runs.
        metric: :class:`~infoloss.experiments.stats.Summary` of the compared metric.
        nll, ece, entropy: summaries of the test NLL, ECE and mean entropy.
        severity: summary of the mistake severity (None without a hierarchy).
        paired: the comparison with the baseline (None for the baseline itself).
        extra: other per-loss values (``ts_fitted``: runs whose temperature was fitted).
        ece_ts, nll_ts, temperature: after temperature scaling, and the fitted temperature (None without
            a validation split).
        epoch: summary of the reported epoch (None when the rows record none).
    """

    loss: str
    seeds: list[int]
    metric: Summary
    nll: Summary
    ece: Summary
    entropy: Summary
    severity: Summary | None = None
    paired: Paired | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    ece_ts: Summary | None = None
    nll_ts: Summary | None = None
    temperature: Summary | None = None
    epoch: Summary | None = None


def _summ(recs: list[RunRecord], key: str) -> Summary | None:
    vals = [r.row.get(key) for r in recs]
    if any(v is None for v in vals):
        return None
    return summarize([float(v) for v in vals], bounds=metric_range(key))  # type: ignore[arg-type]


def build_rows(
    runs: dict[str, list[RunRecord]], baseline: str, metric: str = "test_acc", n_bootstrap: int = 10000
) -> list[LossRow]:
    """Summarize each loss over its seeds and pair it with the baseline on the seeds both have.

    Every value is taken at each record's reported epoch (:attr:`RunRecord.row`). The comparisons of one
    table are Holm-corrected together (:func:`~infoloss.experiments.stats.apply_holm`); intervals are
    clamped to the metric's range.

    Args:
        runs: loss label -> finished runs.
        baseline: label of the baseline loss (its row has no paired comparison).
        metric: key compared (``test_acc`` in percent: differences are points).
        n_bootstrap: bootstrap resamples of the paired interval.

    Returns:
        One :class:`LossRow` per loss with finished runs, in the order of ``runs``.

    Raises:
        KeyError: if a reported row lacks ``metric``, ``test_nll``, ``test_ece`` or ``test_entropy``.

    Example:
        >>> def row(acc):
        ...     return {"epoch": 1, "test_acc": acc, "test_nll": 0.3, "test_ece": 0.02, "test_entropy": 0.1}
        >>> runs = {"ce": [RunRecord(s, [row(90.0 + s)]) for s in range(3)],
        ...         "focal": [RunRecord(s, [row(90.5 + s + 0.1 * (s % 2))]) for s in range(3)]}
        >>> rows = build_rows(runs, "ce")
        >>> [(r.loss, round(r.metric.mean, 4)) for r in rows], round(rows[1].paired.mean_diff, 4)
        ([('ce', 91.0), ('focal', 91.5333)], 0.5333)
    """
    rows = []
    base = {r.seed: r.row[metric] for r in runs.get(baseline, [])}
    for loss, recs in runs.items():
        if not recs:
            continue
        row = LossRow(
            loss=loss,
            seeds=[r.seed for r in recs],
            metric=summarize([r.row[metric] for r in recs], bounds=metric_range(metric)),
            nll=summarize([r.row["test_nll"] for r in recs], bounds=metric_range("test_nll")),
            ece=summarize([r.row["test_ece"] for r in recs], bounds=metric_range("test_ece")),
            entropy=summarize([r.row["test_entropy"] for r in recs], bounds=metric_range("test_entropy")),
            severity=_summ(recs, "mistake_severity"),
            ece_ts=_summ(recs, "test_ece_ts"),
            nll_ts=_summ(recs, "test_nll_ts"),
            temperature=_summ(recs, "temperature"),
            epoch=summarize([float(r.row["epoch"]) for r in recs]) if all("epoch" in r.row for r in recs) else None,
        )
        if "temperature_fitted" in recs[0].row:
            row.extra["ts_fitted"] = sum(bool(r.row.get("temperature_fitted")) for r in recs)
        if loss != baseline and base:
            common = [r for r in recs if r.seed in base]
            if common:
                unit = "points" if metric == "test_acc" else ""
                row.paired = paired_comparison(
                    [r.row[metric] for r in common],
                    [base[r.seed] for r in common],
                    n_bootstrap=n_bootstrap,
                    unit=unit,
                    digits=_digits(metric),
                )
        rows.append(row)
    compared = [r for r in rows if r.paired is not None]
    for r, adj in zip(compared, apply_holm([r.paired for r in compared]), strict=True):  # type: ignore[misc]
        r.paired = adj
    return rows


def signed(x: float, digits: int) -> str:
    """Format ``x`` with a sign and ``digits`` decimals, never ``-0.00``.

    Args:
        x: the number.
        digits: decimals.

    Returns:
        The text.

    Example:
        >>> signed(1.234, 2), signed(-0.001, 2)
        ('+1.23', '+0.00')
    """
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def ts_cell(temperature: Summary | None, fitted: int | None, n: int) -> str:
    """Format the fitted temperature's cell: mean ± std, and how many runs fitted it when not all did.

    A run with no validation mistake keeps T = 1 (not fitted).

    Args:
        temperature: summary of the temperatures (None: an empty cell).
        fitted: number of runs whose temperature was fitted (None: not recorded).
        n: number of runs.

    Returns:
        E.g. ``"0.78 ± 0.11 (fitted 1/2)"``.

    Example:
        >>> from infoloss.experiments.stats import summarize
        >>> ts_cell(summarize([0.7, 0.86]), 1, 2), ts_cell(summarize([0.7, 0.86]), 2, 2)
        ('0.78 ± 0.11 (fitted 1/2)', '0.78 ± 0.11')
    """
    if temperature is None:
        return ""
    txt = _pm(temperature, 2)
    return txt if fitted is None or fitted == n else f"{txt} (fitted {fitted}/{n})"


def _digits(metric: str) -> int:
    return 2 if metric.endswith("_acc") else 4  # accuracy in points; NLL/ECE/entropy need more decimals


def _pm(s: Summary, digits: int) -> str:
    if s.std is None:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"


def metric_label(metric: str) -> str:
    """Return the column label of a metric key (accuracies get ``(%)``; other keys stay as they are).

    Args:
        metric: the metric key.

    Returns:
        The label.

    Example:
        >>> metric_label("test_acc"), metric_label("test_nll")
        ('test acc (%)', 'test_nll')
    """
    return {"test_acc": "test acc (%)", "val_acc": "val acc (%)"}.get(metric, metric)


def markdown_table(rows: list[LossRow], baseline: str, metric: str = "test_acc") -> str:
    """The summary as Markdown: one row per loss, then one verdict line per non-baseline loss.

    Columns: seeds, metric mean ± std, its 95% t-interval (clamped to the metric's range), NLL, ECE,
    mean entropy (nats), mistake severity (when a hierarchy is given), with a validation split the ECE
    and NLL after temperature scaling and the fitted temperature, and the paired difference against the
    baseline with its p-value, its Holm-adjusted p-value and bootstrap interval.

    Args:
        rows: from :func:`build_rows`.
        baseline: the baseline's label.
        metric: the compared metric key.

    Returns:
        The Markdown text, ending in a newline.

    Example:
        >>> def row(acc):
        ...     return {"epoch": 1, "test_acc": acc, "test_nll": 0.3, "test_ece": 0.02, "test_entropy": 0.1}
        >>> runs = {"ce": [RunRecord(s, [row(90.0 + s)]) for s in range(3)],
        ...         "focal": [RunRecord(s, [row(90.5 + s + 0.1 * (s % 2))]) for s in range(3)]}
        >>> print(markdown_table(build_rows(runs, "ce"), "ce").splitlines()[-1])
        - **focal** vs ce: no verdict: 3 seeds, a verdict needs >= 5 (+0.53 points; p=0.0039, 95% CI [+0.50, +0.60] points)
    """
    label = metric_label(metric)
    has_sev = any(r.severity is not None for r in rows)
    has_ts = any(r.ece_ts is not None for r in rows)
    head = ["loss", "seeds", f"{label} mean ± std", "95% t-interval", "NLL", "ECE", "entropy"]
    if has_sev:
        head.append("severity")
    if has_ts:
        head += ["T (val-fitted)", "NLL after TS", "ECE after TS"]
    head += [f"Δ vs {baseline}", "paired p", "Holm p", "95% bootstrap CI of Δ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        nd = _digits(metric)
        cells = [
            r.loss,
            str(r.metric.n),
            _pm(r.metric, nd),
            fmt_interval(r.metric.ci_low, r.metric.ci_high, nd),
            _pm(r.nll, 3),
            _pm(r.ece, 3),
            _pm(r.entropy, 3),
        ]
        if has_sev:
            cells.append(_pm(r.severity, 3) if r.severity is not None else "")
        if has_ts:
            cells.append(ts_cell(r.temperature, r.extra.get("ts_fitted"), r.metric.n))
            for s_, d in ((r.nll_ts, 3), (r.ece_ts, 3)):
                cells.append(_pm(s_, d) if s_ is not None else "")
        if r.paired is None:
            cells += ["(baseline)" if r.loss == baseline else "", "", "", ""]
        else:
            p = r.paired
            cells += [
                signed(p.mean_diff, nd),
                "undefined" if p.p_value is None else f"{p.p_value:.2g}",
                "" if p.p_adjusted is None else f"{p.p_adjusted:.2g}",
                fmt_interval(p.ci_low, p.ci_high, nd, signed=True),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for r in rows:
        if r.paired is not None:
            lines.append(f"- **{r.loss}** vs {baseline}: {r.paired.verdict}")
    return "\n".join(lines) + "\n"


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic.atomic_write(path, lambda f: f.write(buf.getvalue()))


def write_plots(runs: dict[str, list[RunRecord]], rows: list[LossRow], out: Path, num_classes: int) -> list[Path]:
    """Write the four PNG plots into ``out`` and return their paths.

    * ``learning_curves.png``: test accuracy and train loss per epoch, mean over seeds with a ±1 std band;
    * ``reliability.png``: accuracy per confidence bin (15 bins, seeds pooled) against the diagonal;
    * ``entropy_hist.png``: distribution of predictive entropy on the test set (final epoch, seeds pooled);
    * ``final_accuracy.png``: final accuracy per loss, each seed a dot, mean with its 95% t-interval.

    Args:
        runs: loss label -> finished runs (their rows must hold ``reliability`` and ``entropy_hist``).
        rows: from :func:`build_rows`.
        out: the directory (it must exist).
        num_classes: C (the entropy axis spans ``[0, ln C]``).

    Returns:
        The four paths.

    Raises:
        ImportError: if matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    losses = [k for k, v in runs.items() if v]
    colors = {k: plt.get_cmap("tab10")(i % 10) for i, k in enumerate(losses)}

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for loss in losses:
        n_ep = min(len(r.history) for r in runs[loss])
        ep = np.arange(1, n_ep + 1)
        for ax, key in zip(axes, ("test_acc", "train_loss"), strict=True):
            v = np.array([[h[key] for h in r.history[:n_ep]] for r in runs[loss]])
            m, s = v.mean(0), (v.std(0, ddof=1) if len(v) > 1 else np.zeros(n_ep))
            ax.plot(ep, m, color=colors[loss], label=f"{loss} (n={len(v)})")
            ax.fill_between(ep, m - s, m + s, color=colors[loss], alpha=0.2)
    axes[0].set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy (mean ± 1 std over seeds)")
    axes[1].set(xlabel="epoch", ylabel="train loss", title="training loss (each loss on its own scale)")
    axes[0].legend()
    _save(fig, out / "learning_curves.png")
    plt.close(fig)
    paths.append(out / "learning_curves.png")

    cols = min(len(losses), 4)
    nrows = math.ceil(len(losses) / cols)
    fig, axes2 = plt.subplots(nrows, cols, figsize=(3.4 * cols, 3.4 * nrows), squeeze=False)
    for ax, loss in zip(axes2.flat, losses, strict=False):
        count = np.sum([r.row["reliability"]["count"] for r in runs[loss]], axis=0)
        acc = np.sum(
            [np.array(r.row["reliability"]["accuracy"]) * r.row["reliability"]["count"] for r in runs[loss]], axis=0
        )
        nb = len(count)
        edges = np.linspace(0, 1, nb + 1)
        safe = np.maximum(count, 1)
        ax.bar(
            edges[:-1],
            np.where(count > 0, acc / safe, 0),
            width=1 / nb,
            align="edge",
            color=colors[loss],
            edgecolor="black",
            linewidth=0.5,
            label="accuracy",
        )
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        ece = next(r.ece for r in rows if r.loss == loss)
        ax.set(
            title=f"{loss}\nmean ECE over seeds {ece.mean:.3f}",
            xlabel="confidence",
            ylabel="accuracy",
            xlim=(0, 1),
            ylim=(0, 1),
        )
    for ax in list(axes2.flat)[len(losses) :]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, out / "reliability.png")
    plt.close(fig)
    paths.append(out / "reliability.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    max_ent = math.log(num_classes)
    for loss in losses:
        h = np.sum([r.row["entropy_hist"] for r in runs[loss]], axis=0)
        edges = np.linspace(0, max_ent, len(h) + 1)
        ax.stairs(h / max(h.sum(), 1), edges, color=colors[loss], label=loss, linewidth=1.5)
    ax.set(
        xlabel="predictive entropy (nats)",
        ylabel="fraction of test examples",
        yscale="log",
        title="predictive entropy on the test set (reported epoch)",
    )
    ax.legend()
    _save(fig, out / "entropy_hist.png")
    plt.close(fig)
    paths.append(out / "entropy_hist.png")

    fig, ax = plt.subplots(figsize=(1.4 * len(losses) + 2, 4))
    for i, row in enumerate(rows):
        vals = [r.row["test_acc"] for r in runs[row.loss]]
        ax.scatter(
            np.full(len(vals), i) + np.linspace(-0.12, 0.12, len(vals)), vals, color=colors[row.loss], alpha=0.6, s=14
        )
        m = row.metric
        if m.ci_low is not None and m.ci_high is not None:
            ax.errorbar(
                i + 0.25, m.mean, yerr=[[m.mean - m.ci_low], [m.ci_high - m.mean]], fmt="o", color="black", capsize=4
            )
        else:
            ax.plot(i + 0.25, m.mean, "o", color="black")
    ax.set_xticks(range(len(rows)), [r.loss for r in rows], rotation=20)
    ax.set(ylabel="test accuracy (%)", title="test accuracy: seeds (dots), mean and 95% t-interval")
    _save(fig, out / "final_accuracy.png")
    plt.close(fig)
    paths.append(out / "final_accuracy.png")
    return paths
