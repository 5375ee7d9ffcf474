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
    """Per-token target log-probability and entropy (nats), both of the tokens' shape.

    (:class:`infoloss.TokenStats`, from the forward-only :func:`infoloss.linear_token_stats`, holds the same
    two values in the other order, as ``(entropy, target_logprob)``.)
    """

    logprob: Tensor
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
    r"""Per-token ``log p_{y}`` and entropy ``H`` of ``softmax((hidden @ weight.T + bias) / temperature)``.

    .. math:: \log p_{i y_i} = z_{i y_i} - \log \sum_c e^{z_{ic}}, \quad H_i = -\sum_c p_{ic} \log p_{ic},
              \quad \frac{\partial H_i}{\partial u_{ic}} = -\frac{p_{ic} (\log p_{ic} + H_i)}{T}

    Both outputs are differentiable with respect to hidden, weight and bias (any combination of the two
    outputs may feed the loss: ``(logprob * advantage).sum() + beta * entropy.mean()``).

    Args:
        hidden: (N, H) or ``(*, H)`` hidden states (the same on every rank with a group).
        weight: (V, H) classifier; with a ``group``, this rank's (V_r, H) vocabulary slice (slices in rank
            order).
        target: (N,) / ``(*)`` class indices (global indices with a group).
        bias: optional (V,) (or (V_r,)) classifier bias.
        temperature: T > 0, the logits are divided by T.
        ignore_index: target value whose rows give 0 for both outputs (and no gradient).
        group: None (one device), or the tensor-parallel process group over which the vocabulary is sharded
            (``torch.distributed.group.WORLD`` for the default group).
        chunk_size: rows per chunk (default: about 2**23 / V); peak extra memory is one chunk of logits.
        reduce_hidden_grad: with a group, all-reduce hidden's gradient over it in backward (default).

    Returns:
        :class:`TokenLogprobEntropy` ``(logprob, entropy)``, each of the target's shape, in float32
        (float64 for float64 input), the same on every rank.

    Raises:
        TypeError: a floating (probability) target, non-floating hidden/weight, mismatched dtypes.
        ValueError: shapes, a class index out of range, temperature <= 0.
        RuntimeError: double backward.

    Example:
        >>> import torch
        >>> from infoloss.tokens import token_logprob_entropy
        >>> h = torch.zeros(2, 3, requires_grad=True)
        >>> w = torch.eye(4, 3).requires_grad_()
        >>> out = token_logprob_entropy(h, w, torch.tensor([1, -100]))
        >>> out.logprob.detach(), out.entropy.detach()
        (tensor([-1.3863,  0.0000]), tensor([1.3863, 0.0000]))
        >>> (out.logprob.sum() + out.entropy.sum()).backward()
        >>> h.grad
        tensor([[-0.2500,  0.7500, -0.2500],
                [ 0.0000,  0.0000,  0.0000]])
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
    r"""Per-token ``log p_y`` and entropy ``H`` of ``softmax(logits / temperature)``, both differentiable.

    The logits twin of :func:`token_logprob_entropy`: the vocabulary is the **last** dim (language-model
    layout ``(*, V)``). No (N, V) temporary beyond the gradient itself: the pass runs over row chunks and
    backward recomputes ``p`` from the saved per-row log-sum-exp.

    .. math:: \frac{\partial \log p_y}{\partial x_c} = \frac{\mathbb{1}[c=y] - p_c}{T}, \qquad
              \frac{\partial H}{\partial x_c} = -\frac{p_c (\log p_c + H)}{T}

    Args:
        logits: (N, V) or ``(*, V)`` logits; with a ``group``, this rank's ``(*, V_r)`` vocabulary slice.
        target: (N,) / ``(*)`` class indices (global indices with a group).
        temperature: T > 0.
        ignore_index: target value whose rows give 0 for both outputs (and no gradient).
        group: None (one device) or the process group over which the vocabulary is sharded.
        chunk_size: rows per chunk of the pass (default: about 2**19 / V).

    Returns:
        :class:`TokenLogprobEntropy` ``(logprob, entropy)`` of the target's shape, float32 (float64 for
        float64 logits).

    Raises:
        TypeError: a floating target or non-floating logits. ValueError: shapes, an index out of range.

    Example:
        >>> import torch
        >>> from infoloss.tokens import token_logprob_entropy_from_logits
        >>> out = token_logprob_entropy_from_logits(torch.zeros(1, 2, 4), torch.tensor([[0, 3]]), temperature=2.0)
        >>> out.logprob, out.entropy
        (tensor([[-1.3863, -1.3863]]), tensor([[1.3863, 1.3863]]))
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
