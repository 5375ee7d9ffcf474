"""Vocab-parallel losses on gloo process groups of 2 and 4 ranks against infoloss on the gathered logits.

Oracle: :mod:`infoloss.functional` with the plain-PyTorch "reference" backend (autograd gradients) on the full
(N, V) logits, which every rank builds from the same seed; each rank compares the value and its own slice of
the gradient (float64 to 1e-10, float32 to 1e-5). Each worker runs the whole option grid and returns its
failures, so a few process groups cover every function and option.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor.debug import CommDebugMode

import infoloss
from infoloss import functional as F
from infoloss import parallel as P
from infoloss.tokens import token_logprob_entropy, token_logprob_entropy_from_logits

IGN = -100


class Checker:
    """Collects comparison failures as messages instead of stopping at the first."""

    def __init__(self) -> None:
        self.fails: list[str] = []
        self.count = 0

    def close(self, actual: Any, expected: Any, tol: float, what: str) -> None:
        self.count += 1
        try:
            torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)
        except AssertionError as e:
            self.fails.append(f"{what}: {' '.join(str(e).split())[:400]}")

    def true(self, cond: bool, what: str) -> None:
        self.count += 1
        if not cond:
            self.fails.append(what)


def _data(sizes: tuple[int, ...], dtype: torch.dtype, n: int = 9, seed: int = 0) -> dict[str, Any]:
    vocab = sum(sizes)
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, vocab, generator=gen, dtype=torch.float64) * 3).to(dtype)
    y = torch.randint(0, vocab, (n,), generator=gen)
    y[2] = IGN
    q = torch.softmax(torch.randn(n, vocab, generator=gen, dtype=torch.float64) * 2, 1)
    q[0, : vocab // 2] = 0.0  # exact zeros in a soft target
    q[1] = 0.0
    q[1, vocab - 1] = 1.0  # a one-hot row given as probabilities
    q = (q / q.sum(1, keepdim=True)).to(dtype)
    w = (torch.rand(vocab, generator=gen, dtype=torch.float64) + 0.5).to(dtype)
    w[1] = 0.0  # a zero class weight
    up = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)  # upstream gradient for 'none'
    return dict(z=z, y=y, q=q, w=w, up=up)


def _backward(out: torch.Tensor, up: torch.Tensor) -> None:
    (out * up).sum().backward() if out.dim() else out.backward()


FAMILIES: dict[str, tuple[Any, Any, list[dict[str, Any]]]] = {
    "ce": (P.vocab_parallel_cross_entropy, F.cross_entropy, [{}, {"base": 2}]),
    "minent": (
        P.vocab_parallel_min_entropy_loss,
        F.min_entropy_loss,
        [{"entropy_weight": 0.3}, {"ce_weight": 0.7, "entropy_weight": -0.4, "ce_base": 2, "entropy_base": 10}],
    ),
    "mixent": (
        P.vocab_parallel_mixed_entropy_loss,
        F.mixed_entropy_loss,
        [
            {"reverse_weight": 0.4, "eps": 1e-3},
            {"ce_weight": 0.5, "reverse_weight": 1.5, "reverse_base": 2, "ce_base": 10, "eps": 1e-6},
        ],
    ),
}


def _logits_grid(ck: Checker, rank: int, sizes: tuple[int, ...], group: Any, dtypes: tuple[torch.dtype, ...]) -> None:
    off, vr = sum(sizes[:rank]), sizes[rank]
    sl = slice(off, off + vr)
    for dtype in dtypes:
        tol = 1e-10 if dtype == torch.float64 else 1e-5
        d = _data(sizes, dtype)
        grid = itertools.product(
            FAMILIES.items(), ("index", "prob"), (False, True), (0.0, 0.2), ("mean", "sum", "none")
        )
        for i, ((name, (mine, oracle, options)), kind, weighted, eps, reduction) in enumerate(grid):
            opts = dict(options[i % len(options)])
            if kind == "index":
                ignore = IGN if i % 2 else int(d["y"][4])  # -100, or a real class id that some rows carry
                tgt = d["y"].clone()
                tgt[2] = ignore
                tgt_local = tgt
                opts["ignore_index"] = ignore
            else:
                tgt, tgt_local = d["q"], d["q"][:, sl].contiguous()
            w = d["w"] if weighted else None
            local = d["z"][:, sl].clone().requires_grad_()
            full = d["z"].clone().requires_grad_()
            what = f"{dtype} {name} {kind} w={weighted} eps={eps} {reduction} {opts}"
            out = mine(
                local,
                tgt_local,
                group=group,
                weight=w[sl] if w is not None else None,
                reduction=reduction,
                label_smoothing=eps,
                chunk_size=4 if i % 3 == 0 else None,
                **opts,
            )
            with infoloss.use_backend("reference"):
                exp = oracle(full, tgt, weight=w, reduction=reduction, label_smoothing=eps, **opts)
            ck.close(out, exp, tol, what + " value")
            _backward(out, d["up"])
            _backward(exp, d["up"])
            ck.close(local.grad, full.grad[:, sl], tol, what + " grad")
        for reduction, base in itertools.product(("none", "mean", "sum"), (None, 2)):
            local = d["z"][:, sl].clone().requires_grad_()
            full = d["z"].clone().requires_grad_()
            out = P.vocab_parallel_entropy(local, group=group, reduction=reduction, base=base)
            with infoloss.use_backend("reference"):
                exp = F.entropy(full, reduction=reduction, base=base)
            ck.close(out, exp, tol, f"{dtype} entropy {reduction} base={base} value")
            _backward(out, d["up"])
            _backward(exp, d["up"])
            ck.close(local.grad, full.grad[:, sl], tol, f"{dtype} entropy {reduction} base={base} grad")


def _limits(ck: Checker, rank: int, sizes: tuple[int, ...], group: Any) -> None:
    """-inf logits: finite against zero targets (0 log 0 = 0), +inf against positive targets."""
    off, vr = sum(sizes[:rank]), sizes[rank]
    sl = slice(off, off + vr)
    d = _data(sizes, torch.float64, seed=3)
    z = d["z"].clone()
    z[0, 1] = -math.inf
    z[3, sum(sizes[:1]) : sum(sizes[:2])] = -math.inf  # rank 1's whole shard of row 3
    y = d["y"].clone()
    y[0] = 0
    y[3] = 0
    q = d["q"].clone()
    q[:, 1] = 0.0
    q[3, sum(sizes[:1]) : sum(sizes[:2])] = 0.0
    q = q / q.sum(1, keepdim=True)
    for (name, (mine, oracle, options)), tgt, weighted in itertools.product(FAMILIES.items(), (y, q), (False, True)):
        local = z[:, sl].clone().requires_grad_()
        full = z.clone().requires_grad_()
        w = d["w"] if weighted else None
        tl = tgt if not tgt.dtype.is_floating_point else tgt[:, sl]
        out = mine(local, tl, group=group, weight=w[sl] if w is not None else None, reduction="none", **options[0])
        with infoloss.use_backend("reference"):
            exp = oracle(full, tgt, weight=w, reduction="none", **options[0])
        what = f"limits {name} {'prob' if tgt.dtype.is_floating_point else 'index'} w={weighted}"
        ck.true(bool(torch.isfinite(out).all()), what + f" finite: {out.tolist()}")
        ck.close(out, exp, 1e-10, what + " value")
        out.sum().backward()
        exp.sum().backward()
        ck.true(bool(torch.isfinite(local.grad).all()), what + " finite grad")
        ck.close(local.grad, full.grad[:, sl], 1e-10, what + " grad")
        # positive target mass on a -inf logit: smoothing spreads eps/V onto it, or the target points at it
        y_bad = y.clone()
        y_bad[0] = 1
        for tgt2, eps in ((tl, 0.1), (y_bad, 0.0)):
            v = mine(z[:, sl], tgt2, group=group, reduction="none", label_smoothing=eps, **options[0])
            ck.true(v[0].item() == math.inf, f"{what} eps={eps}: +inf expected, got {v[0].item()}")
    local = z[:, sl].clone().requires_grad_()
    full = z.clone().requires_grad_()
    out = P.vocab_parallel_entropy(local, group=group)
    exp = F.entropy(full)
    ck.close(out, exp, 1e-10, "limits entropy")
    out.sum().backward()
    exp.sum().backward()
    ck.close(local.grad, full.grad[:, sl], 1e-10, "limits entropy grad")


def _counts(ck: Checker, rank: int, sizes: tuple[int, ...], group: Any, fresh: bool) -> None:
    """Collectives: forward one all-gather, backward none. The first class-index call on a group guesses the
    offsets as rank * V_r; when that is wrong for some rank (uneven shards other than a short last one),
    every rank redoes the pass: two all-gathers, once."""
    off, vr = sum(sizes[:rank]), sizes[rank]
    sl = slice(off, off + vr)
    d = _data(sizes, torch.float64)

    def count(fn: Any) -> int:
        mode = CommDebugMode()
        with mode:
            fn()
        return mode.get_total_counts()

    local = d["z"][:, sl].clone().requires_grad_()
    holder: dict[str, torch.Tensor] = {}

    def fwd(**kw: Any) -> None:
        holder["out"] = P.vocab_parallel_min_entropy_loss(
            local, kw.pop("target", d["y"]), group=group, label_smoothing=0.1, **kw
        )

    first = count(fwd)
    guess_ok = all(sizes[r] * r == sum(sizes[:r]) for r in range(len(sizes)))
    expected = 2 if fresh and not guess_ok else 1
    ck.true(first == expected, f"first forward: {first} collectives, expected {expected}")
    for red in ("mean", "sum", "none"):
        ck.true(count(lambda red=red: fwd(reduction=red)) == 1, f"forward {red}: not one collective")
        ck.true(count(lambda: _backward(holder["out"], d["up"])) == 0, f"backward {red}: a collective")
    q_local = d["q"][:, sl].contiguous()
    ck.true(count(lambda: fwd(target=q_local, weight=d["w"][sl])) == 1, "prob target forward: not one collective")
    ck.true(count(lambda: _backward(holder["out"], d["up"])) == 0, "prob target backward: a collective")
    ck.true(
        count(lambda: P.vocab_parallel_mixed_entropy_loss(local, q_local, group=group, label_smoothing=0.1)) == 1,
        "mixent prob smoothing: not one collective",
    )
    ck.true(count(lambda: P.vocab_parallel_entropy(local, group=group)) == 1, "entropy: not one collective")


def _linear_and_tokens(ck: Checker, rank: int, sizes: tuple[int, ...], group: Any) -> None:
    off, vr = sum(sizes[:rank]), sizes[rank]
    sl = slice(off, off + vr)
    vocab, n, hdim = sum(sizes), 10, 6
    gen = torch.Generator().manual_seed(7)
    h0 = torch.randn(n, hdim, generator=gen, dtype=torch.float64)
    w0 = torch.randn(vocab, hdim, generator=gen, dtype=torch.float64)
    b0 = torch.randn(vocab, generator=gen, dtype=torch.float64)
    y = torch.randint(0, vocab, (n,), generator=gen)
    y[1] = IGN
    q = torch.softmax(torch.randn(n, vocab, generator=gen, dtype=torch.float64), 1)
    up = torch.randn(n, generator=gen, dtype=torch.float64)
    fams = {
        "ce": (P.vocab_parallel_linear_cross_entropy, F.cross_entropy, {"base": 2}),
        "minent": (P.vocab_parallel_linear_min_entropy_loss, F.min_entropy_loss, {"entropy_weight": 0.3}),
        "mixent": (P.vocab_parallel_linear_mixed_entropy_loss, F.mixed_entropy_loss, {"reverse_weight": 0.5}),
    }
    grid = itertools.product(fams.items(), ("index", "prob"), (0.0, 0.1), ("mean", "none"), ((1.0, None), (0.7, 4.0)))
    for i, ((name, (mine, oracle, opts)), kind, eps, reduction, (temp, cap)) in enumerate(grid):
        h, w, b = h0.clone().requires_grad_(), w0[sl].clone().requires_grad_(), b0[sl].clone().requires_grad_()
        hf, wf, bf = h0.clone().requires_grad_(), w0.clone().requires_grad_(), b0.clone().requires_grad_()
        tgt, tl = (y, y) if kind == "index" else (q, q[:, sl].contiguous())
        out = mine(
            h,
            w,
            tl,
            b,
            group=group,
            reduction=reduction,
            label_smoothing=eps,
            temperature=temp,
            softcap=cap,
            chunk_size=3 if i % 2 else None,
            **opts,
        )
        zf = torch.nn.functional.linear(hf, wf, bf)
        if cap is not None:
            zf = cap * torch.tanh(zf / cap)
        with infoloss.use_backend("reference"):
            exp = oracle(zf / temp, tgt, reduction=reduction, label_smoothing=eps, **opts)
        what = f"linear {name} {kind} eps={eps} {reduction} T={temp} cap={cap}"
        ck.close(out, exp, 1e-10, what + " value")
        _backward(out, up)
        _backward(exp, up)
        ck.close(h.grad, hf.grad, 1e-10, what + " grad hidden")
        ck.close(w.grad, wf.grad[sl], 1e-10, what + " grad weight")
        ck.close(b.grad, bf.grad[sl], 1e-10, what + " grad bias")
    # the partial hidden gradient, reduced by the caller
    h, w = h0.clone().requires_grad_(), w0[sl].clone().requires_grad_()
    P.vocab_parallel_linear_cross_entropy(h, w, y, group=group, reduce_hidden_grad=False).backward()
    hf = h0.clone().requires_grad_()
    F.cross_entropy(hf @ w0.T, y).backward()
    partial = h.grad.clone()
    dist.all_reduce(partial, group=group)
    ck.close(partial, hf.grad, 1e-10, "linear partial hidden grad, summed")
    # the per-token primitive with a group, and its logits twin
    for temp, chunk in ((1.0, None), (0.6, 4)):
        h, w, b = h0.clone().requires_grad_(), w0[sl].clone().requires_grad_(), b0[sl].clone().requires_grad_()
        hf, wf, bf = h0.clone().requires_grad_(), w0.clone().requires_grad_(), b0.clone().requires_grad_()
        res = token_logprob_entropy(h, w, y, bias=b, temperature=temp, group=group, chunk_size=chunk)
        lp = torch.log_softmax(torch.nn.functional.linear(hf, wf, bf) / temp, 1)
        valid = y != IGN
        ref_lp = torch.where(valid, lp.gather(1, y.clamp_min(0)[:, None]).squeeze(1), 0.0)
        ref_h = torch.where(valid, -(lp.exp() * lp).sum(1), 0.0)
        what = f"tokens T={temp} chunk={chunk}"
        ck.close(res.logprob, ref_lp, 1e-10, what + " logprob")
        ck.close(res.entropy, ref_h, 1e-10, what + " entropy")
        ((res.logprob * up).sum() + (res.entropy * up.flip(0)).sum()).backward()
        ((ref_lp * up).sum() + (ref_h * up.flip(0)).sum()).backward()
        ck.close(h.grad, hf.grad, 1e-10, what + " grad hidden")
        ck.close(w.grad, wf.grad[sl], 1e-10, what + " grad weight")
        ck.close(b.grad, bf.grad[sl], 1e-10, what + " grad bias")
        zl = torch.nn.functional.linear(h0, w0[sl], b0[sl]).requires_grad_()
        zfull = torch.nn.functional.linear(h0, w0, b0).requires_grad_()
        res = token_logprob_entropy_from_logits(zl, y, temperature=temp, group=group, chunk_size=chunk)
        lp = torch.log_softmax(zfull / temp, 1)
        ref_lp = torch.where(valid, lp.gather(1, y.clamp_min(0)[:, None]).squeeze(1), 0.0)
        ref_h = torch.where(valid, -(lp.exp() * lp).sum(1), 0.0)
        ck.close(res.logprob, ref_lp, 1e-10, what + " logits logprob")
        ck.close(res.entropy, ref_h, 1e-10, what + " logits entropy")
        (res.logprob.sum() * 0.5 + res.entropy.sum()).backward()
        (ref_lp.sum() * 0.5 + ref_h.sum()).backward()
        ck.close(zl.grad, zfull.grad[:, sl], 1e-10, what + " logits grad")
    mode = CommDebugMode()
    h, w = h0.clone().requires_grad_(), w0[sl].clone().requires_grad_()
    with mode:
        out = P.vocab_parallel_linear_min_entropy_loss(h, w, y, group=group)
    ck.true(mode.get_total_counts() == 1, f"linear forward: {mode.get_total_counts()} collectives")
    mode = CommDebugMode()
    with mode:
        out.backward()
    ck.true(mode.get_total_counts() == 1, f"linear backward: {mode.get_total_counts()} collectives (one all-reduce)")


def _shard(grad: torch.Tensor, mesh: object) -> torch.Tensor:
    """This rank's vocabulary shard of a DTensor gradient, whatever placement torch gave it."""
    from torch.distributed.tensor import Shard

    return grad.redistribute(mesh, [Shard(1)]).to_local()


def _dtensor(ck: Checker, rank: int, world: int) -> None:
    """A Shard(1) DTensor (V = 11 over 4: 3, 3, 3, 2) gives the same value and gradient as loss_parallel."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    from torch.distributed.tensor.parallel import loss_parallel

    mesh = init_device_mesh("cpu", (world,))
    d = _data((11,), torch.float64, seed=5)
    sizes = [3, 3, 3, 2] if world == 4 else [6, 5]
    off = sum(sizes[:rank])
    sl = slice(off, off + sizes[rank])
    dz = distribute_tensor(d["z"], mesh, [Shard(1)]).requires_grad_()
    mode = CommDebugMode()
    with mode:
        out = P.vocab_parallel_cross_entropy(dz, d["y"])
    ck.true(mode.get_total_counts() == 1, f"DTensor forward: {mode.get_total_counts()} collectives")
    out.backward()
    dz_tp = distribute_tensor(d["z"], mesh, [Shard(1)]).requires_grad_()
    with loss_parallel():
        ref = torch.nn.functional.cross_entropy(dz_tp, d["y"])
        ref.backward()
    ck.close(out, ref.full_tensor(), 1e-10, "vs loss_parallel value")
    # torch 2.11 hands a leaf DTensor its gradient as Replicate, torch 2.13 as Shard(1): compare this rank's shard
    ck.close(_shard(dz.grad, mesh), _shard(dz_tp.grad, mesh), 1e-10, "vs loss_parallel grad")
    # what loss_parallel lacks: smoothing with weights, probability targets (all DTensors), MIN-ENT
    full = d["z"].clone().requires_grad_()
    dz = distribute_tensor(d["z"], mesh, [Shard(1)]).requires_grad_()
    dw = distribute_tensor(d["w"], mesh, [Shard(0)])
    dq = distribute_tensor(d["q"], mesh, [Shard(1)])
    out = P.vocab_parallel_min_entropy_loss(dz, dq, weight=dw, label_smoothing=0.1, entropy_weight=0.2)
    out.backward()
    dy = distribute_tensor(d["y"], mesh, [Replicate()])
    v = P.vocab_parallel_cross_entropy(distribute_tensor(d["z"], mesh, [Shard(1)]), dy, reduction="none")
    with infoloss.use_backend("reference"):
        ck.close(v, F.cross_entropy(d["z"], d["y"], reduction="none"), 1e-10, "DTensor replicated target")
    with infoloss.use_backend("reference"):
        exp = F.min_entropy_loss(full, d["q"], weight=d["w"], label_smoothing=0.1, entropy_weight=0.2)
    exp.backward()
    ck.close(out, exp, 1e-10, "DTensor minent prob value")
    ck.close(_shard(dz.grad, mesh), full.grad[:, sl], 1e-10, "DTensor minent prob grad")


def _errors(ck: Checker, rank: int, sizes: tuple[int, ...], group: Any) -> None:
    """Value errors found after the all-gather raise on every rank (no rank is left waiting)."""
    off, vr = sum(sizes[:rank]), sizes[rank]
    d = _data(sizes, torch.float64)
    z = d["z"][:, off : off + vr]
    y = d["y"].clone()
    y[0] = sum(sizes)  # out of range
    q = d["q"][:, off : off + vr].clone()
    if rank == 0:
        q[0, 0] = -0.5  # a bad probability on one rank only
    for tgt, match in ((y, "out of range"), (q, "negative or NaN")):
        try:
            P.vocab_parallel_cross_entropy(z, tgt, group=group)
            ck.true(False, f"no error for {match}")
        except ValueError as e:
            ck.true(match in str(e), f"wrong message {e}")


def _resharded(ck: Checker, rank: int, sizes: tuple[int, ...]) -> None:
    """A new sharding on the same group (some ranks keep their local size, so their cached offsets are now
    stale): every rank sees it in the one all-gather and all redo the pass together."""
    off, vr = sum(sizes[:rank]), sizes[rank]
    sl = slice(off, off + vr)
    d = _data(sizes, torch.float64, seed=11)
    for expected_count in (2, 1):
        local = d["z"][:, sl].clone().requires_grad_()
        full = d["z"].clone().requires_grad_()
        mode = CommDebugMode()
        with mode:
            out = P.vocab_parallel_cross_entropy(local, d["y"], label_smoothing=0.1)
        ck.true(
            mode.get_total_counts() == expected_count,
            f"resharded {sizes}: {mode.get_total_counts()} collectives, expected {expected_count}",
        )
        with infoloss.use_backend("reference"):
            exp = F.cross_entropy(full, d["y"], label_smoothing=0.1)
        ck.close(out, exp, 1e-10, f"resharded {sizes} value")
        out.backward()
        exp.backward()
        ck.close(local.grad, full.grad[:, sl], 1e-10, f"resharded {sizes} grad")


def _worker4(rank: int, world: int) -> list[str]:
    ck = Checker()
    sizes = (3, 3, 3, 2)
    _counts(ck, rank, sizes, None, fresh=True)
    _logits_grid(ck, rank, sizes, None, (torch.float64, torch.float32))
    _limits(ck, rank, sizes, None)
    _errors(ck, rank, sizes, None)
    _dtensor(ck, rank, world)
    _resharded(ck, rank, (3, 2, 3, 3))
    # another group over the same ranks, with an empty shard and another split
    group = dist.new_group(list(range(world)))
    sizes2 = (5, 0, 4, 2)
    _counts(ck, rank, sizes2, group, fresh=True)
    _logits_grid(ck, rank, sizes2, group, (torch.float64,))
    _linear_and_tokens(ck, rank, sizes2, group)
    ck.true(ck.count > 700, f"only {ck.count} checks ran")
    return ck.fails


def _worker2(rank: int, world: int) -> list[str]:
    ck = Checker()
    sizes = (6, 5)
    _counts(ck, rank, sizes, None, fresh=True)
    _logits_grid(ck, rank, sizes, None, (torch.float32, torch.float64))
    _limits(ck, rank, sizes, None)
    _linear_and_tokens(ck, rank, sizes, dist.group.WORLD)
    _dtensor(ck, rank, world)
    return ck.fails


def test_four_ranks_uneven(run_ranks):
    run_ranks(_worker4, 4)


def test_two_ranks(run_ranks):
    run_ranks(_worker2, 2)


def _docs_example(rank: int, world: int, code: str) -> list[str]:
    """Run the torchrun example of docs/parallel.md in this rank (its own process group, env:// init)."""
    import io
    import os
    from contextlib import redirect_stdout

    port = os.environ["INFOLOSS_DOCS_PORT"]
    dist.destroy_process_group()  # the example creates its own
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    ns: dict[str, Any] = {}
    buf = io.StringIO()
    with redirect_stdout(buf):
        exec(compile(code, "docs/parallel.md", "exec"), ns)
    ck = Checker()
    ck.close(ns["loss"], ns["ref"], 1e-6, "docs example")
    ck.true(f"rank {rank}: V_r=" in buf.getvalue(), f"docs example printed {buf.getvalue()!r}")
    return ck.fails


def test_docs_example(run_ranks, monkeypatch):
    import os
    import re
    import socket
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "parallel.md").read_text()
    section = text[text.index("## Example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(os.environ, "INFOLOSS_DOCS_PORT", str(port))
    run_ranks(_docs_example, 2, code)
