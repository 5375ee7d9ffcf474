"""Statistics across seeds against SciPy (t-interval, paired t-test) and the wording of the verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infoloss.experiments.stats import apply_holm, fmt_interval, holm, metric_range, paired_comparison, summarize


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
    ref = stats.bootstrap(
        (d_a,),
        np.mean,
        n_resamples=2000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(3),
    ).confidence_interval
    assert (p.ci_low, p.ci_high) == pytest.approx((ref.low, ref.high))


def test_verdicts():
    noise = paired_comparison([95.9, 95.7, 96.1, 95.8, 95.9], [95.8, 95.9, 95.9, 95.9, 95.8])
    assert noise.verdict.startswith("not distinguishable from seed noise (p=")
    assert "95% CI [" in noise.verdict and "points" in noise.verdict
    clear = paired_comparison([93.0, 93.1, 92.9, 93.2, 93.0], [92.0, 92.2, 91.9, 92.1, 92.0])
    assert clear.verdict.startswith("beyond seed noise: 1.00 points higher (p=")
    same = paired_comparison([1.0, 2.0], [0.5, 1.5])
    assert same.p_value is None and "identical difference on every seed" in same.verdict


@pytest.mark.parametrize("n", [2, 3, 4])
def test_no_verdict_below_five_seeds(n):
    # a difference of 1 point on every seed with tiny noise: p is far below 0.05 already at n=3,
    # but fewer than five seeds never give a verdict
    a = [93.0, 93.1, 92.9, 93.2][:n]
    b = [92.0, 92.2, 91.9, 92.1][:n]
    r = paired_comparison(a, b)
    assert r.verdict.startswith(f"no verdict: {n} seeds, a verdict needs >= 5")
    assert "beyond" not in r.verdict and r.p_value is not None  # the numbers are still reported
    assert paired_comparison(a, b, min_seeds=n).verdict.startswith("beyond seed noise")


def test_holm_hand_computed():
    # p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 with multipliers 4, 3, 2, 1:
    #   0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06; back in input order:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # capped at 1, ties keep the order, a single p is unchanged
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == pytest.approx([0.02])
    assert holm([]) == []


def test_apply_holm_rewords_verdicts_and_skips_undefined():
    base = [92.0, 92.2, 91.9, 92.1, 92.0]
    strong = paired_comparison([93.0, 93.1, 92.9, 93.2, 93.0], base)  # p ~ 6e-6
    marginal = paired_comparison([92.2, 92.4, 92.0, 92.3, 92.0], base)  # p ~ 0.025
    weak = paired_comparison([92.1, 92.5, 91.8, 92.4, 92.2], base)  # p ~ 0.10
    weak2 = paired_comparison([92.0, 92.4, 91.8, 92.3, 92.1], base)
    undefined = paired_comparison([93.0, 93.2, 92.9, 93.1, 93.0], base)  # +1.0 on every seed
    assert undefined.p_value is None
    out = apply_holm([strong, marginal, weak, weak2, undefined])
    ps = [strong.p_value, marginal.p_value, weak.p_value, weak2.p_value]
    assert [r.p_adjusted for r in out[:4]] == pytest.approx(holm(ps))
    assert all(r.m == 4 for r in out[:4]) and out[4].p_adjusted is None and out[4].m == 1
    assert "Holm-adjusted p=" in out[0].verdict and "over 4 comparisons" in out[0].verdict
    assert out[0].verdict.startswith("beyond seed noise")  # 4 * 6e-6 is still tiny
    # marginal: raw p < 0.05 (second smallest, multiplier 3) but the Holm-adjusted one is not
    assert marginal.p_value < 0.05 and marginal.verdict.startswith("beyond seed noise")
    assert out[1].p_adjusted == pytest.approx(max(3 * marginal.p_value, 4 * strong.p_value))
    assert out[1].p_adjusted >= 0.05 and out[1].verdict.startswith("not distinguishable from seed noise")


def test_intervals_are_clamped_to_the_metric_range():
    vals = [99.9, 100.0, 99.2]  # mean 99.7, the raw t-interval reaches past 100
    raw = summarize(vals)
    assert raw.ci_high > 100
    s = summarize(vals, bounds=metric_range("test_acc"))
    assert s.ci_high == 100.0 and s.ci_low == pytest.approx(raw.ci_low)
    assert summarize([0.001, 0.0, 0.02], bounds=metric_range("test_ece_ts")).ci_low == 0.0
    assert metric_range("test_nll") == (0.0, None) and metric_range("mistake_severity") == (0.0, None)


def test_paired_length_mismatch():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_comparison([1.0, 2.0], [1.0])
