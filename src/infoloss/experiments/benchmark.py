"""Training throughput of a model (forward + backward + SGD step, images/s) on random data.

Usage::

    python -m infoloss.experiments.benchmark --model vgg5 --batch-size 128 --size 28 --threads 0
"""

from __future__ import annotations

import argparse
import time

import torch

from infoloss.experiments.distributed import pick_device
from infoloss.experiments.models import build_model

__all__ = ["images_per_second", "main"]


def images_per_second(
    model_name: str = "vgg5",
    *,
    batch_size: int = 128,
    size: int = 28,
    num_classes: int = 26,
    seconds: float = 10.0,
    warmup: int = 2,
    device: str = "auto",
) -> float:
    """Measure training images/s of ``model_name`` on (batch_size, 1, size, size) random inputs.

    Each step is forward, cross entropy, backward and an SGD step; steps repeat for ``seconds``
    after ``warmup`` untimed steps.

    Example:
        >>> images_per_second("mlp", seconds=0.2) > 0
        True
    """
    dev = pick_device(device)
    model = build_model(model_name, (1, size, size), num_classes).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch_size, 1, size, size, device=dev)
    y = torch.randint(0, num_classes, (batch_size,), device=dev)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)  # Tensor.backward is unannotated in torch
        opt.step()

    for _ in range(warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += batch_size
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    """Command line: print images/s for the given model, batch size and threads."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vgg5")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    ips = images_per_second(a.model, batch_size=a.batch_size, size=a.size, seconds=a.seconds, device=a.device)
    print(
        f"{a.model}: {ips:.0f} images/s (train step, batch {a.batch_size}, {a.size}x{a.size}, "
        f"{torch.get_num_threads()} threads, {pick_device(a.device)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
