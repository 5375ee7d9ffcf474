"""Property tests (hypothesis): information-theoretic inequalities and identities on random inputs."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import infoloss.functional as F

_SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def logits_and_probs(draw):
    n = draw(st.integers(1, 6))
    c = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0, 100.0]))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    q = torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64) * scale, 1)
    return x, q


@_SETTINGS
@given(logits_and_probs())
def test_gibbs_inequality_cross_entropy_at_least_entropy(data):
    x, q = data
    ce = F.cross_entropy(x, q, reduction="none")
    h_q = F.entropy(probs=q)
    assert (ce >= h_q - 1e-9).all()
    # CE(q, p) = H(q) + KL(q || p)
    torch.testing.assert_close(ce, h_q + F.kl_divergence(x, q, reduction="none"), atol=1e-8, rtol=1e-8)


@_SETTINGS
@given(logits_and_probs())
def test_kl_non_negative_and_zero_on_itself(data):
    x, q = data
    assert (F.kl_divergence(x, q, reduction="none") >= 0).all()
    self_kl = F.kl_divergence(x, torch.softmax(x, 1), reduction="none")
    torch.testing.assert_close(self_kl, torch.zeros_like(self_kl), atol=1e-9, rtol=0)


@_SETTINGS
@given(logits_and_probs())
def test_entropy_bounds(data):
    x, _ = data
    h = F.entropy(x)
    c = x.shape[1]
    assert (h >= 0).all() and (h <= math.log(c) + 1e-9).all()
    assert (F.entropy(x, base=2) <= math.log2(c) + 1e-9).all()


@_SETTINGS
@given(logits_and_probs(), st.floats(1.01, 100.0))
def test_base_scaling(data, base):
    x, q = data
    y = q.argmax(1)
    scale = math.log(base)
    torch.testing.assert_close(F.cross_entropy(x, y, base=base) * scale, F.cross_entropy(x, y))
    torch.testing.assert_close(F.entropy(x, base=base) * scale, F.entropy(x))
    torch.testing.assert_close(F.kl_divergence(x, q, base=base) * scale, F.kl_divergence(x, q))


@_SETTINGS
@given(logits_and_probs())
def test_zero_entropy_weight_is_cross_entropy(data):
    x, q = data
    y = q.argmax(1)
    assert torch.equal(F.min_entropy_loss(x, y, entropy_weight=0.0), F.cross_entropy(x, y))
    assert torch.equal(F.min_entropy_loss(x, q, entropy_weight=0.0), F.cross_entropy(x, q))


@_SETTINGS
@given(logits_and_probs())
def test_reverse_term_bounds(data):
    # For one-hot targets 0 <= R = (1 - p_y) log(1/eps) <= log(1/eps).
    x, q = data
    y = q.argmax(1)
    r = F.mixed_entropy_loss(x, y, ce_weight=0.0, reverse_weight=1.0, eps=1e-4, reduction="none")
    assert (r >= -1e-12).all() and (r <= math.log(1e4) + 1e-9).all()
