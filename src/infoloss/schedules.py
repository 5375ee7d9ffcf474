r"""Per-epoch schedules for the regularizer weight (warm-up, then hold or decay).

Entropy minimization early in training can lock in confident mistakes; a common remedy is to start the
regularizer at 0 and warm it up. :func:`regularizer_weight` gives the weight for an epoch; pass it to a
loss module each epoch (``loss.entropy_weight = regularizer_weight(epoch, ...)``); this works for fixed
weights (the default, ``learnable=False``), in eager mode and under ``torch.compile``: on CPU the first
reassignment recompiles once (the weights built in are constants of the graph until then), and later
values are read at run time (only switching a term on or off at 0 compiles once more); on other devices
torch recompiles at most once, then reads the weight as a dynamic input. A
``learnable=True`` loss learns its weights and refuses the assignment with an AttributeError.
"""

from __future__ import annotations

import math

from infoloss._validation import check_finite_number

__all__ = ["regularizer_weight"]

_KINDS = ("constant", "linear", "cosine")


def _check_int(value: object, name: str) -> None:
    """TypeError unless ``value`` is an int (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")


def regularizer_weight(
    epoch: int,
    *,
    peak: float,
    warmup_epochs: int = 0,
    total_epochs: int | None = None,
    decay: str = "constant",
    final: float = 0.0,
) -> float:
    r"""Return the regularizer weight at ``epoch`` (0-based): linear warm-up to ``peak``, then hold or decay.

    .. math::
        w(e) = \text{peak} \cdot \frac{e + 1}{W} \quad (e < W), \qquad
        w(e) = \text{final} + (\text{peak} - \text{final})\, f\!\left(\frac{e - W}{\max(T - W - 1, 1)}\right)
        \quad (e \ge W)

    with ``W = warmup_epochs``, ``T = total_epochs`` and ``f(t) = 1`` (constant), ``1 - t`` (linear) or
    ``(1 + cos(pi t)) / 2`` (cosine), where ``t`` is clipped to 1. The first epoch after warm-up has
    ``peak``, the last epoch ``T - 1`` has ``final``, and epochs past ``T - 1`` stay at ``final``.

    Args:
        epoch: the epoch index, >= 0.
        peak: the weight after warm-up (may be negative, e.g. for a confidence penalty).
        warmup_epochs: epochs of linear warm-up from ``peak / W`` to ``peak``; 0 for none. Default 0.
        total_epochs: the run's length ``T``; required (and > ``warmup_epochs``) for ``'linear'`` and
            ``'cosine'`` decay. Default None.
        decay: ``'constant'`` | ``'linear'`` | ``'cosine'``. Default ``'constant'``.
        final: the weight at the last epoch when decaying. Default 0.0.

    Returns:
        The weight, a Python float.

    Every argument is checked on every call, so a bad setup fails at epoch 0, not once warm-up ends.

    Raises:
        TypeError: if ``epoch``, ``warmup_epochs`` or (when given) ``total_epochs`` is not an int (a bool
            included), ``peak`` or ``final`` is not a number, or ``decay`` is not a str.
        ValueError: if ``epoch < 0``, ``warmup_epochs < 0``, ``total_epochs < 1``, ``peak`` or ``final``
            is not finite, ``decay`` is not one of the three names, or ``decay`` is ``'linear'``/``'cosine'``
            and ``total_epochs`` is None or ``<= warmup_epochs``.

    Example:
        >>> from infoloss.schedules import regularizer_weight
        >>> [regularizer_weight(e, peak=0.1, warmup_epochs=2) for e in range(4)]
        [0.05, 0.1, 0.1, 0.1]
        >>> [round(regularizer_weight(e, peak=1.0, total_epochs=3, decay="linear"), 4) for e in range(3)]
        [1.0, 0.5, 0.0]
        >>> [round(regularizer_weight(e, peak=1.0, total_epochs=5, decay="cosine"), 4) for e in range(5)]
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """
    _check_int(epoch, "epoch")
    _check_int(warmup_epochs, "warmup_epochs")
    if total_epochs is not None:
        _check_int(total_epochs, "total_epochs")
    peak = check_finite_number(peak, "peak")
    final = check_finite_number(final, "final")
    if not isinstance(decay, str):
        raise TypeError(f"decay must be a str, one of {_KINDS}, got {type(decay).__name__} {decay!r}")
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
    if total_epochs is not None and total_epochs < 1:
        raise ValueError(f"total_epochs must be >= 1 or None, got {total_epochs}")
    if decay not in _KINDS:
        raise ValueError(f"decay must be one of {_KINDS}, got {decay!r}")
    if decay != "constant" and (total_epochs is None or total_epochs <= warmup_epochs):
        raise ValueError(
            f"decay={decay!r} needs total_epochs > warmup_epochs, got total_epochs={total_epochs}, "
            f"warmup_epochs={warmup_epochs}"
        )
    if epoch < warmup_epochs:
        return peak * (epoch + 1) / warmup_epochs
    if decay == "constant" or total_epochs is None:
        return peak
    span = max(total_epochs - warmup_epochs - 1, 1)
    t = min((epoch - warmup_epochs) / span, 1.0)
    f = 1.0 - t if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return final + (peak - final) * f
