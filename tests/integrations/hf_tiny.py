"""Tiny randomly initialized causal LMs of every family apply_infoloss covers (no downloads)."""

from __future__ import annotations

import torch

VOCAB = 257
SOFTCAP = 3.0  # small, so tanh is far from linear on these logits

_COMMON = dict(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=64,
    vocab_size=VOCAB,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    max_position_embeddings=64,
)

# family -> (config class, model class, config extras)
FAMILIES: dict[str, tuple[str, str, dict]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
    "llama-tied": ("LlamaConfig", "LlamaForCausalLM", {"tie_word_embeddings": True}),
    "mistral": ("MistralConfig", "MistralForCausalLM", {}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {"tie_word_embeddings": True}),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 16}),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", {"head_dim": 16}),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {"head_dim": 16, "final_logit_softcapping": SOFTCAP}),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", {"head_dim": 16, "final_logit_softcapping": SOFTCAP}),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", {}),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", {}),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", {}),
}


def make_model(family: str, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A tiny model of ``family`` with a spread-out LM head (logits of order 1, a non-uniform softmax)."""
    import transformers

    cfg_name, model_name, extra = FAMILIES[family]
    if family == "gpt2":
        cfg = transformers.GPT2Config(
            n_embd=32,
            n_layer=1,
            n_head=2,
            vocab_size=VOCAB,
            n_positions=64,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
    else:
        cfg = getattr(transformers, cfg_name)(**_COMMON, **extra)
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(cfg)
    with torch.no_grad():
        model.get_output_embeddings().weight.normal_(0.0, 0.4)
    return model.to(dtype).train()


def batch(b: int = 3, t: int = 9, seed: int = 1, pad_rows: tuple[int, ...] = (0, 2)) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and labels with right padding (-100 labels, mask 0) on ``pad_rows``."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (b, t), generator=g)
    mask = torch.ones(b, t, dtype=torch.long)
    labels = ids.clone()
    for k, r in enumerate(pad_rows):
        if r < b:
            cut = t - 2 - 2 * k
            ids[r, cut:] = 0
            mask[r, cut:] = 0
            labels[r, cut:] = -100
    labels[1, :3] = -100  # a "prompt" that is not trained on
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def oracle_terms(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 sums of CE and of entropy over the non-ignored shifted tokens, and their count (torch ops)."""
    z = logits[:, :-1].double()
    y = labels[:, 1:]
    keep = y != -100
    logp = torch.log_softmax(z, dim=-1)
    ce = -logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)
    return (ce * keep).sum(), (ent * keep).sum(), keep.sum()
