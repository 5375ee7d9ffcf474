"""Trainer and TRL's SFTTrainer end to end: patched model and loss_function, gradient accumulation 2."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from hf_tiny import VOCAB, make_model, oracle_terms  # noqa: E402

from infoloss.integrations.transformers import (  # noqa: E402
    TokenEntropyCallback,
    apply_infoloss,
    compute_loss_func,
    loss_function,
)

W = 0.3  # MIN-ENT weight in these tests


class _Rows(torch.utils.data.Dataset):
    """8 fixed-length rows with different numbers of trained tokens (padding and 'prompt' labels -100)."""

    def __init__(self, t: int = 10) -> None:
        g = torch.Generator().manual_seed(3)
        self.items = []
        for i in range(8):
            ids = torch.randint(3, VOCAB, (t,), generator=g)
            length = t - (i % 4) * 2
            mask = (torch.arange(t) < length).long()
            ids[length:] = 0
            labels = ids.masked_fill(mask == 0, -100)
            labels[: i % 3] = -100
            self.items.append({"input_ids": ids, "attention_mask": mask, "labels": labels})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def _args(tmp: Path, cls: type, bs: int, ga: int, **kw: object) -> object:
    return cls(
        output_dir=str(tmp),
        per_device_train_batch_size=bs,
        gradient_accumulation_steps=ga,
        max_steps=2,
        learning_rate=1.0,
        lr_scheduler_type="constant",
        optim="sgd",
        weight_decay=0.0,
        max_grad_norm=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
        **kw,
    )


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _train_trainer(model: torch.nn.Module, tmp: Path, bs: int, ga: int) -> tuple[dict, list]:
    trainer = transformers.Trainer(
        model=model,
        args=_args(tmp, transformers.TrainingArguments, bs, ga),
        train_dataset=_Rows(),
        callbacks=[TokenEntropyCallback()],
    )
    trainer.train()
    return _params(model), trainer.state.log_history


def _assert_same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_trainer_gradient_accumulation_equals_one_big_batch(tmp_path: Path) -> None:
    base = make_model("qwen2")
    start = _params(base)
    big, _ = _train_trainer(apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W), tmp_path, 4, 1)
    acc, logs = _train_trainer(apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W), tmp_path, 2, 2)
    stock = copy.deepcopy(base)
    stock.loss_function = loss_function("min-ent", entropy_weight=W)  # the logits path, same loss
    via_logits, _ = _train_trainer(stock, tmp_path, 2, 2)
    assert any((acc[n] - start[n]).abs().max() > 1e-3 for n in start)  # the steps moved the weights
    _assert_same_params(acc, big)
    _assert_same_params(via_logits, big)
    steps = [e for e in logs if "loss" in e]
    assert len(steps) == 2
    assert all(0.0 < e["token_entropy"] < torch.log(torch.tensor(float(VOCAB))).item() + 1e-4 for e in steps)


def test_trainer_logged_loss_is_min_ent_of_the_first_step(tmp_path: Path) -> None:
    base = make_model("gemma2")
    data = _Rows()
    first = {k: torch.stack([data[i][k] for i in range(8)]) for k in data[0]}
    logits = base(input_ids=first["input_ids"], attention_mask=first["attention_mask"]).logits
    model = apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W)
    args = _args(tmp_path, transformers.TrainingArguments, 4, 2)
    args.max_steps = 1
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[TokenEntropyCallback()])
    trainer.train()
    ce, ent, count = oracle_terms(logits.detach(), first["labels"])  # one step = all 8 rows (bs 4 x GA 2)
    step = next(e for e in trainer.state.log_history if "loss" in e)
    assert abs(step["loss"] - ((ce + W * ent) / count).item()) < 1e-4
    assert abs(step["token_entropy"] - (ent / count).item()) < 1e-4


# ------------------------------------------------------------------------------------------------ TRL
def _trl() -> object:
    return pytest.importorskip("trl")


def _tokenizer() -> object:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{f"w{i}": i for i in range(4, VOCAB)}}
    tok = tokenizers.Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>"
    )


def _text_dataset() -> object:
    datasets = pytest.importorskip("datasets")
    g = torch.Generator().manual_seed(5)
    rows = [" ".join(f"w{int(i)}" for i in torch.randint(4, VOCAB, (3 + k % 5,), generator=g)) for k in range(8)]
    return datasets.Dataset.from_dict({"text": rows})


def _sft(trainer_cls: type, model: torch.nn.Module, tmp: Path, bs: int, ga: int, **kw: object) -> object:
    args = _args(
        tmp,
        _trl().SFTConfig,
        bs,
        ga,
        max_length=16,
        packing=False,
        dataset_num_proc=None,
        bf16=False,
        gradient_checkpointing=False,
    )
    return trainer_cls(model=model, args=args, train_dataset=_text_dataset(), processing_class=_tokenizer(), **kw)


def _one_batch(trainer: object) -> dict[str, torch.Tensor]:
    return next(iter(trainer.get_train_dataloader()))


def _oracle_min_ent(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")).logits
    ce, ent, count = oracle_terms(logits, inputs["labels"])
    return ((ce + W * ent) / count).item()


def test_infoloss_sft_trainer_trains_with_the_patched_loss(tmp_path: Path) -> None:
    _trl()
    from infoloss.integrations.transformers import InfolossSFTTrainer

    base = make_model("llama")
    start = _params(base)
    big = _sft(InfolossSFTTrainer, apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W), tmp_path, 4, 1)
    batch = _one_batch(big)
    loss = big.compute_loss(big.model, dict(batch))
    assert abs(loss.item() - _oracle_min_ent(base, batch)) < 1e-5
    big.train()
    acc = _sft(InfolossSFTTrainer, apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W), tmp_path, 2, 2)
    acc.train()
    assert any((_params(acc.model)[n] - start[n]).abs().max() > 1e-3 for n in start)
    _assert_same_params(_params(acc.model), _params(big.model))
    logged = [e for e in acc.state.log_history if "loss" in e]
    assert len(logged) == 2 and all("entropy" in e for e in logged)


def test_infoloss_sft_trainer_needs_a_patched_model(tmp_path: Path) -> None:
    _trl()
    from infoloss.integrations.transformers import InfolossSFTTrainer

    with pytest.raises(ValueError, match="patched by apply_infoloss"):
        _sft(InfolossSFTTrainer, make_model("llama"), tmp_path, 2, 2)


def test_plain_sft_trainer_bypasses_the_model_loss(tmp_path: Path) -> None:
    # Why InfolossSFTTrainer exists: TRL's fused LM head computes the NLL itself, not the model's loss.
    base = make_model("llama")
    trainer = _sft(_trl().SFTTrainer, apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W), tmp_path, 2, 2)
    batch = _one_batch(trainer)
    loss = trainer.compute_loss(trainer.model, dict(batch)).item()
    with torch.no_grad():
        logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ce, ent, count = oracle_terms(logits, batch["labels"])
    assert abs(loss - (ce / count).item()) < 1e-5  # plain CE
    assert abs(loss - _oracle_min_ent(base, batch)) > 1e-2


def test_sft_trainer_with_compute_loss_func(tmp_path: Path) -> None:
    base = make_model("qwen3")
    trainer = _sft(
        _trl().SFTTrainer,
        copy.deepcopy(base),
        tmp_path,
        2,
        2,
        compute_loss_func=compute_loss_func("min-ent", entropy_weight=W),
    )
    batch = _one_batch(trainer)
    loss = trainer.compute_loss(trainer.model, dict(batch))
    assert abs(loss.item() - _oracle_min_ent(base, batch)) < 1e-5
    trainer.train()
    assert len([e for e in trainer.state.log_history if "loss" in e]) == 2


def test_infoloss_sft_trainer_under_trl_default_bf16_autocast(tmp_path: Path) -> None:
    _trl()
    from infoloss.integrations.transformers import InfolossSFTTrainer

    base = make_model("gemma2")
    args = _args(tmp_path, _trl().SFTConfig, 2, 2, max_length=16, packing=False, dataset_num_proc=None)
    assert args.bf16  # TRL's default: accelerate runs the training forward under CPU bf16 autocast
    trainer = InfolossSFTTrainer(
        model=apply_infoloss(copy.deepcopy(base), "min-ent", entropy_weight=W),
        args=args,
        train_dataset=_text_dataset(),
        processing_class=_tokenizer(),
    )
    batch = _one_batch(trainer)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = trainer.compute_loss(trainer.model, dict(batch))
    assert loss.dtype == torch.float32
    assert abs(loss.item() - _oracle_min_ent(base, batch)) < 2e-2 * loss.item()
    trainer.train()
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_example_script_runs(tmp_path: Path) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "finetune_min_ent.py"
    spec = importlib.util.spec_from_file_location("finetune_min_ent", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    history = example.main(["--steps", "2", "--output-dir", str(tmp_path)])
    assert len(history) == 2 and all(0.0 < e["token_entropy"] < 6.0 for e in history)
