"""Process-group fixtures of the vocab-parallel tests.

``run_ranks(fn, world, *args)`` starts ``world`` processes (fork: no re-import of torch, a few hundred ms per
group), each with a gloo process group on a free local port, runs ``fn(rank, world, *args)`` in each and
fails the test with every message the ranks returned (a worker's exception fails it with its traceback).
Each worker runs many cases and returns the failures as a list of strings, so a handful of process groups
cover the whole option grid.
"""

from __future__ import annotations

import datetime
import json
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _entry(rank: int, fn: Callable[..., list[str]], world: int, port: int, outdir: str, args: tuple[Any, ...]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=120),
    )
    try:
        fails = fn(rank, world, *args)
        if dist.is_initialized():  # (a worker may run code that makes and destroys its own group)
            dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    Path(outdir, f"rank{rank}.json").write_text(json.dumps(fails))


def _run(fn: Callable[..., list[str]], world: int, *args: Any, outdir: Path) -> None:
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    mp.start_processes(
        _entry, args=(fn, world, _free_port(), str(outdir), args), nprocs=world, join=True, start_method=method
    )
    fails = []
    for r in range(world):
        fails += [f"rank {r}: {m}" for m in json.loads(Path(outdir, f"rank{r}.json").read_text())]
    assert not fails, f"{len(fails)} failures:\n" + "\n".join(fails[:40])


@pytest.fixture
def run_ranks(tmp_path: Path) -> Callable[..., None]:
    def run(fn: Callable[..., list[str]], world: int, *args: Any) -> None:
        _run(fn, world, *args, outdir=tmp_path)

    return run


@pytest.fixture
def world_of_one() -> Iterator[None]:
    """A gloo default group of one process (in-memory store), destroyed after the test."""
    if dist.is_initialized():
        pytest.skip("a default process group already exists in this process")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()
