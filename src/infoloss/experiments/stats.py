"""Statistics across seeds (SciPy): per-loss summaries and paired comparisons against a baseline.

Runs of different losses with the same seed share the initialization and the data order, so the
comparison is paired: the differences ``metric(loss, seed) - metric(baseline, seed)`` are tested with a
paired t-test (``scipy.stats.ttest_rel``) and a bootstrap interval of their mean
(``scipy.stats.bootstrap``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Summary", "Paired", "summarize", "paired_comparison", "fmt_interval"]


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and 95% t-interval of one loss's metric over n seeds.

    ``std``, ``ci_low`` and ``ci_high`` are None when n < 2 (undefined, not NaN).
    """

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Paired:
    """Paired comparison of a loss against the baseline on the same seeds.

    Attributes:
        n: number of paired seeds.
        mean_diff: mean of (loss - baseline).
        p_value: two-sided paired t-test p-value (None when undefined: n < 2 or all differences equal).
        ci_low, ci_high: 95% bootstrap (percentile) interval of the mean difference (None when n < 2).
        verdict: one plain sentence, e.g. "not distinguishable from seed noise (p=0.41, 95% CI [-0.3, +0.2])".
    """

    n: int
    mean_diff: float
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean, standard deviation and the ``confidence`` t-interval (``scipy.stats.t.interval``) of values.

    Args:
        values: one metric value per seed.
        confidence: interval level.

    Example:
        >>> s = summarize([90.0, 91.0, 92.0])
        >>> round(s.mean, 3), round(s.std, 3), round(s.ci_low, 3), round(s.ci_high, 3)
        (91.0, 1.0, 88.516, 93.484)
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
    return Summary(n, mean, std, float(lo), float(hi))


def fmt_interval(lo: float | None, hi: float | None, digits: int = 2, signed: bool = False) -> str:
    """Format ``[lo, hi]`` (or "undefined (needs >= 2 seeds)" when either end is None)."""
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
) -> Paired:
    """Compare a loss with the baseline over paired seeds (``values[i]`` and ``baseline[i]`` share seed i).

    The difference is called beyond seed noise only when the paired t-test gives ``p < alpha`` **and** the
    bootstrap interval of the mean difference excludes 0.

    Args:
        values: the loss's metric per seed.
        baseline: the baseline's metric per seed, same order and length.
        alpha: significance level (0.05 -> 95% intervals).
        n_bootstrap: bootstrap resamples.
        seed: bootstrap RNG seed (reproducible reports).
        unit: unit named in the verdict (accuracy differences are percentage points; "" for none).
        digits: decimals of the numbers in the verdict.

    Example:
        >>> r = paired_comparison([91.0, 92.5, 90.8], [91.2, 92.0, 91.0])
        >>> r.verdict.startswith("not distinguishable from seed noise")
        True
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
    u = f" {unit}" if unit else ""
    if n < 2:
        return Paired(n, mean, None, None, None,
                      f"undefined: one seed cannot separate a difference ({mean:+.{digits}f}{u}) from seed noise; "
                      f"run >= 2 seeds")  # fmt: skip
    if np.all(d == d[0]):
        return Paired(
            n,
            mean,
            None,
            mean,
            mean,
            f"identical difference on every seed ({mean:+.{digits}f}{u}); no seed noise to test against",
        )
    p = float(stats.ttest_rel(a, b).pvalue)
    boot = stats.bootstrap((d,), np.mean, confidence_level=1 - alpha, n_resamples=n_bootstrap,
                           method="percentile", random_state=np.random.default_rng(seed))  # fmt: skip
    lo, hi = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    detail = f"p={p:.2g}, {100 * (1 - alpha):.0f}% CI {fmt_interval(lo, hi, digits, signed=True)}{u}"
    if p < alpha and (lo > 0 or hi < 0):
        direction = "higher" if mean > 0 else "lower"
        verdict = f"beyond seed noise: {abs(mean):.{digits}f}{u} {direction} ({detail})"
    else:
        verdict = f"not distinguishable from seed noise ({detail})"
    return Paired(n, mean, p, lo, hi, verdict)
