"""Statistics across seeds against SciPy (t-interval, paired t-test) and the wording of the verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infoloss.experiments.stats import fmt_interval, paired_comparison, summarize


@pytest.mark.parametrize("values", [[95.1, 95.8, 95.4], [90.0, 91.5, 89.7, 92.2, 90.9, 91.1], [1.0, 3.0]])
def test_summary_matches_scipy_t_interval(values):
    s = summarize(values)
    a = np.asarray(values)
    lo, hi = stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=stats.sem(a))
    assert s.n == len(a)
    assert s.mean == pytest.approx(a.mean())
    assert s.std == pytest.approx(a.std(ddof=1))
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi))


def test_summary_hand_example():
    # mean 91, sd 1, n 3: half-width = t_{0.975, 2} / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    s = summarize([90.0, 91.0, 92.0])
    assert (s.ci_low, s.ci_high) == pytest.approx((91 - 2.484138, 91 + 2.484138), abs=1e-5)


def test_one_seed_interval_is_undefined_not_nan():
    s = summarize([95.86])
    assert s.std is None and s.ci_low is None and s.ci_high is None
    assert fmt_interval(s.ci_low, s.ci_high) == "undefined (needs >= 2 seeds)"
    p = paired_comparison([95.93], [95.86])
    assert p.p_value is None and p.ci_low is None
    assert p.verdict.startswith("undefined: one seed cannot separate") and "nan" not in p.verdict.lower()


def test_paired_p_value_matches_scipy_ttest_rel():
    rng = np.random.default_rng(1)
    base = 90 + rng.normal(0, 0.5, 8)
    other = base + rng.normal(0.05, 0.3, 8)
    p = paired_comparison(other, base)
    assert p.p_value == pytest.approx(stats.ttest_rel(other, base).pvalue)
    assert p.mean_diff == pytest.approx(np.mean(other - base))
    assert p.ci_low < p.mean_diff < p.ci_high


def test_paired_bootstrap_interval_matches_scipy_bootstrap():
    d_a, d_b = np.array([1.0, 2.0, 3.5, 2.5, 1.5]), np.zeros(5)
    p = paired_comparison(d_a, d_b, n_bootstrap=2000, seed=3)
    ref = stats.bootstrap((d_a,), np.mean, n_resamples=2000, method="percentile", confidence_level=0.95,
                          random_state=np.random.default_rng(3)).confidence_interval  # fmt: skip
    assert (p.ci_low, p.ci_high) == pytest.approx((ref.low, ref.high))


def test_verdicts():
    noise = paired_comparison([95.9, 95.7, 96.1, 95.8], [95.8, 95.9, 95.9, 95.9])
    assert noise.verdict.startswith("not distinguishable from seed noise (p=")
    assert "95% CI [" in noise.verdict and "points" in noise.verdict
    clear = paired_comparison([93.0, 93.1, 92.9, 93.2, 93.0], [92.0, 92.2, 91.9, 92.1, 92.0])
    assert clear.verdict.startswith("beyond seed noise: 1.00 points higher (p=")
    same = paired_comparison([1.0, 2.0], [0.5, 1.5])
    assert same.p_value is None and "identical difference on every seed" in same.verdict


def test_paired_length_mismatch():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_comparison([1.0, 2.0], [1.0])
