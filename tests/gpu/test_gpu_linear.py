"""infoloss linear + loss functions on CUDA (default and opt-in Triton backends) against float64 oracles."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gpu_oracle import assert_close_scaled, ce_family, loss_and_grads

import infoloss

pytestmark = pytest.mark.gpu

LINEAR = {
    "ce": (lambda h, w, t, b, **k: infoloss.linear_cross_entropy(h, w, t, b, **k), {}),
    "minent": (
        lambda h, w, t, b, **k: infoloss.linear_min_entropy_loss(h, w, t, b, entropy_weight=0.3, **k),
        {"ent": 0.3},
    ),
    "mixent": (
        lambda h, w, t, b, **k: infoloss.linear_mixed_entropy_loss(h, w, t, b, reverse_weight=0.25, eps=1e-4, **k),
        {"rev": 0.25, "rev_eps": 1e-4},
    ),
}
# (rtol, atol relative to max |reference|): loss, gradients. bf16: logits come out of a bf16 GEMM (rounded
# to bf16), so the loss is good to ~1e-2 and the gradients to a few 1e-2 of their largest entry.
LTOL = {torch.float32: ((1e-5, 1e-5), (1e-4, 1e-4)), torch.bfloat16: ((2e-2, 2e-2), (5e-2, 3e-2))}


def _inputs(n, h, v, dtype, device, seed, bias=True):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, h, generator=gen).to(device, dtype)
    w = (torch.randn(v, h, generator=gen) * (2.0 / h**0.5)).to(device, dtype)
    b = (torch.randn(v, generator=gen) * 0.5).to(device, dtype) if bias else None
    y = torch.randint(0, v, (n,), generator=gen).to(device)
    return x, w, b, y, gen


def _check(name, x, w, b, target, what, upstream=None, **kw):
    fn, okw = LINEAR[name]
    leaves = [t.detach().clone().requires_grad_() for t in (x, w, b) if t is not None]
    xi, wi = leaves[0], leaves[1]
    bi = leaves[2] if b is not None else None
    out = fn(xi, wi, target, bi, **kw)
    assert out.dtype == x.dtype
    (out if upstream is None else (out * upstream).sum()).backward()
    kw.pop("chunk_size", None)

    def oracle(*ts):
        logits = F.linear(ts[0], ts[1], ts[2] if len(ts) > 2 else None)
        return ce_family(logits, target, **okw, **kw)

    ref, grads = loss_and_grads(oracle, *[t for t in (x, w, b) if t is not None], upstream=upstream)
    (lr, la), (gr, ga) = LTOL[x.dtype]
    assert_close_scaled(out.detach(), ref, lr, la, f"{what} loss")
    for leaf, g, label in zip(leaves, grads, ("hidden", "weight", "bias")[: len(leaves)], strict=True):
        assert leaf.grad is not None, f"{what}: no gradient for {label}"
        assert_close_scaled(leaf.grad, g, gr, ga, f"{what} d{label}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", list(LINEAR))
@pytest.mark.parametrize("bias", [False, True])
def test_linear_losses_match_oracle(device, gpu_backend, dtype, name, bias):
    x, w, b, y, _ = _inputs(96, 64, 3001, dtype, device, seed=1, bias=bias)
    y[[0, 50]] = -100
    # chunk_size 32 -> three chunks; 40 -> a partial last chunk
    _check(name, x, w, b, y, f"{name} {dtype} bias={bias}", chunk_size=32)
    _check(name, x, w, b, y, f"{name} {dtype} bias={bias} smoothed", chunk_size=40, label_smoothing=0.1)


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_linear_reductions(device, gpu_backend, reduction):
    x, w, b, y, gen = _inputs(40, 32, 1000, torch.float32, device, seed=2)
    y[3] = -100
    up = torch.randn(40, generator=gen).to(device) if reduction == "none" else None
    for name in LINEAR:
        _check(name, x, w, b, y, f"{name} {reduction}", upstream=up, chunk_size=16, reduction=reduction)


def test_linear_probability_target(device, gpu_backend):
    x, w, b, _, gen = _inputs(48, 32, 1500, torch.float32, device, seed=3)
    q = torch.softmax(torch.randn(48, 1500, generator=gen) * 2, dim=1).to(device)
    for name in LINEAR:
        _check(name, x, w, b, q, f"soft {name}", chunk_size=20)


def _token_fn():
    fn = getattr(infoloss, "token_logprob_entropy", None)
    return (fn, "token_logprob_entropy") if fn is not None else (infoloss.linear_token_stats, "linear_token_stats")


def _split(out):
    ent = getattr(out, "entropy", None)
    logp = next(
        (
            getattr(out, k)
            for k in ("target_logprob", "logprob", "log_prob", "token_logprob")
            if getattr(out, k, None) is not None
        ),
        None,
    )
    assert ent is not None and logp is not None, f"unexpected result fields: {type(out)}"
    return ent, logp


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_token_logprob_and_entropy(device, gpu_backend, dtype):
    fn, name = _token_fn()
    x, w, _, y, _ = _inputs(70, 48, 2500, dtype, device, seed=4, bias=False)
    y[7] = -100
    ent, logp = _split(fn(x, w, y, chunk_size=16))
    logits = x.double() @ w.double().T
    lp = torch.log_softmax(logits, 1)
    ref_ent = -(lp.exp() * lp).sum(1)
    ref_logp = lp.gather(1, y.clamp_min(0)[:, None]).squeeze(1).masked_fill(y == -100, 0.0)
    tol = 1e-5 if dtype == torch.float32 else 3e-2
    assert_close_scaled(ent, ref_ent, tol, tol, f"{name} entropy")
    assert_close_scaled(logp, ref_logp, tol, tol, f"{name} target log-prob")
    assert float(logp[7]) == 0.0


def test_linear_minent_memory_is_chunked(cuda_device, gpu_backend):
    # No (N, V) logits kept: the extra peak is the parameter/hidden gradients plus chunk buffers.
    n, h, v = 16384, 1024, 32768
    x, w, _, y, _ = _inputs(n, h, v, torch.bfloat16, cuda_device, seed=5, bias=False)
    x.requires_grad_()
    w.requires_grad_()
    infoloss.linear_min_entropy_loss(x, w, y, entropy_weight=0.1).backward()  # warm-up
    x.grad = w.grad = None
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    infoloss.linear_min_entropy_loss(x, w, y, entropy_weight=0.1).backward()
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    grads = (x.numel() + w.numel()) * 2
    logits_bf16 = n * v * 2  # 1 GiB: what a materialized head would hold, before its softmax and gradient
    assert extra <= grads + 512 * 2**20, (extra, grads, logits_bf16)
