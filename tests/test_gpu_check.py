"""The prepared GPU check (benchmarks/gpu_check.py, issue 12): its CPU dry run, end to end, and its pieces."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
WRAPPER = REPO / "benchmarks" / "gpu_check.sh"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod
    spec.loader.exec_module(mod)
    return mod


gc = _load()

ROW_IMPLS = {
    "torch_ce",
    "torch_ce_compiled",
    "liger_ce",
    "naive_minent",
    "naive_minent_compiled",
    "torch_softce",
    "infoloss_ce",
    "infoloss_minent",
    "infoloss_mixent",
    "infoloss_softce",
}
LINEAR_IMPLS = {
    "torch_lce",
    "torch_lce_chunked",
    "naive_linear_ce",
    "naive_linear_minent",
    "liger_flce",
    "cce",
    "cce_exact",
    "infoloss_linear_ce",
    "infoloss_linear_minent",
    "infoloss_linear_minent_chunk16",
    "infoloss_linear_ce_fwd",
    "infoloss_token_stats",
}


def _env():
    # No wheels (a developer's .whl/ must not be installed by the test), no Triton interpreter.
    return dict(
        os.environ,
        PYTHON=sys.executable,
        PYTHONPATH=str(REPO / "src"),
        TRITON_INTERPRET="0",
        GPU_WHEELS=str(REPO / "no-such-wheels-dir"),
    )


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    """One dry run through the wrapper, as the device command runs it (GPU tests included: all skip on CPU)."""
    out = tmp_path_factory.mktemp("gpu_check")
    r = subprocess.run(
        ["bash", str(WRAPPER), str(out), "--dry-run"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text(), r.stdout


def test_dry_run_writes_every_output(dry):
    out, report, md, stdout = dry
    assert {"gpu_check.json", "gpu_check.md", "pytest_gpu.txt", "gpu_check.log"} <= {p.name for p in out.iterdir()}
    assert report["dry_run"] is True and report["aborted"] is None
    assert report["env"]["device_name"].startswith("cpu")
    assert report["env"]["packages"]["wheels_dir"] is None
    assert "gpu_check exit status: 0" in (out / "gpu_check.log").read_text()
    assert "DRY RUN" in md and "## Targets" in md


def test_dry_run_ran_the_gpu_tests_and_they_skipped(dry):
    _, report, _, _ = dry
    tests = report["tests"]
    assert tests["rc"] == 0, tests
    assert tests["counts"].get("skipped", 0) > 10 and tests["counts"].get("failed", 0) == 0, tests
    assert "-m gpu" in tests["command"]


def test_dry_run_cases_and_implementations(dry):
    _, report, _, _ = dry
    cases = report["cases"]
    rows = [c for c in cases if c["family"] == "row"]
    lins = [c for c in cases if c["family"] == "linear"]
    assert [(c["N"], c["V"], c["dtype"]) for c in rows] == [
        (n, v, dt) for dt in ("bfloat16", "float32") for n, v in gc.DRY_ROW_SIZES
    ]
    assert [(c["N"], c["H"], c["V"]) for c in lins] == [s[:3] for s in gc.DRY_LINEAR_SIZES]
    for c in cases:
        names = {r["impl"] for r in c["results"]}
        expected = ROW_IMPLS if c["family"] == "row" else LINEAR_IMPLS
        assert expected <= names, (c["id"], expected - names)
        for r in c["results"]:
            assert r["status"] in ("ok", "skipped"), (c["id"], r)
            if r["lib"] in ("liger", "cce"):
                assert r["status"] == "skipped" and "CUDA" in r["reason"]
            if r["lib"] == "infoloss" and r["backend"] == "default":
                assert r["status"] == "ok", r
            if r["status"] == "ok":
                assert len(r["times_ms"]) == 3 and all(t > 0 for t in r["times_ms"])
                assert r["time_ms"] == pytest.approx(statistics.median(r["times_ms"]))
                assert r["value_ok"] is True, (c["id"], r)
                assert r["peak_mib"] is None  # no memory figures on CPU
            if r["status"] == "ok" and c["family"] == "row":
                b = gc.row_bytes_model(c["N"], c["V"], getattr(torch, c["dtype"]), r["loss"] == "softce")
                assert r["bw_tbs"] == pytest.approx(b / (r["time_ms"] / 1e3) / 1e12, abs=1e-4)


def test_dry_run_values_are_real(dry):
    # The recorded numbers are the losses of the same seeded inputs, recomputed here independently.
    _, report, _, _ = dry
    case = next(c for c in report["cases"] if c["family"] == "row" and c["dtype"] == "float32")
    d = gc.make_row_inputs(case["N"], case["V"], torch.float32, torch.device("cpu"), seed=0)
    z, y, q = d["z"].detach(), d["y"], d["q"]
    res = {r["impl"]: r for r in case["results"]}
    ce = F.cross_entropy(z.double(), y).item()
    logp = torch.log_softmax(z.double(), 1)
    ent = (-(logp.exp() * logp).sum(1)).mean().item()
    assert case["oracle"]["ce"] == pytest.approx(ce, rel=1e-12)
    assert res["torch_ce"]["value"] == pytest.approx(F.cross_entropy(z, y).item(), rel=1e-6)
    assert res["infoloss_ce"]["value"] == pytest.approx(ce, rel=1e-5)
    assert res["infoloss_minent"]["value"] == pytest.approx(ce + 0.1 * ent, rel=1e-5)
    p_y = logp.gather(1, y[:, None]).exp().squeeze(1)
    assert res["infoloss_mixent"]["value"] == pytest.approx(
        ce + 0.1 * ((1 - p_y) * 13.815510557964274).mean().item(), rel=1e-5
    )
    assert res["infoloss_softce"]["value"] == pytest.approx(-(q.double() * logp).sum(1).mean().item(), rel=1e-5)
    lin = next(c for c in report["cases"] if c["family"] == "linear")
    d = gc.make_linear_inputs(lin["N"], lin["H"], lin["V"], torch.bfloat16, torch.device("cpu"), seed=0)
    logits = d["x"].detach().double() @ d["w"].detach().double().T
    ce_lin = F.cross_entropy(logits, d["y"]).item()
    assert lin["oracle"]["ce"] == pytest.approx(ce_lin, rel=1e-12)
    res = {r["impl"]: r for r in lin["results"]}
    assert res["infoloss_linear_ce"]["value"] == pytest.approx(ce_lin, rel=2e-2)
    lp = torch.log_softmax(logits, 1)
    assert res["infoloss_token_stats"]["value"] == pytest.approx((-(lp.exp() * lp).sum(1)).mean().item(), rel=2e-2)


def test_dry_run_markdown_matches_json(dry):
    _, report, md, _ = dry
    for c in report["cases"]:
        for r in c["results"]:
            line = next((ln for ln in md.splitlines() if ln.startswith(f"| {c['id']} | {r['impl']} |")), None)
            assert line is not None, (c["id"], r["impl"])
            cells = [x.strip() for x in line.strip("|").split("|")]
            if r["status"] == "ok":
                assert cells[3] == format(r["time_ms"], ".3f")
                assert cells[9] == format(r["value"], ".6f")
            else:
                assert cells[-1].startswith("skipped")
    targets = report["targets"]
    assert len(targets) == 4 and all(t["status"] == "unknown" for t in targets)  # no Liger / CCE / peak on CPU
    for t in targets:
        assert re.search(rf"\| {re.escape(t['target'])} \| default \| \*\*unknown\*\* \|", md)


def test_budget_exhausted_writes_partial_results(tmp_path, capsys):
    assert gc.main([str(tmp_path), "--dry-run", "--no-tests", "--budget-s", "0"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert len(report["cases"]) == 8
    assert all(r["status"] == "skipped" and "time budget" in r["reason"] for c in report["cases"] for r in c["results"])
    assert "time budget" in (tmp_path / "gpu_check.md").read_text()


def test_sigterm_keeps_partial_results(tmp_path):
    # The wrapper's hard timeout sends SIGTERM: what was measured must survive, marked aborted.
    p = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path),
            "--dry-run",
            "--no-tests",
            "--reps",
            "100000",
            "--no-compile",
            "--only",
            "rows",
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in p.stdout:  # the first case is being timed once its inputs are made
            if "inputs + float64 oracle" in line:
                break
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["aborted"] == f"signal {int(signal.SIGTERM)}"
    first = report["cases"][0]["results"]
    assert all(r["status"] in ("ok", "skipped") for r in first)
    assert any(r["status"] == "ok" and r["times_ms"] for r in first) or all(
        r["reason"] in ("aborted",) or r["lib"] == "liger" for r in first if r["status"] == "skipped"
    )
    assert report["targets"]


def test_peak_bandwidth_table():
    assert gc.peak_bandwidth("NVIDIA H200") == 4.8e12
    assert gc.peak_bandwidth("NVIDIA H100 80GB HBM3") == 3.35e12
    assert gc.peak_bandwidth("NVIDIA H100 PCIe") == 2.0e12
    assert gc.peak_bandwidth("NVIDIA A100-SXM4-80GB") == 2.0e12
    assert gc.peak_bandwidth("NVIDIA A100-SXM4-40GB") == 1.555e12
    assert gc.peak_bandwidth("Some GPU") is None
    # 2 N V b: bf16 8192 x 32000 -> 1.048576 GB moved at least
    assert gc.row_bytes_model(8192, 32000, torch.bfloat16, soft=False) == 2 * 8192 * 32000 * 2
    assert gc.row_bytes_model(10, 10, torch.float32, soft=True) == 3 * 100 * 4


def _case(cid, family, times, peaks=None):
    res = [
        {"impl": k, "status": "ok", "time_ms": t, "peak_mib": (peaks or {}).get(k), "bw_frac_peak": None}
        for k, t in times.items()
    ]
    return {"id": cid, "family": family, "results": res}


def test_targets_met_not_met_unknown():
    rows = [
        _case("r1", "row", {"liger_ce": 10.0, "infoloss_minent": 10.9, "infoloss_ce": 9.9}),
        _case("r2", "row", {"liger_ce": 10.0, "infoloss_minent": 11.2, "infoloss_ce": 10.0}),
    ]
    rows[0]["results"][2]["bw_frac_peak"] = 0.85
    rows[1]["results"][2]["bw_frac_peak"] = 0.79
    lin = [
        _case(
            "l1",
            "linear",
            {"cce": 100.0, "infoloss_linear_minent": 119.0},
            {"cce": 1000.0, "infoloss_linear_minent": 1500.0},
        )
    ]
    t = {x["target"]: x for x in gc.evaluate_targets(rows + lin, [""])}
    assert t["row MIN-ENT <= 1.1x Liger CE"]["status"] == "not met"  # 1.12x in r2
    assert t["row CE <= 1.0x Liger CE"]["status"] == "met"  # 0.99x and 1.00x
    assert t["row kernels >= 80% of peak bandwidth (2 N V b model)"]["status"] == "not met"  # 79% in r2
    assert t["linear MIN-ENT <= 1.2x CCE CE time at <= 1.5x its memory"]["status"] == "met"
    lin[0]["results"][1]["peak_mib"] = 1501.0
    t = {x["target"]: x for x in gc.evaluate_targets(lin, [""])}
    assert t["linear MIN-ENT <= 1.2x CCE CE time at <= 1.5x its memory"]["status"] == "not met"
    assert t["row CE <= 1.0x Liger CE"]["status"] == "unknown"
    t = {x["target"]: x for x in gc.evaluate_targets(rows, ["[triton]"])}
    assert t["row CE <= 1.0x Liger CE"]["status"] == "unknown" and t["row CE <= 1.0x Liger CE"]["backend"] == "triton"


def test_gpu_test_files_are_the_marked_ones():
    files = gc.gpu_test_files()
    assert files[0] == "tests/gpu" or "tests/gpu" in files
    for f in files:
        if f != "tests/gpu":
            assert "mark.gpu" in (REPO / f).read_text()
    unmarked = [p for p in (REPO / "tests").glob("test_*.py") if "mark.gpu" not in p.read_text()]
    assert not any(str(p.relative_to(REPO)) in files for p in unmarked)


def test_wheel_plan_keeps_preinstalled_distributions():
    files = [
        "/w/liger_kernel-0.8.5-py3-none-any.whl",
        "/w/cut_cross_entropy-25.1.1-py3-none-any.whl",
        "/w/triton-3.6.0-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    ]
    plan = gc.plan_wheels(files, {"triton": "3.6.0+git", "cut-cross-entropy": "25.1.1"})
    assert plan["liger-kernel"] == {"action": "install", "version": "0.8.5", "file": files[0]}
    assert plan["triton"]["action"] == "preinstalled" and plan["triton"]["version"] == "3.6.0+git"
    assert plan["cut-cross-entropy"]["action"] == "preinstalled"
    with pytest.raises(ValueError):
        gc.dist_name("notawheel.tar.gz")


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    whl = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return whl


def test_wheels_are_installed_offline_and_importable(tmp_path, monkeypatch):
    wheels = tmp_path / "whl"
    wheels.mkdir()
    _fake_wheel(wheels, "infoloss_fake_dep", "1.2.3")
    monkeypatch.setattr(sys, "path", list(sys.path))
    report = gc.ensure_wheels(wheels, tmp_path / "site", lambda m: None)
    assert report["pip_rc"] == 0, report
    assert report["plan"]["infoloss-fake-dep"]["action"] == "install"
    import infoloss_fake_dep  # noqa: PLC0415

    assert infoloss_fake_dep.VALUE == "1.2.3"
    assert gc.package_version("infoloss_fake_dep") == "1.2.3"
    sys.modules.pop("infoloss_fake_dep", None)


def test_load_libs_records_why_gpu_libraries_are_missing(monkeypatch):
    monkeypatch.setattr(gc, "try_import", lambda m: (None, "ModuleNotFoundError: No module named 'x'"))
    libs = gc.load_libs(dry_run=False, cuda=True)
    for key in ("liger_ce", "liger_flce", "cce"):
        assert "not importable" in libs.reasons[key]
    assert libs.token_fn is not None  # infoloss.token_logprob_entropy or linear_token_stats
    libs = gc.load_libs(dry_run=True, cuda=False)
    assert libs.reasons["liger_ce"] == "needs CUDA (dry run on CPU)"
