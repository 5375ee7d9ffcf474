"""Sphinx configuration of the infoloss documentation.

Build (from the repository root): ``sphinx-build -W -b html docs docs/_build/html``.
Everything the pages need at view time is local: MathJax 3 (the single-file ``tex-svg-full.js`` component,
shipped by the ``sphinx-mathjax-offline`` package) is copied into ``_static/mathjax/``, so formulas render
from ``file://`` without a network.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import infoloss_apigen  # noqa: E402

import infoloss  # noqa: E402

project = "infoloss"
author = "infoloss contributors"
copyright = "infoloss contributors; Apache-2.0"  # noqa: A001
release = infoloss.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "_ext", "gallery/GALLERY_HEADER.rst", "**.ipynb_checkpoints", "img/README*"]

# ---- API reference: regenerated from infoloss's exports on every build
API_MODULES = infoloss_apigen.generate(HERE / "api")
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = ["Shape"]  # the Shape section of the loss modules (torch.nn style)

# ---- Markdown pages (docs/*.md are read as they are)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# ---- math: local MathJax, no network at view time
_MATHJAX_FILE = "tex-svg-full.js"
mathjax_path = f"mathjax/{_MATHJAX_FILE}"
mathjax3_config = {"svg": {"fontCache": "global"}}


def _mathjax_source() -> Path:
    for f in importlib.metadata.files("sphinx-mathjax-offline") or []:
        if f.name == _MATHJAX_FILE:
            return Path(str(f.locate()))
    raise RuntimeError(f"{_MATHJAX_FILE} not found: pip install -e '.[docs]' (sphinx-mathjax-offline)")


def _copy_mathjax(app, exc) -> None:  # type: ignore[no-untyped-def]
    if exc is None and app.builder.format == "html":
        from sphinx.util.fileutil import copy_asset_file

        dest = Path(app.outdir) / "_static" / "mathjax"
        dest.mkdir(parents=True, exist_ok=True)
        copy_asset_file(str(_mathjax_source()), str(dest / _MATHJAX_FILE))


# ---- tutorials: executed at build time; an example that raises fails the build
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "tutorials",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 10**9,
    "write_computation_times": False,
}

# ---- guides: every Markdown page of docs/ that is not a fixed page, in this order first, the rest by name;
# a guide another change adds (docs/parallel.md, docs/huggingface.md, ...) joins the site without an edit here.
_FIXED_PAGES = {"index", "primer", "choosing", "design", "changelog"}
_GUIDE_ORDER = ["bespoke", "experiments", "fused", "linear", "parallel", "huggingface"]
_found = {p.stem for p in HERE.glob("*.md")} - _FIXED_PAGES
GUIDES = [g for g in _GUIDE_ORDER if g in _found] + sorted(_found - set(_GUIDE_ORDER))


def _insert_guides(app, docname, source) -> None:  # type: ignore[no-untyped-def]
    if docname == "index":
        source[0] = source[0].replace("GUIDES_FROM_CONF_PY", "\n".join(GUIDES))


# ---- HTML
html_theme = "furo"
html_title = f"infoloss {release}"
html_static_path = ["_static"]
html_css_files = ["infoloss.css"]
html_show_sourcelink = False
html_last_updated_fmt = None


def _public_bases(app, name, obj, options, bases) -> None:  # type: ignore[no-untyped-def]
    """Show a class's first public ancestor, not a private helper base (``_TwoTermLoss``)."""
    for i, base in enumerate(bases):
        while base.__name__.startswith("_") and base.__bases__:
            base = base.__bases__[0]
        bases[i] = base


def setup(app):  # type: ignore[no-untyped-def]
    _mathjax_source()  # fail early, before a long build, when the package is missing
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("build-finished", _copy_mathjax)
    app.connect("source-read", _insert_guides)
    return {"parallel_read_safe": True}
