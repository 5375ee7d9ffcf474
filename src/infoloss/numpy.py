"""Forward-only NumPy reference of :mod:`infoloss.functional`: the readable specification.

Every public function of ``infoloss.functional`` has a twin here with the same name, the same keywords and
the same semantics (the conventions below), plus :func:`cross_entropy_from_probs`, the textbook
"clip the probabilities, then take the log" form. Nothing here is fast or differentiable; it is meant to
be read next to the formulas, and the test-suite checks the PyTorch code against it.

Conventions (shared by every loss below):

* Class dimension: axis 1 for inputs with >= 2 dims ((N, C) or (N, C, d1, ...)), axis 0 for a 1-D
  input (C,). Internally the class axis is moved last, so a per-element result has the input's shape
  without the class axis.
* ``input`` holds **logits** unless the name says otherwise (:func:`information`,
  :func:`binary_cross_entropy` and :func:`cross_entropy_from_probs` take probabilities).
* ``target`` is either class indices (integer dtype, shape = input shape without the class axis) or class
  probabilities (floating dtype, same shape as ``input``). Booleans are rejected.
* ``base``: ``None`` = natural log (nats), 2 = bits, 10 = hartleys, any real ``b > 0``, ``b != 1``. A value
  in base ``b`` is the value in nats divided by ``ln(b)``.
* Per-element sample weight ``s_i``: ``weight[y_i]`` (1 without ``weight``, 0 where ``y_i ==
  ignore_index``) for class indices; ``sum_c weight[c] * q_ic`` for probability targets.
* ``reduction='mean'`` divides by ``sum_i s_i`` for class-index targets and by the number of elements
  (N * d1 * ...) for probability targets (torch's cross-entropy rule). A zero denominator (everything
  ignored, empty batch) gives 0.0 instead of torch's NaN.
* Label smoothing ``eps`` replaces the target by ``q' = (1 - eps) * q + eps / C``.
* ``0 * log 0 = 0`` everywhere.
* Everything is computed in float64 and returned as a float64 ``numpy.ndarray`` (0-d for 'mean'/'sum').
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_from_probs",
    "entropy",
    "focal_loss",
    "information",
    "kl_divergence",
    "min_entropy_loss",
    "mixed_entropy_loss",
    "poly1_cross_entropy",
    "symmetric_cross_entropy",
]

FloatArray = NDArray[np.float64]

_REDUCTIONS = ("none", "mean", "sum")
# torch.nn.functional.binary_cross_entropy clamps each log term at -100 so that p = 0 or 1 stays finite.
_BCE_LOG_FLOOR = -100.0


# --------------------------------------------------------------------------------------------------
# Validation helpers (the boundary: every public function calls these first)
# --------------------------------------------------------------------------------------------------


def _as_float_array(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array; rejects bool, complex, string and object inputs with a TypeError."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _check_reduction(reduction: str) -> None:
    """Raise ValueError unless ``reduction`` is 'none', 'mean' or 'sum'."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _ln_base(base: float | None, name: str = "base") -> float:
    """``ln(base)``, the divisor that turns nats into units of ``base`` (1.0 for ``base=None``)."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be None or a real number, got {type(base).__name__}")
    b = float(base)
    if not math.isfinite(b) or b <= 0 or b == 1:
        raise ValueError(f"{name} must be a finite number > 0 and != 1, got {base!r}")
    return math.log(b)


def _check_number(value: float, name: str) -> float:
    """A finite real scalar option (a loss weight, gamma, eps, ...), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_input(x: FloatArray, name: str = "input") -> int:
    """Check a class-dim input ((C,) or (N, C, ...)) and return the number of classes C."""
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension (the class dim), got a 0-d array")
    num_classes: int = x.shape[1] if x.ndim >= 2 else x.shape[0]
    if num_classes == 0:
        raise ValueError(f"{name} must have at least one class, got shape {x.shape}")
    return num_classes


def _class_last(x: FloatArray) -> FloatArray:
    """Move the class axis (1 for >= 2-D, 0 for 1-D) to the end: (N, C, d1, ...) -> (N, d1, ..., C)."""
    return np.moveaxis(x, 1, -1) if x.ndim >= 2 else x


def _shape_without_class(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-element shape: ``shape`` without the class axis (1 for >= 2-D, 0 for 1-D)."""
    return shape[:1] + shape[2:] if len(shape) >= 2 else ()


def _check_probabilities(p: FloatArray, name: str) -> None:
    """Raise ValueError naming the first entry of ``p`` outside [0, 1] or NaN."""
    bad = (p < 0) | (p > 1) | np.isnan(p)
    if np.any(bad):
        raise ValueError(f"{name} must be probabilities in [0, 1]; found {p[bad].flat[0]!r}")


def _check_label_smoothing(label_smoothing: float) -> float:
    """``label_smoothing`` as a float in [0, 1]; TypeError / ValueError otherwise."""
    ls = _check_number(label_smoothing, "label_smoothing")
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return ls


def _check_class_weight(weight: ArrayLike | None, num_classes: int) -> FloatArray:
    """The per-class weight vector (C,), all ones when ``weight`` is None."""
    if weight is None:
        return np.ones(num_classes)
    w = _as_float_array(weight, "weight")
    if w.shape != (num_classes,):
        raise ValueError(f"weight must be a 1-D array with one entry per class ({num_classes}), got shape {w.shape}")
    return w


def _is_class_index(target: np.ndarray) -> bool:
    """True for integer class indices, False for floating class probabilities; TypeError otherwise."""
    if target.dtype.kind in "iu":
        return True
    if target.dtype.kind == "f":
        return False
    raise TypeError(f"target must be integer class indices or floating class probabilities, got dtype {target.dtype}")


def _check_index_target(
    target: np.ndarray, input_shape: tuple[int, ...], num_classes: int, ignore_index: int | None
) -> np.ndarray:
    """Validate class indices; returns the boolean mask of elements that count (not ignored)."""
    expected = _shape_without_class(input_shape)
    if target.shape != expected:
        raise ValueError(
            f"class-index target must have the input shape without the class dim {expected}; "
            f"got target shape {target.shape} for input shape {input_shape}"
        )
    valid = np.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index
    bad = valid & ((target < 0) | (target >= num_classes))
    if np.any(bad):
        raise ValueError(
            f"class index {target[bad].flat[0]} is out of range for {num_classes} classes "
            f"(valid: 0..{num_classes - 1}" + ("" if ignore_index is None else f" or ignore_index={ignore_index}") + ")"
        )
    return valid


def _check_broadcasts(arr: FloatArray, shape: tuple[int, ...], name: str) -> None:
    """``arr`` must broadcast to ``shape`` without changing it (as torch's ``weight`` / ``pos_weight``)."""
    try:
        ok = np.broadcast_shapes(arr.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} of shape {arr.shape} does not broadcast to input shape {shape}")


def _check_prob_target(target: np.ndarray, input_shape: tuple[int, ...]) -> FloatArray:
    """Validate a probability target (input's shape, non-negative, no NaN) and return it as float64."""
    if target.shape != input_shape:
        raise ValueError(f"probability target must have the same shape as input {input_shape}, got {target.shape}")
    q = target.astype(np.float64)
    bad = (q < 0) | np.isnan(q)
    if np.any(bad):
        raise ValueError(f"probability target must be non-negative (and not NaN), found {q[bad].flat[0]!r}")
    return q


# --------------------------------------------------------------------------------------------------
# Math helpers
# --------------------------------------------------------------------------------------------------


def _log_softmax(z: FloatArray) -> FloatArray:
    """Stable ``log softmax`` over the last axis: subtracting the max keeps ``exp`` from overflowing."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    logp: FloatArray = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return logp


def _xlogy(x: FloatArray, log_y: FloatArray) -> FloatArray:
    """``x * log_y`` with ``0 * log 0 = 0`` (``log_y`` may be ``-inf`` where ``x == 0``)."""
    with np.errstate(invalid="ignore"):
        return np.where(x == 0, 0.0, x * log_y)


def _entropy_from_logp(logp: FloatArray) -> FloatArray:
    """``H = -sum_c p_c log p_c`` over the last axis."""
    h: FloatArray = -np.sum(_xlogy(np.exp(logp), logp), axis=-1)
    return h


def _reduce(loss: FloatArray, reduction: str, denominator: float) -> FloatArray:
    """'none' -> ``loss``; 'sum' -> its sum; 'mean' -> sum / denominator (0.0 when the denominator is 0)."""
    if reduction == "none":
        return np.asarray(loss, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    total = float(np.sum(loss)) + 0.0
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / denominator if denominator != 0 else 0.0)


class _Batch(NamedTuple):
    """Everything the cross-entropy family needs, with the class axis last."""

    logp: FloatArray  # (..., C) log softmax(input)
    q: FloatArray  # (..., C) smoothed dense target q' (zeros on ignored elements)
    w: FloatArray  # (C,) class weights
    s: FloatArray  # (...) per-element sample weight s_i
    denominator: float  # the 'mean' denominator


def _prepare(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None, ignore_index: int, label_smoothing: float
) -> _Batch:
    """Validate a (logits, target) pair of the cross-entropy family and build the dense target."""
    x = _as_float_array(input, "input")
    num_classes = _check_input(x)
    t = np.asarray(target)
    w = _check_class_weight(weight, num_classes)
    ls = _check_label_smoothing(label_smoothing)
    logp = _log_softmax(_class_last(x))
    if _is_class_index(t):
        valid = _check_index_target(t, x.shape, num_classes, ignore_index)
        safe = np.where(valid, t, 0)
        one_hot = np.eye(num_classes)[safe]
        s = np.where(valid, w[safe], 0.0)
        q = (1.0 - ls) * one_hot + ls / num_classes
        q = np.where(valid[..., None], q, 0.0)
        denominator = float(np.sum(s))
    else:
        q = _class_last(_check_prob_target(t, x.shape))
        s = np.sum(w * q, axis=-1)
        q = (1.0 - ls) * q + ls / num_classes
        denominator = float(s.size)
    return _Batch(logp=logp, q=q, w=w, s=s, denominator=denominator)


def _ce_per_element(b: _Batch) -> FloatArray:
    """torch's per-element cross entropy in nats: ``-sum_c w_c q'_c log p_c``.

    For class indices with smoothing this is exactly torch's
    ``(1 - eps) w_y (-log p_y) + eps / C sum_c w_c (-log p_c)`` (expand ``q' = (1 - eps) onehot + eps / C``).
    """
    ce: FloatArray = -np.sum(b.w * _xlogy(b.q, b.logp), axis=-1)
    return ce


def _reverse_ce_per_element(b: _Batch, log_floor: float) -> FloatArray:
    """Swapped cross entropy ``R = -sum_c p_c log max(q'_c, exp(log_floor))`` in nats."""
    log_q = np.log(np.maximum(b.q, math.exp(log_floor)))
    rev: FloatArray = -np.sum(np.exp(b.logp) * log_q, axis=-1)
    return rev


# --------------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------------


def information(probs: ArrayLike, *, base: float | None = None) -> FloatArray:
    r"""Return the self-information (surprisal) of each probability, elementwise.

    .. math::
        I(p) = -\log_b p

    so ``I(1) = 0`` and ``I(0) = inf``.

    Args:
        probs: probabilities in [0, 1], any shape; any real dtype (computed in float64).
        base: logarithm base ``b``: None (nats), 2 (bits), 10 (hartleys) or any finite ``b > 0``, ``b != 1``.
            Default None.

    Returns:
        float64 array of ``probs``' shape.

    Raises:
        TypeError: if ``probs`` does not hold real numbers (e.g. bool or complex), or ``base`` is not None
            or a real number.
        ValueError: if a probability is outside [0, 1] or NaN, or ``base`` is not finite, ``<= 0`` or 1.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import information
        >>> print(np.round(information([1.0, 0.5, 0.25], base=2), 4))
        [0. 1. 2.]

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
    """
    ln_b = _ln_base(base)
    p = _as_float_array(probs, "probs")
    _check_probabilities(p, "probs")
    with np.errstate(divide="ignore"):
        return -np.log(p) / ln_b + 0.0  # + 0.0 turns -0.0 (for p = 1) into 0.0


def entropy(
    logits: ArrayLike | None = None,
    *,
    probs: ArrayLike | None = None,
    base: float | None = None,
    reduction: str = "none",
) -> FloatArray:
    r"""Return the Shannon entropy of a categorical distribution over the class dim.

    .. math::
        H(p) = -\sum_c p_c \log_b p_c

    with ``p = softmax(logits)``, or ``probs`` as given (not renormalized), and ``0 log 0 = 0``.

    Args:
        logits: unnormalized log-probabilities, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
            Pass exactly one of ``logits`` and ``probs``.
        probs: probabilities of the same shapes, each in [0, 1] (each row should sum to 1).
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.
        reduction: ``'none'`` | ``'mean'`` (over the elements) | ``'sum'``. Default ``'none'``.

    Returns:
        float64 array: the input's shape without the class dim (``'none'``; 0-d for a ``(C,)`` input), or
        0-d (``'mean'``/``'sum'``).

    Raises:
        ValueError: if both or neither of ``logits`` and ``probs`` are given, ``reduction`` or ``base`` is
            invalid, the input is 0-d or has no class, or a probability is outside [0, 1] or NaN.
        TypeError: if the input does not hold real numbers, or ``base`` is not None or a real number.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import entropy
        >>> print(np.round(entropy([2.0, 1.0, 0.1]), 4))  # softmax [0.659, 0.2424, 0.0986], in nats
        0.8467
        >>> print(np.round(entropy(probs=[[0.5, 0.5], [1.0, 0.0]], base=2), 4))
        [1. 0.]

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
    """
    if (logits is None) == (probs is None):
        raise ValueError("pass exactly one of logits or probs")
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    if logits is not None:
        x = _as_float_array(logits, "logits")
        _check_input(x, "logits")
        h = _entropy_from_logp(_log_softmax(_class_last(x)))
    elif probs is not None:
        p = _as_float_array(probs, "probs")
        _check_input(p, "probs")
        _check_probabilities(p, "probs")
        p = _class_last(p)
        with np.errstate(divide="ignore"):
            h = -np.sum(_xlogy(p, np.log(p)), axis=-1)
    h = h / ln_b
    return _reduce(h, reduction, float(h.size))


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    base: float | None = None,
) -> FloatArray:
    r"""Return the cross entropy between the target distribution and ``softmax(input)`` (torch's semantics).

    Per element, with ``p = softmax(input)`` over the class dim and ``q'`` the (smoothed) one-hot or
    probability target:

    .. math::
        \mathrm{CE}_i = -\frac{1}{\ln b} \sum_c w_c\, q'_{ic} \log p_{ic}, \qquad
        q' = (1 - \varepsilon)\, q + \varepsilon / C

    For class indices this is ``(1 - eps) w_y (-log p_y) + eps / C sum_c w_c (-log p_c)``, and 0 where
    ``y == ignore_index``. ``'mean'`` divides by ``sum_i w[y_i]`` over the non-ignored elements (class
    indices) or by the number of elements (probability targets); a zero denominator gives 0.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices, shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)``, integer dtype; or
            probabilities shaped as ``input``, floating dtype.
        weight: per-class weights, shape ``(C,)``. Default None (all ones).
        ignore_index: class index that contributes nothing (class-index targets only). Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps`` in [0, 1]. Default 0.0.
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if ``input`` or ``weight`` does not hold real numbers, ``target`` is neither integer nor
            floating (e.g. bool), or ``base``/``label_smoothing`` is not a number.
        ValueError: if ``reduction``, ``base`` or ``label_smoothing`` is invalid, ``input`` is 0-d or has no
            class, ``weight`` is not ``(C,)``, a class-index target has the wrong shape or an index outside
            ``0..C-1`` (other than ``ignore_index``), or a probability target has the wrong shape or a
            negative/NaN entry.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import cross_entropy
        >>> logits = np.log([[0.1, 0.1, 0.8]])  # softmax gives back [0.1, 0.1, 0.8]
        >>> print(np.round(cross_entropy(logits, [2]), 4))  # -ln 0.8
        0.2231
        >>> print(np.round(cross_entropy(logits, [2], base=2), 4))  # -log2 0.8
        0.3219

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
        - C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016 (label
          smoothing). https://arxiv.org/abs/1512.00567
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    return _reduce(_ce_per_element(b) / ln_b, reduction, b.denominator)


def cross_entropy_from_probs(
    probs: ArrayLike, target: ArrayLike, *, eps: float = 1e-15, reduction: str = "mean", base: float | None = None
) -> FloatArray:
    r"""Return the textbook cross entropy of already-softmaxed probabilities, clipped to ``[eps, 1 - eps]``.

    .. math::
        \ell_i = -\sum_c q_{ic} \log_b \operatorname{clip}(p_{ic}, \varepsilon, 1 - \varepsilon)

    ``'mean'`` averages over the elements (``N * d_1 * ... * d_K``).

    The clipping keeps ``log 0`` finite but biases the result: a probability below ``eps`` is scored as
    ``eps`` (the loss is capped at ``-log eps`` instead of ``inf``), and one above ``1 - eps`` is scored
    as ``1 - eps`` (a perfect prediction costs ``-log(1 - eps) > 0``). Prefer :func:`cross_entropy` on
    logits: ``log_softmax`` is computed exactly and stably without any clipping, and it is what you
    differentiate through when training.

    Args:
        probs: probabilities, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, each in [0, 1].
        target: class indices (integer, ``probs``' shape without the class dim) or one-hot / probability
            targets (floating, ``probs``' shape).
        eps: clipping margin, ``0 < eps < 0.5`` (so that ``[eps, 1 - eps]`` is a proper interval).
            Default 1e-15.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or ``probs``' shape without the class dim (``'none'``).

    Raises:
        TypeError: if ``probs`` does not hold real numbers, ``target`` is neither integer nor floating, or
            ``eps``/``base`` is not a number.
        ValueError: if ``reduction``, ``base`` or ``eps`` is invalid, ``probs`` is 0-d, has no class or an
            entry outside [0, 1], or ``target`` has the wrong shape, an index outside ``0..C-1`` or a
            negative/NaN probability.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import cross_entropy_from_probs
        >>> probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
        >>> print(np.round(cross_entropy_from_probs(probs, np.eye(3)), 4))  # mean(-ln [0.7, 0.8, 0.6])
        0.3635
        >>> print(np.round(cross_entropy_from_probs(probs, [0, 1, 2], base=2), 4))
        0.5245

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    eps = _check_number(eps, "eps")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must satisfy 0 < eps < 0.5 (clip interval [eps, 1 - eps]), got {eps!r}")
    p = _as_float_array(probs, "probs")
    num_classes = _check_input(p, "probs")
    _check_probabilities(p, "probs")
    t = np.asarray(target)
    if _is_class_index(t):
        _check_index_target(t, p.shape, num_classes, ignore_index=None)
        q = np.eye(num_classes)[t]
    else:
        q = _class_last(_check_prob_target(t, p.shape))
    log_p = np.log(np.clip(_class_last(p), eps, 1.0 - eps))
    loss = -np.sum(q * log_p, axis=-1) / ln_b
    return _reduce(loss, reduction, float(loss.size))


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    *,
    base: float | None = None,
) -> FloatArray:
    r"""Return the binary cross entropy between target ``y`` and predicted probability ``x``, elementwise.

    .. math::
        \ell = -\frac{w}{\ln b} \bigl[y \max(\log x, -100) + (1 - y) \max(\log(1 - x), -100)\bigr]

    Each log is clamped at -100, as torch does, so that ``x = 0`` or 1 gives a finite loss. ``'mean'``
    averages over all elements (``weight`` is not in the denominator).

    Args:
        input: probabilities ``x`` in [0, 1], any shape.
        target: targets ``y`` in [0, 1], ``input``'s shape.
        weight: weight ``w`` broadcastable to ``input``'s shape (without changing it). Default None (1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.

    Returns:
        float64 array: ``input``'s shape (``'none'``) or 0-d (``'mean'``/``'sum'``).

    Raises:
        TypeError: if ``input``, ``target`` or ``weight`` does not hold real numbers, or ``base`` is not a
            number.
        ValueError: if ``reduction`` or ``base`` is invalid, ``input`` or ``target`` has an entry outside
            [0, 1] or NaN, the shapes differ, or ``weight`` does not broadcast to ``input``'s shape.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import binary_cross_entropy
        >>> print(np.round(binary_cross_entropy([0.8, 0.1], [1.0, 0.0], reduction="none"), 4))  # -ln 0.8, -ln 0.9
        [0.2231 0.1054]
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    x = _as_float_array(input, "input")
    _check_probabilities(x, "input")
    y = _as_float_array(target, "target")
    if y.shape != x.shape:
        raise ValueError(f"target shape {y.shape} must equal input shape {x.shape}")
    _check_probabilities(y, "target")
    w = np.ones(()) if weight is None else _as_float_array(weight, "weight")
    _check_broadcasts(w, x.shape, "weight")
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), _BCE_LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-x), _BCE_LOG_FLOOR)
    loss = -w * (y * log_x + (1.0 - y) * log_1mx) / ln_b
    return _reduce(loss, reduction, float(loss.size))


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
    *,
    base: float | None = None,
) -> FloatArray:
    r"""Return the binary cross entropy on logits ``x`` (torch's semantics, including ``pos_weight``).

    Per element, with ``softplus(z) = log(1 + e^z)`` evaluated stably as ``logaddexp(0, z)``:

    .. math::
        \ell = -w \bigl[p_w\, y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))\bigr] / \ln b
             = w \bigl[p_w\, y \operatorname{softplus}(-x) + (1 - y) \operatorname{softplus}(x)\bigr] / \ln b

    using ``log sigmoid(x) = -softplus(-x)`` and ``log(1 - sigmoid(x)) = -softplus(x)``. ``'mean'``
    averages over all elements.

    Args:
        input: logits ``x``, any shape.
        target: targets ``y`` in [0, 1], ``input``'s shape.
        weight: weight ``w`` broadcastable to ``input``'s shape (without changing it). Default None (1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        pos_weight: weight ``p_w`` of the positive term, broadcastable to ``input``'s shape (typically
            ``(C,)`` against the last dim). Default None (1).
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.

    Returns:
        float64 array: ``input``'s shape (``'none'``) or 0-d (``'mean'``/``'sum'``).

    Raises:
        TypeError: if ``input``, ``target``, ``weight`` or ``pos_weight`` does not hold real numbers, or
            ``base`` is not a number.
        ValueError: if ``reduction`` or ``base`` is invalid, the shapes differ, ``target`` has an entry
            outside [0, 1] or NaN, or ``weight``/``pos_weight`` does not broadcast to ``input``'s shape.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import binary_cross_entropy_with_logits
        >>> print(np.round(binary_cross_entropy_with_logits([0.0, 0.0], [1.0, 0.0], reduction="none"), 4))
        [0.6931 0.6931]
        >>> print(np.round(binary_cross_entropy_with_logits([0.0], [1.0], pos_weight=[3.0]), 4))  # 3 ln 2
        2.0794
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    x = _as_float_array(input, "input")
    y = _as_float_array(target, "target")
    if y.shape != x.shape:
        raise ValueError(f"target shape {y.shape} must equal input shape {x.shape}")
    _check_probabilities(y, "target")
    w = np.ones(()) if weight is None else _as_float_array(weight, "weight")
    _check_broadcasts(w, x.shape, "weight")
    pw = np.ones(()) if pos_weight is None else _as_float_array(pos_weight, "pos_weight")
    _check_broadcasts(pw, x.shape, "pos_weight")
    pos_term = _xlogy(pw * y, -np.logaddexp(0.0, -x))  # pw * y * log sigmoid(x), 0 where y == 0
    neg_term = _xlogy(1.0 - y, -np.logaddexp(0.0, x))  # (1 - y) * log(1 - sigmoid(x)), 0 where y == 1
    loss = -w * (pos_term + neg_term) / ln_b
    return _reduce(loss, reduction, float(loss.size))


def kl_divergence(
    input: ArrayLike, target: ArrayLike, *, reduction: str = "mean", base: float | None = None, log_target: bool = False
) -> FloatArray:
    r"""Return the Kullback-Leibler divergence ``KL(q || p)`` of ``p = softmax(input)`` from the target ``q``.

    .. math::
        \mathrm{KL}_i = \max\Bigl(0,\ \sum_c q_{ic} (\log q_{ic} - \log p_{ic})\Bigr) / \ln b

    over the class dim, with ``0 log 0 = 0``; the clamp at 0 removes rounding residue (the sum is
    ``>= 0`` whenever ``q`` sums to 1). Unlike ``torch.nn.functional.kl_div``, ``input`` is logits and
    the sum over classes is part of the definition: ``'mean'`` averages the per-element divergences over
    the elements (``N * d_1 * ... * d_K``).

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: probabilities ``q`` shaped as ``input``, floating; with ``log_target=True``,
            log-probabilities ``log q``. (For class indices, ``KL(onehot || p) = -log p_y``: use
            :func:`cross_entropy`.)
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: None (nats), 2 (bits), 10, or any finite ``b > 0``, ``b != 1``. Default None.
        log_target: whether ``target`` holds log-probabilities. Default False.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if ``input`` does not hold real numbers, ``target`` is not floating, or ``base`` is not
            a number.
        ValueError: if ``reduction`` or ``base`` is invalid, ``input`` is 0-d or has no class, ``target``
            is not shaped as ``input``, or (``log_target=False``) ``target`` has a negative or NaN entry.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import kl_divergence
        >>> print(np.round(kl_divergence([0.0, 0.0], [1.0, 0.0], base=2), 4))  # KL([1, 0] || [0.5, 0.5])
        1.0

    References:
        - S. Kullback, R. A. Leibler, "On Information and Sufficiency", Ann. Math. Statist., 1951.
          https://doi.org/10.1214/aoms/1177729694
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    x = _as_float_array(input, "input")
    _check_input(x)
    logp = _log_softmax(_class_last(x))
    t = np.asarray(target)
    if t.dtype.kind != "f":
        raise TypeError(f"target must hold floating (log-)probabilities, got dtype {t.dtype}")
    if log_target:
        if t.shape != x.shape:
            raise ValueError(f"log-probability target must have the input shape {x.shape}, got {t.shape}")
        log_q = _class_last(t.astype(np.float64))
    else:
        with np.errstate(divide="ignore"):
            log_q = np.log(_class_last(_check_prob_target(t, x.shape)))
    with np.errstate(invalid="ignore"):
        kl = np.sum(_xlogy(np.exp(log_q), log_q - logp), axis=-1)
    # KL >= 0 for distributions; the clamp removes rounding residue such as -1e-17 where p == q.
    kl = np.maximum(kl, 0.0) / ln_b
    return _reduce(kl, reduction, float(kl.size))


def min_entropy_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    ce_weight: float = 1.0,
    entropy_weight: float = 0.1,
    ce_base: float | None = None,
    entropy_base: float | None = None,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> FloatArray:
    r"""Return MIN-ENT: cross entropy plus a minimum-entropy regularizer on the prediction.

    .. math::
        \ell_i = \lambda_{\mathrm{ce}} \frac{\mathrm{CE}_i}{\ln b_{\mathrm{ce}}}
               + \lambda_H\, s_i \frac{H(p_i)}{\ln b_H}, \qquad H(p) = -\sum_c p_c \log p_c

    with ``CE_i`` as in :func:`cross_entropy` (nats), ``p = softmax(input)`` and ``s_i`` the sample
    weight (``weight[y_i]``, 0 for ignored elements). ``'mean'`` uses :func:`cross_entropy`'s
    denominator. A negative ``entropy_weight`` is the confidence penalty of Pereyra et al. (2017).

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices (integer, the input's shape without the class dim) or probabilities (floating,
            shaped as ``input``).
        ce_weight: ``lambda_ce``, the weight of the cross-entropy term. Default 1.0.
        entropy_weight: ``lambda_H``, the weight of the entropy term (may be negative). Default 0.1.
        ce_base: logarithm base of the cross-entropy term (None = nats). Default None.
        entropy_base: logarithm base of the entropy term (None = nats). Default None.
        weight: per-class weights, shape ``(C,)``. Default None.
        ignore_index: class index that contributes nothing. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps`` in [0, 1], applied to the cross-entropy target. Default 0.0.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if an array does not hold real numbers, ``target`` is neither integer nor floating, or a
            weight, base or ``label_smoothing`` is not a number.
        ValueError: if ``reduction``, a base, a weight (not finite) or ``label_smoothing`` is invalid, or the
            input/target/``weight`` fail :func:`cross_entropy`'s checks.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import min_entropy_loss
        >>> logits = np.log([[0.5, 0.25, 0.25]])
        >>> loss = min_entropy_loss(logits, [0], entropy_weight=1.0, ce_base=2, entropy_base=2)
        >>> print(np.round(loss, 4))  # 1 bit of cross entropy + 1.5 bits of entropy
        2.5

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - G. Pereyra et al., "Regularizing Neural Networks by Penalizing Confident Output Distributions",
          2017. https://arxiv.org/abs/1701.06548
    """
    _check_reduction(reduction)
    ln_ce, ln_ent = _ln_base(ce_base, "ce_base"), _ln_base(entropy_base, "entropy_base")
    ce_weight = _check_number(ce_weight, "ce_weight")
    entropy_weight = _check_number(entropy_weight, "entropy_weight")
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    loss = ce_weight * _ce_per_element(b) / ln_ce + entropy_weight * b.s * _entropy_from_logp(b.logp) / ln_ent
    return _reduce(loss, reduction, b.denominator)


def mixed_entropy_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    ce_weight: float = 1.0,
    reverse_weight: float = 0.1,
    ce_base: float | None = None,
    reverse_base: float | None = None,
    eps: float = 1e-6,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> FloatArray:
    r"""Return MIX-ENT: cross entropy plus the swapped (reverse) cross entropy.

    .. math::
        \ell_i = \lambda_{\mathrm{ce}} \frac{\mathrm{CE}_i}{\ln b_{\mathrm{ce}}}
               + \lambda_R\, s_i \frac{R_i}{\ln b_R}, \qquad
        R_i = -\sum_c p_{ic} \log \max(q'_{ic}, \varepsilon)

    with ``CE_i`` as in :func:`cross_entropy`, ``q'`` the (smoothed) target and ``s_i`` the sample weight.
    For a strictly positive ``q'`` (``> eps``), ``R = H(p) + KL(p || q')``: a minimum-entropy term plus
    the KL with the roles of target and prediction swapped. For a one-hot target,
    ``R = (1 - p_y) log(1 / eps)``. ``'mean'`` uses :func:`cross_entropy`'s denominator.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices (integer, the input's shape without the class dim) or probabilities (floating,
            shaped as ``input``).
        ce_weight: ``lambda_ce``, the weight of the cross-entropy term. Default 1.0.
        reverse_weight: ``lambda_R``, the weight of the reverse term. Default 0.1.
        ce_base: logarithm base of the cross-entropy term (None = nats). Default None.
        reverse_base: logarithm base of the reverse term (None = nats). Default None.
        eps: floor of the target inside the log, ``0 < eps < 1``. Default 1e-6.
        weight: per-class weights, shape ``(C,)``. Default None.
        ignore_index: class index that contributes nothing. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps_ls`` in [0, 1]; the target becomes ``(1 - eps_ls) q + eps_ls / C``. Default 0.0.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if an array does not hold real numbers, ``target`` is neither integer nor floating, or a
            weight, base, ``eps`` or ``label_smoothing`` is not a number.
        ValueError: if ``reduction``, a base, a weight (not finite), ``label_smoothing`` or ``eps`` (not in
            (0, 1)) is invalid, or the input/target/``weight`` fail :func:`cross_entropy`'s checks.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import mixed_entropy_loss
        >>> logits = np.log([[0.5, 0.25, 0.25]])
        >>> loss = mixed_entropy_loss(logits, [0], reverse_weight=1.0, eps=0.5**10, ce_base=2, reverse_base=2)
        >>> print(np.round(loss, 4))  # 1 bit + (1 - 0.5) * 10 bits
        6.0

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
    """
    _check_reduction(reduction)
    ln_ce, ln_rev = _ln_base(ce_base, "ce_base"), _ln_base(reverse_base, "reverse_base")
    ce_weight = _check_number(ce_weight, "ce_weight")
    reverse_weight = _check_number(reverse_weight, "reverse_weight")
    eps = _check_number(eps, "eps")
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must satisfy 0 < eps < 1, got {eps!r}")
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    rev = _reverse_ce_per_element(b, math.log(eps))
    loss = ce_weight * _ce_per_element(b) / ln_ce + reverse_weight * b.s * rev / ln_rev
    return _reduce(loss, reduction, b.denominator)


def symmetric_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = -4.0,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> FloatArray:
    r"""Return the symmetric cross entropy: CE plus reverse CE with ``log 0`` replaced by ``log_zero``.

    .. math::
        \ell_i = \bigl(\alpha\, \mathrm{CE}_i + \beta\, s_i R_i\bigr) / \ln b, \qquad
        R_i = -\sum_c p_{ic} \log \max(q'_{ic}, e^{A})

    with ``A = log_zero``, ``CE_i`` as in :func:`cross_entropy` (nats), ``q'`` the (smoothed) target and
    ``s_i`` the sample weight; for a one-hot target ``R_i = -A (1 - p_y)``. ``'mean'`` uses
    :func:`cross_entropy`'s denominator.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices (integer, the input's shape without the class dim) or probabilities (floating,
            shaped as ``input``).
        alpha: weight of the cross-entropy term. Default 0.1.
        beta: weight of the reverse term. Default 1.0.
        log_zero: the value ``A < 0`` that stands for ``log 0`` (Wang et al. use -4). Default -4.0.
        weight: per-class weights, shape ``(C,)``. Default None.
        ignore_index: class index that contributes nothing. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps`` in [0, 1]. Default 0.0.
        base: logarithm base of the whole loss: None (nats), 2 (bits), ... Default None.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if an array does not hold real numbers, ``target`` is neither integer nor floating, or
            ``alpha``, ``beta``, ``log_zero``, ``base`` or ``label_smoothing`` is not a number.
        ValueError: if ``reduction``, ``base``, ``label_smoothing``, ``alpha``/``beta`` (not finite) or
            ``log_zero`` (not a finite negative number) is invalid, or the input/target/``weight`` fail
            :func:`cross_entropy`'s checks.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import symmetric_cross_entropy
        >>> logits = np.log([[0.5, 0.25, 0.25]])
        >>> print(np.round(symmetric_cross_entropy(logits, [0], alpha=0.0, beta=1.0), 4))  # 4 * (1 - 0.5)
        2.0

    References:
        - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
          https://arxiv.org/abs/1908.06112
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    alpha, beta = _check_number(alpha, "alpha"), _check_number(beta, "beta")
    log_zero = _check_number(log_zero, "log_zero")
    if not log_zero < 0:
        raise ValueError(f"log_zero must be negative (it stands for log 0), got {log_zero!r}")
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    loss = (alpha * _ce_per_element(b) + beta * b.s * _reverse_ce_per_element(b, log_zero)) / ln_b
    return _reduce(loss, reduction, b.denominator)


def focal_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    gamma: float = 2.0,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> FloatArray:
    r"""Return the focal loss, in its multi-class form with soft targets.

    .. math::
        \ell_i = -\frac{1}{\ln b} \sum_c w_c\, q'_{ic} (1 - p_{ic})^{\gamma} \log p_{ic}

    with ``p = softmax(input)`` and ``q'`` the (smoothed) target; ``gamma = 0`` gives
    :func:`cross_entropy`. ``1 - p`` is computed as ``-expm1(log p)``, exact even when ``p`` is within
    rounding of 1. ``'mean'`` uses :func:`cross_entropy`'s denominator.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices (integer, the input's shape without the class dim) or probabilities (floating,
            shaped as ``input``).
        gamma: focusing parameter, ``>= 0``. Default 2.0.
        weight: per-class weights ``w``, shape ``(C,)``. Default None.
        ignore_index: class index that contributes nothing. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps`` in [0, 1]. Default 0.0.
        base: logarithm base: None (nats), 2 (bits), ... Default None.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if an array does not hold real numbers, ``target`` is neither integer nor floating, or
            ``gamma``, ``base`` or ``label_smoothing`` is not a number.
        ValueError: if ``reduction``, ``base``, ``label_smoothing`` or ``gamma`` (not finite, or negative) is
            invalid, or the input/target/``weight`` fail :func:`cross_entropy`'s checks.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import focal_loss
        >>> logits = np.log([[0.5, 0.25, 0.25]])
        >>> print(np.round(focal_loss(logits, [0], gamma=2.0, base=2), 4))  # (1 - 0.5)^2 * 1 bit
        0.25

    References:
        - T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. https://arxiv.org/abs/1708.02002
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    gamma = _check_number(gamma, "gamma")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    # 1 - p computed as -expm1(log p): exact even when p is within rounding of 1.
    modulating = (-np.expm1(b.logp)) ** gamma
    loss = -np.sum(b.w * modulating * _xlogy(b.q, b.logp), axis=-1) / ln_b
    return _reduce(loss, reduction, b.denominator)


def poly1_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    *,
    epsilon: float = 1.0,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    base: float | None = None,
) -> FloatArray:
    r"""Return the Poly-1 cross entropy: CE plus ``epsilon`` times the first polynomial term.

    .. math::
        \ell_i = \Bigl(\mathrm{CE}_i + \epsilon\, s_i \bigl(1 - \sum_c q'_{ic} p_{ic}\bigr)\Bigr) / \ln b

    with ``CE_i`` as in :func:`cross_entropy` (nats), ``q'`` the (smoothed) target and ``s_i`` the sample
    weight; for a one-hot target the bracket is ``1 - p_y``. The whole loss (the polynomial term too) is
    divided by ``ln(base)``. ``'mean'`` uses :func:`cross_entropy`'s denominator.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``.
        target: class indices (integer, the input's shape without the class dim) or probabilities (floating,
            shaped as ``input``).
        epsilon: coefficient of the polynomial term (may be negative). Default 1.0.
        weight: per-class weights, shape ``(C,)``. Default None.
        ignore_index: class index that contributes nothing. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: ``eps`` in [0, 1]. Default 0.0.
        base: logarithm base: None (nats), 2 (bits), ... Default None.

    Returns:
        float64 array: 0-d (``'mean'``/``'sum'``), or the input's shape without the class dim (``'none'``).

    Raises:
        TypeError: if an array does not hold real numbers, ``target`` is neither integer nor floating, or
            ``epsilon``, ``base`` or ``label_smoothing`` is not a number.
        ValueError: if ``reduction``, ``base``, ``label_smoothing`` or ``epsilon`` (not finite) is invalid, or
            the input/target/``weight`` fail :func:`cross_entropy`'s checks.

    Example:
        >>> import numpy as np
        >>> from infoloss.numpy import poly1_cross_entropy
        >>> logits = np.log([[0.5, 0.25, 0.25]])
        >>> print(np.round(poly1_cross_entropy(logits, [0], epsilon=1.0), 4))  # ln 2 + (1 - 0.5)
        1.1931

    References:
        - Z. Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
          ICLR 2022. https://arxiv.org/abs/2204.12511
    """
    _check_reduction(reduction)
    ln_b = _ln_base(base)
    epsilon = _check_number(epsilon, "epsilon")
    b = _prepare(input, target, weight, ignore_index, label_smoothing)
    p_true = np.sum(b.q * np.exp(b.logp), axis=-1)
    loss = (_ce_per_element(b) + epsilon * b.s * (1.0 - p_true)) / ln_b
    return _reduce(loss, reduction, b.denominator)
