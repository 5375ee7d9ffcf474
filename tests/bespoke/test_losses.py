"""The three bespoke losses against oracles: torch CE on the mapped soft targets, explicit loops over
pairs / classes, gradcheck, ranking by cost, extreme logits, low-precision inputs and error messages."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from infoloss.bespoke import (
    ExpectedCostLoss,
    PairwiseCostLoss,
    SimilarityCrossEntropyLoss,
    animal_cost_matrix,
    animal_target_matrix,
    expected_cost_loss,
    label_smoothing_matrix,
    pairwise_cost_loss,
    similarity_cross_entropy,
    target_matrix_from_distances,
)

C = 4
GEN = torch.Generator().manual_seed(1234)
T64 = target_matrix_from_distances(torch.rand(C, C, generator=GEN) * 3, temperature=0.7, dtype=torch.float64)
K64 = (torch.rand(C, C, generator=GEN, dtype=torch.float64) * 5).fill_diagonal_(0.0)
W64 = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)


def _data(shape: tuple[int, ...] = (7,), seed: int = 0, ignore: bool = True) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape[0], C, *shape[1:], generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, C, shape, generator=g)
    if ignore:
        y.view(-1)[1] = -100
    return x, y


# ---------------------------------------------------------------------------- loop oracles (per element)


def _loop_pairwise(x: Tensor, y: Tensor, k: Tensor, w: Tensor | None = None) -> list[float]:
    out = []
    for i in range(x.shape[0]):
        yi = int(y[i])
        if yi == -100:
            out.append(0.0)
            continue
        total = 0.0
        for j in range(x.shape[1]):
            if j != yi:
                total += float(k[yi, j]) * math.log1p(math.exp(float(x[i, j] - x[i, yi])))
        out.append(total * (1.0 if w is None else float(w[yi])))
    return out


def _loop_expected(x: Tensor, y: Tensor, k: Tensor, ce_weight: float, w: Tensor | None = None) -> list[float]:
    out = []
    for i in range(x.shape[0]):
        yi = int(y[i])
        if yi == -100:
            out.append(0.0)
            continue
        z = [float(v) for v in x[i]]
        norm = sum(math.exp(v) for v in z)
        p = [math.exp(v) / norm for v in z]
        risk = sum(float(k[yi, j]) * p[j] for j in range(len(z)))
        out.append((risk - ce_weight * math.log(p[yi])) * (1.0 if w is None else float(w[yi])))
    return out


# ---------------------------------------------------------------------------- similarity cross entropy


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_similarity_equals_torch_soft_target(reduction: str) -> None:
    x, y = _data(ignore=False)
    ours = similarity_cross_entropy(x, y, T64, reduction=reduction)
    torch.testing.assert_close(ours, F.cross_entropy(x, T64[y], reduction=reduction))


def test_similarity_nd_and_ignore_equals_torch_on_kept() -> None:
    x, y = _data((3, 2, 5), seed=3)
    y[2, 1, 4] = -100
    keep = y != -100
    x_kept = x.movedim(1, -1)[keep]
    ours = SimilarityCrossEntropyLoss(T64)(x, y)
    torch.testing.assert_close(ours, F.cross_entropy(x_kept, T64[y[keep]]))
    none = SimilarityCrossEntropyLoss(T64, reduction="none")(x, y)
    assert none.shape == y.shape
    assert float(none[~keep].abs().sum()) == 0.0
    torch.testing.assert_close(none[keep], F.cross_entropy(x_kept, T64[y[keep]], reduction="none"))


def test_similarity_weight_numerator_and_denominator() -> None:
    x, y = _data(seed=5)
    keep = y != -100
    per = F.cross_entropy(x[keep], T64[y[keep]], weight=W64, reduction="none")
    torch.testing.assert_close(similarity_cross_entropy(x, y, T64, weight=W64, reduction="sum"), per.sum())
    torch.testing.assert_close(similarity_cross_entropy(x, y, T64, weight=W64), per.sum() / W64[y[keep]].sum())


def test_similarity_1d_input() -> None:
    x, y = _data(ignore=False)
    torch.testing.assert_close(similarity_cross_entropy(x[0], y[0], T64), F.cross_entropy(x[:1], T64[y[:1]]))


@pytest.mark.parametrize("base", [2, 10, 0.5])
def test_base_divides_by_log_base(base: float) -> None:
    x, y = _data()
    for fn in (similarity_cross_entropy, pairwise_cost_loss):
        mat = T64 if fn is similarity_cross_entropy else K64
        torch.testing.assert_close(fn(x, y, mat, base=base), fn(x, y, mat) / math.log(base))
    # expected cost: base scales only the CE term
    ec = expected_cost_loss(x, y, K64)
    ce = F.cross_entropy(x, y)
    torch.testing.assert_close(expected_cost_loss(x, y, K64, ce_weight=0.3, base=base), ec + 0.3 * ce / math.log(base))


def test_zero_target_with_neg_inf_logit_is_finite() -> None:
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.tensor([[0.0, -math.inf]], requires_grad=True)
    loss = similarity_cross_entropy(x, torch.tensor([0]), t)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------------------- pairwise / expected cost


@pytest.mark.parametrize("use_weight", [False, True])
def test_pairwise_equals_loop(use_weight: bool) -> None:
    x, y = _data(seed=7)
    w = W64 if use_weight else None
    per = torch.tensor(_loop_pairwise(x, y, K64, w), dtype=torch.float64)
    torch.testing.assert_close(pairwise_cost_loss(x, y, K64, weight=w, reduction="none"), per)
    torch.testing.assert_close(pairwise_cost_loss(x, y, K64, weight=w, reduction="sum"), per.sum())
    s = (y != -100).to(torch.float64) if w is None else torch.where(y != -100, w[y.clamp_min(0)], 0.0)
    torch.testing.assert_close(PairwiseCostLoss(K64, weight=w)(x, y), per.sum() / s.sum())


def test_pairwise_diagonal_ignored() -> None:
    x, y = _data(ignore=False)
    k2 = K64.clone().fill_diagonal_(-3.0)
    torch.testing.assert_close(pairwise_cost_loss(x, y, k2), pairwise_cost_loss(x, y, K64))


def test_pairwise_uniform_cost_is_sum_of_binary_ce() -> None:
    x, y = _data(ignore=False)
    one = torch.tensor(1.0, dtype=torch.float64)
    ref = torch.stack(
        [
            torch.stack(
                [F.binary_cross_entropy_with_logits(x[i, int(y[i])] - x[i, j], one) for j in range(C) if j != int(y[i])]
            ).sum()
            for i in range(x.shape[0])
        ]
    )
    torch.testing.assert_close(pairwise_cost_loss(x, y, 1 - torch.eye(C), reduction="none"), ref)


@pytest.mark.parametrize("ce_weight", [0.0, 0.5])
@pytest.mark.parametrize("use_weight", [False, True])
def test_expected_cost_equals_loop(ce_weight: float, use_weight: bool) -> None:
    x, y = _data((9,), seed=11)
    w = W64 if use_weight else None
    per = torch.tensor(_loop_expected(x, y, K64, ce_weight, w), dtype=torch.float64)
    torch.testing.assert_close(expected_cost_loss(x, y, K64, ce_weight=ce_weight, weight=w, reduction="none"), per)
    s = (y != -100).to(torch.float64) if w is None else torch.where(y != -100, w[y.clamp_min(0)], 0.0)
    torch.testing.assert_close(ExpectedCostLoss(K64, ce_weight=ce_weight, weight=w)(x, y), per.sum() / s.sum())


def test_expected_cost_zero_one_is_one_minus_p_true() -> None:
    x, y = _data(ignore=False)
    p_true = torch.softmax(x, 1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(expected_cost_loss(x, y, 1 - torch.eye(C), reduction="none"), 1 - p_true)


def test_expected_cost_nd() -> None:
    x, y = _data((2, 3), seed=2)
    flat_x, flat_y = x.movedim(1, -1).reshape(-1, C), y.reshape(-1)
    torch.testing.assert_close(
        expected_cost_loss(x, y, K64, ce_weight=0.2, reduction="none").reshape(-1),
        expected_cost_loss(flat_x, flat_y, K64, ce_weight=0.2, reduction="none"),
    )


# ---------------------------------------------------------------------------- shared behaviour

Loss = Callable[..., Tensor]
LOSSES: list[tuple[str, Loss, Tensor]] = [
    ("similarity", similarity_cross_entropy, T64),
    ("pairwise", pairwise_cost_loss, K64),
    ("expected", lambda x, y, k, **kw: expected_cost_loss(x, y, k, ce_weight=0.3, **kw), K64),
]
IDS = [name for name, _, _ in LOSSES]


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(name: str, fn: Loss, mat: Tensor, reduction: str) -> None:
    x, y = _data((3, 2), seed=4)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp: fn(inp, y, mat, weight=W64, reduction=reduction), (x,))


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
def test_all_ignored_gives_zero_not_nan(name: str, fn: Loss, mat: Tensor) -> None:
    x = torch.randn(3, C, dtype=torch.float64, requires_grad=True)
    y = torch.full((3,), -100)
    loss = fn(x, y, mat)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert x.grad is not None and float(x.grad.abs().sum()) == 0.0
    assert float(fn(torch.zeros(0, C), torch.zeros(0, dtype=torch.long), mat)) == 0.0


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
def test_extreme_logits_finite(name: str, fn: Loss, mat: Tensor) -> None:
    for dtype in (torch.float32, torch.float64):
        x = (torch.tensor([[5e3, -5e3, 0.0, 1.0], [-5e3, 5e3, 2.0, 0.0]], dtype=dtype)).requires_grad_(True)
        y = torch.tensor([1, 1])
        loss = fn(x, y, mat.to(dtype))
        loss.backward()
        assert torch.isfinite(loss.detach()), (name, dtype)
        assert x.grad is not None and torch.isfinite(x.grad).all(), (name, dtype)


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_input(name: str, fn: Loss, mat: Tensor, dtype: torch.dtype) -> None:
    x, y = _data((16,), seed=9)
    xl = x.to(dtype).requires_grad_(True)
    out = fn(xl, y, mat.float())
    assert out.dtype == dtype
    ref = fn(xl.detach().float(), y, mat.float())
    torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=1e-2)
    out.backward()
    assert xl.grad is not None and xl.grad.dtype == dtype and torch.isfinite(xl.grad.float()).all()


def _animal_losses() -> list[tuple[str, Callable[[Tensor, Tensor], Tensor]]]:
    t, k = animal_target_matrix(), animal_cost_matrix()
    return [
        ("similarity", SimilarityCrossEntropyLoss(t)),
        ("pairwise", PairwiseCostLoss(k)),
        ("expected", ExpectedCostLoss(k)),
        ("expected+ce", ExpectedCostLoss(k, ce_weight=1.0)),
    ]


@pytest.mark.parametrize(("name", "loss_fn"), _animal_losses(), ids=lambda v: v if isinstance(v, str) else "")
def test_ranking_cheap_mistake_costs_less(name: str, loss_fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    # true class zebra; moving the same mass onto horse (cheap) beats moving it onto whale (expensive)
    y = torch.tensor([1])
    towards_horse = torch.tensor([[2.0, 1.0, 0.0, 0.0]])
    towards_whale = torch.tensor([[0.0, 1.0, 2.0, 0.0]])
    assert float(loss_fn(towards_horse, y)) < float(loss_fn(towards_whale, y)), name


def test_ranking_plain_ce_cannot_tell() -> None:
    y = torch.tensor([1])
    a = F.cross_entropy(torch.tensor([[2.0, 1.0, 0.0, 0.0]]), y)
    b = F.cross_entropy(torch.tensor([[0.0, 1.0, 2.0, 0.0]]), y)
    torch.testing.assert_close(a, b)


def test_modules_store_buffers_and_move() -> None:
    for mod, attr in (
        (SimilarityCrossEntropyLoss(label_smoothing_matrix(3, 0.1), weight=torch.ones(3)), "target_matrix"),
        (PairwiseCostLoss(1 - torch.eye(3)), "cost_matrix"),
        (ExpectedCostLoss(1 - torch.eye(3), ce_weight=0.5), "cost_matrix"),
    ):
        assert attr in dict(mod.named_buffers())
        assert attr in mod.state_dict()
        mod = mod.double()
        assert getattr(mod, attr).dtype == torch.float64
        assert "num_classes=3" in repr(mod)


def test_module_does_not_alias_the_matrix() -> None:
    t = label_smoothing_matrix(3, 0.1)
    mod = SimilarityCrossEntropyLoss(t)
    t.fill_(0.0)
    assert float(mod.target_matrix.sum()) == pytest.approx(3.0)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
def test_call_errors(name: str, fn: Loss, mat: Tensor) -> None:
    x, y = _data(ignore=False)
    with pytest.raises(ValueError, match=r"is 4 x 4 but input has 5 classes"):
        fn(torch.randn(7, 5), y, mat)
    with pytest.raises(ValueError, match=r"target index 4 is out of range for 4 classes"):
        fn(x, torch.tensor([0, 1, 4, 0, 0, 0, 0]), mat)
    with pytest.raises(ValueError, match=r"target index -1 is out of range"):
        fn(x, torch.tensor([0, 1, -1, 0, 0, 0, 0]), mat)
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        fn(x, torch.softmax(x, 1), mat)
    with pytest.raises(ValueError, match=r"target shape \(6,\) does not match input shape"):
        fn(x, y[:6], mat)
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(x, y, mat, reduction="avg")
    with pytest.raises(ValueError, match="base must be None"):
        fn(x, y, mat, base=1)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        fn(x, y, mat, weight=torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="input must be floating-point logits"):
        fn(y, y, mat)


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match=r"cost_matrix must be non-negative; entry \(0, 2\) is -1"):
        PairwiseCostLoss([[0.0, 1.0, -1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match=r"cost_matrix must be non-negative; entry \(1, 1\)"):
        ExpectedCostLoss([[0.0, 1.0], [1.0, -2.0]])
    with pytest.raises(ValueError, match=r"square"):
        ExpectedCostLoss(torch.ones(2, 3))
    with pytest.raises(ValueError, match="finite"):
        PairwiseCostLoss([[0.0, float("nan")], [1.0, 0.0]])
    with pytest.raises(ValueError, match="ce_weight must be a number >= 0"):
        ExpectedCostLoss(1 - torch.eye(2), ce_weight=-1.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        SimilarityCrossEntropyLoss(torch.eye(2), reduction="avg")
    with pytest.raises(ValueError, match="base must be"):
        SimilarityCrossEntropyLoss(torch.eye(2), base=-2.0)
    with pytest.raises(ValueError, match=r"row 0 sums to 1\.5"):
        similarity_cross_entropy(torch.randn(2, 2), torch.tensor([0, 1]), [[1.0, 0.5], [0.0, 1.0]])


@pytest.mark.parametrize("base", [None, 2.0])
def test_similarity_agrees_with_infoloss_functional(base: float | None) -> None:
    functional = pytest.importorskip("infoloss.functional")
    x, y = _data(ignore=False, seed=13)
    ours = similarity_cross_entropy(x, y, T64, weight=W64, base=base, reduction="none")
    ref = functional.cross_entropy(x, T64[y], weight=W64, reduction="none", base=base)
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize(("name", "fn", "mat"), LOSSES, ids=IDS)
def test_1d_input_and_in_range_ignore_index(name: str, fn: Loss, mat: Tensor) -> None:
    x, y = _data(ignore=False, seed=21)
    torch.testing.assert_close(fn(x[2], y[2], mat), fn(x[2:3], y[2:3], mat))
    assert fn(x[2], y[2], mat, reduction="none").shape == ()
    # an ignore_index inside [0, C) drops those elements from the loss and the mean denominator
    keep = y != 2
    torch.testing.assert_close(fn(x, y, mat, ignore_index=2), fn(x[keep], y[keep], mat))


def test_similarity_minimum_is_row_entropy() -> None:
    # CE(T[y], p) >= H(T[y]), with equality at p = T[y] (the excess is KL(T[y] || p))
    t = animal_target_matrix(dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3])
    at_target = torch.log(t.clamp_min(1e-300))
    h = -(t * torch.log(t.clamp_min(1e-300))).sum(1)
    torch.testing.assert_close(similarity_cross_entropy(at_target, y, t, reduction="none"), h)
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        other = at_target + torch.randn(4, 4, generator=g, dtype=torch.float64)
        assert (similarity_cross_entropy(other, y, t, reduction="none") >= h - 1e-12).all()
