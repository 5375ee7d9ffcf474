"""infoloss row losses on CUDA (default and opt-in Triton backends) against float64 oracles."""

from __future__ import annotations

import math

import pytest
import torch
from gpu_oracle import TOL, assert_close_scaled, ce_family, loss_and_grads

import infoloss.functional as IF

pytestmark = pytest.mark.gpu

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
LOSSES = {
    "ce": (lambda z, t, **k: IF.cross_entropy(z, t, **k), {}),
    "minent": (lambda z, t, **k: IF.min_entropy_loss(z, t, entropy_weight=0.3, **k), {"ent": 0.3}),
    "confidence_penalty": (
        lambda z, t, **k: IF.min_entropy_loss(z, t, ce_weight=0.7, entropy_weight=-0.2, **k),
        {"ce": 0.7, "ent": -0.2},
    ),
    "mixent": (
        lambda z, t, **k: IF.mixed_entropy_loss(z, t, reverse_weight=0.25, eps=1e-4, **k),
        {"rev": 0.25, "rev_eps": 1e-4},
    ),
}


def _inputs(n: int, c: int, dtype: torch.dtype, device: torch.device, seed: int, scale: float = 3.0):
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=gen) * scale).to(device=device, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=gen).to(device)
    return z, y, gen


def _check(fn, oracle_kw, z, target, *, loss_kw=None, upstream=None, what=""):
    """infoloss loss and dlogits against the oracle on z's own (rounded) values."""
    loss_kw = loss_kw or {}
    zi = z.detach().clone().requires_grad_()
    out = fn(zi, target, **loss_kw)
    assert out.dtype == z.dtype
    (out if upstream is None else (out * upstream).sum()).sum().backward()
    ref, (gref, *_) = loss_and_grads(lambda zz: ce_family(zz, target, **oracle_kw, **loss_kw), z, upstream=upstream)
    (lr, la), (gr, ga) = TOL[z.dtype]
    assert_close_scaled(out.detach(), ref, lr, la, f"{what} loss")
    assert zi.grad is not None and zi.grad.dtype == z.dtype
    assert_close_scaled(zi.grad, gref, gr, ga, f"{what} grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("loss", list(LOSSES))
def test_class_index_rows_match_oracle(device, gpu_backend, dtype, loss):
    z, y, gen = _inputs(64, 5003, dtype, device, seed=1)  # odd C: a partial last block
    y[[3, 17]] = -100
    w = (torch.rand(5003, generator=gen) + 0.5).to(device)
    fn, okw = LOSSES[loss]
    _check(fn, okw, z, y, loss_kw={"weight": w, "label_smoothing": 0.1}, what=f"{loss} {dtype}")
    _check(fn, okw, z, y, what=f"{loss} {dtype} unweighted")


@pytest.mark.parametrize("reduction", ["none", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_reductions_with_row_upstream_gradient(device, gpu_backend, reduction, dtype):
    z, y, gen = _inputs(48, 1000, dtype, device, seed=2)
    y[5] = -100
    up = torch.randn(48, generator=gen).to(device, dtype) if reduction == "none" else None
    for loss, (fn, okw) in LOSSES.items():
        _check(fn, okw, z, y, loss_kw={"reduction": reduction}, upstream=up, what=f"{loss} {reduction}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("loss", ["ce", "minent", "mixent"])
def test_probability_target_rows_match_oracle(device, gpu_backend, dtype, loss):
    z, _, gen = _inputs(40, 3001, dtype, device, seed=3)
    q = torch.softmax(torch.randn(40, 3001, generator=gen) * 2, dim=1).to(device, dtype)
    fn, okw = LOSSES[loss]
    _check(fn, okw, z, q, what=f"soft {loss}")
    _check(fn, okw, z, q, loss_kw={"label_smoothing": 0.05}, what=f"soft {loss} smoothed")


@pytest.mark.parametrize("vocab", [131072, 256000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_large_vocab_rows(device, gpu_backend, vocab, dtype):
    z, y, _ = _inputs(6, vocab, dtype, device, seed=4, scale=5.0)
    for loss in ("ce", "minent", "mixent"):
        fn, okw = LOSSES[loss]
        _check(fn, okw, z, y, what=f"{loss} V={vocab}")


def test_masked_logits_give_zero_probability(device, gpu_backend):
    # -inf logits (masked vocabulary entries): p = 0 exactly, finite loss, zero gradient there.
    z, y, gen = _inputs(32, 777, torch.float32, device, seed=5)
    mask = torch.rand(32, 777, generator=gen).to(device) < 0.3
    mask[torch.arange(32, device=device), y] = False
    zm = z.masked_fill(mask, -math.inf)
    z_oracle = z.masked_fill(mask, -1e4)  # exp underflows to exactly 0 in float64: same distribution
    for loss in ("ce", "minent", "mixent"):
        fn, okw = LOSSES[loss]
        zi = zm.clone().requires_grad_()
        out = fn(zi, y)
        out.backward()
        ref, (gref,) = loss_and_grads(lambda zz, okw=okw: ce_family(zz, y, **okw), z_oracle)
        assert torch.isfinite(out)
        assert_close_scaled(out.detach(), ref, 1e-5, 1e-6, f"{loss} masked loss")
        assert torch.isfinite(zi.grad).all()
        assert (zi.grad[mask] == 0).all()
        assert_close_scaled(zi.grad, gref, 1e-4, 1e-5, f"{loss} masked grad")


def test_non_contiguous_logits(device, gpu_backend):
    z, y, _ = _inputs(50, 2000, torch.float32, device, seed=6)
    strided = torch.cat([z, z], dim=1)[:, ::2]  # row stride 4000, column stride 2
    column_major = z.t().contiguous().t()  # column stride != 1
    for view in (strided, column_major):
        assert not view.is_contiguous()
        for loss in ("ce", "minent"):
            fn, okw = LOSSES[loss]
            _check(fn, okw, view, y, what=f"{loss} non-contiguous")


def test_all_rows_ignored_mean_is_zero(device, gpu_backend):
    z, y, _ = _inputs(8, 300, torch.float32, device, seed=7)
    y[:] = -100
    zi = z.clone().requires_grad_()
    out = IF.min_entropy_loss(zi, y, entropy_weight=0.1)
    out.backward()
    assert float(out.detach()) == 0.0
    assert (zi.grad == 0).all()


def test_autocast_bf16_head(device, gpu_backend):
    # AMP: the logits of a Linear under autocast are bf16; the loss must accept and differentiate them.
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(64, 128, generator=gen).to(device)
    head = torch.nn.Linear(128, 4099).to(device)
    y = torch.randint(0, 4099, (64,), generator=gen).to(device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        logits = head(x)
        assert logits.dtype == torch.bfloat16
        out = IF.min_entropy_loss(logits, y, entropy_weight=0.1)
    out.float().backward()
    ref = ce_family(logits.detach(), y, ent=0.1)
    assert_close_scaled(out.detach(), ref, 1e-2, 8e-3, "autocast loss")
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()


def test_fused_peak_memory_is_one_gradient(cuda_device, gpu_backend):
    # docs/fused.md: forward computes the gradient into one N x C buffer and keeps nothing else of that size.
    z, y, _ = _inputs(4096, 32000, torch.float32, cuda_device, seed=9)
    nv = z.numel() * z.element_size()
    z.requires_grad_()
    results = {}
    for name, fn in (
        ("infoloss_minent", lambda: IF.min_entropy_loss(z, y, entropy_weight=0.1)),
        ("torch_ce", lambda: torch.nn.functional.cross_entropy(z, y)),
    ):
        fn().backward()  # warm-up (kernel compilation, allocator)
        z.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn().backward()
        torch.cuda.synchronize()
        results[name] = torch.cuda.max_memory_allocated() - base
        z.grad = None
    assert results["infoloss_minent"] <= 1.1 * nv + 64 * 2**20, results
