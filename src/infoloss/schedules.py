r"""Per-epoch schedules for the regularizer weight (warm-up, then hold or decay).

Entropy minimization early in training can lock in confident mistakes; a common remedy is to start the
regularizer at 0 and warm it up. :func:`regularizer_weight` gives the weight for an epoch; pass it to a
loss module each epoch (``loss.entropy_weight = regularizer_weight(epoch, ...)``); this works for fixed
weights (the default, ``learnable=False``). A ``learnable=True`` loss learns its weights and refuses the
assignment with an AttributeError.
"""

from __future__ import annotations

import math

__all__ = ["regularizer_weight"]

_KINDS = ("constant", "linear", "cosine")


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

    Raises:
        ValueError: if ``epoch < 0``, ``warmup_epochs < 0``, ``decay`` is not one of the three names, or
            (for an epoch past the warm-up) ``decay`` is ``'linear'``/``'cosine'`` and ``total_epochs`` is
            None or ``<= warmup_epochs``.

    Example:
        >>> from infoloss.schedules import regularizer_weight
        >>> [regularizer_weight(e, peak=0.1, warmup_epochs=2) for e in range(4)]
        [0.05, 0.1, 0.1, 0.1]
        >>> [round(regularizer_weight(e, peak=1.0, total_epochs=3, decay="linear"), 4) for e in range(3)]
        [1.0, 0.5, 0.0]
        >>> [round(regularizer_weight(e, peak=1.0, total_epochs=5, decay="cosine"), 4) for e in range(5)]
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
    if decay not in _KINDS:
        raise ValueError(f"decay must be one of {_KINDS}, got {decay!r}")
    if epoch < warmup_epochs:
        return peak * (epoch + 1) / warmup_epochs
    if decay == "constant":
        return peak
    if total_epochs is None or total_epochs <= warmup_epochs:
        raise ValueError(f"decay={decay!r} needs total_epochs > warmup_epochs, got {total_epochs}")
    span = max(total_epochs - warmup_epochs - 1, 1)
    t = min((epoch - warmup_epochs) / span, 1.0)
    f = 1.0 - t if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return final + (peak - final) * f
