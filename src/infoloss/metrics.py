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
where they differ in practice.

Example:
    >>> import torch
    >>> from infoloss import metrics
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    >>> y = torch.tensor([0, 1, 1])
    >>> round(float(metrics.accuracy(z, y)), 4)  # rows 0 and 1 right
    0.6667
    >>> round(float(metrics.nll(z, y)), 4)  # (log(1 + e^-2) + log(1 + e^-1) + log(1 + e^3)) / 3
    1.1629

References:
    - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
      https://arxiv.org/abs/1706.04599
    - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
      CVPR 2020. https://arxiv.org/abs/1912.09393
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
"""Default number of equal-width confidence bins of the ECE functions (15, as in Guo et al. 2017)."""


def _work_dtype(t: Tensor) -> torch.dtype:
    """float64, or float32 on MPS (which has no float64)."""
    return torch.float32 if t.device.type == "mps" else torch.float64


def _check(logits: Tensor, target: Tensor | None, name: str) -> None:
    """Check that ``logits`` is floating (N, C) and ``target`` (if given) int64/int32 (N,) in range.

    TypeError for a wrong type or dtype, ValueError for a wrong shape or an out-of-range target.
    """
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        what = f"dtype {logits.dtype}" if isinstance(logits, Tensor) else type(logits).__name__
        raise TypeError(f"{name}: logits must be a floating (N, C) tensor, got {what}")
    if logits.dim() != 2:
        raise ValueError(f"{name}: logits must be a floating (N, C) tensor, got shape {tuple(logits.shape)}")
    if target is None:
        return
    if not isinstance(target, Tensor) or target.dtype not in (torch.int64, torch.int32):
        what = f"dtype {target.dtype}" if isinstance(target, Tensor) else type(target).__name__
        raise TypeError(f"{name}: target must be an int64 or int32 (N,) tensor of class indices, got {what}")
    if target.dim() != 1:
        raise ValueError(f"{name}: target must be a 1-D (N,) tensor of class indices, got shape {tuple(target.shape)}")
    if target.shape[0] != logits.shape[0]:
        raise ValueError(f"{name}: logits have {logits.shape[0]} rows but target has {target.shape[0]}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
        raise ValueError(
            f"{name}: target must lie in 0..{logits.shape[1] - 1}, got {int(target.min())}..{int(target.max())}"
        )


def _check_bins(n_bins: int) -> None:
    """Raise TypeError unless ``n_bins`` is an int, ValueError unless it is >= 1."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int):
        raise TypeError(f"n_bins must be a positive integer, got {type(n_bins).__name__} {n_bins!r}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")


def accuracy(logits: Tensor, target: Tensor) -> Tensor:
    r"""Return the fraction of rows whose arg-max class is the target.

    .. math::
        \mathrm{acc} = \frac{1}{N} \sum_i [\arg\max_c z_{ic} = y_i]

    Args:
        logits: scores, shape ``(N, C)``, floating (logits or probabilities: only the arg-max matters).
        target: class indices, shape ``(N,)``, int64 or int32.

    Returns:
        0-dim tensor in [0, 1], float64 (float32 on MPS); NaN for ``N = 0``.

    Raises:
        TypeError: if ``logits`` is not a floating tensor, or ``target`` is not an int64/int32 tensor.
        ValueError: if ``logits`` is not 2-D, ``target`` is not 1-D with ``N`` entries, or a target lies
            outside ``0..C-1``.

    Example:
        >>> import torch
        >>> from infoloss.metrics import accuracy
        >>> accuracy(torch.tensor([[1.0, 0.0], [1.0, 2.0]]), torch.tensor([0, 0]))
        tensor(0.5000, dtype=torch.float64)
    """
    _check(logits, target, "accuracy")
    return logits.argmax(dim=1).eq(target).to(_work_dtype(logits)).mean()


def nll(logits: Tensor, target: Tensor) -> Tensor:
    r"""Return the mean negative log-likelihood of the targets under the softmax of the logits.

    .. math::
        \mathrm{NLL} = -\frac{1}{N} \sum_i \log \operatorname{softmax}(z_i)_{y_i}

    Args:
        logits: logits, shape ``(N, C)``, floating.
        target: class indices, shape ``(N,)``, int64 or int32.

    Returns:
        0-dim tensor in nats, float64 (float32 on MPS); NaN for ``N = 0``.

    Raises:
        TypeError: if ``logits`` is not a floating tensor, or ``target`` is not an int64/int32 tensor.
        ValueError: if ``logits`` is not 2-D, ``target`` is not 1-D with ``N`` entries, or a target lies
            outside ``0..C-1``.

    Example:
        >>> import torch
        >>> from infoloss.metrics import nll
        >>> round(float(nll(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))), 6)  # log 2
        0.693147
    """
    _check(logits, target, "nll")
    logp = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
    return -logp.gather(1, target.long()[:, None]).mean()


def predictive_entropy(logits: Tensor, target: Tensor | None = None) -> Tensor:
    r"""Return the mean Shannon entropy of the softmax distributions, in nats.

    .. math::
        \bar H = -\frac{1}{N} \sum_i \sum_c p_{ic} \log p_{ic}, \qquad p_i = \operatorname{softmax}(z_i)

    with ``0 log 0 = 0`` (a saturated softmax has entropy 0, not NaN).

    Args:
        logits: logits, shape ``(N, C)``, floating.
        target: ignored (accepted so every metric has the same signature). Default None.

    Returns:
        0-dim tensor in ``[0, log C]``, float64 (float32 on MPS); NaN for ``N = 0``.

    Raises:
        TypeError: if ``logits`` is not a floating tensor (``target`` is not checked).
        ValueError: if ``logits`` is not 2-D.

    Example:
        >>> import torch
        >>> from infoloss.metrics import predictive_entropy
        >>> round(float(predictive_entropy(torch.zeros(1, 4))), 6)  # uniform over 4 classes: log 4
        1.386294
    """
    _check(logits, None, "predictive_entropy")
    logp = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
    return -(logp.exp() * logp).nan_to_num(0.0).sum(dim=1).mean()


def bin_index(confidence: Tensor, n_bins: int = N_BINS) -> Tensor:
    r"""Return the right-closed equal-width bin of each confidence.

    .. math::
        b = \min\bigl(\max(\lceil n \cdot \mathrm{conf} \rceil - 1,\ 0),\ n - 1\bigr),
        \qquad \mathrm{conf} \in (b/n, (b+1)/n]

    so a confidence of 0 goes to bin 0. Computed in float64 (float32 on MPS) on the value as stored:
    the float32 number nearest 0.1 is 0.100000001490116..., slightly above 0.1, so it lands in the
    second of 10 bins, while the float64 0.1 (whose product with 10 rounds to exactly 1.0) lands in the
    first.

    Args:
        confidence: confidences in [0, 1], any shape, floating.
        n_bins: number of bins ``n``. Default :data:`N_BINS` (15).

    Returns:
        int64 tensor of ``confidence``'s shape, values in ``0..n_bins-1``.

    Raises:
        TypeError: if ``n_bins`` is not an int.
        ValueError: if ``n_bins`` is < 1.

    Example:
        >>> import torch
        >>> from infoloss.metrics import bin_index
        >>> bin_index(torch.tensor([0.0, 0.1, 0.5, 0.51, 1.0], dtype=torch.float64), 10)
        tensor([0, 0, 4, 5, 9])
        >>> bin_index(torch.tensor([0.1], dtype=torch.float32), 10)
        tensor([1])
    """
    _check_bins(n_bins)
    c = confidence.to(torch.float64 if confidence.device.type != "mps" else torch.float32)
    return (torch.ceil(c * n_bins).long() - 1).clamp(0, n_bins - 1)


def calibration_bins(confidence: Tensor, correct: Tensor, n_bins: int = N_BINS) -> tuple[Tensor, Tensor, Tensor]:
    r"""Return the per-bin sums behind ECE and reliability diagrams: count, confidence sum, number correct.

    With bins from :func:`bin_index`, for each bin ``b``:

    .. math::
        n_b = |B_b|, \qquad S_b = \sum_{i \in B_b} \mathrm{conf}_i, \qquad K_b = \sum_{i \in B_b} [\text{correct}_i]

    Sums (not means) add up exactly over batches and shards; :func:`ece_from_bins` turns them into ECE.

    Args:
        confidence: top-label probabilities in [0, 1], shape ``(N,)``, floating.
        correct: whether the top label is the target, shape ``(N,)``, bool (or 0/1 numbers).
        n_bins: number of equal-width right-closed bins (see the module docstring). Default :data:`N_BINS`.

    Returns:
        ``(counts, conf_sum, correct_sum)``: three tensors of shape ``(n_bins,)``, float64 (float32 on MPS).

    Raises:
        TypeError: if ``n_bins`` is not an int.
        ValueError: if ``n_bins`` is < 1.

    Example:
        >>> import torch
        >>> from infoloss.metrics import calibration_bins
        >>> conf = torch.tensor([0.95, 0.55, 0.6], dtype=torch.float64)
        >>> counts, conf_sum, correct_sum = calibration_bins(conf, torch.tensor([True, False, True]), n_bins=4)
        >>> counts, conf_sum, correct_sum
        (tensor([0., 0., 2., 1.], dtype=torch.float64), tensor([0.0000, 0.0000, 1.1500, 0.9500], dtype=torch.float64), tensor([0., 0., 1., 1.], dtype=torch.float64))
    """
    idx = bin_index(confidence, n_bins)
    dt = _work_dtype(confidence)
    z = torch.zeros(n_bins, dtype=dt, device=confidence.device)
    counts = z.clone().index_add_(0, idx, torch.ones_like(confidence, dtype=dt))
    conf_sum = z.clone().index_add_(0, idx, confidence.to(dt))
    correct_sum = z.clone().index_add_(0, idx, correct.to(dt))
    return counts, conf_sum, correct_sum


def ece_from_bins(counts: Tensor, conf_sum: Tensor, correct_sum: Tensor) -> Tensor:
    r"""Return the expected calibration error from the per-bin sums of :func:`calibration_bins`.

    .. math::
        \mathrm{ECE} = \frac{1}{N} \sum_b |S_b - K_b| = \sum_b \frac{n_b}{N} |\mathrm{conf}_b - \mathrm{acc}_b|,
        \qquad N = \sum_b n_b

    Args:
        counts: examples per bin ``n_b``, shape ``(n_bins,)``, floating.
        conf_sum: sum of the confidences per bin ``S_b``, shape ``(n_bins,)``.
        correct_sum: number correct per bin ``K_b``, shape ``(n_bins,)``.

    Returns:
        0-dim tensor in [0, 1] of ``counts``' dtype; 0 when ``N = 0``.

    Example:
        >>> import torch
        >>> from infoloss.metrics import ece_from_bins
        >>> counts = torch.tensor([0.0, 0.0, 2.0, 1.0], dtype=torch.float64)
        >>> conf_sum = torch.tensor([0.0, 0.0, 1.15, 0.95], dtype=torch.float64)
        >>> correct_sum = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
        >>> round(float(ece_from_bins(counts, conf_sum, correct_sum)), 4)  # (0.15 + 0.05) / 3
        0.0667
    """
    n = counts.sum()
    if float(n) == 0:
        return torch.zeros((), dtype=counts.dtype, device=counts.device)
    return (conf_sum - correct_sum).abs().sum() / n


def expected_calibration_error(logits: Tensor, target: Tensor, n_bins: int = N_BINS) -> Tensor:
    r"""Return the top-label expected calibration error with ``n_bins`` equal-width bins.

    .. math::
        \mathrm{ECE} = \sum_b \frac{n_b}{N} \left|\mathrm{acc}_b - \mathrm{conf}_b\right|

    where ``conf_i = max_c softmax(z_i)_c``, ``acc_b`` is the fraction of bin ``b`` whose arg-max is the
    target, ``conf_b`` the bin's mean confidence, and bin ``b`` holds the confidences in
    ``(b/n, (b+1)/n]`` (0 in the first bin; see :func:`bin_index`).

    Args:
        logits: logits, shape ``(N, C)``, floating (softmax is applied; pass ``probs.log()`` to score
            probabilities).
        target: class indices, shape ``(N,)``, int64 or int32.
        n_bins: number of bins. Default :data:`N_BINS` (15, as in Guo et al. 2017).

    Returns:
        0-dim tensor in [0, 1], float64 (float32 on MPS); 0 for ``N = 0``.

    Raises:
        TypeError: if ``logits`` is not a floating tensor, ``target`` is not an int64/int32 tensor, or
            ``n_bins`` is not an int.
        ValueError: if ``logits`` is not 2-D, ``target`` is not 1-D with ``N`` entries, a target lies
            outside ``0..C-1``, or ``n_bins`` is < 1.

    Example:
        >>> import torch
        >>> from infoloss.metrics import expected_calibration_error
        >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4]])  # right at 0.9, wrong at 0.6
        >>> round(float(expected_calibration_error(p.log(), torch.tensor([0, 1]), n_bins=10)), 4)
        0.35

    References:
        - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
          https://arxiv.org/abs/1706.04599
    """
    _check(logits, target, "expected_calibration_error")
    _check_bins(n_bins)
    p = F.softmax(logits.to(_work_dtype(logits)), dim=1)
    conf, pred = p.max(dim=1)
    return ece_from_bins(*calibration_bins(conf, pred.eq(target), n_bins))


def mistake_severity(logits: Tensor, target: Tensor, distances: Tensor) -> Tensor:
    r"""Return the mean class distance of the mistakes, with ``pred_i = argmax_c z_ic``.

    .. math::
        \mathrm{severity} = \frac{1}{|M|} \sum_{i \in M} D[y_i, \mathrm{pred}_i], \qquad
        M = \{i : \mathrm{pred}_i \ne y_i\}

    Unlike :func:`infoloss.bespoke.mistake_severity` (which returns 0), this returns NaN when there is
    no mistake: the mean over an empty set is undefined.

    Args:
        logits: scores, shape ``(N, C)``, floating.
        target: class indices, shape ``(N,)``, int64 or int32.
        distances: class distances ``D[true, predicted]``, shape ``(C, C)`` (e.g.
            ``infoloss.bespoke.fashion_mnist_distance_matrix()``).

    Returns:
        0-dim tensor, float64 (float32 on MPS); NaN when there is no mistake.

    Raises:
        TypeError: if ``logits`` is not a floating tensor, or ``target`` is not an int64/int32 tensor.
        ValueError: if ``logits`` is not 2-D, ``target`` is not 1-D with ``N`` entries, a target lies
            outside ``0..C-1``, or ``distances`` is not a ``(C, C)`` tensor.

    Example:
        >>> import torch
        >>> from infoloss.metrics import mistake_severity
        >>> D = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
        >>> z = torch.eye(3)[[1, 2, 2]]  # predictions 1, 2, 2
        >>> mistake_severity(z, torch.tensor([0, 0, 2]), D)  # mistakes 0->1 (1) and 0->2 (2)
        tensor(1.5000, dtype=torch.float64)

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
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
    r"""Fit the temperature of temperature scaling: the ``T > 0`` that minimizes the NLL of ``z / T``.

    .. math::
        T^\ast = \arg\min_{T} \; -\frac{1}{N} \sum_i \log \operatorname{softmax}(z_i / T)_{y_i}

    One scalar, fitted in float64 on CPU with ``torch.optim.LBFGS`` (strong Wolfe line search) over
    ``log T``, starting from ``T = 1``, with ``T`` clipped to ``bounds``. Fit it on held-out (validation)
    logits, never on the test set. The arg-max, hence accuracy, does not change with ``T``.

    Args:
        logits: validation-set logits, shape ``(N, C)``, floating, ``N >= 1``.
        target: class indices, shape ``(N,)``, int64 or int32.
        max_iter: LBFGS iterations. Default 100.
        bounds: ``(low, high)`` range that ``T`` is clipped to. Default ``(0.01, 100.0)``.

    Returns:
        The fitted temperature, a Python float. When every example is classified correctly the NLL keeps
        falling as ``T -> 0`` and has no minimum; then ``bounds[0]`` is returned without fitting.

    Raises:
        TypeError: if ``logits`` is not a floating tensor, or ``target`` is not an int64/int32 tensor.
        ValueError: if ``logits`` is not 2-D, ``target`` is not 1-D with ``N`` entries, a target lies
            outside ``0..C-1``, or ``N = 0``.

    Example:
        >>> import torch
        >>> from infoloss.metrics import fit_temperature
        >>> z = torch.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
        >>> y = torch.tensor([0, 0, 1, 1])  # 3 of 4 right, each at p = 0.982: overconfident, so T > 1
        >>> round(fit_temperature(z, y), 3)
        3.641

    References:
        - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
          https://arxiv.org/abs/1706.04599
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
    """Build (once) and return the torchmetrics ``Metric`` classes by name; ImportError without torchmetrics."""
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
            """Return ``total / count`` over everything seen since the last reset (NaN before any example)."""
            return self.total / self.count

    class Accuracy(_Sums):
        """Running :func:`accuracy`: the fraction of all rows seen whose arg-max is the target.

        State: the number of correct rows and the number of rows (float64 sums, added up under DDP).

        Args:
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Shape:
            - Logits: ``(N, C)``, floating.
            - Target: ``(N,)``, int64 or int32.
            - Output of ``compute()``: scalar, float64.

        Example:
            >>> import torch
            >>> from infoloss.metrics import Accuracy
            >>> acc = Accuracy()
            >>> acc.update(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]), torch.tensor([0, 1, 1]))
            >>> acc.update(torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
            >>> acc.compute()  # 3 of 4 right
            tensor(0.7500, dtype=torch.float64)
        """

        higher_is_better = True

        def update(self, logits: Tensor, target: Tensor) -> None:
            """Add a batch (logits ``(N, C)``, targets ``(N,)``); TypeError: bad dtype; ValueError: bad shape/range."""
            _check(logits, target, "Accuracy.update")
            self.total += logits.argmax(1).eq(target).sum().to(torch.float64)
            self.count += target.numel()

    class NegativeLogLikelihood(_Sums):
        """Running :func:`nll`: the mean negative log-likelihood over all examples seen, in nats.

        State: the summed NLL and the number of examples (float64 sums, added up under DDP).

        Args:
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Shape:
            - Logits: ``(N, C)``, floating.
            - Target: ``(N,)``, int64 or int32.
            - Output of ``compute()``: scalar, float64.

        Example:
            >>> import torch
            >>> from infoloss.metrics import NegativeLogLikelihood
            >>> m = NegativeLogLikelihood()
            >>> m.update(torch.zeros(2, 2), torch.tensor([0, 1]))
            >>> round(float(m.compute()), 4)  # log 2
            0.6931
        """

        higher_is_better = False

        def update(self, logits: Tensor, target: Tensor) -> None:
            """Add a batch (logits ``(N, C)``, targets ``(N,)``); TypeError: bad dtype; ValueError: bad shape/range."""
            _check(logits, target, "NegativeLogLikelihood.update")
            self.total += nll(logits, target).to(torch.float64) * target.numel()
            self.count += target.numel()

    class PredictiveEntropy(_Sums):
        """Running :func:`predictive_entropy`: the mean softmax entropy over all examples seen, in nats.

        State: the summed entropy and the number of examples (float64 sums, added up under DDP).

        Args:
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Shape:
            - Logits: ``(N, C)``, floating.
            - Target: optional and ignored.
            - Output of ``compute()``: scalar, float64.

        Example:
            >>> import torch
            >>> from infoloss.metrics import PredictiveEntropy
            >>> m = PredictiveEntropy()
            >>> m.update(torch.zeros(3, 4))
            >>> round(float(m.compute()), 4)  # uniform over 4 classes: log 4
            1.3863
        """

        higher_is_better = None

        def update(self, logits: Tensor, target: Tensor | None = None) -> None:
            """Add a batch of logits ``(N, C)`` (``target`` ignored); TypeError: not floating; ValueError: not 2-D."""
            _check(logits, None, "PredictiveEntropy.update")
            self.total += predictive_entropy(logits).to(torch.float64) * logits.shape[0]
            self.count += logits.shape[0]

    class MistakeSeverity(_Sums):
        """Running :func:`mistake_severity`: the mean ``D[y, pred]`` over all mistakes seen.

        State: the summed distance of the mistakes and their number (float64 sums, added up under DDP);
        ``compute()`` is NaN until a mistake has been seen.

        Args:
            distances: class distances ``D[true, predicted]``, shape ``(C, C)``; stored as a float64 buffer.
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Raises:
            ValueError: if ``distances`` is not a square 2-D tensor.

        Shape:
            - Logits: ``(N, C)``, floating.
            - Target: ``(N,)``, int64 or int32.
            - Output of ``compute()``: scalar, float64.

        Example:
            >>> import torch
            >>> from infoloss.metrics import MistakeSeverity
            >>> m = MistakeSeverity(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]]))
            >>> m.update(torch.eye(3)[[1, 2, 2]], torch.tensor([0, 0, 2]))  # mistakes 0->1 and 0->2
            >>> m.compute()
            tensor(1.5000, dtype=torch.float64)
        """

        higher_is_better = False
        distances: Tensor

        def __init__(self, distances: Tensor, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if distances.dim() != 2 or distances.shape[0] != distances.shape[1]:
                raise ValueError(f"MistakeSeverity: distances must be (C, C), got {tuple(distances.shape)}")
            self.register_buffer("distances", distances.detach().clone().to(torch.float64))

        def update(self, logits: Tensor, target: Tensor) -> None:
            """Add a batch (logits ``(N, C)``, targets ``(N,)``); TypeError: bad dtype; ValueError: bad shape/range."""
            _check(logits, target, "MistakeSeverity.update")
            pred = logits.argmax(1)
            wrong = pred.ne(target)
            d = self.distances.to(logits.device)
            self.total += d[target[wrong], pred[wrong]].sum()
            self.count += wrong.sum().to(torch.float64)

    class ExpectedCalibrationError(Metric):
        """Running :func:`expected_calibration_error` over all examples seen.

        State: the per-bin sums of :func:`calibration_bins` (float64), so batches and DDP shards add up
        exactly: the result equals :func:`expected_calibration_error` on the concatenated data.

        Args:
            n_bins: number of equal-width right-closed bins. Default :data:`N_BINS` (15).
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Raises:
            TypeError: if ``n_bins`` is not an int.
        ValueError: if ``n_bins`` is < 1.

        Shape:
            - Logits: ``(N, C)``, floating.
            - Target: ``(N,)``, int64 or int32.
            - Output of ``compute()``: scalar, float64.

        Example:
            >>> import torch
            >>> from infoloss.metrics import ExpectedCalibrationError
            >>> ece = ExpectedCalibrationError(n_bins=10)
            >>> ece.update(torch.tensor([[0.9, 0.1]]).log(), torch.tensor([0]))  # right at 0.9
            >>> ece.update(torch.tensor([[0.6, 0.4]]).log(), torch.tensor([1]))  # wrong at 0.6
            >>> round(float(ece.compute()), 4)  # (|0.9 - 1| + |0.6 - 0|) / 2
            0.35
        """

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
            """Add a batch (logits ``(N, C)``, targets ``(N,)``); TypeError: bad dtype; ValueError: bad shape/range."""
            _check(logits, target, "ExpectedCalibrationError.update")
            p = F.softmax(logits.to(_work_dtype(logits)), dim=1)
            conf, pred = p.max(1)
            c, s, k = calibration_bins(conf, pred.eq(target), self.n_bins)
            self.bin_count += c.to(torch.float64)
            self.bin_conf += s.to(torch.float64)
            self.bin_correct += k.to(torch.float64)

        def compute(self) -> Tensor:
            """Return the ECE over everything seen since the last reset (0 before any example)."""
            return ece_from_bins(self.bin_count, self.bin_conf, self.bin_correct)

    for cls in (Accuracy, NegativeLogLikelihood, PredictiveEntropy, MistakeSeverity, ExpectedCalibrationError):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        _tm_cache[cls.__name__] = cls
    return _tm_cache


def __getattr__(name: str) -> Any:
    """Create the torchmetrics classes on first access (PEP 562), so importing this module stays light."""
    if name in _TM_NAMES:
        return _torchmetrics_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
