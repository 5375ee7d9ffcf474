"""``infoloss evaluate``: rebuild a model from its checkpoint and score it on the test split."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from infoloss.experiments.checkpoint import CheckpointError, load_checkpoint
from infoloss.experiments.config import ConfigError, TrainConfig, from_dict
from infoloss.experiments.data import load_dataset
from infoloss.experiments.distributed import pick_device
from infoloss.experiments.losses import LossContext, class_distance_matrix
from infoloss.experiments.models import build_model
from infoloss.experiments.train import evaluate

__all__ = ["evaluate_checkpoint"]


def evaluate_checkpoint(
    path: str | Path, *, data_dir: str | None = None, device: str = "auto", batch_size: int = 1024
) -> dict[str, Any]:
    """Load ``path`` (``weights_only=True``), rebuild its model and score it on the dataset's test split.

    Args:
        path: a ``checkpoint.pt`` written by ``train``/``compare`` (it records its config).
        data_dir: dataset directory (None: the one recorded in the checkpoint's config).
        device: ``auto`` (cuda > mps > cpu) or a device name.
        batch_size: evaluation batch size.

    Returns:
        The metrics of :func:`infoloss.experiments.train.evaluate` plus ``epoch``.

    Raises:
        CheckpointError: missing, truncated or corrupted file, no recorded config, an invalid recorded
            config, or weights that do not fit the recorded model (the message names the file).
        ConfigError: a bad batch size or an unavailable device.
        DatasetError: the recorded dataset cannot be loaded.
        ValueError: the recorded hierarchy does not fit the dataset.

    Example:
        >>> evaluate_checkpoint("runs/x/runs/ce/seed0/checkpoint.pt")["test_acc"]  # doctest: +SKIP
        97.8
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    dev = pick_device(device)
    ckpt = load_checkpoint(path)
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint {path} records no config, so its model cannot be rebuilt")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        cfg = from_dict(TrainConfig, {k: v for k, v in saved.items() if k in names})
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path} records an invalid config: {e}") from None
    ds = load_dataset(cfg.dataset, data_dir or cfg.data_dir, download=False)
    n_out = cfg.num_outputs or ds.num_classes
    try:
        model = build_model(cfg.model, ds.input_shape, n_out)
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint {path}: its weights do not fit model {cfg.model!r} on {ds.name} ({str(e).splitlines()[0]})"
        ) from None
    model.to(dev)
    distances = class_distance_matrix(LossContext(n_out, ds.name, cfg.hierarchy))
    metrics = evaluate(
        model, ds.x_test, ds.y_test, num_classes=n_out, batch_size=batch_size, device=dev, distances=distances
    )
    return {"epoch": int(ckpt["epoch"]), **metrics}
