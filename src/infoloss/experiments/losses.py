"""Losses by name, with parameters: a spec is ``"name"`` or ``"name:key=value,key=value"``.

Defaults are plain and stated here (no hidden label smoothing):

================== ============================================================================
name               module (defaults)
================== ============================================================================
ce                 CrossEntropyLoss()
label-smoothing    CrossEntropyLoss(label_smoothing=0.1)
min-ent            MinEntropyLoss(entropy_weight=0.1)
mix-ent            MixedEntropyLoss(reverse_weight=0.1, eps=1e-6)
confidence-penalty MinEntropyLoss(entropy_weight=-0.1)   (Pereyra et al. 2017)
sce                SymmetricCrossEntropyLoss(alpha=0.1, beta=1.0)   (Wang et al. 2019)
focal              FocalLoss(gamma=2.0)
poly1              Poly1CrossEntropyLoss(epsilon=1.0)
min-ent-learnable  MinEntropyLoss(entropy_weight=0.1, learnable=True)
mix-ent-learnable  MixedEntropyLoss(reverse_weight=0.1, eps=1e-6, learnable=True)
similarity         SimilarityCrossEntropyLoss(softmax(-beta * D))  beta=4 (needs a class hierarchy)
pairwise           PairwiseCostLoss(D)                     (D: hierarchy distance; needs a hierarchy)
expected-cost      ExpectedCostLoss(D, ce_weight=1.0)       (needs a class hierarchy)
================== ============================================================================

For one-hot targets MIX-ENT's swapped term ``-sum_c p_c log max(q_c, eps)`` equals SCE's reverse term
with ``log_zero = log(eps)``; ``sce:alpha=1,beta=0.1,log_zero=-13.8155`` is MIX-ENT's default exactly,
and plain ``sce`` (log_zero=-4) is the published SCE to run beside it.

References:
    - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
      https://arxiv.org/abs/2501.13709
    - C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
      https://arxiv.org/abs/1512.00567
    - G. Pereyra et al., "Regularizing Neural Networks by Penalizing Confident Output Distributions", 2017.
      https://arxiv.org/abs/1701.06548
    - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
      https://arxiv.org/abs/1908.06112
    - T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. https://arxiv.org/abs/1708.02002
    - Z. Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
      ICLR 2022. https://arxiv.org/abs/2204.12511
    - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
      CVPR 2020. https://arxiv.org/abs/1912.09393
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from infoloss import modules as _m

__all__ = ["LOSSES", "LossContext", "build_loss", "parse_spec", "class_distance_matrix"]


@dataclass
class LossContext:
    """What a loss factory may need besides its parameters.

    Attributes:
        num_classes: C.
        dataset: dataset registry name (selects the default class hierarchy).
        hierarchy: hierarchy name (``"fashion-mnist"``, ``"auto"``, ``"none"``) or None.

    Example:
        >>> LossContext(10, "fashion-mnist", "auto")
        LossContext(num_classes=10, dataset='fashion-mnist', hierarchy='auto')
    """

    num_classes: int
    dataset: str = ""
    hierarchy: str | None = None


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,..."`` into the name and a dict of parsed values.

    Each value becomes a bool (``true``/``false``, any case), else an int, else a float, else stays a
    string. Whitespace around names, keys and items is dropped.

    Args:
        spec: the loss spec.

    Returns:
        ``(name, params)``.

    Raises:
        ValueError: if a parameter is not of the form ``key=value``.

    Example:
        >>> parse_spec("min-ent:entropy_weight=0.2,learnable=true")
        ('min-ent', {'entropy_weight': 0.2, 'learnable': True})
    """
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq:
            raise ValueError(f"loss spec {spec!r}: parameter {item!r} is not key=value")
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            try:
                value = int(raw)
            except ValueError:
                try:
                    value = float(raw)
                except ValueError:
                    value = raw
        params[key.strip()] = value
    return name.strip(), params


def _hierarchy_distances(ctx: LossContext) -> torch.Tensor:
    d = class_distance_matrix(ctx)
    if d is None:
        raise ValueError(
            f"this loss needs a class hierarchy; dataset {ctx.dataset!r} has none "
            f'(hierarchies exist for: fashion-mnist; set hierarchy = "fashion-mnist" to use one)'
        )
    return d


def class_distance_matrix(ctx: LossContext) -> torch.Tensor | None:
    """Return the tree distance between classes for the context's hierarchy, or None.

    ``ctx.hierarchy`` ``"auto"`` picks the dataset's own hierarchy where one exists (fashion-mnist);
    None and ``"none"`` give None.

    Args:
        ctx: number of classes, dataset and hierarchy name.

    Returns:
        float32 tensor of shape ``(C, C)`` (:func:`infoloss.bespoke.fashion_mnist_distance_matrix`), or None.

    Raises:
        ValueError: if the hierarchy name is unknown, or its number of classes is not ``ctx.num_classes``.

    Example:
        >>> d = class_distance_matrix(LossContext(10, "fashion-mnist", "auto"))
        >>> d.shape, d[0, :4].tolist()
        (torch.Size([10, 10]), [0.0, 2.0, 1.0, 2.0])
        >>> print(class_distance_matrix(LossContext(10, "digits", "auto")))
        None

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
    """
    name = ctx.hierarchy
    if name == "auto":
        name = ctx.dataset if ctx.dataset in ("fashion-mnist",) else None
    if name is None or name == "none":
        return None
    if name != "fashion-mnist":
        raise ValueError(f"unknown hierarchy {name!r}; valid hierarchies: fashion-mnist")
    from infoloss import bespoke  # lazy: only hierarchy-aware runs need the bespoke package

    d = bespoke.fashion_mnist_distance_matrix(dtype=torch.float32)
    if d.shape != (ctx.num_classes, ctx.num_classes):
        raise ValueError(f"hierarchy {name!r} has {d.shape[0]} classes, the dataset has {ctx.num_classes}")
    return d


def _ce(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.CrossEntropyLoss(**p)


def _label_smoothing(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.CrossEntropyLoss(**{"label_smoothing": 0.1, **p})


def _min_ent(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.MinEntropyLoss(**{"entropy_weight": 0.1, **p})


def _mix_ent(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.MixedEntropyLoss(**{"reverse_weight": 0.1, "eps": 1e-6, **p})


def _confidence_penalty(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.MinEntropyLoss(**{"entropy_weight": -0.1, **p})


def _sce(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.SymmetricCrossEntropyLoss(**{"alpha": 0.1, "beta": 1.0, **p})


def _focal(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.FocalLoss(**{"gamma": 2.0, **p})


def _poly1(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.Poly1CrossEntropyLoss(**{"epsilon": 1.0, **p})


def _min_ent_learnable(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.MinEntropyLoss(**{"entropy_weight": 0.1, "learnable": True, **p})


def _mix_ent_learnable(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    return _m.MixedEntropyLoss(**{"reverse_weight": 0.1, "eps": 1e-6, "learnable": True, **p})


def _similarity(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    from infoloss import bespoke

    beta = float(p.pop("beta", 4.0))
    d = _hierarchy_distances(ctx)  # (C, C) tree distance; soft labels T[y, j] ~ exp(-beta * d[y, j])
    target = torch.softmax(-beta * d, dim=1)
    return bespoke.SimilarityCrossEntropyLoss(target, **p)


def _pairwise(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    from infoloss import bespoke

    return bespoke.PairwiseCostLoss(_hierarchy_distances(ctx), **p)


def _expected_cost(p: dict[str, Any], ctx: LossContext) -> nn.Module:
    from infoloss import bespoke

    return bespoke.ExpectedCostLoss(_hierarchy_distances(ctx), **{"ce_weight": 1.0, **p})


LOSSES: dict[str, Callable[[dict[str, Any], LossContext], nn.Module]] = {
    "ce": _ce,
    "label-smoothing": _label_smoothing,
    "min-ent": _min_ent,
    "mix-ent": _mix_ent,
    "confidence-penalty": _confidence_penalty,
    "sce": _sce,
    "focal": _focal,
    "poly1": _poly1,
    "min-ent-learnable": _min_ent_learnable,
    "mix-ent-learnable": _mix_ent_learnable,
    "similarity": _similarity,
    "pairwise": _pairwise,
    "expected-cost": _expected_cost,
}


def build_loss(spec: str, ctx: LossContext) -> nn.Module:
    """Build a loss module from a spec string (the defaults are in the module's table).

    Args:
        spec: ``"name"`` or ``"name:key=value,..."``; the keys are the module's constructor keywords.
        ctx: number of classes and the hierarchy (for similarity / pairwise / expected-cost).

    Returns:
        An ``nn.Module`` called as ``loss(logits (N, C), target (N,) int64) -> scalar``. Learnable
        variants have parameters: the trainer adds ``loss.parameters()`` to the optimizer.

    Raises:
        ValueError: an unknown name (lists the valid ones), a malformed spec, ``learnable`` that is not
            true/false, a parameter the loss does not take or rejects, or a hierarchy loss without a
            hierarchy; the message names the spec.

    Example:
        >>> loss = build_loss("min-ent:entropy_weight=0.2", LossContext(3))
        >>> loss
        MinEntropyLoss(ignore_index=-100, reduction='mean', label_smoothing=0.0)
        >>> loss(torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0]))  # CE 0.4170 + 0.2 * H 0.8469
        tensor(0.5864)
    """
    name, params = parse_spec(spec)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    if "learnable" in params and not isinstance(params["learnable"], bool):
        raise ValueError(f"loss spec {spec!r}: learnable must be true or false, got {params['learnable']!r}")
    try:
        return LOSSES[name](params, ctx)
    except (TypeError, ValueError) as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith("loss spec") else f"loss spec {spec!r}: {msg}") from None
