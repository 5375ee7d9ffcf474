"""Shared fixtures: a tiny slice of scikit-learn's digits so training tests take a second."""

from __future__ import annotations

import pytest
import torch

from infoloss.experiments.data import Dataset, load_dataset


def tiny_digits(n_train: int = 240, n_test: int = 120) -> Dataset:
    """The first ``n_train`` / ``n_test`` examples of the digits split (8x8, 10 classes)."""
    ds = load_dataset("digits")
    return Dataset(
        "digits", ds.x_train[:n_train], ds.y_train[:n_train], ds.x_test[:n_test], ds.y_test[:n_test], ds.classes
    )


@pytest.fixture(scope="session")
def tiny() -> Dataset:
    return tiny_digits()


@pytest.fixture(autouse=True)
def _one_thread():
    # the machine is shared; one intra-op thread keeps the tests fast and reproducible
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
