"""Hugging Face causal LM, one training step: stock model vs ``apply_infoloss`` (fused LM head), CPU.

    python benchmarks/bench_hf.py                      # V=128256 (Llama 3), T=1024, B=1, H=256, 1 layer
    python benchmarks/bench_hf.py --v 32000 --b 4 --t 256 --h 256
    python benchmarks/bench_hf.py --tiny               # seconds-long smoke run (V=8192, T=128, H=64)
    python benchmarks/bench_hf.py --json out.json

Variants (a tiny random ``LlamaForCausalLM``: ``--layers`` decoder layers of width ``--h``, untied LM head):

* ``stock_ce``: the stock forward with labels (HF's ``ForCausalLMLoss`` on the (B, T, V) logits);
* ``stock_minent``: the stock forward with ``model.loss_function = loss_function("min-ent")`` (logits built);
* ``fused_ce`` / ``fused_minent``: ``apply_infoloss(model, "ce" | "min-ent")``, no logits, ``token_entropy``
  computed (one extra forward-only pass of the LM head);
* ``fused_minent_noent``: ``apply_infoloss(model, "min-ent", track_entropy=False)``.

Method (as ``bench_linear.py``): time: every variant in one process, warmed (2 steps), then ``--rounds``
rounds, each running every variant once in a rotated order; the median of forward + backward (``loss.backward()``,
gradients kept allocated between steps). Memory: each variant in a fresh subprocess, one warm step, then the
peak RSS over one step minus the RSS before it (``/proc/self/clear_refs``; Linux only). Labels: ``input_ids``
with the first eighth of every row set to -100 (a prompt). Not part of the test suite; on a shared machine the
times mean little, the memory figures hold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, reset_peak, rss_kib, run_child  # noqa: E402

VARIANTS = ["stock_ce", "stock_minent", "fused_ce", "fused_minent", "fused_minent_noent"]
BASELINE = "stock_ce"


def make_step(variant: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import torch
    import transformers

    from infoloss.integrations.transformers import apply_infoloss, loss_function

    transformers.logging.set_verbosity_error()
    cfg = transformers.LlamaConfig(
        hidden_size=args.h,
        intermediate_size=2 * args.h,
        num_hidden_layers=args.layers,
        num_attention_heads=4,
        num_key_value_heads=1,
        vocab_size=args.v,
        max_position_embeddings=max(args.t, 64),
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).train()
    if variant == "stock_minent":
        model.loss_function = loss_function("min-ent", entropy_weight=0.1)
    elif variant.startswith("fused"):
        kw = {"entropy_weight": 0.1} if "minent" in variant else {}
        apply_infoloss(
            model, "min-ent" if "minent" in variant else "ce", track_entropy=not variant.endswith("noent"), **kw
        )
    ids = torch.randint(3, args.v, (args.b, args.t))
    labels = ids.clone()
    labels[:, : args.t // 8] = -100
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}

    def step() -> float:
        model.zero_grad(set_to_none=False)
        loss = model(**inputs).loss
        loss.backward()
        return float(loss)

    return step


def child_time(args: argparse.Namespace) -> dict:
    steps = {v: make_step(v, args) for v in args.variants}
    for s in steps.values():
        s()
        s()
    times: dict[str, list[float]] = {v: [] for v in steps}
    for r in range(args.rounds):
        order = args.variants[r % len(args.variants) :] + args.variants[: r % len(args.variants)]
        for v in order:
            t0 = time.perf_counter()
            steps[v]()
            times[v].append(time.perf_counter() - t0)
    return {"median_s": {v: statistics.median(t) for v, t in times.items()}, "times": times}


def child_mem(args: argparse.Namespace) -> dict:
    step = make_step(args.variants[0], args)
    step()
    base = rss_kib()
    ok = reset_peak()
    loss = step()
    peak = rss_kib("VmHWM")
    return {"extra_mib": (peak - base) / 1024 if ok else None, "loss": loss}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--v", type=int, default=128256)
    ap.add_argument("--t", type=int, default=1024)
    ap.add_argument("--b", type=int, default=1)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tiny", action="store_true", help="smoke run: V=8192, T=128, H=64, 2 rounds")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # run_child's flag
    ap.add_argument("--measure", choices=["time", "mem"], default="time", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.variants = [s for s in args.variants.split(",") if s]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    if args.tiny:
        args.v, args.t, args.h, args.rounds = 8192, 128, 64, 2
    if args.child:
        print(json.dumps(child_time(args) if args.measure == "time" else child_mem(args)))
        return
    if BASELINE not in args.variants:
        args.variants = [BASELINE, *args.variants]
    shape = [
        "--v",
        str(args.v),
        "--t",
        str(args.t),
        "--b",
        str(args.b),
        "--h",
        str(args.h),
        "--layers",
        str(args.layers),
    ]
    script = os.path.abspath(__file__)
    timing = run_child(
        script, ["--measure", "time", "--rounds", str(args.rounds), "--variants", ",".join(args.variants), *shape]
    )
    mem = {v: run_child(script, ["--measure", "mem", "--variants", v, *shape]) for v in args.variants}
    head = (
        f"{machine()}; LlamaForCausalLM {args.layers} layer(s), H={args.h}, V={args.v}, B={args.b}, "
        f"T={args.t}, float32, fwd+bwd, median of {args.rounds} interleaved rounds"
    )
    print(f"\n### {head}\n")
    print(f"| variant | step (s) | x {BASELINE} | extra peak RSS (MiB) | x {BASELINE} RSS | loss |")
    print("|---|---|---|---|---|---|")
    med = timing.get("median_s", {})
    base_t, base_m = med.get(BASELINE), mem[BASELINE].get("extra_mib")
    for v in args.variants:
        t, m = med.get(v), mem[v].get("extra_mib")
        ts = f"{t:.3f}" if t else timing.get("error", "")
        tr = f"{t / base_t:.2f}" if t and base_t else ""
        ms = mem[v]["error"] if "error" in mem[v] else ("" if m is None else f"{m:.0f}")
        mr = f"{m / base_m:.2f}" if m is not None and base_m and base_m >= 1.0 else ""
        loss = mem[v].get("loss")
        print(f"| {v} | {ts} | {tr} | {ms} | {mr} | {'' if loss is None else f'{loss:.4f}'} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine(),
                    "args": {k: getattr(args, k) for k in ("v", "t", "b", "h", "layers", "rounds")},
                    "timing": timing,
                    "memory": mem,
                },
                f,
                indent=1,
            )
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
