"""DDP (2 CPU ranks, gloo): the patched loss normalized by the global token count equals one large batch."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from hf_tiny import batch, make_model, oracle_terms  # noqa: E402

W = 0.3
WORLD = 2


def _worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from infoloss.integrations.transformers import apply_infoloss, pop_token_entropy

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = apply_infoloss(make_model("llama"), "min-ent", entropy_weight=W)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        big = batch(b=4)
        n_total = (big["labels"][:, 1:] != -100).sum()  # what the Trainer all-gathers
        part = {k: v[2 * rank : 2 * rank + 2] for k, v in big.items()}
        # the Trainer multiplies by the world size (average_tokens_across_devices): DDP averages gradients
        loss = ddp(**part, num_items_in_batch=n_total).loss * WORLD
        loss.backward()
        result = {"grads": {n: p.grad for n, p in model.named_parameters()}, "entropy": pop_token_entropy(ddp)}
        if rank == 0:  # only rank 0 scores tokens now; rank 1 must still join the all-reduce
            model(**part)
        result["entropy_rank0_only"] = pop_token_entropy(model)
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gradients_and_entropy_equal_one_big_batch(tmp_path: Path) -> None:
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    torch.multiprocessing.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    stock = make_model("llama")
    big = batch(b=4)
    logits = stock(input_ids=big["input_ids"], attention_mask=big["attention_mask"]).logits
    ce, ent, count = oracle_terms(logits, big["labels"])
    ((ce + W * ent) / count).backward()
    for res in results:
        for name, p in stock.named_parameters():
            torch.testing.assert_close(res["grads"][name], p.grad.float(), rtol=1e-5, atol=1e-5)
        assert abs(res["entropy"] - (ent / count).item()) < 1e-5
    first = {k: v[:2] for k, v in big.items()}
    _, ent0, count0 = oracle_terms(logits[:2].detach(), first["labels"])
    for res in results:
        assert abs(res["entropy_rank0_only"] - (ent0 / count0).item()) < 1e-5
