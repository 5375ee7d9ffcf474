"""Bad input raises a clear error naming the problem."""

from __future__ import annotations

import pytest
import torch

import infoloss
import infoloss.functional as F


def test_class_index_out_of_range():
    with pytest.raises(ValueError, match="class index 5 is out of range for 5 classes"):
        F.cross_entropy(torch.randn(3, 5), torch.tensor([0, 5, 1]))
    with pytest.raises(ValueError, match="class index -2 is out of range"):
        F.min_entropy_loss(torch.randn(3, 5), torch.tensor([0, -2, 1]))


def test_ignore_index_is_not_out_of_range():
    F.cross_entropy(torch.randn(3, 5), torch.tensor([0, 7, 1]), ignore_index=7)


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"class-index target must have shape \(4,\)"):
        F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"probability target must have the input's shape \(4, 3\)"):
        F.cross_entropy(torch.randn(4, 3), torch.rand(4, 2))
    with pytest.raises(ValueError, match=r"class-index target must have shape \(2, 5\)"):
        F.cross_entropy(torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long))


def test_dtype_errors():
    with pytest.raises(TypeError, match="input must have a floating dtype"):
        F.cross_entropy(torch.ones(2, 3, dtype=torch.long), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="target must be integer class indices or floating probabilities"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([True, False]))
    with pytest.raises(TypeError, match="target must be a torch.Tensor"):
        F.cross_entropy(torch.randn(2, 3), [0, 1])  # type: ignore[arg-type]


def test_negative_probability_targets():
    q = torch.tensor([[0.5, 0.6, -0.1]])
    with pytest.raises(ValueError, match="probability target has a negative or NaN entry: -0.1"):
        F.cross_entropy(torch.randn(1, 3), q)
    with pytest.raises(ValueError, match="must be non-negative"):
        F.kl_divergence(torch.randn(1, 3), q)


def test_weight_of_wrong_length():
    with pytest.raises(ValueError, match=r"one entry per class \(3\), got shape \(4,\)"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), weight=torch.ones(4))
    with pytest.raises(ValueError, match="weight must be a 1-D tensor"):
        infoloss.CrossEntropyLoss(weight=torch.ones(2, 2))


@pytest.mark.parametrize("cls", [infoloss.CrossEntropyLoss, infoloss.MinEntropyLoss, infoloss.FocalLoss])
def test_modules_reject_bad_option_types_like_the_functions(cls):
    # an integer weight and a float ignore_index are type errors in the functional form; the modules agree
    with pytest.raises(TypeError, match="weight must be a floating tensor"):
        cls(weight=torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="ignore_index must be an int, got float 1.7"):
        cls(ignore_index=1.7)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), ignore_index=1.7)


@pytest.mark.parametrize("base", [0, -2, 1, 1.0, float("nan"), float("inf")])
def test_bad_base(base):
    with pytest.raises(ValueError, match="base must be None"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), base=base)
    with pytest.raises(ValueError, match="entropy_base must be None"):
        F.min_entropy_loss(torch.randn(2, 3), torch.tensor([0, 1]), entropy_base=base)
    with pytest.raises(ValueError, match="base must be None"):
        infoloss.CrossEntropyLoss(base=base)


def test_base_type_error():
    with pytest.raises(TypeError, match="base must be None or a positive number"):
        F.entropy(torch.randn(2, 3), base="2")  # type: ignore[arg-type]


@pytest.mark.parametrize("eps", [0.0, 1.0, -1e-3, 2.0])
def test_eps_outside_open_unit_interval(eps):
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        F.mixed_entropy_loss(torch.randn(2, 3), torch.tensor([0, 1]), eps=eps)
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        infoloss.MixedEntropyLoss(eps=eps)


def test_other_option_errors():
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\]"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        F.focal_loss(x, y, gamma=-1.0)
    with pytest.raises(ValueError, match="log_zero must be negative"):
        F.symmetric_cross_entropy(x, y, log_zero=0.0)
    with pytest.raises(ValueError, match="entropy_weight must be finite"):
        F.min_entropy_loss(x, y, entropy_weight=float("nan"))
    with pytest.raises(ValueError, match="pass exactly one of logits or probs"):
        F.entropy()
    with pytest.raises(ValueError, match=r"probs must contain probabilities in \[0, 1\]"):
        F.entropy(probs=torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match=r"probs must contain probabilities in \[0, 1\]"):
        F.information(torch.tensor([2.0]))
    with pytest.raises(ValueError, match="input must have a class dimension"):
        F.cross_entropy(torch.tensor(1.0), torch.tensor(0))
    with pytest.raises(ValueError, match="target shape"):
        F.binary_cross_entropy_with_logits(torch.randn(3), torch.rand(4))
    with pytest.raises(ValueError, match=r"input must contain probabilities in \[0, 1\]"):
        F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="backend must be one of"):
        infoloss.set_backend("cuda")


def test_learnable_needs_positive_weights():
    with pytest.raises(ValueError, match="learnable=True needs ce_weight > 0 and entropy_weight > 0"):
        infoloss.MinEntropyLoss(entropy_weight=-0.1, learnable=True)


def test_zero_classes_and_bad_broadcast():
    with pytest.raises(ValueError, match="input has no classes"):
        F.cross_entropy(torch.randn(3, 0), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) does not broadcast to the input's shape \(2, 3\)"):
        F.binary_cross_entropy_with_logits(torch.randn(2, 3), torch.rand(2, 3), weight=torch.ones(4))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(torch.randn(2, 3), torch.rand(2, 3), pos_weight=torch.ones(2))
