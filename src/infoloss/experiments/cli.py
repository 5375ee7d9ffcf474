"""The harness's subcommands ``compare``, ``sweep``, ``merge``, ``train`` and ``evaluate`` (added to ``infoloss``'s CLI).

Every :class:`~infoloss.experiments.config.TrainConfig` field is a flag (``--batch-size``,
``--data-dir``, ``--no-progress`` ...); a ``--config`` TOML file gives the base values and flags
override them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from collections.abc import Callable
from typing import Any

__all__ = [
    "add_subcommands",
    "default_compare_config",
    "compare_config_from_args",
    "sweep_config_from_args",
    "train_config_from_args",
]


def default_compare_config() -> Any:
    """Return the embedded default of ``infoloss compare``: about two minutes on a 2-core CPU.

    scikit-learn's 8x8 digits (offline), the small CNN, CE vs MIN-ENT vs MIX-ENT vs SCE, 10 seeds x 20
    epochs, batch 64, lr 0.05, one thread per run.

    Returns:
        The :class:`~infoloss.experiments.config.CompareConfig`.

    Example:
        >>> cc = default_compare_config()
        >>> cc.name, cc.losses, len(cc.seeds), cc.train.epochs
        ('digits-default', ['ce', 'min-ent', 'mix-ent', 'sce'], 10, 20)
    """
    from infoloss.experiments.config import CompareConfig, TrainConfig

    return CompareConfig(
        name="digits-default",
        losses=["ce", "min-ent", "mix-ent", "sce"],
        seeds=list(range(10)),
        train=TrainConfig(dataset="digits", model="cnn", epochs=20, batch_size=64, lr=0.05, threads=1),
    )


def _flag_type(tp: Any) -> tuple[Any, bool]:
    """(argparse type, is_bool) for a dataclass field type such as ``int | None``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    base = args[0]
    return base, base is bool


def _add_train_flags(p: argparse.ArgumentParser, skip: tuple[str, ...] = ("name",)) -> None:
    from infoloss.experiments.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    g = p.add_argument_group("training options (override the config file)")
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        base, is_bool = _flag_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if is_bool:
            g.add_argument(
                flag,
                dest=f"t_{f.name}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"(default {f.default})",
            )
        else:
            g.add_argument(
                flag, dest=f"t_{f.name}", type=base, default=None, metavar=f.name.upper(), help=f"(default {f.default})"
            )


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {k[2:]: v for k, v in vars(args).items() if k.startswith("t_") and v is not None}


def compare_config_from_args(args: argparse.Namespace) -> Any:
    """Build the :class:`~infoloss.experiments.config.CompareConfig`: embedded default or ``--config`` file, then flags.

    Args:
        args: parsed ``infoloss compare`` arguments.

    Returns:
        The config.

    Raises:
        ConfigError: a bad config file, key or value, or ``--num-seeds`` below 1.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(); sub = parser.add_subparsers(); add_subcommands(sub)
        >>> args = parser.parse_args(["compare", "--epochs", "2", "--num-seeds", "3", "--losses", "ce", "focal"])
        >>> cc = compare_config_from_args(args)
        >>> cc.seeds, cc.losses, cc.train.epochs
        ([0, 1, 2], ['ce', 'focal'], 2)
    """
    from infoloss.experiments.config import CompareConfig, ConfigError, from_dict, load_toml, to_dict

    if args.config:
        base = to_dict(from_dict(CompareConfig, load_toml(args.config)))
    else:
        base = to_dict(default_compare_config())
    base["train"].update(_train_overrides(args))
    for key in ("name", "losses", "seeds", "baseline", "metric", "select", "select_metric"):
        if getattr(args, key, None) is not None:
            base[key] = getattr(args, key)
    if args.num_seeds is not None:
        if args.num_seeds < 1:
            raise ConfigError(f"--num-seeds must be >= 1, got {args.num_seeds}")
        base["seeds"] = list(range(args.num_seeds))
    return from_dict(CompareConfig, base)


def sweep_config_from_args(args: argparse.Namespace) -> Any:
    """Build the :class:`~infoloss.experiments.config.SweepConfig`: its defaults or ``--config`` file, then flags.

    Args:
        args: parsed ``infoloss sweep`` arguments.

    Returns:
        The config.

    Raises:
        ConfigError: a bad config file, key or value, or ``--num-seeds`` below 1.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(); sub = parser.add_subparsers(); add_subcommands(sub)
        >>> sc = sweep_config_from_args(parser.parse_args(["sweep", "--baselines", "ce", "--num-seeds", "2"]))
        >>> sc.baselines, sc.seeds, sc.train.val_fraction
        (['ce'], [0, 1], 0.1)
    """
    from infoloss.experiments.config import ConfigError, SweepConfig, from_dict, load_toml, to_dict

    base = to_dict(from_dict(SweepConfig, load_toml(args.config))) if args.config else to_dict(SweepConfig())
    base["train"].update(_train_overrides(args))
    for key in ("name", "losses", "seeds", "baselines", "metric", "select", "select_metric"):
        if getattr(args, key, None) is not None:
            base[key] = getattr(args, key)
    if args.num_seeds is not None:
        if args.num_seeds < 1:
            raise ConfigError(f"--num-seeds must be >= 1, got {args.num_seeds}")
        base["seeds"] = list(range(args.num_seeds))
    return from_dict(SweepConfig, base)


def train_config_from_args(args: argparse.Namespace) -> Any:
    """Build the :class:`~infoloss.experiments.config.TrainConfig`: defaults or ``--config`` file, then flags.

    The file may hold the keys flat or in a ``[train]`` table.

    Args:
        args: parsed ``infoloss train`` arguments.

    Returns:
        The config.

    Raises:
        ConfigError: a bad config file, key or value.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(); sub = parser.add_subparsers(); add_subcommands(sub)
        >>> cfg = train_config_from_args(parser.parse_args(["train", "--model", "mlp", "--no-progress"]))
        >>> cfg.model, cfg.progress, cfg.epochs
        ('mlp', False, 10)
    """
    from infoloss.experiments.config import TrainConfig, from_dict, load_toml, to_dict

    data: dict[str, Any] = {}
    if args.config:
        raw = load_toml(args.config)
        data = raw["train"] if isinstance(raw.get("train"), dict) else raw
    base = to_dict(from_dict(TrainConfig, data))
    base.update(_train_overrides(args))
    if args.name is not None:
        base["name"] = args.name
    return from_dict(TrainConfig, base)


def _errors() -> tuple[type[BaseException], ...]:
    from infoloss.experiments.checkpoint import CheckpointError
    from infoloss.experiments.data import DatasetError, IDXError

    return (ValueError, CheckpointError, DatasetError, IDXError, OSError, FloatingPointError)


def _guarded(command: str, body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a subcommand so that expected errors print one clear line and exit with code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            errors = _errors()
        except ImportError as e:
            print(
                f"infoloss {command}: error: the harness needs the experiments extra "
                f"(pip install 'infoloss[experiments]'): {e}",
                file=sys.stderr,
            )
            return 2
        try:
            return body(args)
        except ImportError as e:
            print(
                f"infoloss {command}: error: missing dependency (pip install 'infoloss[experiments]'): {e}",
                file=sys.stderr,
            )
            return 2
        except errors as e:
            print(f"infoloss {command}: error: {e}", file=sys.stderr)
            return 2

    return run


def _cmd_compare(args: argparse.Namespace) -> int:
    from infoloss.experiments.compare import run_compare
    from infoloss.experiments.grid import parse_shard

    cc = compare_config_from_args(args)
    shard = parse_shard(args.shard)
    res = run_compare(cc, args.run_dir or _default_dir(cc, args.out_dir), jobs=args.jobs, shard=shard)
    return 130 if res.interrupted else 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from infoloss.experiments.grid import parse_shard
    from infoloss.experiments.sweep import run_sweep

    sc = sweep_config_from_args(args)
    shard = parse_shard(args.shard)
    res = run_sweep(sc, args.run_dir or _default_dir(sc, args.out_dir), jobs=args.jobs, shard=shard)
    return 130 if res.interrupted else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from infoloss.experiments.merge import merge

    merge(args.run_dirs, args.out)
    return 0


def _default_dir(cc: Any, root: str) -> Any:
    from infoloss.experiments.compare import default_run_dir

    return default_run_dir(cc, root)


def _cmd_train(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from infoloss.experiments.train import train

    cfg = train_config_from_args(args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.out_dir) / f"{stamp}-{cfg.name}"
    res = train(cfg, run_dir)
    if res.final:
        f = res.final
        print(
            f"{cfg.name}: {len(res.history)} epochs, test acc {f['test_acc']:.2f}%, nll {f['test_nll']:.4f}, "
            f"ece {f['test_ece']:.4f}, entropy {f['test_entropy']:.4f}; run directory {run_dir}"
        )
    return 130 if res.interrupted else 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from infoloss.experiments.config import ConfigError
    from infoloss.experiments.evaluate import evaluate_checkpoint

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")

    metrics = evaluate_checkpoint(
        args.checkpoint, data_dir=args.data_dir, device=args.device, batch_size=args.batch_size
    )
    shown = {k: v for k, v in metrics.items() if k not in ("reliability", "entropy_hist", "reliability_ts")}
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in shown.items():
            print(f"{k:>18}: {v:.4f}" if isinstance(v, float) else f"{k:>18}: {v}")
    return 0


def _add_grid_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", help="metric compared, at the reported epoch (default test_acc)")
    p.add_argument(
        "--select",
        choices=("final", "best-val"),
        help="reported epoch of each run: final (default) or the best on --select-metric",
    )
    p.add_argument("--select-metric", help="validation metric for best-val and sweep settings (default val_acc)")
    p.add_argument("--run-dir", help="output directory; an existing one is resumed (finished runs skipped)")
    p.add_argument("--out-dir", default="runs", help="parent of the default run directory (default runs/)")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="train independent runs in N local processes (threads "
        "split among them; same results as --jobs 1 at equal threads per process)",
    )
    p.add_argument(
        "--shard", metavar="I/N", help="train only shard I of N (0 <= I < N) of the grid; then infoloss merge"
    )
    _add_train_flags(p, skip=("name", "loss", "seed"))  # the grid sets loss and seed per run


def add_subcommands(subparsers: Any) -> None:
    """Add ``compare``, ``sweep``, ``merge``, ``train`` and ``evaluate`` to ``infoloss``'s argparse subparsers.

    Each subparser gets ``func`` (parsed args -> int exit code) via ``set_defaults``; expected errors
    (bad settings, missing data, unreadable checkpoints, a missing extra) print one line and return 2,
    Ctrl-C returns 130. Only the standard library is imported here.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers()``.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(); sub = parser.add_subparsers()
        >>> add_subcommands(sub)
        >>> parser.parse_args(["compare", "--epochs", "2"]).t_epochs
        2
    """
    p = subparsers.add_parser(
        "compare",
        help="train losses x seeds and compare them against cross entropy (default: a 2-minute digits run)",
        description="Train a grid of losses x seeds on one dataset and model; print and save a paired "
        "comparison against the baseline (mean, std, 95% t-interval, paired t-test, bootstrap interval) "
        "and plots. With no arguments: an embedded ~2-minute CPU run on scikit-learn's digits.",
    )
    p.add_argument("--config", help="TOML file (top-level name/losses/seeds/baseline, [train] table)")
    p.add_argument("--name")
    p.add_argument("--losses", nargs="+", metavar="SPEC", help="loss specs, e.g. ce min-ent:entropy_weight=0.2")
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--num-seeds", type=int, help="use seeds 0..N-1")
    p.add_argument("--baseline", help="loss every other loss is paired against (default ce)")
    _add_grid_flags(p)
    p.set_defaults(func=_guarded("compare", _cmd_compare))

    p = subparsers.add_parser(
        "sweep",
        help="sweep loss weights x seeds; choose each loss's setting on validation, compare on test",
        description="Train every setting of each loss family's keyword grid on every seed, choose each "
        "family's setting on the validation split, and compare the chosen settings on the test split "
        "against the baseline families (paired by seed, Holm-Bonferroni across all comparisons, no verdict "
        "below 5 seeds). Grid spec: name:key=v1,v2,... e.g. min-ent:entropy_weight=-0.2,-0.1,0.05,0.1,0.2,0.5",
    )
    p.add_argument("--config", help="TOML file (top-level name/losses/baselines/seeds/..., [train] table)")
    p.add_argument("--name")
    p.add_argument("--losses", nargs="+", metavar="GRID", help="grid specs, e.g. ce min-ent:entropy_weight=0.1,0.2")
    p.add_argument(
        "--baselines",
        nargs="+",
        metavar="FAMILY",
        help="families compared against (default ce label-smoothing confidence-penalty)",
    )
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--num-seeds", type=int, help="use seeds 0..N-1")
    _add_grid_flags(p)
    p.set_defaults(func=_guarded("sweep", _cmd_sweep))

    p = subparsers.add_parser(
        "merge",
        help="join the shards of a compare/sweep grid and write its summary",
        description="Copy the finished runs of several run directories of one grid "
        "(made with --shard i/n) into one and write the summary; with one directory "
        "(shards on a shared filesystem) only the summary is written.",
    )
    p.add_argument("run_dirs", nargs="+", help="run directories of the same grid")
    p.add_argument("--out", help="destination (default: the first run directory)")
    p.set_defaults(func=_guarded("merge", _cmd_merge))

    p = subparsers.add_parser("train", help="train one configuration (resumes from its run directory)")
    p.add_argument("--config", help="TOML file (TrainConfig keys, flat or in a [train] table)")
    p.add_argument("--name")
    p.add_argument("--run-dir", help="output directory; an existing checkpoint there is resumed")
    p.add_argument("--out-dir", default="runs", help="parent of the default run directory (default runs/)")
    _add_train_flags(p)
    p.set_defaults(func=_guarded("train", _cmd_train))

    p = subparsers.add_parser("evaluate", help="score a checkpoint: accuracy, NLL, ECE, entropy, severity")
    p.add_argument("checkpoint", help="checkpoint.pt written by train/compare")
    p.add_argument("--data-dir", help="dataset directory (default: the one recorded in the checkpoint)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--json", action="store_true", help="print all metrics as one JSON object")
    p.set_defaults(func=_guarded("evaluate", _cmd_evaluate))
