"""Evaluation metrics: accuracy, NLL, expected calibration error, predictive entropy, mistake severity.

Everything is accumulated as sums and counts (:class:`EvalSums`) so that shards evaluated on different
ranks combine exactly with one ``all_reduce``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from infoloss.metrics import N_BINS, calibration_bins, ece_from_bins

__all__ = ["EvalSums", "expected_calibration_error", "accumulate", "N_BINS", "N_ENTROPY_BINS"]

N_ENTROPY_BINS = 20


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = N_BINS) -> float:
    """Top-label expected calibration error with ``n_bins`` equal-width confidence bins on [0, 1].

    ``ECE = sum_b (n_b / N) * |acc_b - conf_b|`` where bin b holds the examples whose top probability
    lies in ``(b/n_bins, (b+1)/n_bins]`` (the first bin also takes 0); the binning is
    :func:`infoloss.metrics.calibration_bins` (its docstring compares it with torchmetrics').

    Args:
        probs: (N, C) predicted probabilities.
        labels: (N,) int64 true classes.
        n_bins: number of bins (15 as in Guo et al. 2017).

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
        >>> round(expected_calibration_error(p, torch.tensor([0, 1]), n_bins=10), 4)
        0.35
    """
    conf, pred = probs.max(dim=1)
    return float(ece_from_bins(*calibration_bins(conf, pred.eq(labels), n_bins)))


@dataclass
class EvalSums:
    """Additive evaluation statistics over a set of examples (float64 tensors, shardable).

    ``vector()`` packs everything into one tensor for ``all_reduce``; ``from_vector`` unpacks it.
    """

    num_classes: int
    count: float = 0.0
    correct: float = 0.0
    nll: float = 0.0
    entropy: float = 0.0
    mistakes: float = 0.0
    severity: float = 0.0
    bin_counts: torch.Tensor | None = None
    bin_conf: torch.Tensor | None = None
    bin_correct: torch.Tensor | None = None
    entropy_hist: torch.Tensor | None = None

    def __post_init__(self) -> None:
        z = torch.zeros(N_BINS, dtype=torch.float64)
        self.bin_counts = z.clone() if self.bin_counts is None else self.bin_counts
        self.bin_conf = z.clone() if self.bin_conf is None else self.bin_conf
        self.bin_correct = z.clone() if self.bin_correct is None else self.bin_correct
        if self.entropy_hist is None:
            self.entropy_hist = torch.zeros(N_ENTROPY_BINS, dtype=torch.float64)

    def vector(self) -> torch.Tensor:
        """All sums as one float64 vector (for ``all_reduce``)."""
        scalars = torch.tensor(
            [self.count, self.correct, self.nll, self.entropy, self.mistakes, self.severity], dtype=torch.float64
        )
        return torch.cat([scalars, self.bin_counts, self.bin_conf, self.bin_correct, self.entropy_hist])  # type: ignore[list-item]

    @classmethod
    def from_vector(cls, num_classes: int, v: torch.Tensor) -> EvalSums:
        """Inverse of :meth:`vector`."""
        v = v.double().cpu()
        count, correct, nll, entropy, mistakes, severity = (float(x) for x in v[:6])
        b = 6
        return cls(
            num_classes,
            count,
            correct,
            nll,
            entropy,
            mistakes,
            severity,
            bin_counts=v[b : b + N_BINS].clone(),
            bin_conf=v[b + N_BINS : b + 2 * N_BINS].clone(),
            bin_correct=v[b + 2 * N_BINS : b + 3 * N_BINS].clone(),
            entropy_hist=v[b + 3 * N_BINS :].clone(),
        )

    def metrics(self, prefix: str = "test", suffix: str = "") -> dict[str, Any]:
        """Return accuracy, NLL (nats), ECE, mean entropy (nats), mistake severity and the bins for plots.

        Keys (``prefix`` "test"): ``test_acc`` (percent), ``test_nll``, ``test_ece``, ``test_entropy``,
        ``mistake_severity`` (mean hierarchy distance of the mistakes; None without a hierarchy),
        ``reliability`` (per-bin counts, mean confidence, accuracy) and ``entropy_hist`` (counts over
        [0, ln C]). Another prefix (``val``) prefixes every key (``val_acc``, ``val_mistake_severity``,
        ``val_reliability``); ``suffix`` (``_ts``: after temperature scaling) is appended to every key.
        """
        n = max(self.count, 1.0)
        assert self.bin_counts is not None and self.bin_conf is not None
        assert self.bin_correct is not None and self.entropy_hist is not None
        cnt = self.bin_counts.clamp_min(1)
        extra = "" if prefix == "test" else f"{prefix}_"
        out = {
            f"{prefix}_acc": 100.0 * self.correct / n,
            f"{prefix}_nll": self.nll / n,
            f"{prefix}_ece": float(ece_from_bins(self.bin_counts, self.bin_conf, self.bin_correct)),
            f"{prefix}_entropy": self.entropy / n,
            f"{extra}mistake_severity": (self.severity / self.mistakes) if self.mistakes > 0 else None,
            f"{extra}reliability": {
                "count": self.bin_counts.tolist(),
                "confidence": (self.bin_conf / cnt).tolist(),
                "accuracy": (self.bin_correct / cnt).tolist(),
            },
            f"{extra}entropy_hist": self.entropy_hist.tolist(),
        }
        return {k + suffix: v for k, v in out.items()}


def accumulate(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    distances: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> EvalSums:
    """Accumulate :class:`EvalSums` over ``(logits (N, C), labels (N,))`` batches.

    Args:
        batches: logits and int64 labels per batch (any device; moved to CPU float64 for the sums).
        num_classes: C (the entropy histogram spans [0, ln C]).
        distances: optional (C, C) class distance; mistake severity = mean ``distances[y, pred]`` over
            the mistakes.
        temperature: the logits are divided by it first (temperature scaling; 1 = unchanged).
    """
    s = EvalSums(num_classes)
    assert s.bin_counts is not None and s.bin_conf is not None
    assert s.bin_correct is not None and s.entropy_hist is not None
    max_ent = math.log(num_classes) if num_classes > 1 else 1.0
    for logits, y in batches:
        logits = logits.detach().double().cpu()
        if temperature != 1.0:
            logits = logits / temperature
        y = y.cpu()
        logp = F.log_softmax(logits, dim=1)
        p = logp.exp()
        conf, pred = p.max(dim=1)
        correct = pred.eq(y)
        ent = -(p * logp).nan_to_num(0.0).sum(dim=1)
        s.count += y.numel()
        s.correct += float(correct.sum())
        s.nll += float(-logp.gather(1, y[:, None]).sum())
        s.entropy += float(ent.sum())
        c, cs, ks = calibration_bins(conf, correct, N_BINS)
        s.bin_counts += c
        s.bin_conf += cs
        s.bin_correct += ks
        hidx = (ent / max_ent * N_ENTROPY_BINS).long().clamp(0, N_ENTROPY_BINS - 1)
        s.entropy_hist += torch.bincount(hidx, minlength=N_ENTROPY_BINS).double()
        if distances is not None:
            wrong = ~correct
            s.mistakes += float(wrong.sum())
            s.severity += float(distances.double().cpu()[y[wrong], pred[wrong]].sum())
    return s
