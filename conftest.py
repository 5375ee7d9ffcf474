"""Root pytest configuration: the doctests of ``src`` (``--doctest-modules``) skip modules whose optional
dependencies are not installed, so the README's test command runs on a core install too."""

from __future__ import annotations

import importlib.util

_OPTIONAL = {
    "src/infoloss/integrations/*.py": ("transformers", "accelerate"),
    "src/infoloss/experiments/*.py": ("sklearn", "scipy", "matplotlib", "tqdm"),
}

collect_ignore_glob = [
    pattern for pattern, modules in _OPTIONAL.items() if any(importlib.util.find_spec(name) is None for name in modules)
]
