"""Row statistics of a vocabulary-sharded softmax: a local pass, one all-gather of (N, k) row statistics, a
local merge, and the analytic gradient (no collective in backward).

Every rank holds the logits ``z`` of its contiguous vocabulary slice ``[o_r, o_r + V_r)``. With the local
maximum ``m_r`` (``m~_r``: the same, or 0 when the whole shard row is ``-inf``) and ``d = z - m~_r`` a rank
computes, per row,

=====  ==========================================  ===========================================
name   value                                       needed for
=====  ==========================================  ===========================================
m      ``max_c z_c`` (``-inf`` for an all-``-inf``) always
s      ``sum_c e^d``                               always (the partition function)
e      ``sum_c e^d d``                             entropy H
t, own ``z_y - m~_r`` on the owner of ``y`` (else 0) class-index targets
wy     ``w_y`` on the owner (else 0)               class-index targets with class weights
g      ``sum_c w_c d_c`` (``0 * -inf = 0``)          label smoothing
p1, a1 ``sum_c w_c q_c d_c``, ``sum_c w_c q_c``     probability targets
r      ``sum_c e^d log max(q'_c, eps)``            the reverse cross entropy R, probability targets
=====  ==========================================  ===========================================

and appends a few per-rank scalars (its shard size, the offset and vocabulary size it assumed, its weight
sum, an error flag). One all-gather gives every rank all of them; with ``m = max_r m_r``,
``delta_r = m~_r - m`` and ``f_r = exp(m_r - m)`` the merge is

* ``S = sum_r f_r s_r``,  ``log p_c = (z_c - m) - log S``;
* ``H = log S - (1/S) sum_r f_r (e_r + delta_r s_r)``  (both terms >= 0: no cancellation);
* ``-log p_y = log S - (t_r* + delta_r*)`` from the owner ``r*`` of ``y``;
* ``-sum_c w_c log p_c = W log S - sum_r (g_r + W_r delta_r)`` (smoothing, ``W = sum_c w_c``);
* ``R = -(1/S) sum_r f_r r_r``.

Nothing of size N x V crosses a rank boundary, and backward needs only the merged per-row values
(``m``, ``log S``, ``H``, ``R``, ``w_y``, ...) saved in forward: the gradient on the local slice is
``p_c (k_ce A - k_ent (log p_c + H) - k_rev (L_c + R)) - k_ce a_c`` with per-row coefficients ``k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor

CLAMP = 1e4  # (z - m) is clamped at -CLAMP before it multiplies exp(z - m): exp(-1e4) == 0 in every dtype
_SPLIT = float(1 << 20)  # integers cross the collective as (hi, lo) pairs, exact in float32 up to 2**44

DOUBLE_BACKWARD_MSG = (
    "infoloss.{name} does not support double backward (create_graph=True): its gradient is computed analytically."
)


@dataclass(frozen=True)
class Spec:
    """What the row statistics must cover: the target kind and which terms are needed."""

    target: str  # 'index' | 'prob' | 'none'
    weighted: bool = False
    smoothing: float = 0.0
    entropy: bool = False
    reverse: bool = False
    rev_log_eps: float = 0.0
    ignore_index: int = -100

    def columns(self) -> dict[str, int]:
        names = ["m", "s"]
        if self.entropy:
            names.append("e")
        if self.target == "index":
            names += ["t", "own"]
            if self.weighted:
                names.append("wy")
        if self.target == "prob":
            names += ["p1", "a1"]
            if self.reverse:
                names.append("r")
        if self.target != "none" and self.smoothing > 0:
            names.append("g")
        return {n: i for i, n in enumerate(names)}

    @property
    def needs_offset(self) -> bool:
        return self.target == "index"

    @property
    def needs_vocab(self) -> bool:
        return self.target == "prob" and self.reverse and self.smoothing > 0


@dataclass(frozen=True)
class Layout:
    """This rank's view of the sharding: all shard sizes in rank order, and this rank's index."""

    sizes: tuple[int, ...]
    rank: int

    @property
    def offset(self) -> int:
        return sum(self.sizes[: self.rank])

    @property
    def vocab(self) -> int:
        return sum(self.sizes)

    @property
    def local(self) -> int:
        return self.sizes[self.rank]


# ------------------------------------------------------------------------------------------- collectives
class Comm:
    """The process group of a call: rank, world size, and the one collective used in forward."""

    def __init__(self, group: Any | None, *, single: bool = False) -> None:
        self.group = group
        if single:
            self.rank, self.world = 0, 1
            return
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "infoloss.parallel needs an initialized torch.distributed process group "
                "(torch.distributed.init_process_group), or pass a DTensor"
            )
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        if self.rank < 0:
            raise ValueError("this process is not a member of the given process group")

    def all_gather(self, flat: Tensor) -> Tensor:
        """(L,) on every rank -> (world, L), rows in rank order (no collective for a world of one)."""
        if self.world == 1:
            return flat.unsqueeze(0)
        out = flat.new_empty(self.world * flat.numel())
        _gather_into(out, flat.contiguous(), self.group)
        return out.view(self.world, -1)

    def all_reduce_(self, t: Tensor) -> None:
        """Sum ``t`` over the group in place (nothing for a world of one)."""
        if self.world > 1:
            dist.all_reduce(t, group=self.group)

    def key(self, local: int) -> tuple[Any, ...]:
        """Cache key of this rank's sharding (group, world, rank, local shard size)."""
        return (id(self.group) if self.group is not None else "default", self.world, self.rank, local)


def _gather_into(out: Tensor, inp: Tensor, group: Any) -> None:
    """One all-gather into a flat tensor (``all_gather_single`` where torch has it, the older name otherwise)."""
    fn = getattr(dist, "all_gather_single", None)
    if fn is not None:
        fn(out, inp, group=group)
    else:  # pragma: no cover - torch < 2.13
        dist.all_gather_into_tensor(out, inp, group=group)


_LAYOUTS: dict[tuple[Any, ...], tuple[int, ...]] = {}


def chunk_sizes(vocab: int, world: int) -> tuple[int, ...]:
    """Shard sizes of ``torch.chunk`` / DTensor ``Shard``: ceil(V / world) each, the rest on the last ranks."""
    full = -(-vocab // world) if world else 0
    return tuple(max(0, min(full, vocab - i * full)) for i in range(world))


def _encode(x: int) -> tuple[float, float]:
    """An int as a (hi, lo) pair of floats, exact in float32 up to 2**44."""
    return float(x // int(_SPLIT)), float(x % int(_SPLIT))


def _decode(hi: Tensor, lo: Tensor) -> list[int]:
    """The ints of gathered (hi, lo) pairs."""
    return [int(round(h)) * int(_SPLIT) + int(round(lo_)) for h, lo_ in zip(hi.tolist(), lo.tolist(), strict=True)]


# ------------------------------------------------------------------------------------------ local statistics
def rev_logs(vocab: int, smoothing: float, rev_log_eps: float, dtype: torch.dtype) -> tuple[float, float]:
    """log max(q'_c, eps) for the true class and for the others (class-index targets), rounded as torch does."""
    off = smoothing / vocab
    q = torch.tensor([1.0 - smoothing + off, off], dtype=dtype)
    logs = q.log().clamp_min(rev_log_eps)
    return float(logs[0]), float(logs[1])


def smoothed(q: Tensor, smoothing: float, vocab: int) -> Tensor:
    """The smoothed target ``(1 - eps) q + eps / V``."""
    return q * (1.0 - smoothing) + smoothing / vocab if smoothing > 0 else q


def local_stats(
    z: Tensor,
    target: Tensor,
    w: Tensor | None,
    spec: Spec,
    cols: dict[str, int],
    offset: int,
    vocab: int,
    out: Tensor,
    work: tuple[Tensor, Tensor] | None = None,
) -> None:
    """Write the row statistics of one chunk of local logits ``z`` (rows, V_r) into ``out`` (rows, k);
    ``work``: two reusable buffers of at least z's shape (no fresh allocation per chunk)."""
    rows, vr = z.shape
    out.zero_()
    if vr == 0:
        out[:, cols["m"]] = -math.inf
        return
    m = z.amax(1)
    mt = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    out[:, cols["m"]] = m
    if spec.target == "index":
        y = target
        loc = y - offset
        own = (y != spec.ignore_index) & (loc >= 0) & (loc < vr)
        safe = torch.where(own, loc, torch.zeros_like(loc)).unsqueeze(1)
        t = z.gather(1, safe).squeeze(1) - mt
        out[:, cols["t"]] = torch.where(own, t, torch.zeros_like(t))
        out[:, cols["own"]] = own.to(z.dtype)
        if w is not None:
            wy = w[safe.squeeze(1)]
            out[:, cols["wy"]] = torch.where(own, wy, torch.zeros_like(wy))
    rows_ = z.shape[0]
    d = torch.sub(z, mt.unsqueeze(1), out=work[0][:rows_]) if work is not None else z - mt.unsqueeze(1)
    if "g" in cols:  # sum_c w_c d_c, raw d: a -inf logit with w_c > 0 gives -inf (CE = +inf), w_c = 0 gives 0
        if w is None:
            out[:, cols["g"]] = d.sum(1)
        else:
            nz = w != 0
            out[:, cols["g"]] = d @ w if bool(nz.all()) else d[:, nz] @ w[nz]
    q = target
    if spec.target == "prob":
        a = q * w if w is not None else q
        out[:, cols["a1"]] = a.sum(1)
        out[:, cols["p1"]] = torch.where(a != 0, a * d, torch.zeros_like(d)).sum(1)
        del a
    if not spec.entropy:  # d is needed once more only for the entropy
        e = d.exp_()
    else:
        e = torch.exp(d, out=work[1][:rows_]) if work is not None else d.exp()
    out[:, cols["s"]] = e.sum(1)
    if spec.target == "prob" and spec.reverse:
        log_q = smoothed(q, spec.smoothing, vocab).log().clamp_min_(spec.rev_log_eps)
        out[:, cols["r"]] = torch.linalg.vecdot(e, log_q)
    if spec.entropy:
        out[:, cols["e"]] = torch.linalg.vecdot(e, d.clamp_(min=-CLAMP))


class Merged(NamedTuple):
    """Merged per-row values (N,), identical on every rank; what backward needs."""

    m: Tensor  # global max (0 where it is not finite)
    log_s: Tensor  # log sum_c exp(z_c - m)
    ent: Tensor | None  # H (nats)
    rev: Tensor | None  # R (nats)
    cross: Tensor | None  # CE (nats), 0 on ignored rows
    logp_y: Tensor | None  # log p_y (class-index targets), 0 on ignored rows
    s: Tensor  # sample weight s_i (0 on ignored rows)
    a_sum: Tensor  # sum_c w_c q'_c
    wy: Tensor  # w_y (1 without weights; 0 on ignored rows)
    valid: Tensor | None  # bool (N,) for class-index targets


@dataclass
class Gathered:
    """What one all-gather returns: every rank's (N, k) statistics and its per-rank scalars."""

    stats: Tensor  # (world, N, k)
    sizes: tuple[int, ...]
    weight_sums: Tensor  # (world,)
    assumed_offsets: list[int]
    assumed_vocabs: list[int]
    error: float


def exchange(
    comm: Comm, stats: Tensor, *, local: int, offset: int, vocab: int, weight_sum: float, error: float
) -> Gathered:
    """One all-gather of this rank's (N, k) statistics plus its per-rank scalars."""
    meta = torch.tensor(
        [*_encode(local), *_encode(offset), *_encode(vocab), weight_sum, error], dtype=stats.dtype, device=stats.device
    )
    flat = torch.cat([stats.reshape(-1), meta])
    out = comm.all_gather(flat)
    n, k = stats.shape
    allst = out[:, : n * k].reshape(comm.world, n, k)
    mt = out[:, n * k :]
    return Gathered(
        allst,
        tuple(_decode(mt[:, 0], mt[:, 1])),
        mt[:, 6],
        _decode(mt[:, 2], mt[:, 3]),
        _decode(mt[:, 4], mt[:, 5]),
        float(mt[:, 7].max()),
    )


def merge(
    g: Gathered, spec: Spec, cols: dict[str, int], target: Tensor, *, coefs: tuple[float, float, float]
) -> Merged:
    """Combine the gathered statistics into per-row values; raises ValueError on a bad target (every rank)."""
    st = g.stats
    vocab = sum(g.sizes)
    dtype = st.dtype
    m_raw = st[..., cols["m"]]
    m = m_raw.amax(0)
    m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    mt_r = torch.where(torch.isfinite(m_raw), m_raw, torch.zeros_like(m_raw))
    delta = mt_r - m_safe
    f = torch.exp(m_raw - m_safe)
    s_r = st[..., cols["s"]]
    big_s = (f * s_r).sum(0)
    log_s = big_s.log()
    ent = None
    if spec.entropy:
        ez = (f * (st[..., cols["e"]] + delta * s_r)).sum(0)
        ent = log_s - ez / big_s
    n = st.shape[1]
    ones = torch.ones(n, dtype=dtype, device=st.device)
    ce, _, _ = coefs
    eps = spec.smoothing
    w_tot = g.weight_sums.sum()
    smooth = None
    if "g" in cols:  # sum_c w_c (-log p_c) = W log S - sum_r (g_r + W_r delta_r)
        smooth = w_tot * log_s - (st[..., cols["g"]] + g.weight_sums.unsqueeze(1) * delta).sum(0)
    rev = None
    if spec.target == "index":
        own = st[..., cols["own"]]
        valid = target != spec.ignore_index
        count = own.sum(0)
        bad = valid & (count != 1)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"class index {int(target[i])} (row {i}) is out of range for {vocab} classes (valid: 0.."
                f"{vocab - 1}, or ignore_index={spec.ignore_index}), or the target differs across ranks"
            )
        zy = torch.where(own > 0, st[..., cols["t"]] + delta, torch.zeros_like(delta)).sum(0)
        logp_y = torch.where(valid, zy - log_s, torch.zeros_like(zy))
        wy = st[..., cols["wy"]].sum(0) if spec.weighted else ones
        wy = torch.where(valid, wy, torch.zeros_like(wy))
        s = wy
        cross = None
        if ce != 0:
            cross = (1.0 - eps) * wy * (-logp_y)
            if smooth is not None:
                cross = cross + (eps / vocab) * smooth
            cross = torch.where(valid, cross, torch.zeros_like(cross))
        a_sum = (1.0 - eps) * wy + (eps / vocab) * w_tot
        if spec.reverse:
            ly, lo = rev_logs(vocab, eps, spec.rev_log_eps, dtype)
            rev = -(lo + logp_y.exp() * (ly - lo))
        return Merged(m_safe, log_s, ent, rev, cross, logp_y, s, a_sum, wy, valid)
    if spec.target == "prob":
        if g.error > 0:
            raise ValueError("probability target has a negative or NaN entry (on some rank)")
        a1_r = st[..., cols["a1"]]
        a1 = a1_r.sum(0)
        s = a1 if spec.weighted else ones
        cross = None
        if ce != 0:
            inner = (st[..., cols["p1"]] + a1_r * delta).sum(0)  # sum_c w_c q_c (z_c - m) <= 0
            cross = (1.0 - eps) * (a1 * log_s - inner)
            if smooth is not None:
                cross = cross + (eps / vocab) * smooth
        a_sum = (1.0 - eps) * a1 + (eps / vocab) * w_tot
        if spec.reverse:
            rev = -(f * st[..., cols["r"]]).sum(0) / big_s
        return Merged(m_safe, log_s, ent, rev, cross, None, s, a_sum, ones, None)
    return Merged(m_safe, log_s, ent, None, None, None, ones, ones, ones, None)


def row_loss(mg: Merged, coefs: tuple[float, float, float]) -> Tensor:
    """``ce * CE_i + ent * s_i * H_i + rev * s_i * R_i`` (0 on ignored rows)."""
    ce, ent, rev = coefs
    loss = torch.zeros_like(mg.log_s)
    if ce != 0 and mg.cross is not None:
        loss = loss + ce * mg.cross
    if ent != 0 and mg.ent is not None:
        loss = loss + ent * mg.s * mg.ent
    if rev != 0 and mg.rev is not None:
        loss = loss + rev * mg.s * mg.rev
    if mg.valid is not None:
        loss = torch.where(mg.valid, loss, torch.zeros_like(loss))
    return loss


def denominator(mg: Merged, spec: Spec, reduction: str) -> float:
    """The 'mean' denominator: ``sum_i s_i`` for class indices, N for probabilities (1.0 otherwise)."""
    if reduction != "mean":
        return 1.0
    if spec.target == "index":
        return float(mg.s.sum())
    return float(mg.s.shape[0])


# -------------------------------------------------------------------------------------------------- gradient
class RowCoefs(NamedTuple):
    """Per-row gradient coefficients (rows,): d loss_total / d (CE_i, H_i, R_i) (s_i and masks included)."""

    ce: Tensor | None
    ent: Tensor | None
    rev: Tensor | None


def loss_coefs(mg: Merged, coefs: tuple[float, float, float], scale: Tensor) -> RowCoefs:
    """Coefficients of a loss whose row i has upstream gradient ``scale[i]`` (already / denominator)."""
    ce, ent, rev = coefs
    mask = mg.valid.to(scale.dtype) if mg.valid is not None else None
    base = scale * mask if mask is not None else scale
    return RowCoefs(
        base * ce if ce != 0 else None,
        base * (ent * mg.s) if ent != 0 and mg.ent is not None else None,
        base * (rev * mg.s) if rev != 0 and mg.rev is not None else None,
    )


def grad_chunk(
    z: Tensor,
    target: Tensor,
    w: Tensor | None,
    spec: Spec,
    offset: int,
    vocab: int,
    mg: Merged,
    k: RowCoefs,
    sl: slice,
    out: Tensor | None = None,
) -> Tensor:
    """Gradient of the total loss w.r.t. one chunk of local logits ``z`` (rows, V_r), compute dtype; written
    into ``out`` (same shape and dtype; ``z`` itself is allowed, it is then overwritten) when given."""
    rows, vr = z.shape
    if vr == 0:
        return torch.zeros_like(z) if out is None else out.zero_()
    eps = spec.smoothing
    zero = torch.zeros(rows, dtype=z.dtype, device=z.device)
    kce = k.ce[sl] if k.ce is not None else zero
    kent = k.ent[sl] if k.ent is not None else None
    krev = k.rev[sl] if k.rev is not None else None
    row = kce * mg.a_sum[sl]
    logp = torch.sub(z, mg.m[sl].unsqueeze(1), out=out) if out is not None else z - mg.m[sl].unsqueeze(1)
    if kent is None and (krev is None or spec.target != "prob"):  # no per-class term: g = p * row - ...
        if krev is not None:
            ly, lo = rev_logs(vocab, eps, spec.rev_log_eps, z.dtype)
            row = row - krev * (lo + mg.rev[sl])  # type: ignore[index]
        else:
            ly = lo = 0.0
        g = logp.exp_().mul_((row / mg.log_s[sl].exp()).unsqueeze(1))  # e^{z-m} row / S = p row
        return _finish(g, z, target, w, spec, offset, vocab, mg, k, sl, kce, krev, ly, lo)
    logp.sub_(mg.log_s[sl].unsqueeze(1)).clamp_(min=-CLAMP)
    p = logp.exp()
    if kent is not None:
        assert mg.ent is not None
        row = row - kent * mg.ent[sl]
        g = logp.mul_((-kent).unsqueeze(1))
    else:
        g = logp.zero_()
    lo = ly = 0.0
    if krev is not None:
        assert mg.rev is not None
        if spec.target == "prob":
            log_q = smoothed(target, eps, vocab).log().clamp_min_(spec.rev_log_eps)
            g.add_(log_q.mul_((-krev).unsqueeze(1)))
            row = row - krev * mg.rev[sl]
        else:
            ly, lo = rev_logs(vocab, eps, spec.rev_log_eps, z.dtype)
            row = row - krev * (lo + mg.rev[sl])
    g.add_(row.unsqueeze(1)).mul_(p)
    return _finish(g, z, target, w, spec, offset, vocab, mg, k, sl, kce, krev, ly, lo)


def _finish(
    g: Tensor,
    z: Tensor,
    target: Tensor,
    w: Tensor | None,
    spec: Spec,
    offset: int,
    vocab: int,
    mg: Merged,
    k: RowCoefs,
    sl: slice,
    kce: Tensor,
    krev: Tensor | None,
    ly: float,
    lo: float,
) -> Tensor:
    """The target terms of the gradient: ``- k_ce a_c`` and, at the true class, the R correction."""
    eps = spec.smoothing
    vr = z.shape[1]
    if spec.target == "prob":
        if k.ce is not None:
            a = smoothed(target, eps, vocab)
            if w is not None:
                a = a * w
            g.sub_(a * kce.unsqueeze(1))
    elif spec.target == "index":
        if k.ce is not None and eps > 0:
            sm = (kce * (eps / vocab)).unsqueeze(1)
            g.sub_(sm * w if w is not None else sm)
        loc = target - offset
        own = (target != spec.ignore_index) & (loc >= 0) & (loc < vr)
        safe = torch.where(own, loc, torch.zeros_like(loc)).unsqueeze(1)
        corr = -kce * (1.0 - eps) * mg.wy[sl]
        if krev is not None:
            assert mg.logp_y is not None
            corr = corr - krev * (ly - lo) * mg.logp_y[sl].exp()
        g.scatter_add_(1, safe, torch.where(own, corr, torch.zeros_like(corr)).unsqueeze(1))
    return g


# ------------------------------------------------------------------------------------------------ the driver
def rows_per_chunk(vocab: int, chunk_size: int | None, elements: int) -> int:
    """Rows per chunk: ``chunk_size``, or about ``elements / vocab``."""
    if chunk_size is not None:
        return max(1, int(chunk_size))
    return max(1, elements // max(1, vocab))


def check_chunk_size(chunk_size: int | None) -> None:
    """TypeError unless ``chunk_size`` is None or an int (not a bool); ValueError if it is < 1."""
    if chunk_size is None:
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be a positive int or None, got {type(chunk_size).__name__} {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")


def forward_stats(
    comm: Comm,
    make_chunk: Any,
    n: int,
    local: int,
    target: Tensor,
    w: Tensor | None,
    spec: Spec,
    dtype: torch.dtype,
    device: torch.device,
    step: int,
    *,
    known_sizes: tuple[int, ...] | None,
    error: float,
    coefs: tuple[float, float, float],
) -> tuple[Merged, Layout]:
    """Local statistics chunk by chunk (``make_chunk(r0, r1)`` gives the compute-dtype logits), the
    exchange, the merge.

    Class-index targets need this rank's offset before the local pass (to find ``z_y``). It is taken from
    ``known_sizes`` (a DTensor), else from the sizes cached by an earlier call, else guessed as if all
    shards had this rank's size (``offset = rank * V_r``). Every rank sends what it assumed with its
    statistics, so every rank sees whether all assumptions hold; if one does not, all ranks redo the pass
    with the gathered sizes (a second all-gather). No rank ever decides alone to run another collective.
    """
    cols = spec.columns()
    key = comm.key(local)
    sizes = known_sizes if known_sizes is not None else _LAYOUTS.get(key)
    if sizes is not None and (len(sizes) != comm.world or sizes[comm.rank] != local):
        sizes = None
    if sizes is None:
        sizes = (local,) * comm.world  # a guess, verified after the gather
    weight_sum = float(w.sum()) if w is not None else float(local)
    stats = torch.empty((n, len(cols)), dtype=dtype, device=device)
    rows = min(step, n)
    work = (
        torch.empty((rows, local), dtype=dtype, device=device),
        torch.empty((rows, local) if spec.entropy else (0, local), dtype=dtype, device=device),
    )
    for _attempt in range(2):
        layout = Layout(sizes, comm.rank)
        offset, vocab = layout.offset, layout.vocab
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            tc = target[r0:r1]
            if spec.target == "prob":
                tc = tc.to(dtype)
            local_stats(make_chunk(r0, r1), tc, w, spec, cols, offset, vocab, stats[r0:r1], work)
        g = exchange(comm, stats, local=local, offset=offset, vocab=vocab, weight_sum=weight_sum, error=error)
        true = Layout(g.sizes, comm.rank)
        _LAYOUTS[key] = g.sizes
        offsets = [sum(g.sizes[:r]) for r in range(comm.world)]
        stale = (spec.needs_offset and g.assumed_offsets != offsets) or (
            spec.needs_vocab and any(v != true.vocab for v in g.assumed_vocabs)
        )
        if not stale:
            return merge(g, spec, cols, target, coefs=coefs), true
        sizes = g.sizes  # a guess or a cached sharding was wrong on some rank: redo (every rank agrees)
    raise AssertionError("unreachable")  # pragma: no cover
