"""Write the API reference pages (docs/api/*.rst) from what ``infoloss`` exports at build time.

The pages are regenerated on every build, so a public name added to ``infoloss.__all__`` or a module's
``__all__`` appears without editing the docs, and a module that does not exist yet (``infoloss.linear``,
``infoloss.parallel``, ...) is simply left out until it does. A module that exists but fails to import
fails the build, except when what is missing is an optional third-party dependency (then it is skipped
with a message on the console, not a warning).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import shutil
import types
from pathlib import Path

import infoloss

# (module, title, one-line description), in reading order. Modules absent at build time are skipped.
MODULES: list[tuple[str, str, str]] = [
    ("infoloss.functional", "Functional losses", "Differentiable losses on logits, drop-ins for torch.nn.functional."),
    ("infoloss.modules", "Loss modules", "torch.nn.Module wrappers of the functional losses."),
    (
        "infoloss.bespoke",
        "Bespoke (cost-aware) losses",
        "Losses where some mistakes cost less, matrix builders, metrics.",
    ),
    ("infoloss.linear", "Linear + loss", "Losses from hidden states and the classifier, without the N x V logits."),
    ("infoloss.tokens", "Token statistics", "Per-token entropy and log-probabilities."),
    ("infoloss.parallel", "Vocabulary-parallel losses", "Losses over a vocabulary sharded across processes."),
    ("infoloss.integrations", "Integrations", "Adapters to other libraries."),
    ("infoloss.integrations.transformers", "Hugging Face Transformers", "Trainer / model integration."),
    ("infoloss.metrics", "Metrics", "Calibration and information metrics."),
    ("infoloss.numpy", "NumPy reference", "The same losses, forward only, in float64 NumPy."),
    ("infoloss.schedules", "Schedules", "Per-epoch schedules of a regularizer's weight."),
    ("infoloss.experiments", "Experiment harness", "Train and compare losses over paired seeds."),
]


def _exists(modname: str) -> bool:
    try:
        return importlib.util.find_spec(modname) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _import(modname: str) -> types.ModuleType | None:
    if not _exists(modname):
        print(f"[infoloss_apigen] {modname}: not present, left out of the API reference")
        return None
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        root = (e.name or "").split(".")[0]
        if root and root != "infoloss":
            print(f"[infoloss_apigen] {modname}: needs {root!r} (not installed), left out of the API reference")
            return None
        raise


def _public_names(mod: types.ModuleType) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(
        n
        for n, obj in vars(mod).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == mod.__name__
    )


def _underline(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _kind(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _autosummary(names: list[str], toctree: bool) -> str:
    if not names:
        return ""
    opts = "   :toctree: generated\n" if toctree else ""
    body = "".join(f"   {n}\n" for n in names)
    return f".. autosummary::\n{opts}\n{body}\n"


def _toplevel_page(modules: list[tuple[str, str, str]]) -> str:
    out = [
        _underline("API reference", "="),
        "\n",
        "Every name exported by the top-level package (``infoloss.__all__``) is listed here, followed by the\n"
        "submodules. Each entry links to a page generated from the object's docstring.\n\n",
        ".. currentmodule:: infoloss\n\n",
    ]
    groups: dict[str, list[str]] = {"class": [], "function": [], "module": [], "data": []}
    for name in infoloss.__all__:
        groups[_kind(getattr(infoloss, name))].append(name)
    out.append(_underline("Classes (``infoloss.*``)", "-") + "\n")
    out.append(_autosummary(groups["class"], toctree=True))
    out.append(_underline("Functions (``infoloss.*``)", "-") + "\n")
    out.append(_autosummary(groups["function"], toctree=True))
    out.append(_underline("Submodules and data", "-") + "\n")
    for name in groups["module"]:
        out.append(f"* ``{name}``: :mod:`infoloss.{name}`\n")
    for name in groups["data"]:
        out.append(f"* ``{name}``: ``{getattr(infoloss, name)!r}``\n")
    out.append("\n")
    out.append(_underline("All modules", "-") + "\n")
    out.append(".. toctree::\n   :maxdepth: 1\n\n")
    for modname, title, _ in modules:
        out.append(f"   {title} <{modname}>\n")
    out.append("\n")
    return "".join(out)


def _module_page(modname: str, title: str, mod: types.ModuleType) -> str:
    names = _public_names(mod)
    here, elsewhere, submodules = [], [], []
    for n in names:
        obj = getattr(mod, n, None)
        if obj is None and not hasattr(mod, n):
            raise AttributeError(f"{modname}.__all__ lists {n!r}, which the module does not define")
        if isinstance(obj, types.ModuleType):
            submodules.append(obj.__name__)
        elif n in infoloss.__all__ and getattr(infoloss, n) is obj and _kind(obj) != "data":
            elsewhere.append(n)
        else:
            here.append(n)
    out = [
        _underline(f"{title}: ``{modname}``", "="),
        "\n",
        f".. automodule:: {modname}\n   :no-members:\n\n",
        f".. currentmodule:: {modname}\n\n",
    ]
    if here:
        out.append(_underline("Contents", "-") + "\n")
        out.append(_autosummary(here, toctree=True))
    if elsewhere:
        out.append(_underline("Also exported at the top level", "-") + "\n")
        out.append(f"Documented as ``infoloss.<name>``; ``{modname}.<name>`` is the same object.\n\n")
        out.append(".. currentmodule:: infoloss\n\n")
        out.append(_autosummary(elsewhere, toctree=False))
    if submodules:
        out.append(_underline("Submodules", "-") + "\n")
        out.extend(f"* :mod:`{s}`\n" for s in submodules)
        out.append("\n")
    return "".join(out)


def generate(api_dir: Path) -> list[str]:
    """Write ``api_dir/index.rst`` and one page per importable module; return the documented modules."""
    if (api_dir / "generated").exists():  # stubs of names that are gone would be orphan pages (a warning)
        shutil.rmtree(api_dir / "generated")
    api_dir.mkdir(parents=True, exist_ok=True)
    present: list[tuple[str, str, str]] = []
    pages: dict[str, str] = {}
    for modname, title, desc in MODULES:
        mod = _import(modname)
        if mod is None:
            continue
        present.append((modname, title, desc))
        pages[f"{modname}.rst"] = _module_page(modname, title, mod)
    pages["index.rst"] = _toplevel_page(present)
    for fname, text in pages.items():
        path = api_dir / fname
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their mtime (incremental builds)
            path.write_text(text)
    for stale in api_dir.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    return [m for m, _, _ in present]
