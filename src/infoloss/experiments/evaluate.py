"""``infoloss evaluate``: rebuild a model from its checkpoint and score it on the test split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infoloss.experiments.checkpoint import load_checkpoint
from infoloss.experiments.config import TrainConfig, from_dict
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
        CheckpointError: missing, truncated or corrupted file (the message names it).

    Example:
        >>> evaluate_checkpoint("runs/x/runs/ce/seed0/checkpoint.pt")["test_acc"]  # doctest: +SKIP
        97.8
    """
    ckpt = load_checkpoint(path)
    cfg = from_dict(TrainConfig, ckpt["config"])
    ds = load_dataset(cfg.dataset, data_dir or cfg.data_dir, download=False)
    dev = pick_device(device)
    model = build_model(cfg.model, ds.input_shape, ds.num_classes)
    model.load_state_dict(ckpt["model"])
    model.to(dev)
    distances = class_distance_matrix(LossContext(ds.num_classes, ds.name, cfg.hierarchy))
    metrics = evaluate(model, ds.x_test, ds.y_test, num_classes=ds.num_classes, batch_size=batch_size,
                       device=dev, distances=distances)  # fmt: skip
    return {"epoch": int(ckpt["epoch"]), **metrics}
