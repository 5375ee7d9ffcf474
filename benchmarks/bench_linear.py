"""Fused linear losses vs torch's F.linear_cross_entropy (chunked and reference) and a naive linear MIN-ENT.

    python benchmarks/bench_linear.py [--quick] [--n 4096 --h 1024 --v 32768] [--json out.json]

Each case runs in its own subprocess; time is fwd+bwd (gradients for hidden and weight), the median of a few
runs; "extra MiB" is the peak RSS over one step minus the RSS before it (after a warm-up step).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, reset_peak, rss_kib, run_child  # noqa: E402

IMPLS = ["torch_chunked_ce", "torch_reference_ce", "fused_ce", "naive_minent", "fused_minent", "fused_mixent"]


def child(impl: str, n: int, h: int, v: int, repeats: int) -> dict:
    import torch
    import torch.nn.functional as F

    from infoloss._fused import linear as L

    torch.manual_seed(0)
    x = (torch.randn(n, h) / h**0.5).requires_grad_()
    w = torch.randn(v, h).requires_grad_()
    y = torch.randint(0, v, (n,))

    def naive_minent():
        z = F.linear(x, w)
        logp = torch.log_softmax(z, 1)
        return F.cross_entropy(z, y) + 0.1 * (-(logp.exp() * logp).sum(1)).mean()

    fns = {
        "torch_chunked_ce": lambda: F.linear_cross_entropy(x, w, y, options=torch.nn.LinearCrossEntropyOptions()),
        "torch_reference_ce": lambda: F.linear_cross_entropy(x, w, y),
        "fused_ce": lambda: L.linear_cross_entropy(x, w, y),
        "naive_minent": naive_minent,
        "fused_minent": lambda: L.linear_min_entropy_loss(x, w, y, entropy_weight=0.1),
        "fused_mixent": lambda: L.linear_mixed_entropy_loss(x, w, y, reverse_weight=0.1),
    }

    def step():
        x.grad = w.grad = None
        fns[impl]().backward()

    step()
    x.grad = w.grad = None
    base = rss_kib()
    ok = reset_peak()
    step()
    peak = rss_kib("VmHWM")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"impl": impl, "median_s": times[len(times) // 2], "times": times,
            "extra_mib": (peak - base) / 1024 if ok else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N=1024 and 2 timed runs")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=1024)
    ap.add_argument("--v", type=int, default=32768)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="benchmarks/results_linear.json")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        impl, n, h, v, r = args.child
        print(json.dumps(child(impl, int(n), int(h), int(v), int(r))))
        return
    n = 1024 if args.quick else args.n
    repeats = 2 if args.quick else args.repeats
    results = []
    for impl in IMPLS:
        r = run_child(__file__, [impl, str(n), str(args.h), str(args.v), str(repeats)])
        r["impl"] = impl
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    base = next((r for r in results if r["impl"] == "torch_chunked_ce" and "median_s" in r), None)
    print(f"\nMachine: {machine()}; N={n}, H={args.h}, V={args.v}, float32, fwd+bwd\n")
    print("| impl | fwd+bwd (s) | x torch chunked CE | extra peak RSS (MiB) | x torch chunked RSS |")
    print("|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['impl']} | error: {r['error']} | | | |")
            continue
        tr = r["median_s"] / base["median_s"] if base else None
        mr = (r["extra_mib"] / base["extra_mib"] if base and r.get("extra_mib") and base.get("extra_mib")
              else None)
        print(f"| {r['impl']} | {r['median_s']:.2f} | {'' if tr is None else f'{tr:.2f}'} | "
              f"{'' if r.get('extra_mib') is None else format(r['extra_mib'], '.0f')} | "
              f"{'' if mr is None else f'{mr:.2f}'} |")
    with open(args.json, "w") as f:
        json.dump({"machine": machine(), "N": n, "H": args.h, "V": args.v, "results": results}, f, indent=1)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
