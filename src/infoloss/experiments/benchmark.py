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
    """Measure training images/s of ``model_name`` on random inputs of shape ``(batch_size, 1, size, size)``.

    Each step is forward, cross entropy, backward and an SGD step (lr 0.01, momentum 0.9); steps repeat
    for ``seconds`` after ``warmup`` untimed steps (CUDA is synchronized around the timed part).

    Args:
        model_name: a name of :data:`~infoloss.experiments.models.MODELS`.
        batch_size: images per step.
        size: image height and width.
        num_classes: number of logits.
        seconds: length of the timed part.
        warmup: untimed steps first.
        device: ``auto`` or a device name (:func:`~infoloss.experiments.distributed.pick_device`).

    Returns:
        Training images per second.

    Raises:
        ValueError: if the model name is unknown or the model cannot take ``size``.
        ConfigError: if the device is not available.

    Example:
        >>> round(images_per_second("mlp", seconds=0.2))  # doctest: +SKIP
        41873
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
    """Run the command line: print images/s for the given model, batch size and threads.

    Args:
        argv: the arguments (None: ``sys.argv[1:]``): ``--model``, ``--batch-size``, ``--size``,
            ``--seconds``, ``--threads`` (0: torch's default), ``--device``.

    Returns:
        The exit code, 0.

    Example:
        >>> main(["--model", "mlp", "--seconds", "1"])  # doctest: +SKIP
        mlp: 41873 images/s (train step, batch 128, 28x28, 2 threads, cpu)
        0
    """
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
