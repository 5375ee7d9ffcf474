"""The documentation site: it builds with warnings as errors, reads offline, and renders in a real browser.

The site is built once per test run (``sphinx-build -W``) unless ``INFOLOSS_DOCS_HTML`` names an
already built one (``.ci/run`` builds it first and sets it). The browser checks load pages from
``file://`` in headless Chromium (Debian's ``chromium``; skipped with the reason when it is not
installed) and read the DOM after the page's scripts ran: every formula must have been typeset by the
local MathJax (no raw ``\\sum``, ``$$`` or ``\\(`` left in the text), and the API page must list every name
of ``infoloss.__all__``. The primer's worked numbers are recomputed here in float64.
"""

from __future__ import annotations

import doctest
import fcntl
import html
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import infoloss

pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# ------------------------------------------------------------------------------------------ the built site
def _build(out: Path) -> str:
    """Build the site into ``out``; return '' on success, else the end of sphinx-build's output."""
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out.parent / "doctrees"),
        str(DOCS),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if proc.returncode == 0:
        return ""
    return f"sphinx-build -W failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"


@pytest.fixture(scope="session")
def site() -> Path:
    """The built HTML site: ``INFOLOSS_DOCS_HTML`` if set, else built once for this test run."""
    prebuilt = os.environ.get("INFOLOSS_DOCS_HTML")
    if prebuilt:
        path = Path(prebuilt).resolve()
        assert (path / "index.html").is_file(), f"INFOLOSS_DOCS_HTML={prebuilt} has no index.html"
        return path
    # pytest-xdist workers share one run id: the first worker builds, the others wait on the lock and reuse it.
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
    base = DOCS / "_build" / "test"
    base.mkdir(parents=True, exist_ok=True)
    out = base / "html"
    stamp = base / "built-by"
    with open(base / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = stamp.is_file() and stamp.read_text().split("\n", 1)[0] == run_id
        if not done:
            stamp.unlink(missing_ok=True)
            stamp.write_text(f"{run_id}\n{_build(out)}")  # a failed build is reported, not redone, by each worker
        error = stamp.read_text().split("\n", 1)[1]
    assert not error, error
    return out


def _static_text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _visible_text(dom: str) -> str:
    """The text a reader sees: tags, scripts and styles removed, entities decoded."""
    dom = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", dom, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


def _math_nodes(static_html: str) -> int:
    return len(re.findall(r'class="math notranslate nohighlight"', static_html))


def test_site_has_the_pages(site: Path) -> None:
    for page in [
        "index.html",
        "primer.html",
        "choosing.html",
        "bespoke.html",
        "fused.html",
        "design.html",
        "experiments.html",
        "changelog.html",
        "api/index.html",
        "tutorials/index.html",
    ]:
        assert (site / page).is_file(), page
    primer = _static_text(site / "primer.html")
    assert "0.8467" in primer and "0.9686" in primer
    assert "horse" in _static_text(site / "bespoke.html") and "1.7938" in _static_text(site / "bespoke.html")


def test_pages_load_nothing_from_the_network(site: Path) -> None:
    """Scripts, styles and images are local files: the site reads offline, formulas included."""
    assert (site / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    for page in ["index.html", "primer.html", "api/index.html", "tutorials/plot_01_bits_and_nats.html"]:
        text = _static_text(site / page)
        for attr in re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', text):
            assert not re.match(r"(?i)(https?:)?//", attr), f"{page} loads {attr}"
    assert 'src="_static/mathjax/tex-svg-full.js' in _static_text(site / "primer.html")


def test_api_page_lists_every_public_name(site: Path) -> None:
    text = _visible_text(_static_text(site / "api" / "index.html"))
    missing = [name for name in infoloss.__all__ if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)]
    assert not missing, f"names of infoloss.__all__ missing from the API page: {missing}"


def test_every_documented_module_lists_its_public_names(site: Path) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import infoloss_apigen
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    pages = sorted((site / "api").glob("infoloss.*.html"))
    assert {p.stem for p in pages} >= {"infoloss.functional", "infoloss.bespoke", "infoloss.numpy"}
    for page in pages:
        mod = __import__(page.stem, fromlist=["_"])
        text = _visible_text(_static_text(page))
        missing = [n for n in infoloss_apigen._public_names(mod) if n not in text]
        assert not missing, f"{page.name} misses {missing}"


def test_every_public_callable_has_a_rendered_entry(site: Path) -> None:
    """Each class and function of infoloss.__all__ has its own page, with its docstring's summary."""
    for name in infoloss.__all__:
        obj = getattr(infoloss, name)
        if not callable(obj) or isinstance(obj, type(infoloss)):
            continue
        page = site / "api" / "generated" / f"infoloss.{name}.html"
        assert page.is_file(), f"no API page for infoloss.{name}"
        summary = (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else ""
        assert summary, f"infoloss.{name} has no docstring"
        words = re.findall(r"[A-Za-z]{4,}", summary)[:3]
        text = _visible_text(_static_text(page))
        assert all(w in text for w in words), f"{page.name} lacks the docstring summary {summary!r}"


def test_tutorials_were_executed(site: Path) -> None:
    """sphinx-gallery ran each tutorial: its page shows the figures and the output it produced."""
    pages = sorted((site / "tutorials").glob("plot_*.html"))
    assert len(pages) >= 4
    for page in pages:
        text = _static_text(page)
        assert re.search(r'<img[^>]+src="[^"]*sphx_glr_plot_\w+_\d{3}\.png"', text), f"{page.name} has no figure"
    out = _visible_text(_static_text(site / "tutorials" / "plot_01_bits_and_nats.html"))
    assert "H(p) = 0.8467 nats" in out
    compare = _visible_text(_static_text(site / "tutorials" / "plot_04_compare_losses.html"))
    assert "paired" in compare and "min-ent" in compare


# ------------------------------------------------------------------------------------------ in the browser
def _dump_dom(page: Path) -> str:
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed (apt-get install -y chromium): the site was built, the browser check skipped"
        )
    with tempfile.TemporaryDirectory(prefix="infoloss-chromium-") as profile:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def _assert_math_typeset(page: Path, min_nodes: int) -> str:
    static = _static_text(page)
    nodes = _math_nodes(static)
    assert nodes >= min_nodes, f"{page.name}: only {nodes} math nodes in the built page"
    assert "\\sum" in static  # the raw TeX is there before the browser runs MathJax
    dom = _dump_dom(page)
    typeset = len(re.findall(r"<mjx-container\b", dom))
    assert typeset >= nodes, f"{page.name}: {typeset} typeset formulas for {nodes} math nodes"
    assert not re.search(r'<g\b[^>]*data-mml-node="merror"', dom), f"{page.name}: MathJax reported a TeX error"
    text = _visible_text(dom)
    for raw in ["\\sum", "$$", "\\(", "\\[", "\\frac", "\\log"]:
        assert raw not in text, f"{page.name}: raw {raw!r} left in the rendered text"
    return text


def test_primer_math_rendered_in_chromium(site: Path) -> None:
    text = _assert_math_typeset(site / "primer.html", min_nodes=20)
    assert "0.8467" in text and "Cross entropy" in text


def test_api_page_in_chromium_lists_every_public_name(site: Path) -> None:
    text = _visible_text(_dump_dom(site / "api" / "index.html"))
    missing = [name for name in infoloss.__all__ if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)]
    assert not missing, f"names of infoloss.__all__ missing from the rendered API page: {missing}"


def test_docstring_math_rendered_in_chromium(site: Path) -> None:
    _assert_math_typeset(site / "api" / "generated" / "infoloss.functional.cross_entropy.html", min_nodes=1)


# ------------------------------------------------------------------------------------------ the primer's numbers
def _primer() -> str:
    return (DOCS / "primer.md").read_text(encoding="utf-8")


def test_primer_examples_run() -> None:
    """The primer's ``>>>`` examples print what the page says."""
    blocks = re.findall(r"^```python\n(.*?)^```", _primer(), flags=re.S | re.M)
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "primer.md", str(DOCS / "primer.md"), 0)
    assert len(test.examples) >= 3
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of the primer's examples print something else"


def test_primer_numbers_are_right() -> None:
    """Every worked number on the primer, recomputed in float64 without infoloss."""
    ln = math.log
    p = [math.exp(z) for z in (2.0, 1.0, 0.1)]
    p = [x / sum(p) for x in p]
    h = -sum(x * ln(x) for x in p)
    h_horse = -sum(x * ln(x) for x in (0.1, 0.1, 0.8))
    r_bits = 0.2 * math.log2(1e6)
    expected = {
        "0.6590": p[0],
        "0.2424": p[1],
        "0.0986": p[2],
        "0.8467": h,
        "1.2216": h / ln(2),
        "0.3677": h / ln(10),
        "0.4170": -ln(p[0]),
        "0.2231": -ln(0.8),
        "0.3219": -math.log2(0.8),
        "0.0969": -math.log10(0.8),
        "0.6390": h_horse,
        "0.9219": h_horse / ln(2),
        "0.3635": -(ln(0.7) + ln(0.8) + ln(0.6)) / 3,
        "0.6931": ln(2),
        "1.4427": 1 / ln(2),
        "0.3010": math.log10(2),
    }
    text = _primer()
    for shown, value in expected.items():
        assert f"{value:.4f}" == shown, (shown, value)
        assert shown in text, f"the primer no longer shows {shown}"
    six = {
        "0.921928": h_horse / ln(2),
        "0.321928": -math.log2(0.8),
        "3.98631": r_bits,
        "0.414121": -math.log2(0.8) + 0.1 * h_horse / ln(2),
        "0.720559": -math.log2(0.8) + 0.1 * r_bits,
    }
    for shown, value in six.items():
        assert f"{value:.6g}" == shown and shown in text, (shown, value)
    # the tutorial's 0.9686 is no base's entropy of that softmax
    assert all(abs(h / ln(b) - 0.9686) > 0.05 for b in (math.e, 2, 10))
