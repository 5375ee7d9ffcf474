"""Every public symbol's docstring follows the template of the API reference (issue 14).

Public symbols are the ``__all__`` of each module the API pages document (``docs/_ext/infoloss_apigen.py``).
Checked here: a doctest example that prints a value (not only ``True``), ``Args:`` for a function with
parameters, ``Returns:`` for a function, ``Shape:`` for a ``torch.nn.Module``, and no pointer to material the
reader does not have. That the examples print the right values is checked by ``--doctest-modules``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
from infoloss_apigen import MODULES  # noqa: E402

POINTERS = ("as a tutorial prints", "the issue text", "the brief", "issue 9", "issue 10", "issue 13", "the note")


def _public() -> list[tuple[str, object]]:
    out, seen = [], set()
    for modname, *_ in MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:  # an optional extra that is not installed
            if (e.name or "").split(".")[0] == "infoloss":
                raise
            continue
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                out.append((f"{modname}.{name}", obj))
    return out


PUBLIC = _public()


def test_the_api_modules_export_symbols():
    assert len(PUBLIC) > 60  # functional, modules, bespoke, linear, ... (the list cannot be silently empty)


@pytest.mark.parametrize("qualname,obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_docstring_follows_the_template(qualname, obj):
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc, f"{qualname}: no doctest example"
    outputs = re.findall(r">>> .*\n((?:(?!>>>|\.\.\. ).+\n?)*)", doc)
    assert any(o.strip() not in ("", "True", "False") for o in outputs), f"{qualname}: the example prints no value"
    if inspect.isfunction(obj):
        if list(inspect.signature(obj).parameters):
            assert "Args:" in doc, f"{qualname}: no Args section"
        assert "Returns:" in doc or "Yields:" in doc, f"{qualname}: no Returns section"
    if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
        assert "Shape:" in doc, f"{qualname}: a module without a Shape section"
    for phrase in POINTERS:
        assert phrase not in doc, f"{qualname}: points at {phrase!r}"
