"""Statistics across seeds (SciPy): per-loss summaries and paired comparisons against a baseline.

Runs of different losses with the same seed share the initialization and the data order, so the
comparison is paired: the differences ``metric(loss, seed) - metric(baseline, seed)`` are tested with a
paired t-test (``scipy.stats.ttest_rel``) and a bootstrap interval of their mean
(``scipy.stats.bootstrap``). Several comparisons in one table are corrected together with
Holm-Bonferroni (:func:`holm`); no verdict is given with fewer than :data:`MIN_SEEDS_FOR_VERDICT` seeds;
intervals of a metric are clamped to its range (:data:`METRIC_RANGES`).

References:
    - J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7, 2006.
    - S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian Journal of
      Statistics 6, 1979.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Summary",
    "Paired",
    "summarize",
    "paired_comparison",
    "fmt_interval",
    "holm",
    "apply_holm",
    "metric_range",
    "MIN_SEEDS_FOR_VERDICT",
    "METRIC_RANGES",
]

MIN_SEEDS_FOR_VERDICT = 5

# (low, high) of each metric; None = unbounded. Intervals are clamped to these (a mean accuracy's
# t-interval can otherwise pass 100%).
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "acc": (0.0, 100.0),
    "ece": (0.0, 1.0),
    "nll": (0.0, None),
    "entropy": (0.0, None),
    "severity": (0.0, None),
    "temperature": (0.0, None),
    "loss": (None, None),
}


def metric_range(metric: str) -> tuple[float | None, float | None]:
    """Return the range of a metric, looked up by its key.

    The key is split at ``_`` and the last part found in :data:`METRIC_RANGES` decides (``test_acc``,
    ``val_ece``, ``test_nll_ts``, ``mistake_severity`` ...).

    Args:
        metric: a metric key as recorded per epoch.

    Returns:
        ``(low, high)``; either end is None when the metric is unbounded on that side, both for an
        unknown key.

    Example:
        >>> metric_range("test_acc"), metric_range("val_ece_ts"), metric_range("test_nll"), metric_range("lr")
        ((0.0, 100.0), (0.0, 1.0), (0.0, None), (None, None))
    """
    parts = metric.split("_")
    for key in parts[::-1]:
        if key in METRIC_RANGES:
            return METRIC_RANGES[key]
    return (None, None)


def _clamp(x: float, bounds: tuple[float | None, float | None]) -> float:
    lo, hi = bounds
    if lo is not None and x < lo:
        return lo
    if hi is not None and x > hi:
        return hi
    return x


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and t-interval of one loss's metric over n seeds.

    Built by :func:`summarize`.

    Attributes:
        n: number of seeds.
        mean: mean over the seeds.
        std: sample standard deviation (ddof=1); None when n < 2 (undefined, not NaN).
        ci_low, ci_high: ends of the t-interval, clamped to the metric's range; None when n < 2.
    """

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Paired:
    """Paired comparison of a loss against the baseline on the same seeds (built by :func:`paired_comparison`).

    Attributes:
        n: number of paired seeds.
        mean_diff: mean of (loss - baseline).
        p_value: two-sided paired t-test p-value (None when undefined: n < 2 or all differences equal).
        ci_low, ci_high: 95% bootstrap (percentile) interval of the mean difference (None when n < 2).
        verdict: one plain sentence, e.g. "not distinguishable from seed noise (p=0.41, 95% CI [-0.3, +0.2])".
        p_adjusted: Holm-adjusted p-value (None until :func:`apply_holm`, or when ``p_value`` is None).
        m: number of comparisons corrected together (1: uncorrected).
        alpha: significance level of the test and the interval (0.05: 95% intervals).
        unit: unit named in the verdict (``"points"`` for accuracy in percent, ``""`` for none).
        digits: decimals of the numbers in the verdict.
        min_seeds: fewest seeds for a verdict.
    """

    n: int
    mean_diff: float
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    p_adjusted: float | None = None
    m: int = 1
    alpha: float = 0.05
    unit: str = "points"
    digits: int = 2
    min_seeds: int = MIN_SEEDS_FOR_VERDICT


def holm(p_values: Sequence[float]) -> list[float]:
    r"""Return the Holm-Bonferroni adjusted p-values (step-down), in the input order.

    With the m p-values sorted ascending, :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted value of
    the i-th is

    .. math::
        \tilde p_{(i)} = \max_{j \le i} \min\bigl(1, (m - j + 1)\, p_{(j)}\bigr);

    rejecting where the adjusted value is below alpha controls the family-wise error rate at alpha.
    Ties keep their input order.

    Args:
        p_values: the m unadjusted p-values, in any order.

    Returns:
        The m adjusted p-values, ``out[i]`` belonging to ``p_values[i]``; an empty list for no input.

    Example:
        >>> [round(p, 4) for p in holm([0.01, 0.04, 0.03, 0.005])]
        [0.03, 0.06, 0.06, 0.02]

    References:
        - S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian Journal of
          Statistics 6, 1979.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = running
    return out


def _verdict(r: Paired) -> str:
    u = f" {r.unit}" if r.unit else ""
    d = r.digits
    r = dataclasses.replace(r, mean_diff=round(r.mean_diff, d) + 0.0)  # no "-0.00"
    if r.n < 2:
        return (
            f"undefined: one seed cannot separate a difference ({r.mean_diff:+.{d}f}{u}) from seed noise; "
            f"run >= {r.min_seeds} seeds"
        )
    if r.p_value is None:
        return f"identical difference on every seed ({r.mean_diff:+.{d}f}{u}); no seed noise to test against"
    p_txt = f"p={r.p_value:.2g}"
    p_used = r.p_value
    if r.p_adjusted is not None and r.m > 1:
        p_txt += f", Holm-adjusted p={r.p_adjusted:.2g} over {r.m} comparisons"
        p_used = r.p_adjusted
    detail = f"{p_txt}, {100 * (1 - r.alpha):.0f}% CI {fmt_interval(r.ci_low, r.ci_high, d, signed=True)}{u}"
    if r.n < r.min_seeds:
        return f"no verdict: {r.n} seeds, a verdict needs >= {r.min_seeds} ({r.mean_diff:+.{d}f}{u}; {detail})"
    assert r.ci_low is not None and r.ci_high is not None
    if p_used < r.alpha and (r.ci_low > 0 or r.ci_high < 0):
        direction = "higher" if r.mean_diff > 0 else "lower"
        return f"beyond seed noise: {abs(r.mean_diff):.{d}f}{u} {direction} ({detail})"
    return f"not distinguishable from seed noise ({detail})"


def apply_holm(results: Sequence[Paired]) -> list[Paired]:
    """Correct a table's comparisons together: Holm-adjust their p-values and reword the verdicts.

    Comparisons whose p-value is undefined (one seed, or the same difference on every seed) are left out
    of the family (m counts only the tested ones). A verdict then reads "beyond seed noise" only when the
    *adjusted* p-value is below alpha and the bootstrap interval excludes 0.

    Args:
        results: the comparisons of one table, from :func:`paired_comparison`.

    Returns:
        The comparisons in the same order; tested ones with ``p_adjusted``, ``m`` and ``verdict`` set,
        untested ones unchanged.

    Example:
        >>> a = paired_comparison([1.0, 2.2, 2.9, 4.1, 5.0], [0.0, 1.0, 2.0, 3.0, 4.0])
        >>> b = paired_comparison([0.1, 1.2, 1.9, 3.2, 3.9], [0.0, 1.0, 2.0, 3.0, 4.0])
        >>> [(r.m, f"{r.p_value:.3g}", f"{r.p_adjusted:.3g}") for r in apply_holm([a, b])]
        [(2, '3.41e-05', '6.82e-05'), (2, '0.426', '0.426')]
        >>> apply_holm([a, b])[1].verdict
        'not distinguishable from seed noise (p=0.43, Holm-adjusted p=0.43 over 2 comparisons, 95% CI [-0.06, +0.18] points)'

    References:
        - S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian Journal of
          Statistics 6, 1979.
    """
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    adjusted = holm([results[i].p_value for i in tested])  # type: ignore[misc]
    out = list(results)
    for i, padj in zip(tested, adjusted, strict=True):
        r = dataclasses.replace(results[i], p_adjusted=padj, m=len(tested))
        out[i] = dataclasses.replace(r, verdict=_verdict(r))
    return out


def summarize(
    values: Sequence[float], confidence: float = 0.95, bounds: tuple[float | None, float | None] = (None, None)
) -> Summary:
    r"""Return the mean, standard deviation and ``confidence`` t-interval of per-seed values.

    .. math::
        \bar x \pm t_{(1+c)/2,\, n-1} \, \frac{s}{\sqrt n}, \qquad
        s = \sqrt{\tfrac{1}{n-1} \textstyle\sum_i (x_i - \bar x)^2}

    (``scipy.stats.t.interval``), clamped to ``bounds``. All values equal: ``std`` 0 and the interval
    ``[mean, mean]``.

    Args:
        values: one metric value per seed, n >= 1.
        confidence: interval level c (0.95: 95%).
        bounds: the metric's range (e.g. ``(0, 100)`` for accuracy in percent): the interval is clamped
            to it, so it never claims values the metric cannot take.

    Returns:
        A :class:`Summary`; ``std`` and the interval are None for one value.

    Raises:
        ValueError: if ``values`` is empty.

    Example:
        >>> s = summarize([90.0, 91.0, 92.0])
        >>> round(s.mean, 3), round(s.std, 3), round(s.ci_low, 3), round(s.ci_high, 3)
        (91.0, 1.0, 88.516, 93.484)
        >>> round(summarize([99.0, 99.9, 100.0], bounds=(0.0, 100.0)).ci_high, 3)
        100.0
    """
    a = np.asarray(values, dtype=np.float64)
    n = a.size
    if n == 0:
        raise ValueError("summarize needs at least one value")
    mean = float(a.mean())
    if n < 2:
        return Summary(n, mean, None, None, None)
    std = float(a.std(ddof=1))
    if std == 0.0:
        return Summary(n, mean, 0.0, mean, mean)
    lo, hi = stats.t.interval(confidence, df=n - 1, loc=mean, scale=std / math.sqrt(n))
    return Summary(n, mean, std, _clamp(float(lo), bounds), _clamp(float(hi), bounds))


def fmt_interval(lo: float | None, hi: float | None, digits: int = 2, signed: bool = False) -> str:
    """Format an interval as ``[lo, hi]`` with ``digits`` decimals.

    Args:
        lo, hi: the interval's ends; None when undefined.
        digits: decimals.
        signed: print a sign on both ends (for differences).

    Returns:
        ``"[lo, hi]"``, or ``"undefined (needs >= 2 seeds)"`` when either end is None.

    Example:
        >>> fmt_interval(-0.3, 0.25, signed=True), fmt_interval(88.516, 93.484, 1), fmt_interval(None, 1.0)
        ('[-0.30, +0.25]', '[88.5, 93.5]', 'undefined (needs >= 2 seeds)')
    """
    if lo is None or hi is None:
        return "undefined (needs >= 2 seeds)"
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    return f"[{f.format(lo)}, {f.format(hi)}]"


def paired_comparison(
    values: Sequence[float],
    baseline: Sequence[float],
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 10000,
    seed: int = 0,
    unit: str = "points",
    digits: int = 2,
    min_seeds: int = MIN_SEEDS_FOR_VERDICT,
) -> Paired:
    r"""Compare a loss with the baseline over paired seeds (``values[i]`` and ``baseline[i]`` share seed i).

    With the differences :math:`d_i = v_i - b_i` the paired t-test (``scipy.stats.ttest_rel``) uses

    .. math::
        t = \frac{\bar d}{s_d / \sqrt n}, \quad n - 1 \text{ degrees of freedom (two-sided)},

    and the interval is the percentile bootstrap of :math:`\bar d` (``scipy.stats.bootstrap``,
    ``n_bootstrap`` resamples, seeded). The difference is called beyond seed noise only when the paired t-test gives ``p < alpha`` **and** the
    bootstrap interval of the mean difference excludes 0, and only with at least ``min_seeds`` seeds
    (fewer: "no verdict", the numbers still reported). Several comparisons in one table: pass the results
    through :func:`apply_holm`.

    Args:
        values: the loss's metric per seed.
        baseline: the baseline's metric per seed, same order and length.
        alpha: significance level (0.05 -> 95% intervals).
        n_bootstrap: bootstrap resamples.
        seed: bootstrap RNG seed (reproducible reports).
        unit: unit named in the verdict (accuracy differences are percentage points; "" for none).
        digits: decimals of the numbers in the verdict.
        min_seeds: fewest seeds for a verdict.

    Returns:
        A :class:`Paired`. With one pair ``p_value`` and the interval are None; with the same difference
        on every seed ``p_value`` is None and the interval is ``[mean_diff, mean_diff]``.

    Raises:
        ValueError: if ``values`` and ``baseline`` differ in shape, or are empty.

    Example:
        >>> r = paired_comparison([91.0, 92.5, 90.8, 91.7, 92.0], [91.2, 92.0, 91.0, 91.5, 92.1])
        >>> round(r.mean_diff, 4), round(r.p_value, 4)
        (0.04, 0.7839)
        >>> r.verdict
        'not distinguishable from seed noise (p=0.78, 95% CI [-0.18, +0.30] points)'
        >>> paired_comparison([93.0, 93.1, 92.9], [92.0, 92.2, 91.9]).verdict
        'no verdict: 3 seeds, a verdict needs >= 5 (+0.97 points; p=0.0012, 95% CI [+0.90, +1.00] points)'

    References:
        - J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7, 2006.
    """
    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs equal lengths, got {a.size} and {b.size}")
    d = a - b
    n = d.size
    if n == 0:
        raise ValueError("paired comparison needs at least one pair")
    mean = float(d.mean())
    opts = dict(alpha=alpha, unit=unit, digits=digits, min_seeds=min_seeds)
    if n < 2:
        r = Paired(n, mean, None, None, None, "", **opts)  # type: ignore[arg-type]
    elif np.all(d == d[0]):
        r = Paired(n, mean, None, mean, mean, "", **opts)  # type: ignore[arg-type]
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
        boot = stats.bootstrap(
            (d,),
            np.mean,
            confidence_level=1 - alpha,
            n_resamples=n_bootstrap,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        lo, hi = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
        r = Paired(n, mean, p, lo, hi, "", **opts)  # type: ignore[arg-type]
    return dataclasses.replace(r, verdict=_verdict(r))
