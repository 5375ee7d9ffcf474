"""Vocab-parallel losses on CPU with gloo: 2 ranks against 1, time and peak memory per rank.

    python benchmarks/bench_parallel.py                       # N=4096, V=65536, worlds 1 and 2
    python benchmarks/bench_parallel.py --n 512 --v 8192      # a smoke run
    python benchmarks/bench_parallel.py --methods infoloss_ce,gather_ce --json out.json

Each (method, world) runs in ``world`` freshly forked processes with a gloo group on a local port. Every rank
holds its (N, V/world) float32 slice of the logits (the last rank the remainder) and global class indices
(1 in 17 ignored). Per rank: one warm-up step, then ``--repeats`` timed steps of forward + backward (the
step time is the slowest rank's, between barriers); the peak-RSS increase over the step (``VmHWM`` reset
through ``/proc/self/clear_refs`` after the inputs exist, so inputs are excluded and the logits gradient is
included); and the collectives of one step (``CommDebugMode``).

Methods:
* ``infoloss_ce`` / ``infoloss_minent``: :func:`infoloss.parallel.vocab_parallel_cross_entropy` /
  ``vocab_parallel_min_entropy_loss`` (entropy_weight 0.1, label_smoothing 0.1 for MIN-ENT);
* ``loss_parallel``: torch's ``F.cross_entropy`` on a ``Shard(1)`` DTensor inside ``loss_parallel()``;
* ``gather_ce``: the naive way, a differentiable all-gather of the (N, V) logits then ``F.cross_entropy``
  (every rank holds the full logits and their log-softmax);
* ``functional_ce``: world 1 only, :func:`infoloss.functional.cross_entropy` (fused C kernel) on the logits.

Threads per rank: ``--threads`` (default: CPU count // world, so both worlds use the same cores). NCCL on one
GPU is not meaningful (one device would hold every rank): this benchmark is CPU/gloo only. Timings on a
shared machine are noisy; the script prints the load average next to the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, reset_peak, rss_kib  # noqa: E402

METHODS = ["infoloss_ce", "infoloss_minent", "loss_parallel", "gather_ce", "functional_ce"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _step_fn(method: str, z: Any, y: Any, rank: int, world: int) -> Any:
    import torch
    import torch.distributed as dist

    import infoloss
    from infoloss import parallel as P

    if method == "infoloss_ce":
        return lambda: P.vocab_parallel_cross_entropy(z, y)
    if method == "infoloss_minent":
        return lambda: P.vocab_parallel_min_entropy_loss(z, y, entropy_weight=0.1, label_smoothing=0.1)
    if method == "functional_ce":
        if world != 1:
            raise ValueError("functional_ce runs on world 1 only")
        return lambda: infoloss.functional.cross_entropy(z, y)
    if method == "gather_ce":
        from torch.distributed.nn.functional import all_gather

        def gather() -> Any:
            full = torch.cat(all_gather(z), dim=1) if world > 1 else z
            return torch.nn.functional.cross_entropy(full, y)

        return gather
    if method == "loss_parallel":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor import DTensor, Shard
        from torch.distributed.tensor.parallel import loss_parallel

        mesh = init_device_mesh("cpu", (world,))
        dz = DTensor.from_local(z, mesh, [Shard(1)], run_check=False)

        def tp() -> Any:
            with loss_parallel():
                return _Deferred(torch.nn.functional.cross_entropy(dz, y))

        return tp
    raise ValueError(f"unknown method {method!r}")
    del dist  # pragma: no cover


class _Deferred:
    """loss_parallel needs backward inside the context manager too."""

    def __init__(self, loss: Any) -> None:
        self.loss = loss

    def backward(self) -> None:
        from torch.distributed.tensor.parallel import loss_parallel

        with loss_parallel():
            self.loss.backward()


def _child(
    rank: int, method: str, world: int, n: int, v: int, repeats: int, threads: int, port: int, outdir: str
) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.tensor.debug import CommDebugMode

    torch.set_num_threads(threads)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=1800),
    )
    full = -(-v // world)
    sizes = [max(0, min(full, v - r * full)) for r in range(world)]
    gen = torch.Generator().manual_seed(rank + 1)
    z = (torch.randn(n, sizes[rank], generator=gen) * 2).requires_grad_()
    y = torch.randint(0, v, (n,), generator=torch.Generator().manual_seed(0))
    y[::17] = -100
    step = _step_fn(method, z, y, rank, world)

    def once() -> None:
        z.grad = None
        step().backward()

    once()  # warm-up (and the shard sizes, cached by infoloss after the first call)
    fwd, bwd = CommDebugMode(), CommDebugMode()
    z.grad = None
    with fwd:
        loss = step()
    with bwd:
        loss.backward()
    z.grad = None
    del loss
    times = []
    peak_ok = reset_peak()
    base = rss_kib("VmRSS")
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        once()
        dist.barrier()
        times.append(time.perf_counter() - t0)
    peak = rss_kib("VmHWM") - base if peak_ok else -1
    rec = {
        "rank": rank,
        "times": times,
        "peak_mib": peak / 1024 if peak_ok else None,
        "fwd_collectives": fwd.get_total_counts(),
        "bwd_collectives": bwd.get_total_counts(),
        "local_v": sizes[rank],
        "logits_mib": n * sizes[rank] * 4 / 2**20,
    }
    with open(os.path.join(outdir, f"{rank}.json"), "w") as f:
        json.dump(rec, f)
    dist.destroy_process_group()


def run_case(method: str, world: int, n: int, v: int, repeats: int, threads: int) -> dict[str, Any]:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as outdir:
        try:
            mp.start_processes(
                _child,
                args=(method, world, n, v, repeats, threads, _port(), outdir),
                nprocs=world,
                join=True,
                start_method="fork",
            )
        except Exception as e:  # noqa: BLE001 - report and go on with the other cases
            return {"method": method, "world": world, "error": str(e).strip().splitlines()[-1][:200]}
        recs = [json.load(open(os.path.join(outdir, f"{r}.json"))) for r in range(world)]
    step_times = [max(ts) for ts in zip(*(r["times"] for r in recs), strict=True)]
    peaks = [r["peak_mib"] for r in recs if r["peak_mib"] is not None]
    return {
        "method": method,
        "world": world,
        "threads": threads,
        "local_v": recs[0]["local_v"],
        "logits_mib": recs[0]["logits_mib"],
        "median_s": statistics.median(step_times),
        "min_s": min(step_times),
        "peak_mib_max_rank": max(peaks) if peaks else None,
        "fwd_collectives": recs[0]["fwd_collectives"],
        "bwd_collectives": recs[0]["bwd_collectives"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--v", type=int, default=65536)
    ap.add_argument("--worlds", default="1,2")
    ap.add_argument("--methods", default="infoloss_ce,infoloss_minent,loss_parallel,functional_ce")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="per rank (0: CPU count // world)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    worlds = [int(w) for w in args.worlds.split(",")]
    methods = args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; choose from {METHODS}")
    load_before = os.getloadavg()
    results = []
    for world in worlds:
        for method in methods:
            if method == "functional_ce" and world != 1:
                continue
            threads = args.threads or max(1, (os.cpu_count() or 1) // world)
            res = run_case(method, world, args.n, args.v, args.repeats, threads)
            results.append(res)
            print(json.dumps(res), flush=True)
    load_after = os.getloadavg()
    print(
        f"\nN={args.n}, V={args.v}, float32, gloo on CPU; {machine()}; load average before "
        f"{load_before[0]:.1f}, after {load_after[0]:.1f}"
    )
    print(
        "| method | ranks | V_r | threads/rank | logits/rank MiB | fwd+bwd median s (min) | peak extra MiB/rank "
        "| collectives fwd/bwd |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['method']} | {r['world']} | error: {r['error']} |")
            continue
        peak = f"{r['peak_mib_max_rank']:.0f}" if r["peak_mib_max_rank"] is not None else "n/a"
        print(
            f"| {r['method']} | {r['world']} | {r['local_v']} | {r['threads']} | {r['logits_mib']:.0f} | "
            f"{r['median_s']:.3f} ({r['min_s']:.3f}) | {peak} | {r['fwd_collectives']}/{r['bwd_collectives']} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"n": args.n, "v": args.v, "machine": machine(), "load": [load_before, load_after], "results": results},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
