"""infoloss.numpy against independent oracles: torch.nn.functional, torch.distributions, SciPy, identities."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import infoloss.numpy as inp

SHAPES = [(5,), (4, 5), (3, 4, 2, 3)]  # (C,), (N, C), (N, C, d1, d2)
REDUCTIONS = ["none", "mean", "sum"]


def _num_classes(shape: tuple[int, ...]) -> int:
    return shape[1] if len(shape) >= 2 else shape[0]


def _target_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:1] + shape[2:] if len(shape) >= 2 else ()


def _make_case(shape: tuple[int, ...], kind: str, seed: int = 0, ignore: bool = False):
    """Random float64 logits plus an index target (with a few ignored) or a probability target."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=shape)
    c = _num_classes(shape)
    if kind == "index":
        target = rng.integers(0, c, size=_target_shape(shape))
        if ignore and target.ndim > 0:
            target.flat[::3] = -100
    else:
        q = rng.random(size=shape) ** 2
        target = q / q.sum(axis=1 if len(shape) >= 2 else 0, keepdims=True)
    weight = rng.uniform(0.2, 2.0, size=c)
    return logits, target, weight


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x))


def _close(actual: np.ndarray, expected, rtol: float = 1e-9, atol: float = 1e-10) -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.dtype == np.float64
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities with the class dim of the convention, via torch (an oracle independent of numpy.py)."""
    return torch.softmax(_t(logits), dim=1 if logits.ndim >= 2 else 0).numpy()


# ------------------------------------------------------------------------------------------ cross_entropy
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(shape, kind, use_weight, label_smoothing, reduction):
    logits, target, weight = _make_case(shape, kind, seed=len(shape), ignore=True)
    w = weight if use_weight else None
    got = inp.cross_entropy(logits, target, w, reduction=reduction, label_smoothing=label_smoothing)
    want = F.cross_entropy(
        _t(logits), _t(target), None if w is None else _t(w), reduction=reduction, label_smoothing=label_smoothing
    )
    _close(got, want)


@pytest.mark.parametrize("base", [2, 10, 3.5])
def test_cross_entropy_base_divides_by_ln_base(base):
    logits, target, weight = _make_case((6, 4), "index", seed=3)
    nats = inp.cross_entropy(logits, target, weight, label_smoothing=0.1)
    _close(inp.cross_entropy(logits, target, weight, label_smoothing=0.1, base=base), nats / math.log(base))


def test_cross_entropy_custom_ignore_index_and_float32_input():
    logits, target, _ = _make_case((8, 4), "index", seed=5)
    target[[1, 4]] = 2
    got = inp.cross_entropy(logits.astype(np.float32), target, ignore_index=2)
    want = F.cross_entropy(_t(logits.astype(np.float32)).double(), _t(target), ignore_index=2)
    _close(got, want, rtol=1e-12)


def test_cross_entropy_empty_mean_is_zero():
    logits, _, _ = _make_case((3, 4), "index")
    all_ignored = np.full(3, -100)
    assert float(inp.cross_entropy(logits, all_ignored)) == 0.0
    assert torch.isnan(F.cross_entropy(_t(logits), _t(all_ignored)))  # the documented deviation
    assert float(inp.cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int))) == 0.0
    assert inp.cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int), reduction="none").shape == (0,)


def test_cross_entropy_zero_log_zero():
    # A -inf logit against a zero target probability contributes 0, not NaN.
    logits = np.array([[0.0, -np.inf, 1.0]])
    _close(inp.cross_entropy(logits, [2]), -math.log(math.e / (1 + math.e)))
    _close(
        inp.cross_entropy(logits, np.array([[0.5, 0.0, 0.5]])),
        0.5 * math.log(1 + math.e) + 0.5 * (math.log(1 + math.e) - 1),
    )


def test_cross_entropy_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    _close(inp.cross_entropy(logits, [1]), 1000.0)
    _close(inp.cross_entropy(logits, [0]), 0.0, atol=1e-300)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 4),
    c=st.integers(1, 5),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    smoothing=st.sampled_from([0.0, 0.05, 1.0]),
    reduction=st.sampled_from(["sum", "none"]),
)
def test_cross_entropy_matches_torch_random_shapes(n, c, d, seed, smoothing, reduction):
    logits, target, weight = _make_case((n, c, d), "index", seed=seed, ignore=True)
    got = inp.cross_entropy(logits, target, weight, reduction=reduction, label_smoothing=smoothing)
    want = F.cross_entropy(_t(logits), _t(target), _t(weight), reduction=reduction, label_smoothing=smoothing)
    _close(got, want)


# -------------------------------------------------------------------------------------- binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, use_weight):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 3, 2))
    x[0, 0, 0], x[0, 0, 1] = 0.0, 1.0  # exercise torch's log clamp at -100
    y = rng.uniform(size=(4, 3, 2))
    y[0, 0, :] = [1.0, 0.0]
    w = rng.uniform(0.5, 2.0, size=(3, 2)) if use_weight else None
    got = inp.binary_cross_entropy(x, y, w, reduction=reduction)
    want = F.binary_cross_entropy(_t(x), _t(y), None if w is None else _t(w), reduction=reduction)
    _close(got, want)


def test_binary_cross_entropy_log_clamp_and_base():
    _close(inp.binary_cross_entropy([0.0, 1.0], [1.0, 0.0], reduction="none"), [100.0, 100.0])
    _close(inp.binary_cross_entropy([0.5], [1.0], base=2), 1.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_binary_cross_entropy_with_logits_matches_torch(reduction, use_weight, use_pos_weight):
    rng = np.random.default_rng(2)
    x = rng.normal(scale=3.0, size=(5, 4))
    x[0, :2] = [60.0, -60.0]  # large logits stay finite and exact
    y = rng.uniform(size=(5, 4))
    y[1] = [0.0, 1.0, 0.0, 1.0]
    w = rng.uniform(0.5, 2.0, size=(5, 1)) if use_weight else None
    pw = rng.uniform(0.5, 4.0, size=4) if use_pos_weight else None
    got = inp.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw)
    want = F.binary_cross_entropy_with_logits(
        _t(x), _t(y), None if w is None else _t(w), reduction=reduction, pos_weight=None if pw is None else _t(pw)
    )
    _close(got, want)


def test_binary_cross_entropy_with_logits_base():
    _close(inp.binary_cross_entropy_with_logits([0.0], [1.0], base=2), 1.0)


# --------------------------------------------------------------------------------- information, entropy
def test_information_hand_values():
    _close(inp.information([1.0, 0.5, 0.25, 0.0], base=2), [0.0, 1.0, 2.0, np.inf])
    _close(inp.information([0.8]), [-math.log(0.8)])
    _close(inp.information(0.1, base=10), 1.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_entropy_of_logits_matches_categorical(shape, reduction):
    logits, _, _ = _make_case(shape, "index", seed=7)
    class_last = np.moveaxis(logits, 1, -1) if logits.ndim >= 2 else logits
    h = torch.distributions.Categorical(logits=_t(class_last)).entropy()
    want = {"none": h, "mean": h.mean(), "sum": h.sum()}[reduction]
    _close(inp.entropy(logits, reduction=reduction), want)


@pytest.mark.parametrize("base", [None, 2, 10, 0.5])
def test_entropy_of_probs_matches_scipy(base):
    rng = np.random.default_rng(4)
    probs = rng.random((6, 5))
    probs[0, :3] = 0.0  # 0 log 0 = 0
    probs /= probs.sum(axis=1, keepdims=True)
    want = scipy.stats.entropy(probs, base=base, axis=1)
    _close(inp.entropy(probs=probs, base=base), want)
    with np.errstate(divide="ignore"):
        logits = np.log(probs)  # -inf logits where the probability is 0
    _close(inp.entropy(logits, base=base), want)


def test_entropy_empty_mean_is_zero():
    assert float(inp.entropy(np.zeros((0, 3)), reduction="mean")) == 0.0


# ------------------------------------------------------------------------------------------- kl_divergence
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_divergence_matches_scipy(shape, reduction, log_target):
    logits, q, _ = _make_case(shape, "prob", seed=8)
    cdim = 1 if len(shape) >= 2 else 0
    q.flat[::4] = 0.0  # zero target probabilities: 0 log 0 = 0
    q = q / q.sum(axis=cdim, keepdims=True)
    p = _softmax(logits)
    per_element = scipy.special.rel_entr(q, p).sum(axis=cdim)
    np.testing.assert_allclose(scipy.special.kl_div(q, p).sum(axis=cdim), per_element, atol=1e-12)
    want = {"none": per_element, "mean": np.mean(per_element), "sum": np.sum(per_element)}[reduction]
    with np.errstate(divide="ignore"):
        target = np.log(q) if log_target else q
    _close(inp.kl_divergence(logits, target, reduction=reduction, log_target=log_target), want)


def test_kl_divergence_base_one_hot_target_and_zero_log_zero():
    _close(inp.kl_divergence([0.0, 0.0], [1.0, 0.0], base=2), 1.0)
    logits, target, _ = _make_case((5, 3), "index", seed=9)
    _close(inp.kl_divergence(logits, np.eye(3)[target]), F.cross_entropy(_t(logits), _t(target)))
    # -inf logit where the target is 0: finite
    _close(inp.kl_divergence([0.0, -np.inf], [1.0, 0.0]), 0.0)
    _close(inp.kl_divergence(np.log([[0.5, 0.5]]), np.array([[0.5, 0.5]])), 0.0, atol=1e-15)


# ----------------------------------------------------------------------------------- regularized family
FAMILY_OPTIONS = list(itertools.product(["index", "prob"], [False, True], [0.0, 0.1]))


@pytest.mark.parametrize(("kind", "use_weight", "label_smoothing"), FAMILY_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_min_entropy_with_zero_weight_is_cross_entropy(kind, use_weight, label_smoothing, reduction):
    logits, target, weight = _make_case((3, 4, 2), kind, seed=10, ignore=True)
    opts = dict(weight=weight if use_weight else None, reduction=reduction, label_smoothing=label_smoothing)
    ce = inp.cross_entropy(logits, target, **opts)
    _close(inp.min_entropy_loss(logits, target, entropy_weight=0.0, **opts), ce)
    _close(inp.focal_loss(logits, target, gamma=0.0, **opts), ce)
    _close(inp.poly1_cross_entropy(logits, target, epsilon=0.0, **opts), ce)
    _close(inp.mixed_entropy_loss(logits, target, reverse_weight=0.0, **opts), ce)
    _close(inp.symmetric_cross_entropy(logits, target, alpha=1.0, beta=0.0, **opts), ce)


def _sample_weight(target: np.ndarray, weight: np.ndarray | None, c: int) -> np.ndarray:
    w = np.ones(c) if weight is None else weight
    if target.dtype.kind == "i":
        return np.where(target == -100, 0.0, w[np.where(target == -100, 0, target)])
    return np.einsum("nc...,c->n...", target, w)


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_min_entropy_is_ce_plus_weighted_categorical_entropy(kind):
    logits, target, weight = _make_case((6, 4), kind, seed=11, ignore=True)
    s = _sample_weight(target, weight, 4)
    ce = F.cross_entropy(_t(logits), _t(target), _t(weight), reduction="none").numpy()
    h = torch.distributions.Categorical(logits=_t(logits)).entropy().numpy()
    want = 0.7 * ce / math.log(2) + 0.3 * s * h / math.log(10)
    opts = dict(ce_weight=0.7, entropy_weight=0.3, ce_base=2, entropy_base=10, weight=weight)
    _close(inp.min_entropy_loss(logits, target, reduction="none", **opts), want)
    denom = s.sum() if kind == "index" else 6
    _close(inp.min_entropy_loss(logits, target, **opts), want.sum() / denom)


def test_min_entropy_negative_weight_is_confidence_penalty():
    logits, target, _ = _make_case((5, 3), "index", seed=12)
    h = torch.distributions.Categorical(logits=_t(logits)).entropy().numpy()
    ce = F.cross_entropy(_t(logits), _t(target)).item()
    _close(inp.min_entropy_loss(logits, target, entropy_weight=-0.5), ce - 0.5 * h.mean())


def test_mixed_entropy_swapped_term_is_entropy_plus_reverse_kl():
    rng = np.random.default_rng(13)
    logits = rng.normal(size=(5, 4))
    q = rng.uniform(0.05, 1.0, size=(5, 4))
    q /= q.sum(axis=1, keepdims=True)  # strictly positive, all > eps
    p = _softmax(logits)
    h = scipy.stats.entropy(p, axis=1)
    kl_pq = scipy.special.rel_entr(p, q).sum(axis=1)
    got = inp.mixed_entropy_loss(logits, q, ce_weight=0.0, reverse_weight=1.0, eps=1e-3, reduction="none")
    _close(got, h + kl_pq)


@pytest.mark.parametrize("eps", [1e-6, 1e-2])
def test_mixed_entropy_swapped_term_for_one_hot_targets(eps):
    logits, target, weight = _make_case((7, 5), "index", seed=14)
    p_y = _softmax(logits)[np.arange(7), target]
    got = inp.mixed_entropy_loss(logits, target, ce_weight=0.0, reverse_weight=1.0, eps=eps, reduction="none")
    _close(got, (1 - p_y) * math.log(1 / eps))
    # with weight and ce: CE_i + lambda * w_y * (1 - p_y) log(1/eps)  (base 2 for the reverse term)
    ce = F.cross_entropy(_t(logits), _t(target), _t(weight), reduction="none").numpy()
    got = inp.mixed_entropy_loss(
        logits, target, reverse_weight=0.2, reverse_base=2, eps=eps, weight=weight, reduction="sum"
    )
    _close(got, np.sum(ce + 0.2 * weight[target] * (1 - p_y) * math.log2(1 / eps)))


@pytest.mark.parametrize(("kind", "use_weight", "label_smoothing"), FAMILY_OPTIONS)
def test_symmetric_ce_is_mixed_entropy_with_eps_exp_log_zero(kind, use_weight, label_smoothing):
    logits, target, weight = _make_case((4, 3, 2), kind, seed=15, ignore=True)
    opts = dict(weight=weight if use_weight else None, label_smoothing=label_smoothing)
    sce = inp.symmetric_cross_entropy(logits, target, alpha=0.3, beta=0.8, log_zero=-4.0, **opts)
    mix = inp.mixed_entropy_loss(logits, target, ce_weight=0.3, reverse_weight=0.8, eps=math.exp(-4.0), **opts)
    _close(sce, mix)


def test_symmetric_ce_hand_value_one_hot():
    # Wang et al.: RCE = -A (1 - p_y) for one-hot targets, A = log_zero.
    logits, target, _ = _make_case((6, 3), "index", seed=16)
    p_y = _softmax(logits)[np.arange(6), target]
    ce = F.cross_entropy(_t(logits), _t(target), reduction="none").numpy()
    got = inp.symmetric_cross_entropy(logits, target, alpha=0.1, beta=1.0, reduction="none", base=2)
    _close(got, (0.1 * ce + 4.0 * (1 - p_y)) / math.log(2))


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_loss_hand_formula(kind, gamma):
    logits, target, weight = _make_case((3, 4, 2), kind, seed=17, ignore=True)
    p = _softmax(logits)
    q = (
        target
        if kind == "prob"
        else np.where(
            (target == -100)[:, None], 0.0, np.moveaxis(np.eye(4)[np.where(target == -100, 0, target)], -1, 1)
        )
    )
    q = 0.9 * q + 0.1 / 4 if kind == "prob" else np.where((target == -100)[:, None], 0.0, 0.9 * q + 0.1 / 4)
    per = -np.sum(weight[None, :, None] * q * (1 - p) ** gamma * np.log(p), axis=1)
    denom = _sample_weight(target, weight, 4).sum() if kind == "index" else per.size
    got = inp.focal_loss(logits, target, gamma=gamma, weight=weight, label_smoothing=0.1)
    _close(got, per.sum() / denom)
    _close(inp.focal_loss(logits, target, gamma=gamma, weight=weight, label_smoothing=0.1, reduction="none"), per)


def test_focal_loss_binary_hand_value():
    # p = (0.8, 0.2), y = 0: (1 - 0.8)^2 * -ln 0.8
    _close(inp.focal_loss(np.log([[0.8, 0.2]]), [0]), 0.04 * -math.log(0.8))


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_poly1_hand_formula(kind):
    logits, target, weight = _make_case((6, 4), kind, seed=18, ignore=True)
    p = _softmax(logits)
    ce = F.cross_entropy(_t(logits), _t(target), _t(weight), reduction="none").numpy()
    s = _sample_weight(target, weight, 4)
    if kind == "index":
        p_t = np.where(target == -100, 0.0, p[np.arange(6), np.where(target == -100, 0, target)])
    else:
        p_t = np.sum(target * p, axis=1)
    want = (ce + 2.0 * s * (1 - p_t)) / math.log(2)
    opts = dict(epsilon=2.0, weight=weight, base=2)
    _close(inp.poly1_cross_entropy(logits, target, reduction="none", **opts), want)
    denom = s.sum() if kind == "index" else 6
    _close(inp.poly1_cross_entropy(logits, target, **opts), want.sum() / denom)


def test_family_empty_mean_is_zero():
    logits = np.zeros((2, 3))
    ignored = np.array([-100, -100])
    for fn in (
        inp.min_entropy_loss,
        inp.mixed_entropy_loss,
        inp.symmetric_cross_entropy,
        inp.focal_loss,
        inp.poly1_cross_entropy,
    ):
        assert float(fn(logits, ignored)) == 0.0
        _close(fn(logits, ignored, reduction="none"), [0.0, 0.0])


# ------------------------------------------------------------------------------- cross_entropy_from_probs
def test_cross_entropy_from_probs_agrees_with_logits_form():
    logits, target, _ = _make_case((3, 4, 2), "index", seed=19)
    probs = _softmax(logits)
    _close(inp.cross_entropy_from_probs(probs, target), F.cross_entropy(_t(logits), _t(target)))
    _, q, _ = _make_case((3, 4, 2), "prob", seed=19)
    _close(
        inp.cross_entropy_from_probs(probs, q, reduction="none", base=10),
        F.cross_entropy(_t(logits), _t(q), reduction="none") / math.log(10),
    )


def test_cross_entropy_from_probs_clipping_bias():
    # A zero probability on the true class is scored as eps; a certain, correct prediction costs -log(1-eps).
    _close(inp.cross_entropy_from_probs([[0.0, 1.0]], [0], eps=1e-3), -math.log(1e-3))
    _close(inp.cross_entropy_from_probs([[0.0, 1.0]], [1], eps=1e-3), -math.log(1 - 1e-3))
    assert float(inp.cross_entropy(np.log([[0.0 + 1e-300, 1.0]]), [1])) == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: inp.cross_entropy(np.zeros((2, 3)), np.zeros(3, dtype=int)), ValueError, "shape"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "same shape"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError, "out of range"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), np.array([-1, 0])), ValueError, "out of range"),
        (lambda: inp.cross_entropy(np.zeros((1, 2)), np.array([[1.5, -0.5]])), ValueError, "non-negative"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], weight=[1.0, 2.0]), ValueError, "weight"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], reduction="avg"), ValueError, "reduction"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], base=1), ValueError, "base"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], base=-2.0), ValueError, "base"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], base="2"), TypeError, "base"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), [0, 1], label_smoothing=1.5), ValueError, "label_smoothing"),
        (lambda: inp.cross_entropy(np.zeros((2, 3)), np.array([True, False])), TypeError, "target"),
        (lambda: inp.cross_entropy(np.zeros(()), np.array(0)), ValueError, "at least 1 dimension"),
        (lambda: inp.cross_entropy(np.zeros((2, 0)), [0, 1]), ValueError, "at least one class"),
        (lambda: inp.cross_entropy(["a", "b"], 0), TypeError, "input"),
        (lambda: inp.cross_entropy_from_probs([[0.5, 0.5]], [0], eps=0.0), ValueError, "eps"),
        (lambda: inp.cross_entropy_from_probs([[0.5, 0.5]], [0], eps=0.7), ValueError, "eps"),
        (lambda: inp.cross_entropy_from_probs([[1.5, -0.5]], [0]), ValueError, "probs"),
        (lambda: inp.mixed_entropy_loss(np.zeros((1, 2)), [0], eps=1.0), ValueError, "eps"),
        (lambda: inp.mixed_entropy_loss(np.zeros((1, 2)), [0], reverse_base=1.0), ValueError, "reverse_base"),
        (lambda: inp.min_entropy_loss(np.zeros((1, 2)), [0], entropy_base=0), ValueError, "entropy_base"),
        (lambda: inp.symmetric_cross_entropy(np.zeros((1, 2)), [0], log_zero=1.0), ValueError, "log_zero"),
        (lambda: inp.focal_loss(np.zeros((1, 2)), [0], gamma=-1.0), ValueError, "gamma"),
        (lambda: inp.entropy(), ValueError, "exactly one"),
        (lambda: inp.entropy([0.0], probs=[1.0]), ValueError, "exactly one"),
        (lambda: inp.entropy(probs=[0.5, -0.5]), ValueError, "probs"),
        (lambda: inp.information([1.2]), ValueError, "probs"),
        (lambda: inp.binary_cross_entropy([0.5, 1.5], [1.0, 0.0]), ValueError, "input"),
        (lambda: inp.binary_cross_entropy([0.5, 0.5], [1.0]), ValueError, "shape"),
        (lambda: inp.binary_cross_entropy([0.5], [-1.0]), ValueError, "target"),
        (lambda: inp.binary_cross_entropy([0.5, 0.5], [1.0, 0.0], weight=[1.0, 2.0, 3.0]), ValueError, "weight"),
        (
            lambda: inp.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=[1.0, 2.0]),
            ValueError,
            "pos_weight",
        ),
        (lambda: inp.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)) - 1.0), ValueError, "non-negative"),
        (lambda: inp.kl_divergence(np.zeros((2, 3)), np.array([0, 1])), TypeError, "floating"),
        (lambda: inp.cross_entropy(np.zeros((1, 2)), np.array([[np.nan, 1.0]])), ValueError, "NaN"),
        (lambda: inp.information([np.nan]), ValueError, "probs"),
        (lambda: inp.min_entropy_loss(np.zeros((1, 2)), [0], entropy_weight=np.inf), ValueError, "entropy_weight"),
        (lambda: inp.poly1_cross_entropy(np.zeros((1, 2)), [0], epsilon="1"), TypeError, "epsilon"),
        (lambda: inp.symmetric_cross_entropy(np.zeros((1, 2)), [0], beta=np.nan), ValueError, "beta"),
        (lambda: inp.kl_divergence(np.zeros((2, 3)), np.zeros((3, 2)), log_target=True), ValueError, "shape"),
    ],
)
def test_invalid_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()
