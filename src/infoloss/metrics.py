"""Evaluation metrics for classifiers, as plain functions and (with torchmetrics) as ``Metric`` classes.

Plain functions take logits ``(N, C)`` and integer targets ``(N,)`` and return 0-dim tensors:

* :func:`accuracy`: fraction of examples whose arg-max class is the target;
* :func:`nll`: mean negative log-likelihood ``-log softmax(z)_y`` (nats);
* :func:`predictive_entropy`: mean entropy ``H(p) = -sum_c p_c log p_c`` of the softmax (nats);
* :func:`expected_calibration_error`: top-label ECE with equal-width bins (Guo et al. 2017);
* :func:`mistake_severity`: mean class distance ``D[y, prediction]`` over the mistakes;
* :func:`fit_temperature`: the temperature ``T`` that minimizes the NLL of ``z / T`` (temperature scaling).

All are computed in float64 (float32 on MPS, which has no float64). With ``torchmetrics`` installed the
same quantities are :class:`torchmetrics.Metric` subclasses (accumulating sums, so they work under DDP):
``Accuracy``, ``NegativeLogLikelihood``, ``PredictiveEntropy``, ``ExpectedCalibrationError``,
``MistakeSeverity``. They are created on first access, so importing this module never imports
torchmetrics.

**ECE bin convention.** Bin ``b`` (of ``n_bins``) holds the confidences in ``(b/n, (b+1)/n]``: right-closed,
as in Guo et al.; a confidence of exactly 0 goes to the first bin and one of exactly 1.0 to the last
(the ``n``-th). ``torchmetrics.classification.MulticlassCalibrationError`` uses left-closed bins
``[b/n, (b+1)/n)`` and puts a confidence of exactly 1.0 into an extra last bin of its own (it builds
``n + 1`` accumulators), after casting confidences to float32. The two agree whenever no confidence lies
exactly on an inner edge ``b/n`` or equals 1.0; a float32-saturated softmax (confidence 1.0) is the case
where they differ in practice. Both behaviours are tested against hand-computed values.

Example:
    >>> import torch
    >>> from infoloss import metrics
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]); y = torch.tensor([0, 1, 1])
    >>> float(metrics.accuracy(z, y))
    0.6666666666666666
    >>> round(float(metrics.nll(z, y)), 4)
    1.1629
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "accuracy",
    "nll",
    "predictive_entropy",
    "expected_calibration_error",
    "mistake_severity",
    "calibration_bins",
    "fit_temperature",
    "bin_index",
    "ece_from_bins",
    "N_BINS",
]  # the torchmetrics classes are left out: ``import *`` must not import torchmetrics

N_BINS = 15


def _work_dtype(t: Tensor) -> torch.dtype:
    return torch.float32 if t.device.type == "mps" else torch.float64


def _check(logits: Tensor, target: Tensor | None, name: str) -> None:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"{name}: logits must be a floating (N, C) tensor, got {shape}")
    if target is None:
        return
    if not isinstance(target, Tensor) or target.dim() != 1 or target.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"{name}: target must be an int64 (N,) tensor of class indices, got "
            f"{tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__}"
        )
    if target.shape[0] != logits.shape[0]:
        raise ValueError(f"{name}: logits have {logits.shape[0]} rows but target has {target.shape[0]}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
        raise ValueError(
            f"{name}: target must lie in 0..{logits.shape[1] - 1}, got {int(target.min())}..{int(target.max())}"
        )


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")


def accuracy(logits: Tensor, target: Tensor) -> Tensor:
    """Fraction of rows whose arg-max is the target: ``mean_i [argmax_c z_ic == y_i]``.

    Args:
        logits: (N, C) scores (logits or probabilities: only the arg-max matters).
        target: (N,) int64 class indices.

    Returns:
        0-dim float tensor in [0, 1] (NaN for N = 0).

    Raises:
        ValueError: wrong shapes or dtypes, or a target outside ``0..C-1``.

    Example:
        >>> float(accuracy(torch.tensor([[1.0, 0.0], [1.0, 2.0]]), torch.tensor([0, 0])))
        0.5
    """
    _check(logits, target, "accuracy")
    return logits.argmax(dim=1).eq(target).to(_work_dtype(logits)).mean()


def nll(logits: Tensor, target: Tensor) -> Tensor:
    """Mean negative log-likelihood of the targets under the softmax: ``mean_i -log softmax(z_i)_{y_i}``.

    Args:
        logits: (N, C) logits.
        target: (N,) int64 class indices.

    Returns:
        0-dim float tensor (nats).

    Raises:
        ValueError: wrong shapes or dtypes, or a target outside ``0..C-1``.

    Example:
        >>> round(float(nll(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))), 6)  # log 2
        0.693147
    """
    _check(logits, target, "nll")
    logp = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
    return -logp.gather(1, target.long()[:, None]).mean()


def predictive_entropy(logits: Tensor, target: Tensor | None = None) -> Tensor:
    """Mean entropy of the predicted distribution: ``mean_i -sum_c p_ic log p_ic``, ``p_i = softmax(z_i)``.

    Args:
        logits: (N, C) logits.
        target: ignored (accepted so every metric has the same signature).

    Returns:
        0-dim float tensor in [0, log C] (nats); ``0 log 0 = 0``.

    Example:
        >>> round(float(predictive_entropy(torch.zeros(1, 4))), 6)  # log 4
        1.386294
    """
    _check(logits, None, "predictive_entropy")
    logp = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
    return -(logp.exp() * logp).nan_to_num(0.0).sum(dim=1).mean()


def bin_index(confidence: Tensor, n_bins: int = N_BINS) -> Tensor:
    """Bin of each confidence: ``b`` such that ``conf`` lies in ``(b/n, (b+1)/n]`` (0 goes to bin 0).

    Computed as ``ceil(conf * n) - 1`` in float64, on the value as stored: the float32 number nearest
    0.1 is slightly above 0.1, so it lands in the second of 10 bins.

    Example:
        >>> bin_index(torch.tensor([0.0, 0.1, 0.5, 0.51, 1.0], dtype=torch.float64), 10).tolist()
        [0, 0, 4, 5, 9]
        >>> bin_index(torch.tensor([0.1], dtype=torch.float32), 10).tolist()
        [1]
    """
    _check_bins(n_bins)
    c = confidence.to(torch.float64 if confidence.device.type != "mps" else torch.float32)
    return (torch.ceil(c * n_bins).long() - 1).clamp(0, n_bins - 1)


def calibration_bins(confidence: Tensor, correct: Tensor, n_bins: int = N_BINS) -> tuple[Tensor, Tensor, Tensor]:
    """Per-bin sums for ECE and reliability diagrams: (count, sum of confidences, number correct).

    Args:
        confidence: (N,) top-label probabilities in [0, 1].
        correct: (N,) bool, whether the top label is the target.
        n_bins: number of equal-width bins, right-closed (see the module docstring).

    Returns:
        Three (n_bins,) float tensors (float64 except on MPS).
    """
    idx = bin_index(confidence, n_bins)
    dt = _work_dtype(confidence)
    z = torch.zeros(n_bins, dtype=dt, device=confidence.device)
    counts = z.clone().index_add_(0, idx, torch.ones_like(confidence, dtype=dt))
    conf_sum = z.clone().index_add_(0, idx, confidence.to(dt))
    correct_sum = z.clone().index_add_(0, idx, correct.to(dt))
    return counts, conf_sum, correct_sum


def ece_from_bins(counts: Tensor, conf_sum: Tensor, correct_sum: Tensor) -> Tensor:
    """``sum_b |conf_sum_b - correct_sum_b| / N`` = ``sum_b (n_b / N) |conf_b - acc_b|`` (0 when N = 0)."""
    n = counts.sum()
    if float(n) == 0:
        return torch.zeros((), dtype=counts.dtype, device=counts.device)
    return (conf_sum - correct_sum).abs().sum() / n


def expected_calibration_error(logits: Tensor, target: Tensor, n_bins: int = N_BINS) -> Tensor:
    """Top-label expected calibration error with ``n_bins`` equal-width bins.

    ``ECE = sum_b (n_b / N) |acc_b - conf_b|``, where ``conf = max_c softmax(z)_c``, ``acc`` is whether the
    arg-max is the target, and bin b holds the confidences in ``(b/n, (b+1)/n]`` (0 in the first bin).

    Args:
        logits: (N, C) logits (softmax is applied; pass ``probs.log()`` to score probabilities).
        target: (N,) int64 class indices.
        n_bins: number of bins (15 as in Guo et al. 2017).

    Returns:
        0-dim float tensor in [0, 1] (0 for N = 0).

    Raises:
        ValueError: wrong shapes or dtypes, a target outside ``0..C-1``, or ``n_bins < 1``.

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
        >>> round(float(expected_calibration_error(p.log(), torch.tensor([0, 1]), n_bins=10)), 4)
        0.35
    """
    _check(logits, target, "expected_calibration_error")
    _check_bins(n_bins)
    p = F.softmax(logits.to(_work_dtype(logits)), dim=1)
    conf, pred = p.max(dim=1)
    return ece_from_bins(*calibration_bins(conf, pred.eq(target), n_bins))


def mistake_severity(logits: Tensor, target: Tensor, distances: Tensor) -> Tensor:
    """Mean class distance of the mistakes: ``mean over {i: pred_i != y_i} of D[y_i, pred_i]``.

    Args:
        logits: (N, C) scores.
        target: (N,) int64 class indices.
        distances: (C, C) class distances (e.g. ``infoloss.bespoke.fashion_mnist_distance_matrix()``).

    Returns:
        0-dim float tensor; NaN when there is no mistake (the mean over no mistakes is undefined).

    Example:
        >>> D = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
        >>> z = torch.eye(3)[[1, 2, 2]]          # predictions 1, 2, 2
        >>> float(mistake_severity(z, torch.tensor([0, 0, 2]), D))  # mistakes (0->1), (0->2)
        1.5
    """
    _check(logits, target, "mistake_severity")
    c = logits.shape[1]
    if not isinstance(distances, Tensor) or tuple(distances.shape) != (c, c):
        shape = tuple(distances.shape) if isinstance(distances, Tensor) else type(distances).__name__
        raise ValueError(f"mistake_severity: distances must be ({c}, {c}), got {shape}")
    pred = logits.argmax(dim=1)
    wrong = pred.ne(target)
    d = distances.to(device=logits.device, dtype=_work_dtype(logits))[target[wrong], pred[wrong]]
    if d.numel() == 0:
        return torch.full((), math.nan, dtype=d.dtype, device=d.device)
    return d.mean()


def fit_temperature(
    logits: Tensor, target: Tensor, *, max_iter: int = 100, bounds: tuple[float, float] = (0.01, 100.0)
) -> float:
    """Temperature scaling: the ``T > 0`` minimizing ``NLL(z / T) = mean_i -log softmax(z_i / T)_{y_i}``.

    One scalar, fitted in float64 with ``torch.optim.LBFGS`` (strong Wolfe line search) over ``log T``,
    starting from ``T = 1`` (Guo et al. 2017). Fit it on held-out (validation) logits, never on the test set.

    Args:
        logits: (N, C) logits of the validation set.
        target: (N,) int64 class indices.
        max_iter: LBFGS iterations.
        bounds: ``T`` is clipped to this range.

    Returns:
        The fitted temperature (float). When every example is classified correctly the NLL keeps
        falling as ``T -> 0`` and has no minimum: the lower bound is returned (the harness does not
        scale then, see ``docs/experiments.md``).

    Raises:
        ValueError: wrong shapes or dtypes, or N = 0.

    Example:
        >>> z = torch.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 0.0]]); y = torch.tensor([0, 0, 1, 1])
        >>> round(fit_temperature(z, y), 3)  # overconfident (3 of 4 right at p=0.98): T > 1
        3.641
    """
    _check(logits, target, "fit_temperature")
    if logits.shape[0] == 0:
        raise ValueError("fit_temperature: needs at least one example")
    z = logits.detach().to("cpu", torch.float64)
    y = target.detach().to("cpu").long()
    if bool(z.argmax(1).eq(y).all()):
        return float(bounds[0])
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-14
    )
    lo, hi = math.log(bounds[0]), math.log(bounds[1])

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z * torch.exp(-log_t.clamp(lo, hi)), y)
        torch.autograd.backward(loss)
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]  # torch's LBFGS.step(closure) is unannotated
    return float(math.exp(min(max(float(log_t.detach()), lo), hi)))


# --- torchmetrics classes, created on first access ------------------------------------------------------

_TM_NAMES = ("Accuracy", "NegativeLogLikelihood", "PredictiveEntropy", "ExpectedCalibrationError", "MistakeSeverity")
_tm_cache: dict[str, Any] = {}


def _torchmetrics_classes() -> dict[str, Any]:
    if _tm_cache:
        return _tm_cache
    try:
        from torchmetrics import Metric
    except ImportError as e:  # pragma: no cover - exercised only without torchmetrics
        raise ImportError(
            "infoloss.metrics' Metric classes need torchmetrics (pip install torchmetrics); "
            "the plain functions work without it"
        ) from e

    class _Sums(Metric):
        """Shared state: the sum of a per-example quantity and the number of examples (float64)."""

        full_state_update = False
        is_differentiable = False
        total: Tensor
        count: Tensor

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

        def compute(self) -> Tensor:
            return self.total / self.count

    class Accuracy(_Sums):
        """Running :func:`accuracy`: ``update(logits (N, C), target (N,))``, ``compute()`` in [0, 1]."""

        higher_is_better = True

        def update(self, logits: Tensor, target: Tensor) -> None:
            _check(logits, target, "Accuracy.update")
            self.total += logits.argmax(1).eq(target).sum().to(torch.float64)
            self.count += target.numel()

    class NegativeLogLikelihood(_Sums):
        """Running :func:`nll` (mean over all examples seen), nats."""

        higher_is_better = False

        def update(self, logits: Tensor, target: Tensor) -> None:
            _check(logits, target, "NegativeLogLikelihood.update")
            self.total += nll(logits, target).to(torch.float64) * target.numel()
            self.count += target.numel()

    class PredictiveEntropy(_Sums):
        """Running :func:`predictive_entropy` (mean over all examples seen), nats; target is optional."""

        higher_is_better = None

        def update(self, logits: Tensor, target: Tensor | None = None) -> None:
            _check(logits, None, "PredictiveEntropy.update")
            self.total += predictive_entropy(logits).to(torch.float64) * logits.shape[0]
            self.count += logits.shape[0]

    class MistakeSeverity(_Sums):
        """Running :func:`mistake_severity` for a fixed (C, C) distance matrix; NaN until a mistake is seen."""

        higher_is_better = False
        distances: Tensor

        def __init__(self, distances: Tensor, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if distances.dim() != 2 or distances.shape[0] != distances.shape[1]:
                raise ValueError(f"MistakeSeverity: distances must be (C, C), got {tuple(distances.shape)}")
            self.register_buffer("distances", distances.detach().clone().to(torch.float64))

        def update(self, logits: Tensor, target: Tensor) -> None:
            _check(logits, target, "MistakeSeverity.update")
            pred = logits.argmax(1)
            wrong = pred.ne(target)
            d = self.distances.to(logits.device)
            self.total += d[target[wrong], pred[wrong]].sum()
            self.count += wrong.sum().to(torch.float64)

    class ExpectedCalibrationError(Metric):
        """Running :func:`expected_calibration_error`: per-bin sums, so shards and batches add up exactly."""

        full_state_update = False
        is_differentiable = False
        higher_is_better = False
        bin_count: Tensor
        bin_conf: Tensor
        bin_correct: Tensor

        def __init__(self, n_bins: int = N_BINS, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            _check_bins(n_bins)
            self.n_bins = n_bins
            for s in ("bin_count", "bin_conf", "bin_correct"):
                self.add_state(s, torch.zeros(n_bins, dtype=torch.float64), dist_reduce_fx="sum")

        def update(self, logits: Tensor, target: Tensor) -> None:
            _check(logits, target, "ExpectedCalibrationError.update")
            p = F.softmax(logits.to(_work_dtype(logits)), dim=1)
            conf, pred = p.max(1)
            c, s, k = calibration_bins(conf, pred.eq(target), self.n_bins)
            self.bin_count += c.to(torch.float64)
            self.bin_conf += s.to(torch.float64)
            self.bin_correct += k.to(torch.float64)

        def compute(self) -> Tensor:
            return ece_from_bins(self.bin_count, self.bin_conf, self.bin_correct)

    for cls in (Accuracy, NegativeLogLikelihood, PredictiveEntropy, MistakeSeverity, ExpectedCalibrationError):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        _tm_cache[cls.__name__] = cls
    return _tm_cache


def __getattr__(name: str) -> Any:
    if name in _TM_NAMES:
        return _torchmetrics_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
