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

import functools
import math
from collections.abc import Callable
from typing import ParamSpec

import torch
from torch import Tensor

from infoloss import _common, _ops
from infoloss._common import RowOptions, compute_dtype, loss_dtype, xlogy_safe
from infoloss._reduction import reduce_loss
from infoloss._validation import (
    Flat,
    check_finite_number,
    check_floating,
    check_ignore_index,
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
_P = ParamSpec("_P")


def _one_call(body: Callable[_P, Tensor]) -> Callable[_P, Tensor]:
    """The public loss for ``body``: under ``torch.compile``, one call of ``body`` in dynamo's graph.

    ``body`` is registered with ``torch.compiler.allow_in_graph`` (:func:`infoloss._common.one_call_in_graph`)
    the first time a compile traces a loss. Dynamo then guards on none of infoloss's validation, dispatch
    or default arguments (a float default read by dynamo is a graph input converted to a tensor on every
    call, and each global a traced function reads is a guard checked on every call); AOTAutograd and
    inductor still trace ``body`` into the same fused kernels. Eagerly, one more Python call.
    """
    _common.one_call_in_graph(body)
    # closure cells: dynamo reads no global of this module, so it adds no guard that two paths to it are
    # the same object
    compiling, before = torch.compiler.is_compiling, _common.before_one_call

    @functools.wraps(body)
    def loss(*args: _P.args, **kwargs: _P.kwargs) -> Tensor:
        if compiling():
            before()
        return body(*args, **kwargs)

    return loss


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
    ent_coef: float,
    rev_coef: float,
    rev_log_eps: float,
    coef: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Shared body of every CE-family loss: validate, flatten, run the row kernel, reduce.

    No float option has a default: under ``torch.compile(dynamic=True)`` a float read from a function's
    defaults becomes a graph input (converted to a tensor on every call), a literal at the call site does not.
    ``coef``: see :func:`infoloss._ops.ce_family_loss` (the modules' run-time weights under compile).
    """
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    if type(ignore_index) is not int:  # an int variable under compile (a SymInt): specialized here
        ignore_index = check_ignore_index(ignore_index)
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
    return _ops.ce_family_loss(flat, weight, opts, reduction, loss_dtype(input), coef=coef)


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

    .. math::
        I(p) = -\log_b p

    ``p = 0`` gives ``inf`` (an impossible event carries unbounded information); ``p = 1`` gives 0.

    Args:
        probs: probabilities, a floating tensor of any shape with entries in ``[0, 1]``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Tensor of ``probs``' shape and dtype (computed in float32 for float16/bfloat16, float64 for float64).

    Raises:
        TypeError: if ``probs`` is not a floating tensor, or ``base`` is not a number.
        ValueError: if ``base`` is not a finite number > 0 and != 1; for a CPU tensor in eager mode, if an
            entry of ``probs`` is outside ``[0, 1]`` or NaN.

    Example:
        >>> import torch
        >>> from infoloss.functional import information
        >>> information(torch.tensor([0.5, 0.125, 0.0]), base=2)
        tensor([1., 3., inf])

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
    """
    check_probabilities(probs, "probs")
    return (-torch.log(probs.to(compute_dtype(probs.dtype))) / log_base(base)).to(probs.dtype)


def entropy(
    logits: Tensor | None = None, *, probs: Tensor | None = None, base: float | None = None, reduction: str = "none"
) -> Tensor:
    r"""Shannon entropy of a categorical distribution over the class dimension.

    From ``logits`` it is computed stably via ``log_softmax`` (``p = softmax(logits)``; finite for ``-inf``
    logits); from ``probs`` the probabilities are used as given (they are not renormalized). ``0 <= H <= log_b C``
    for a distribution over ``C`` classes.

    .. math::
        H(p) = -\sum_c p_c \log_b p_c, \qquad 0 \log 0 = 0

    Args:
        logits: unnormalized scores, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype; the
            class dimension is 1 (0 for 1-D input). Pass exactly one of ``logits`` and ``probs``.
        probs: probabilities of the same layout, floating dtype, entries in ``[0, 1]``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` over the elements (an empty mean is 0). Default ``'none'``.

    Returns:
        Shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``: the input's shape without the class dim),
        or a scalar (``'mean'``/``'sum'``); in the dtype of ``logits``/``probs``.

    Raises:
        ValueError: if both or neither of ``logits`` and ``probs`` are given, the given one is a scalar (no class
            dim), ``reduction`` is not one of the three, or ``base`` is not a finite number > 0 and != 1; for a
            CPU ``probs`` in eager mode, if an entry is outside ``[0, 1]`` or NaN.
        TypeError: if ``logits``/``probs`` is not a floating tensor, or ``base`` is not a number.

    Example:
        >>> import torch
        >>> from infoloss.functional import entropy
        >>> entropy(probs=torch.tensor([0.5, 0.25, 0.25]), base=2)
        tensor(1.5000)
        >>> entropy(torch.zeros(2, 4))   # uniform over 4 classes: ln 4
        tensor([1.3863, 1.3863])
        >>> logits = torch.tensor([[2.0, 1.0, 0.1]])   # softmax: [0.6590, 0.2424, 0.0986]
        >>> round(entropy(logits).item(), 4), round(entropy(logits, base=2).item(), 4)
        (0.8467, 1.2216)

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
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
@_one_call
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

    With ``base=None`` the value equals ``torch.nn.functional.cross_entropy``'s, except that an empty
    ``'mean'`` (every element ignored, or an empty batch) is 0 with zero gradients instead of NaN.

    .. math::
        \ell_i = -\sum_c w_c\, q'_{ic} \log_b \operatorname{softmax}(x_i)_c, \qquad
        q' = (1-\varepsilon)\, q + \varepsilon / C

    with ``q`` the one-hot of the class index (or the given probabilities) and ``eps = label_smoothing``. For
    class-index targets without smoothing this is ``-w_{y_i} log p_{i,y_i}``. ``'mean'`` divides the sum by
    ``sum_i w_{y_i}`` over the non-ignored elements (class-index targets) or by the number of elements
    (probability targets), as torch does.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex,
            ``ignore_index`` is not an int, ``weight`` is not a floating tensor, or ``label_smoothing`` or
            ``base`` is not a number.
        ValueError: if ``reduction`` is not one of the three, ``label_smoothing`` is not in ``[0, 1]``, ``base``
            is not a finite number > 0 and != 1, ``input`` is a scalar or has no classes, ``target``'s shape
            does not match (see ``target``), ``target`` or ``weight`` is on another device than ``input``,
            ``weight`` is not of shape ``(C,)``; and, for CPU tensors in eager mode, if a class index is
            outside ``[0, C)`` and not ``ignore_index``, or a probability target has a negative or NaN entry.

    Example:
        >>> import torch
        >>> from infoloss.functional import cross_entropy
        >>> logits = torch.tensor([[2.0, 1.0, 0.1]])
        >>> round(cross_entropy(logits, torch.tensor([0])).item(), 4)   # -ln softmax(logits)_0
        0.417
        >>> round(cross_entropy(logits, torch.tensor([0]), base=2).item(), 4)   # 0.4170 / ln 2
        0.6016
        >>> cross_entropy(logits, torch.tensor([-100]))   # every element ignored: 0, not NaN
        tensor(0.)

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
        - C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016 (label
          smoothing). https://arxiv.org/abs/1512.00567
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
        ent_coef=0.0,
        rev_coef=0.0,
        rev_log_eps=0.0,
    )


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean", *, base: float | None = None
) -> Tensor:
    r"""Binary cross entropy between target probabilities and predicted probabilities ``input``.

    Identical to ``torch.nn.functional.binary_cross_entropy`` when ``base`` is None, including torch's clamp of
    each log at -100, which keeps ``x = 0`` or ``1`` finite; an empty ``'mean'`` gives 0.

    .. math::
        \ell_i = -w_i \left[ y_i \log_b x_i + (1 - y_i) \log_b (1 - x_i) \right]

    Args:
        input: predicted probabilities, floating tensor of any shape, entries in ``[0, 1]``.
        target: target probabilities, floating tensor of ``input``'s shape, entries in ``[0, 1]``.
        weight: optional floating tensor broadcastable to ``input``'s shape (``w_i``). Default ``None``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` over all elements. Default ``'mean'``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or ``input``'s shape (``'none'``), in ``input``'s dtype.

    Raises:
        TypeError: if ``input``, ``target`` or ``weight`` is not a floating tensor, or ``base`` is not a number.
        ValueError: if ``reduction`` is not one of the three, ``target``'s shape differs from ``input``'s,
            ``weight`` does not broadcast to ``input``'s shape, or ``base`` is not a finite number > 0 and != 1;
            for CPU tensors in eager mode, if an entry of ``input`` or ``target`` is outside ``[0, 1]`` or NaN.

    Example:
        >>> import torch
        >>> from infoloss.functional import binary_cross_entropy
        >>> binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1.0]), base=2)   # one bit
        tensor(1.)
        >>> binary_cross_entropy(torch.tensor([0.8, 0.4]), torch.tensor([1.0, 0.0]))   # (-ln 0.8 - ln 0.6) / 2
        tensor(0.3670)

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
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

    Equal to torch's for finite logits; also finite at ``x = +-inf`` (``0 log 0 = 0``), where torch returns
    NaN. ``log(1 - sigmoid(x))`` is computed as ``logsigmoid(-x)``. An empty ``'mean'`` gives 0.

    .. math::
        \ell_i = -w_i \left[ p_c\, y_i \log_b \sigma(x_i) + (1 - y_i) \log_b (1 - \sigma(x_i)) \right]

    with ``p_c = pos_weight`` broadcast along the last (class) dim and ``sigma`` the logistic sigmoid.

    Args:
        input: logits, floating tensor of any shape ``(..., C)``.
        target: target probabilities, floating tensor of ``input``'s shape, entries in ``[0, 1]``.
        weight: optional floating tensor broadcastable to ``input``'s shape (``w_i``). Default ``None``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` over all elements. Default ``'mean'``.
        pos_weight: optional floating weight of the positive term, broadcastable to ``input``'s shape
            (typically ``(C,)``). Default ``None``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``) or ``input``'s shape (``'none'``); in ``input``'s dtype (float32
        under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``input``, ``target``, ``weight`` or ``pos_weight`` is not a floating tensor, or ``base``
            is not a number.
        ValueError: if ``reduction`` is not one of the three, ``target``'s shape differs from ``input``'s,
            ``weight`` or ``pos_weight`` does not broadcast to ``input``'s shape, or ``base`` is not a finite
            number > 0 and != 1; for a CPU ``target`` in eager mode, if an entry is outside ``[0, 1]`` or NaN.

    Example:
        >>> import math, torch
        >>> from infoloss.functional import binary_cross_entropy_with_logits
        >>> binary_cross_entropy_with_logits(torch.tensor([0.0]), torch.tensor([1.0]), base=2)   # one bit
        tensor(1.)
        >>> binary_cross_entropy_with_logits(torch.tensor([math.inf]), torch.tensor([1.0]))   # torch: nan
        tensor(0.)

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
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
    """Raise unless ``t`` is None or a floating tensor that broadcasts to ``input``'s shape."""
    if t is None:
        return
    check_floating(t, name)
    shape: torch.Size | None
    try:
        # torch.broadcast_shapes is unannotated in torch's stubs (it returns a torch.Size)
        shape = torch.broadcast_shapes(t.shape, input.shape)  # type: ignore[no-untyped-call]
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

    Summed over the class dimension for each element, with ``0 log 0 = 0``; ``KL >= 0``, with equality iff
    ``p = q`` (each per-element value is clamped at 0 against rounding). The reductions do what their names
    say: ``'mean'`` averages the per-element divergences over the ``N * d_1 * ... * d_K`` elements (what torch
    calls ``'batchmean'`` for 2-D input), ``'sum'`` adds them, ``'none'`` returns them. Note the argument order
    of torch's ``kl_div``: ``input`` holds the model's scores and ``target`` the reference distribution ``q``.

    .. math::
        \mathrm{KL}(q \,\|\, p) = \sum_c q_c \left(\log_b q_c - \log_b p_c\right), \qquad
        p = \operatorname{softmax}(x)

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype; the class
            dimension is 1 (0 for 1-D input).
        target: probabilities ``q`` of ``input``'s shape, floating dtype (log-probabilities when
            ``log_target``).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.
        log_target: whether ``target`` holds log-probabilities. Default ``False``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``input`` or ``target`` is not a floating tensor, or ``base`` is not a number.
        ValueError: if ``reduction`` is not one of the three, ``input`` is a scalar, ``target``'s shape differs
            from ``input``'s, or ``base`` is not a finite number > 0 and != 1; for a CPU ``target`` in eager
            mode without ``log_target``, if an entry is negative.

    Example:
        >>> import torch
        >>> from infoloss.functional import kl_divergence
        >>> q = torch.tensor([[0.25, 0.75]])
        >>> kl_divergence(torch.log(q), q)
        tensor(0.)
        >>> kl_divergence(torch.zeros(1, 2), q)   # 0.25 ln(0.25/0.5) + 0.75 ln(0.75/0.5)
        tensor(0.1308)
        >>> kl_divergence(torch.zeros(1, 2), q, base=2)
        tensor(0.1887)

    References:
        - S. Kullback and R. A. Leibler, "On Information and Sufficiency", Annals of Mathematical Statistics,
          1951. https://doi.org/10.1214/aoms/1177729694
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
@_one_call
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
    r"""MIN-ENT: cross entropy plus a minimum-entropy regularizer.

    The entropy term is **added** (``+entropy_weight * H``): a positive weight pushes predictions towards
    confidence (entropy minimization); a negative weight is the confidence penalty of Pereyra et al. ``s_i``
    is the sample weight (``weight[y_i]``, 0 for ignored elements; the expected class weight
    ``sum_c weight[c] q_ic`` for probability targets; 1 without ``weight``), so both terms are reduced over the
    same elements with the same denominator as :func:`cross_entropy`. ``entropy_weight = 0`` gives
    ``ce_weight * cross_entropy`` exactly. Label smoothing changes the CE target only, not the entropy term.

    .. math::
        \ell_i = w_{ce}\, \mathrm{CE}_i + w_H\, s_i\, H(\hat p_i), \qquad
        H(\hat p_i) = -\sum_c \hat p_{ic} \log \hat p_{ic}, \quad \hat p_i = \operatorname{softmax}(x_i)

    with ``CE_i`` as in :func:`cross_entropy`, in base ``ce_base``, and ``H`` in base ``entropy_base``.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        ce_weight: ``w_ce``, the weight of the CE term, any finite number. Default ``1.0``.
        entropy_weight: ``w_H``, the weight of the entropy term, any finite number. Default ``0.1``.
        ce_base: logarithm base of the CE term (``None``: nats; see :func:`cross_entropy`). Default ``None``.
        entropy_base: logarithm base of the entropy term (``None``: nats). Default ``None``.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``ce_weight`` or ``entropy_weight`` is not a number (bool included), or as in
            :func:`cross_entropy` (with ``ce_base``/``entropy_base`` for ``base``).
        ValueError: if ``ce_weight`` or ``entropy_weight`` is not finite, or as in :func:`cross_entropy` (with
            ``ce_base``/``entropy_base`` for ``base``).

    Example:
        >>> import torch
        >>> from infoloss.functional import min_entropy_loss, cross_entropy, entropy
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])
        >>> round(min_entropy_loss(x, y, entropy_weight=0.1).item(), 4)   # 0.4170 + 0.1 * 0.8467
        0.5017
        >>> round(cross_entropy(x, y).item(), 4), round(entropy(x).item(), 4)
        (0.417, 0.8467)

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - G. Pereyra et al., "Regularizing Neural Networks by Penalizing Confident Output Distributions",
          2017. https://arxiv.org/abs/1701.06548
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
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
        rev_coef=0.0,
        rev_log_eps=0.0,
    )


@_one_call
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
    r"""MIX-ENT: cross entropy plus the swapped ("reverse") cross entropy.

    The reverse term is added with ``+reverse_weight`` and uses the same sample weights ``s_i`` and
    denominator as :func:`cross_entropy` (see :func:`min_entropy_loss`). Two identities: for strictly positive
    targets (``q' >= eps``) ``R = H(p_hat) + KL(p_hat || q')``, a minimum-entropy term plus a KL term with the
    roles of target and prediction swapped; for one-hot targets ``R = (1 - p_hat_y) log(1/eps)``, which makes
    MIX-ENT a form of symmetric cross entropy (Wang et al.; :func:`symmetric_cross_entropy`) with
    ``log 0 := log eps``.

    .. math::
        \ell_i = w_{ce}\, \mathrm{CE}(q_i \to \hat p_i) + w_R\, s_i\, R_i, \qquad
        R_i = \mathrm{CE}(\hat p_i \to \max(q'_i, \varepsilon))
            = -\sum_c \hat p_{ic} \log \max(q'_{ic}, \varepsilon)

    with ``p_hat_i = softmax(x_i)``, ``q'`` the (smoothed) target, CE in base ``ce_base`` and ``R`` in base
    ``reverse_base``.

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        ce_weight: ``w_ce``, the weight of the CE term, any finite number. Default ``1.0``.
        reverse_weight: ``w_R``, the weight of the reverse term, any finite number. Default ``0.1``.
        ce_base: logarithm base of the CE term (``None``: nats; see :func:`cross_entropy`). Default ``None``.
        reverse_base: logarithm base of the reverse term (``None``: nats). Default ``None``.
        eps: floor of the target inside the reverse term's log, in the open interval ``(0, 1)``. Default
            ``1e-6``.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``ce_weight``, ``reverse_weight`` or ``eps`` is not a number (bool included), or as in
            :func:`cross_entropy` (with ``ce_base``/``reverse_base`` for ``base``).
        ValueError: if ``ce_weight`` or ``reverse_weight`` is not finite, ``eps`` is not in ``(0, 1)``, or as in
            :func:`cross_entropy` (with ``ce_base``/``reverse_base`` for ``base``).

    Example:
        >>> import torch
        >>> from infoloss.functional import mixed_entropy_loss
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> round(mixed_entropy_loss(x, y, ce_weight=0.0, reverse_weight=1.0).item(), 4)   # 0.5 * ln(1e6)
        6.9078
        >>> round(mixed_entropy_loss(x, y).item(), 4)   # ln 2 + 0.1 * 6.9078
        1.3839
        >>> q = torch.tensor([[0.25, 0.75]])   # R = H(p) + KL(p || q) = 0.6931 + 0.1438
        >>> round(mixed_entropy_loss(x, q, ce_weight=0.0, reverse_weight=1.0).item(), 4)
        0.837

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
          https://arxiv.org/abs/1908.06112
        - S. Kullback and R. A. Leibler, "On Information and Sufficiency", Annals of Mathematical Statistics,
          1951. https://doi.org/10.1214/aoms/1177729694
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
        ent_coef=0.0,
        rev_coef=rev_coef,
        rev_log_eps=math.log(eps),
    )


# ------------------------------------------------------------------------------------------------ baselines
@_one_call
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
    r"""Symmetric cross entropy: ``alpha * CE + beta * RCE`` for learning with noisy labels.

    The reverse cross entropy needs ``log 0``; Wang et al. set it to the constant ``A = log_zero`` (default
    -4). Here every ``log q'`` is floored at ``A``, which leaves one-hot targets exactly as in the paper
    (``RCE = -A (1 - p_y)``) and keeps soft targets (label smoothing, probabilities) finite. This is
    :func:`mixed_entropy_loss` with ``eps = exp(log_zero)``; the RCE term carries the sample weight ``s_i`` of
    :func:`min_entropy_loss`. Both terms are in base ``base``.

    .. math::
        \ell_i = \alpha\, \mathrm{CE}_i + \beta\, s_i\, \mathrm{RCE}_i, \qquad
        \mathrm{RCE}_i = -\sum_c \hat p_{ic} \max(\log q'_{ic}, A)

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        alpha: weight of the CE term, any finite number (the paper's CIFAR-10 value). Default ``0.1``.
        beta: weight of the RCE term, any finite number. Default ``1.0``.
        log_zero: ``A < 0``, the value used for ``log 0``. Default ``-4.0``.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``alpha``, ``beta`` or ``log_zero`` is not a number (bool included), or as in
            :func:`cross_entropy`.
        ValueError: if ``alpha``, ``beta`` or ``log_zero`` is not finite, ``log_zero >= 0``, or as in
            :func:`cross_entropy`.

    Example:
        >>> import torch
        >>> from infoloss.functional import symmetric_cross_entropy
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> symmetric_cross_entropy(x, y, alpha=0.0, beta=1.0)   # -A (1 - p_y) = 4 * 0.5
        tensor(2.)
        >>> round(symmetric_cross_entropy(x, y).item(), 4)   # 0.1 * ln 2 + 2
        2.0693

    References:
        - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
          https://arxiv.org/abs/1908.06112
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
        ent_coef=0.0,
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


@_one_call
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
    r"""Multi-class focal loss on logits.

    For class-index targets without smoothing this is ``-w_y (1 - p_y)^gamma log p_y``; ``gamma = 0`` gives
    :func:`cross_entropy` exactly, and ``'mean'`` uses the same denominator. Lin et al.'s alpha-balancing is
    the class ``weight``. ``1 - p`` is computed as ``-expm1(log p)`` so confident predictions keep precision,
    and is kept >= the dtype's smallest normal number so that a saturated prediction gets a zero, not NaN,
    gradient for ``gamma < 1``.

    .. math::
        \ell_i = -\sum_c w_c\, q'_{ic}\, (1 - \hat p_{ic})^{\gamma} \log_b \hat p_{ic}, \qquad
        \hat p_i = \operatorname{softmax}(x_i)

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        gamma: focusing parameter, a finite number >= 0. Default ``2.0``.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``gamma`` is not a number (bool included), or as in :func:`cross_entropy`.
        ValueError: if ``gamma`` is not finite or is negative, or as in :func:`cross_entropy`.

    Example:
        >>> import torch
        >>> from infoloss.functional import focal_loss
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])   # p_y = 0.6590
        >>> round(focal_loss(x, y, gamma=2.0).item(), 4)   # (1 - 0.6590)^2 * 0.4170
        0.0485
        >>> round(focal_loss(x, y, gamma=0.0).item(), 4)   # cross entropy
        0.417

    References:
        - T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. https://arxiv.org/abs/1708.02002
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


@_one_call
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
    r"""Poly-1 loss: cross entropy plus a weighted first polynomial term ``epsilon * (1 - p_t)``.

    ``p_t = sum_c q'_c p_c`` is the probability of the true class (``p_y`` for class indices without
    smoothing). ``epsilon = 0`` gives :func:`cross_entropy` exactly; ``epsilon = -1`` is the paper's lower
    bound. The polynomial term carries the sample weight ``s_i`` of :func:`min_entropy_loss`, and the whole
    loss, CE and polynomial term, is divided by ``ln b``.

    .. math::
        \ell_i = \mathrm{CE}_i + \epsilon\, s_i \left(1 - \sum_c q'_{ic} \hat p_{ic}\right) / \ln b

    Args:
        input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype (float16,
            bfloat16, float32, float64). The class dimension is 1 (0 for 1-D input).
        target: class indices of shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``input``'s shape without the
            class dim), integer dtype, values in ``[0, C)`` or ``ignore_index``; or class probabilities of
            ``input``'s shape, floating dtype.
        epsilon: weight of the polynomial term, any finite number. Default ``1.0``.
        weight: class weights ``w``, floating tensor of shape ``(C,)`` on ``input``'s device. Default ``None``
            (all 1).
        ignore_index: class-index value whose elements contribute nothing (neither to the sum nor to the
            'mean' denominator); class-index targets only. Default ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` is torch's: the sum divided by the sum of the
            sample weights ``s_i`` (class indices) or by the number of elements (probabilities). Default
            ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Returns:
        Scalar tensor (``'mean'``/``'sum'``; an empty mean is 0, not torch's NaN), or shape ``()``, ``(N,)`` or
        ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast for float16/bfloat16).

    Raises:
        TypeError: if ``epsilon`` is not a number (bool included), or as in :func:`cross_entropy`.
        ValueError: if ``epsilon`` is not finite, or as in :func:`cross_entropy`.

    Example:
        >>> import torch
        >>> from infoloss.functional import poly1_cross_entropy
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
        >>> round(poly1_cross_entropy(x, y, epsilon=1.0).item(), 4)   # ln 2 + (1 - 0.5)
        1.1931

    References:
        - Z. Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
          ICLR 2022. https://arxiv.org/abs/2204.12511
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
