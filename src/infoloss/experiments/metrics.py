"""Evaluation metrics: accuracy, NLL, expected calibration error, predictive entropy, mistake severity.

Everything is accumulated as sums and counts (:class:`EvalSums`) so that shards evaluated on different
ranks combine exactly with one ``all_reduce``. The public metric functions are in :mod:`infoloss.metrics`;
this module holds the harness's accumulators.
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
    r"""Return the top-label expected calibration error with ``n_bins`` equal-width confidence bins.

    .. math::
        \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{N} \, \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert

    where bin b holds the examples whose top probability lies in ``((b-1)/B, b/B]`` (the first bin also
    takes 0), :math:`\mathrm{acc}_b` is the fraction of them whose top class is the label and
    :math:`\mathrm{conf}_b` their mean top probability. The binning is
    :func:`infoloss.metrics.calibration_bins`. An empty input gives 0.

    Args:
        probs: predicted probabilities, shape ``(N, C)``.
        labels: true classes, shape ``(N,)``, integer dtype.
        n_bins: number of bins B (default 15).

    Returns:
        The ECE as a Python float in [0, 1].

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4]])  # right at 0.9, wrong at 0.6
        >>> round(expected_calibration_error(p, torch.tensor([0, 1]), n_bins=10), 4)  # (|1-0.9| + |0-0.6|) / 2
        0.35

    References:
        - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks",
          ICML 2017. https://arxiv.org/abs/1706.04599
    """
    conf, pred = probs.max(dim=1)
    return float(ece_from_bins(*calibration_bins(conf, pred.eq(labels), n_bins)))


@dataclass
class EvalSums:
    """Additive evaluation statistics over a set of examples (float64 tensors, shardable).

    Built by :func:`accumulate`; :meth:`vector` packs everything into one tensor for ``all_reduce`` and
    :meth:`from_vector` unpacks it; :meth:`metrics` turns the sums into metrics.

    Attributes:
        num_classes: C.
        count: number of examples.
        correct: number whose top class is the label.
        nll: sum of ``-log p[label]`` (nats).
        entropy: sum of the predictive entropies (nats).
        mistakes: number of wrong predictions counted for severity (0 without class distances).
        severity: sum of the class distances of those mistakes.
        bin_counts, bin_conf, bin_correct: per confidence bin (:data:`N_BINS` bins) the count, the sum of
            top probabilities and the number correct; zeros when not given.
        entropy_hist: counts of the entropies over :data:`N_ENTROPY_BINS` equal bins of ``[0, ln C]``.
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
        """Return all sums as one float64 vector (for ``all_reduce``).

        Returns:
            Shape ``(6 + 3 * N_BINS + N_ENTROPY_BINS,)``: the six scalars, then the three bin vectors and
            the entropy histogram.
        """
        scalars = torch.tensor(
            [self.count, self.correct, self.nll, self.entropy, self.mistakes, self.severity], dtype=torch.float64
        )
        return torch.cat([scalars, self.bin_counts, self.bin_conf, self.bin_correct, self.entropy_hist])  # type: ignore[list-item]

    @classmethod
    def from_vector(cls, num_classes: int, v: torch.Tensor) -> EvalSums:
        """Rebuild :class:`EvalSums` from a :meth:`vector` (its inverse); ``v`` may be on any device.

        Args:
            num_classes: C.
            v: shape ``(6 + 3 * N_BINS + N_ENTROPY_BINS,)``.

        Returns:
            The sums, on CPU in float64.

        Example:
            >>> s = accumulate([(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))], 2)
            >>> t = EvalSums.from_vector(2, s.vector())
            >>> t.count, t.correct, round(t.nll, 4)
            (2.0, 1.0, 1.4402)
        """
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

        Args:
            prefix: ``"test"`` or another split name such as ``"val"``.
            suffix: appended to every key (``"_ts"``: after temperature scaling).

        Returns:
            With ``prefix="test"``: ``test_acc`` (percent), ``test_nll``, ``test_ece``, ``test_entropy``,
            ``mistake_severity`` (mean class distance of the mistakes; None without distances),
            ``reliability`` (per-bin ``count``, mean ``confidence``, ``accuracy``) and ``entropy_hist``
            (counts over ``[0, ln C]``). Another prefix prefixes every key (``val_acc``,
            ``val_mistake_severity``, ``val_reliability``). Means over no examples are 0.

        Example:
            >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.2, 3.0]])
            >>> m = accumulate([(logits, torch.tensor([0, 2, 2]))], 3).metrics()
            >>> [round(m[k], 4) for k in ("test_acc", "test_nll", "test_ece", "test_entropy")]
            [66.6667, 0.6183, 0.2858, 0.6539]
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
    r"""Accumulate :class:`EvalSums` over batches of logits and labels.

    Per example, with :math:`p = \mathrm{softmax}(z / T)`: NLL :math:`-\log p_y`, entropy
    :math:`-\sum_c p_c \log p_c` (nats), confidence :math:`\max_c p_c`, and, with class distances
    ``D``, the severity ``D[y, argmax p]`` of each mistake.

    Args:
        batches: pairs of logits, shape ``(N, C)``, and labels, shape ``(N,)`` int64 (any device; moved
            to CPU float64 for the sums).
        num_classes: C (the entropy histogram spans ``[0, ln C]``).
        distances: optional class distances, shape ``(C, C)``; mistake severity is the mean
            ``distances[y, pred]`` over the mistakes.
        temperature: T; the logits are divided by it first (temperature scaling; 1 = unchanged).

    Returns:
        The :class:`EvalSums` of all batches.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.2, 3.0]])
        >>> d = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
        >>> s = accumulate([(logits, torch.tensor([0, 2, 2]))], 3, distances=d)
        >>> s.count, s.correct, s.mistakes, s.severity
        (3.0, 2.0, 1.0, 1.0)
        >>> round(accumulate([(logits, torch.tensor([0, 2, 2]))], 3, temperature=2.0).nll / 3, 4)
        0.7287
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
