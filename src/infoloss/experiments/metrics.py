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

__all__ = ["EvalSums", "expected_calibration_error", "accumulate", "N_BINS", "N_ENTROPY_BINS"]

N_BINS = 15
N_ENTROPY_BINS = 20


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = N_BINS) -> float:
    """Top-label expected calibration error with ``n_bins`` equal-width confidence bins on [0, 1].

    ``ECE = sum_b (n_b / N) * |acc_b - conf_b|`` where bin b holds the examples whose top probability
    lies in ``(b/n_bins, (b+1)/n_bins]`` (the first bin also takes 0).

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
    counts, conf_sum, correct_sum = _bin_sums(conf, pred.eq(labels), n_bins)
    return _ece_from_bins(counts, conf_sum, correct_sum)


def _bin_index(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    # bin b = (b/n, (b+1)/n]; ceil(conf*n)-1 with conf=0 put in bin 0
    return (torch.ceil(conf.double() * n_bins).long() - 1).clamp(0, n_bins - 1)


def _bin_sums(conf: torch.Tensor, correct: torch.Tensor, n_bins: int) -> tuple[torch.Tensor, ...]:
    idx = _bin_index(conf, n_bins)
    counts = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, torch.ones_like(conf, dtype=torch.float64))
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, conf.double())
    correct_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, correct.double())
    return counts, conf_sum, correct_sum


def _ece_from_bins(counts: torch.Tensor, conf_sum: torch.Tensor, correct_sum: torch.Tensor) -> float:
    n = counts.sum()
    if n == 0:
        return 0.0
    return float((conf_sum - correct_sum).abs().sum() / n)


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
            num_classes, count, correct, nll, entropy, mistakes, severity,
            bin_counts=v[b : b + N_BINS].clone(),
            bin_conf=v[b + N_BINS : b + 2 * N_BINS].clone(),
            bin_correct=v[b + 2 * N_BINS : b + 3 * N_BINS].clone(),
            entropy_hist=v[b + 3 * N_BINS :].clone(),
        )  # fmt: skip

    def metrics(self) -> dict[str, Any]:
        """Return accuracy, NLL (nats), ECE, mean entropy (nats), mistake severity and the bins for plots.

        Keys: ``test_acc`` (percent), ``test_nll``, ``test_ece``, ``test_entropy``, ``mistake_severity``
        (mean hierarchy distance of the mistakes; None without a hierarchy), ``reliability`` (per-bin
        counts, mean confidence, accuracy) and ``entropy_hist`` (counts over [0, ln C]).
        """
        n = max(self.count, 1.0)
        assert self.bin_counts is not None and self.bin_conf is not None
        assert self.bin_correct is not None and self.entropy_hist is not None
        cnt = self.bin_counts.clamp_min(1)
        return {
            "test_acc": 100.0 * self.correct / n,
            "test_nll": self.nll / n,
            "test_ece": _ece_from_bins(self.bin_counts, self.bin_conf, self.bin_correct),
            "test_entropy": self.entropy / n,
            "mistake_severity": (self.severity / self.mistakes) if self.mistakes > 0 else None,
            "reliability": {
                "count": self.bin_counts.tolist(),
                "confidence": (self.bin_conf / cnt).tolist(),
                "accuracy": (self.bin_correct / cnt).tolist(),
            },
            "entropy_hist": self.entropy_hist.tolist(),
        }


def accumulate(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    distances: torch.Tensor | None = None,
) -> EvalSums:
    """Accumulate :class:`EvalSums` over ``(logits (N, C), labels (N,))`` batches.

    Args:
        batches: logits and int64 labels per batch (any device; moved to CPU float64 for the sums).
        num_classes: C (the entropy histogram spans [0, ln C]).
        distances: optional (C, C) class distance; mistake severity = mean ``distances[y, pred]`` over
            the mistakes.
    """
    s = EvalSums(num_classes)
    assert s.bin_counts is not None and s.bin_conf is not None
    assert s.bin_correct is not None and s.entropy_hist is not None
    max_ent = math.log(num_classes) if num_classes > 1 else 1.0
    for logits, y in batches:
        logits = logits.detach().double().cpu()
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
        c, cs, ks = _bin_sums(conf, correct, N_BINS)
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
