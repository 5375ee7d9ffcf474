"""apply_infoloss: the patched forward equals the stock model (CE) and the float64 oracle (MIN-ENT)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

transformers = pytest.importorskip("transformers")

from hf_tiny import FAMILIES, VOCAB, batch, make_model, oracle_terms  # noqa: E402

from infoloss.integrations.transformers import (  # noqa: E402
    SUPPORTED_ARCHITECTURES,
    apply_infoloss,
    is_infoloss_patched,
    loss_function,
    pop_token_entropy,
    remove_infoloss,
)

TOL = dict(rtol=1e-5, atol=1e-5)


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_grads_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and len(a) > 0
    for name in a:
        torch.testing.assert_close(a[name], b[name], **TOL, msg=lambda m, name=name: f"{name}: {m}")


def test_every_supported_architecture_is_tested() -> None:
    tested = {FAMILIES[f][1] for f in FAMILIES}
    assert tested == set(SUPPORTED_ARCHITECTURES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_ce_loss_and_gradients_equal_stock_with_padding_and_accumulation(family: str) -> None:
    stock = make_model(family)
    patched = apply_infoloss(copy.deepcopy(stock), "ce", track_entropy=False)
    big = batch(b=4)
    # one forward on the whole batch
    ref = stock(**big)
    ref.loss.backward()
    out = patched(**big)
    assert out.logits is None
    out.loss.backward()
    torch.testing.assert_close(out.loss, ref.loss, **TOL)
    _assert_grads_close(_grads(patched), _grads(stock))
    # gradient accumulation: two micro-batches normalized by the tokens of both (what the Trainer passes)
    n = (big["labels"][:, 1:] != -100).sum()
    patched.zero_grad()
    total = 0.0
    for i in (0, 2):
        part = {k: v[i : i + 2] for k, v in big.items()}
        loss = patched(**part, num_items_in_batch=n).loss
        loss.backward()
        total += loss.item()
    assert abs(total - ref.loss.item()) < 1e-5
    _assert_grads_close(_grads(patched), _grads(stock))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_min_ent_equals_ce_plus_w_entropy_from_full_logits(family: str) -> None:
    w = 0.3
    stock = make_model(family)
    patched = apply_infoloss(copy.deepcopy(stock), "min-ent", entropy_weight=w)
    inputs = batch()
    # oracle: float64 torch ops on the stock model's full logits, differentiated through the stock model
    logits = stock(**{k: v for k, v in inputs.items() if k != "labels"}).logits
    ce, ent, count = oracle_terms(logits, inputs["labels"])
    want = (ce + w * ent) / count
    want.backward()
    out = patched(**inputs)
    out.loss.backward()
    assert abs(out.loss.item() - want.item()) < 1e-5
    _assert_grads_close(_grads(patched), {k: v.float() for k, v in _grads(stock).items()})
    assert abs(out.token_entropy.item() - (ent / count).item()) < 1e-5


def test_softcap_matters_for_gemma2() -> None:
    # the oracle above would be met by chance if the softcap did nothing on these logits: it does not
    model = make_model("gemma2")
    inputs = batch()
    with_cap = model(**inputs).loss.item()
    model.config.final_logit_softcapping = None
    assert abs(model(**inputs).loss.item() - with_cap) > 1e-2


def test_lm_head_bias_gets_its_gradient() -> None:
    stock = make_model("llama")
    with torch.no_grad():
        head = nn.Linear(32, VOCAB, bias=True)
        head.weight.copy_(stock.lm_head.weight)
        head.bias.normal_(0, 1.0)
    stock.lm_head = head
    patched = apply_infoloss(copy.deepcopy(stock), "ce", track_entropy=False)
    inputs = batch()
    ref = stock(**inputs)
    ref.loss.backward()
    out = patched(**inputs)
    out.loss.backward()
    torch.testing.assert_close(out.loss, ref.loss, **TOL)
    _assert_grads_close(_grads(patched), _grads(stock))
    assert patched.lm_head.bias.grad.abs().sum() > 0


def test_tied_embedding_gradient_is_the_sum_of_both_uses() -> None:
    stock = make_model("gpt2")
    assert stock.lm_head.weight is stock.transformer.wte.weight
    patched = apply_infoloss(copy.deepcopy(stock), "min-ent")
    assert patched.lm_head.weight is patched.transformer.wte.weight
    inputs = batch()
    stock.loss_function = loss_function("min-ent")
    stock(**inputs).loss.backward()
    patched(**inputs).loss.backward()
    torch.testing.assert_close(patched.transformer.wte.weight.grad, stock.transformer.wte.weight.grad, **TOL)


@pytest.mark.parametrize("keep", ["int", "bool-mask"])
def test_logits_to_keep_with_shift_labels(keep: str) -> None:
    stock = make_model("qwen3")
    patched = apply_infoloss(copy.deepcopy(stock), "ce", track_entropy=False)
    inputs = batch()
    b, t = inputs["input_ids"].shape
    if keep == "int":
        to_keep: int | torch.Tensor = 4
        shift = inputs["labels"][:, -4:].clone()  # targets for the last 4 positions (any (B, 4) labels)
    else:
        to_keep = torch.zeros(b, t, dtype=torch.bool)
        to_keep[0, 2:5] = True
        to_keep[2, 1] = True
        shift = torch.randint(0, VOCAB, (int(to_keep.sum()),))
    shift[0] = -100
    ref = stock(**inputs, logits_to_keep=to_keep, shift_labels=shift)
    out = patched(**inputs, logits_to_keep=to_keep, shift_labels=shift)
    torch.testing.assert_close(out.loss, ref.loss, **TOL)
    with pytest.raises(ValueError, match="shifted labels"):
        patched(**inputs, logits_to_keep=3)


def test_forward_without_labels_and_generate_unchanged() -> None:
    stock = make_model("llama").eval()
    patched = apply_infoloss(copy.deepcopy(stock), "min-ent")
    ids = batch()["input_ids"][:, :5]
    assert torch.equal(patched(input_ids=ids).logits, stock(input_ids=ids).logits)
    kw = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert torch.equal(patched.generate(ids, **kw), stock.generate(ids, **kw))


def test_eval_mode_returns_logits_and_the_same_loss() -> None:
    model = apply_infoloss(make_model("gemma2"), "min-ent", entropy_weight=0.2)
    inputs = batch()
    train_out = model(**inputs)
    model.eval()
    eval_out = model(**inputs)
    assert train_out.logits is None and eval_out.logits.shape == (3, 9, VOCAB)
    assert abs(eval_out.loss.item() - train_out.loss.item()) < 1e-5
    assert abs(eval_out.token_entropy.item() - train_out.token_entropy.item()) < 1e-5
    model.train()
    forced = apply_infoloss(model, "min-ent", entropy_weight=0.2, skip_logits=False)(**inputs)
    assert forced.logits is not None and abs(forced.loss.item() - train_out.loss.item()) < 1e-5


def test_return_dict_false_and_positional_input_ids() -> None:
    model = apply_infoloss(make_model("gpt2"), "ce")
    inputs = batch()
    ref = model(**inputs).loss
    out = model(
        inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"], return_dict=False
    )
    assert isinstance(out, tuple) and torch.equal(out[0], ref)


def test_all_ignored_batch_gives_zero_and_zero_gradients() -> None:
    model = apply_infoloss(make_model("llama"), "min-ent")
    inputs = batch()
    inputs["labels"][:] = -100
    out = model(**inputs)
    out.loss.backward()
    assert out.loss.item() == 0.0
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.parameters())


def test_token_entropy_accumulates_over_training_forwards_only() -> None:
    model = apply_infoloss(make_model("llama"), "min-ent")
    a, b = batch(seed=1), batch(seed=2)
    ea, eb = model(**a), model(**b)
    na, nb = ((x["labels"][:, 1:] != -100).sum().item() for x in (a, b))
    model.eval()
    model(**a)  # not counted
    want = (ea.token_entropy.item() * na + eb.token_entropy.item() * nb) / (na + nb)
    assert abs(pop_token_entropy(model) - want) < 1e-5
    assert pop_token_entropy(model) is None


def test_remove_infoloss_restores_the_stock_forward() -> None:
    model = make_model("llama")
    apply_infoloss(model, "min-ent")
    assert is_infoloss_patched(model)
    remove_infoloss(model)
    assert not is_infoloss_patched(model) and "forward" not in vars(model)
    assert model(**batch()).logits is not None
    with pytest.raises(ValueError, match="not patched"):
        remove_infoloss(model)


def _tiny(cfg_name: str, model_name: str, **extra: object) -> nn.Module:
    cfg = getattr(transformers, cfg_name)(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        **extra,
    )
    return getattr(transformers, model_name)(cfg)


@pytest.mark.parametrize(
    "cfg_name, model_name, reason",
    [
        ("CohereConfig", "CohereForCausalLM", "logit_scale"),
        ("GraniteConfig", "GraniteForCausalLM", "logits_scaling"),
        ("MixtralConfig", "MixtralForCausalLM", "auxiliary loss"),
        ("LlamaConfig", "LlamaForSequenceClassification", "not among the verified"),
    ],
)
def test_unsupported_models_are_refused(cfg_name: str, model_name: str, reason: str) -> None:
    extra = {"num_local_experts": 2, "num_experts_per_tok": 1} if cfg_name == "MixtralConfig" else {}
    with pytest.raises(ValueError, match=reason):
        apply_infoloss(_tiny(cfg_name, model_name, **extra))


def test_subclass_with_its_own_forward_is_refused() -> None:
    class Scaled(transformers.LlamaForCausalLM):
        def forward(self, *args, **kwargs):  # type: ignore[override]
            return super().forward(*args, **kwargs)

    Scaled.__name__ = "LlamaForCausalLM"  # even under the same name
    with pytest.raises(ValueError, match="cannot patch LlamaForCausalLM"):
        apply_infoloss(Scaled(make_model("llama").config))


def test_other_refusals() -> None:
    model = make_model("llama")
    with pytest.raises(ValueError, match="no fused linear form"):
        apply_infoloss(model, "focal")
    with pytest.raises(TypeError, match="takes no keyword"):
        apply_infoloss(model, "ce", entropy_weight=0.1)
    model.forward = model.forward  # someone (TRL, Liger) replaced the forward on the instance
    with pytest.raises(ValueError, match="already replaced"):
        apply_infoloss(model, "ce")
    model = apply_infoloss(make_model("llama"), "ce")
    model.lm_head = nn.Sequential(model.lm_head)  # e.g. an adapter wrapped the head after the patch
    with pytest.raises(RuntimeError, match="not a plain nn.Linear"):
        model(**batch())


def test_bfloat16_model_loss_close_to_stock() -> None:
    stock = make_model("llama", dtype=torch.bfloat16)
    patched = apply_infoloss(copy.deepcopy(stock), "ce", track_entropy=False)
    inputs = batch()
    ref, out = stock(**inputs).loss, patched(**inputs).loss
    assert out.dtype == torch.float32
    assert abs(out.item() - ref.item()) < 2e-2 * ref.item()


def test_two_patched_families_keep_their_own_signatures_and_copies_work(tmp_path) -> None:
    import inspect

    llama = apply_infoloss(make_model("llama"), "ce")
    gpt2 = apply_infoloss(make_model("gpt2"), "ce")
    assert "token_type_ids" not in inspect.signature(llama.forward).parameters
    assert "token_type_ids" in inspect.signature(gpt2.forward).parameters
    clone = copy.deepcopy(llama)  # e.g. a reference model
    assert is_infoloss_patched(clone) and clone.forward.__self__ is clone
    inputs = batch()
    assert torch.equal(clone(**inputs).loss, llama(**inputs).loss)
    llama.save_pretrained(tmp_path)
    reloaded = transformers.LlamaForCausalLM.from_pretrained(tmp_path)
    assert not is_infoloss_patched(reloaded)
    for (n, p), (_, q) in zip(llama.named_parameters(), reloaded.named_parameters(), strict=True):
        assert torch.equal(p, q), n
