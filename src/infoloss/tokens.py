r"""The per-token primitive of RL fine-tuning: target log-probability and entropy per token, both
differentiable, without the (N, V) logits ever existing at once.

.. math::
    z_i = (W h_i + b) / T, \qquad \log p_{i y_i} = z_{i y_i} - \operatorname{logsumexp}(z_i), \qquad
    H_i = -\sum_c p_{ic} \log p_{ic}

Gradients (per token, with respect to the raw logits ``u = W h + b``, temperature T):

.. math::
    \frac{\partial \log p_{y}}{\partial u_c} = \frac{\mathbb{1}[c = y] - p_c}{T}, \qquad
    \frac{\partial H}{\partial u_c} = -\frac{p_c (\log p_c + H)}{T}

and ``dhidden = du @ W``, ``dW = du^T h``, ``db = sum_i du_i``. Forward runs over row chunks and keeps, per
row, only the log-sum-exp (max and log S), the entropy and the target log-probability; backward recomputes
each chunk's logits from them. Rows whose target is ``ignore_index`` give 0 for both outputs and get no
gradient. With a ``group`` the classifier is sharded on the vocabulary (``weight`` is the rank's (V_r, H)
slice) and the row statistics are merged as in :mod:`infoloss.parallel` (one all-gather of (N, 5)).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from torch import Tensor

from infoloss._validation import check_floating
from infoloss.parallel._checks import check_hidden, check_index, check_positive, check_target, is_dtensor
from infoloss.parallel._core import Comm, Spec, check_chunk_size
from infoloss.parallel._engine import LinearTokens, LogitsTokens, Plan
from infoloss.parallel.linear import flatten_hidden_target

__all__ = ["TokenLogprobEntropy", "token_logprob_entropy", "token_logprob_entropy_from_logits"]


class TokenLogprobEntropy(NamedTuple):
    r"""Per-token target log-probability and entropy (nats), as returned by :func:`token_logprob_entropy`.

    .. math::
        \log p_{i y_i} = z_{i y_i} - \log \sum_c e^{z_{ic}}, \qquad H_i = -\sum_c p_{ic} \log p_{ic}

    :class:`infoloss.TokenStats` (from the forward-only :func:`infoloss.linear_token_stats`) holds the same two
    values in the other order, as ``(entropy, target_logprob)``.

    Example:
        >>> import torch
        >>> from infoloss.tokens import TokenLogprobEntropy
        >>> TokenLogprobEntropy(torch.tensor([-0.6931]), torch.tensor([0.6931]))
        TokenLogprobEntropy(logprob=tensor([-0.6931]), entropy=tensor([0.6931]))
    """

    #: ``log p_{i, y_i}``, of the target's shape; 0 on ignored tokens.
    logprob: Tensor
    #: ``H_i``, of the target's shape; 0 on ignored tokens.
    entropy: Tensor


def _comm(group: Any) -> Comm:
    return Comm(None, single=True) if group is None else Comm(group)


def token_logprob_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    bias: Tensor | None = None,
    temperature: float = 1.0,
    ignore_index: int = -100,
    group: Any = None,
    chunk_size: int | None = None,
    reduce_hidden_grad: bool = True,
) -> TokenLogprobEntropy:
    r"""Per-token target log-probability and entropy of ``softmax((hidden @ weight.T + bias) / temperature)``.

    The per-token primitive of RL fine-tuning: both outputs are differentiable with respect to hidden, weight
    and bias, and any combination may feed the loss (``(logprob * advantage).sum() + beta * entropy.mean()``).
    The (N, V) logits never exist at once: forward runs over row chunks and keeps, per row, only the
    log-sum-exp, the entropy and the target log-probability; backward recomputes each chunk's logits.

    .. math::
        \log p_{i y_i} = z_{i y_i} - \log \sum_c e^{z_{ic}}, \qquad H_i = -\sum_c p_{ic} \log p_{ic}, \qquad
        z_i = (W h_i + b) / T

    with the gradients, with respect to the raw logits ``u_i = W h_i + b``,

    .. math::
        \frac{\partial \log p_{i y_i}}{\partial u_{ic}} = \frac{\mathbb{1}[c = y_i] - p_{ic}}{T}, \qquad
        \frac{\partial H_i}{\partial u_{ic}} = -\frac{p_{ic} (\log p_{ic} + H_i)}{T}

    With a ``group``, the classifier is sharded on the vocabulary (``weight`` is this rank's slice) and the
    row statistics are merged as in :mod:`infoloss.parallel` (one all-gather of ``(N, 5)``).

    Args:
        hidden: hidden states, shape ``(N, H)`` or ``(*, H)``, floating (the same on every rank with a group).
        weight: classifier weight, shape ``(V, H)``, hidden's dtype; with a ``group``, this rank's ``(V_r, H)``
            vocabulary slice (slices in rank order).
        target: class indices, shape ``(N,)`` / ``(*)`` (hidden's leading dims), integer dtype (global
            indices with a group).
        bias: optional classifier bias, shape ``(V,)`` (``(V_r,)`` with a group). Default None.
        temperature: ``T > 0``; the logits are divided by T. Default 1.
        ignore_index: target value whose tokens give 0 for both outputs (and no gradient). Default ``-100``.
        group: None (one device, no ``torch.distributed`` needed), or the tensor-parallel process group over
            which the vocabulary is sharded (``torch.distributed.group.WORLD`` for the default group).
            Default None.
        chunk_size: rows per chunk, a positive int; None picks about ``2**23 / V`` rows. Default None.
        reduce_hidden_grad: with a group, all-reduce hidden's gradient over it in backward. Default True.

    Returns:
        :class:`TokenLogprobEntropy` ``(logprob, entropy)``, each of the target's shape, float32 (float64 for
        float64 input), the same on every rank.

    Raises:
        TypeError: if hidden, weight or bias is not a floating tensor; if hidden and weight dtypes differ; if
            target is not a tensor, is floating (a probability target) or has a bool/complex dtype; if
            temperature is not a number or ignore_index is not an int; if chunk_size is not an int or None (a
            bool included).
        ValueError: if hidden is 0-dim; if weight is not ``(V, H)`` with hidden's H; if bias is not ``(V,)``;
            if target's shape is not hidden's leading shape; if weight, bias or target is on another device
            than hidden; if temperature is not a finite number > 0; if chunk_size is < 1; if a class index is
            out of range (or, with a group, the target differs across ranks); if
            this process is not a member of ``group``.
        RuntimeError: if ``group`` is given but ``torch.distributed`` is not initialized; on double backward
            (``create_graph=True``).

    Example:
        >>> import torch
        >>> from infoloss.tokens import token_logprob_entropy
        >>> h = torch.zeros(2, 3, requires_grad=True)
        >>> w = torch.eye(4, 3).requires_grad_()  # logits 0: uniform over 4 classes
        >>> out = token_logprob_entropy(h, w, torch.tensor([1, -100]))
        >>> out.logprob.detach(), out.entropy.detach()  # -log 4 and log 4; 0 on the ignored token
        (tensor([-1.3863,  0.0000]), tensor([1.3863, 0.0000]))
        >>> (out.logprob.sum() + out.entropy.sum()).backward()
        >>> h.grad  # (onehot(y) - p) @ w; dH/du = 0 at the uniform distribution
        tensor([[-0.2500,  0.7500, -0.2500],
                [ 0.0000,  0.0000,  0.0000]])

    References:
        - Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024.
          https://arxiv.org/abs/2411.09009
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
    """
    check_hidden(hidden, weight, bias)
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
        raise TypeError("token_logprob_entropy needs class-index targets (an integer tensor)")
    temperature = check_positive(temperature, "temperature")
    ignore_index = check_index(ignore_index)
    check_chunk_size(chunk_size)
    lead = tuple(hidden.shape[:-1])
    h2, _, tgt = flatten_hidden_target(hidden, weight, target)
    comm = _comm(group)
    spec = Spec("index", entropy=True, ignore_index=ignore_index)
    known = (weight.shape[0],) if comm.world == 1 else None
    plan = Plan(
        "token_logprob_entropy",
        spec,
        comm,
        (0.0, 1.0, 0.0),
        "tokens",
        chunk_size,
        known,
        temperature,
        None,
        bool(reduce_hidden_grad),
    )
    # torch's stubs leave Function.apply unannotated
    pair: tuple[Tensor, Tensor] = LinearTokens.apply(h2, weight, bias, tgt, plan)  # type: ignore[no-untyped-call]
    logprob, entropy = pair
    return TokenLogprobEntropy(logprob.reshape(lead), entropy.reshape(lead))


def token_logprob_entropy_from_logits(
    logits: Tensor,
    target: Tensor,
    *,
    temperature: float = 1.0,
    ignore_index: int = -100,
    group: Any = None,
    chunk_size: int | None = None,
) -> TokenLogprobEntropy:
    r"""Per-token target log-probability and entropy of ``softmax(logits / temperature)``, both differentiable.

    The logits twin of :func:`token_logprob_entropy`; the vocabulary is the **last** dim (language-model
    layout ``(*, V)``). No (N, V) temporary beyond the gradient itself: the pass runs over row chunks and
    backward recomputes ``p`` from the saved per-row log-sum-exp.

    .. math::
        \log p_{i y_i} = \frac{x_{i y_i}}{T} - \log \sum_c e^{x_{ic} / T}, \qquad
        H_i = -\sum_c p_{ic} \log p_{ic}

    .. math::
        \frac{\partial \log p_{i y_i}}{\partial x_{ic}} = \frac{\mathbb{1}[c = y_i] - p_{ic}}{T}, \qquad
        \frac{\partial H_i}{\partial x_{ic}} = -\frac{p_{ic} (\log p_{ic} + H_i)}{T}

    Args:
        logits: shape ``(N, V)`` or ``(*, V)``, floating; with a ``group``, this rank's ``(*, V_r)``
            vocabulary slice (a local tensor, not a DTensor).
        target: class indices, shape ``(N,)`` / ``(*)`` (the logits' leading dims), integer dtype (global
            indices with a group).
        temperature: ``T > 0``. Default 1.
        ignore_index: target value whose tokens give 0 for both outputs (and no gradient). Default ``-100``.
        group: None (one device), or the process group over which the vocabulary is sharded. Default None.
        chunk_size: rows per chunk of the pass, a positive int; None picks about ``2**19 / V`` rows.
            Default None.

    Returns:
        :class:`TokenLogprobEntropy` ``(logprob, entropy)``, each of the target's shape, float32 (float64 for
        float64 logits).

    Raises:
        TypeError: if logits is not a floating tensor, or is a DTensor; if target is not a tensor, is floating
            or has a bool/complex dtype; if temperature is not a number or ignore_index is not an int; if
            chunk_size is not an int or None (a bool included).
        ValueError: if logits is 0-dim; if target's shape is not the logits' leading shape; if target is on
            another device; if temperature is not a finite number > 0; if chunk_size is < 1; if a class index is
            out of range (or, with a group, the target differs across ranks); if
            this process is not a member of ``group``.
        RuntimeError: if ``group`` is given but ``torch.distributed`` is not initialized; on double backward
            (``create_graph=True``).

    Example:
        >>> import torch
        >>> from infoloss.tokens import token_logprob_entropy_from_logits
        >>> x = torch.tensor([[2.0, 1.0, 0.1]], requires_grad=True)
        >>> out = token_logprob_entropy_from_logits(x, torch.tensor([0]))
        >>> out.logprob.detach(), out.entropy.detach()
        (tensor([-0.4170]), tensor([0.8467]))
        >>> out.logprob.sum().backward()
        >>> x.grad  # onehot(y) - softmax(x)
        tensor([[ 0.3410, -0.2424, -0.0986]])
        >>> out = token_logprob_entropy_from_logits(torch.zeros(1, 2, 4), torch.tensor([[0, 3]]), temperature=2.0)
        >>> out.logprob, out.entropy  # (B, T, V) layout; uniform over 4: -log 4 and log 4
        (tensor([[-1.3863, -1.3863]]), tensor([[1.3863, 1.3863]]))

    References:
        - Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
          Parallelism", 2019. https://arxiv.org/abs/1909.08053
    """
    check_floating(logits, "logits")
    if is_dtensor(logits):
        raise TypeError("token_logprob_entropy_from_logits takes local tensors; pass logits.to_local() and a group")
    if logits.dim() < 1:
        raise ValueError("logits must be (N, V) or (*, V), got a scalar")
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
        raise TypeError("token_logprob_entropy_from_logits needs class-index targets (an integer tensor)")
    temperature = check_positive(temperature, "temperature")
    ignore_index = check_index(ignore_index)
    check_chunk_size(chunk_size)
    lead = tuple(logits.shape[:-1])
    if isinstance(target, Tensor) and tuple(target.shape) != lead:
        raise ValueError(f"target must have the logits' leading shape {lead}, got {tuple(target.shape)}")
    z = logits.reshape(math.prod(lead), logits.shape[-1])
    _, tgt = check_target(
        target.reshape(-1) if isinstance(target, Tensor) else target, z.shape[0], z.shape[1], z.device
    )
    comm = _comm(group)
    spec = Spec("index", entropy=True, ignore_index=ignore_index)
    known = (z.shape[1],) if comm.world == 1 else None
    plan = Plan(
        "token_logprob_entropy_from_logits", spec, comm, (0.0, 1.0, 0.0), "tokens", chunk_size, known, temperature
    )
    # torch's stubs leave Function.apply unannotated
    pair: tuple[Tensor, Tensor] = LogitsTokens.apply(z, tgt, plan)  # type: ignore[no-untyped-call]
    logprob, entropy = pair
    return TokenLogprobEntropy(logprob.reshape(lead), entropy.reshape(lead))
