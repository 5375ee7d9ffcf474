"""Vocab-parallel (tensor-parallel) losses over ``torch.distributed``.

Each rank holds a contiguous slice of the vocabulary: (N, V_r) local logits, or the (V_r, H) rows of the
classifier for the linear forms. Every function returns, on every rank, the value of its single-device twin
on the full vocabulary (same semantics: class weights, ignore_index, label smoothing over the global V, 'mean'
denominators, bases, 0 log 0 = 0), with one all-gather of (N, k) row statistics in forward and no collective
in backward (the linear forms all-reduce the (N, H) hidden gradient once). See ``docs/parallel.md``.

* :func:`vocab_parallel_cross_entropy`, :func:`vocab_parallel_min_entropy_loss`,
  :func:`vocab_parallel_mixed_entropy_loss`, :func:`vocab_parallel_entropy` (local logits or a ``Shard(1)``
  DTensor);
* :func:`vocab_parallel_linear_cross_entropy`, :func:`vocab_parallel_linear_min_entropy_loss`,
  :func:`vocab_parallel_linear_mixed_entropy_loss` (hidden and the local classifier slice, chunked);
* the per-token primitive :func:`infoloss.tokens.token_logprob_entropy` takes ``group=`` too.
"""

from infoloss.parallel.linear import (
    vocab_parallel_linear_cross_entropy,
    vocab_parallel_linear_min_entropy_loss,
    vocab_parallel_linear_mixed_entropy_loss,
)
from infoloss.parallel.losses import (
    vocab_parallel_cross_entropy,
    vocab_parallel_entropy,
    vocab_parallel_min_entropy_loss,
    vocab_parallel_mixed_entropy_loss,
)

__all__ = [
    "vocab_parallel_cross_entropy",
    "vocab_parallel_min_entropy_loss",
    "vocab_parallel_mixed_entropy_loss",
    "vocab_parallel_entropy",
    "vocab_parallel_linear_cross_entropy",
    "vocab_parallel_linear_min_entropy_loss",
    "vocab_parallel_linear_mixed_entropy_loss",
]
