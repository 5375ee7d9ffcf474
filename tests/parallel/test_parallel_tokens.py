"""Single-process tests: the per-token primitive (float64 autograd oracle), a world of one against
infoloss.functional (both backends), argument errors, and the docstring examples."""

from __future__ import annotations

import math

import pytest
import torch

import infoloss
from infoloss import functional as F
from infoloss import parallel as P
from infoloss.tokens import TokenLogprobEntropy, token_logprob_entropy, token_logprob_entropy_from_logits

IGN = -100


def _oracle(h, w, b, y, temperature):
    z = torch.nn.functional.linear(h, w, b) / temperature
    lp = torch.log_softmax(z.double(), -1)
    valid = y != IGN
    logprob = torch.where(valid, lp.gather(-1, y.clamp_min(0).unsqueeze(-1)).squeeze(-1), 0.0)
    ent = torch.where(valid, -(lp.exp() * lp).sum(-1), 0.0)
    return logprob, ent


def _inputs(n=13, hdim=5, vocab=17, dtype=torch.float64, seed=0, lead=None):
    gen = torch.Generator().manual_seed(seed)
    shape = lead if lead is not None else (n,)
    h = torch.randn(*shape, hdim, generator=gen, dtype=torch.float64).to(dtype)
    w = (torch.randn(vocab, hdim, generator=gen, dtype=torch.float64) * 2).to(dtype)
    b = torch.randn(vocab, generator=gen, dtype=torch.float64).to(dtype)
    y = torch.randint(0, vocab, shape, generator=gen)
    y.view(-1)[3] = IGN
    return h, w, b, y


@pytest.mark.parametrize("temperature,chunk,with_bias", [(1.0, None, True), (0.7, 4, True), (2.5, 1, False)])
def test_token_primitive_matches_autograd_float64(temperature, chunk, with_bias):
    h0, w0, b0, y = _inputs()
    b0 = b0 if with_bias else None
    leaves = [t.clone().requires_grad_() for t in (h0, w0) + ((b0,) if b0 is not None else ())]
    refs = [t.detach().clone().requires_grad_() for t in leaves]
    out = token_logprob_entropy(
        leaves[0], leaves[1], y, bias=leaves[2] if b0 is not None else None, temperature=temperature, chunk_size=chunk
    )
    assert isinstance(out, TokenLogprobEntropy)
    ref_lp, ref_h = _oracle(refs[0], refs[1], refs[2] if b0 is not None else None, y, temperature)
    torch.testing.assert_close(out.logprob, ref_lp, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.entropy, ref_h, rtol=1e-12, atol=1e-12)
    assert out.logprob[3].item() == 0.0 and out.entropy[3].item() == 0.0
    a, c = torch.randn(13, dtype=torch.float64), torch.randn(13, dtype=torch.float64)
    ((out.logprob * a).sum() + (out.entropy * c).sum()).backward()
    ((ref_lp * a).sum() + (ref_h * c).sum()).backward()
    for mine, ref in zip(leaves, refs, strict=True):
        torch.testing.assert_close(mine.grad, ref.grad, rtol=1e-10, atol=1e-10)


def test_token_primitive_one_output_and_leading_dims():
    h0, w0, b0, y = _inputs(lead=(3, 4))
    for pick in ("logprob", "entropy"):
        h, hr = h0.clone().requires_grad_(), h0.clone().requires_grad_()
        out = token_logprob_entropy(h, w0, y, bias=b0, chunk_size=5)
        assert out.logprob.shape == (3, 4) and out.entropy.shape == (3, 4)
        getattr(out, pick).sum().backward()
        ref = _oracle(hr, w0, b0, y, 1.0)
        ref[0 if pick == "logprob" else 1].sum().backward()
        torch.testing.assert_close(h.grad, hr.grad, rtol=1e-10, atol=1e-10)


def test_token_entropy_gradient_formula():
    """dH/dz = -p (log p + H) / T, written out by hand on the logits twin."""
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(6, 9, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 9, (6,), generator=gen)
    t = 1.7
    token_logprob_entropy_from_logits(z, y, temperature=t).entropy.sum().backward()
    lp = torch.log_softmax(z.detach() / t, 1)
    p = lp.exp()
    ent = -(p * lp).sum(1, keepdim=True)
    torch.testing.assert_close(z.grad, -p * (lp + ent) / t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_token_primitive_low_precision(dtype, tol):
    h, w, b, y = _inputs(dtype=dtype, vocab=300, n=40)
    out = token_logprob_entropy(h, w, y, bias=b, chunk_size=7)
    assert out.logprob.dtype == torch.float32
    ref_lp, ref_h = _oracle(h.double(), w.double(), b.double(), y, 1.0)
    # bf16 GEMM inputs: compare against the float64 logits of the same rounded inputs, scaled tolerance
    torch.testing.assert_close(out.logprob.double(), ref_lp, rtol=tol, atol=tol * 10)
    torch.testing.assert_close(out.entropy.double(), ref_h, rtol=tol, atol=tol * 10)


def test_token_logits_twin_and_finite_limits():
    z = torch.tensor(
        [[0.0, -math.inf, 1.0], [-math.inf, 2.0, -math.inf], [1.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True
    )
    y = torch.tensor([2, 1, IGN])
    out = token_logprob_entropy_from_logits(z, y)
    lp = torch.log_softmax(z.detach(), 1)
    torch.testing.assert_close(out.logprob, torch.tensor([lp[0, 2].item(), 0.0, 0.0], dtype=torch.float64))
    p0 = lp[0].exp()
    torch.testing.assert_close(
        out.entropy[:2], torch.tensor([-(p0[[0, 2]] * lp[0, [0, 2]]).sum().item(), 0.0], dtype=torch.float64)
    )
    (out.logprob.sum() + out.entropy.sum()).backward()
    assert torch.isfinite(z.grad).all() and z.grad[2].abs().sum() == 0 and z.grad[0, 1] == 0
    # the target on a -inf logit: log p = -inf
    assert token_logprob_entropy_from_logits(z.detach(), torch.tensor([1, 1, 1])).logprob[0] == -math.inf


def test_token_no_grad_and_double_backward():
    h, w, b, y = _inputs()
    with torch.no_grad():
        out = token_logprob_entropy(h, w, y, bias=b)
    assert out.logprob.grad_fn is None
    hh = h.clone().requires_grad_()
    out = token_logprob_entropy(hh, w, y)
    (g,) = torch.autograd.grad(out.entropy.sum(), hh, create_graph=False)
    assert g.shape == h.shape
    out = token_logprob_entropy(hh, w, y)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(out.entropy.sum(), hh, create_graph=True)


def test_token_errors():
    h, w, b, y = _inputs()
    with pytest.raises(TypeError, match="class-index"):
        token_logprob_entropy(h, w, torch.rand(13, 17, dtype=torch.float64))
    with pytest.raises(ValueError, match="temperature"):
        token_logprob_entropy(h, w, y, temperature=0.0)
    with pytest.raises(ValueError, match="out of range"):
        token_logprob_entropy(h, w, torch.full((13,), 17))
    with pytest.raises(ValueError, match="weight must be"):
        token_logprob_entropy(h, w[:, :3], y)
    with pytest.raises(ValueError, match="shape"):
        token_logprob_entropy(h, w, y[:5])
    with pytest.raises(TypeError, match="ignore_index"):
        token_logprob_entropy(h, w, y, ignore_index=1.5)
    with pytest.raises(ValueError, match="chunk_size"):
        token_logprob_entropy_from_logits(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), chunk_size=0)


def test_world_of_one_equals_functional(world_of_one):
    """With one rank the parallel functions are the single-device losses (both kernel backends)."""
    gen = torch.Generator().manual_seed(4)
    z0 = torch.randn(8, 7, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 7, (8,), generator=gen)
    y[0] = IGN
    q = torch.softmax(torch.randn(8, 7, generator=gen, dtype=torch.float64), 1)
    w = torch.rand(7, generator=gen, dtype=torch.float64) + 0.1
    for backend in ("fused", "reference"):
        for tgt in (y, q):
            for mine, oracle, kw in (
                (P.vocab_parallel_cross_entropy, F.cross_entropy, {"base": 2}),
                (P.vocab_parallel_min_entropy_loss, F.min_entropy_loss, {"entropy_weight": 0.5}),
                (P.vocab_parallel_mixed_entropy_loss, F.mixed_entropy_loss, {"eps": 1e-4}),
            ):
                z, zr = z0.clone().requires_grad_(), z0.clone().requires_grad_()
                out = mine(z, tgt, weight=w, label_smoothing=0.1, **kw)
                with infoloss.use_backend(backend):
                    ref = oracle(zr, tgt, weight=w, label_smoothing=0.1, **kw)
                torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
                out.backward()
                ref.backward()
                torch.testing.assert_close(z.grad, zr.grad, rtol=1e-10, atol=1e-10)


def test_parallel_errors(world_of_one):
    z = torch.randn(4, 5)
    y = torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"\(N, V_r\)"):
        P.vocab_parallel_cross_entropy(z[0], y)
    with pytest.raises(ValueError, match="class-index target"):
        P.vocab_parallel_cross_entropy(z, y[:2])
    with pytest.raises(ValueError, match="probability target"):
        P.vocab_parallel_cross_entropy(z, torch.rand(4, 6))
    with pytest.raises(TypeError, match="integer class indices"):
        P.vocab_parallel_cross_entropy(z, y.bool())
    with pytest.raises(ValueError, match="weight must be"):
        P.vocab_parallel_cross_entropy(z, y, weight=torch.ones(6))
    with pytest.raises(ValueError, match="reduction"):
        P.vocab_parallel_cross_entropy(z, y, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        P.vocab_parallel_min_entropy_loss(z, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="base"):
        P.vocab_parallel_entropy(z, base=1)
    with pytest.raises(ValueError, match="eps"):
        P.vocab_parallel_mixed_entropy_loss(z, y, eps=0.0)
    with pytest.raises(ValueError, match="out of range"):
        P.vocab_parallel_cross_entropy(z, torch.tensor([0, 1, 2, 5]))
    with pytest.raises(ValueError, match="negative or NaN"):
        P.vocab_parallel_cross_entropy(z, torch.tensor([[-0.1, 0.5, 0.6, 0.0, 0.0]] * 4))
    with pytest.raises(ValueError, match="softcap"):
        P.vocab_parallel_linear_cross_entropy(torch.randn(4, 3), torch.randn(5, 3), y, softcap=-1.0)
    with pytest.raises(TypeError, match="one dtype"):
        P.vocab_parallel_linear_cross_entropy(torch.randn(4, 3), torch.randn(5, 3, dtype=torch.float64), y)
    zz = z.clone().requires_grad_()
    out = P.vocab_parallel_cross_entropy(zz, y)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(out, zz, create_graph=True)


def test_parallel_needs_a_process_group():
    if torch.distributed.is_initialized():
        pytest.skip("a default process group exists in this process")
    with pytest.raises(RuntimeError, match="process group"):
        P.vocab_parallel_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]))


def test_empty_and_all_ignored(world_of_one):
    z = torch.randn(3, 4, requires_grad=True)
    out = P.vocab_parallel_min_entropy_loss(z, torch.full((3,), IGN))
    out.backward()
    assert out.item() == 0.0 and torch.equal(z.grad, torch.zeros_like(z))
    e = torch.zeros(0, 4, requires_grad=True)
    out = P.vocab_parallel_cross_entropy(e, torch.zeros(0, dtype=torch.long))
    out.backward()
    assert out.item() == 0.0 and e.grad.shape == (0, 4)
    assert P.vocab_parallel_entropy(e, reduction="none").shape == (0,)
    h = torch.zeros(0, 3, requires_grad=True)
    res = token_logprob_entropy(h, torch.randn(4, 3), torch.zeros(0, dtype=torch.long))
    assert res.logprob.shape == (0,)


def test_linear_token_stats_is_the_no_grad_alias():
    h, w, b, y = _inputs()
    hh = h.clone().requires_grad_()
    stats = infoloss.linear_token_stats(hh, w, y, b, chunk_size=4)
    assert stats.entropy.grad_fn is None
    ref_lp, _ = _oracle(h, w, b, y, 1.0)
    lp = torch.log_softmax(torch.nn.functional.linear(h, w, b), 1)
    torch.testing.assert_close(stats.target_logprob, ref_lp, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(stats.entropy, -(lp.exp() * lp).sum(1), rtol=1e-12, atol=1e-12)  # every row


def test_entropy_of_large_logits_float32(world_of_one):
    """H = log S - (1/S) sum e^d d stays accurate where max + log S - sum p z cancels (logits near 3e4)."""
    gen = torch.Generator().manual_seed(0)
    z64 = torch.randn(6, 50, generator=gen, dtype=torch.float64) * 2 + 3e4
    ref = torch.distributions.Categorical(logits=z64.float().double()).entropy()
    h = P.vocab_parallel_entropy(z64.float())
    torch.testing.assert_close(h.double(), ref, rtol=0, atol=2e-6)
    out = token_logprob_entropy_from_logits(z64.float(), torch.zeros(6, dtype=torch.long))
    torch.testing.assert_close(out.entropy.double(), ref, rtol=0, atol=2e-6)
