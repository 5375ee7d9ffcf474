r"""``nn.Module`` wrappers of :mod:`infoloss.functional`: they store options and call the functional form.

Constructor keywords mirror the functions (and torch's ``nn.CrossEntropyLoss`` where it has them), so
``nn.CrossEntropyLoss()`` -> ``infoloss.MinEntropyLoss(entropy_weight=0.1)`` is a one-line change.
Shapes everywhere: input (C,), (N, C) or (N, C, d1, ...) logits; target class indices (), (N,),
(N, d1, ...) or probabilities shaped as the input; output a scalar, or the input's shape without the class
dim for ``reduction='none'``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from infoloss import functional as F
from infoloss._validation import (
    check_finite_number,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    log_base,
)

__all__ = [
    "CrossEntropyLoss",
    "MinEntropyLoss",
    "MixedEntropyLoss",
    "SymmetricCrossEntropyLoss",
    "FocalLoss",
    "Poly1CrossEntropyLoss",
    "KLDivergenceLoss",
]


class _WeightedLoss(nn.Module):
    """Common options of the CE family: class ``weight`` (a buffer), ``ignore_index``, reduction, smoothing."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None, ignore_index: int, reduction: str, label_smoothing: float) -> None:
        super().__init__()
        check_reduction(reduction)
        if weight is not None:
            if not isinstance(weight, Tensor):
                raise TypeError(
                    f"weight must be a 1-D floating tensor with one entry per class, got {type(weight).__name__}"
                )
            if weight.dim() != 1 or not weight.dtype.is_floating_point:
                raise ValueError(
                    f"weight must be a 1-D floating tensor with one entry per class, got shape "
                    f"{tuple(weight.shape)} and dtype {weight.dtype}"
                )
        self.register_buffer("weight", weight)
        self.ignore_index = int(ignore_index)
        self.reduction = reduction
        self.label_smoothing = check_label_smoothing(label_smoothing)

    def _options(self) -> dict:
        return dict(
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy on logits; drop-in for ``torch.nn.CrossEntropyLoss`` with an optional log ``base``.

    .. math:: \ell_i = -\sum_c w_c\, q'_{ic} \log_b \operatorname{softmax}(x_i)_c

    See :func:`infoloss.functional.cross_entropy` for the semantics of every option.

    Example:
        >>> import torch, infoloss
        >>> loss = infoloss.CrossEntropyLoss(base=2)
        >>> round(loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1])).item(), 4)   # one bit
        1.0
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, base=self.base, **self._options())


class _TwoTermLoss(_WeightedLoss):
    r"""A CE term plus a regularizer term, with fixed or learnable weights.

    With ``learnable=True`` the weights are learned by homoscedastic-uncertainty weighting (Kendall, Gal and
    Cipolla, CVPR 2018): two parameters ``log_vars = (s_ce, s_reg)`` and the reduced loss

    .. math:: L = e^{-s_{ce}}\, \overline{\mathrm{CE}} + e^{-s_{reg}}\, \overline{R} + s_{ce} + s_{reg}

    where the bars are the reduced (mean or sum) terms. Plain gradient descent on ``w1*CE + w2*R`` drives
    both weights to zero; here the ``+ s`` terms make the optimum ``e^{-s} = 1 / term`` instead, so each
    effective weight stays at the inverse of its term's size and cannot collapse. The weights start at the
    given ``ce_weight`` and regularizer weight (``s = -log w``, so both must be > 0) and are read back from
    :attr:`effective_weights`. The flip side: a term that shrinks towards 0 (an entropy driven to 0) gets a
    growing weight ``1 / term``; watch :attr:`effective_weights`, or clamp ``log_vars`` if that matters. The
    two terms are computed by two passes over the logits (the fixed-weight path fuses them into one). With ``reduction='none'`` the learned weights multiply the per-element terms
    and the ``s`` terms are left out (add them yourself when you reduce).
    """

    _reg_name = "reg_weight"

    def __init__(
        self,
        ce_weight: float,
        reg_weight: float,
        weight: Tensor | None,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
        learnable: bool,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.ce_weight = check_finite_number(ce_weight, "ce_weight")
        reg_weight = check_finite_number(reg_weight, self._reg_name)
        setattr(self, self._reg_name, reg_weight)
        self.learnable = bool(learnable)
        if self.learnable:
            if self.ce_weight <= 0 or reg_weight <= 0:
                raise ValueError(
                    f"learnable=True needs ce_weight > 0 and {self._reg_name} > 0 (they initialize "
                    f"exp(-log_var)); got {self.ce_weight} and {reg_weight}"
                )
            init = torch.tensor([-math.log(self.ce_weight), -math.log(reg_weight)])
            self.log_vars = nn.Parameter(init)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("ce_weight", self._reg_name) and self.__dict__.get("learnable", False):
            raise AttributeError(
                f"{type(self).__name__}(learnable=True) learns {name} (through log_vars), so assigning it would "
                f"be ignored; read the learned values from .effective_weights, or build the loss with "
                f"learnable=False to set or schedule {name} (e.g. with infoloss.regularizer_weight)"
            )
        if name in ("ce_weight", self._reg_name) and "learnable" in self.__dict__:
            value = check_finite_number(value, name)  # type: ignore[arg-type]
        super().__setattr__(name, value)  # type: ignore[arg-type]

    @property
    def effective_weights(self) -> tuple[float, float]:
        """The (CE, regularizer) weights in effect: fixed values, or ``exp(-log_vars)`` when learnable."""
        if self.learnable:
            w = torch.exp(-self.log_vars.detach())
            return float(w[0]), float(w[1])
        return self.ce_weight, float(getattr(self, self._reg_name))

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        raise NotImplementedError

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if not self.learnable:
            return self._fixed(input, target, self.ce_weight, float(getattr(self, self._reg_name)))
        # Learnable weights: compute the two reduced terms separately, then weight them.
        ce = self._fixed(input, target, 1.0, 0.0)
        reg = self._fixed(input, target, 0.0, 1.0)
        precision = torch.exp(-self.log_vars).to(ce.dtype)
        loss = precision[0] * ce + precision[1] * reg
        if self.reduction != "none":
            loss = loss + self.log_vars.sum().to(ce.dtype)
        return loss


class MinEntropyLoss(_TwoTermLoss):
    r"""MIN-ENT: cross entropy plus a minimum-entropy regularizer (arXiv 2501.13709).

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}_i + w_H\, s_i\, H(\operatorname{softmax}(x_i))

    ``+entropy_weight * H`` is added: positive weights minimize entropy, a negative weight is the
    confidence penalty (Pereyra et al. 2017). ``learnable=True`` learns both weights (see the class notes of
    ``_TwoTermLoss``: homoscedastic-uncertainty weighting, which cannot collapse to zero). See
    :func:`infoloss.functional.min_entropy_loss`.

    Example:
        >>> import torch, infoloss
        >>> criterion = infoloss.MinEntropyLoss(entropy_weight=0.1)   # was nn.CrossEntropyLoss()
        >>> logits = torch.randn(8, 5, requires_grad=True)
        >>> criterion(logits, torch.randint(0, 5, (8,))).backward()
    """

    _reg_name = "entropy_weight"

    def __init__(
        self,
        *,
        ce_weight: float = 1.0,
        entropy_weight: float = 0.1,
        ce_base: float | None = None,
        entropy_base: float | None = None,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        learnable: bool = False,
    ) -> None:
        super().__init__(ce_weight, entropy_weight, weight, ignore_index, reduction, label_smoothing, learnable)
        log_base(ce_base, "ce_base")
        log_base(entropy_base, "entropy_base")
        self.ce_base, self.entropy_base = ce_base, entropy_base

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        return F.min_entropy_loss(
            input,
            target,
            ce_weight=ce_weight,
            entropy_weight=reg_weight,
            ce_base=self.ce_base,
            entropy_base=self.entropy_base,
            **self._options(),
        )


class MixedEntropyLoss(_TwoTermLoss):
    r"""MIX-ENT: cross entropy plus the swapped cross entropy CE(p_hat -> max(q, eps)) (arXiv 2501.13709).

    .. math:: \ell_i = w_{ce}\, \mathrm{CE}_i - w_R\, s_i \sum_c \hat p_{ic} \log \max(q'_{ic}, \varepsilon)

    See :func:`infoloss.functional.mixed_entropy_loss` (identities with entropy + KL and with symmetric CE).

    Example:
        >>> import torch, infoloss
        >>> criterion = infoloss.MixedEntropyLoss(reverse_weight=0.1, learnable=True)
        >>> loss = criterion(torch.randn(8, 5), torch.randint(0, 5, (8,)))
        >>> [round(w, 3) for w in criterion.effective_weights]
        [1.0, 0.1]
    """

    _reg_name = "reverse_weight"

    def __init__(
        self,
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
        learnable: bool = False,
    ) -> None:
        super().__init__(ce_weight, reverse_weight, weight, ignore_index, reduction, label_smoothing, learnable)
        log_base(ce_base, "ce_base")
        log_base(reverse_base, "reverse_base")
        self.eps = check_open_unit(eps, "eps")
        self.ce_base, self.reverse_base = ce_base, reverse_base

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        return F.mixed_entropy_loss(
            input,
            target,
            ce_weight=ce_weight,
            reverse_weight=reg_weight,
            ce_base=self.ce_base,
            reverse_base=self.reverse_base,
            eps=self.eps,
            **self._options(),
        )


class SymmetricCrossEntropyLoss(_WeightedLoss):
    r"""Symmetric cross entropy ``alpha * CE + beta * RCE`` (Wang et al. 2019), ``log 0 := log_zero``.

    See :func:`infoloss.functional.symmetric_cross_entropy`.

    Example:
        >>> import torch, infoloss
        >>> infoloss.SymmetricCrossEntropyLoss(alpha=0.0, beta=1.0)(torch.zeros(1, 2), torch.tensor([0]))
        tensor(2.)
    """

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        beta: float = 1.0,
        log_zero: float = -4.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.alpha = check_finite_number(alpha, "alpha")
        self.beta = check_finite_number(beta, "beta")
        self.log_zero = check_finite_number(log_zero, "log_zero")
        if self.log_zero >= 0:
            raise ValueError(f"log_zero must be negative (it stands for log 0), got {log_zero!r}")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.symmetric_cross_entropy(
            input, target, alpha=self.alpha, beta=self.beta, log_zero=self.log_zero, base=self.base, **self._options()
        )


class FocalLoss(_WeightedLoss):
    r"""Multi-class focal loss ``-sum_c w_c q'_c (1 - p_c)^gamma log p_c`` (Lin et al. 2017) on logits.

    See :func:`infoloss.functional.focal_loss`.

    Example:
        >>> import torch, infoloss
        >>> loss = infoloss.FocalLoss(gamma=2.0)(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.gamma = check_finite_number(gamma, "gamma")
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.focal_loss(input, target, gamma=self.gamma, base=self.base, **self._options())


class Poly1CrossEntropyLoss(_WeightedLoss):
    r"""Poly-1 loss ``CE + epsilon * (1 - p_t)`` (Leng et al. 2022).

    See :func:`infoloss.functional.poly1_cross_entropy`.

    Example:
        >>> import torch, infoloss
        >>> round(infoloss.Poly1CrossEntropyLoss(epsilon=1.0)(torch.zeros(1, 2), torch.tensor([0])).item(), 4)
        1.1931
    """

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.epsilon = check_finite_number(epsilon, "epsilon")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.poly1_cross_entropy(input, target, epsilon=self.epsilon, base=self.base, **self._options())


class KLDivergenceLoss(nn.Module):
    r"""``KL(target || softmax(input))`` with reductions that do what their names say.

    See :func:`infoloss.functional.kl_divergence` ('mean' averages over elements, not over every entry).

    Example:
        >>> import torch, infoloss
        >>> q = torch.tensor([[0.25, 0.75]])
        >>> infoloss.KLDivergenceLoss()(torch.log(q), q)
        tensor(0.)
    """

    def __init__(self, *, reduction: str = "mean", base: float | None = None, log_target: bool = False) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        log_base(base)
        self.base = base
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_divergence(input, target, reduction=self.reduction, base=self.base, log_target=self.log_target)
