"""infoloss.numpy (the readable spec) against infoloss.functional (the PyTorch API), in float64.

Every public function of infoloss.functional must agree with its NumPy twin to 1e-6 over random shapes and
options, with both kernel backends ("reference" and "fused"), and both must reject the same bad arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import infoloss.functional as tf
import infoloss.numpy as inp

TOL = {"rtol": 1e-6, "atol": 1e-6}
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CE_FAMILY = [
    "cross_entropy",
    "min_entropy_loss",
    "mixed_entropy_loss",
    "symmetric_cross_entropy",
    "focal_loss",
    "poly1_cross_entropy",
]


def test_every_public_function_has_a_numpy_twin():
    assert set(tf.__all__) <= set(inp.__all__)
    assert set(inp.__all__) - set(tf.__all__) == {"cross_entropy_from_probs"}


def _compare(np_value: np.ndarray, torch_value: torch.Tensor) -> None:
    assert isinstance(torch_value, torch.Tensor)
    assert torch_value.dtype == torch.float64
    expected = torch.as_tensor(np_value)
    assert tuple(torch_value.shape) == tuple(expected.shape)
    torch.testing.assert_close(torch_value.detach(), expected, **TOL, equal_nan=False)


@st.composite
def ce_cases(draw):
    """(logits, target, options) for the cross-entropy family: any layout, target kind and option."""
    ndim = draw(st.sampled_from([1, 2, 3, 4]))
    c = draw(st.integers(1, 5))
    if ndim == 1:
        shape: tuple[int, ...] = (c,)
    else:
        shape = (draw(st.integers(0, 4)), c, *draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = rng.normal(scale=draw(st.sampled_from([0.5, 3.0, 20.0])), size=shape)
    cdim = 1 if ndim >= 2 else 0
    if draw(st.booleans()):
        target = rng.integers(0, c, size=shape[:1] + shape[2:] if ndim >= 2 else ())
        ignore_index = draw(st.sampled_from([-100, 0]))
        if ignore_index == -100 and target.ndim and target.size:
            target[rng.random(target.shape) < 0.3] = -100
    else:
        q = rng.random(shape) ** 3
        q = q / np.maximum(q.sum(axis=cdim, keepdims=True), 1e-300)
        target, ignore_index = q, -100
    weight = rng.uniform(0.1, 3.0, size=c) if draw(st.booleans()) else None
    options = {
        "weight": weight,
        "ignore_index": ignore_index,
        "reduction": draw(st.sampled_from(["none", "mean", "sum"])),
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 1.0])),
    }
    return logits, target, options


BASES = st.sampled_from([None, 2, 10, 0.5])


def _extra_options(name: str, draw) -> dict:
    if name == "cross_entropy":
        return {"base": draw(BASES)}
    if name == "min_entropy_loss":
        return {
            "ce_weight": draw(st.sampled_from([1.0, 0.0, 0.7])),
            "entropy_weight": draw(st.sampled_from([0.1, -0.3, 2.0])),
            "ce_base": draw(BASES),
            "entropy_base": draw(BASES),
        }
    if name == "mixed_entropy_loss":
        return {
            "ce_weight": draw(st.sampled_from([1.0, 0.5])),
            "reverse_weight": draw(st.sampled_from([0.1, 1.0])),
            "ce_base": draw(BASES),
            "reverse_base": draw(BASES),
            "eps": draw(st.sampled_from([1e-6, 1e-2, 0.5])),
        }
    if name == "symmetric_cross_entropy":
        return {
            "alpha": draw(st.sampled_from([0.1, 1.0])),
            "beta": draw(st.sampled_from([1.0, 0.4])),
            "log_zero": draw(st.sampled_from([-4.0, -10.0])),
            "base": draw(BASES),
        }
    if name == "focal_loss":
        return {"gamma": draw(st.sampled_from([0.0, 0.5, 2.0, 3.0])), "base": draw(BASES)}
    assert name == "poly1_cross_entropy"
    return {"epsilon": draw(st.sampled_from([1.0, -1.0, 0.0, 2.5])), "base": draw(BASES)}


def _to_torch(options: dict) -> dict:
    return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


@pytest.mark.parametrize("name", CE_FAMILY)
def test_ce_family_agrees(name, backend):
    @SETTINGS
    @given(case=ce_cases(), data=st.data())
    def check(case, data):
        logits, target, options = case
        options = {**options, **_extra_options(name, data.draw)}
        np_value = getattr(inp, name)(logits, target, **options)
        torch_value = getattr(tf, name)(torch.as_tensor(logits), torch.as_tensor(target), **_to_torch(options))
        _compare(np_value, torch_value)
        if name == "cross_entropy":  # torch's positional order: weight, ignore_index, reduction, smoothing
            positional = [options[k] for k in ("weight", "ignore_index", "reduction", "label_smoothing")]
            _compare(inp.cross_entropy(logits, target, *positional, base=options["base"]), torch_value)

    check()


@SETTINGS
@given(case=ce_cases(), base=BASES, reduction=st.sampled_from(["none", "mean", "sum"]), use_probs=st.booleans())
def test_entropy_agrees(backend, case, base, reduction, use_probs):
    logits = case[0]
    if use_probs:
        probs = torch.softmax(torch.as_tensor(logits), dim=1 if logits.ndim >= 2 else 0)
        probs = torch.where(probs < 1e-3, torch.zeros_like(probs), probs)  # exact zeros: 0 log 0 = 0
        np_value = inp.entropy(probs=probs.numpy(), base=base, reduction=reduction)
        torch_value = tf.entropy(probs=probs, base=base, reduction=reduction)
    else:
        np_value = inp.entropy(logits, base=base, reduction=reduction)
        torch_value = tf.entropy(torch.as_tensor(logits), base=base, reduction=reduction)
    _compare(np_value, torch_value)


@SETTINGS
@given(case=ce_cases(), base=BASES, reduction=st.sampled_from(["none", "mean", "sum"]), log_target=st.booleans())
def test_kl_divergence_agrees(case, base, reduction, log_target):
    logits = case[0]
    rng = np.random.default_rng(logits.size)
    cdim = 1 if logits.ndim >= 2 else 0
    q = rng.random(logits.shape) ** 2
    q[q < 0.1] = 0.0
    q = q / np.maximum(q.sum(axis=cdim, keepdims=True), 1e-300)
    with np.errstate(divide="ignore"):
        target = np.log(q) if log_target else q
    np_value = inp.kl_divergence(logits, target, reduction=reduction, base=base, log_target=log_target)
    torch_value = tf.kl_divergence(
        torch.as_tensor(logits), torch.as_tensor(target), reduction=reduction, base=base, log_target=log_target
    )
    _compare(np_value, torch_value)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.sampled_from([(0,), (5,), (3, 4), (2, 3, 2)]),
    base=BASES,
    reduction=st.sampled_from(["none", "mean", "sum"]),
    use_weight=st.booleans(),
    use_pos_weight=st.booleans(),
)
def test_binary_losses_agree(seed, shape, base, reduction, use_weight, use_pos_weight):
    rng = np.random.default_rng(seed)
    probs = rng.uniform(size=shape)
    if probs.size:
        probs.flat[0] = 1.0  # torch's -100 clamp
    logits = rng.normal(scale=5.0, size=shape)
    target = rng.uniform(size=shape)
    weight = rng.uniform(0.1, 2.0, size=shape[-1:]) if use_weight else None
    pos_weight = rng.uniform(0.1, 4.0, size=shape[-1:]) if use_pos_weight else None
    t = torch.as_tensor
    _compare(
        inp.binary_cross_entropy(probs, target, weight, reduction, base=base),
        tf.binary_cross_entropy(t(probs), t(target), None if weight is None else t(weight), reduction, base=base),
    )
    _compare(
        inp.binary_cross_entropy_with_logits(logits, target, weight, reduction, pos_weight, base=base),
        tf.binary_cross_entropy_with_logits(
            t(logits),
            t(target),
            None if weight is None else t(weight),
            reduction,
            None if pos_weight is None else t(pos_weight),
            base=base,
        ),
    )


@pytest.mark.parametrize("base", [None, 2, 10, 0.5])
def test_information_agrees(base):
    probs = np.array([[0.0, 1e-12, 0.3], [0.5, 0.99, 1.0]])
    _compare(inp.information(probs, base=base), tf.information(torch.as_tensor(probs), base=base))


BAD_CE_ARGUMENTS = [
    ("class index out of range", np.zeros((2, 3)), np.array([0, 3]), {}, ValueError),
    ("negative probability", np.zeros((1, 2)), np.array([[1.5, -0.5]]), {}, ValueError),
    ("target shape", np.zeros((2, 3)), np.array([0, 1, 2]), {}, ValueError),
    ("weight length", np.zeros((2, 3)), np.array([0, 1]), {"weight": np.ones(2)}, ValueError),
    ("reduction", np.zeros((2, 3)), np.array([0, 1]), {"reduction": "avg"}, ValueError),
    ("label smoothing", np.zeros((2, 3)), np.array([0, 1]), {"label_smoothing": -0.1}, ValueError),
    ("bool target", np.zeros((2, 3)), np.array([True, False]), {}, TypeError),
    ("scalar input", np.zeros(()), np.array(0), {}, ValueError),
]


@pytest.mark.parametrize("name", CE_FAMILY)
@pytest.mark.parametrize(("why", "logits", "target", "options", "error"), BAD_CE_ARGUMENTS)
def test_both_reject_the_same_bad_arguments(name, why, logits, target, options, error):
    t_options = _to_torch(options)
    with pytest.raises(error):
        getattr(inp, name)(logits, target, **options)
    with pytest.raises(error):
        getattr(tf, name)(torch.as_tensor(logits), torch.as_tensor(target), **t_options)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("cross_entropy", {"base": 1.0}),
        ("min_entropy_loss", {"entropy_base": 0.0}),
        ("mixed_entropy_loss", {"eps": 1.0}),
        ("mixed_entropy_loss", {"reverse_base": -2.0}),
        ("symmetric_cross_entropy", {"log_zero": 0.5}),
        ("focal_loss", {"gamma": -1.0}),
        ("poly1_cross_entropy", {"epsilon": float("nan")}),
    ],
)
def test_both_reject_the_same_bad_options(name, options):
    logits, target = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError):
        getattr(inp, name)(logits, target, **options)
    with pytest.raises(ValueError):
        getattr(tf, name)(torch.as_tensor(logits), torch.as_tensor(target), **options)


# Edge cases where torch itself gives NaN or an arbitrary value: both layers follow docs/design.md.
def test_zero_denominator_with_label_smoothing_gives_zero():
    logits, target, weight = np.zeros((2, 3)), np.array([0, 1]), np.array([0.0, 0.0, 1.0])
    _compare(
        inp.cross_entropy(logits, target, weight, label_smoothing=0.3),
        tf.cross_entropy(
            torch.as_tensor(logits), torch.as_tensor(target), torch.as_tensor(weight), label_smoothing=0.3
        ),
    )


def test_binary_cross_entropy_with_infinite_logits_is_finite():
    logits, target = np.array([np.inf, -np.inf]), np.array([1.0, 0.0])
    _compare(
        inp.binary_cross_entropy_with_logits(logits, target),
        tf.binary_cross_entropy_with_logits(torch.as_tensor(logits), torch.as_tensor(target)),
    )
