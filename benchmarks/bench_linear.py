"""Linear + loss through the public API vs torch: fwd+bwd time (interleaved, warmed) and peak memory.

    python benchmarks/bench_linear.py [--n 4096 --h 1024 --v 32768] [--rounds 7] [--malloc default|tuned|both]
                                      [--autocast] [--impls a,b,...] [--json out.json]
    python benchmarks/bench_linear.py --tiny          # a seconds-long smoke run (N=64, H=32, V=500)

Method:
* time: all implementations live in one process (per malloc setting); each is warmed (2 steps), then
  ``--rounds`` rounds run every implementation once, in an order rotated each round (interleaved, so machine
  load hits them alike); the table gives the median fwd+bwd (gradients for hidden, weight and bias) and its
  ratio to the plain torch composition ``F.cross_entropy(F.linear(x, w, b), y)``;
* memory: each implementation in a fresh subprocess: two warm steps at a tiny size (libraries, kernels,
  thread pools), then the peak RSS over the first full-size step minus the RSS before it
  (``/proc/self/clear_refs`` resets the peak; Linux only), inputs already allocated, gradients included;
* "tuned" malloc = ``MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736`` (glibc otherwise
  maps and first-touches every large buffer).

Implementations: ``torch_ce`` (F.linear + F.cross_entropy), ``torch_lce`` (``F.linear_cross_entropy``,
reference path), ``torch_lce_chunked`` (its chunked path, ``options=LinearCrossEntropyOptions()``),
``naive_minent`` (F.linear, log_softmax, entropy), ``fused_ce`` / ``fused_minent`` / ``fused_mixent``
(``infoloss.linear_*``). Not part of the test suite; timings on a shared machine mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, reset_peak, rss_kib  # noqa: E402

IMPLS = ["torch_ce", "torch_lce", "torch_lce_chunked", "naive_minent", "fused_ce", "fused_minent", "fused_mixent"]
TUNED = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736"}
BASELINE = "torch_ce"


def make_steps(impls: list[str], n: int, h: int, v: int, autocast: bool) -> dict:
    import torch
    import torch.nn.functional as F

    import infoloss

    torch.manual_seed(0)
    x = (torch.randn(n, h) / h**0.5).requires_grad_()
    w = torch.randn(v, h).requires_grad_()
    b = torch.zeros(v).requires_grad_()
    y = torch.randint(0, v, (n,))
    y[::17] = -100

    def naive_minent():
        z = F.linear(x, w, b)
        logp = torch.log_softmax(z.float(), 1)
        valid = y != -100
        ent = -(logp.exp() * logp).sum(1)
        return F.cross_entropy(z, y) + 0.1 * (ent * valid).sum() / valid.sum()

    losses = {
        "torch_ce": lambda: F.cross_entropy(F.linear(x, w, b), y),
        "torch_lce": lambda: F.linear_cross_entropy(x, w, y, linear_bias=b, ignore_index=-100),
        "torch_lce_chunked": lambda: F.linear_cross_entropy(
            x, w, y, linear_bias=b, ignore_index=-100, options=torch.nn.LinearCrossEntropyOptions()
        ),
        "naive_minent": naive_minent,
        "fused_ce": lambda: infoloss.linear_cross_entropy(x, w, y, b),
        "fused_minent": lambda: infoloss.linear_min_entropy_loss(x, w, y, b, entropy_weight=0.1),
        "fused_mixent": lambda: infoloss.linear_mixed_entropy_loss(x, w, y, b, reverse_weight=0.1),
    }

    def make(name: str):
        def step() -> None:
            x.grad = w.grad = b.grad = None
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = losses[name]()
            loss.backward()

        return step

    return {name: make(name) for name in impls}


def child_time(impls: list[str], n: int, h: int, v: int, rounds: int, autocast: bool) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    steps = make_steps(impls, n, h, v, autocast)
    for step in steps.values():
        step()
        step()
    times: dict[str, list[float]] = {name: [] for name in impls}
    for r in range(rounds):
        order = impls[r % len(impls) :] + impls[: r % len(impls)]
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return {"times": times, "median_s": {k: statistics.median(t) for k, t in times.items()}}


def child_mem(impl: str, n: int, h: int, v: int, autocast: bool) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    warm = make_steps([impl], 64, 32, 500, autocast)[impl]  # load libraries, kernels, thread pools
    warm()
    warm()
    del warm
    step = make_steps([impl], n, h, v, autocast)[impl]  # the measured step is the first at full size, so
    base = rss_kib()  # memory an allocator kept from an earlier step cannot hide the peak
    ok = reset_peak()
    step()
    peak = rss_kib("VmHWM")
    return {"extra_mib": (peak - base) / 1024 if ok else None}


def run(args: list[str], env_extra: dict[str, str], timeout: float = 3600) -> dict:
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, **env_extra, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    try:
        out = subprocess.run(
            [sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=1024)
    ap.add_argument("--v", type=int, default=32768)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--malloc", choices=["default", "tuned", "both"], default="both")
    ap.add_argument("--autocast", action="store_true", help="CPU autocast bfloat16 (float32 parameters)")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--tiny", action="store_true", help="smoke run: N=64, H=32, V=500, 3 rounds")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child-time", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-mem", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    impls = [s for s in args.impls.split(",") if s]
    import torch.nn.functional as F

    if not hasattr(F, "linear_cross_entropy"):  # torch < 2.13
        impls = [s for s in impls if not s.startswith("torch_lce")]
    unknown = set(impls) - set(IMPLS)
    if unknown:
        ap.error(f"unknown implementations {sorted(unknown)}; choose from {IMPLS}")
    if args.tiny:
        args.n, args.h, args.v, args.rounds = 64, 32, 500, 3
    if args.child_time:
        print(json.dumps(child_time(impls, args.n, args.h, args.v, args.rounds, args.autocast)))
        return
    if args.child_mem:
        print(json.dumps(child_mem(impls[0], args.n, args.h, args.v, args.autocast)))
        return
    shape = ["--n", str(args.n), "--h", str(args.h), "--v", str(args.v)] + (["--autocast"] if args.autocast else [])
    settings = ["default", "tuned"] if args.malloc == "both" else [args.malloc]
    if BASELINE not in impls:
        impls = [BASELINE, *impls]
    report: dict = {
        "machine": machine(),
        "N": args.n,
        "H": args.h,
        "V": args.v,
        "autocast": args.autocast,
        "rounds": args.rounds,
        "results": {},
    }
    for setting in settings:
        env = TUNED if setting == "tuned" else {}
        timing = run(["--child-time", "--rounds", str(args.rounds), "--impls", ",".join(impls), *shape], env)
        mem = {impl: run(["--child-mem", "--impls", impl, *shape], env) for impl in impls}
        report["results"][setting] = {"timing": timing, "memory": mem}
        print(
            f"\n### malloc: {setting}; {machine()}; N={args.n}, H={args.h}, V={args.v}, "
            f"{'autocast bf16' if args.autocast else 'float32'}, fwd+bwd, median of {args.rounds} interleaved "
            "rounds\n"
        )
        print(f"| impl | fwd+bwd (s) | x {BASELINE} | extra peak RSS (MiB) | x {BASELINE} RSS |")
        print("|---|---|---|---|---|")
        if "error" in timing:
            print(f"| (timing failed: {timing['error']}) | | | | |")
            continue
        med = timing["median_s"]
        base_t = med.get(BASELINE)
        base_m = mem.get(BASELINE, {}).get("extra_mib")
        for impl in impls:
            t = med.get(impl)
            m = mem[impl].get("extra_mib")
            tr = f"{t / base_t:.2f}" if t and base_t else ""
            mr = f"{m / base_m:.2f}" if m is not None and base_m and base_m >= 1.0 else ""  # no ratio of noise
            ms = mem[impl]["error"] if "error" in mem[impl] else ("" if m is None else f"{m:.1f}")
            print(f"| {impl} | {t:.4f} | {tr} | {ms} | {mr} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
