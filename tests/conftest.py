"""Shared fixtures: run the functional tests once per kernel backend."""

from __future__ import annotations

import importlib

import pytest
import torch

import infoloss


def _fused_available() -> bool:
    try:
        mod = importlib.import_module("infoloss._fused")
    except ImportError:
        return False
    return hasattr(mod, "ce_family_rows") and hasattr(mod, "entropy_rows")


@pytest.fixture(params=["reference", "fused"])
def backend(request: pytest.FixtureRequest):
    """Run a test with each backend of infoloss.functional; the fused one must exist (it is the default)."""
    if request.param == "fused" and not _fused_available():
        pytest.fail("infoloss._fused does not provide ce_family_rows / entropy_rows")
    with infoloss.use_backend(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
