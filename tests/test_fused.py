"""infoloss._fused against the plain-PyTorch oracle infoloss._reference (values and autograd gradients)."""

from __future__ import annotations

import math

import pytest
import torch

from infoloss import _fused, _reference
from infoloss._fused import _ckernel, _rows

COEFS = {
    "ce": dict(ce_coef=1.0, ent_coef=0.0, rev_coef=0.0),
    "ent": dict(ce_coef=0.0, ent_coef=0.7, rev_coef=0.0),
    "rev": dict(ce_coef=0.0, ent_coef=0.0, rev_coef=0.3),
    "all": dict(ce_coef=1.1, ent_coef=-0.2, rev_coef=0.3),
}
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


_SCALAR_LIB: list = []


def scalar_kernel():
    """The C kernel built with -DIL_NO_VECTOR (the portable scalar loops), loaded once per session."""
    if not _SCALAR_LIB:
        _SCALAR_LIB.append(_ckernel._load(("-DIL_NO_VECTOR",)))
    return _SCALAR_LIB[0]


@pytest.fixture(params=["kernel", "kernel-scalar", "eager"])
def backend(request, monkeypatch):
    """Run a test with the compiled C kernel (vector build and portable scalar build) and the eager path."""
    if request.param.startswith("kernel"):
        if not _ckernel.available():
            pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")
        if request.param == "kernel-scalar":
            monkeypatch.setattr(_ckernel, "_lib", scalar_kernel())
    else:
        monkeypatch.setattr(_ckernel, "available", lambda: False)
    return request.param


def make_target(kind, rows, classes, dtype, gen, ignore=True):
    if kind == "index":
        y = torch.randint(0, classes, (rows,), generator=gen)
        if ignore and rows > 3:
            y[3] = -100
        return y
    q = torch.softmax(torch.randn(rows, classes, generator=gen, dtype=dtype), 1)
    q[:, 2] = 0.0  # exact zeros exercise 0 log 0 and the eps floor of R
    return q / q.sum(1, keepdim=True)


def run_both(z, target, go=None, **kw):
    a = z.detach().clone().requires_grad_()
    b = z.detach().clone().requires_grad_()
    la = _fused.ce_family_rows(a, target, **kw)
    lb = _reference.ce_family_rows(b, target, **kw)
    if go is None:
        go = torch.randn(la.shape, dtype=la.dtype, generator=torch.Generator().manual_seed(1))
    la.backward(go)
    lb.backward(go)
    return la, lb, a.grad, b.grad


def options(weight=None, smoothing=0.0, coefs="all", rev_log_eps=-9.0):
    return dict(weight=weight, ignore_index=-100, label_smoothing=smoothing, rev_log_eps=rev_log_eps, **COEFS[coefs])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("coefs", list(COEFS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_matches_reference(backend, dtype, kind, coefs, weighted, smoothing):
    gen = torch.Generator().manual_seed(0)
    rows, classes = 37, 11
    z = torch.randn(rows, classes, generator=gen, dtype=dtype) * 3
    target = make_target(kind, rows, classes, dtype, gen)
    weight = torch.rand(classes, generator=gen, dtype=dtype) + 0.5 if weighted else None
    la, lb, ga, gb = run_both(z, target, **options(weight, smoothing, coefs))
    assert la.dtype == lb.dtype and ga.dtype == z.dtype
    torch.testing.assert_close(la, lb, **TOL[dtype])
    torch.testing.assert_close(ga, gb, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_entropy_rows(backend, dtype):
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(23, 300, generator=gen, dtype=dtype) * 4
    a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
    ha, hb = _fused.entropy_rows(a), _reference.entropy_rows(b)
    torch.testing.assert_close(ha, hb, **TOL[dtype])
    go = torch.randn(23, dtype=ha.dtype, generator=gen)
    ha.backward(go)
    hb.backward(go)
    torch.testing.assert_close(a.grad, b.grad, **TOL[dtype])
    torch.testing.assert_close(_fused.entropy_rows(torch.zeros(2, 4)), torch.full((2,), math.log(4)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_half_inputs(backend, dtype, kind):
    gen = torch.Generator().manual_seed(3)
    z = (torch.randn(19, 40, generator=gen) * 2).to(dtype)
    target = make_target(kind, 19, 40, torch.float32, gen)
    if kind == "prob":
        target = target.to(dtype)
    la, lb, ga, gb = run_both(z, target, go=torch.ones(19), **options(torch.rand(40, generator=gen) + 0.5, 0.1))
    assert la.dtype == torch.float32 and ga.dtype == dtype
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ga, gb, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_extreme_logits(backend, kind):
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(16, 50, generator=gen, dtype=torch.float64) * 1e4  # spread ~1e4: saturated softmax
    target = make_target(kind, 16, 50, torch.float64, gen)
    la, lb, ga, gb = run_both(z, target, **options(coefs="all"))
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_minus_inf_logits_against_zero_targets(backend, kind, dtype):
    gen = torch.Generator().manual_seed(5)
    z = torch.randn(8, 12, generator=gen, dtype=dtype)
    z[:, 5:8] = -math.inf
    if kind == "index":
        target = torch.randint(0, 5, (8,), generator=gen)
    else:
        target = torch.rand(8, 12, generator=gen, dtype=dtype)
        target[:, 5:8] = 0.0
        target = target / target.sum(1, keepdim=True)
    la, lb, ga, gb = run_both(z, target, **options(coefs="all"))
    assert torch.isfinite(la).all() and torch.isfinite(ga).all()
    torch.testing.assert_close(la, lb, **TOL[dtype])
    torch.testing.assert_close(ga, gb, **TOL[dtype])


def test_empty_rows(backend):
    z = torch.zeros(0, 7, requires_grad=True)
    loss = _fused.ce_family_rows(z, torch.zeros(0, dtype=torch.int64), **options())
    assert loss.shape == (0,)
    loss.sum().backward()
    assert z.grad is not None and z.grad.shape == (0, 7)
    assert _fused.entropy_rows(torch.zeros(0, 3)).shape == (0,)


def test_all_rows_ignored(backend):
    z = torch.randn(5, 6, requires_grad=True)
    loss = _fused.ce_family_rows(z, torch.full((5,), -100), **options())
    loss.sum().backward()
    assert torch.equal(loss, torch.zeros(5)) and torch.equal(z.grad, torch.zeros(5, 6))


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_non_contiguous_input(backend, kind):
    gen = torch.Generator().manual_seed(6)
    base = torch.randn(30, 20, generator=gen, dtype=torch.float64)
    z = base.t()  # (20, 30), class-dim stride 20
    target = make_target(kind, 20, 30, torch.float64, gen)
    la, lb, ga, gb = run_both(z, target, **options(torch.rand(30, generator=gen, dtype=torch.float64), 0.1))
    torch.testing.assert_close(la, lb, **TOL[torch.float64])
    torch.testing.assert_close(ga, gb, **TOL[torch.float64])


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("use_kernel", [False, True])
def test_chunk_boundaries(kind, dtype, use_kernel):
    if use_kernel and not _ckernel.available():
        pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(31, 9, generator=gen).to(dtype)  # 31 rows in chunks of 7: a ragged last chunk
    target = make_target(kind, 31, 9, torch.float64, gen)
    opts = dict(ignore_index=-100, label_smoothing=0.1, ce=1.0, ent=0.3, rev=0.2, rev_log_eps=-7.0)
    loss, grad = _rows._compute(z, target, None, want_grad=True, chunk_rows=7, use_kernel=use_kernel, **opts)
    ref_loss, ref_grad = _rows._compute(z, target, None, want_grad=True, chunk_rows=1000, use_kernel=False, **opts)
    assert grad is not None and ref_grad is not None
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("target_layout", ["contiguous", "transposed", "float16", "expanded"])
@pytest.mark.parametrize("use_kernel", [False, True])
def test_prob_chunk_boundaries_and_target_layouts(dtype, target_layout, use_kernel):
    if use_kernel and not _ckernel.available():
        pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")
    gen = torch.Generator().manual_seed(13)
    z = torch.randn(31, 9, generator=gen, dtype=dtype)
    q = make_target("prob", 31, 9, dtype, gen)
    if target_layout == "transposed":
        q = q.t().contiguous().t()  # class-dim stride 31
    elif target_layout == "float16":
        q = q.to(torch.float16)
    elif target_layout == "expanded":
        q = q[:1].expand(31, 9)  # row stride 0
    w = torch.rand(9, generator=gen, dtype=dtype) + 0.5
    opts = dict(ignore_index=-100, label_smoothing=0.1, ce=1.0, ent=0.3, rev=0.2, rev_log_eps=-7.0)
    loss, grad = _rows._compute(z, q, w, want_grad=True, chunk_rows=7, use_kernel=use_kernel, **opts)
    ref = _reference.ce_family_rows(
        z.clone().requires_grad_(),
        q,
        weight=w,
        ignore_index=-100,
        label_smoothing=0.1,
        ce_coef=1.0,
        ent_coef=0.3,
        rev_coef=0.2,
        rev_log_eps=-7.0,
    )
    assert grad is not None
    torch.testing.assert_close(loss, ref.detach(), **TOL[dtype])
    zr = z.clone().requires_grad_()
    _reference.ce_family_rows(
        zr,
        q,
        weight=w,
        ignore_index=-100,
        label_smoothing=0.1,
        ce_coef=1.0,
        ent_coef=0.3,
        rev_coef=0.2,
        rev_log_eps=-7.0,
    ).sum().backward()
    torch.testing.assert_close(grad, zr.grad, **TOL[dtype])


def test_prob_targets_use_the_c_kernel(monkeypatch):
    if not _ckernel.available():
        pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")
    calls = []
    real = _ckernel.prob_rows

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(_ckernel, "prob_rows", spy)
    gen = torch.Generator().manual_seed(14)
    z = torch.randn(5, 6, generator=gen, requires_grad=True)
    q = make_target("prob", 5, 6, torch.float32, gen)
    _fused.ce_family_rows(z, q, **options()).sum().backward()
    with torch.no_grad():
        _fused.ce_family_rows(z, q, **options())
    assert calls == [(5, 6), (5, 6)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("coefs", list(COEFS))
def test_prob_unnormalized_and_zero_weight(backend, dtype, coefs):
    """Targets need not sum to 1 (A and s use the actual sums); a zero class weight is allowed."""
    gen = torch.Generator().manual_seed(15)
    z = torch.randn(9, 13, generator=gen, dtype=dtype) * 2
    q = torch.rand(9, 13, generator=gen, dtype=dtype) * 0.3
    q[:, 4] = 0.0
    w = torch.rand(13, generator=gen, dtype=dtype) + 0.5
    w[7] = 0.0
    for weight in (None, w):
        la, lb, ga, gb = run_both(z, q, **options(weight, 0.2, coefs))
        torch.testing.assert_close(la, lb, **TOL[dtype])
        torch.testing.assert_close(ga, gb, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rev_log_eps", [-4.0, -30.0, -100.0])
def test_prob_reverse_term_tiny_targets(backend, dtype, rev_log_eps):
    """log q' over many magnitudes (down to float32 subnormals) against the eps floor of R."""
    gen = torch.Generator().manual_seed(16)
    rows, classes = 12, 64
    z = torch.randn(rows, classes, generator=gen, dtype=dtype)
    expo = torch.randint(-44, 1, (rows, classes), generator=gen).to(dtype)
    q = torch.rand(rows, classes, generator=gen, dtype=dtype) * torch.pow(torch.tensor(10.0, dtype=dtype), expo)
    q[:, 0] = 0.0
    q[:, 1] = 1e-45 if dtype == torch.float32 else 1e-310  # subnormal
    la, lb, ga, gb = run_both(z, q, **options(coefs="rev", rev_log_eps=rev_log_eps))
    torch.testing.assert_close(la, lb, **TOL[dtype])
    torch.testing.assert_close(ga, gb, **TOL[dtype])


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_wide_rows_float32(backend, kind):
    """32k-ish classes: the float32 kernel's row sums must not drift (they accumulate in double)."""
    gen = torch.Generator().manual_seed(17)
    z = torch.randn(6, 20000, generator=gen) * 3
    target = make_target(kind, 6, 20000, torch.float32, gen)
    w = torch.rand(20000, generator=gen) + 0.5
    la, lb, ga, gb = run_both(z, target, **options(w, 0.1))
    torch.testing.assert_close(la, lb, **TOL[torch.float32])
    torch.testing.assert_close(ga, gb, **TOL[torch.float32])


@pytest.mark.parametrize("classes", [1, 5, 8, 9, 127, 128, 129, 263])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_vector_and_tail_widths(backend, classes, kind, dtype):
    """Widths around the 8-lane vectors and 128-element sum blocks of the float32 kernel: -inf logits,
    zero and subnormal targets land both in the vector body and in the scalar tail."""
    gen = torch.Generator().manual_seed(19)
    rows = 7
    z = torch.randn(rows, classes, generator=gen, dtype=dtype) * 5
    if classes > 2:
        z[:, -1] = -math.inf
        z[1, 0] = -math.inf
    if kind == "index":
        target = torch.randint(0, max(1, classes - 1), (rows,), generator=gen)
    else:
        target = torch.rand(rows, classes, generator=gen, dtype=dtype)
        if classes > 2:
            target[:, -1] = 0.0
            target[1, 0] = 0.0
            target[2, classes // 2] = 1e-45 if dtype == torch.float32 else 1e-310
            target[3, classes - 2] = 1e-30
    w = torch.rand(classes, generator=gen, dtype=dtype) + 0.5
    for coefs, smoothing in (("ce", 0.0), ("all", 0.0), ("all", 0.1)):
        zz = z if smoothing == 0 else z.clamp_min(-60.0)  # smoothing puts mass on -inf logits: CE = inf
        la, lb, ga, gb = run_both(zz, target, **options(w, smoothing, coefs))
        assert torch.isfinite(la).all() and torch.isfinite(ga).all()
        torch.testing.assert_close(la, lb, **TOL[dtype])
        torch.testing.assert_close(ga, gb, **TOL[dtype])


def test_scalar_build_matches_vector_build():
    """The portable scalar build (-DIL_NO_VECTOR) and the vector build agree to float32 rounding."""
    if not _ckernel.available():
        pytest.skip(f"C kernel unavailable: {_ckernel.failure_reason()}")
    gen = torch.Generator().manual_seed(20)
    z = torch.randn(9, 1000, generator=gen) * 4
    q = torch.softmax(torch.randn(9, 1000, generator=gen), 1)
    y = torch.randint(0, 1000, (9,), generator=gen)
    opts = dict(ignore_index=-100, label_smoothing=0.1, ce=1.0, ent=0.3, rev=0.2, rev_log_eps=-7.0)
    for target in (y, q):
        vec = _rows._compute(z, target, None, want_grad=True, chunk_rows=None, use_kernel=True, **opts)
        real = _ckernel._lib
        try:
            _ckernel._lib = scalar_kernel()
            sca = _rows._compute(z, target, None, want_grad=True, chunk_rows=None, use_kernel=True, **opts)
        finally:
            _ckernel._lib = real
        torch.testing.assert_close(vec[0], sca[0], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(vec[1], sca[1], rtol=1e-6, atol=1e-7)


def test_empty_rows_prob(backend):
    z = torch.zeros(0, 7, requires_grad=True)
    loss = _fused.ce_family_rows(z, torch.zeros(0, 7), **options(torch.ones(7), 0.1))
    assert loss.shape == (0,)
    loss.sum().backward()
    assert z.grad is not None and z.grad.shape == (0, 7)
    with torch.no_grad():
        assert _fused.ce_family_rows(torch.zeros(0, 7), torch.zeros(0, 7), **options()).shape == (0,)


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_no_grad_matches_reference(backend, kind):
    gen = torch.Generator().manual_seed(18)
    z = torch.randn(10, 8, generator=gen, dtype=torch.float64)
    target = make_target(kind, 10, 8, torch.float64, gen)
    w = torch.rand(8, generator=gen, dtype=torch.float64) + 0.5
    with torch.no_grad():
        out = _fused.ce_family_rows(z, target, **options(w, 0.1))
    torch.testing.assert_close(out, _reference.ce_family_rows(z, target, **options(w, 0.1)), **TOL[torch.float64])


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_gradcheck(backend, kind):
    gen = torch.Generator().manual_seed(8)
    z = torch.randn(6, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    target = make_target(kind, 6, 5, torch.float64, gen)
    weight = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5

    def fn(x):
        return _fused.ce_family_rows(x, target, **options(weight, 0.1))

    assert torch.autograd.gradcheck(fn, (z,))
    assert torch.autograd.gradcheck(_fused.entropy_rows, (z,))


def test_double_backward_refused(backend):
    # create_graph=True itself works (torch.func.grad needs it) and gives the right first-order gradient;
    # differentiating that gradient again raises instead of silently dropping the Hessian.
    z = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3])
    loss = _fused.ce_family_rows(z, y, **options()).sum()
    (g,) = torch.autograd.grad(loss, z, create_graph=True)
    zr = z.detach().clone().requires_grad_()
    (gr,) = torch.autograd.grad(_reference.ce_family_rows(zr, y, **options()).sum(), zr)
    torch.testing.assert_close(g, gr, **TOL[torch.float64])
    with pytest.raises(RuntimeError, match=r"do not support double backward.*set_backend"):
        g.sum().backward()
    (gh,) = torch.autograd.grad(_fused.entropy_rows(z).sum(), z, create_graph=True)
    with pytest.raises(RuntimeError, match=r"do not support double backward"):
        torch.autograd.grad((gh**2).sum(), z)


def test_second_backward_through_same_graph_recomputes(backend):
    z = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    loss = _fused.ce_family_rows(z, torch.tensor([0, 1, 2, 3]), **options()).sum()
    loss.backward(retain_graph=True)
    first = z.grad.clone()
    loss.backward()
    torch.testing.assert_close(z.grad, 2 * first)


def test_no_grad_and_detached_inputs(backend):
    gen = torch.Generator().manual_seed(9)
    z = torch.randn(10, 8, generator=gen)
    y = torch.randint(0, 8, (10,), generator=gen)
    expected = _reference.ce_family_rows(z, y, **options())
    torch.testing.assert_close(_fused.ce_family_rows(z, y, **options()), expected)
    with torch.no_grad():
        out = _fused.ce_family_rows(z.clone().requires_grad_(), y, **options())
    assert not out.requires_grad
    torch.testing.assert_close(out, expected)


def test_target_requiring_grad_falls_back_to_reference(backend):
    gen = torch.Generator().manual_seed(10)
    z = torch.randn(5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    q = torch.softmax(torch.randn(5, 4, generator=gen, dtype=torch.float64), 1).requires_grad_()
    _fused.ce_family_rows(z, q, **options()).sum().backward()
    assert q.grad is not None and z.grad is not None


def test_scalar_grad_output_path(backend):
    gen = torch.Generator().manual_seed(11)
    z = torch.randn(12, 7, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 7, (12,), generator=gen)
    a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
    (_fused.ce_family_rows(a, y, **options()).mean() * 3).backward()
    (_reference.ce_family_rows(b, y, **options()).mean() * 3).backward()
    torch.testing.assert_close(a.grad, b.grad, **TOL[torch.float64])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("coefs", list(COEFS))
def test_triton_matches_reference(dtype, coefs):  # pragma: no cover - needs a GPU
    if not _fused.triton_available():
        pytest.skip("triton not installed")
    gen = torch.Generator().manual_seed(12)
    z = (torch.randn(64, 5000, generator=gen) * 3).to("cuda", dtype)
    y = torch.randint(0, 5000, (64,), generator=gen).cuda()
    y[3] = -100
    w = (torch.rand(5000, generator=gen) + 0.5).cuda()
    la, lb, ga, gb = run_both(z, y, **options(w, 0.1, coefs))
    torch.testing.assert_close(la, lb, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ga.float(), gb.float(), rtol=1e-2, atol=1e-3)


def test_kernel_thread_pool_survives_fork():
    # A forked child (DataLoader workers, multiprocessing "fork") must not wait on the parent's dead threads.
    import multiprocessing as mp

    import infoloss.functional as IF

    x = torch.randn(512, 256)
    y = torch.randint(0, 256, (512,))
    parent = IF.cross_entropy(x, y)  # builds the parent's pool
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply_async(IF.cross_entropy, (x, y)).get(timeout=60)
    torch.testing.assert_close(child, parent)


def test_kernel_cache_refuses_a_directory_others_can_write(tmp_path, monkeypatch):
    from infoloss._fused import _ckernel

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("INFOLOSS_CACHE_DIR", str(shared))
    with pytest.raises(RuntimeError, match="refusing kernel cache"):
        _ckernel._cache_dir()


def test_kernel_result_does_not_depend_on_the_thread_count():
    """The row loop runs on the OpenMP team (or a Python pool): each row is computed by one thread with the
    same code, so 1 and 2 threads give bitwise-equal losses and gradients, equal to torch in float64."""
    import torch.nn.functional as TF

    import infoloss.functional as IF

    g = torch.Generator().manual_seed(5)
    x = torch.randn(300, 700, generator=g) * 3
    y = torch.randint(0, 700, (300,), generator=g)
    before = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            xc = x.clone().requires_grad_()
            loss = IF.min_entropy_loss(xc, y, entropy_weight=0.2, reduction="sum")
            loss.backward()
            results.append((loss.detach(), xc.grad))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    xd = x.double().requires_grad_()
    logp = torch.log_softmax(xd, 1)
    want = TF.cross_entropy(xd, y, reduction="sum") + 0.2 * (-(logp.exp() * logp).sum(1)).sum()
    want.backward()
    torch.testing.assert_close(results[0][0].double(), want.detach(), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(results[0][1].double(), xd.grad, rtol=1e-4, atol=1e-6)
