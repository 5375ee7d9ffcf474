"""Fused linear losses against the explicit logits computation and torch's F.linear_cross_entropy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from infoloss import _reference
from infoloss._fused import linear as L

N, H, V = 29, 12, 97


def data(dtype=torch.float64, seed=0, bias=True):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(N, H, generator=gen, dtype=dtype)
    w = torch.randn(V, H, generator=gen, dtype=dtype) * 0.7
    b = torch.randn(V, generator=gen, dtype=dtype) if bias else None
    y = torch.randint(0, V, (N,), generator=gen)
    y[[2, 11]] = -100
    return h, w, b, y


def explicit(h, w, b, y, reduction, *, ce=1.0, ent=0.0, rev=0.0, eps=1e-6, smoothing=0.0):
    rows = _reference.ce_family_rows(F.linear(h, w, b), y, weight=None, ignore_index=-100,
                                     label_smoothing=smoothing, ce_coef=ce, ent_coef=ent, rev_coef=rev,
                                     rev_log_eps=math.log(eps))
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / (y != -100).sum()


def leaves(*ts):
    return [t.clone().requires_grad_() if t is not None else None for t in ts]


CASES = {
    "ce": (L.linear_cross_entropy, dict(), dict()),
    "min": (L.linear_min_entropy_loss, dict(entropy_weight=0.3, ce_weight=0.9), dict(ce=0.9, ent=0.3)),
    "mix": (L.linear_mixed_entropy_loss, dict(reverse_weight=0.2, eps=1e-4), dict(rev=0.2, eps=1e-4)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_matches_explicit_logits(case, reduction, with_bias, chunk_size):
    fn, kw, ref_kw = CASES[case]
    h, w, b, y = data(bias=with_bias)
    a, c = leaves(h, w, b), leaves(h, w, b)
    la = fn(a[0], a[1], y, a[2], reduction=reduction, label_smoothing=0.1, chunk_size=chunk_size, **kw)
    lb = explicit(c[0], c[1], c[2], y, reduction, smoothing=0.1, **ref_kw)
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-10)
    go = torch.randn(la.shape, dtype=la.dtype, generator=torch.Generator().manual_seed(3))
    la.backward(go)
    lb.backward(go)
    for x, z in zip(a, c, strict=True):
        if x is not None:
            torch.testing.assert_close(x.grad, z.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_against_torch_linear_cross_entropy(reduction):
    h, w, b, y = data(torch.float32, seed=1)
    a, c = leaves(h, w, b), leaves(h, w, b)
    ours = L.linear_cross_entropy(a[0], a[1], y, a[2], reduction=reduction, chunk_size=8)
    theirs = F.linear_cross_entropy(c[0], c[1], y, linear_bias=c[2], reduction=reduction, ignore_index=-100)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    ours.sum().backward()
    theirs.sum().backward()
    for x, z in zip(a, c, strict=True):
        torch.testing.assert_close(x.grad, z.grad, rtol=1e-4, atol=1e-5)


def test_float32_and_bfloat16():
    h, w, b, y = data(torch.float32, seed=2)
    a, c = leaves(h, w, b), leaves(h, w, b)
    la = L.linear_min_entropy_loss(a[0], a[1], y, a[2], chunk_size=6)
    lb = explicit(c[0], c[1], c[2], y, "mean", ent=0.1)
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
    la.backward()
    lb.backward()
    for x, z in zip(a, c, strict=True):
        torch.testing.assert_close(x.grad, z.grad, rtol=1e-4, atol=1e-5)
    hb, wb = h.bfloat16().requires_grad_(), w.bfloat16().requires_grad_()
    out = L.linear_cross_entropy(hb, wb, y)
    assert out.dtype == torch.bfloat16
    out.backward()
    assert hb.grad.dtype == torch.bfloat16 and wb.grad.dtype == torch.bfloat16


def test_token_stats():
    h, w, b, y = data(seed=4)
    stats = L.linear_token_stats(h, w, y, b, chunk_size=4)
    logp = torch.log_softmax(F.linear(h, w, b), 1)
    torch.testing.assert_close(stats.entropy, -(logp.exp() * logp).sum(1))
    expected = torch.where(y == -100, 0.0, logp.gather(1, y.clamp_min(0)[:, None]).squeeze(1))
    torch.testing.assert_close(stats.target_logprob, expected.to(stats.target_logprob.dtype))


def test_probability_targets_and_base():
    h, w, b, _ = data(seed=5)
    q = torch.softmax(torch.randn(N, V, dtype=torch.float64), 1)
    a, c = leaves(h, w, b), leaves(h, w, b)
    la = L.linear_cross_entropy(a[0], a[1], q, a[2], base=2.0, chunk_size=7)
    lb = F.cross_entropy(F.linear(c[0], c[1], c[2]), q) / math.log(2)
    torch.testing.assert_close(la, lb)
    la.backward()
    lb.backward()
    for x, z in zip(a, c, strict=True):
        torch.testing.assert_close(x.grad, z.grad)


def test_no_grad_all_ignored_and_empty():
    h, w, b, y = data(seed=6)
    with torch.no_grad():
        torch.testing.assert_close(L.linear_min_entropy_loss(h, w, y, b), explicit(h, w, b, y, "mean", ent=0.1))
    hh = h.clone().requires_grad_()
    out = L.linear_cross_entropy(hh, w, torch.full((N,), -100), b)
    out.backward()
    assert float(out.detach()) == 0.0 and torch.equal(hh.grad, torch.zeros_like(h))
    empty = torch.zeros(0, H, dtype=torch.float64, requires_grad=True)
    out = L.linear_cross_entropy(empty, w, torch.zeros(0, dtype=torch.int64))
    out.backward()
    assert float(out.detach()) == 0.0 and empty.grad.shape == (0, H)


def test_errors():
    h, w, b, y = data()
    with pytest.raises(ValueError, match="weight must be"):
        L.linear_cross_entropy(h, w[:, :3], y)
    with pytest.raises(ValueError, match="reduction must be"):
        L.linear_cross_entropy(h, w, y, reduction="avg")
    with pytest.raises(ValueError, match="bias must be"):
        L.linear_cross_entropy(h, w, y, b[:3])
    hh = h.clone().requires_grad_()
    loss = L.linear_min_entropy_loss(hh, w, y)
    with pytest.raises(RuntimeError, match="linear_min_entropy_loss does not support double backward"):
        torch.autograd.grad(loss, hh, create_graph=True)


def test_linear_losses_validate_like_the_core():
    import infoloss

    h, w = torch.randn(4, 8), torch.randn(10, 8)
    with pytest.raises(ValueError, match="class index 10 is out of range for 10 classes"):
        infoloss.linear_cross_entropy(h, w, torch.tensor([0, 3, 10, 1]))
    with pytest.raises(ValueError, match="class index -5 is out of range"):
        infoloss.linear_token_stats(h, w, torch.tensor([0, 3, -5, 1]))
    with pytest.raises(ValueError, match="base must be None"):
        infoloss.linear_cross_entropy(h, w, torch.tensor([0, 1, 2, 3]), base=float("inf"))
    with pytest.raises(ValueError, match="entropy_weight must be finite"):
        infoloss.linear_min_entropy_loss(h, w, torch.tensor([0, 1, 2, 3]), entropy_weight=float("nan"))
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        infoloss.linear_mixed_entropy_loss(h, w, torch.tensor([0, 1, 2, 3]), eps=1.0)
    # ignore_index is not out of range
    infoloss.linear_cross_entropy(h, w, torch.tensor([0, -100, 9, 1]))
