r"""Differentiable information-theoretic losses for classification.

Every function here is a drop-in for its ``torch.nn.functional`` namesake where one exists (identical results
when ``base`` is None), plus the entropy-regularized losses MIN-ENT and MIX-ENT (arXiv 2501.13709) and the
baselines they are compared against. Conventions shared by all of them (see ``docs/design.md``):

* **Shapes.** ``input`` holds logits of shape (C,), (N, C) or (N, C, d1, ...); the class dimension is 1 for
  inputs with two or more dims and 0 for 1-D input. ``target`` holds integer class indices of shape (),
  (N,) or (N, d1, ...), or floating class probabilities of the input's shape.
* **Base.** ``base=None`` gives nats; ``2`` bits; ``10`` hartleys; any float > 0 and != 1. A value in base b
  is the nat value divided by ln b.
* **Reduction 'mean'** is torch's: with class-index targets the sum is divided by the sum of the true-class
  weights of the non-ignored elements; with probability targets by the number of elements (weights stay
  out of the denominator). Where torch returns NaN for an empty mean (every element ignored, empty batch)
  these functions return 0 with zero gradients.
* **Per-element sample weight** ``s_i``: ``weight[y_i]`` for class-index targets (0 where ignored), the
  expected class weight ``sum_c weight[c] q_ic`` for probability targets, 1 without ``weight``. Every
  regularizer term is multiplied by ``s_i`` and shares CE's denominator.
* ``0 log 0 = 0``: a ``-inf`` logit against a zero target gives a finite loss and a finite gradient.
* float16 / bfloat16 inputs are computed in float32 and the result is returned in the input dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infoloss import _common, _ops
from infoloss._common import RowOptions, compute_dtype, loss_dtype, xlogy_safe
from infoloss._reduction import reduce_loss
from infoloss._validation import (
    Flat,
    check_finite_number,
    check_floating,
    check_label_smoothing,
    check_open_unit,
    check_probabilities,
    check_reduction,
    check_weight,
    class_dim,
    flatten_input_target,
    log_base,
    none_shape,
    to_rows,
)

__all__ = [
    "information",
    "entropy",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_divergence",
    "min_entropy_loss",
    "mixed_entropy_loss",
    "symmetric_cross_entropy",
    "focal_loss",
    "poly1_cross_entropy",
]


# ----------------------------------------------------------------------------------------------- helpers
def _reduce_rows(
    rows: Tensor, flat: Flat, weight: Tensor | None, ignore_index: int, reduction: str, out_dtype: torch.dtype
) -> Tensor:
    """Apply ``reduction`` to per-row losses with the CE denominator of ``docs/design.md``."""
    denom: Tensor | int | None
    if reduction != "mean":
        denom = None
    elif flat.prob_target:
        denom = rows.shape[0]
    else:
        denom = _common.sample_weights(flat.target, weight, ignore_index, rows.dtype, rows.device).sum()
    return reduce_loss(rows, denom, reduction, flat.out_shape, out_dtype)


def _ce_family(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    ce_coef: float,
    ent_coef: float = 0.0,
    rev_coef: float = 0.0,
    rev_log_eps: float = 0.0,
) -> Tensor:
    """Shared body of every CE-family loss: validate, flatten, run the row kernel, reduce."""
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    flat = flatten_input_target(input, target, ignore_index)
    weight = check_weight(weight, flat.logits2d.shape[-1], input)
    opts = RowOptions(
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        ce=ce_coef,
        ent=ent_coef,
        rev=rev_coef,
        rev_log_eps=rev_log_eps,
    )
    return _ops.ce_family_loss(flat, weight, opts, reduction, loss_dtype(input))


def _reduce_elements(values: Tensor, reduction: str) -> Tensor:
    """'mean' / 'sum' / 'none' over all elements, with an empty mean giving 0 instead of NaN."""
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    if values.numel() == 0:
        return values.sum()  # 0, still attached to the graph
    return values.mean()


# ------------------------------------------------------------------------------------ information, entropy
def information(probs: Tensor, *, base: float | None = None) -> Tensor:
    r"""Information content (surprisal) of each probability, elementwise.

    .. math:: I(p) = -\log_b p

    ``p = 0`` gives ``inf`` (an impossible event carries unbounded information); ``p = 1`` gives 0.

    Args:
        probs: tensor of any shape with entries in [0, 1].
        base: logarithm base (None: nats, 2: bits, 10: hartleys).

    Returns:
        Tensor of the same shape as ``probs``.

    Example:
        >>> import torch
        >>> from infoloss.functional import information
        >>> information(torch.tensor([0.5, 0.25, 1.0]), base=2)
        tensor([1., 2., -0.])
    """
    check_probabilities(probs, "probs")
    return (-torch.log(probs.to(compute_dtype(probs.dtype))) / log_base(base)).to(probs.dtype)


def entropy(
    logits: Tensor | None = None, *, probs: Tensor | None = None, base: float | None = None, reduction: str = "none"
) -> Tensor:
    r"""Shannon entropy of a categorical distribution over the class dimension.

    .. math:: H(p) = -\sum_c p_c \log_b p_c, \qquad 0 \log 0 = 0

    From ``logits`` it is computed stably via ``log_softmax`` (``p = softmax(logits)``); from ``probs`` the
    probabilities are used as given (they are not renormalized). ``0 <= H <= log_b C``.

    Args:
        logits: (C,), (N, C) or (N, C, d1, ...) unnormalized scores. Exactly one of ``logits``/``probs``.
        probs: probabilities of the same layout, entries in [0, 1].
        base: logarithm base (None: nats).
        reduction: ``'none'`` (shape (), (N,) or (N, d1, ...)), ``'mean'`` or ``'sum'`` over elements.

    Example:
        >>> import torch
        >>> from infoloss.functional import entropy
        >>> entropy(probs=torch.tensor([0.5, 0.25, 0.25]), base=2)
        tensor(1.5000)
        >>> round(entropy(torch.tensor([[2.0, 1.0, 0.1]])).item(), 4)  # not 0.9686 as a tutorial prints
        0.8467
    """
    check_reduction(reduction)
    if (logits is None) == (probs is None):
        raise ValueError("pass exactly one of logits or probs")
    scale = log_base(base)
    if logits is not None:
        check_floating(logits, "logits")
        if logits.dim() == 0:
            raise ValueError("logits must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...)")
        rows = _ops.entropy_rows(to_rows(logits)).reshape(none_shape(logits))
        return _reduce_elements(rows / scale, reduction).to(logits.dtype)
    assert probs is not None
    check_probabilities(probs, "probs")
    if probs.dim() == 0:
        raise ValueError("probs must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...)")
    p = probs.to(compute_dtype(probs.dtype))
    h = -xlogy_safe(p, torch.log(p)).sum(class_dim(probs))
    return _reduce_elements(h / scale, reduction).to(probs.dtype)


# --------------------------------------------------------------------------------------------- cross entropy
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    base: float | None = None,
) -> Tensor:
    r"""Cross entropy between a target distribution and ``softmax(input)``; drop-in for ``F.cross_entropy``.

    .. math::
        \ell_i = -\sum_c w_c\, q'_{ic} \log_b \operatorname{softmax}(x_i)_c, \qquad
        q' = (1-\varepsilon)\, q + \varepsilon / C

    with ``q`` the one-hot of the class index (or the given probabilities) and ``eps = label_smoothing``.
    For class-index targets without smoothing this is ``-w_{y_i} log p_{i,y_i}``. 'mean' divides by
    ``sum_i w_{y_i}`` over non-ignored elements (class-index targets) or by the number of elements
    (probability targets), exactly as torch; an empty mean gives 0 instead of NaN.

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...).
        target: class indices (), (N,), (N, d1, ...) of an integer dtype, or probabilities shaped as input.
        weight: optional (C,) class weights.
        ignore_index: class-index value whose elements are excluded (class-index targets only).
        reduction: 'none' | 'mean' | 'sum'.
        label_smoothing: eps in [0, 1].
        base: logarithm base (None: nats, identical to torch).

    Example:
        >>> import torch
        >>> from infoloss.functional import cross_entropy
        >>> logits = torch.tensor([[2.0, 1.0, 0.1]])
        >>> round(cross_entropy(logits, torch.tensor([0])).item(), 4)
        0.417
        >>> round(cross_entropy(logits, torch.tensor([0]), base=2).item(), 4)
        0.6016
    """
    if weight is None and base is None:
        fast = _ops.plain_cross_entropy(input, target, ignore_index, reduction, label_smoothing)
        if fast is not None:
            return fast
    return _ce_family(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce_coef=1.0 / log_base(base),
    )


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean", *, base: float | None = None
) -> Tensor:
    r"""Binary cross entropy between target probabilities and predicted probabilities ``input``.

    .. math:: \ell_i = -w_i \left[ y_i \log_b x_i + (1 - y_i) \log_b (1 - x_i) \right]

    Identical to ``F.binary_cross_entropy`` when ``base`` is None (including torch's clamp of each log at
    -100, which keeps ``x = 0`` or ``1`` finite). An empty 'mean' gives 0.

    Args:
        input: probabilities in [0, 1], any shape.
        target: probabilities of the same shape.
        weight: optional tensor broadcastable to ``input``.
        reduction: 'none' | 'mean' | 'sum'.
        base: logarithm base (None: nats).

    Example:
        >>> import torch
        >>> from infoloss.functional import binary_cross_entropy
        >>> binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1.0]), base=2)
        tensor(1.)
    """
    check_probabilities(input, "input")
    _check_binary(input, target, weight, reduction)
    values = torch.nn.functional.binary_cross_entropy(input, target, weight=weight, reduction="none")
    return _reduce_elements(values, reduction) / log_base(base)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
    *,
    base: float | None = None,
) -> Tensor:
    r"""Binary cross entropy on logits, numerically stable; drop-in for ``F.binary_cross_entropy_with_logits``.

    .. math:: \ell_i = -w_i \left[ p_c\, y_i \log_b \sigma(x_i) + (1 - y_i) \log_b (1 - \sigma(x_i)) \right]

    with ``p_c = pos_weight`` broadcast along the last (class) dim. Equal to torch's for finite logits; also
    finite at ``x = +-inf`` (0 log 0 = 0), where torch returns NaN. An empty 'mean' gives 0.

    Args:
        input: logits, any shape (..., C).
        target: probabilities of the same shape.
        weight: optional tensor broadcastable to ``input``.
        reduction: 'none' | 'mean' | 'sum'.
        pos_weight: optional weight of positive examples, broadcastable to ``input`` (typically (C,)).
        base: logarithm base (None: nats).

    Example:
        >>> import torch
        >>> from infoloss.functional import binary_cross_entropy_with_logits
        >>> binary_cross_entropy_with_logits(torch.tensor([0.0]), torch.tensor([1.0]), base=2)
        tensor(1.)
    """
    check_floating(input, "input")
    _check_binary(input, target, weight, reduction)
    _check_broadcast(pos_weight, "pos_weight", input)
    # log sigma(x) and log(1 - sigma(x)) = log sigma(-x), with 0 log 0 = 0: finite at x = +-inf, where the
    # textbook max(x, 0) - x y + log1p(exp(-|x|)) gives inf - inf = NaN.
    dtype = compute_dtype(input.dtype)
    x, y = input.to(dtype), target.to(dtype)
    pos = xlogy_safe(y, torch.nn.functional.logsigmoid(x))
    if pos_weight is not None:
        pos = pos * pos_weight.to(dtype)
    values = -(pos + xlogy_safe(1 - y, torch.nn.functional.logsigmoid(-x)))
    if weight is not None:
        values = values * weight.to(dtype)
    return (_reduce_elements(values, reduction) / log_base(base)).to(loss_dtype(input))


def _check_binary(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> None:
    """Shared checks of the two binary losses: reduction, target probabilities of the input's shape, weight."""
    check_reduction(reduction)
    check_floating(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"target shape {tuple(target.shape)} must equal input shape {tuple(input.shape)}")
    check_probabilities(target, "target")
    _check_broadcast(weight, "weight", input)


def _check_broadcast(t: Tensor | None, name: str, input: Tensor) -> None:
    if t is None:
        return
    check_floating(t, name)
    try:
        shape = torch.broadcast_shapes(t.shape, input.shape)
    except RuntimeError:
        shape = None
    if shape != input.shape:
        raise ValueError(
            f"{name} of shape {tuple(t.shape)} does not broadcast to the input's shape {tuple(input.shape)}"
        )


def kl_divergence(
    input: Tensor, target: Tensor, *, reduction: str = "mean", base: float | None = None, log_target: bool = False
) -> Tensor:
    r"""Kullback-Leibler divergence of ``softmax(input)`` from the target distribution.

    .. math:: \mathrm{KL}(q \,\|\, p) = \sum_c q_c \left(\log_b q_c - \log_b p_c\right), \quad p = \operatorname{softmax}(x)

    summed over the class dimension for each element, with ``0 log 0 = 0``. Reductions do what their names
    say (each per-element value is clamped at 0 against rounding): 'mean' averages the per-element divergences over the N*d1*... elements (what torch calls
    'batchmean' for 2-D input), 'sum' adds them, 'none' returns them. ``KL >= 0``, with equality iff p = q.

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...).
        target: probabilities of the same shape (log-probabilities when ``log_target``).
        reduction: 'none' | 'mean' | 'sum'.
        base: logarithm base (None: nats).
        log_target: the target is given as log-probabilities.

    Example:
        >>> import torch
        >>> from infoloss.functional import kl_divergence
        >>> q = torch.tensor([[0.5, 0.5]])
        >>> kl_divergence(torch.log(q), q)
        tensor(0.)
    """
    check_reduction(reduction)
    check_floating(input, "input")
    check_floating(target, "target")
    if input.dim() == 0:
        raise ValueError("input must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...)")
    if target.shape != input.shape:
        raise ValueError(f"target must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)}")
    dim = class_dim(input)
    dtype = compute_dtype(input.dtype)
    logp = torch.log_softmax(input.to(dtype), dim=dim)
    if log_target:
        log_q = target.to(dtype)
        q = log_q.exp()
    else:
        if target.device.type == "cpu" and not _common.tracing() and target.numel() and bool((target < 0).any()):
            raise ValueError("target probabilities must be non-negative")
        q = target.to(dtype)
        log_q = torch.log(q)
    kl = (xlogy_safe(q, log_q) - xlogy_safe(q, logp)).sum(dim)
    kl = kl.clamp_min(0.0)  # KL >= 0; rounding can otherwise leave -1e-8 where p == q
    return (_reduce_elements(kl, reduction) / log_base(base)).to(loss_dtype(input))


# ------------------------------------------------------------------------------- entropy-regularized losses
def min_entropy_loss(
    input: Tensor,
    target: Tensor,
    *,
    ce_weight: float = 1.0,
    entropy_weight: float = 0.1,
    ce_base: float | None = None,
    entropy_base: float | None = None,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""MIN-ENT: cross entropy plus a minimum-entropy regularizer (arXiv 2501.13709).

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}_i + w_H\, s_i\, H(\hat p_i), \qquad
              H(\hat p_i) = -\sum_c \hat p_{ic} \log \hat p_{ic}, \quad \hat p_i = \operatorname{softmax}(x_i)

    The entropy term is **added** (``+entropy_weight * H``): a positive weight pushes predictions towards
    confidence (entropy minimization); a negative weight is the confidence penalty of Pereyra et al. 2017.
    ``s_i`` is the sample weight (``weight[y_i]``, 0 for ignored elements), so both terms are reduced over the
    same elements with the same denominator as ``cross_entropy``. ``entropy_weight = 0`` gives
    ``ce_weight * cross_entropy`` exactly.

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...).
        target: class indices or probabilities (see :func:`cross_entropy`).
        ce_weight, entropy_weight: the two weights w_ce and w_H (any finite floats).
        ce_base, entropy_base: logarithm base of each term (None: nats).
        weight, ignore_index, reduction, label_smoothing: as in :func:`cross_entropy`.

    Example:
        >>> import torch
        >>> from infoloss.functional import min_entropy_loss, cross_entropy, entropy
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])
        >>> value = min_entropy_loss(x, y, entropy_weight=0.1)
        >>> torch.allclose(value, cross_entropy(x, y) + 0.1 * entropy(x).mean())
        True
    """
    ce_coef = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    ent_coef = check_finite_number(entropy_weight, "entropy_weight") / log_base(entropy_base, "entropy_base")
    return _ce_family(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce_coef=ce_coef,
        ent_coef=ent_coef,
    )


def mixed_entropy_loss(
    input: Tensor,
    target: Tensor,
    *,
    ce_weight: float = 1.0,
    reverse_weight: float = 0.1,
    ce_base: float | None = None,
    reverse_base: float | None = None,
    eps: float = 1e-6,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""MIX-ENT: cross entropy plus the swapped ("reverse") cross entropy (arXiv 2501.13709).

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}(q_i \to \hat p_i) + w_R\, s_i\, R_i, \qquad
              R_i = \mathrm{CE}(\hat p_i \to \max(q_i, \varepsilon)) = -\sum_c \hat p_{ic} \log \max(q'_{ic}, \varepsilon)

    Two identities (tested): for strictly positive targets (``q >= eps``) ``R = H(p_hat) + KL(p_hat || q)``,
    a minimum-entropy term plus a KL term with the roles of target and prediction swapped; for one-hot
    targets ``R = (1 - p_hat_y) log(1/eps)``, which makes MIX-ENT a form of symmetric cross entropy (Wang et
    al. 2019) with ``log 0 := log eps``. The reverse term is added with ``+reverse_weight``.

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...).
        target: class indices or probabilities (see :func:`cross_entropy`).
        ce_weight, reverse_weight: the weights w_ce and w_R.
        ce_base, reverse_base: logarithm base of each term (None: nats).
        eps: floor of the target inside the log, in (0, 1).
        weight, ignore_index, reduction, label_smoothing: as in :func:`cross_entropy`.

    Example:
        >>> import math, torch
        >>> from infoloss.functional import mixed_entropy_loss
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> value = mixed_entropy_loss(x, y, ce_weight=0.0, reverse_weight=1.0, eps=1e-6)
        >>> math.isclose(value.item(), 0.5 * math.log(1e6), rel_tol=1e-6)
        True
    """
    ce_coef = check_finite_number(ce_weight, "ce_weight") / log_base(ce_base, "ce_base")
    rev_coef = check_finite_number(reverse_weight, "reverse_weight") / log_base(reverse_base, "reverse_base")
    eps = check_open_unit(eps, "eps")
    return _ce_family(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce_coef=ce_coef,
        rev_coef=rev_coef,
        rev_log_eps=math.log(eps),
    )


# ------------------------------------------------------------------------------------------------ baselines
def symmetric_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = -4.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> Tensor:
    r"""Symmetric cross entropy (Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", 2019).

    .. math:: \ell_i = \alpha\, \mathrm{CE}_i + \beta\, s_i\, \mathrm{RCE}_i, \qquad
              \mathrm{RCE}_i = -\sum_c \hat p_{ic} \max(\log q'_{ic}, A)

    The reverse cross entropy needs ``log 0``; the paper sets it to the constant ``A = log_zero`` (default
    -4). More generally every ``log q`` is floored at ``A``, which leaves one-hot targets exactly as in the
    paper (RCE = -A (1 - p_y)) and keeps soft targets (label smoothing, probabilities) finite. This is
    :func:`mixed_entropy_loss` with ``eps = exp(log_zero)``.

    Args:
        input, target, weight, ignore_index, reduction, label_smoothing, base: as in :func:`cross_entropy`.
        alpha, beta: weights of CE and RCE (paper defaults for CIFAR-10: 0.1 and 1.0).
        log_zero: A < 0, the value used for log 0.

    Example:
        >>> import torch
        >>> from infoloss.functional import symmetric_cross_entropy
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> symmetric_cross_entropy(x, y, alpha=0.0, beta=1.0)   # -A (1 - p_y) = 4 * 0.5
        tensor(2.)
    """
    log_zero = check_finite_number(log_zero, "log_zero")
    if not log_zero < 0:
        raise ValueError(f"log_zero must be negative (it stands for log 0), got {log_zero!r}")
    scale = log_base(base)
    return _ce_family(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        ce_coef=check_finite_number(alpha, "alpha") / scale,
        rev_coef=check_finite_number(beta, "beta") / scale,
        rev_log_eps=log_zero,
    )


def _dense_target_rows(
    flat: Flat, weight: Tensor | None, ignore_index: int, label_smoothing: float, dtype: torch.dtype
) -> Tensor:
    """a_ic = w_c q'_ic, the per-class coefficients of CE's log-probabilities (0 for ignored rows)."""
    num_classes = flat.logits2d.shape[-1]
    q = _common.smoothed_target(flat.target, num_classes, label_smoothing, dtype, ignore_index)
    a = q if weight is None else q * weight.to(dtype)
    if not flat.prob_target:
        a = a * (flat.target != ignore_index).to(dtype).unsqueeze(-1)
    return a


def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> Tensor:
    r"""Multi-class focal loss (Lin et al., "Focal Loss for Dense Object Detection", 2017) on logits.

    .. math:: \ell_i = -\sum_c w_c\, q'_{ic}\, (1 - \hat p_{ic})^{\gamma} \log_b \hat p_{ic}

    For class-index targets without smoothing this is ``-w_y (1 - p_y)^gamma log p_y``; ``gamma = 0`` gives
    :func:`cross_entropy` exactly, and the 'mean' uses the same denominator. (Lin et al.'s alpha-balancing is
    the class ``weight``.) ``1 - p`` is computed as ``-expm1(log p)`` so confident predictions keep precision.

    Args:
        input, target, weight, ignore_index, reduction, label_smoothing, base: as in :func:`cross_entropy`.
        gamma: focusing parameter >= 0.

    Example:
        >>> import torch
        >>> from infoloss.functional import focal_loss, cross_entropy
        >>> x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
        >>> torch.allclose(focal_loss(x, y, gamma=0.0), cross_entropy(x, y))
        True
    """
    gamma = check_finite_number(gamma, "gamma")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    flat = flatten_input_target(input, target, ignore_index)
    weight = check_weight(weight, flat.logits2d.shape[-1], input)
    dtype = compute_dtype(input.dtype)
    logp = torch.log_softmax(flat.logits2d.to(dtype), dim=-1)
    a = _dense_target_rows(flat, weight, ignore_index, label_smoothing, dtype)
    # (1 - p)^gamma has an infinite derivative at p = 1 for gamma < 1: keep 1 - p >= tiny so saturated
    # predictions get a zero, not NaN, gradient.
    one_minus_p = (-torch.expm1(logp)).clamp_min(torch.finfo(dtype).tiny)
    modulator = one_minus_p.pow(gamma) if gamma != 0 else torch.ones_like(logp)
    rows = -xlogy_safe(a * modulator, logp).sum(-1) / log_base(base)
    return _reduce_rows(rows, flat, weight, ignore_index, reduction, loss_dtype(input))


def poly1_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    epsilon: float = 1.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> Tensor:
    r"""Poly-1 loss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
    Functions", ICLR 2022): cross entropy plus a weighted first polynomial term.

    .. math:: \ell_i = \mathrm{CE}_i + \epsilon\, s_i \left(1 - \sum_c q'_{ic} \hat p_{ic}\right) / \ln b

    ``sum_c q'_c p_c`` is the probability of the true class (``p_y`` for class indices without smoothing).
    ``epsilon = 0`` gives :func:`cross_entropy` exactly; ``epsilon = -1`` is the paper's lower bound.

    Args:
        input, target, weight, ignore_index, reduction, label_smoothing, base: as in :func:`cross_entropy`.
        epsilon: weight of the polynomial term.

    Example:
        >>> import torch
        >>> from infoloss.functional import poly1_cross_entropy
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> round(poly1_cross_entropy(x, y, epsilon=1.0).item(), 4)   # log 2 + (1 - 0.5)
        1.1931
    """
    epsilon = check_finite_number(epsilon, "epsilon")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    flat = flatten_input_target(input, target, ignore_index)
    weight = check_weight(weight, flat.logits2d.shape[-1], input)
    dtype = compute_dtype(input.dtype)
    logp = torch.log_softmax(flat.logits2d.to(dtype), dim=-1)
    ce = _common.ce_rows(logp, flat.target, weight, ignore_index, label_smoothing)
    q = _common.smoothed_target(flat.target, logp.shape[-1], label_smoothing, dtype, ignore_index)
    s = _common.sample_weights(flat.target, weight, ignore_index, dtype, logp.device)
    pt = (q * logp.exp()).sum(-1)
    rows = (ce + epsilon * s * (1.0 - pt)) / log_base(base)
    return _reduce_rows(rows, flat, weight, ignore_index, reduction, loss_dtype(input))
