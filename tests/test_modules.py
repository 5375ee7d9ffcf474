"""Modules: thin wrappers equal to the functional form, drop-in for torch's, learnable weights that don't collapse."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF
from torch import nn

import infoloss
import infoloss._backend
import infoloss.functional as F
import infoloss.modules
import infoloss.schedules


def test_drop_in_for_torch_cross_entropy_loss():
    x = torch.randn(6, 4, 3, requires_grad=True)
    y = torch.randint(0, 4, (6, 3))
    w = torch.rand(4) + 0.1
    ours = infoloss.CrossEntropyLoss(w, ignore_index=2, reduction="mean", label_smoothing=0.05)
    ref = nn.CrossEntropyLoss(w, ignore_index=2, reduction="mean", label_smoothing=0.05)
    torch.testing.assert_close(ours(x, y), ref(x, y))
    # the weight is a buffer: it follows .to() and is saved in the state dict
    assert "weight" in ours.state_dict()
    assert ours.double().weight.dtype == torch.float64


@pytest.mark.parametrize(
    "module,fn,kwargs",
    [
        (infoloss.MinEntropyLoss, F.min_entropy_loss, dict(entropy_weight=0.2, ce_base=2, label_smoothing=0.1)),
        (infoloss.MixedEntropyLoss, F.mixed_entropy_loss, dict(reverse_weight=0.3, eps=1e-4, reverse_base=10)),
        (infoloss.SymmetricCrossEntropyLoss, F.symmetric_cross_entropy, dict(alpha=0.5, beta=0.7, log_zero=-6.0)),
        (infoloss.FocalLoss, F.focal_loss, dict(gamma=1.0, label_smoothing=0.1)),
        (infoloss.Poly1CrossEntropyLoss, F.poly1_cross_entropy, dict(epsilon=-0.5)),
    ],
)
def test_module_equals_functional(module, fn, kwargs):
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, -100, 3, 2])
    w = torch.rand(4, dtype=torch.float64) + 0.1
    for reduction in ("none", "mean", "sum"):
        got = module(weight=w, reduction=reduction, **kwargs)(x, y)
        torch.testing.assert_close(got, fn(x, y, weight=w, reduction=reduction, **kwargs))


def test_kl_module():
    x = torch.randn(3, 4)
    q = torch.softmax(torch.randn(3, 4), 1)
    torch.testing.assert_close(
        infoloss.KLDivergenceLoss(reduction="sum", base=2)(x, q), F.kl_divergence(x, q, reduction="sum", base=2)
    )


@pytest.mark.parametrize(
    "cls,attr", [(infoloss.MinEntropyLoss, "entropy_weight"), (infoloss.MixedEntropyLoss, "reverse_weight")]
)
def test_learnable_starts_at_given_weights_and_equals_fixed_plus_log_vars(cls, attr):
    x = torch.randn(8, 5, dtype=torch.float64)
    y = torch.randint(0, 5, (8,))
    learn = cls(ce_weight=0.8, **{attr: 0.2}, learnable=True).double()
    fixed = cls(ce_weight=0.8, **{attr: 0.2})
    assert learn.effective_weights == pytest.approx((0.8, 0.2))
    expected = fixed(x, y) + (-math.log(0.8) - math.log(0.2))
    torch.testing.assert_close(learn(x, y), expected)
    assert [n for n, _ in learn.named_parameters()] == ["log_vars"]


def test_learnable_weights_converge_to_inverse_terms_not_zero():
    # With the logits fixed, the optimum of e^{-s1} CE + e^{-s2} H + s1 + s2 is e^{-s} = 1 / term:
    # the weights settle at the inverse of each term's size instead of collapsing to zero.
    x = torch.randn(64, 6) * 2
    y = torch.randint(0, 6, (64,))
    loss = infoloss.MinEntropyLoss(entropy_weight=0.1, learnable=True)
    opt = torch.optim.Adam(loss.parameters(), lr=0.05)
    for _ in range(1500):
        opt.zero_grad()
        loss(x, y).backward()
        opt.step()
    w_ce, w_h = loss.effective_weights
    ce = F.cross_entropy(x, y).item()
    h = F.entropy(x, reduction="mean").item()
    assert w_ce == pytest.approx(1 / ce, rel=1e-2)
    assert w_h == pytest.approx(1 / h, rel=1e-2)


def test_learnable_weights_do_not_collapse_while_training_a_model():
    torch.manual_seed(0)
    x = torch.randn(256, 10)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = nn.Linear(10, 3)
    loss = infoloss.MixedEntropyLoss(reverse_weight=0.1, learnable=True)
    naive_w = torch.tensor([1.0, 0.1], requires_grad=True)  # plain gradient descent on w1*CE + w2*R
    opt = torch.optim.SGD([*model.parameters(), *loss.parameters(), naive_w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        logits = model(x)
        naive = naive_w[0] * F.cross_entropy(logits.detach(), y) + naive_w[1] * F.mixed_entropy_loss(
            logits.detach(), y, ce_weight=0.0, reverse_weight=1.0
        )
        (loss(logits, y) + naive).backward()
        opt.step()
    w_ce, w_r = loss.effective_weights
    assert w_ce > 0.5 and w_r > 0.05  # bounded away from zero
    assert naive_w[1].item() < 0.0  # the naive parametrization runs through zero
    assert (model(x).argmax(1) == y).float().mean() > 0.8


def test_regularizer_weight_schedule():
    values = [
        infoloss.regularizer_weight(e, peak=0.2, warmup_epochs=4, total_epochs=10, decay="cosine") for e in range(10)
    ]
    assert values[:4] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert values[4] == pytest.approx(0.2)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(values[3:], values[4:], strict=False))
    with pytest.raises(ValueError, match="needs total_epochs"):
        infoloss.regularizer_weight(3, peak=1.0, decay="linear")
    with pytest.raises(ValueError, match="decay must be one of"):
        infoloss.regularizer_weight(0, peak=1.0, decay="exp")
    loss = infoloss.MinEntropyLoss(entropy_weight=0.0)
    loss.entropy_weight = infoloss.regularizer_weight(0, peak=0.1, warmup_epochs=2)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    torch.testing.assert_close(loss(x, y), F.min_entropy_loss(x, y, entropy_weight=0.05))


def test_backend_context_restores():
    before = infoloss.get_backend()
    with infoloss.use_backend("reference"):
        assert infoloss.get_backend() == "reference"
    assert infoloss.get_backend() == before


def test_every_public_function_documents_formula_and_example():
    for name in F.__all__:
        doc = getattr(F, name).__doc__ or ""
        assert "Example" in doc and ".. math::" in doc, name
    for name in infoloss.modules.__all__:
        assert "Example" in (getattr(infoloss.modules, name).__doc__ or ""), name


def test_torch_oracle_sanity():
    # the oracle itself: torch's mean with class weights divides by the sum of true-class weights
    x = torch.zeros(2, 2)
    y = torch.tensor([0, 1])
    w = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(TF.cross_entropy(x, y, weight=w), torch.tensor(math.log(2)))


@pytest.mark.parametrize("cls", [infoloss.MinEntropyLoss, infoloss.MixedEntropyLoss, infoloss.CrossEntropyLoss])
def test_unpickled_module_without_derived_attributes_still_works(cls):
    """A module pickled by an older infoloss lacks the attributes derived on assignment (the compiled path's
    weight tensors, whether smoothing is on); unpickling rebuilds them, eager and compiled give torch's value."""
    import pickle

    crit = cls(label_smoothing=0.1)
    state = {k: v for k, v in crit.__dict__.items() if k not in ("_coef", "_terms_on", "_smoothing_on")}
    old = cls.__new__(cls)
    old.__setstate__(state)
    old = pickle.loads(pickle.dumps(old))
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 2, 2])
    logp = torch.log_softmax(x, 1)
    p = logp.exp()
    want = TF.cross_entropy(x, y, label_smoothing=0.1)
    if cls is infoloss.MinEntropyLoss:
        want = want + 0.1 * (-(p * logp).sum(1)).mean()
    elif cls is infoloss.MixedEntropyLoss:  # one-hot smoothed target, log floored at log(1e-6)
        q = TF.one_hot(y, 4).to(x.dtype) * 0.9 + 0.1 / 4
        want = want + 0.1 * (-(p * q.log().clamp_min(math.log(1e-6))).sum(1)).mean()
    torch.testing.assert_close(old(x, y), want, rtol=1e-12, atol=1e-12)
    compiled = torch.compile(lambda z: old(z, y), fullgraph=True, dynamic=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), want, rtol=1e-12, atol=1e-12)
