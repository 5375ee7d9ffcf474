"""Time (fwd+bwd) and peak memory of CE / MIN-ENT / MIX-ENT / soft-target CE implementations.

    python benchmarks/bench_losses.py [--quick] [--sizes 4096x32000,...] [--json out.json]

Each case runs in its own subprocess: inputs are allocated and one warm-up step is run (that is where
torch.compile compiles), then the peak RSS is reset (/proc/self/clear_refs) and the peak over one more
step, minus the RSS before it, is reported ("extra MiB"). Time is the median of
torch.utils.benchmark's blocked_autorange over fwd+bwd steps. Ratios are against eager F.cross_entropy
at the same size, in the same run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, reset_peak, rss_kib, run_child  # noqa: E402

IMPLS = {
    "ce": ["torch", "fused", "compile_torch"],
    "minent": ["naive", "tutorial", "fused", "compile_naive"],
    "mixent": ["naive", "fused", "compile_naive"],
    "softce": ["torch", "naive", "fused"],
}
ENT, REV, EPS = 0.1, 0.1, 1e-6


def make_step(loss: str, impl: str, z, y, q):
    import torch
    import torch.nn.functional as F

    from infoloss import _fused

    def naive_minent(x):
        logp = torch.log_softmax(x, 1)
        return F.cross_entropy(x, y) + ENT * (-(logp.exp() * logp).sum(1)).mean()

    def tutorial_minent(x):
        p = torch.softmax(x, 1)
        return F.cross_entropy(x, y) + ENT * (-(p * torch.log(p + 1e-8)).sum(1)).mean()

    def naive_mixent(x):
        p = torch.softmax(x, 1)
        log_q = torch.log(F.one_hot(y, x.shape[1]).to(x.dtype).clamp_min(EPS))
        return F.cross_entropy(x, y) + REV * (-(p * log_q).sum(1)).mean()

    def naive_softce(x):
        return -(q * torch.log_softmax(x, 1)).sum(1).mean()

    def fused(x, target, ce, ent, rev):
        return _fused.ce_family_rows(x, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                                     ce_coef=ce, ent_coef=ent, rev_coef=rev, rev_log_eps=math.log(EPS)).mean()

    table = {
        ("ce", "torch"): lambda x: F.cross_entropy(x, y),
        ("ce", "fused"): lambda x: fused(x, y, 1.0, 0.0, 0.0),
        ("minent", "naive"): naive_minent,
        ("minent", "tutorial"): tutorial_minent,
        ("minent", "fused"): lambda x: fused(x, y, 1.0, ENT, 0.0),
        ("mixent", "naive"): naive_mixent,
        ("mixent", "fused"): lambda x: fused(x, y, 1.0, 0.0, REV),
        ("softce", "torch"): lambda x: F.cross_entropy(x, q),
        ("softce", "naive"): naive_softce,
        ("softce", "fused"): lambda x: fused(x, q, 1.0, 0.0, 0.0),
    }
    if impl.startswith("compile_"):
        fn = torch.compile(table[(loss, impl[len("compile_"):])])
    else:
        fn = table[(loss, impl)]

    def step():
        z.grad = None
        fn(z).backward()

    return step


def child(loss: str, impl: str, n: int, c: int, min_time: float) -> dict:
    import torch
    import torch.utils.benchmark as tb

    torch.manual_seed(0)
    z = (torch.randn(n, c) * 2).requires_grad_()
    y = torch.randint(0, c, (n,))
    q = torch.softmax(torch.randn(n, c), 1) if loss == "softce" else None
    step = make_step(loss, impl, z, y, q)
    step()  # warm-up (torch.compile compiles here; the C kernel is built or loaded here)
    z.grad = None
    base = rss_kib()
    ok = reset_peak()
    step()
    peak = rss_kib("VmHWM")
    z.grad = None
    m = tb.Timer("step()", globals={"step": step}).blocked_autorange(min_run_time=min_time)
    return {"loss": loss, "impl": impl, "N": n, "C": c, "median_s": m.median, "runs": len(m.times),
            "extra_mib": (peak - base) / 1024 if ok else None, "nxc_mib": n * c * 4 / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one size (4096x32000), short timing")
    ap.add_argument("--sizes", default=None, help="comma-separated NxC list")
    ap.add_argument("--losses", default=",".join(IMPLS), help="subset of " + ",".join(IMPLS))
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    ap.add_argument("--json", default="benchmarks/results_losses.json")
    ap.add_argument("--child", nargs=5, metavar=("LOSS", "IMPL", "N", "C", "MIN_TIME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        loss, impl, n, c, t = args.child
        print(json.dumps(child(loss, impl, int(n), int(c), float(t))))
        return
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    elif args.quick:
        sizes = [(4096, 32000)]
    else:
        sizes = [(4096, 1000), (4096, 32000), (8192, 32000), (8192, 131072)]
    min_time = 2.0 if args.quick else 5.0
    results = []
    for n, c in sizes:
        baseline = None
        for loss in args.losses.split(","):
            for impl in IMPLS[loss]:
                if args.no_compile and impl.startswith("compile_"):
                    continue
                r = run_child(__file__, [loss, impl, str(n), str(c), str(min_time)])
                r.update({"loss": loss, "impl": impl, "N": n, "C": c})
                if loss == "ce" and impl == "torch" and "median_s" in r:
                    baseline = r
                if baseline and "median_s" in r:
                    r["time_vs_torch_ce"] = r["median_s"] / baseline["median_s"]
                    if r.get("extra_mib") is not None and baseline.get("extra_mib") is not None:
                        r["extra_minus_torch_ce_in_nxc"] = (r["extra_mib"] - baseline["extra_mib"]) / r["nxc_mib"]
                results.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    print(f"\nMachine: {machine()}\n")
    print("| N x C | loss | impl | fwd+bwd (s) | x torch CE | extra peak RSS (MiB) | extra - torch CE (x NxC) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['N']}x{r['C']} | {r['loss']} | {r['impl']} | error: {r['error']} | | | |")
            continue
        ratio = r.get("time_vs_torch_ce")
        extra = r.get("extra_mib")
        dmem = r.get("extra_minus_torch_ce_in_nxc")
        print(f"| {r['N']}x{r['C']} | {r['loss']} | {r['impl']} | {r['median_s']:.3f} | "
              f"{'' if ratio is None else f'{ratio:.2f}'} | {'' if extra is None else f'{extra:.0f}'} | "
              f"{'' if dmem is None else f'{dmem:+.2f}'} |")
    with open(args.json, "w") as f:
        json.dump({"machine": machine(), "results": results}, f, indent=1)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
