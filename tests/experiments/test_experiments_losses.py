"""The loss registry: every name builds and trains a step; MIX-ENT equals SCE's form for one-hot targets."""

from __future__ import annotations

import math

import pytest
import torch

from infoloss.experiments.losses import LOSSES, LossContext, build_loss, class_distance_matrix, parse_spec

FASHION = LossContext(10, "fashion-mnist", "auto")


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_registered_loss_builds_and_backpropagates(name):
    loss = build_loss(name, FASHION)
    logits = torch.randn(6, 10, requires_grad=True)
    value = loss(logits, torch.tensor([0, 1, 2, 3, 4, 9]))
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert bool(list(loss.parameters())) == name.endswith("-learnable")


def test_parse_spec():
    assert parse_spec("ce") == ("ce", {})
    assert parse_spec("focal:gamma=1") == ("focal", {"gamma": 1})
    assert parse_spec("mix-ent:reverse_weight=0.2, eps=1e-4") == ("mix-ent", {"reverse_weight": 0.2, "eps": 1e-4})
    with pytest.raises(ValueError, match="parameter 'gamma' is not key=value"):
        parse_spec("focal:gamma")


def test_defaults_are_plain():
    ce = build_loss("ce", LossContext(10))
    assert ce.label_smoothing == 0.0  # no hidden smoothing
    logits, y = torch.randn(5, 10), torch.randint(0, 10, (5,))
    torch.testing.assert_close(ce(logits, y), torch.nn.functional.cross_entropy(logits, y))
    cp = build_loss("confidence-penalty", LossContext(10))
    me = build_loss("min-ent:entropy_weight=-0.1", LossContext(10))
    torch.testing.assert_close(cp(logits, y), me(logits, y))


def test_mix_ent_equals_sce_reverse_term_for_one_hot_targets():
    logits, y = torch.randn(32, 10, dtype=torch.float64), torch.randint(0, 10, (32,))
    mix = build_loss("mix-ent:reverse_weight=0.3,eps=1e-4", LossContext(10))
    sce = build_loss(f"sce:alpha=1,beta=0.3,log_zero={math.log(1e-4)!r}", LossContext(10))
    torch.testing.assert_close(mix(logits, y), sce(logits, y))


def test_unknown_parameter_is_reported():
    with pytest.raises(ValueError, match=r"loss spec 'focal:gama=2': .*gama"):
        build_loss("focal:gama=2", LossContext(10))


def test_fashion_hierarchy_distances():
    d = class_distance_matrix(FASHION)
    assert d is not None and d.shape == (10, 10) and torch.all(d.diagonal() == 0) and torch.equal(d, d.T)
    assert class_distance_matrix(LossContext(10, "digits", "auto")) is None
    with pytest.raises(ValueError, match="unknown hierarchy 'imagenet'; valid hierarchies: fashion-mnist"):
        class_distance_matrix(LossContext(10, "digits", "imagenet"))
