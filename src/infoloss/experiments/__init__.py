"""The experiment harness: does a loss help beyond seed noise? (``infoloss compare`` / ``sweep``).

Modules: :mod:`~.config` (typed dataclass configs, TOML, validation), :mod:`~.data` (datasets by name,
IDX reader, validation splits), :mod:`~.models` (mlp, cnn, vgg5, spinal-vgg5), :mod:`~.losses` (losses
by name with parameters), :mod:`~.augment` (batched perspective + rotation), :mod:`~.train` (one run,
DDP under torchrun), :mod:`~.metrics` (sums for accuracy, NLL, ECE, entropy, severity; the public
functions are :mod:`infoloss.metrics`), :mod:`~.stats` (SciPy statistics, Holm), :mod:`~.report` (tables,
plots, epoch selection), :mod:`~.grid` (running a grid: validation, jobs, shards), :mod:`~.compare`,
:mod:`~.sweep`, :mod:`~.merge`, :mod:`~.provenance`, :mod:`~.checkpoint`, :mod:`~.distributed`,
:mod:`~.cli`. See ``docs/experiments.md``.
"""

from infoloss.experiments.config import CompareConfig, ConfigError, SweepConfig, TrainConfig

__all__ = ["CompareConfig", "ConfigError", "SweepConfig", "TrainConfig"]
