"""``infoloss merge``: join the shards of one grid (``--shard i/n``) and write its summary.

Shards either wrote into one shared run directory (then ``infoloss merge DIR`` only summarizes), or
into separate directories (``infoloss merge DIR1 DIR2 ... --out OUT``: the finished runs are copied
into ``OUT``, default the first directory). Every directory must hold the same grid (same kind and
training settings); a run present in two directories must have the same settings in both.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from infoloss.experiments.config import CompareConfig, ConfigError, SweepConfig, from_dict, key_differences, run_key
from infoloss.experiments.grid import read_grid_config, write_grid_config

__all__ = ["merge"]


def _config(data: dict[str, Any]) -> CompareConfig | SweepConfig:
    kind = data.get("kind", "compare")
    cls = SweepConfig if kind == "sweep" else CompareConfig
    return from_dict(cls, {k: v for k, v in data.items() if k not in ("kind", "provenance")})  # type: ignore[return-value]


def _num_outputs(out: Path, cfg: CompareConfig | SweepConfig) -> int:
    import json

    for f in sorted((out / "runs").glob("*/seed*/config.json")):
        split = json.loads(f.read_text()).get("split") or {}
        if split.get("num_outputs"):
            return int(split["num_outputs"])
    if cfg.train.num_outputs:
        return cfg.train.num_outputs
    from infoloss.experiments.data import load_dataset

    return load_dataset(cfg.train.dataset, cfg.train.data_dir, download=False).num_classes


def merge(dirs: list[str | Path], out: str | Path | None = None, *, quiet: bool = False) -> Any:
    """Copy the finished runs of ``dirs`` into ``out`` (default ``dirs[0]``) and write the summary.

    A finished run already in ``out`` is kept (after checking it has the same settings); an unfinished
    copy there is replaced.

    Args:
        dirs: run directories of one grid (shards).
        out: destination (None: the first directory); created with the grid's ``config.json`` if needed.
        quiet: print nothing.

    Returns:
        The :class:`~infoloss.experiments.compare.CompareResult` or
        :class:`~infoloss.experiments.sweep.SweepResult` of the merged grid.

    Raises:
        ConfigError: no directory, a directory without a grid config, grids of different kinds or
            settings, or one run with different settings in two directories.
        OSError: if a run cannot be copied.

    Example:
        >>> merge(["runs/grid-shard0", "runs/grid-shard1"], "runs/grid")  # doctest: +SKIP
        CompareResult(run_dir=PosixPath('runs/grid'), ...)
    """
    from infoloss.experiments.compare import summarize_compare
    from infoloss.experiments.sweep import summarize_sweep

    paths = [Path(d) for d in dirs]
    if not paths:
        raise ConfigError("merge needs at least one run directory")
    configs = []
    for p in paths:
        data = read_grid_config(p)
        if data is None:
            raise ConfigError(f"{p} holds no compare/sweep config.json (is it a run directory of infoloss compare?)")
        configs.append((p, data))
    kind0 = configs[0][1].get("kind", "compare")
    key0 = run_key(configs[0][1]["train"])
    for p, data in configs[1:]:
        if data.get("kind", "compare") != kind0:
            raise ConfigError(f"{p} holds a {data.get('kind', 'compare')}, {paths[0]} a {kind0}: not one grid")
        diffs = key_differences(key0, run_key(data["train"]))
        if diffs:
            raise ConfigError(f"{p} and {paths[0]} are different grids ({'; '.join(diffs)})")
    dest = Path(out) if out is not None else paths[0]
    cfg = _config(configs[0][1])
    if dest != paths[0] and read_grid_config(dest) is None:
        dest.mkdir(parents=True, exist_ok=True)
        write_grid_config(dest, kind0, cfg)
    for p in paths:
        if p.resolve() == dest.resolve():
            continue
        for final in sorted((p / "runs").glob("*/seed*/final.json")):
            src = final.parent
            target = dest / src.relative_to(p)
            if (target / "final.json").is_file():
                import json

                a = json.loads((src / "config.json").read_text())
                b = json.loads((target / "config.json").read_text())
                diffs = key_differences(run_key(a), run_key(b))
                if diffs:
                    raise ConfigError(f"run {src.relative_to(p)} differs between {p} and {dest} ({'; '.join(diffs)})")
                continue
            if target.exists():
                shutil.rmtree(target)  # an unfinished copy: the finished one replaces it
            shutil.copytree(src, target)
    n_out = _num_outputs(dest, cfg)
    if isinstance(cfg, SweepConfig):
        return summarize_sweep(cfg, dest, n_out, quiet=quiet)
    return summarize_compare(cfg, dest, n_out, quiet=quiet)
