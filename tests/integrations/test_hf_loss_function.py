"""loss_function / compute_loss_func: HF's ForCausalLMLoss contract, float64 oracles, GA normalization."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from hf_tiny import batch, make_model, oracle_terms  # noqa: E402
from transformers.loss.loss_utils import ForCausalLMLoss  # noqa: E402

import infoloss.integrations.transformers as hf  # noqa: E402
from infoloss.integrations.transformers import compute_loss_func, loss_function  # noqa: E402


def _logits_labels(b: int = 4, t: int = 7, v: int = 11, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(b, t, v, generator=g)).requires_grad_()
    labels = torch.randint(0, v, (b, t), generator=g)
    labels[0, 4:] = -100
    labels[2, :2] = -100
    return logits, labels


def test_import_infoloss_does_not_import_transformers() -> None:
    code = (
        "import sys, infoloss, infoloss.integrations; "
        "assert 'transformers' not in sys.modules and 'trl' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("num_items", [None, "tensor", "int"])
def test_ce_equals_hf_for_causal_lm_loss(num_items: str | None) -> None:
    logits, labels = _logits_labels()
    n = {"tensor": torch.tensor(23), "int": 23, None: None}[num_items]
    ours = loss_function("ce")(logits, labels, vocab_size=11, num_items_in_batch=n)
    (g_ours,) = torch.autograd.grad(ours, logits)
    ref = ForCausalLMLoss(logits, labels, vocab_size=11, num_items_in_batch=n)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-6, atol=1e-7)


def test_shift_labels_and_ignore_index_and_bf16_upcast() -> None:
    logits, labels = _logits_labels()
    shifted = torch.roll(labels, -1, dims=1)
    shifted[:, -1] = 7  # a pre-shifted target the plain shift could not produce
    shifted[shifted == -100] = 3  # ignored with ignore_index=3
    lb = logits.detach().bfloat16()
    ours = loss_function("ce")(lb, labels, 11, shift_labels=shifted, ignore_index=3)
    ref = ForCausalLMLoss(lb, labels, 11, shift_labels=shifted, ignore_index=3)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("w", [0.1, -0.3])
def test_min_ent_equals_float64_oracle(w: float) -> None:
    logits, labels = _logits_labels()
    ce, ent, count = oracle_terms(logits.detach(), labels)
    want = (ce + w * ent) / count
    got = loss_function("min-ent", entropy_weight=w)(logits, labels, vocab_size=11)
    assert abs(got.item() - want.item()) < 1e-5
    got_sum = loss_function("min-ent", entropy_weight=w)(logits, labels, 11, num_items_in_batch=torch.tensor(40))
    assert abs(got_sum.item() - ((ce + w * ent) / 40).item()) < 1e-5


def test_gradient_accumulation_equals_one_big_batch() -> None:
    logits, labels = _logits_labels(b=4)
    fn = loss_function("min-ent", entropy_weight=0.2)
    big = fn(logits, labels, 11)
    (g_big,) = torch.autograd.grad(big, logits)
    n = (labels[:, 1:] != -100).sum()  # what the Trainer passes: shifted non-ignored tokens of all micro-batches
    parts = [fn(logits[i : i + 2], labels[i : i + 2], 11, num_items_in_batch=n) for i in (0, 2)]
    (g_acc,) = torch.autograd.grad(sum(parts), logits)
    torch.testing.assert_close(sum(parts), big, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_acc, g_big, rtol=1e-5, atol=1e-7)
    # the per-micro-batch mean (the bug) differs here: the two halves have different token counts
    naive = sum(fn(logits[i : i + 2], labels[i : i + 2], 11) for i in (0, 2)) / 2
    assert abs(naive.item() - big.item()) > 1e-3


def test_all_ignored_is_zero_not_nan() -> None:
    logits = torch.randn(2, 4, 5, requires_grad=True)
    labels = torch.full((2, 4), -100)
    loss = loss_function("min-ent")(logits, labels, 5)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(logits.grad == 0)


@pytest.mark.parametrize(
    "name", ["ce", "label-smoothing", "min-ent", "confidence-penalty", "mix-ent", "sce", "focal", "poly1"]
)
def test_defaults_agree_with_the_experiment_registry(name: str) -> None:
    from infoloss.experiments.losses import LossContext, build_loss

    z = torch.randn(12, 9, dtype=torch.float64)
    y = torch.randint(0, 9, (12,))
    y[3] = -100
    module = build_loss(name, LossContext(9))
    want = module(z, y)
    got = hf.CausalLMLoss(name).rows(z, y, ignore_index=-100, reduction="mean")
    torch.testing.assert_close(got, want)


def test_errors_are_raised_when_built() -> None:
    with pytest.raises(ValueError, match="unknown loss 'nope'; valid losses: ce, "):
        loss_function("nope")
    with pytest.raises(ValueError, match="'reduction' is not a loss keyword"):
        loss_function("ce", reduction="sum")
    with pytest.raises(ValueError, match="'weight' is not a loss keyword"):
        loss_function("min-ent", weight=torch.ones(3))
    with pytest.raises(TypeError, match="takes no keyword.*entropy_wieght.*valid: .*entropy_weight"):
        loss_function("min-ent", entropy_wieght=0.1)
    with pytest.raises(ValueError):
        loss_function("mix-ent", eps=2.0)
    with pytest.raises(ValueError):
        loss_function("min-ent", label_smoothing=1.5)
    assert repr(loss_function("min_ent")) == "CausalLMLoss('min-ent', entropy_weight=0.1)"


def test_model_loss_function_on_a_stock_model() -> None:
    model = make_model("llama")
    inputs = batch()
    stock = model(**inputs).loss
    model.loss_function = loss_function("ce")
    assert abs(model(**inputs).loss.item() - stock.item()) < 1e-6
    model.loss_function = loss_function("min-ent", entropy_weight=0.5)
    out = model(**inputs)
    ce, ent, count = oracle_terms(out.logits.detach(), inputs["labels"])
    assert abs(out.loss.item() - ((ce + 0.5 * ent) / count).item()) < 1e-5


def test_compute_loss_func_reads_outputs_logits() -> None:
    logits, labels = _logits_labels()
    fn = compute_loss_func("mix-ent", reverse_weight=0.3)
    out = transformers.modeling_outputs.CausalLMOutputWithPast(logits=logits)
    n = torch.tensor(17)
    want = loss_function("mix-ent", reverse_weight=0.3)(logits, labels, 11, num_items_in_batch=n)
    assert fn(out, labels, num_items_in_batch=n).item() == want.item()
    with pytest.raises(ValueError, match="needs outputs.logits"):
        fn(transformers.modeling_outputs.CausalLMOutputWithPast(loss=want), labels)
