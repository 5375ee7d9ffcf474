"""Packaging claims of the docs and README: the wheel ships the Apache-2.0 LICENSE; one version, one place."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import infoloss

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_version_is_single_sourced() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", infoloss.__version__)
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert setuptools_cfg["version"] == {"attr": "infoloss.__version__"}
    assert importlib.metadata.version("infoloss") == infoloss.__version__


def test_wheel_ships_the_license(tmp_path: Path) -> None:
    # Build from a copy of what goes into a wheel, so the in-tree build leaves no build/ behind in the repo.
    src = tmp_path / "src-tree"
    src.mkdir()
    for name in ["pyproject.toml", "README.md", "LICENSE"]:
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so"))
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("infoloss-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (license_name,) = [n for n in names if re.fullmatch(r"infoloss-[^/]+\.dist-info/licenses/LICENSE", n)]
        shipped = zf.read(license_name)
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(meta_name).decode()
    assert shipped == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in shipped and b"Version 2.0, January 2004" in shipped
    assert b"END OF TERMS AND CONDITIONS" in shipped  # the full text, not a stub
    assert f"\nVersion: {infoloss.__version__}\n" in meta
    assert "\nLicense-Expression: Apache-2.0\n" in meta and "\nLicense-File: LICENSE\n" in meta


def test_readme_links_are_absolute() -> None:
    """The README is the package index's page too, where a link relative to the repository is broken."""
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)", text) + re.findall(r"^\[[^]]+\]:\s*(\S+)", text, flags=re.M)
    targets += re.findall(r'(?:href|src)="([^"]+)"', text)
    relative = [t for t in targets if not re.match(r"(?i)(https?|mailto):", t)]
    assert not relative, f"relative links in README.md (broken on the package index): {relative}"
    assert "sphinx-build -W -b html docs docs/_build/html" in text  # the docs command the site is built with
