"""Docstring examples that ``--doctest-modules`` cannot see: classes built on first attribute access (PEP 562).

The torchmetrics classes of :mod:`infoloss.metrics` are created when first asked for, so pytest's doctest
collector, which walks a module's namespace, never finds them. Their examples are run here instead.
"""

from __future__ import annotations

import doctest

import pytest

pytest.importorskip("torchmetrics")

import infoloss.metrics as M  # noqa: E402


@pytest.mark.parametrize("name", sorted(M._TM_NAMES))
def test_lazily_built_metric_class_examples_run(name: str) -> None:
    cls = getattr(M, name)
    tests = [t for t in doctest.DocTestFinder(recurse=True).find(cls, name, globs={}) if t.examples]
    assert tests, f"{name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 0, result
