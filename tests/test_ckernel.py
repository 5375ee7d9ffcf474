"""The C row kernel (``_fused/_kernel.c``) and its loader (``_fused/_ckernel.py``) against torch float64.

The oracle is torch's own ``F.cross_entropy`` (index and probability targets, weights, smoothing) plus the
entropy / reverse terms composed from ``log_softmax`` in float64, differentiated by autograd; it shares no
code with infoloss. The kernel is called directly (``_ckernel.rows`` / ``_ckernel.prob_rows``) in both
builds (vectorized, and the portable ``-DIL_NO_VECTOR`` scalar loops) and through ``infoloss.functional``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest
import torch
import torch.nn.functional as F

import infoloss
import infoloss.functional as IF
from infoloss import _diagnostics
from infoloss._fused import _ckernel

INF = float("inf")
OFFSETS = [0.0, 1e3, 1e6, 1e8]
# 16 and 26: one 16-lane vector, and one plus a masked tail of 10; 130 = one 128-element accumulation
# block + an 8-lane group + a tail
CLASSES = [1, 3, 8, 13, 16, 26, 37, 130]
COEFS = {
    "ce": (1.0, 0.0, 0.0),
    "ent": (0.0, 0.7, 0.0),
    "rev": (0.0, 0.0, 0.3),
    "all": (1.1, -0.2, 0.3),
}
OPTIONS = {
    "plain": dict(weighted=False, eps=0.0),
    "weighted": dict(weighted=True, eps=0.0),
    "smooth": dict(weighted=False, eps=0.1),
    "weighted-smooth": dict(weighted=True, eps=0.25),
}
RLE = math.log(1e-6)


def _kernel_or_skip() -> None:
    if not _ckernel.available():
        pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")


_BUILDS: dict = {}
_DEFINES = {"scalar": ("-DIL_NO_VECTOR",), "8 lanes": ("-DIL_W=8",), "no AVX-512": ("-mno-avx512f",)}
_X86 = platform.machine().lower() in ("x86_64", "amd64")


@pytest.fixture(params=["vector", "8 lanes", "no AVX-512", "scalar"])
def build(request, monkeypatch):
    """Run with the default library (16 lanes where AVX-512 is on, else 8), with the 8-lane build forced
    (-DIL_W=8: 8 lanes, masked tails by AVX-512VL moves where the CPU has them), with AVX-512 switched off
    (-mno-avx512f, x86 only: what an AVX2 machine runs, masked tails by the portable lane loops) and with
    the portable scalar build (-DIL_NO_VECTOR)."""
    _kernel_or_skip()
    if request.param == "no AVX-512" and not _X86:
        pytest.skip("-mno-avx512f is an x86 flag")
    if request.param != "vector":
        if request.param not in _BUILDS:
            _BUILDS[request.param] = _ckernel._load(_DEFINES[request.param])
        monkeypatch.setattr(_ckernel, "_lib", _BUILDS[request.param])
    return request.param


# ---------------------------------------------------------------- float64 oracle (torch, autograd)


def oracle(z, target, w=None, *, eps=0.0, ce=1.0, ent=0.0, rev=0.0, rle=RLE, ignore_index=-100):
    """Per-row loss and its gradient w.r.t. z, in float64, from torch ops only.

    loss_i = ce * F.cross_entropy_i + ent * s_i * H_i + rev * s_i * R_i, H = -sum p log p (0 log 0 = 0),
    R = -sum p max(log q', rle), s_i = w[y_i] (0 if ignored) or sum_c w_c q_ic.
    """
    z = z.detach().double().requires_grad_()
    c = z.shape[1]
    wd = None if w is None else w.double()
    logp = torch.log_softmax(z, 1)
    p = logp.exp()
    if target.dtype.is_floating_point:
        q = target.double()
        ce_i = F.cross_entropy(z, q, weight=wd, label_smoothing=eps, reduction="none")
        s = q @ wd if wd is not None else torch.ones(z.shape[0], dtype=torch.float64)
        qs = q * (1 - eps) + eps / c
    else:
        ce_i = F.cross_entropy(z, target, weight=wd, ignore_index=ignore_index, label_smoothing=eps, reduction="none")
        valid = target != ignore_index
        safe = torch.where(valid, target, torch.zeros_like(target))
        wy = wd[safe] if wd is not None else torch.ones(z.shape[0], dtype=torch.float64)
        s = torch.where(valid, wy, torch.zeros_like(wy))
        qs = F.one_hot(safe, c).double() * (1 - eps) + eps / c
    h = -(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum(1)
    big_l = torch.log(qs).clamp_min(rle)
    r = -(p * big_l).sum(1)
    loss = torch.zeros(z.shape[0], dtype=torch.float64)
    if ce != 0:
        loss = loss + ce * ce_i
    if ent != 0:
        loss = loss + ent * s * h
    if rev != 0:
        loss = loss + rev * s * r
    (g,) = torch.autograd.grad(loss.sum(), z)
    return loss.detach(), g


def kernel(
    z,
    target,
    w=None,
    *,
    eps=0.0,
    ce=1.0,
    ent=0.0,
    rev=0.0,
    rle=RLE,
    ignore_index=-100,
    wsum="auto",
    want_grad=True,
    lo_ly=False,
):
    """Loss and gradient from one direct call of ``_ckernel.rows`` / ``_ckernel.prob_rows``."""
    m, c = z.shape
    loss = torch.empty(m, dtype=z.dtype)
    grad = torch.empty((m, c), dtype=z.dtype) if want_grad else None
    wk = None if w is None else w.to(z.dtype).contiguous()
    if wsum == "auto":
        wsum = float(wk.double().sum()) if wk is not None else float(c)
    if target.dtype.is_floating_point:
        ones = torch.ones(c, dtype=z.dtype)
        _ckernel.prob_rows(
            z,
            target.to(z.dtype),
            ones if wk is None else wk,
            weighted=wk is not None,
            label_smoothing=eps,
            ce=ce,
            ent=ent,
            rev=rev,
            rev_log_eps=rle,
            wsum=wsum,
            loss=loss,
            grad=grad,
        )
    else:
        kw = dict(
            ignore_index=ignore_index, label_smoothing=eps, ce=ce, ent=ent, rev=rev, wsum=wsum, loss=loss, grad=grad
        )
        if lo_ly:
            lo, ly = _ckernel.rev_logs(c, eps, rle)
            _ckernel.rows(z, target.to(torch.int64).contiguous(), wk, lo=lo, ly=ly, **kw)
        else:
            _ckernel.rows(z, target.to(torch.int64).contiguous(), wk, rev_log_eps=rle, **kw)
    return loss, grad


def tol(dtype, scale=1.0):
    if dtype == torch.float64:
        return dict(rtol=1e-10, atol=1e-10 * scale)
    return dict(rtol=2e-5, atol=2e-5 * scale)


def make_case(kind, m, c, dtype, offset, weighted, gen):
    """Logits with a large common offset (rounded to dtype first: the oracle sees the same numbers)."""
    z = (torch.randn(m, c, generator=gen, dtype=torch.float64) * 3 + offset).to(dtype)
    w = torch.rand(c, generator=gen, dtype=torch.float64).add_(0.2).to(dtype) if weighted else None
    if kind == "index":
        y = torch.randint(0, c, (m,), generator=gen)
        if m > 3:
            y[3] = -100
        return z, y, w
    q = torch.softmax(torch.randn(m, c, generator=gen, dtype=torch.float64) * 2, 1)
    if c > 2:
        q[:, 2] = 0.0  # exact zeros: 0 log 0 and the floor of R
        q = q / q.sum(1, keepdim=True)
    return z, q.to(dtype), w


# ---------------------------------------------------------------- 1. precision at large offsets


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_kernel_matches_torch_float64_at_large_offsets(build, kind, option, offset, dtype):
    """Loss and gradient of every term (CE, entropy, reverse, a mix) for logits around 0 .. 1e8."""
    gen = torch.Generator().manual_seed(hash((kind, option, offset)) % 2**31)
    opt = OPTIONS[option]
    for c in CLASSES:
        z, target, w = make_case(kind, 9, c, dtype, offset, opt["weighted"], gen)
        for name, (ce, ent, rev) in COEFS.items():
            want_l, want_g = oracle(z, target, w, eps=opt["eps"], ce=ce, ent=ent, rev=rev)
            got_l, got_g = kernel(z, target, w, eps=opt["eps"], ce=ce, ent=ent, rev=rev)
            msg = f"C={c} coefs={name}"
            torch.testing.assert_close(got_l.double(), want_l, **tol(dtype, 1 + want_l.abs().max().item()), msg=msg)
            torch.testing.assert_close(got_g.double(), want_g, **tol(dtype), msg=msg)


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_kernel_threaded_blocks_match_torch(build, kind):
    """M * C >= 65536 splits the rows over the thread pool: same values as the oracle, at offset 1e6."""
    gen = torch.Generator().manual_seed(5)
    z, target, w = make_case(kind, 600, 130, torch.float32, 1e6, True, gen)
    want_l, want_g = oracle(z, target, w, eps=0.1, ce=1.0, ent=0.3, rev=0.2)
    got_l, got_g = kernel(z, target, w, eps=0.1, ce=1.0, ent=0.3, rev=0.2)
    torch.testing.assert_close(got_l.double(), want_l, **tol(torch.float32, 10))
    torch.testing.assert_close(got_g.double(), want_g, **tol(torch.float32))


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e6, 1e8, 1e30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_equal_large_logits_give_log_c(build, offset, dtype):
    """The issue's repro: equal logits of any magnitude give CE = log C (was 1.375 at 1e6, 0 at 1e8)."""
    for c in (4, 9, 130):
        z = torch.full((2, c), offset, dtype=dtype)
        loss, grad = kernel(z, torch.tensor([0, c - 1]))
        torch.testing.assert_close(loss.double(), torch.full((2,), math.log(c), dtype=torch.float64), **tol(dtype))
        want_g = torch.full((2, c), 1.0 / c, dtype=torch.float64)
        want_g[0, 0] -= 1
        want_g[1, c - 1] -= 1
        torch.testing.assert_close(grad.double(), want_g, **tol(dtype))
        q = torch.zeros(1, c, dtype=dtype)
        q[0, :2] = 0.5
        loss, _ = kernel(z[:1], q)
        torch.testing.assert_close(loss.double(), torch.tensor([math.log(c)], dtype=torch.float64), **tol(dtype))


@pytest.mark.parametrize("offset", [1e6, 1e8])
def test_public_losses_at_large_offsets_match_torch(offset):
    """Through infoloss.functional (reduction='none'), float32 logits around 1e6 / 1e8."""
    gen = torch.Generator().manual_seed(11)
    for kind in ("index", "prob"):
        z, target, w = make_case(kind, 16, 37, torch.float32, offset, True, gen)
        cases = {
            "ce": (
                lambda x, t=target, w=w: IF.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="none"),
                dict(eps=0.1),
            ),
            "minent": (
                lambda x, t=target, w=w: IF.min_entropy_loss(x, t, entropy_weight=0.3, weight=w, reduction="none"),
                dict(ent=0.3),
            ),
            "mixent": (
                lambda x, t=target, w=w: IF.mixed_entropy_loss(
                    x, t, reverse_weight=0.5, eps=1e-4, weight=w, reduction="none"
                ),
                dict(rev=0.5, rle=math.log(1e-4)),
            ),
        }
        for name, (fn, kw) in cases.items():
            a = z.clone().requires_grad_()
            got = fn(a)
            got.sum().backward()
            want_l, want_g = oracle(z, target, w, **kw)
            msg = f"{kind} {name}"
            torch.testing.assert_close(got.double(), want_l, **tol(torch.float32, 10), msg=msg)
            torch.testing.assert_close(a.grad.double(), want_g, **tol(torch.float32), msg=msg)


# ---------------------------------------------------------------- 2. -inf logits


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_neg_inf_logit_against_positive_target_gives_inf_like_torch(build, dtype):
    """CE, MIN-ENT, MIX-ENT, SCE with a probability target: +inf loss (was 2e29 / 5e299), and torch's
    (finite) gradient: d/dz_j = A p_j - a_j, so -a_j at the -inf logit."""
    z = torch.tensor([[0.0, -INF, 1.0, 0.5], [0.3, -INF, -INF, 2.0], [1.0, 2.0, 3.0, -INF]], dtype=dtype)
    q = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.2, 0.3, 0.1, 0.4], [0.1, 0.1, 0.1, 0.7]], dtype=dtype)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=dtype)
    for weight in (None, w):
        for ce, ent, rev in COEFS.values():
            if ce == 0:
                continue  # the entropy and reverse terms stay finite; covered by the oracle test below
            got_l, got_g = kernel(z, q, weight, ce=ce, ent=ent, rev=rev)
            assert torch.isposinf(got_l).all(), got_l
            zz = z.double().requires_grad_()
            wd = None if weight is None else weight.double()
            (torch_g,) = torch.autograd.grad(F.cross_entropy(zz, q.double(), weight=wd, reduction="sum"), zz)
            assert torch.isfinite(torch_g).all()
            _, want_g = oracle(z, q, weight, ce=ce, ent=ent, rev=rev)
            assert torch.isfinite(got_g).all()
            torch.testing.assert_close(got_g.double(), want_g, **tol(dtype))
            if ent == 0 and rev == 0:
                torch.testing.assert_close(got_g.double(), ce * torch_g, **tol(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_neg_inf_logit_smoothed_target_gives_inf(build, dtype):
    """Label smoothing makes every target positive: a -inf logit gives +inf for index and probability
    targets (torch too), with torch's finite gradient."""
    z = torch.tensor([[0.0, -INF, 1.0], [0.5, 0.1, -INF]], dtype=dtype)
    y = torch.tensor([0, 1])
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)
    for target in (y, q):
        got_l, got_g = kernel(z, target, eps=0.1)
        zz = z.double().requires_grad_()
        want_l = F.cross_entropy(zz, target if target is y else q.double(), label_smoothing=0.1, reduction="none")
        (want_g,) = torch.autograd.grad(want_l.sum(), zz)
        assert torch.isposinf(got_l).all() and torch.isposinf(want_l).all()
        torch.testing.assert_close(got_g.double(), want_g, **tol(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_neg_inf_logit_against_zero_target_is_the_finite_limit(build, dtype):
    """0 log 0 = 0: a -inf logit with a zero target gives the loss of the same row without that class,
    and gradient 0 there (torch gives NaN for soft targets; the design keeps the limit)."""
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    q = torch.softmax(torch.randn(5, 6, generator=gen, dtype=torch.float64), 1)
    z[:, 4] = -INF
    q[:, 4] = 0.0
    q[:, 1] = 0.0  # a zero target on a finite logit too
    q = q / q.sum(1, keepdim=True)
    y = torch.tensor([0, 1, 2, 3, 5])
    keep = [0, 1, 2, 3, 5]
    for target, reduced in ((q, q[:, keep]), (y, torch.tensor([0, 1, 2, 3, 4]))):
        for ce, ent, rev in COEFS.values():
            got_l, got_g = kernel(
                z.to(dtype), target.to(dtype) if target.is_floating_point() else target, ce=ce, ent=ent, rev=rev
            )
            want_l, want_g = oracle(z[:, keep], reduced, ce=ce, ent=ent, rev=rev)
            torch.testing.assert_close(got_l.double(), want_l, **tol(dtype))
            torch.testing.assert_close(got_g[:, keep].double(), want_g, **tol(dtype))
            assert (got_g[:, 4] == 0).all()


def test_neg_inf_logit_with_large_entropy_coefficient_stays_finite(build):
    """The clamp of d = z - m is small (1e4): coef * d never overflows, so a -inf logit with a huge
    weight * entropy coefficient keeps a finite gradient (with the old 1e30 clamp: 0 * inf = NaN)."""
    z = torch.tensor([[0.0, -INF, 1.0, 0.5]])
    w = torch.tensor([1e9, 1e9, 1e9, 1e9])
    for target in (torch.tensor([0]), torch.tensor([[0.5, 0.1, 0.2, 0.2]])):  # prob: CE = +inf
        got_l, got_g = kernel(z, target, w, ce=1.0, ent=0.7)
        want_l, want_g = oracle(z, target, w, ce=1.0, ent=0.7)
        assert torch.isfinite(got_g).all(), got_g
        torch.testing.assert_close(got_l.double(), want_l, rtol=2e-5, atol=1.0)
        torch.testing.assert_close(got_g.double(), want_g, rtol=2e-5, atol=1e9 * 2e-6)


@pytest.mark.parametrize("name", ["ce", "minent", "mixent", "sce", "similarity"])
def test_public_losses_neg_inf_logit_positive_target_inf(name):
    """Through the public API: +inf loss for every probability-target loss and similarity CE."""
    from infoloss.bespoke import similarity_cross_entropy

    z = torch.tensor([[0.0, -INF, 1.0], [0.2, 0.1, 0.0]])
    q = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    fns = {
        "ce": lambda: IF.cross_entropy(z, q, reduction="none"),
        "minent": lambda: IF.min_entropy_loss(z, q, reduction="none"),
        "mixent": lambda: IF.mixed_entropy_loss(z, q, reduction="none"),
        "sce": lambda: IF.symmetric_cross_entropy(z, q, reduction="none"),
        "similarity": lambda: similarity_cross_entropy(
            z, torch.tensor([0, 2]), torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]]), reduction="none"
        ),
    }
    got = fns[name]()
    assert torch.isposinf(got[0]), got
    assert torch.isfinite(got[1]), got


# ---------------------------------------------------------------- 3. inf class weights


def _assert_same_nonfinite(got, want, dtype, msg=""):
    torch.testing.assert_close(torch.isnan(got), torch.isnan(want), msg=f"NaN pattern {msg}")
    torch.testing.assert_close(torch.isposinf(got), torch.isposinf(want), msg=f"+inf pattern {msg}")
    torch.testing.assert_close(torch.isneginf(got), torch.isneginf(want), msg=f"-inf pattern {msg}")
    fin = torch.isfinite(want)
    torch.testing.assert_close(got.double()[fin], want[fin], **tol(dtype), msg=msg)


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_inf_class_weight_rows_match_torch(build, kind, eps, dtype):
    """One inf class weight: loss and gradient match torch float64 autograd row by row, including which
    entries are NaN / inf (was: every row NaN). Without smoothing only the rows that put weight on that
    class are non-finite; with smoothing every class weight enters every row, as in torch."""
    gen = torch.Generator().manual_seed(7)
    m, c = 8, 5
    z = torch.randn(m, c, generator=gen, dtype=torch.float64).to(dtype)
    w = torch.tensor([1.0, INF, 0.5, 2.0, 1.0], dtype=dtype)
    if kind == "index":
        target = torch.tensor([0, 1, 2, 3, 1, 4, -100, 2])
    else:
        target = torch.softmax(torch.randn(m, c, generator=gen, dtype=torch.float64), 1)
        target[[0, 2, 5], 1] = 0.0  # rows without mass on the inf class: torch gives inf * 0 = NaN there
        target = (target / target.sum(1, keepdim=True)).to(dtype)
    zz = z.double().requires_grad_()
    kw = dict(weight=w.double(), label_smoothing=eps, reduction="none")
    want_l = F.cross_entropy(zz, target.double() if kind == "prob" else target, **kw)
    (want_g,) = torch.autograd.grad(want_l.sum(), zz)
    got_l, got_g = kernel(z, target, w, eps=eps)
    if kind == "index":
        # The one deviation: an ignored row has gradient 0. torch's smoothing term gives it 0 * inf = NaN
        # (its masked_fill backward times the weights); ignored rows stay out of the loss entirely here.
        assert (got_g[6] == 0).all()
        want_g[6] = 0.0
    if kind == "index" and eps == 0:  # the point of the fix: finite rows stay finite
        assert torch.isfinite(got_g[[0, 2, 3, 5, 6, 7]]).all()
    _assert_same_nonfinite(got_l, want_l.detach(), dtype, "loss")
    _assert_same_nonfinite(got_g, want_g, dtype, "grad")


def test_wsum_left_to_the_kernel_equals_passed_wsum(build):
    """wsum=None: the kernel sums w itself (no host read of a tensor); same result as passing it."""
    gen = torch.Generator().manual_seed(2)
    for kind in ("index", "prob"):
        z, target, w = make_case(kind, 7, 13, torch.float64, 0.0, True, gen)
        for weight in (w, None):
            a = kernel(z, target, weight, eps=0.2, ce=1.0, ent=0.1, rev=0.2)
            b = kernel(z, target, weight, eps=0.2, ce=1.0, ent=0.1, rev=0.2, wsum=None)
            torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)
            want = oracle(z, target, weight, eps=0.2, ce=1.0, ent=0.1, rev=0.2)
            torch.testing.assert_close(b, want, **tol(torch.float64))


# ---------------------------------------------------------------- 4. tiny eps / log floor


@pytest.mark.parametrize("rle", [math.log(1e-46), -200.0, math.log(1e-300), -1000.0])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_reverse_term_floor_in_the_log_domain(build, kind, rle, dtype):
    """R = -sum p max(log q', log eps) for eps far below float32's range (1e-46, exp(-200)): finite and
    equal to the oracle (was NaN, from log(max(q, exp(log eps) = 0)))."""
    gen = torch.Generator().manual_seed(13)
    for eps in (0.0, 0.1):
        z, target, w = make_case(kind, 9, 13, dtype, 0.0, True, gen)
        for lo_ly in (False, True):
            if lo_ly and kind == "prob":
                continue
            got_l, got_g = kernel(z, target, w, eps=eps, ce=0.5, rev=0.3, rle=rle, lo_ly=lo_ly)
            want_l, want_g = oracle(z, target, w, eps=eps, ce=0.5, rev=0.3, rle=rle)
            assert torch.isfinite(got_l).all() and torch.isfinite(got_g).all()
            scale = abs(rle)
            torch.testing.assert_close(got_l.double(), want_l, **tol(dtype, scale))
            torch.testing.assert_close(got_g.double(), want_g, **tol(dtype, scale))


def test_rev_logs_values():
    """rev_logs: (log of the other classes' target, of the true class's), floored, never exp(log eps)."""
    assert _ckernel.rev_logs(4, 0.0, -200.0) == (-200.0, 0.0)
    assert _ckernel.rev_logs(4, 0.0, math.log(1e-46)) == (math.log(1e-46), 0.0)
    lo, ly = _ckernel.rev_logs(4, 0.2, -3.0)
    assert lo == pytest.approx(math.log(0.05)) and ly == pytest.approx(math.log(0.85))
    assert _ckernel.rev_logs(4, 0.2, -1.0) == (-1.0, pytest.approx(math.log(0.85)))
    with pytest.raises(ValueError, match="rev_log_eps"):
        kernel(torch.zeros(2, 3), torch.tensor([0, 1]), rev=0.3, rle=None)  # neither rev_log_eps nor lo/ly


def test_public_losses_tiny_eps_probability_target_finite():
    """mixed_entropy_loss(eps=1e-46) / symmetric_cross_entropy(log_zero=-200), probability targets,
    through infoloss.functional: finite and equal to the oracle."""
    gen = torch.Generator().manual_seed(17)
    z, q, _ = make_case("prob", 6, 7, torch.float32, 0.0, False, gen)
    got = IF.mixed_entropy_loss(z, q, reverse_weight=0.5, eps=1e-46, reduction="none")
    want, _ = oracle(z, q, rev=0.5, rle=math.log(1e-46))
    torch.testing.assert_close(got.double(), want, **tol(torch.float32, 100))
    got = IF.symmetric_cross_entropy(z, q, alpha=0.1, beta=1.0, log_zero=-200.0, reduction="none")
    want, _ = oracle(z, q, ce=0.1, rev=1.0, rle=-200.0)
    torch.testing.assert_close(got.double(), want, **tol(torch.float32, 200))


def test_public_losses_tiny_eps_index_target_finite():
    """mixed_entropy_loss(eps=1e-46) / symmetric_cross_entropy(log_zero=-200), class-index targets, through
    infoloss.functional: finite and equal to the oracle (NaN before)."""
    gen = torch.Generator().manual_seed(19)
    z, y, _ = make_case("index", 6, 7, torch.float32, 0.0, False, gen)
    got = IF.mixed_entropy_loss(z, y, reverse_weight=0.5, eps=1e-46, reduction="none")
    want, _ = oracle(z, y, rev=0.5, rle=math.log(1e-46))
    torch.testing.assert_close(got.double(), want, **tol(torch.float32, 100))
    got = IF.symmetric_cross_entropy(z, y, alpha=0.1, beta=1.0, log_zero=-200.0, reduction="none")
    want, _ = oracle(z, y, ce=0.1, rev=1.0, rle=-200.0)
    torch.testing.assert_close(got.double(), want, **tol(torch.float32, 200))


# ---------------------------------------------------------------- 5. corrupt cache


_CHILD = textwrap.dedent("""
    # For each cache directory in argv: load the kernel from it (the first through available()), compute CE.
    import json, os, sys, warnings
    warnings.simplefilter("error", RuntimeWarning)  # a silent fallback would pass: make it fail
    import torch, torch.nn.functional as F
    from infoloss._fused import _ckernel
    z = torch.randn(16, 21, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 21, (16,), generator=torch.Generator().manual_seed(1))
    out = []
    for k, cache in enumerate(sys.argv[1:]):
        os.environ["INFOLOSS_CACHE_DIR"] = cache
        if k == 0:
            ok = _ckernel.available()
            info = _ckernel.build_info()
        else:
            _ckernel._lib, info = _ckernel._load_with_info()
            ok = True
        loss = torch.empty(16); grad = torch.empty(16, 21)
        _ckernel.rows(z, y, None, ignore_index=-100, label_smoothing=0.0, ce=1.0, ent=0.0, rev=0.0, wsum=21.0,
                      loss=loss, grad=grad, rev_log_eps=-13.8)
        err = (loss - F.cross_entropy(z, y, reduction="none")).abs().max().item()
        out.append({"available": ok, "err": err, "rebuilt": info["rebuilt"], "path": info["path"]})
        print(json.dumps(out[-1]), flush=True)
""")


def _run_child(*caches):
    env = dict(os.environ)
    env.pop("INFOLOSS_CPU_KERNEL", None)
    r = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, caches)], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, f"child died (rc={r.returncode}, -7 = SIGBUS): {r.stdout[-1000:]} {r.stderr[-2000:]}"
    return [json.loads(line) for line in r.stdout.strip().splitlines()]


def test_corrupt_cached_library_is_detected_and_rebuilt(tmp_path):
    """A truncated library (SIGBUS when mapped), garbage bytes, a missing or unreadable checksum file, and
    garbage whose checksum file matches (unloadable): a fresh process rebuilds each and computes correctly;
    a valid entry is reused as is."""
    _kernel_or_skip()
    cache = tmp_path / "cache"
    (first,) = _run_child(cache)
    assert first["available"] and first["err"] < 1e-5 and first["rebuilt"]
    lib = cache / os.path.basename(first["path"])
    meta = lib.with_name(lib.name + ".json")
    good, good_meta = lib.read_bytes(), meta.read_text()
    assert json.loads(good_meta)["sha256"] == hashlib.sha256(good).hexdigest()
    garbage = b"\x7fELF garbage" * 100
    corruptions = {  # name -> (library bytes, checksum file text or None for no file)
        "valid": (good, good_meta),
        "truncated": (good[: len(good) // 2], good_meta),
        "garbage": (os.urandom(len(good)), good_meta),
        "no checksum": (good, None),
        "bad checksum file": (good, "{not json"),
        "garbage with matching checksum": (garbage, json.dumps({"sha256": hashlib.sha256(garbage).hexdigest()})),
    }
    dirs = []
    for k, (data, text) in enumerate(corruptions.values()):
        d = tmp_path / f"c{k}"
        d.mkdir(mode=0o700)
        (d / lib.name).write_bytes(data)
        if text is not None:
            (d / meta.name).write_text(text)
        dirs.append(d)
    results = _run_child(*dirs)
    assert len(results) == len(dirs)
    for (name, _), d, out in zip(corruptions.items(), dirs, results, strict=True):
        assert out["available"] and out["err"] < 1e-5, name
        assert out["rebuilt"] is (name != "valid"), name
        data = (d / lib.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == json.loads((d / meta.name).read_text())["sha256"], name
        leftovers = [p.name for p in d.iterdir() if p.name.endswith((".tmp", ".build.so"))]
        assert leftovers == [], name


# ---------------------------------------------------------------- 6. fallback warnings, diagnostics


@pytest.fixture
def fresh_loader(monkeypatch, tmp_path):
    """An untried loader state (restored afterwards) and a private empty cache, so a load really runs."""
    for name in ("_lib", "_failed", "_available", "_lib_info"):
        monkeypatch.setattr(_ckernel, name, getattr(_ckernel, name))
    monkeypatch.setattr(_ckernel, "_lib", None)
    monkeypatch.setattr(_ckernel, "_failed", None)
    monkeypatch.setattr(_ckernel, "_available", None)
    monkeypatch.setattr(_ckernel, "_lib_info", {})
    monkeypatch.setattr(_diagnostics, "_warned", {})
    monkeypatch.setenv("INFOLOSS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("INFOLOSS_CPU_KERNEL", raising=False)
    return monkeypatch


def test_fallback_without_compiler_warns_once_and_names_the_fix(fresh_loader, tmp_path):
    fresh_loader.setenv("CC", str(tmp_path / "no-such-cc"))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert _ckernel.available() is False
        assert _ckernel.available() is False
        z = torch.randn(4, 5)
        y = torch.tensor([0, 1, 2, 3])
        torch.testing.assert_close(IF.cross_entropy(z, y), F.cross_entropy(z, y))  # eager path, correct
    msgs = [str(r.message) for r in rec if issubclass(r.category, RuntimeWarning)]
    assert len(msgs) == 1, msgs
    assert "no C compiler" in msgs[0] and "CC" in msgs[0] and "INFOLOSS_CPU_KERNEL=0" in msgs[0]
    assert "no C compiler" in _ckernel.failure_reason()
    info = _diagnostics.diagnostics()
    assert info["cpu_kernel"]["available"] is False
    assert info["fallback_warnings"] == msgs
    if info["backend"] == "fused":
        assert "eager" in info["implementations"]["cpu/float32/index"]


def test_no_compiler_on_path_warns(fresh_loader, tmp_path):
    fresh_loader.delenv("CC", raising=False)
    fresh_loader.setenv("PATH", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="no C compiler found"):
        assert _ckernel.available() is False


def test_unwritable_cache_warns_with_its_fix(fresh_loader, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    fresh_loader.setenv("INFOLOSS_CACHE_DIR", str(shared))
    if hasattr(os, "getuid"):
        with pytest.warns(RuntimeWarning, match="INFOLOSS_CACHE_DIR to a private directory"):
            assert _ckernel.available() is False


def test_explicit_disable_does_not_warn(fresh_loader):
    fresh_loader.setenv("INFOLOSS_CPU_KERNEL", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ckernel.available() is False
    assert "INFOLOSS_CPU_KERNEL=0" in _ckernel.failure_reason()


def test_available_builds_once_under_concurrency_and_is_lock_free_after(fresh_loader):
    _kernel_or_skip_lib = _ckernel._load_with_info
    calls = []

    def slow_load(defines=()):
        calls.append(1)
        time.sleep(0.2)
        return _kernel_or_skip_lib(defines)

    fresh_loader.setattr(_ckernel, "_load_with_info", slow_load)
    results = []
    threads = [threading.Thread(target=lambda: results.append(_ckernel.available())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 8

    class NoLock:
        def __enter__(self):
            raise AssertionError("available() took the lock after the first call")

        def __exit__(self, *exc):
            return False

    fresh_loader.setattr(_ckernel, "_lock", NoLock())
    fresh_loader.setenv("INFOLOSS_CPU_KERNEL", "0")  # read once: a later change does not flip the answer
    assert _ckernel.available() is results[0]


def test_diagnostics_report(build):
    info = _diagnostics.diagnostics()
    json.dumps(info)  # plain values
    assert info["torch_version"] == torch.__version__
    assert info["infoloss_version"] == infoloss.__version__
    assert info["backend"] == infoloss.get_backend()
    cpu = info["cpu_kernel"]
    assert cpu["available"] is True and os.path.exists(cpu["path"])
    assert cpu["build"] == ("scalar" if build == "scalar" else "vector")
    assert cpu["threads"] == torch.get_num_threads()
    assert info["cuda"]["available"] == torch.cuda.is_available()
    for case in ("cpu/float32/index", "cpu/float32/prob", "cuda/float32/index", "cuda/float32/prob"):
        assert case in info["implementations"]
    if info["backend"] == "fused":
        assert f"C kernel ({cpu['build']} build" in info["implementations"]["cpu/float32/index"]
    with infoloss.use_backend("reference"):
        assert "reference" in _diagnostics.diagnostics()["implementations"]["cpu/float32/prob"]
    text = _diagnostics.format_diagnostics(info)
    assert "CPU kernel" in text and cpu["path"] in text and "cpu/float32/prob" in text


def test_warn_once_dedups_per_key(monkeypatch):
    monkeypatch.setattr(_diagnostics, "_warned", {})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert _diagnostics.warn_once("a", "first a")
        assert not _diagnostics.warn_once("a", "first a again")
        assert _diagnostics.warn_once("b", "first b")
    assert [str(r.message) for r in rec] == ["first a", "first b"]
    assert all(r.category is RuntimeWarning for r in rec)
    assert _diagnostics.fallback_warnings() == ["first a", "first b"]


def test_cli_doctor_prints_the_report(capsys):
    from infoloss.cli import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("infoloss diagnostics")
    assert "CPU kernel" in out and "cpu/float32/index" in out and "cuda/float32/prob" in out
    assert main(["doctor", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["torch_version"] == torch.__version__
    assert info["cpu_kernel"]["available"] == _ckernel.available()


def test_cli_doctor_subprocess_reports_a_missing_compiler(tmp_path):
    """`python -m infoloss doctor` in a fresh process without a compiler (and an empty cache) says why."""
    env = dict(os.environ, INFOLOSS_CACHE_DIR=str(tmp_path / "c"), CC=str(tmp_path / "no-cc"))
    env.pop("INFOLOSS_CPU_KERNEL", None)
    r = subprocess.run(
        [sys.executable, "-m", "infoloss", "doctor"], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "available: no (RuntimeError: no C compiler found" in r.stdout
    assert "eager chunked torch path" in r.stdout or "backend: reference" in r.stdout
