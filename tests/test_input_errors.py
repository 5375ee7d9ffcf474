"""Bad input raises a clear TypeError / ValueError naming the problem (regressions for reviewers' findings)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import infoloss
from infoloss import metrics as M
from infoloss.bespoke import (
    average_cost,
    hierarchical_distance_at_k,
    label_smoothing_matrix,
    mistake_severity,
    top1_accuracy,
)
from infoloss.experiments.data import read_idx, write_idx
from infoloss.linear import linear_cross_entropy, linear_token_stats
from infoloss.parallel import (
    vocab_parallel_cross_entropy,
    vocab_parallel_entropy,
    vocab_parallel_linear_cross_entropy,
)
from infoloss.tokens import token_logprob_entropy, token_logprob_entropy_from_logits


def _raises(call: Callable[[], Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        call()
    assert type(info.value) is exc, f"expected exactly {exc.__name__}, got {type(info.value).__name__}"


# ------------------------------------------------------------------------------------------ experiments.data
@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.bool_, np.complex64])
def test_write_idx_unsupported_dtype(tmp_path: Path, dtype: Any) -> None:
    name = np.dtype(dtype).name
    _raises(lambda: write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype)), TypeError, rf"dtype {name}.*uint8")
    assert not (tmp_path / "x.idx").exists()


def test_write_idx_zero_dim(tmp_path: Path) -> None:
    _raises(lambda: write_idx(tmp_path / "x.idx", np.array(3, dtype=np.uint8)), ValueError, "0-d array")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64, ">i4", "<f8"])
def test_write_idx_supported_dtypes_round_trip(tmp_path: Path, dtype: Any) -> None:
    a = np.arange(6).astype(dtype).reshape(2, 3)
    write_idx(tmp_path / "x.idx.gz", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx.gz"), a)


# ---------------------------------------------------------------------------------------------- bespoke metrics
D = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
SCORES = torch.tensor([[3.0, 2.0, 1.0], [0.0, 1.0, 2.0]])
Y = torch.tensor([0, 2])


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (torch.tensor([0.0, 2.0]), "target must be an integer tensor.*torch.float32"),
        (torch.tensor([True, False]), "target must be an integer tensor.*torch.bool"),
        (torch.tensor([0, 2], dtype=torch.complex64), "target must be an integer tensor.*torch.complex64"),
        ([0, 2], "target must be an integer tensor.*list"),
    ],
)
def test_hierarchical_distance_at_k_target_type(target: Any, match: str) -> None:
    _raises(lambda: hierarchical_distance_at_k(SCORES, target, D, k=2), TypeError, match)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"k": 2.0}, TypeError, r"k must be an int in \[1, 3\], got float"),
        ({"k": True}, TypeError, r"k must be an int in \[1, 3\], got bool"),
        ({"k": 4}, ValueError, r"k must be an int in \[1, 3\], got 4"),
        ({"ignore_index": None}, TypeError, "ignore_index must be an int, got NoneType"),
    ],
)
def test_hierarchical_distance_at_k_options(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    _raises(lambda: hierarchical_distance_at_k(SCORES, Y, D, **kwargs), exc, match)


_PAIR_METRICS: list[Callable[..., torch.Tensor]] = [
    top1_accuracy,
    lambda p, t, **kw: average_cost(p, t, D, **kw),
    lambda p, t, **kw: mistake_severity(p, t, D, **kw),
]


@pytest.mark.parametrize("fn", _PAIR_METRICS, ids=["top1_accuracy", "average_cost", "mistake_severity"])
@pytest.mark.parametrize(
    ("prediction", "target", "kwargs", "match"),
    [
        ([0, 2], Y, {}, "prediction must be a tensor.*got list"),
        (np.array([0, 2]), Y, {}, "prediction must be a tensor.*got ndarray"),
        (torch.tensor([True, False]), Y, {}, "prediction must be integer class indices or floating.*torch.bool"),
        (torch.tensor([0, 2], dtype=torch.complex64), Y, {}, "prediction must be integer.*complex64"),
        (torch.tensor([0, 2]), torch.tensor([0.0, 2.0]), {}, "target must be an integer tensor.*float32"),
        (torch.tensor([0, 2]), torch.tensor([True, False]), {}, "target must be an integer tensor.*torch.bool"),
        (torch.tensor([0, 2]), [0, 2], {}, "target must be an integer tensor.*list"),
        (torch.tensor([0, 2]), Y, {"ignore_index": 1.5}, "ignore_index must be an int, got float"),
    ],
)
def test_bespoke_metric_types(
    fn: Callable[..., torch.Tensor], prediction: Any, target: Any, kwargs: dict[str, Any], match: str
) -> None:
    _raises(lambda: fn(prediction, target, **kwargs), TypeError, match)


# ---------------------------------------------------------------------------------------------- linear, tokens
H, W, T = torch.zeros(2, 3), torch.zeros(4, 3), torch.tensor([1, 2])


@pytest.mark.parametrize(
    ("bias", "match"),
    [
        ([0.0, 0.0, 0.0, 0.0], "bias must be a torch.Tensor, got list"),
        (np.zeros(4), "bias must be a torch.Tensor, got ndarray"),
        (torch.zeros(4, dtype=torch.long), "bias must have a floating dtype, got torch.int64"),
    ],
)
def test_linear_token_stats_bias_type(bias: Any, match: str) -> None:
    _raises(lambda: linear_token_stats(H, W, T, bias), TypeError, match)


_CHUNKED: dict[str, Callable[[Any], Any]] = {
    "linear_cross_entropy": lambda c: linear_cross_entropy(H, W, T, chunk_size=c),
    "linear_token_stats": lambda c: linear_token_stats(H, W, T, chunk_size=c),
    "token_logprob_entropy": lambda c: token_logprob_entropy(H, W, T, chunk_size=c),
    "token_logprob_entropy_from_logits": lambda c: token_logprob_entropy_from_logits(
        torch.zeros(2, 4), T, chunk_size=c
    ),
    "vocab_parallel_cross_entropy": lambda c: vocab_parallel_cross_entropy(torch.zeros(2, 4), T, chunk_size=c),
    "vocab_parallel_entropy": lambda c: vocab_parallel_entropy(torch.zeros(2, 4), chunk_size=c),
    "vocab_parallel_linear_cross_entropy": lambda c: vocab_parallel_linear_cross_entropy(H, W, T, chunk_size=c),
}


@pytest.mark.parametrize("name", list(_CHUNKED))
@pytest.mark.parametrize(
    ("chunk_size", "exc", "match"),
    [
        (2.0, TypeError, r"chunk_size must be a.*int.*got float 2\.0"),
        ("4", TypeError, "chunk_size must be a.*int.*got str '4'"),
        (True, TypeError, "chunk_size must be a positive int or None, got bool True"),
        (False, TypeError, "chunk_size must be a positive int or None, got bool False"),
        (0, ValueError, "chunk_size must be a positive int or None, got 0"),
        (-3, ValueError, "chunk_size must be a positive int or None, got -3"),
    ],
)
def test_chunk_size(name: str, chunk_size: Any, exc: type[Exception], match: str) -> None:
    _raises(lambda: _CHUNKED[name](chunk_size), exc, match)


# -------------------------------------------------------------------------------- integrations.transformers
@pytest.mark.parametrize(
    ("chunk_size", "exc", "match"),
    [
        (True, TypeError, "chunk_size must be a positive int or None, got bool True"),
        (2.0, TypeError, r"chunk_size must be a positive int or None, got float 2\.0"),
        (0, ValueError, "chunk_size must be a positive int or None, got 0"),
    ],
)
def test_apply_infoloss_chunk_size(chunk_size: Any, exc: type[Exception], match: str) -> None:
    transformers = pytest.importorskip("transformers")
    from infoloss.integrations.transformers import apply_infoloss, is_infoloss_patched

    cfg = transformers.LlamaConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        vocab_size=11,
    )
    model = transformers.LlamaForCausalLM(cfg)
    _raises(lambda: apply_infoloss(model, "ce", chunk_size=chunk_size), exc, match)
    assert not is_infoloss_patched(model)


# ----------------------------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("decay", ["linear", "cosine"])
@pytest.mark.parametrize("total_epochs", [None, 3, 2])
def test_regularizer_weight_decay_needs_total_epochs_during_warmup(decay: str, total_epochs: int | None) -> None:
    # warmup_epochs=3: epoch 0 is inside the warm-up; the bad setup must fail there, not at epoch 3.
    _raises(
        lambda: infoloss.regularizer_weight(0, peak=1.0, warmup_epochs=3, total_epochs=total_epochs, decay=decay),
        ValueError,
        "needs total_epochs > warmup_epochs",
    )


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"epoch": 1.0}, TypeError, "epoch must be an int, got float"),
        ({"epoch": True}, TypeError, "epoch must be an int, got bool"),
        ({"epoch": -1}, ValueError, "epoch must be >= 0"),
        ({"warmup_epochs": 2.5}, TypeError, "warmup_epochs must be an int, got float"),
        ({"warmup_epochs": -1}, ValueError, "warmup_epochs must be >= 0"),
        ({"total_epochs": 10.0}, TypeError, "total_epochs must be an int, got float"),
        ({"total_epochs": 0}, ValueError, "total_epochs must be >= 1"),
        ({"peak": "0.1"}, TypeError, "peak must be a number, got str"),
        ({"peak": math.nan}, ValueError, "peak must be finite"),
        ({"final": None}, TypeError, "final must be a number, got NoneType"),
        ({"decay": None}, TypeError, "decay must be a str"),
        ({"decay": "exp"}, ValueError, "decay must be one of"),
    ],
)
def test_regularizer_weight_checks_every_argument_up_front(
    kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"epoch": 0, "peak": 0.1, "warmup_epochs": 2, "total_epochs": 10, "decay": "linear"}
    args.update(kwargs)
    _raises(lambda: infoloss.regularizer_weight(**args), exc, match)


def test_regularizer_weight_valid_setups_still_work() -> None:
    assert infoloss.regularizer_weight(0, peak=1, warmup_epochs=2) == 0.5
    assert infoloss.regularizer_weight(5, peak=1, warmup_epochs=2) == 1.0
    assert isinstance(infoloss.regularizer_weight(5, peak=1, warmup_epochs=2), float)
    # constant decay never needs total_epochs, even when it is not past the warm-up
    assert infoloss.regularizer_weight(1, peak=0.2, warmup_epochs=4, total_epochs=3) == pytest.approx(0.1)


# --------------------------------------------------------------------------------- metrics, bespoke matrices
Z = torch.eye(3)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: M.accuracy(Z.long(), torch.arange(3)),
            TypeError,
            r"accuracy: logits must be a floating.*torch\.int64",
        ),
        (lambda: M.nll(Z.tolist(), torch.arange(3)), TypeError, "nll: logits must be a floating.*got list"),  # type: ignore[arg-type]
        (lambda: M.predictive_entropy(Z.bool()), TypeError, "predictive_entropy: logits must be a floating"),
        (lambda: M.accuracy(Z, torch.arange(3.0)), TypeError, r"accuracy: target must be an int64 or int32.*float32"),
        (lambda: M.nll(Z, torch.arange(3, dtype=torch.int16)), TypeError, "target must be an int64 or int32.*int16"),
        (lambda: M.nll(Z, [0, 1, 2]), TypeError, "nll: target must be an int64 or int32.*got list"),  # type: ignore[arg-type]
        (
            lambda: M.expected_calibration_error(Z, torch.arange(3.0)),
            TypeError,
            "expected_calibration_error: target must be an int64 or int32",
        ),
        (lambda: M.mistake_severity(Z, torch.arange(3.0), D), TypeError, "mistake_severity: target must be an int64"),
        # shapes stay ValueError
        (lambda: M.nll(torch.zeros(3), torch.arange(3)), ValueError, r"logits must be a floating \(N, C\).*shape"),
        (lambda: M.nll(Z, torch.zeros(3, 1, dtype=torch.long)), ValueError, r"target must be a 1-D \(N,\)"),
    ],
)
def test_metrics_check(call: Callable[[], Any], exc: type[Exception], match: str) -> None:
    _raises(call, exc, match)


def test_metric_class_update_dtype() -> None:
    pytest.importorskip("torchmetrics")
    _raises(lambda: M.Accuracy().update(Z, torch.arange(3.0)), TypeError, "Accuracy.update: target must be an int64")
    _raises(lambda: M.PredictiveEntropy().update(Z.long()), TypeError, "PredictiveEntropy.update: logits must be")


@pytest.mark.parametrize(
    ("eps", "exc", "match"),
    [
        ("0.1", TypeError, r"eps must be a number in \[0, 1\], got str"),
        (None, TypeError, r"eps must be a number in \[0, 1\], got NoneType"),
        (True, TypeError, r"eps must be a number in \[0, 1\], got bool"),
        (torch.tensor(0.1), TypeError, r"eps must be a number in \[0, 1\], got Tensor"),
        (1.5, ValueError, r"eps must be a number in \[0, 1\], got 1\.5"),
        (math.nan, ValueError, r"eps must be a number in \[0, 1\], got nan"),
    ],
)
def test_label_smoothing_matrix_eps(eps: Any, exc: type[Exception], match: str) -> None:
    _raises(lambda: label_smoothing_matrix(3, eps), exc, match)


# ------------------------------------------------------------- integer options and matrix dtypes (lead)
@pytest.mark.parametrize("n_bins", [2.0, "15", True])
def test_n_bins_of_the_wrong_type_is_a_type_error(n_bins):
    import infoloss.metrics as M

    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(TypeError, match="n_bins must be a positive integer"):
        M.expected_calibration_error(z, y, n_bins=n_bins)
    with pytest.raises(ValueError, match="n_bins must be a positive integer, got 0"):
        M.expected_calibration_error(z, y, n_bins=0)


@pytest.mark.parametrize("num_classes", [3.0, "3", True])
def test_num_classes_of_the_wrong_type_is_a_type_error(num_classes):
    from infoloss.bespoke import label_smoothing_matrix

    with pytest.raises(TypeError, match="num_classes must be an int >= 1"):
        label_smoothing_matrix(num_classes, 0.1)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1, got 0"):
        label_smoothing_matrix(0, 0.1)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, "float32"])
def test_matrix_builders_refuse_a_non_floating_dtype(dtype):
    from infoloss import bespoke as B

    builders = [
        lambda: B.label_smoothing_matrix(3, 0.1, dtype=dtype),
        lambda: B.target_matrix_from_distances(torch.ones(3, 3) - torch.eye(3), dtype=dtype),
        lambda: B.target_matrix_from_similarities(torch.eye(3), dtype=dtype),
        lambda: B.hierarchy_distance_matrix(B.animal_hierarchy(), B.ANIMAL_CLASSES, dtype=dtype),
        lambda: B.hierarchy_target_matrix(B.animal_hierarchy(), B.ANIMAL_CLASSES, dtype=dtype),
    ]
    for build in builders:
        with pytest.raises(TypeError, match="dtype must be a floating torch dtype"):
            build()
