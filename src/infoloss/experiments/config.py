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

__all__ = [
    "TrainConfig",
    "CompareConfig",
    "SweepConfig",
    "ConfigError",
    "from_dict",
    "load_toml",
    "to_dict",
    "check_train_config",
    "check_selection",
    "available_metrics",
    "run_key",
    "key_differences",
    "NON_KEY_FIELDS",
]


class ConfigError(ValueError):
    """Raised when a configuration value or file is invalid; the message names the key and the allowed values.

    A subclass of ``ValueError``.

    Example:
        >>> ConfigError.__mro__[1].__name__
        'ValueError'
    """


@dataclass
class TrainConfig:
    """Everything one training run depends on (saved as ``config.json`` in its run directory).

    Defaults are plain: no label smoothing, no hidden regularizer beyond ``weight_decay``. Each field is
    also a command-line flag (``--batch-size``); :func:`check_train_config` checks the values.

    Attributes:
        name: label of the run in logs and progress bars.
        dataset: ``digits``, ``fashion-mnist``, ``emnist-letters`` or ``emnist-balanced``.
        data_dir: directory of the dataset's files (None: the dataset's default location).
        download: EMNIST only: fetch missing files with torchvision (when installed and online).
        train_subset: train on the first N examples of a fixed seeded shuffle (None: all).
        val_fraction: fraction of the (subset) training set held out for validation, in ``[0, 1)``.
        val_seed: seed of the validation split (the same split for every loss and seed).
        model: ``mlp``, ``cnn``, ``vgg5`` or ``spinal-vgg5``.
        num_outputs: logits per example (None: the number of classes).
        loss: loss spec, ``"name"`` or ``"name:key=value,..."`` (:mod:`~infoloss.experiments.losses`).
        hierarchy: class hierarchy for mistake severity and cost losses: None, ``"none"``,
            ``"fashion-mnist"`` or ``"auto"`` (the dataset's own, where it has one).
        seed: seed of the initialization, data order and augmentation.
        epochs: number of epochs.
        batch_size: global training batch size (split across ranks under torchrun).
        eval_batch_size: evaluation batch size.
        optimizer: ``sgd``, ``adam`` or ``adamw``.
        lr: learning rate.
        momentum: SGD momentum, in ``[0, 1)``.
        weight_decay: L2 weight decay of the model's parameters.
        schedule: ``cosine``, ``step``, ``none`` or ``random-restart`` (steered by validation accuracy).
        step_size: epochs between decays for ``schedule="step"``.
        gamma: decay factor for ``schedule="step"``.
        augment: ``none`` or ``perspective-rotation`` (:mod:`~infoloss.experiments.augment`).
        amp: ``auto`` (bf16/fp16 on CUDA, off elsewhere), ``bf16``, ``fp16`` or ``off``.
        device: ``auto`` (cuda > mps > cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        num_workers: DataLoader worker processes.
        threads: torch intra-op CPU threads (0: torch's default).
        progress: a tqdm bar per epoch on a terminal, one line per epoch otherwise.
        log_every: steps between reads of the loss from the device for the progress bar.

    Example:
        >>> cfg = TrainConfig(dataset="digits", epochs=3)
        >>> cfg.model, cfg.epochs, cfg.lr, cfg.schedule
        ('cnn', 3, 0.05, 'cosine')
    """

    name: str = "run"
    dataset: str = "digits"
    data_dir: str | None = None  # None: the dataset's default location
    download: bool = True  # EMNIST only: files missing -> fetch with torchvision (if installed, online)
    train_subset: int | None = None  # use only the first N training examples (after a seeded shuffle)
    val_fraction: float = 0.0  # fraction of the (subset) training set held out for validation (0: none)
    val_seed: int = 0  # seed of the validation split (fixed: the same split for every loss and seed)
    model: str = "cnn"
    num_outputs: int | None = None  # logits per example (None: the number of classes; 62 in SpinalNet's EMNIST)
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
    schedule: str = "cosine"  # cosine | step | none | random-restart (SpinalNet's, steered by validation)
    step_size: int = 30  # epochs between decays for schedule="step"
    gamma: float = 0.1  # decay factor for schedule="step"
    augment: str = "none"  # none | perspective-rotation (SpinalNet's RandomPerspective + RandomRotation(10))
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off elsewhere) | bf16 | fp16 | off
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:1 | mps
    num_workers: int = 0
    threads: int = 0  # torch intra-op CPU threads; 0 keeps torch's default (1 is fastest on a busy CPU)
    progress: bool = True  # tqdm bar per epoch on a terminal; one line per epoch otherwise
    log_every: int = 50  # steps between reads of the loss from the device for the progress bar


@dataclass
class CompareConfig:
    """A grid of losses x seeds trained on the same data, model and optimizer (``infoloss compare``).

    Attributes:
        name: label of the grid (part of the default run directory's name).
        losses: loss specs; each is also the label in tables and plots.
        seeds: seeds; runs of different losses with the same seed share initialization and data order.
        baseline: the loss every other loss is paired against.
        metric: the metric the statistics compare, at each run's reported epoch.
        select: ``final`` or ``best-val``: the epoch of each run that is reported.
        select_metric: the validation metric ``best-val`` maximizes (accuracy) or minimizes (others).
        n_bootstrap: bootstrap resamples of each paired interval.
        train: the base :class:`TrainConfig` (``loss`` and ``seed`` are set per run).

    Example:
        >>> cc = CompareConfig(losses=["ce", "focal"], seeds=[0, 1])
        >>> cc.baseline, cc.metric, cc.train.dataset
        ('ce', 'test_acc', 'digits')
    """

    name: str = "compare"
    losses: list[str] = field(default_factory=lambda: ["ce", "min-ent", "mix-ent"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    baseline: str = "ce"  # the loss every other loss is paired against
    metric: str = "test_acc"  # the metric the statistics compare (at the selected epoch)
    select: str = "final"  # final | best-val: the epoch of each run that is reported
    select_metric: str = "val_acc"  # the validation metric best-val maximizes (acc) or minimizes (nll, ece)
    n_bootstrap: int = 10000
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class SweepConfig:
    """A grid over loss keywords x seeds; each loss family's setting is chosen on validation (``infoloss sweep``).

    Attributes:
        name: label of the sweep.
        losses: grid specs ``name:key=v1,v2,...`` (a comma-separated token without ``=`` is one more
            value of the key before it; several keys give their product).
        baselines: the families every other family is compared against, after selection, on the test
            split.
        seeds: seeds.
        metric: the metric reported and compared on the test split.
        select: ``final`` or ``best-val``: the epoch of each run.
        select_metric: validation metric choosing each run's epoch (``best-val``) and each family's setting.
        n_bootstrap: bootstrap resamples of each paired interval.
        train: the base :class:`TrainConfig` (default with ``val_fraction=0.1``: a sweep needs validation).

    Example:
        >>> sc = SweepConfig()
        >>> sc.baselines, sc.train.val_fraction
        (['ce', 'label-smoothing', 'confidence-penalty'], 0.1)
    """

    name: str = "sweep"
    losses: list[str] = field(
        default_factory=lambda: [
            "ce",
            "label-smoothing:label_smoothing=0.05,0.1,0.2",
            "confidence-penalty:entropy_weight=-0.05,-0.1,-0.2",
            "min-ent:entropy_weight=0.05,0.1,0.2,0.5",
            "mix-ent:reverse_weight=0.05,0.1,0.2",
        ]
    )
    baselines: list[str] = field(default_factory=lambda: ["ce", "label-smoothing", "confidence-penalty"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    metric: str = "test_acc"  # reported and compared on the test split
    select: str = "final"  # final | best-val: the epoch of each run
    select_metric: str = "val_acc"  # chooses each run's epoch (best-val) and each family's setting
    n_bootstrap: int = 10000
    train: TrainConfig = field(default_factory=lambda: TrainConfig(val_fraction=0.1))


# TrainConfig fields that do not change what a run computes (performance, output and location knobs):
# a run directory is keyed by every other field.
NON_KEY_FIELDS = (
    "name",
    "progress",
    "log_every",
    "num_workers",
    "threads",
    "device",
    "data_dir",
    "download",
    "eval_batch_size",
)
# grid-level fields that only change the analysis (re-analysing finished runs is allowed)
ANALYSIS_FIELDS = (
    "name",
    "losses",
    "seeds",
    "baseline",
    "baselines",
    "metric",
    "select",
    "select_metric",
    "n_bootstrap",
)

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "none", "random-restart")
AMP_MODES = ("auto", "bf16", "fp16", "off")
AUGMENTS = ("none", "perspective-rotation")
HIERARCHIES = ("auto", "none", "fashion-mnist")
SELECTS = ("final", "best-val")
SELECT_METRICS = ("val_acc", "val_nll", "val_ece", "val_nll_ts", "val_ece_ts", "val_mistake_severity")


def check_train_config(cfg: TrainConfig) -> None:
    """Check every setting of a run that can be checked without data (sizes, ranges, names).

    Args:
        cfg: the run's configuration.

    Raises:
        ConfigError: if a size (``epochs``, ``batch_size``, ``eval_batch_size``, ``step_size``,
            ``log_every``) is below 1, ``threads``/``num_workers`` below 0, ``train_subset`` or
            ``num_outputs`` below 1, ``val_fraction`` outside ``[0, 1)``, ``lr`` or ``gamma`` not positive,
            ``weight_decay`` negative, ``momentum`` outside ``[0, 1)``, an unknown optimizer, schedule,
            amp mode, augment or hierarchy, or ``schedule='random-restart'`` without a validation split;
            the message names the setting, its value and what is allowed.

    Example:
        >>> check_train_config(TrainConfig(batch_size=0))
        Traceback (most recent call last):
        ...
        infoloss.experiments.config.ConfigError: batch_size must be >= 1, got 0
    """
    import math

    def positive(key: str, minimum: int = 1) -> None:
        v = getattr(cfg, key)
        if v < minimum:
            raise ConfigError(f"{key} must be >= {minimum}, got {v}")

    for key in ("epochs", "batch_size", "eval_batch_size", "step_size", "log_every"):
        positive(key)
    for key in ("threads", "num_workers"):
        positive(key, 0)
    if cfg.train_subset is not None and cfg.train_subset < 1:
        raise ConfigError(f"train_subset must be >= 1 (or unset for all images), got {cfg.train_subset}")
    if cfg.num_outputs is not None and cfg.num_outputs < 1:
        raise ConfigError(f"num_outputs must be >= 1 (or unset: the number of classes), got {cfg.num_outputs}")
    if not (math.isfinite(cfg.val_fraction) and 0.0 <= cfg.val_fraction < 1.0):
        raise ConfigError(f"val_fraction must lie in [0, 1), got {cfg.val_fraction}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ConfigError(f"lr must be a positive number, got {cfg.lr}")
    if not (math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0):
        raise ConfigError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if not (math.isfinite(cfg.momentum) and 0 <= cfg.momentum < 1):
        raise ConfigError(f"momentum must lie in [0, 1), got {cfg.momentum}")
    if not (math.isfinite(cfg.gamma) and cfg.gamma > 0):
        raise ConfigError(f"gamma must be a positive number, got {cfg.gamma}")
    for key, valid in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("amp", AMP_MODES), ("augment", AUGMENTS)):
        if getattr(cfg, key) not in valid:
            raise ConfigError(f"unknown {key} {getattr(cfg, key)!r}; valid {key}s: {', '.join(valid)}")
    if cfg.hierarchy is not None and cfg.hierarchy not in HIERARCHIES:
        raise ConfigError(f"unknown hierarchy {cfg.hierarchy!r}; valid hierarchies: {', '.join(HIERARCHIES)}")
    if cfg.schedule == "random-restart" and cfg.val_fraction == 0:
        raise ConfigError(
            "schedule 'random-restart' is steered by validation accuracy: set val_fraction > 0 "
            "(it is never steered by the test set)"
        )


def has_hierarchy(cfg: TrainConfig) -> bool:
    """Whether runs of ``cfg`` score mistake severity (a hierarchy given, or ``auto`` on fashion-mnist)."""
    return cfg.hierarchy == "fashion-mnist" or (cfg.hierarchy == "auto" and cfg.dataset == "fashion-mnist")


def available_metrics(cfg: TrainConfig) -> list[str]:
    """Return the metric keys every epoch of a run of ``cfg`` records (the ones ``--metric`` may name).

    Validation, temperature and temperature-scaled keys need ``val_fraction > 0``; the severity keys
    need a hierarchy.

    Args:
        cfg: the run's configuration.

    Returns:
        The keys, test metrics first.

    Example:
        >>> available_metrics(TrainConfig())
        ['test_acc', 'test_nll', 'test_ece', 'test_entropy', 'train_loss']
        >>> len(available_metrics(TrainConfig(val_fraction=0.1)))
        15
    """
    keys = ["test_acc", "test_nll", "test_ece", "test_entropy", "train_loss"]
    sev = has_hierarchy(cfg)
    if sev:
        keys.append("mistake_severity")
    if cfg.val_fraction > 0:
        keys += [
            "val_acc",
            "val_nll",
            "val_ece",
            "val_entropy",
            "temperature",
            "val_nll_ts",
            "val_ece_ts",
            "test_nll_ts",
            "test_ece_ts",
            "test_entropy_ts",
        ]
        if sev:
            keys.append("val_mistake_severity")
    return keys


def check_selection(train: TrainConfig, metric: str, select: str, select_metric: str, *, need_val: bool) -> None:
    """Check ``metric``/``select``/``select_metric`` against what runs of ``train`` will record.

    Args:
        train: the base training configuration of the grid.
        metric: the compared metric (one of :func:`available_metrics`).
        select: ``final`` or ``best-val``.
        select_metric: the validation metric of ``best-val`` (and of a sweep's choice).
        need_val: the command needs a validation split whatever ``select`` is (``sweep``).

    Raises:
        ConfigError: an unknown metric (lists the available ones), a selection that needs a validation
            split without one, or a selection metric that is not a validation metric or is not recorded.

    Example:
        >>> check_selection(TrainConfig(), "test_acc", "best-val", "val_acc", need_val=False)
        Traceback (most recent call last):
        ...
        infoloss.experiments.config.ConfigError: select 'best-val' needs a validation split: set val_fraction > 0 (e.g. --val-fraction 0.1)
    """
    avail = available_metrics(train)
    if metric not in avail:
        hint = "" if train.val_fraction > 0 else " (validation and temperature-scaled metrics need val_fraction > 0)"
        raise ConfigError(f"unknown metric {metric!r}; this configuration records: {', '.join(avail)}{hint}")
    if select not in SELECTS:
        raise ConfigError(f"unknown select {select!r}; valid: {', '.join(SELECTS)}")
    if (select == "best-val" or need_val) and train.val_fraction == 0:
        what = "select 'best-val'" if select == "best-val" else "this command"
        raise ConfigError(f"{what} needs a validation split: set val_fraction > 0 (e.g. --val-fraction 0.1)")
    if select == "best-val" or need_val:
        if select_metric not in SELECT_METRICS:
            raise ConfigError(
                f"select_metric must be a validation metric, one of {', '.join(SELECT_METRICS)}; got {select_metric!r}"
            )
        if select_metric not in avail:
            raise ConfigError(
                f"select_metric {select_metric!r} is not recorded by this configuration "
                f"(mistake severity needs a hierarchy)"
            )


def run_key(cfg: TrainConfig | dict[str, Any]) -> dict[str, Any]:
    """Return the settings that identify a run: every :class:`TrainConfig` field except :data:`NON_KEY_FIELDS`.

    A saved dict (``config.json``) is read with today's defaults for fields it lacks, so older run
    directories compare equal when they used what are now the defaults; keys that are not
    :class:`TrainConfig` fields (``split``, ``provenance``) are ignored.

    Args:
        cfg: a :class:`TrainConfig` or a saved dict of one.

    Returns:
        Field name -> value.

    Raises:
        ConfigError: if a saved value has the wrong type.

    Example:
        >>> key_differences(run_key({"lr": 0.05, "provenance": []}), run_key(TrainConfig()))
        []
        >>> sorted(run_key(TrainConfig(lr=0.1)))[:3], run_key(TrainConfig(lr=0.1))["lr"]
        (['amp', 'augment', 'batch_size'], 0.1)
    """
    if isinstance(cfg, dict):
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        cfg = from_dict(TrainConfig, {k: v for k, v in cfg.items() if k in names})
    return {k: v for k, v in to_dict(cfg).items() if k not in NON_KEY_FIELDS}


def key_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """List the keys whose values differ between two setting dicts, as ``"key: old -> new"``.

    Nested dicts are compared key by key and named with dots; a key missing on one side shows as
    ``'(unset)'``.

    Args:
        saved: the settings found (e.g. in a run directory).
        current: the settings wanted.

    Returns:
        One line per differing key, in sorted key order; empty when they agree.

    Example:
        >>> key_differences({"lr": 0.05, "train": {"epochs": 5}}, {"lr": 0.1, "train": {"epochs": 3}})
        ['lr: 0.05 -> 0.1', 'train.epochs: 5 -> 3']
    """
    out = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k, "(unset)"), current.get(k, "(unset)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{k}.{d}" for d in key_differences(a, b)]
        elif a != b:
            out.append(f"{k}: {a!r} -> {b!r}")
    return out


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

    Keys may use ``-`` for ``_``; an int is accepted where a float is expected; a nested table
    (``train``) is merged over the field's default.

    Args:
        cls: :class:`TrainConfig`, :class:`CompareConfig` or :class:`SweepConfig`.
        data: plain values as read from TOML/JSON; missing keys keep their defaults.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones), a value of the wrong type, or a
            nested field that is not a table.

    Example:
        >>> cc = from_dict(CompareConfig, {"seeds": [0, 1], "train": {"epochs": 2, "lr": 1}})
        >>> cc.seeds, cc.train.epochs, cc.train.lr, cc.train.model
        ([0, 1], 2, 1.0, 'cnn')
        >>> from_dict(TrainConfig, {"epochs": "3"})
        Traceback (most recent call last):
        ...
        infoloss.experiments.config.ConfigError: TrainConfig.epochs: expected an integer, got '3'
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
            fld = next(f for f in dataclasses.fields(cls) if f.name == k)  # type: ignore[arg-type]
            default = fld.default_factory() if fld.default_factory is not dataclasses.MISSING else None
            base = to_dict(default) if default is not None else {}
            kwargs[k] = from_dict(tp, {**base, **{kk.replace("-", "_"): vv for kk, vv in value.items()}})  # type: ignore[arg-type]
        else:
            kwargs[k] = _check_value(cls.__name__, k, tp, value)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Return the config as a plain, JSON-serializable dict (nested dataclasses become dicts).

    Args:
        cfg: a config dataclass instance.

    Returns:
        Field name -> value; the inverse of :func:`from_dict`.

    Raises:
        TypeError: if ``cfg`` is not a dataclass instance.

    Example:
        >>> to_dict(CompareConfig())["train"]["epochs"]
        10
    """
    return dataclasses.asdict(cfg)


def load_toml(path: str | Path) -> dict[str, Any]:
    r"""Read a TOML file into a dict, with an error naming the file when it is missing or malformed.

    Args:
        path: the TOML file.

    Returns:
        The parsed tables as nested dicts.

    Raises:
        ConfigError: if ``path`` is a directory, is missing, is not valid TOML or cannot be read.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d, "grid.toml")
        ...     _ = p.write_text('name = "x"\n[train]\nepochs = 2\n')
        ...     print(load_toml(p))
        {'name': 'x', 'train': {'epochs': 2}}
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config {p} is a directory, not a TOML file")
    try:
        with p.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {p}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {p}: {e}") from None
