"""Fine-tune a tiny causal LM with MIN-ENT through the Hugging Face Trainer, on CPU, in about a minute.

    pip install "infoloss[transformers]"
    python examples/finetune_min_ent.py                           # MIN-ENT, entropy_weight 0.1
    python examples/finetune_min_ent.py --loss ce                 # the CE baseline, same seed and data
    python examples/finetune_min_ent.py --entropy-weight -0.1     # confidence penalty (entropy bonus)
    python examples/finetune_min_ent.py --family gpt2 --steps 60

No download: the model is a randomly initialized tiny ``--family`` model (Llama by default) and the data are
synthetic "sentences" (counting up from a random token in steps of 1, 2 or 3, after a random prompt that is
not trained on), so the next token is predictable from the previous two and the loss falls within a few
dozen steps. ``apply_infoloss`` patches the model so the loss comes from the hidden states and ``lm_head.weight``
without building the (B, T, V) logits; ``TokenEntropyCallback`` logs the mean next-token entropy next to the
loss. A real model works the same way: ``AutoModelForCausalLM.from_pretrained(...)``, then ``apply_infoloss``.
"""

from __future__ import annotations

import argparse
import tempfile

import torch


class Progressions(torch.utils.data.Dataset):
    """``n`` rows of ``t`` tokens: ``prompt`` random tokens, then ``a, a + d, a + 2d, ...`` (d in 1..3, wrapping
    around the vocabulary); the prompt's labels are -100."""

    def __init__(self, n: int, t: int, vocab: int, prompt: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.rows = []
        for _ in range(n):
            a, d = int(torch.randint(3, vocab, (1,), generator=g)), int(torch.randint(1, 4, (1,), generator=g))
            body = (a + d * torch.arange(t - prompt)) % (vocab - 3) + 3
            ids = torch.cat([torch.randint(3, vocab, (prompt,), generator=g), body])
            labels = ids.clone()
            labels[:prompt] = -100
            self.rows.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.rows[i]


def tiny_model(family: str, vocab: int) -> torch.nn.Module:
    import transformers

    if family == "gpt2":
        cfg = transformers.GPT2Config(
            n_embd=64,
            n_layer=2,
            n_head=4,
            vocab_size=vocab,
            n_positions=128,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
        return transformers.GPT2LMHeadModel(cfg)
    configs = {
        "llama": ("LlamaConfig", "LlamaForCausalLM"),
        "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
        "gemma2": ("Gemma2Config", "Gemma2ForCausalLM"),
    }
    cfg_name, model_name = configs[family]
    cfg = getattr(transformers, cfg_name)(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=vocab,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return getattr(transformers, model_name)(cfg)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--family", choices=["llama", "qwen3", "gemma2", "gpt2"], default="llama")
    ap.add_argument("--loss", default="min-ent", help="an infoloss loss name (ce, min-ent, mix-ent, sce, ...)")
    ap.add_argument("--entropy-weight", type=float, default=0.1, help="MIN-ENT weight (negative: confidence penalty)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output-dir", default=None, help="default: a temporary directory")
    args = ap.parse_args(argv)

    import transformers

    from infoloss.integrations.transformers import TokenEntropyCallback, apply_infoloss

    transformers.set_seed(args.seed)
    model = tiny_model(args.family, args.vocab)
    kwargs = {"entropy_weight": args.entropy_weight} if args.loss in ("min-ent", "confidence-penalty") else {}
    apply_infoloss(model, args.loss, **kwargs)
    data = Progressions(n=256, t=32, vocab=args.vocab, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        training_args = transformers.TrainingArguments(
            output_dir=args.output_dir or tmp,
            max_steps=args.steps,
            per_device_train_batch_size=8,
            gradient_accumulation_steps=2,
            learning_rate=1e-2,
            warmup_steps=max(1, args.steps // 10),
            logging_steps=max(1, args.steps // 8),
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=args.seed,
            disable_tqdm=True,
        )
        trainer = transformers.Trainer(
            model=model, args=training_args, train_dataset=data, callbacks=[TokenEntropyCallback()]
        )
        trainer.train()
    history = [e for e in trainer.state.log_history if "loss" in e]
    w = kwargs.get("entropy_weight", 0.0)
    print(f"\n{args.family}, loss={args.loss} {kwargs}")
    print("  step    loss  entropy  loss - w*entropy (about the CE part)")
    for e in history:
        h = e.get("token_entropy", float("nan"))
        print(f"  {e['step']:4d}  {e['loss']:.4f}  {h:.4f}   {e['loss'] - w * h:.4f}")
    return history


if __name__ == "__main__":
    main()
