"""Linear losses (infoloss.linear) against autograd of the plain float64 formula, torch, and the torch stacks.

The oracle is ``z = hidden @ weight.T + bias`` (then ``softcap * tanh(z / softcap)``, then ``/ temperature``),
``F.cross_entropy`` / ``log_softmax`` in float64, differentiated by autograd: nothing from infoloss.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import infoloss
from infoloss import linear as L

N, H, V = 29, 12, 97
IGN = -100


def data(dtype=torch.float64, seed=0, bias=True, n=N, h=H, v=V, ignored=(2, 11)):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, h, generator=gen, dtype=dtype)
    w = torch.randn(v, h, generator=gen, dtype=dtype) * 0.7
    b = torch.randn(v, generator=gen, dtype=dtype) if bias else None
    y = torch.randint(0, v, (n,), generator=gen)
    y[[i for i in ignored if i < n]] = IGN
    return x, w, b, y


def plain(
    x,
    w,
    b,
    y,
    reduction="mean",
    *,
    ce=1.0,
    ent=0.0,
    rev=0.0,
    eps=1e-6,
    smoothing=0.0,
    softcap=None,
    temperature=1.0,
    ignore_index=IGN,
):
    """The formula in plain torch (float64 in the tests), differentiable by autograd."""
    z = x @ w.t()
    if b is not None:
        z = z + b
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    z = z / temperature
    vocab = z.shape[-1]
    logp = torch.log_softmax(z, -1)
    p = logp.exp()
    if y.dtype.is_floating_point:
        valid = torch.ones(z.shape[:-1], dtype=torch.bool)
        ce_i = F.cross_entropy(z, y, reduction="none", label_smoothing=smoothing)
        qs = (1 - smoothing) * y + smoothing / vocab
        count = torch.tensor(float(z.shape[0]))
    else:
        valid = y != ignore_index
        ce_i = F.cross_entropy(z, y, ignore_index=ignore_index, reduction="none", label_smoothing=smoothing)
        qs = (1 - smoothing) * F.one_hot(y.clamp_min(0), vocab).to(z.dtype) + smoothing / vocab
        count = valid.sum()
    ent_i = -(p * logp).sum(-1)
    rev_i = -(p * qs.clamp_min(eps).log()).sum(-1)
    rows = torch.where(valid, ce * ce_i + ent * ent_i + rev * rev_i, torch.zeros_like(ce_i))
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / count.clamp_min(1)


def leaves(*ts):
    return [t.detach().clone().requires_grad_() if t is not None else None for t in ts]


CASES = {
    "ce": (L.linear_cross_entropy, dict(), dict()),
    "min": (L.linear_min_entropy_loss, dict(entropy_weight=0.3, ce_weight=0.9), dict(ce=0.9, ent=0.3)),
    "neg": (L.linear_min_entropy_loss, dict(entropy_weight=-0.4), dict(ent=-0.4)),
    "mix": (L.linear_mixed_entropy_loss, dict(reverse_weight=0.2, eps=1e-4), dict(rev=0.2, eps=1e-4)),
}


@pytest.fixture(params=["kernel", "eager"])
def row_path(request, monkeypatch):
    """Run with the C row kernel (when it builds) and with the eager chunked row path."""
    from infoloss._fused import _ckernel

    if request.param == "eager":
        monkeypatch.setattr(_ckernel, "available", lambda: False)
    elif not _ckernel.available():
        pytest.skip("C kernel not available")
    return request.param


def check_grads(a, c, rtol=1e-10, atol=1e-10):
    for x, z in zip(a, c, strict=True):
        if x is not None:
            torch.testing.assert_close(x.grad, z.grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_matches_plain_formula(case, reduction, with_bias, chunk_size, row_path):
    fn, kw, ref_kw = CASES[case]
    x, w, b, y = data(bias=with_bias)
    a, c = leaves(x, w, b), leaves(x, w, b)
    la = fn(a[0], a[1], y, a[2], reduction=reduction, label_smoothing=0.1, chunk_size=chunk_size, **kw)
    lb = plain(c[0], c[1], c[2], y, reduction, smoothing=0.1, **ref_kw)
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-10)
    go = torch.randn(la.shape, dtype=la.dtype, generator=torch.Generator().manual_seed(3))
    la.backward(go)
    lb.backward(go)
    check_grads(a, c)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("softcap, temperature", [(None, 0.7), (3.0, 1.0), (2.5, 1.6), (30.0, 0.5)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_softcap_temperature_bias(case, softcap, temperature, reduction):
    fn, kw, ref_kw = CASES[case]
    x, w, b, y = data(seed=7)
    x = x * 3  # logits of a few units: tanh is in its curved range
    a, c = leaves(x, w, b), leaves(x, w, b)
    la = fn(
        a[0],
        a[1],
        y,
        a[2],
        reduction=reduction,
        softcap=softcap,
        temperature=temperature,
        chunk_size=6,
        label_smoothing=0.05,
        **kw,
    )
    lb = plain(c[0], c[1], c[2], y, reduction, softcap=softcap, temperature=temperature, smoothing=0.05, **ref_kw)
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-10)
    go = torch.rand(la.shape, dtype=la.dtype, generator=torch.Generator().manual_seed(4))
    la.backward(go)
    lb.backward(go)
    check_grads(a, c)
    assert a[2].grad is not None and a[2].grad.abs().sum() > 0  # the bias gets its gradient


@pytest.mark.parametrize("softcap, temperature", [(None, 1.0), (4.0, 0.8)])
def test_probability_targets(softcap, temperature):
    x, w, b, _ = data(seed=5)
    q = torch.softmax(torch.randn(N, V, dtype=torch.float64) * 2, 1)
    for fn, kw, ref_kw in CASES.values():
        for reduction in ("mean", "sum", "none"):
            a, c = leaves(x, w, b), leaves(x, w, b)
            la = fn(
                a[0],
                a[1],
                q,
                a[2],
                reduction=reduction,
                chunk_size=7,
                softcap=softcap,
                temperature=temperature,
                label_smoothing=0.1,
                **kw,
            )
            lb = plain(
                c[0], c[1], c[2], q, reduction, softcap=softcap, temperature=temperature, smoothing=0.1, **ref_kw
            )
            torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-10)
            la.sum().backward()
            lb.sum().backward()
            check_grads(a, c)


def test_base():
    x, w, b, y = data(seed=8)
    a, c = leaves(x, w, b), leaves(x, w, b)
    la = L.linear_cross_entropy(a[0], a[1], y, a[2], base=2.0)
    lb = plain(c[0], c[1], c[2], y) / math.log(2)
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-10)
    la2 = L.linear_min_entropy_loss(x, w, y, b, ce_base=10.0, entropy_base=2.0, entropy_weight=0.5)
    lb2 = plain(x, w, b, y, ce=1 / math.log(10), ent=0.5 / math.log(2))
    torch.testing.assert_close(la2, lb2, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("softcap", [None, 3.0])
def test_retained_graph_accumulates_exactly(case, reduction, softcap):
    """backward(retain) + (2*loss).backward(retain) + backward() = 4x the gradient (was 5x: in-place scaling)."""
    fn, kw, ref_kw = CASES[case]
    x, w, b, y = data(seed=9)
    a, c = leaves(x, w, b), leaves(x, w, b)
    la = fn(a[0], a[1], y, a[2], reduction=reduction, softcap=softcap, chunk_size=8, **kw)
    lb = plain(c[0], c[1], c[2], y, reduction, softcap=softcap, **ref_kw)
    if reduction == "none":
        la, lb = la.sum(), lb.sum()
    la.backward(retain_graph=True)
    (2 * la).backward(retain_graph=True)
    la.backward()
    (4 * lb).backward()
    check_grads(a, c)
    # an optimizer that modifies .grad in place between two backwards does not change the second one
    a3 = leaves(x, w, b)
    l3 = fn(a3[0], a3[1], y, a3[2], reduction=reduction, softcap=softcap, **kw)
    l3 = l3.sum() if reduction == "none" else l3
    l3.backward(retain_graph=True)
    for t in a3:
        t.grad.mul_(-7.0).add_(1.0)
        t.grad = t.grad.zero_()
    l3.backward()
    for t, z in zip(a3, c, strict=True):
        torch.testing.assert_close(t.grad, z.grad / 4, rtol=1e-10, atol=1e-10)
    # and the gradients read by torch.autograd.grad twice are equal
    a2 = leaves(x, w, b)
    l2 = fn(a2[0], a2[1], y, a2[2], reduction=reduction, softcap=softcap, **kw)
    l2 = l2.sum() if reduction == "none" else l2
    g1 = torch.autograd.grad(l2, a2, retain_graph=True)
    g2 = torch.autograd.grad(3 * l2, a2)
    for u, v in zip(g1, g2, strict=True):
        torch.testing.assert_close(3 * u, v, rtol=1e-12, atol=1e-12)


def test_sum_is_exact_for_gradient_accumulation():
    """HF gradient accumulation: sum over micro-batches / total count == mean over the whole batch."""
    x, w, b, y = data(seed=10, n=40, ignored=(0, 5, 6, 33))
    a, c = leaves(x, w, b), leaves(x, w, b)
    total = (y != IGN).sum()
    for part in (slice(0, 17), slice(17, 40)):
        (L.linear_min_entropy_loss(a[0][part], a[1], y[part], a[2], reduction="sum") / total).backward()
    full = L.linear_min_entropy_loss(c[0], c[1], y, c[2], reduction="mean")
    full.backward()
    check_grads(a, c, rtol=1e-12, atol=1e-12)
    rows = L.linear_min_entropy_loss(x, w, y, b, reduction="none")
    torch.testing.assert_close(
        L.linear_min_entropy_loss(x, w, y, b, reduction="sum"), rows.sum(), rtol=1e-14, atol=1e-14
    )
    torch.testing.assert_close(full, plain(x, w, b, y, ent=0.1), rtol=1e-12, atol=1e-12)


def test_leading_dims():
    x, w, b, y = data(seed=11, n=24)
    x3, y2 = x.reshape(4, 6, H), y.reshape(4, 6)
    rows = L.linear_cross_entropy(x3, w, y2, b, reduction="none")
    assert rows.shape == (4, 6)
    torch.testing.assert_close(rows, plain(x, w, b, y, "none").reshape(4, 6), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(L.linear_cross_entropy(x3, w, y2, b), plain(x, w, b, y), rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not hasattr(F, "linear_cross_entropy"), reason="torch without F.linear_cross_entropy")
def test_against_torch_linear_cross_entropy():
    x, w, b, y = data(torch.float32, seed=1)
    for reduction in ("mean", "sum", "none"):
        a, c = leaves(x, w, b), leaves(x, w, b)
        ours = L.linear_cross_entropy(a[0], a[1], y, a[2], reduction=reduction, chunk_size=8)
        theirs = F.linear_cross_entropy(c[0], c[1], y, linear_bias=c[2], reduction=reduction, ignore_index=IGN)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
        ours.sum().backward()
        theirs.sum().backward()
        check_grads(a, c, rtol=1e-4, atol=1e-5)


def test_float32_and_bfloat16_parameters():
    x, w, b, y = data(torch.float32, seed=2)
    a, c = leaves(x, w, b), leaves(x.double(), w.double(), b.double())
    la = L.linear_min_entropy_loss(a[0], a[1], y, a[2], chunk_size=6)
    lb = plain(c[0], c[1], c[2], y, ent=0.1)
    assert la.dtype == torch.float32
    torch.testing.assert_close(la, lb.float(), rtol=1e-5, atol=1e-5)
    la.backward()
    lb.backward()
    for u, v in zip(a, c, strict=True):
        assert u.grad.dtype == torch.float32
        torch.testing.assert_close(u.grad, v.grad.float(), rtol=1e-4, atol=1e-5)
    hb, wb, bb = (t.bfloat16().requires_grad_() for t in (x, w, b))
    out = L.linear_cross_entropy(hb, wb, y, bb)
    assert out.dtype == torch.bfloat16
    out.backward()
    assert hb.grad.dtype == wb.grad.dtype == bb.grad.dtype == torch.bfloat16
    ref = plain(*(t.detach().double() for t in (hb, wb, bb)), y)
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_autocast_cpu_bfloat16(case, reduction):
    """float32 parameters under CPU autocast: bf16 GEMMs, float32 loss, float32 gradients."""
    fn, kw, ref_kw = CASES[case]
    x, w, b, y = data(torch.float32, seed=12)
    a = leaves(x, w, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fn(a[0], a[1], y, a[2], reduction=reduction, softcap=5.0, chunk_size=9, **kw)
    assert out.dtype == torch.float32
    out.sum().backward()
    for t in a:
        assert t.grad.dtype == torch.float32
    # float32 math (here float64) on the bf16-rounded operands
    c = leaves(*(t.bfloat16().double() for t in (x, w, b)))
    ref = plain(c[0], c[1], c[2], y, reduction, softcap=5.0, **ref_kw)
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=2e-2)
    ref.sum().backward()
    for u, v in zip(a, c, strict=True):
        torch.testing.assert_close(u.grad.double(), v.grad, rtol=5e-2, atol=2e-2)
    # and against torch's own autocast composition (same bf16 GEMM, float32 CE)
    if case == "ce":
        d = leaves(x, w, b)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = F.linear(d[0], d[1], d[2])
            z = 5.0 * torch.tanh(z.float() / 5.0)
            theirs = F.cross_entropy(z, y, reduction=reduction)
        assert theirs.dtype == torch.float32
        torch.testing.assert_close(out, theirs, rtol=1e-3, atol=1e-3)


def test_autocast_bfloat16_hidden_float32_weight():
    """A model under autocast hands bf16 hidden states to an fp32 lm_head: gradients in each one's dtype."""
    x, w, b, y = data(torch.float32, seed=22)
    xb = x.bfloat16().requires_grad_()
    a = leaves(w, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = L.linear_cross_entropy(xb, a[0], y, a[1], label_smoothing=0.1)
    assert out.dtype == torch.float32
    out.backward()
    assert xb.grad.dtype == torch.bfloat16 and a[0].grad.dtype == a[1].grad.dtype == torch.float32
    ref = plain(xb.detach().double(), w.bfloat16().double(), b.bfloat16().double(), y, smoothing=0.1)
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=2e-2)
    with pytest.raises(TypeError, match="one dtype"):  # outside autocast the dtypes must agree
        L.linear_cross_entropy(xb, w, y)


def test_compile_under_autocast():
    x, w, b, y = data(torch.float32, seed=23)

    def f(x, w, b, y):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return L.linear_min_entropy_loss(x, w, y, b, softcap=4.0, chunk_size=7)

    assert torch._dynamo.explain(f)(*leaves(x, w, b), y).graph_break_count == 0
    torch._dynamo.reset()
    a, c = leaves(x, w, b), leaves(x, w, b)
    lc = torch.compile(f, backend="aot_eager", fullgraph=True, dynamic=True)(a[0], a[1], a[2], y)
    le = f(c[0], c[1], c[2], y)
    assert lc.dtype == torch.float32
    torch.testing.assert_close(lc, le, rtol=0, atol=0)
    lc.backward()
    le.backward()
    check_grads(a, c, rtol=0, atol=0)


def test_large_magnitude_logits(row_path):
    """Logits offset by 1e6 (exact in float32): log S - (z_y - m), not the difference of two large numbers."""
    gen = torch.Generator().manual_seed(13)
    n, h, v = 16, 5, 40
    x = torch.randint(-3, 4, (n, h), generator=gen).float()
    x[:, -1] = 1.0
    w = torch.randint(-8, 9, (v, h), generator=gen).float() / 16
    w[:, -1] = 1e6  # every logit is 1e6 + a multiple of 1/16: exact in float32, whatever the GEMM order
    y = torch.randint(0, v, (n,), generator=gen)
    y[3] = IGN
    z64 = x.double() @ w.double().t()
    assert torch.equal(z64.float().double(), z64)
    for fn, kw, ref_kw in CASES.values():
        for dtype in (torch.float32, torch.float64):
            xx = x.to(dtype).detach().clone().requires_grad_()
            out = fn(xx, w.to(dtype), y, reduction="none", **kw)
            zz = z64.clone().requires_grad_()
            ref = plain(zz, torch.eye(v, dtype=torch.float64), None, y, "none", **ref_kw)
            tol = 1e-5 if dtype == torch.float32 else 1e-10
            torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)
            out.sum().backward()
            ref.sum().backward()
            gx = zz.grad @ w.double()  # dL/dx = dL/dz @ W (W's 1e6 column magnifies: compare dL/dz scale)
            torch.testing.assert_close(xx.grad.double()[:, :-1], gx[:, :-1], rtol=tol, atol=tol)


def test_token_stats():
    x, w, b, y = data(seed=4)
    stats = L.linear_token_stats(x, w, y, b, chunk_size=4)
    logp = torch.log_softmax(F.linear(x, w, b), 1)
    torch.testing.assert_close(stats.entropy, -(logp.exp() * logp).sum(1))
    expected = torch.where(y == IGN, 0.0, logp.gather(1, y.clamp_min(0)[:, None]).squeeze(1))
    torch.testing.assert_close(stats.target_logprob, expected.to(stats.target_logprob.dtype))


def test_no_grad_all_ignored_and_empty():
    x, w, b, y = data(seed=6)
    with torch.no_grad():
        torch.testing.assert_close(L.linear_min_entropy_loss(x, w, y, b), plain(x, w, b, y, ent=0.1))
    hh = x.clone().requires_grad_()
    out = L.linear_cross_entropy(hh, w, torch.full((N,), IGN), b)
    out.backward()
    assert out.item() == 0.0 and torch.equal(hh.grad, torch.zeros_like(x))
    empty = torch.zeros(0, H, dtype=torch.float64, requires_grad=True)
    out = L.linear_cross_entropy(empty, w, torch.zeros(0, dtype=torch.int64))
    out.backward()
    assert out.item() == 0.0 and empty.grad.shape == (0, H)
    assert L.linear_cross_entropy(empty, w, torch.zeros(0, dtype=torch.int64), reduction="none").shape == (0,)


def test_shim_and_top_level():
    from infoloss._fused import linear as shim

    assert shim.linear_cross_entropy is L.linear_cross_entropy is infoloss.linear_cross_entropy
    assert infoloss.linear_token_stats is L.linear_token_stats


def test_errors():
    x, w, b, y = data()
    with pytest.raises(ValueError, match="weight must be"):
        L.linear_cross_entropy(x, w[:, :3], y)
    with pytest.raises(ValueError, match="reduction must be"):
        L.linear_cross_entropy(x, w, y, reduction="avg")
    with pytest.raises(ValueError, match="bias must be"):
        L.linear_cross_entropy(x, w, y, b[:3])
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        L.linear_cross_entropy(x, w, y, ignore_index=1.5)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        L.linear_token_stats(x, w, y, ignore_index=1.5)
    with pytest.raises(TypeError, match="one dtype"):
        L.linear_cross_entropy(x, w.float(), y)
    with pytest.raises(ValueError, match="softcap must be"):
        L.linear_cross_entropy(x, w, y, softcap=0.0)
    with pytest.raises(ValueError, match="temperature must be"):
        L.linear_min_entropy_loss(x, w, y, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature must be finite"):
        L.linear_min_entropy_loss(x, w, y, temperature=float("inf"))
    with pytest.raises(ValueError, match="chunk_size"):
        L.linear_cross_entropy(x, w, y, chunk_size=0)
    with pytest.raises(ValueError, match="class-index target must have shape"):
        L.linear_cross_entropy(x, w, y[:5])
    q = torch.softmax(torch.randn(N, V, dtype=torch.float64), 1).requires_grad_()
    with pytest.raises(ValueError, match="do not differentiate w.r.t. a probability target"):
        L.linear_cross_entropy(x, w, q)
    with pytest.raises(ValueError, match="negative or NaN"):
        L.linear_cross_entropy(x, w, -q.detach())
    for reduction in ("mean", "none"):
        hh = x.clone().requires_grad_()
        loss = L.linear_min_entropy_loss(hh, w, y, reduction=reduction).sum()
        with pytest.raises(RuntimeError, match="linear_min_entropy_loss does not support double backward"):
            torch.autograd.grad(loss, hh, create_graph=True)


def test_linear_losses_validate_like_the_core():
    x, w = torch.randn(4, 8), torch.randn(10, 8)
    with pytest.raises(ValueError, match="class index 10 is out of range for 10 classes"):
        infoloss.linear_cross_entropy(x, w, torch.tensor([0, 3, 10, 1]))
    with pytest.raises(ValueError, match="class index -5 is out of range"):
        infoloss.linear_token_stats(x, w, torch.tensor([0, 3, -5, 1]))
    with pytest.raises(ValueError, match="base must be None"):
        infoloss.linear_cross_entropy(x, w, torch.tensor([0, 1, 2, 3]), base=float("inf"))
    with pytest.raises(ValueError, match="entropy_weight must be finite"):
        infoloss.linear_min_entropy_loss(x, w, torch.tensor([0, 1, 2, 3]), entropy_weight=float("nan"))
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        infoloss.linear_mixed_entropy_loss(x, w, torch.tensor([0, 1, 2, 3]), eps=1.0)
    infoloss.linear_cross_entropy(x, w, torch.tensor([0, IGN, 9, 1]))  # ignore_index is not out of range


# --- first-class op: compile, export, torch.func, opcheck ---------------------------------------------------


def _step(fn, kw, reduction, softcap):
    def f(x, w, b, y):
        out = fn(x, w, y, b, reduction=reduction, softcap=softcap, chunk_size=7, **kw)
        return out.sum() if reduction == "none" else out

    return f


@pytest.mark.parametrize("case", ["ce", "min", "mix"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_compile_fullgraph_dynamic_no_graph_breaks(case, reduction):
    fn, kw, _ = CASES[case]
    f = _step(fn, kw, reduction, 4.0)
    x, w, b, y = data(torch.float32, seed=14)
    explanation = torch._dynamo.explain(f)(*leaves(x, w, b), y)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    from torch._dynamo.testing import CompileCounterWithBackend

    counter = CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    cf = torch.compile(f, backend=counter, fullgraph=True, dynamic=True)
    frames = []
    for n in (29, 13, 40):  # three batch sizes, no recompilation
        x, w, b, y = data(torch.float32, seed=n, n=n)
        a, c = leaves(x, w, b), leaves(x, w, b)
        lc = cf(a[0], a[1], a[2], y)
        le = f(c[0], c[1], c[2], y)
        torch.testing.assert_close(lc, le, rtol=1e-6, atol=1e-6)
        lc.backward()
        le.backward()
        check_grads(a, c, rtol=1e-5, atol=1e-6)
        frames.append(counter.frame_count)
    assert frames[0] >= 1 and frames[-1] == frames[0], frames  # (a first trace may restart once: 2 frames)


def test_compile_inductor_matches_eager():
    f = _step(L.linear_min_entropy_loss, dict(entropy_weight=0.2), "mean", None)
    x, w, b, y = data(torch.float32, seed=15)
    a, c = leaves(x, w, b), leaves(x, w, b)
    torch._dynamo.reset()
    lc = torch.compile(f, fullgraph=True, dynamic=True)(a[0], a[1], a[2], y)
    le = f(c[0], c[1], c[2], y)
    torch.testing.assert_close(lc, le, rtol=1e-6, atol=1e-6)
    lc.backward()
    le.backward()
    check_grads(a, c, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_export(reduction):
    class Head(torch.nn.Module):
        def __init__(self, w, b):
            super().__init__()
            self.w, self.b = torch.nn.Parameter(w), torch.nn.Parameter(b)

        def forward(self, x, y):
            return L.linear_mixed_entropy_loss(x, self.w, y, self.b, reduction=reduction, softcap=3.0, temperature=0.9)

    x, w, b, y = data(torch.float32, seed=16)
    m = Head(w, b)
    n = torch.export.Dim("n", min=2)
    ep = torch.export.export(m, (x, y), dynamic_shapes={"x": {0: n}, "y": {0: n}})
    assert "infoloss.linear_ce_family" in str(ep.graph)
    for rows in (N, 11):
        xs, ys = x[:rows], y[:rows]
        torch.testing.assert_close(ep.module()(xs, ys), m(xs, ys), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_func_grad(case, reduction):
    fn, kw, ref_kw = CASES[case]
    x, w, b, y = data(seed=17)

    def ours(x, w):
        return fn(x, w, y, b, reduction=reduction, softcap=6.0, temperature=1.3, **kw)

    def theirs(x, w):
        return plain(x, w, b, y, reduction, softcap=6.0, temperature=1.3, **ref_kw)

    gx, gw = torch.func.grad(ours, argnums=(0, 1))(x, w)
    rx, rw = _autograd(theirs, x, w)
    torch.testing.assert_close(gx, rx, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gw, rw, rtol=1e-10, atol=1e-10)
    # w.r.t. one argument only, and the value
    torch.testing.assert_close(torch.func.grad(ours, argnums=1)(x, w), rw, rtol=1e-10, atol=1e-10)
    val = torch.func.grad_and_value(ours)(x, w)[1]
    torch.testing.assert_close(val, theirs(x, w), rtol=1e-10, atol=1e-10)


def _autograd(f, x, w):
    a = leaves(x, w)
    return torch.autograd.grad(f(*a), a)


def test_func_grad_none_reduction():
    x, w, b, y = data(seed=18)
    go = torch.randn(N, dtype=torch.float64)

    def ours(x, w):
        return (L.linear_min_entropy_loss(x, w, y, b, reduction="none") * go).sum()

    gx, gw = torch.func.grad(ours, argnums=(0, 1))(x, w)
    rx, rw = _autograd(lambda x, w: (plain(x, w, b, y, "none", ent=0.1) * go).sum(), x, w)
    torch.testing.assert_close(gx, rx, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gw, rw, rtol=1e-10, atol=1e-10)


def _opts(**over):
    o = dict(
        ce=1.0,
        ent=0.2,
        rev=0.1,
        rev_log_eps=math.log(1e-4),
        ignore_index=IGN,
        label_smoothing=0.1,
        softcap=3.0,
        temperature=1.2,
        chunk_size=5,
        gemm_dtype=torch.float64,
    )
    o.update(over)
    return L.LinearLossOptions(**o).args()


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("prob", [False, True])
def test_opcheck(with_bias, prob):
    x, w, b, y = data(seed=19, n=12, v=17, bias=with_bias)
    target = torch.softmax(torch.randn(12, 17, dtype=torch.float64), 1) if prob else y
    a = leaves(x, w, b)
    opts = _opts()
    torch.library.opcheck(
        torch.ops.infoloss.linear_ce_family_reduced.default,
        (a[0], a[1], a[2], target, *opts, True, True, True, with_bias),
    )
    torch.library.opcheck(
        torch.ops.infoloss.linear_ce_family_reduced.default,
        (a[0], a[1], a[2], target, *_opts(softcap=0.0, temperature=1.0), False, False, True, False),
    )
    torch.library.opcheck(torch.ops.infoloss.linear_ce_family_rows.default, (a[0], a[1], a[2], target, *opts))
    go = torch.randn(12, dtype=torch.float64)
    torch.library.opcheck(
        torch.ops.infoloss.linear_ce_family_rows_backward.default, (go, x, w, b, target, *opts, True, True, with_bias)
    )


def test_ops_called_directly_have_autograd():
    x, w, b, y = data(seed=20)
    opts = _opts()
    a, c = leaves(x, w, b), leaves(x, w, b)
    rows = torch.ops.infoloss.linear_ce_family_rows(a[0], a[1], a[2], y, *opts)
    ref = plain(c[0], c[1], c[2], y, "none", ent=0.2, rev=0.1, eps=1e-4, smoothing=0.1, softcap=3.0, temperature=1.2)
    torch.testing.assert_close(rows, ref, rtol=1e-10, atol=1e-10)
    go = torch.randn(N, dtype=torch.float64)
    rows.backward(go)
    ref.backward(go)
    check_grads(a, c)
    a, c = leaves(x, w, b), leaves(x, w, b)
    loss = torch.ops.infoloss.linear_ce_family_reduced(a[0], a[1], a[2], y, *opts, True, True, True, True)[0]
    ref = plain(c[0], c[1], c[2], y, "mean", ent=0.2, rev=0.1, eps=1e-4, smoothing=0.1, softcap=3.0, temperature=1.2)
    torch.testing.assert_close(loss, ref, rtol=1e-10, atol=1e-10)
    (2.5 * loss).backward()
    (2.5 * ref).backward()
    check_grads(a, c)


# --- CUDA (skipped without it) -------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast_and_no_sync(dtype):
    x, w, b, y = data(torch.float32, seed=21, n=64, v=500)
    a = [t.cuda().requires_grad_() for t in (x, w, b)]
    yc = y.cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.autocast("cuda", dtype=dtype):
            out = L.linear_min_entropy_loss(a[0], a[1], yc, a[2], softcap=8.0, chunk_size=16)
        out.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.dtype == torch.float32 and all(t.grad.dtype == torch.float32 for t in a)
    ref = plain(*(t.to(dtype).double() for t in (x, w, b)), y, softcap=8.0, ent=0.1)
    torch.testing.assert_close(out.double().cpu(), ref, rtol=2e-2, atol=2e-2)
