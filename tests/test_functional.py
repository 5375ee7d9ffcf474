"""infoloss.functional against its oracles: torch.nn.functional, torch.distributions, SciPy, hand-derived values.

Every test taking the ``backend`` fixture runs once with the reference kernels and once with the fused ones.
"""

from __future__ import annotations

import math

import pytest
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as TF

import infoloss.functional as F

SHAPES = [(5,), (7, 4), (3, 5, 2), (2, 3, 2, 3)]  # (C,), (N, C), (N, C, d1), (N, C, d1, d2)
REDUCTIONS = ["none", "mean", "sum"]


def _class_dim(shape: tuple[int, ...]) -> int:
    return 0 if len(shape) == 1 else 1


def _targets(shape, dtype=torch.float64, ignore_some=True):
    c = shape[_class_dim(shape)]
    idx_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    y = torch.randint(0, c, idx_shape)
    if ignore_some and y.numel() > 1:
        y.view(-1)[0] = -100
    q = torch.softmax(torch.randn(shape, dtype=dtype) * 2, _class_dim(shape))
    return y, q


def _grad(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(value.sum(), x)
    return g


# ------------------------------------------------------------------------------------------- cross entropy
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("target_kind", ["index", "probs"])
def test_cross_entropy_matches_torch(backend, shape, reduction, use_weight, label_smoothing, target_kind):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y, q = _targets(shape, ignore_some=len(shape) > 1)
    target = y if target_kind == "index" else q
    c = shape[_class_dim(shape)]
    weight = torch.rand(c, dtype=torch.float64) + 0.1 if use_weight else None
    kw = dict(weight=weight, reduction=reduction, label_smoothing=label_smoothing)
    ours = F.cross_entropy(x, target, **kw)
    ref = TF.cross_entropy(x, target, **kw)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(_grad(ours, x), _grad(ref, x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_cross_entropy_low_precision_computed_in_float32(backend, dtype):
    x = (torch.randn(64, 50) * 3).to(dtype).requires_grad_()
    y = torch.randint(0, 50, (64,))
    ours = F.cross_entropy(x, y, label_smoothing=0.1)
    assert ours.dtype == dtype
    x32 = x.detach().float().requires_grad_()
    ref = TF.cross_entropy(x32, y, label_smoothing=0.1)
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}[dtype]
    torch.testing.assert_close(ours.float(), ref, rtol=tol, atol=tol)
    g = _grad(ours, x)
    assert g.dtype == dtype
    torch.testing.assert_close(g.float(), _grad(ref, x32), rtol=tol, atol=tol)


@pytest.mark.parametrize("base,factor", [(2, math.log(2)), (10, math.log(10)), (math.e, 1.0), (3.5, math.log(3.5))])
def test_cross_entropy_base_scaling(backend, base, factor):
    x = torch.randn(6, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (6,))
    torch.testing.assert_close(F.cross_entropy(x, y, base=base) * factor, TF.cross_entropy(x, y))


def test_cross_entropy_all_ignored_and_empty_give_zero_with_zero_grad(backend):
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.full((4,), -100)
    assert torch.isnan(TF.cross_entropy(x, y))  # torch's behaviour we deviate from
    value = F.cross_entropy(x, y)
    assert value.item() == 0.0
    assert torch.equal(_grad(value, x), torch.zeros_like(x))
    empty = torch.randn(0, 3, requires_grad=True)
    value = F.cross_entropy(empty, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    assert _grad(value, empty).shape == (0, 3)
    assert F.cross_entropy(empty, torch.zeros(0, 3)).item() == 0.0


def test_cross_entropy_zero_weights_mean_is_zero(backend):
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    w = torch.tensor([0.0, 0.0, 1.0])
    value = F.cross_entropy(x, y, weight=w)
    assert value.item() == 0.0 and torch.isfinite(_grad(value, x)).all()


def test_minus_inf_logit_against_zero_target_is_finite(backend):
    x = torch.tensor([[0.0, 1.0, -math.inf]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[0.3, 0.7, 0.0]], dtype=torch.float64)
    assert torch.isnan(TF.cross_entropy(x, q))  # torch: 0 * (-inf) = NaN
    value = F.cross_entropy(x, q)
    expected = -(0.3 * torch.log_softmax(x.detach(), 1)[0, 0] + 0.7 * torch.log_softmax(x.detach(), 1)[0, 1])
    torch.testing.assert_close(value, expected)
    g = _grad(value, x)
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g[0, :2], torch.softmax(x.detach()[0, :2], 0) - q[0, :2])
    for fn in (F.min_entropy_loss, F.mixed_entropy_loss):
        v = fn(x, q)
        assert torch.isfinite(v) and torch.isfinite(_grad(v, x)).all()
    assert torch.isfinite(F.entropy(x)).all()


@pytest.mark.parametrize(
    "fn",
    [
        "cross_entropy",
        "min_entropy_loss",
        "mixed_entropy_loss",
        "symmetric_cross_entropy",
        "focal_loss",
        "poly1_cross_entropy",
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_logits_are_finite(backend, fn, dtype):
    x = torch.randn(16, 10) * 1e4
    x[0] = torch.tensor([1e4] + [-1e4] * 9)
    x = x.to(dtype).requires_grad_()
    y = torch.randint(0, 10, (16,))
    y[0] = 3  # the true class at -1e4 while another sits at +1e4
    value = getattr(F, fn)(x, y, label_smoothing=0.1)
    assert torch.isfinite(value)
    assert torch.isfinite(_grad(value, x)).all()
    h = F.entropy(x.detach())
    assert torch.isfinite(h).all() and (h >= 0).all()


# ------------------------------------------------------------------------------------------ binary CE
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, use_weight):
    p = torch.rand(5, 3, dtype=torch.float64).clamp(0.01, 0.99).requires_grad_()
    t = torch.rand(5, 3, dtype=torch.float64)
    w = torch.rand(3, dtype=torch.float64) if use_weight else None
    ours = F.binary_cross_entropy(p, t, w, reduction)
    ref = TF.binary_cross_entropy(p, t, w, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(_grad(ours, p), _grad(ref, p))
    torch.testing.assert_close(F.binary_cross_entropy(p, t, w, reduction, base=2) * math.log(2), ref)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_binary_cross_entropy_with_logits_matches_torch(reduction, use_weight, use_pos_weight):
    x = (torch.randn(6, 4, dtype=torch.float64) * 5).requires_grad_()
    t = torch.rand(6, 4, dtype=torch.float64)
    w = torch.rand(4, dtype=torch.float64) if use_weight else None
    pw = torch.rand(4, dtype=torch.float64) * 3 if use_pos_weight else None
    ours = F.binary_cross_entropy_with_logits(x, t, w, reduction, pw)
    ref = TF.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(_grad(ours, x), _grad(ref, x))
    torch.testing.assert_close(F.binary_cross_entropy_with_logits(x, t, w, reduction, pw, base=10) * math.log(10), ref)


def test_binary_extremes_finite_and_empty_mean_zero():
    x = torch.tensor([1e4, -1e4, 0.0], requires_grad=True)
    t = torch.tensor([0.0, 1.0, 1.0])
    v = F.binary_cross_entropy_with_logits(x, t)
    assert torch.isfinite(v) and torch.isfinite(_grad(v, x)).all()
    p = torch.tensor([0.0, 1.0], requires_grad=True)
    v = F.binary_cross_entropy(p, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(v, torch.tensor(100.0))  # torch clamps each log at -100
    assert F.binary_cross_entropy(torch.zeros(0), torch.zeros(0)).item() == 0.0
    assert F.binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0)).item() == 0.0


# -------------------------------------------------------------------------------------- information, entropy
def test_information_hand_values():
    p = torch.tensor([1.0, 0.5, 0.25, 0.0], dtype=torch.float64)
    torch.testing.assert_close(F.information(p, base=2), torch.tensor([0.0, 1.0, 2.0, math.inf], dtype=torch.float64))
    torch.testing.assert_close(F.information(torch.tensor([0.1]), base=10), torch.tensor([1.0]))
    torch.testing.assert_close(F.information(torch.tensor([0.8])), torch.tensor([0.22314355]))  # tutorial's 0.22


@pytest.mark.parametrize("shape", SHAPES)
def test_entropy_matches_categorical_and_scipy(backend, shape):
    x = torch.randn(shape, dtype=torch.float64) * 3
    dim = _class_dim(shape)
    moved = x.movedim(dim, -1)
    ref = torch.distributions.Categorical(logits=moved).entropy()
    torch.testing.assert_close(F.entropy(x), ref)
    probs = torch.softmax(x, dim)
    torch.testing.assert_close(F.entropy(probs=probs), ref)
    sp = scipy.stats.entropy(probs.numpy(), base=2, axis=dim)
    torch.testing.assert_close(F.entropy(x, base=2), torch.as_tensor(sp))
    torch.testing.assert_close(F.entropy(x, reduction="mean"), ref.mean())
    torch.testing.assert_close(F.entropy(x, reduction="sum"), ref.sum())


def test_entropy_tutorial_example_is_corrected(backend):
    # The tutorial prints "Entropy: 0.9686" for logits [2.0, 1.0, 0.1]; the entropy of softmax is 0.8467 nats.
    p = torch.softmax(torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64), 0)
    by_hand = -sum(float(pi) * math.log(float(pi)) for pi in p)
    value = F.entropy(torch.tensor([[2.0, 1.0, 0.1]], dtype=torch.float64))
    assert value.item() == pytest.approx(by_hand, abs=1e-12)
    assert value.item() == pytest.approx(0.8467, abs=1e-4)


def test_entropy_gradient_is_analytic(backend):
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    h = F.entropy(x)
    g = _grad(h, x)
    p = torch.softmax(x.detach(), 1)
    expected = -p * (torch.log(p) + h.detach().unsqueeze(1))
    torch.testing.assert_close(g, expected)


def test_entropy_of_zero_probability_class():
    probs = torch.tensor([[0.0, 0.5, 0.5]])
    torch.testing.assert_close(F.entropy(probs=probs, base=2), torch.tensor([1.0]))


# ---------------------------------------------------------------------------------------------------- KL
@pytest.mark.parametrize("shape", SHAPES)
def test_kl_divergence_matches_scipy(shape):
    dim = _class_dim(shape)
    x = torch.randn(shape, dtype=torch.float64)
    q = torch.softmax(torch.randn(shape, dtype=torch.float64), dim)
    p = torch.softmax(x, dim)
    per_element = torch.as_tensor(scipy.special.rel_entr(q.numpy(), p.numpy()).sum(axis=dim))
    torch.testing.assert_close(F.kl_divergence(x, q, reduction="none"), per_element)
    torch.testing.assert_close(F.kl_divergence(x, q), per_element.mean())
    torch.testing.assert_close(F.kl_divergence(x, q, reduction="sum"), per_element.sum())
    torch.testing.assert_close(F.kl_divergence(x, torch.log(q), log_target=True, reduction="none"), per_element)
    torch.testing.assert_close(F.kl_divergence(x, q, base=2, reduction="none") * math.log(2), per_element)


def test_kl_mean_is_batchmean_not_elementwise_mean():
    x = torch.randn(4, 6, dtype=torch.float64)
    q = torch.softmax(torch.randn(4, 6, dtype=torch.float64), 1)
    batchmean = TF.kl_div(torch.log_softmax(x, 1), q, reduction="batchmean")
    torch.testing.assert_close(F.kl_divergence(x, q), batchmean)


def test_kl_zero_target_entries():
    x = torch.tensor([[0.0, 0.0, -math.inf]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    value = F.kl_divergence(x, q)
    torch.testing.assert_close(value, torch.tensor(math.log(2), dtype=torch.float64))
    assert torch.isfinite(_grad(value, x)).all()


# -------------------------------------------------------------------------------------------- MIN-ENT / MIX-ENT
@pytest.mark.parametrize("target_kind", ["index", "probs"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_min_entropy_loss_is_ce_plus_weighted_entropy(backend, target_kind, use_weight, reduction):
    shape = (6, 5, 2)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y, q = _targets(shape)
    target = y if target_kind == "index" else q
    w = torch.rand(5, dtype=torch.float64) + 0.5 if use_weight else None
    ours = F.min_entropy_loss(
        x, target, ce_weight=0.7, entropy_weight=-0.3, weight=w, reduction=reduction, label_smoothing=0.1
    )
    # Oracle: torch CE plus the entropy term with sample weights s_i and CE's denominator.
    ce = TF.cross_entropy(x, target, weight=w, reduction="none", label_smoothing=0.1)
    h = torch.distributions.Categorical(logits=x.movedim(1, -1)).entropy()
    if target_kind == "index":
        valid = (y != -100).double()
        s = valid if w is None else w[y.clamp_min(0)] * valid
        denom = s.sum()
    else:
        s = torch.ones_like(h) if w is None else (q * w.view(1, -1, 1)).sum(1)
        denom = torch.tensor(float(h.numel()), dtype=torch.float64)
    per = 0.7 * ce + (-0.3) * s * h
    ref = {"none": per, "sum": per.sum(), "mean": per.sum() / denom}[reduction]
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(_grad(ours, x), _grad(ref, x))


def test_min_entropy_with_zero_weight_is_exactly_ce(backend):
    x = torch.randn(8, 6)
    y = torch.randint(0, 6, (8,))
    assert torch.equal(F.min_entropy_loss(x, y, entropy_weight=0.0), F.cross_entropy(x, y))
    assert torch.equal(F.mixed_entropy_loss(x, y, reverse_weight=0.0), F.cross_entropy(x, y))


def test_min_entropy_separate_bases(backend):
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (5,))
    value = F.min_entropy_loss(x, y, entropy_weight=0.5, ce_base=2, entropy_base=10)
    ref = TF.cross_entropy(x, y) / math.log(2) + 0.5 * F.entropy(x).mean() / math.log(10)
    torch.testing.assert_close(value, ref)


def test_mixed_swapped_term_identity_strictly_positive_targets(backend):
    x = torch.randn(7, 5, dtype=torch.float64)
    q = torch.softmax(torch.randn(7, 5, dtype=torch.float64), 1)  # every entry > eps
    r = F.mixed_entropy_loss(x, q, ce_weight=0.0, reverse_weight=1.0, eps=1e-9, reduction="none")
    p = torch.softmax(x, 1)
    h = F.entropy(x)
    kl_p_q = (p * (torch.log(p) - torch.log(q))).sum(1)
    torch.testing.assert_close(r, h + kl_p_q)


def test_mixed_swapped_term_identity_one_hot_targets(backend):
    x = torch.randn(9, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (9,))
    for eps in (1e-6, 1e-3, 0.5):
        r = F.mixed_entropy_loss(x, y, ce_weight=0.0, reverse_weight=1.0, eps=eps, reduction="none")
        p_y = torch.softmax(x, 1).gather(1, y[:, None]).squeeze(1)
        torch.testing.assert_close(r, (1 - p_y) * math.log(1 / eps))


def test_mixed_with_bases_and_ignore(backend):
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, -100, 1, 0])
    value = F.mixed_entropy_loss(x, y, ce_weight=1.0, reverse_weight=0.2, ce_base=2, reverse_base=2, eps=1e-4)
    keep = y != -100
    p_y = torch.softmax(x[keep], 1).gather(1, y[keep][:, None]).squeeze(1)
    ref = (TF.cross_entropy(x[keep], y[keep], reduction="none") + 0.2 * (1 - p_y) * math.log(1e4)) / math.log(2)
    torch.testing.assert_close(value, ref.mean())


def test_symmetric_cross_entropy_matches_paper_formula(backend):
    x = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (10,))
    value = F.symmetric_cross_entropy(x, y, alpha=0.1, beta=1.0, log_zero=-4.0)
    p = torch.softmax(x, 1)
    one_hot = TF.one_hot(y, 5).double()
    log_q = torch.where(one_hot > 0, torch.zeros_like(one_hot), torch.full_like(one_hot, -4.0))  # log 0 := A
    rce = -(p * log_q).sum(1)
    ref = 0.1 * TF.cross_entropy(x, y) + 1.0 * rce.mean()
    torch.testing.assert_close(value, ref)
    torch.testing.assert_close(_grad(value, x), _grad(ref, x))
    same = F.mixed_entropy_loss(x, y, ce_weight=0.1, reverse_weight=1.0, eps=math.exp(-4.0))
    torch.testing.assert_close(value, same)


# ------------------------------------------------------------------------------------------- focal, poly-1
def test_focal_loss_matches_explicit_formula():
    x = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (12,))
    y[3] = -100
    w = torch.rand(5, dtype=torch.float64) + 0.5
    value = F.focal_loss(x, y, gamma=2.0, weight=w)
    p = torch.softmax(x, 1)
    keep = y != -100
    pt = p[keep].gather(1, y[keep][:, None]).squeeze(1)
    per = -w[y[keep]] * (1 - pt) ** 2 * torch.log(pt)
    ref = per.sum() / w[y[keep]].sum()
    torch.testing.assert_close(value, ref)
    torch.testing.assert_close(_grad(value, x), _grad(ref, x))
    assert torch.allclose(
        F.focal_loss(x, y, gamma=0.0, weight=w, label_smoothing=0.2),
        TF.cross_entropy(x, y, weight=w, label_smoothing=0.2),
    )
    q = torch.softmax(torch.randn(12, 5, dtype=torch.float64), 1)
    torch.testing.assert_close(F.focal_loss(x, q, gamma=0.0), TF.cross_entropy(x, q))


def test_poly1_matches_explicit_formula():
    x = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (12,))
    value = F.poly1_cross_entropy(x, y, epsilon=2.0)
    pt = torch.softmax(x, 1).gather(1, y[:, None]).squeeze(1)
    ref = (TF.cross_entropy(x, y, reduction="none") + 2.0 * (1 - pt)).mean()
    torch.testing.assert_close(value, ref)
    torch.testing.assert_close(_grad(value, x), _grad(ref, x))
    torch.testing.assert_close(
        F.poly1_cross_entropy(x, y, epsilon=0.0, label_smoothing=0.1), TF.cross_entropy(x, y, label_smoothing=0.1)
    )


# ----------------------------------------------------------------------------------------------- gradcheck
GRADCHECK_LOSSES = {
    "cross_entropy": lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
    "min_entropy": lambda x, t: F.min_entropy_loss(x, t, entropy_weight=0.3, label_smoothing=0.1),
    "confidence_penalty": lambda x, t: F.min_entropy_loss(x, t, entropy_weight=-0.3),
    "mixed_entropy": lambda x, t: F.mixed_entropy_loss(x, t, reverse_weight=0.3, eps=1e-3, label_smoothing=0.1),
    "symmetric": lambda x, t: F.symmetric_cross_entropy(x, t),
    "focal": lambda x, t: F.focal_loss(x, t, gamma=1.5),
    "poly1": lambda x, t: F.poly1_cross_entropy(x, t, epsilon=0.5),
    "kl": lambda x, t: F.kl_divergence(x, torch.softmax(torch.ones_like(x), 1)),
    "entropy": lambda x, t: F.entropy(x, reduction="sum"),
}


@pytest.mark.parametrize("name", list(GRADCHECK_LOSSES))
@pytest.mark.parametrize("target_kind", ["index", "probs"])
def test_gradcheck_float64(backend, name, target_kind):
    x = torch.randn(4, 5, 2, dtype=torch.float64, requires_grad=True)
    y, q = _targets((4, 5, 2))
    if name in ("focal", "poly1") and target_kind == "probs":
        target = q
    else:
        target = y if target_kind == "index" else q
    fn = GRADCHECK_LOSSES[name]
    assert torch.autograd.gradcheck(lambda inp: fn(inp, target), (x,))


def test_gradcheck_binary():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.rand(4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda i: F.binary_cross_entropy_with_logits(i, t, base=2), (x,))
    assert torch.autograd.gradcheck(lambda i: F.binary_cross_entropy(torch.sigmoid(i), t), (x,))


def test_binary_with_infinite_logits_is_finite():
    x = torch.tensor([math.inf, -math.inf, math.inf], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert torch.isnan(TF.binary_cross_entropy_with_logits(x, t, reduction="none")[:2]).all()  # torch
    value = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    torch.testing.assert_close(value, torch.tensor([0.0, 0.0, math.inf], dtype=torch.float64))
    v = F.binary_cross_entropy_with_logits(x[:2], t[:2])
    assert v.item() == 0.0 and torch.isfinite(_grad(v, x)).all()


def test_zero_weight_denominator_with_smoothing_gives_zero(backend):
    x = torch.zeros(2, 3, requires_grad=True)
    value = F.cross_entropy(x, torch.tensor([0, 1]), torch.tensor([0.0, 0.0, 1.0]), label_smoothing=0.3)
    assert value.item() == 0.0
    assert torch.equal(_grad(value, x), torch.zeros_like(x))


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.9])
def test_focal_fractional_gamma_saturated_prediction_has_finite_gradient(gamma):
    x = torch.tensor([[20.0, 0.0, 0.0], [100.0, -5.0, 0.0]], requires_grad=True)
    value = F.focal_loss(x, torch.tensor([0, 0]), gamma=gamma)
    assert torch.isfinite(value)
    assert torch.isfinite(_grad(value, x)).all()
