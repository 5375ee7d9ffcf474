"""Fixtures of the GPU-marked tests: infoloss's CUDA paths against float64 oracles.

On a GPU machine: ``python -m pytest -q -m gpu tests/gpu`` (``benchmarks/gpu_check.py`` runs ``-m gpu`` on
all of ``tests``). Without CUDA every test here is skipped, except that ``INFOLOSS_GPU_TESTS_ON_CPU=1``
runs the same tests on the CPU (the Triton backend and the CUDA memory tests still skip): that checks the
tests and their oracles, not the CUDA code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

import infoloss

ON_CPU = os.environ.get("INFOLOSS_GPU_TESTS_ON_CPU") == "1"


@pytest.fixture
def device() -> torch.device:
    """cuda:0, or the CPU when INFOLOSS_GPU_TESTS_ON_CPU=1; skip otherwise."""
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    if ON_CPU:
        return torch.device("cpu")
    pytest.skip("needs CUDA (set INFOLOSS_GPU_TESTS_ON_CPU=1 to run these tests on the CPU)")


@pytest.fixture
def cuda_device() -> torch.device:
    """cuda:0 only (memory and kernel-specific tests)."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    return torch.device("cuda", 0)


def triton_backend_available() -> tuple[bool, str]:
    """Whether infoloss.set_backend('triton') is accepted (the opt-in Triton path), and why not."""
    previous = infoloss.get_backend()
    try:
        infoloss.set_backend("triton")
    except (ValueError, RuntimeError, ImportError) as exc:
        return False, f"infoloss.set_backend('triton') not available: {exc}"
    finally:
        infoloss.set_backend(previous)
    return True, ""


@pytest.fixture(params=["default", "triton"])
def gpu_backend(request: pytest.FixtureRequest, device: torch.device) -> Iterator[str]:
    """Run with infoloss's default backend, and with the opt-in Triton backend on CUDA when it exists."""
    if request.param == "default":
        yield "default"
        return
    if device.type != "cuda":
        pytest.skip("the Triton backend needs CUDA")
    ok, why = triton_backend_available()
    if not ok:
        pytest.skip(why)
    with infoloss.use_backend("triton"):
        yield "triton"
