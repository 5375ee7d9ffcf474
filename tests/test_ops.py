"""The losses as first-class PyTorch ops: torch.compile, torch.export, torch.func, vmap, autocast, opcheck.

Oracles are plain torch compositions (log_softmax, F.cross_entropy) in float64, written here, not infoloss.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
import torch._dynamo
import torch.nn.functional as TF

import infoloss
from infoloss import functional as F

C = 7
COST = 1.0 - torch.eye(C)
SIM = torch.full((C, C), 0.3 / (C - 1)).fill_diagonal_(0.7)

# name -> callable(logits, target) on the public API (modules built outside the traced function)
MODULES = {
    "CrossEntropyLoss": infoloss.CrossEntropyLoss(label_smoothing=0.1),
    "MinEntropyLoss": infoloss.MinEntropyLoss(entropy_weight=0.2),
    "MixedEntropyLoss": infoloss.MixedEntropyLoss(reverse_weight=0.2),
    "SymmetricCrossEntropyLoss": infoloss.SymmetricCrossEntropyLoss(),
    "FocalLoss": infoloss.FocalLoss(gamma=2.0),
    "Poly1CrossEntropyLoss": infoloss.Poly1CrossEntropyLoss(),
    "SimilarityCrossEntropyLoss": infoloss.SimilarityCrossEntropyLoss(SIM),
    "PairwiseCostLoss": infoloss.PairwiseCostLoss(COST),
    "ExpectedCostLoss": infoloss.ExpectedCostLoss(COST, ce_weight=0.5),
}
FUNCS = {
    "cross_entropy": lambda x, y: F.cross_entropy(x, y, base=2),
    "min_entropy_loss": lambda x, y: F.min_entropy_loss(x, y, entropy_weight=-0.1, label_smoothing=0.05),
    "mixed_entropy_loss": lambda x, y: F.mixed_entropy_loss(x, y, reverse_weight=0.3),
    "entropy": lambda x, y: F.entropy(x, reduction="mean"),
    "kl_divergence": lambda x, y: F.kl_divergence(x, torch.full_like(x, 1.0 / x.shape[1])),
    **{k: (lambda mod: lambda x, y: mod(x, y))(m) for k, m in MODULES.items()},
}


def plain(name: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same losses as plain torch compositions (float64 oracle), for the ones gradients are compared on."""
    logp = torch.log_softmax(x, 1)
    h = -(logp.exp() * logp).sum(1)
    if name == "cross_entropy":
        return TF.cross_entropy(x, y) / math.log(2)
    if name == "min_entropy_loss":
        return TF.cross_entropy(x, y, label_smoothing=0.05) - 0.1 * h.mean()
    if name == "mixed_entropy_loss":  # one-hot target: R = (1 - p_y) log(1/eps)
        p_y = logp.exp().gather(1, y[:, None]).squeeze(1)
        return TF.cross_entropy(x, y) + 0.3 * ((1 - p_y) * math.log(1e6)).mean()
    if name == "entropy":
        return h.mean()
    raise KeyError(name)


def data(n: int = 6, dtype: torch.dtype = torch.float32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, C, generator=g, dtype=dtype) * 2, torch.randint(0, C, (n,), generator=g)


@pytest.fixture(autouse=True)
def _reset_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("name", list(FUNCS))
def test_compile_fullgraph_no_breaks_and_equal_to_eager(name):
    fn = FUNCS[name]
    x, y = data()
    explained = torch._dynamo.explain(fn)(x, y)
    assert explained.graph_break_count == 0, explained.break_reasons
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = torch.compile(fn, fullgraph=True, dynamic=True, backend="aot_eager")
    for n in (5, 9, 13):  # dynamic=True: one graph for every batch size
        x, y = data(n, seed=n)
        xe = x.clone().requires_grad_()
        xc = x.clone().requires_grad_()
        eager = fn(xe, y)
        eager.backward()
        out = compiled(xc, y)
        out.backward()
        torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(xc.grad, xe.grad, rtol=1e-5, atol=1e-6)
    frames = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert frames <= 1, f"{frames} graphs for 3 batch sizes"


COMPILE_OPTION_MIXES = {
    "weights+ignored+smoothing": dict(fn="min", ent=0.3, ls=0.1, weight=True, ignore=True),
    "mix-ent, ignored": dict(fn="mix", rev=0.4, ls=0.0, weight=False, ignore=True),
    "mix-ent, weights, smoothing": dict(fn="mix", rev=0.2, ls=0.2, weight=True, ignore=False),
    "soft targets, weights": dict(fn="min", ent=0.2, ls=0.05, weight=True, prob=True),
    "soft mix-ent": dict(fn="mix", rev=0.3, ls=0.1, weight=False, prob=True),
    "all ignored": dict(fn="min", ent=0.1, ls=0.0, weight=False, all_ignored=True),
}


@pytest.mark.parametrize("api", ["functional", "module"])
@pytest.mark.parametrize("mix", list(COMPILE_OPTION_MIXES))
def test_compiled_losses_equal_float64_torch_over_option_mixes(mix, api):
    """Under torch.compile the losses are traced as plain torch ops (not the custom op): check that
    composition against an independent float64 composition of torch ops, value and gradient. The modules
    take their own compiled path (their weights as run-time tensors), so both APIs are checked."""
    o = COMPILE_OPTION_MIXES[mix]
    g = torch.Generator().manual_seed(7)
    n = 10
    x = torch.randn(n, C, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, C, (n,), generator=g)
    if o["ls"] == 0:  # a -inf logit against a zero target stays finite (smoothing would make it +inf)
        x[0, 1] = -math.inf
        y[0] = 0
    if o.get("ignore"):
        y[[2, 5]] = -100
    if o.get("all_ignored"):
        y[:] = -100
    w = torch.rand(C, generator=g, dtype=torch.float64) + 0.5 if o["weight"] else None
    target = y
    if o.get("prob"):
        target = torch.softmax(torch.randn(n, C, generator=g, dtype=torch.float64), 1)
        target[0, 1] = 0.0
        target = target / target.sum(1, keepdim=True)
    eps = 1e-4

    if o["fn"] == "min":
        module = infoloss.MinEntropyLoss(entropy_weight=o["ent"], weight=w, label_smoothing=o["ls"])
    else:
        module = infoloss.MixedEntropyLoss(reverse_weight=o["rev"], eps=eps, weight=w, label_smoothing=o["ls"])

    def ours(z):
        if api == "module":
            return module(z, target)
        if o["fn"] == "min":
            return F.min_entropy_loss(z, target, entropy_weight=o["ent"], weight=w, label_smoothing=o["ls"])
        return F.mixed_entropy_loss(z, target, reverse_weight=o["rev"], eps=eps, weight=w, label_smoothing=o["ls"])

    def oracle(z):
        logp = torch.log_softmax(z, 1)
        p = logp.exp()
        if o.get("prob"):
            q = target * (1 - o["ls"]) + o["ls"] / C
            wq = q * w if w is not None else q
            ce = -(wq * torch.where(wq > 0, logp, torch.zeros_like(logp))).sum(1)
            s = target @ w if w is not None else torch.ones(n, dtype=z.dtype)
            denom = torch.tensor(float(n), dtype=z.dtype)
        else:
            valid = y != -100
            ce = TF.cross_entropy(z, y, weight=w, reduction="none", label_smoothing=o["ls"])
            s = (w[y.clamp_min(0)] if w is not None else torch.ones(n, dtype=z.dtype)) * valid
            q = TF.one_hot(y.clamp_min(0), C).to(z.dtype) * (1 - o["ls"]) + o["ls"] / C
            denom = s.sum()
        if o["fn"] == "min":
            reg = -(p * torch.where(p > 0, logp, torch.zeros_like(p))).sum(1)  # 0 log 0 = 0, finite gradient
            rows = ce + o["ent"] * s * reg
        else:
            reg = -(p * torch.log(q).clamp_min(math.log(eps))).sum(1)
            rows = ce + o["rev"] * s * reg
        return rows.sum() / denom if float(denom) > 0 else rows.sum() * 0

    compiled = torch.compile(ours, fullgraph=True, dynamic=True, backend="aot_eager")
    xc = x.clone().requires_grad_()
    got = compiled(xc)
    got.backward()
    xr = x.clone().requires_grad_()
    want = oracle(xr)
    want.backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(xc.grad, xr.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6, -1e7])
@pytest.mark.parametrize("api", ["module", "functional"])
def test_compiled_min_ent_keeps_precision_at_large_offsets_and_inf(api, offset, dtype):
    """The compiled (composed) MIN-ENT forms log p and H from d = z - max z: a large common offset of the
    logits changes nothing, and -inf logits give 0 log 0 = 0 with a zero gradient. Oracle: torch in
    float64 on the logits without the offset (the loss is shift-invariant)."""
    g = torch.Generator().manual_seed(11)
    n = 12
    base = torch.randn(n, C, generator=g, dtype=torch.float64) * 4
    base[0, 1:] = -math.inf  # one finite class: p = (1, 0, ...), H = 0, CE = 0
    base[1, 2] = -math.inf
    y = torch.randint(0, C, (n,), generator=g)
    y[0], y[1] = 0, 3
    x = (base + offset).to(dtype)  # the offset's rounding in float32 is part of the input
    module = infoloss.MinEntropyLoss(entropy_weight=0.3)

    def ours(z):
        return module(z, y) if api == "module" else F.min_entropy_loss(z, y, entropy_weight=0.3)

    compiled = torch.compile(ours, fullgraph=True, dynamic=True, backend="aot_eager")
    xc = x.clone().requires_grad_()
    got = compiled(xc)
    got.backward()
    xr = (x.double() - offset).requires_grad_()
    logp = torch.log_softmax(xr, 1)
    p = logp.exp()
    want = TF.nll_loss(logp, y) + 0.3 * (-(p * torch.where(p > 0, logp, torch.zeros_like(p))).sum(1)).mean()
    want.backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got.double(), want.detach(), **tol)
    torch.testing.assert_close(xc.grad.double(), xr.grad, **tol)
    assert torch.all(xc.grad[0, 1:] == 0) and xc.grad[1, 2] == 0


@pytest.mark.parametrize("name", ["cross_entropy", "min_entropy_loss", "MixedEntropyLoss"])
def test_compile_inductor_matches_eager(name):
    fn = FUNCS[name]
    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    x, y = data(11)
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    fn(xe, y).backward()
    compiled(xc, y).backward()
    torch.testing.assert_close(xc.grad, xe.grad, rtol=1e-5, atol=1e-6)


def _assert_step_is_two_term_oracle(step, x, y, loss, w, eps):
    """Value and gradient of a compiled MIN-ENT ("min") or MIX-ENT step with regularizer weight ``w`` equal
    a float64 torch composition: CE + w * mean over non-ignored rows of H, or of (1 - p_y) log(1/eps)."""
    xc, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    got = step(xc)
    got.backward()
    logp = torch.log_softmax(xr, 1)
    p, valid = logp.exp(), y != -100
    if loss == "min":
        reg = -(p * logp).sum(1)
    else:
        p_y = p.gather(1, y.clamp_min(0)[:, None]).squeeze(1)
        reg = (1 - p_y) * -math.log(eps)
    want = TF.cross_entropy(xr, y) + w * (reg * valid).sum() / valid.sum()
    want.backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(xc.grad, xr.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["min", "mix"])
def test_compiled_module_follows_a_weight_schedule_without_recompiling(loss):
    """A scheduled weight is assigned between steps of a compiled step: each step must use the new value
    (checked against a float64 torch composition) with one graph for all non-zero values; a weight of 0
    (a warm-up) switches the term off, which may compile once more but must stay exact."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(12, C, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C, (12,), generator=g)
    y[4] = -100
    eps = 1e-3
    crit = infoloss.MinEntropyLoss(entropy_weight=0.5) if loss == "min" else infoloss.MixedEntropyLoss(eps=eps)
    name = "entropy_weight" if loss == "min" else "reverse_weight"

    torch._dynamo.utils.counters.clear()
    step = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True)
    for w in (0.5, 0.05, -0.2, 1.5):
        setattr(crit, name, w)
        _assert_step_is_two_term_oracle(step, x, y, loss, w, eps)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    setattr(crit, name, 0.0)
    xc = x.clone().requires_grad_()
    got = step(xc)
    torch.testing.assert_close(got, TF.cross_entropy(x, y), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["min", "mix"])
def test_compiled_module_weights_are_constants_until_reassigned(loss):
    """A module whose weights are never reassigned compiles them as constants: dynamo's graph takes only
    the logits and the target (a float attribute would be one more input, converted to a tensor on every
    call). The first reassignment after a compiled call recompiles once, to the run-time tensor; later
    values do not recompile. Every value is checked against a float64 torch composition."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(9, C, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C, (9,), generator=g)
    eps = 1e-3
    if loss == "min":
        crit, name = infoloss.MinEntropyLoss(entropy_weight=0.4), "entropy_weight"
    else:
        crit, name = infoloss.MixedEntropyLoss(reverse_weight=0.4, eps=eps), "reverse_weight"

    inputs = []

    def backend(gm, example_inputs):
        inputs.append([n for n in gm.graph.nodes if n.op == "placeholder"])
        return gm.forward

    torch._dynamo.reset()
    step = torch.compile(lambda z: crit(z, y), backend=backend, fullgraph=True, dynamic=True)
    for w in (0.4, 0.9, 0.05, -0.3):
        if w != 0.4:
            setattr(crit, name, w)
        _assert_step_is_two_term_oracle(step, x, y, loss, w, eps)
    assert len(inputs) == 2, f"{len(inputs)} graphs: one with constants, one with the run-time weights"
    tensors = [[n for n in ph if isinstance(n.meta.get("example_value"), torch.Tensor)] for ph in inputs]
    assert len(tensors[0]) == 2, f"constants: only logits and target are tensor inputs, got {tensors[0]}"
    assert len(tensors[1]) == 3, f"run-time weights: one more tensor input, got {tensors[1]}"


@pytest.mark.parametrize(
    "name",
    [
        "cross_entropy",
        "min_entropy_loss",
        "mixed_entropy_loss",
        "symmetric_cross_entropy",
        "focal_loss",
        "poly1_cross_entropy",
    ],
)
def test_compiled_functional_defaults_are_constants(name):
    """Called with its float defaults under torch.compile(dynamic=True), a functional loss must add no
    graph input beyond the logits and the target (dynamo makes a float read from __kwdefaults__ an input,
    a tensor built on every call): the loss must be one call that dynamo does not trace into, so that it
    never reads the defaults. Values are checked against float64 torch."""
    import inspect

    fn = getattr(F, name)
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if type(p.default) is float}
    assert defaults, name
    graphs = []

    def backend(gm, example_inputs):
        graphs.append([n for n in gm.graph.nodes if n.op == "placeholder"])
        return gm.forward

    x, y = data(9, torch.float64)
    got = torch.compile(lambda z: fn(z, y), backend=backend, fullgraph=True, dynamic=True)(x)
    tensors = [n for n in graphs[0] if isinstance(n.meta.get("example_value"), torch.Tensor)]
    assert len(tensors) == 2, f"{name}: float defaults {sorted(defaults)} reached the graph as {tensors}"
    logp = torch.log_softmax(x, 1)
    p = logp.exp()
    ce_i = TF.cross_entropy(x, y, reduction="none")
    p_y = p.gather(1, y[:, None]).squeeze(1)
    want = ce_i.mean()
    if name == "min_entropy_loss":
        want = want + defaults["entropy_weight"] * (-(p * logp).sum(1)).mean()
    elif name == "mixed_entropy_loss":
        want = want + defaults["reverse_weight"] * ((1 - p_y) * -math.log(defaults["eps"])).mean()
    elif name == "symmetric_cross_entropy":  # RCE = -sum_c p_c log q_c with log 0 := log_zero
        rce = (1 - p_y) * -defaults["log_zero"]
        want = (defaults["alpha"] * ce_i + defaults["beta"] * rce).mean()
    elif name == "focal_loss":
        want = ((1 - p_y) ** defaults["gamma"] * ce_i).mean()
    elif name == "poly1_cross_entropy":
        want = (ce_i + defaults["epsilon"] * (1 - p_y)).mean()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["cross_entropy", "min_entropy_loss", "mixed_entropy_loss", "focal_loss"])
def test_compiled_functional_is_one_call_and_takes_float_variables(name):
    """Under torch.compile a functional loss is one node of dynamo's graph (no guard on its validation).
    A float passed as a variable reaches it as a symbolic float: new values must neither recompile nor be
    ignored (values against float64 torch), and a bad value must still raise an error that names it."""
    fn = getattr(F, name)
    option = {"cross_entropy": "label_smoothing", "min_entropy_loss": "entropy_weight"}.get(name)
    option = option or {"mixed_entropy_loss": "reverse_weight", "focal_loss": "gamma"}[name]
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    x, y = data(11, torch.float64)
    torch._dynamo.reset()
    step = torch.compile(lambda z, v: fn(z, y, **{option: v}), backend=backend, fullgraph=True, dynamic=True)
    logp = torch.log_softmax(x, 1)
    p = logp.exp()
    ce_i = TF.cross_entropy(x, y, reduction="none")
    p_y = p.gather(1, y[:, None]).squeeze(1)
    for v in (0.3, 0.05, 0.7):
        if name == "cross_entropy":
            want = TF.cross_entropy(x, y, label_smoothing=v)
        elif name == "min_entropy_loss":
            want = ce_i.mean() + v * (-(p * logp).sum(1)).mean()
        elif name == "mixed_entropy_loss":
            want = ce_i.mean() + v * ((1 - p_y) * -math.log(1e-6)).mean()
        else:
            want = ((1 - p_y) ** v * ce_i).mean()
        torch.testing.assert_close(step(x, v), want, rtol=1e-12, atol=1e-12)
    assert len(graphs) == 1, f"{len(graphs)} graphs for three values of {option}"
    calls = [n.target for n in graphs[0].graph.nodes if n.op == "call_function"]
    assert calls == [fn.__wrapped__], calls
    with pytest.raises(Exception, match=f"{option} must"):
        step(x, math.nan)


def test_compiled_module_follows_class_weight_assignments():
    """The compiled MIN-ENT module reads its class-weight buffer only when it has one: building it without
    weights, then assigning weights, other weights and None must each give the loss and gradient of a float64 torch
    composition (CE_i = w_y (log S - z_y); mean over sum of w_y; H weighted by w_y)."""
    g = torch.Generator().manual_seed(21)
    x = torch.randn(9, C, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C, (9,), generator=g)
    y[2] = -100
    w1 = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
    crit = infoloss.MinEntropyLoss(entropy_weight=0.3)
    step = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True, backend="aot_eager")
    for i, w in enumerate((None, w1, w1.flip(0), None)):
        if i:
            crit.weight = w
        xc, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
        got = step(xc)
        got.backward()
        logp = torch.log_softmax(xr, 1)
        valid = y != -100
        s = (w[y.clamp_min(0)] if w is not None else torch.ones(9, dtype=torch.float64)) * valid
        ce = -logp.gather(1, y.clamp_min(0)[:, None]).squeeze(1)
        h = -(logp.exp() * logp).sum(1)
        want = (s * (ce + 0.3 * h)).sum() / s.sum()
        want.backward()
        torch.testing.assert_close(got, want.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(xc.grad, xr.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("api", ["functional", "module"])
def test_compiled_loss_recompiles_when_the_backend_changes(api):
    """The loss is one opaque call in dynamo's graph, and the kernel it runs depends on the backend: a
    set_backend() after a compile must recompile (one graph per backend, then reused) and give the
    float64 torch value under each."""
    x, y = data(10, torch.float64)
    crit = infoloss.MinEntropyLoss(entropy_weight=0.2)
    fn = (lambda z: F.min_entropy_loss(z, y, entropy_weight=0.2)) if api == "functional" else (lambda z: crit(z, y))
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    step = torch.compile(fn, backend=backend, fullgraph=True, dynamic=True)
    logp = torch.log_softmax(x, 1)
    want = TF.cross_entropy(x, y) + 0.2 * (-(logp.exp() * logp).sum(1)).mean()
    torch.testing.assert_close(step(x), want, rtol=1e-12, atol=1e-12)
    with infoloss.use_backend("reference"):
        torch.testing.assert_close(step(x), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(step(x), want, rtol=1e-12, atol=1e-12)
    assert len(graphs) == 2, f"{len(graphs)} graphs: one per backend"


def test_compiled_module_reads_a_weight_buffer_set_without_setattr():
    """A class weight set through register_buffer (not attribute assignment) must reach the compiled
    module's loss: float64 oracle, weighted mean."""
    x, y = data(8, torch.float64)
    w = torch.linspace(0.5, 2.0, C, dtype=torch.float64)
    crit = infoloss.MinEntropyLoss(entropy_weight=0.3)
    step = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True, backend="aot_eager")
    step(x)
    crit.register_buffer("weight", w)
    logp = torch.log_softmax(x, 1)
    s = w[y]
    rows = -logp.gather(1, y[:, None]).squeeze(1) + 0.3 * -(logp.exp() * logp).sum(1)
    torch.testing.assert_close(step(x), (s * rows).sum() / s.sum(), rtol=1e-12, atol=1e-12)


def test_first_registration_during_a_fullgraph_trace(tmp_path):
    """In a fresh process where nothing has imported torch._dynamo before torch.compile, the first
    compiled functional loss registers the bodies while dynamo traces it: zero graph breaks (fullgraph),
    one call in the graph, and the float64 torch value."""
    script = tmp_path / "first.py"
    script.write_text(
        "import sys, torch, torch.nn.functional as TF\n"
        "from infoloss import functional as F\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "x = torch.randn(6, 5, dtype=torch.float64); y = torch.tensor([0, 1, 2, 3, 4, 0])\n"
        "calls = []\n"
        "def backend(gm, example_inputs):\n"
        "    calls.extend(n.target for n in gm.graph.nodes if n.op == 'call_function')\n"
        "    return gm.forward\n"
        "got = torch.compile(lambda z: F.cross_entropy(z, y, label_smoothing=0.1), backend=backend,\n"
        "                    fullgraph=True, dynamic=True)(x)\n"
        "torch.testing.assert_close(got, TF.cross_entropy(x, y, label_smoothing=0.1), rtol=1e-12, atol=1e-12)\n"
        "assert calls == [F.cross_entropy.__wrapped__], calls\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_compiled_module_follows_label_smoothing_and_eps_assignments():
    """Label smoothing and eps reach the compiled graph as constants: assigning either must give the new
    value on the next call (a recompile), checked against float64 torch."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn(7, C, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (7,), generator=g)
    crit = infoloss.MixedEntropyLoss(reverse_weight=0.3, eps=1e-2)
    step = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True, backend="aot_eager")
    for ls, eps in ((0.0, 1e-2), (0.1, 1e-2), (0.1, 1e-4), (0.0, 1e-4)):
        crit.label_smoothing, crit.eps = ls, eps
        logp = torch.log_softmax(x, 1)
        q = TF.one_hot(y, C).double() * (1 - ls) + ls / C
        rev = -(logp.exp() * torch.log(q).clamp_min(math.log(eps))).sum(1)
        want = TF.cross_entropy(x, y, label_smoothing=ls) + 0.3 * rev.mean()
        torch.testing.assert_close(step(x), want, rtol=1e-12, atol=1e-12, msg=f"ls={ls} eps={eps}")
    for bad in (0.0, 1.0, -1e-3, math.nan):
        with pytest.raises(ValueError, match="eps must"):
            crit.eps = bad
    assert crit.eps == 1e-4


@pytest.mark.parametrize("ignore_index", [-100, 0, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(1, 2), (5, 4), (64, 10)])
def test_small_cpu_cross_entropy_equals_torch_float64(shape, reduction, ignore_index):
    """The small CPU path hands plain calls to torch's kernel: values and gradients must be torch's
    (float64), with and without ignored labels, and with smoothing."""
    n, c = shape
    g = torch.Generator().manual_seed(n * c)
    x = torch.randn(n, c, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, c, (n,), generator=g)
    if n > 1:
        y[0] = ignore_index if ignore_index < c else y[0]
    if (y == ignore_index).all():  # an all-ignored mean is the documented deviation (tested below)
        y[-1] = (ignore_index + 1) % c
    for ls in (0.0, 0.15):
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        got = F.cross_entropy(xa, y, ignore_index=ignore_index, reduction=reduction, label_smoothing=ls)
        want = TF.cross_entropy(xb, y, ignore_index=ignore_index, reduction=reduction, label_smoothing=ls)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        got.sum().backward()
        want.sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-12)


def test_small_cpu_cross_entropy_keeps_the_ignored_row_contract():
    """docs/design.md: an ignored row has loss 0 and gradient 0, even with non-finite logits (torch's
    gradient there is NaN), and an all-ignored mean is 0 (torch: NaN)."""
    x = torch.randn(4, 5, dtype=torch.float64)
    x[1] = math.nan
    y = torch.tensor([0, -100, 3, 2])
    xa = x.clone().requires_grad_()
    loss = F.cross_entropy(xa, y)
    loss.backward()
    keep = torch.tensor([0, 2, 3])
    torch.testing.assert_close(loss, TF.cross_entropy(x[keep], y[keep]), rtol=1e-12, atol=1e-12)
    assert torch.equal(xa.grad[1], torch.zeros(5, dtype=torch.float64))
    assert torch.isfinite(xa.grad).all()
    xa.grad = None
    empty = F.cross_entropy(xa, torch.full((4,), -100))
    empty.backward()
    assert empty.item() == 0.0 and torch.equal(xa.grad, torch.zeros_like(x))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_compiled_module_is_one_call_in_dynamos_graph(label_smoothing):
    """A fixed-weight MIN-ENT module is recorded by dynamo as one call (allow_in_graph), so its validation and
    dispatch add no guards; AOTAutograd still traces through it (aot_eager: values equal torch's). Label
    smoothing reaches the call as a constant, so it takes the same path."""
    import infoloss.modules

    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return torch._dynamo.backends.common.aot_autograd(fw_compiler=lambda g, _: g)(gm, example_inputs)

    crit = infoloss.MinEntropyLoss(entropy_weight=0.3, label_smoothing=label_smoothing)
    x, y = data(9, torch.float64)
    step = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True, backend=backend)
    got = step(x)
    targets = [n.target for g in graphs for n in g.graph.nodes if n.op == "call_function"]
    assert infoloss.modules._two_term_composed in targets
    logp = torch.log_softmax(x, 1)
    ce = TF.cross_entropy(x, y, label_smoothing=label_smoothing)
    want = ce + 0.3 * (-(logp.exp() * logp).sum(1)).mean()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_module_label_smoothing_is_validated_on_assignment():
    crit = infoloss.MinEntropyLoss()
    with pytest.raises(ValueError, match="label_smoothing"):
        crit.label_smoothing = 1.5
    crit.label_smoothing = 0.2  # takes effect, eager and compiled
    x, y = data(8, torch.float64)
    logp = torch.log_softmax(x, 1)
    want = TF.cross_entropy(x, y, label_smoothing=0.2) + 0.1 * (-(logp.exp() * logp).sum(1)).mean()
    torch.testing.assert_close(crit(x, y), want, rtol=1e-12, atol=1e-12)
    compiled = torch.compile(lambda z: crit(z, y), fullgraph=True, dynamic=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), want, rtol=1e-12, atol=1e-12)


class _Wrap(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return FUNCS[self.name](x, y)


@pytest.mark.parametrize(
    "name",
    ["cross_entropy", "min_entropy_loss", "mixed_entropy_loss", "entropy", "SimilarityCrossEntropyLoss", "FocalLoss"],
)
def test_export_runs_and_equals_eager(name):
    x, y = data(8)
    batch = torch.export.Dim("batch", min=2)
    ep = torch.export.export(_Wrap(name), (x, y), dynamic_shapes=({0: batch}, {0: batch}))
    x2, y2 = data(5, seed=3)
    torch.testing.assert_close(ep.module()(x2, y2), FUNCS[name](x2, y2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("name", ["cross_entropy", "min_entropy_loss", "mixed_entropy_loss", "entropy"])
def test_func_grad_equals_autograd_of_plain_formula(name, backend):
    x, y = data(6, torch.float64)
    with infoloss.use_backend(backend):
        g = torch.func.grad(lambda z: FUNCS[name](z, y))(x)
    xr = x.clone().requires_grad_()
    plain(name, xr, y).backward()
    torch.testing.assert_close(g, xr.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("name", ["cross_entropy", "min_entropy_loss", "mixed_entropy_loss", "entropy"])
def test_vmap_grad_per_sample_gradients(name, backend):
    x, y = data(5, torch.float64)

    def one(z, t):  # a single sample: (C,) logits, () target
        return FUNCS[name](z.unsqueeze(0), t.unsqueeze(0))

    with infoloss.use_backend(backend):
        per_sample = torch.func.vmap(torch.func.grad(one))(x, y)
    for i in range(x.shape[0]):
        xi = x[i : i + 1].clone().requires_grad_()
        plain(name, xi, y[i : i + 1]).backward()
        torch.testing.assert_close(per_sample[i], xi.grad[0], rtol=1e-9, atol=1e-12)


def test_vmap_forward_over_batched_logits_and_targets():
    x = torch.randn(3, 4, C, dtype=torch.float64)
    y = torch.randint(0, C, (3, 4))
    out = torch.func.vmap(lambda z, t: F.min_entropy_loss(z, t, reduction="none"))(x, y)
    logp = torch.log_softmax(x, -1)
    want = -logp.gather(-1, y[..., None]).squeeze(-1) + 0.1 * -(logp.exp() * logp).sum(-1)
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(
    "name",
    [
        "cross_entropy",
        "min_entropy_loss",
        "mixed_entropy_loss",
        "MinEntropyLoss",
        "SimilarityCrossEntropyLoss",
        "focal_loss",
    ],
)
def test_autocast_returns_float32_like_torch(name, dtype):
    fn = FUNCS.get(name) or (lambda x, y: F.focal_loss(x, y))
    x, y = data(16)
    xl = x.to(dtype).requires_grad_()
    with torch.autocast("cpu", dtype=dtype):
        out = fn(xl, y)
        torch_ce = TF.cross_entropy(xl, y)
    assert torch_ce.dtype == torch.float32  # what torch does
    assert out.dtype == torch.float32
    # the float32 value of the same (rounded) logits, not a low-precision rounding of it
    torch.testing.assert_close(out, fn(xl.detach().float(), y), rtol=1e-6, atol=1e-6)
    out.backward()
    assert xl.grad is not None and xl.grad.dtype == dtype


def test_autocast_value_is_not_rounded_to_bfloat16():
    x, y = data(64)
    x = x * 3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = F.cross_entropy(x.bfloat16(), y)
    exact = TF.cross_entropy(x.bfloat16().double(), y)
    assert abs(out.double() - exact) < 1e-6


def test_opcheck_row_op():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, C, generator=g, requires_grad=True)
    y = torch.tensor([0, 3, -100, 6, 2])
    q = torch.softmax(torch.randn(5, C, generator=g), 1)
    w = torch.rand(C, generator=g) + 0.5
    for target, weight in ((y, None), (y, w), (q, None), (q, w)):
        for want_grad in (True, False):
            args = (z, target, weight, -100, 0.1, 1.0, 0.2, 0.3, math.log(1e-4), want_grad, "auto")
            torch.library.opcheck(torch.ops.infoloss.ce_family_rows.default, args)


def test_double_backward_raises_through_public_api():
    x, y = data(4000, torch.float64)  # above the small-input aten path (which does support double backward)
    x.requires_grad_()
    (g,) = torch.autograd.grad(F.min_entropy_loss(x, y), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        g.pow(2).sum().backward()


@pytest.mark.parametrize("n", [6, 4000])  # the aten path and the fused kernel
def test_retained_graph_backward_accumulates_exactly(n):
    x, y = data(n, torch.float64)
    x.requires_grad_()
    loss = F.mixed_entropy_loss(x, y, label_smoothing=0.1)
    loss.backward(retain_graph=True)
    (2 * loss).backward(retain_graph=True)
    loss.backward()
    xr = x.detach().clone().requires_grad_()
    F.mixed_entropy_loss(xr, y, label_smoothing=0.1).backward()
    torch.testing.assert_close(x.grad, 4 * xr.grad)


# -------------------------------------------------------------------------- fixes: wrong numbers found
@pytest.mark.parametrize("rows", [9, 3000])  # the small-input aten path and the fused kernel
@pytest.mark.parametrize("offset", [1e3, 1e5, 1e6, 1e7, 1e8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_offsets_exact(offset, dtype, rows):
    g = torch.Generator().manual_seed(1)
    base = torch.randn(rows, C, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (rows,), generator=g)
    x = (base + offset).to(dtype)
    shifted = x.double() - x.double().amax(1, keepdim=True)  # softmax is shift-invariant: exact oracle
    xr = shifted.clone().requires_grad_()
    want = TF.cross_entropy(xr, y, label_smoothing=0.1) + 0.2 * torch.special.entr(torch.softmax(xr, 1)).sum(1).mean()
    want.backward()
    xi = x.clone().requires_grad_()
    got = F.min_entropy_loss(xi, y, entropy_weight=0.2, label_smoothing=0.1)
    got.backward()
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got.double(), want.detach(), **tol)
    torch.testing.assert_close(xi.grad.double(), xr.grad, **tol)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("loss", ["ce", "min", "mix", "sce", "sim"])
def test_minus_inf_logit_against_positive_target_is_inf(loss, backend):
    x = torch.randn(3, C, dtype=torch.float64)
    x[1, 2] = -math.inf
    q = torch.softmax(torch.randn(3, C, dtype=torch.float64), 1)
    fns = {
        "ce": lambda: F.cross_entropy(x, q, reduction="none"),
        "min": lambda: F.min_entropy_loss(x, q, reduction="none"),
        "mix": lambda: F.mixed_entropy_loss(x, q, reduction="none"),
        "sce": lambda: F.symmetric_cross_entropy(x, q, reduction="none"),
        "sim": lambda: infoloss.bespoke.similarity_cross_entropy(
            x, torch.tensor([0, 2, 1]), SIM.double(), reduction="none"
        ),
    }
    with infoloss.use_backend(backend):
        out = fns[loss]()
    assert out[1].item() == math.inf
    assert torch.isfinite(out[[0, 2]]).all()
    # torch agrees on the CE part
    assert TF.cross_entropy(x, q, reduction="none")[1].item() == math.inf


def test_minus_inf_logit_against_zero_target_is_finite_limit():
    x = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64)
    out = F.min_entropy_loss(x, q)
    out.backward()
    xs = torch.tensor([[0.0, 1.0]], dtype=torch.float64, requires_grad=True)  # the limit drops the class
    want = (
        TF.cross_entropy(xs, torch.tensor([[0.5, 0.5]], dtype=torch.float64))
        + 0.1 * torch.special.entr(torch.softmax(xs, 1)).sum()
    )
    want.backward()
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(x.grad[0, [0, 2]], xs.grad[0])
    assert x.grad[0, 1].item() == 0.0


@pytest.mark.parametrize("rows", [6, 3000])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_inf_class_weight_only_poisons_its_rows_like_torch(smoothing, rows):
    x = torch.randn(rows, C, dtype=torch.float64)
    y = torch.tensor([0, 3, 3, 1, 5, 6]).repeat(rows // 6)
    w = torch.ones(C, dtype=torch.float64)
    w[3] = math.inf
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    TF.cross_entropy(xa, y, weight=w, reduction="none", label_smoothing=smoothing).sum().backward()
    F.cross_entropy(xb, y, weight=w, reduction="none", label_smoothing=smoothing).sum().backward()
    finite_a = torch.isfinite(xa.grad).all(1)
    finite_b = torch.isfinite(xb.grad).all(1)
    assert torch.equal(finite_a, finite_b)
    torch.testing.assert_close(xb.grad[finite_b], xa.grad[finite_a])


def test_float_ignore_index_raises_type_error_like_torch():
    x, y = data(4)
    with pytest.raises(TypeError):
        TF.cross_entropy(x, y, ignore_index=1.5)
    for fn in (F.cross_entropy, F.min_entropy_loss, F.mixed_entropy_loss):
        with pytest.raises(TypeError, match="ignore_index must be an int"):
            fn(x, y, ignore_index=1.5)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        infoloss.bespoke.similarity_cross_entropy(x, y, SIM, ignore_index=1.5)


@pytest.mark.parametrize("rows", [6, 3000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("target", ["index", "prob"])
def test_tiny_eps_and_very_negative_log_zero_are_finite(dtype, target, rows):
    x, y = data(rows, dtype)
    t = y if target == "index" else torch.softmax(torch.randn(rows, C, dtype=dtype), 1)
    q = TF.one_hot(y, C).double() if target == "index" else t.double()
    logp = torch.log_softmax(x.double(), 1)
    for eps_log, out in (
        (math.log(1e-46), F.mixed_entropy_loss(x, t, reverse_weight=0.5, eps=1e-46, reduction="none")),
        (-200.0, F.symmetric_cross_entropy(x, t, alpha=0.1, beta=1.0, log_zero=-200.0, reduction="none")),
    ):
        assert torch.isfinite(out).all()
        ce = -(q * logp).sum(1)
        rev = -(logp.exp() * torch.log(q).clamp_min(eps_log)).sum(1)
        want = ce + 0.5 * rev if eps_log != -200.0 else 0.1 * ce + rev
        torch.testing.assert_close(out.double(), want, rtol=1e-5 if dtype == torch.float32 else 1e-10, atol=1e-5)


# ------------------------------------------------------------------------------ Triton, interpreted
TRITON_SCRIPT = r"""
import math, torch
from infoloss._common import RowOptions
from infoloss._fused import _triton
from infoloss._fused._rows import compute
assert _triton.AVAILABLE
g = torch.Generator().manual_seed(0)
worst = 0.0
for C, ls, ce, ent, rev, w in [(7, 0.0, 1.0, 0.0, 0.0, False), (33, 0.1, 1.0, 0.2, 0.0, True),
                               (130, 0.0, 1.0, 0.0, 0.5, False), (5000, 0.2, 0.5, -0.1, 0.3, True)]:
    z = torch.randn(6, C, generator=g) * 3
    z[0] += 1e6
    y = torch.randint(0, C, (6,), generator=g)
    y[2] = -100
    wt = torch.rand(C, generator=g) + 0.5 if w else None
    opts = RowOptions(ignore_index=-100, label_smoothing=ls, ce=ce, ent=ent, rev=rev, rev_log_eps=math.log(1e-6))
    lt, gt = _triton.launch(z, y, wt, True, opts)
    le, ge = compute(z.double(), y, None if wt is None else wt.double(), opts, want_grad=True, impl="eager")
    worst = max(worst, (lt.double() - le).abs().max().item(), (gt.double() - ge).abs().max().item())
print("WORST", worst)
"""


def test_triton_kernel_under_interpreter():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", TRITON_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    worst = float(res.stdout.split("WORST")[1])
    assert worst < 1e-4, worst


@pytest.mark.parametrize("scale", [1.0, 1e-20, 1e-35, 1e-40])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_tiny_class_weights_keep_the_mean_exact(scale, reduction):
    """CPU eager 'mean' divides the kernel's coefficients by the sum of the sample weights; when that
    would overflow float32 (weights near the subnormal range) it divides afterwards instead."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, C, generator=g, requires_grad=True)
    y = torch.randint(0, C, (8,), generator=g)
    w = (torch.rand(C, generator=g) + 1.0) * scale
    got = F.min_entropy_loss(x, y, entropy_weight=0.2, weight=w, reduction=reduction)
    (gx,) = torch.autograd.grad(got, x)
    xr = x.detach().double().requires_grad_()
    logp = torch.log_softmax(xr, 1)
    s = w.double()[y]
    rows = -logp.gather(1, y[:, None]).squeeze(1) * s + 0.2 * s * -(logp.exp() * logp).sum(1)
    want = rows.sum() / (s.sum() if reduction == "mean" else 1.0)
    (gr,) = torch.autograd.grad(want, xr)
    tol = 1e-5 if scale >= 1e-35 else 1e-4  # float32 subnormals carry fewer digits
    torch.testing.assert_close(got.double(), want.detach(), rtol=tol, atol=0)
    assert torch.isfinite(gx).all()
    torch.testing.assert_close(gx.double(), gr, rtol=tol, atol=tol * float(gr.abs().max()))


@pytest.mark.parametrize("weight", ["inf", "-inf", "huge"])
@pytest.mark.parametrize("loss", ["ce", "min", "mix"])
def test_non_finite_weight_sum_gives_nan_mean_like_torch(weight, loss):
    """A 'mean' over sample weights whose sum is not finite is NaN in torch (inf / inf); the one-node CPU
    path must not turn it into 0 by pre-dividing the coefficients by an infinite denominator."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, C, generator=g)
    y = torch.arange(6) % C
    w = torch.ones(C)
    if weight == "huge":
        w = torch.full((C,), 3e38)  # the float32 sum overflows
    else:
        w[y[0]] = float(weight)
    want = TF.cross_entropy(x, y, weight=w)  # float32 torch: nan
    assert torch.isnan(want)
    fns = {
        "ce": lambda z: F.cross_entropy(z, y, weight=w),
        "min": lambda z: F.min_entropy_loss(z, y, weight=w, entropy_weight=0.2),
        "mix": lambda z: F.mixed_entropy_loss(z, y, weight=w, reverse_weight=0.2),
    }
    for requires_grad in (True, False):
        got = fns[loss](x.clone().requires_grad_(requires_grad))
        assert torch.isnan(got), (requires_grad, got)


def test_create_graph_with_tiny_weights_keeps_the_gradient_finite():
    g = torch.Generator().manual_seed(13)
    x = torch.randn(6, C, generator=g)
    y = torch.randint(0, C, (6,), generator=g)
    w = torch.full((C,), 1e-40)  # the sum of the sample weights is below float32's 1 / max
    xr = x.double().requires_grad_()
    TF.cross_entropy(xr, y, weight=w.double()).backward()
    for fn in (F.cross_entropy, lambda z, t, weight: F.min_entropy_loss(z, t, weight=weight, entropy_weight=0.0)):
        xc = x.clone().requires_grad_()
        (gc,) = torch.autograd.grad(fn(xc, y, weight=w), xc, create_graph=True)
        assert torch.isfinite(gc).all()
        torch.testing.assert_close(gc.double(), xr.grad, rtol=1e-4, atol=1e-5)  # float32 subnormal weights


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("loss", ["mix", "sce"])
def test_target_gradient_is_finite_where_the_floor_is_active(loss, compiled):
    """d/dq of -sum p log max(q, eps) is 0 where q < eps (the floor is active): zero entries of a
    probability target that requires grad must not give NaN (log's backward at q = 0 is 0/0)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 4, generator=g, dtype=torch.float64)
    q = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25] * 4], dtype=torch.float64)
    eps = 1e-6

    def ours(t):
        if loss == "mix":
            return F.mixed_entropy_loss(z, t, reverse_weight=1.0, eps=eps)
        return F.symmetric_cross_entropy(z, t, alpha=1.0, beta=1.0, log_zero=math.log(eps))

    fn = torch.compile(ours, fullgraph=True, dynamic=True, backend="aot_eager") if compiled else ours
    qi = q.clone().requires_grad_()
    fn(qi).backward()
    qt = q.clone().requires_grad_()
    logp = torch.log_softmax(z, 1)
    (-(qt * logp).sum(1) - (logp.exp() * qt.clamp_min(eps).log()).sum(1)).mean().backward()
    torch.testing.assert_close(qi.grad, qt.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_soft_target_gradient_at_zero_entries_equals_torch(smoothing):
    """d/dq_c of -sum_c q_c log p_c is -log p_c also where q_c = 0 (it was masked to 0)."""
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, 5, generator=g, dtype=torch.float64)
    q = torch.softmax(torch.randn(3, 5, generator=g, dtype=torch.float64), 1)
    q[0, 1] = q[2, 4] = 0.0
    qi, qt = q.clone().requires_grad_(), q.clone().requires_grad_()
    F.cross_entropy(z, qi, label_smoothing=smoothing).backward()
    TF.cross_entropy(z, qt, label_smoothing=smoothing).backward()
    torch.testing.assert_close(qi.grad, qt.grad, rtol=1e-12, atol=1e-14)
