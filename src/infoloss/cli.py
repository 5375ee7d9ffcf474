"""Command-line entry point: ``infoloss <command>`` (equally ``python -m infoloss <command>``).

Commands: ``explain`` (one prediction's information content, entropy, CE, MIN-ENT and MIX-ENT), ``doctor``
(which implementation runs, and why), and the experiment harness's ``compare``, ``sweep``, ``merge``,
``train`` and ``evaluate`` (registered by :func:`infoloss.experiments.cli.add_subcommands`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

_BASE_UNITS = {None: "nats", 2.0: "bits", 10.0: "hartleys"}


def _explain(args: argparse.Namespace) -> int:
    try:
        return _explain_values(args)
    except (ValueError, TypeError) as err:  # the library's own message names the bad argument
        raise SystemExit(f"infoloss explain: {err}") from None


def _explain_values(args: argparse.Namespace) -> int:
    import math

    import torch

    from infoloss import functional as F

    if (args.probs is None) == (args.logits is None):
        raise SystemExit("infoloss explain: give exactly one of --probs or --logits")
    if args.probs is not None:
        probs = torch.tensor(args.probs, dtype=torch.float64)
        if not bool(((probs >= 0) & (probs <= 1)).all()):
            raise SystemExit(f"infoloss explain: --probs must lie in [0, 1], got {args.probs}")
        total = float(probs.sum())
        if abs(total - 1.0) > 1e-6:
            raise SystemExit(f"infoloss explain: --probs must sum to 1, they sum to {total:g}")
        logits = torch.log(probs)  # log 0 = -inf is handled exactly (0 log 0 = 0)
    else:
        logits = torch.tensor(args.logits, dtype=torch.float64)
        if torch.isnan(logits).any() or torch.isposinf(logits).any():
            raise SystemExit(f"infoloss explain: --logits must be finite numbers or -inf, got {args.logits}")
        probs = torch.softmax(logits, 0)
    num_classes = logits.shape[0]
    if not 0 <= args.target < num_classes:
        raise SystemExit(f"infoloss explain: --target must be a class index in 0..{num_classes - 1}, got {args.target}")
    base = args.base
    unit = _BASE_UNITS.get(base, f"log base {base:g} units") if base is not None else "nats"
    target = torch.tensor(args.target)
    info = F.information(probs, base=base)
    h = F.entropy(logits, base=base)
    ce = F.cross_entropy(logits, target, base=base)
    log_b = 1.0 if base is None else math.log(base)
    reverse = F.mixed_entropy_loss(logits, target, ce_weight=0.0, reverse_weight=1.0, eps=args.eps, reverse_base=base)
    min_ent = F.min_entropy_loss(logits, target, entropy_weight=args.entropy_weight, ce_base=base, entropy_base=base)
    mix_ent = F.mixed_entropy_loss(
        logits, target, reverse_weight=args.reverse_weight, eps=args.eps, ce_base=base, reverse_base=base
    )
    print(f"One prediction over {num_classes} classes, target class {args.target}; values in {unit}.")
    print()
    print("| class | p | information -log p |")
    print("|---|---|---|")
    for c in range(num_classes):
        mark = " (target)" if c == args.target else ""
        print(f"| {c}{mark} | {float(probs[c]):.6g} | {float(info[c]):.6g} |")
    print()
    r_check = (1 - float(probs[args.target])) * -math.log(args.eps) / log_b
    rows = [
        ("entropy H(p) = -sum p log p", f"{float(h):.6g}"),
        ("cross entropy CE = -log p[target]", f"{float(ce):.6g}"),
        (
            "swapped CE R = -sum p log max(q, eps)",
            f"{float(reverse):.6g}  (eps={args.eps:g}; equals "
            f"(1 - p[target]) log(1/eps) = {r_check:.6g} for a one-hot target)",
        ),
        (f"MIN-ENT = CE + {args.entropy_weight:g} * H", f"{float(min_ent):.6g}"),
        (f"MIX-ENT = CE + {args.reverse_weight:g} * R", f"{float(mix_ent):.6g}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}} = {value}")
    return 0


def _add_explain(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "explain",
        help="information content, entropy, CE, MIN-ENT and MIX-ENT of one prediction",
        description="Print, for one prediction, each class's information content, the entropy, cross entropy, "
        "and the MIN-ENT and MIX-ENT terms. Example: infoloss explain --probs 0.1 0.1 0.8 --target 2 --base 2",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--probs", type=float, nargs="+", help="predicted probabilities (must sum to 1)")
    src.add_argument("--logits", type=float, nargs="+", help="predicted logits (softmax is applied)")
    p.add_argument("--target", type=int, required=True, help="the true class index")
    p.add_argument("--base", type=float, default=None, help="log base: omit for nats, 2 for bits, 10 for hartleys")
    p.add_argument("--entropy-weight", type=float, default=0.1, help="MIN-ENT weight of H (default 0.1)")
    p.add_argument("--reverse-weight", type=float, default=0.1, help="MIX-ENT weight of the swapped CE (default 0.1)")
    p.add_argument("--eps", type=float, default=1e-6, help="MIX-ENT floor of the target inside the log (default 1e-6)")
    p.set_defaults(func=_explain)


def _doctor(args: argparse.Namespace) -> int:
    import json

    from infoloss._diagnostics import diagnostics, format_diagnostics

    info = diagnostics()
    print(json.dumps(info, indent=2) if args.json else format_diagnostics(info))
    return 0


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="which implementation runs (C kernel, Triton, eager) and why",
        description="Print the installation's versions, the CPU kernel's state (built library, vector or scalar "
        "build, threads, why it is unavailable), Triton and CUDA, and the implementation used per device, dtype "
        "and target kind.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_doctor)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``infoloss`` argument parser with every subcommand.

    Returns:
        The parser; each subcommand sets ``func`` (parsed args -> exit code).

    Example:
        >>> build_parser().parse_args(["doctor", "--json"]).json
        True
    """
    parser = argparse.ArgumentParser(prog="infoloss", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    _add_explain(sub)
    _add_doctor(sub)
    # The harness's parsers import only the standard library; its commands name the missing extra
    # (pip install "infoloss[experiments]") when they run without it.
    from infoloss.experiments.cli import add_subcommands

    add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``infoloss <command>``; the console script and ``python -m infoloss`` call this.

    Args:
        argv: the arguments (None: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 without a command (the help is printed) or on an expected error
        of a harness command, 130 when a harness run was interrupted.

    Raises:
        SystemExit: from argparse on bad arguments, and from ``explain`` on bad values (with the message).

    Example:
        >>> main(["explain", "--probs", "0.1", "0.1", "0.8", "--target", "2", "--base", "2"])
        One prediction over 3 classes, target class 2; values in bits.
        <BLANKLINE>
        | class | p | information -log p |
        |---|---|---|
        | 0 | 0.1 | 3.32193 |
        | 1 | 0.1 | 3.32193 |
        | 2 (target) | 0.8 | 0.321928 |
        <BLANKLINE>
        entropy H(p) = -sum p log p           = 0.921928
        cross entropy CE = -log p[target]     = 0.321928
        swapped CE R = -sum p log max(q, eps) = 3.98631  (eps=1e-06; equals (1 - p[target]) log(1/eps) = 3.98631 for a one-hot target)
        MIN-ENT = CE + 0.1 * H                = 0.414121
        MIX-ENT = CE + 0.1 * R                = 0.720559
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
