"""Where a small compiled MIN-ENT step's time goes: the forward with and without dynamo's guard evaluation.

    python benchmarks/bench_compile_overhead.py [--rows 256] [--classes 26] [--rounds 3000]

Three compiled functions on the same (rows, classes) float32 logits: ``MinEntropyLoss`` (module),
``infoloss.functional.min_entropy_loss`` (functional) and the naive composition with a literal weight
(``log_softmax``, ``nll_loss``, ``exp``, sum). Each is warmed up, then the forwards are timed
interleaved (grad enabled, as in training), each call once normally and once under
``torch.compiler.set_stance(skip_guard_eval_unsafe=True)``. The difference is what the guards cost per
call. Medians in us. A diagnostic for issue 9's compiled 256 x 26 target; not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    import torch
    import torch.nn.functional as F

    import infoloss
    from infoloss import functional as IF

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--classes", type=int, default=26)
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.rows, args.classes, generator=g) * 2
    y = torch.randint(0, args.classes, (args.rows,), generator=g)
    crit = infoloss.MinEntropyLoss(entropy_weight=0.1)

    def naive(z: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(z, 1)
        return F.nll_loss(logp, y) + 0.1 * (-(logp.exp() * logp).sum(1)).mean()

    fns = {
        "module": torch.compile(lambda z: crit(z, y), dynamic=True),
        "functional": torch.compile(lambda z: IF.min_entropy_loss(z, y, entropy_weight=0.1), dynamic=True),
        "naive": torch.compile(naive, dynamic=True),
    }
    xs = {k: x.clone().requires_grad_() for k in fns}
    for _ in range(20):
        for k, f in fns.items():
            f(xs[k]).backward()

    def timed(k: str) -> float:
        t0 = time.perf_counter()
        fns[k](xs[k])
        return time.perf_counter() - t0

    keys = list(fns)
    times: dict[tuple[str, bool], list[float]] = {(k, s): [] for k in keys for s in (False, True)}
    for i in range(args.rounds):  # every function, with and without guards, interleaved in each round
        for k in keys if i % 2 == 0 else keys[::-1]:
            times[k, False].append(timed(k))
            with torch.compiler.set_stance(skip_guard_eval_unsafe=True):
                times[k, True].append(timed(k))
    with_guards = {k: statistics.median(times[k, False]) * 1e6 for k in keys}
    without = {k: statistics.median(times[k, True]) * 1e6 for k in keys}
    print(f"torch {torch.__version__}, {args.rows} x {args.classes}, forward only (grad enabled), medians in us")
    print(f"{'':<12}{'with guards':>12}{'skipped':>10}{'guards':>9}")
    for k in fns:
        print(f"{k:<12}{with_guards[k]:12.1f}{without[k]:10.1f}{with_guards[k] - without[k]:9.1f}")


if __name__ == "__main__":
    main()
