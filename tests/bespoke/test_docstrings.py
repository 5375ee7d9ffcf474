"""The docstring examples of infoloss.bespoke run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["matrices", "hierarchy", "losses", "metrics", "examples"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"infoloss.bespoke.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
