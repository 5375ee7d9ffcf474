"""Typed configuration of the harness: plain dataclasses, read from TOML files and overridden by flags.

A run is described by one :class:`TrainConfig`; a comparison by a :class:`CompareConfig` (a base
:class:`TrainConfig` plus the grid of losses x seeds). Loss specs are strings ``name`` or
``name:key=value,key=value`` (e.g. ``"min-ent:entropy_weight=0.2"``); the spec is also the label used
in tables and plots.

Example TOML for ``infoloss compare --config fashion.toml``::

    name = "fashion-cnn"
    losses = ["ce", "min-ent", "mix-ent"]
    seeds = [0, 1, 2, 3, 4]

    [train]
    dataset = "fashion-mnist"
    model = "cnn"
    epochs = 5
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["TrainConfig", "CompareConfig", "ConfigError", "from_dict", "load_toml", "to_dict"]


class ConfigError(ValueError):
    """A configuration value or file is invalid (the message names the key and the allowed values)."""


@dataclass
class TrainConfig:
    """Everything one training run depends on (saved as ``config.json`` in its run directory).

    Defaults are plain: no label smoothing, no hidden regularizer beyond ``weight_decay``.
    """

    name: str = "run"
    dataset: str = "digits"
    data_dir: str | None = None  # None: the dataset's default location
    download: bool = True  # EMNIST only: files missing -> fetch with torchvision (if installed, online)
    train_subset: int | None = None  # use only the first N training examples (after a seeded shuffle)
    model: str = "cnn"
    loss: str = "ce"  # spec: "name" or "name:key=value,..."
    hierarchy: str | None = None  # class hierarchy for mistake severity / cost losses; "auto": dataset's
    seed: int = 0
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1024
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step | none
    step_size: int = 30  # epochs between decays for schedule="step"
    gamma: float = 0.1  # decay factor for schedule="step"
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off elsewhere) | bf16 | fp16 | off
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:1 | mps
    num_workers: int = 0
    threads: int = 0  # torch intra-op CPU threads; 0 keeps torch's default (1 is fastest on a busy CPU)
    progress: bool = True  # tqdm bar per epoch


@dataclass
class CompareConfig:
    """A grid of losses x seeds trained on the same data, model and optimizer (``infoloss compare``)."""

    name: str = "compare"
    losses: list[str] = field(default_factory=lambda: ["ce", "min-ent", "mix-ent"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    baseline: str = "ce"  # the loss every other loss is paired against
    metric: str = "test_acc"  # the final-epoch metric the statistics compare
    n_bootstrap: int = 10000
    train: TrainConfig = field(default_factory=TrainConfig)


T = TypeVar("T")


def _check_value(cls_name: str, key: str, tp: Any, value: Any) -> Any:
    """Return ``value`` coerced to type ``tp`` (int -> float allowed) or raise :class:`ConfigError`."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(cls_name, key, a, value)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{cls_name}.{key}: expected {tp}, got {value!r}")
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{cls_name}.{key}: expected a list, got {value!r}")
        return [_check_value(cls_name, key, inner, v) for v in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{cls_name}.{key}: expected true/false, got {value!r}")
        return value
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{cls_name}.{key}: expected an integer, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{cls_name}.{key}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from a (possibly nested) dict, checking keys and types.

    Args:
        cls: :class:`TrainConfig` or :class:`CompareConfig`.
        data: plain values as read from TOML/JSON; missing keys keep their defaults.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones) or a value of the wrong type.

    Example:
        >>> from_dict(TrainConfig, {"epochs": 3}).epochs
        3
    """
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        k = key.replace("-", "_")
        if k not in valid:
            raise ConfigError(f"unknown {cls.__name__} key {key!r}; valid keys: {', '.join(valid)}")
        tp = hints[k]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{cls.__name__}.{k}: expected a table, got {value!r}")
            kwargs[k] = from_dict(tp, value)  # type: ignore[arg-type]
        else:
            kwargs[k] = _check_value(cls.__name__, k, tp, value)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Return the config as a plain, JSON-serializable dict (nested dataclasses become dicts)."""
    return dataclasses.asdict(cfg)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, with an error naming the file when it is missing or malformed."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {p}: {e}") from None
