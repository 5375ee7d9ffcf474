"""The experiment harness: does a loss help beyond seed noise? (``infoloss compare``).

Modules: :mod:`~.config` (typed dataclass configs, TOML), :mod:`~.data` (datasets by name, IDX reader),
:mod:`~.models` (mlp, cnn, vgg5, spinal-vgg5), :mod:`~.losses` (losses by name with parameters),
:mod:`~.train` (one run, DDP under torchrun), :mod:`~.metrics` (accuracy, NLL, ECE, entropy, severity),
:mod:`~.stats` (SciPy statistics across seeds), :mod:`~.report` (table, plots), :mod:`~.compare`
(the grid), :mod:`~.checkpoint`, :mod:`~.distributed`, :mod:`~.cli`. See ``docs/experiments.md``.
"""

from infoloss.experiments.config import CompareConfig, ConfigError, TrainConfig

__all__ = ["CompareConfig", "ConfigError", "TrainConfig"]
