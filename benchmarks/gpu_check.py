#!/usr/bin/env python3
"""The prepared GPU check of issue 12: GPU tests, then row and linear losses timed against the anchors.

    python benchmarks/gpu_check.py OUT [--wheels DIR] [--budget-s 440] [--reps 10] [--no-tests] ...
    python benchmarks/gpu_check.py --dry-run OUT      # same code path on CPU, tiny sizes (CI runs this)
    bash benchmarks/gpu_check.sh OUT                  # the one command for a lent GPU machine

Steps, all inside one global time budget (default 440 s, so the whole command ends inside 8 minutes; what
is not reached is recorded as skipped, "time budget"):

1. packages: use triton / liger-kernel / cut-cross-entropy when importable; otherwise install the wheels
   of ``--wheels DIR`` (``pip install --no-index --no-deps --target SITE``; see benchmarks/gpu_wheels.txt);
2. the GPU-marked tests (``pytest -m gpu``) in a subprocess with a timeout; log in OUT/pytest_gpu.txt;
3. row losses (N, V) in bf16 and fp32: infoloss CE / MIN-ENT / MIX-ENT / soft-target CE (default backend,
   and ``set_backend("triton")`` when that exists) against ``F.cross_entropy`` eager and compiled, Liger CE,
   naive MIN-ENT eager and compiled, torch soft-target CE;
4. linear losses (tokens, H, V) in bf16: infoloss linear CE / MIN-ENT / token log-prob + entropy against
   torch's ``F.linear_cross_entropy`` (reference and chunked, when present), a naive materialized head,
   Liger FLCE and Cut Cross-Entropy (default gradient filter and exact);
5. OUT/gpu_check.json and OUT/gpu_check.md (rewritten after every case, so a killed run leaves its partial
   results), and the targets of the issue, each met / not met / unknown.

Method: per case, every implementation is warmed up (compiled ones compile then), then measured once for
peak memory (``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus the memory
allocated just before the call: inputs are not counted, the gradients are), then timed fwd+bwd ``reps``
times with CUDA events, the implementations interleaved (rotated each round); the median is reported.
Every loss value is checked against a float64 oracle computed from the same inputs.

Bandwidth model (row losses): the bytes a fused fwd+bwd must move, read the logits once and write the
gradient once, ``2 N V b`` (``b`` bytes per element of the logits' dtype), plus one read of the
probability target (``3 N V b``) for soft targets. Achieved bandwidth = model bytes / median time, as a
fraction of the card's datasheet peak (H200 4.8 TB/s, H100 SXM 3.35 TB/s, A100 2.0 TB/s, ...) and of the
device-to-device copy bandwidth measured at the start. A kernel that reads the logits twice (two passes)
or scales the gradient in place in backward moves more than the model and so shows less than its raw
bandwidth: the model counts what the operation needs, not what a kernel happens to do.

Dry run (``--dry-run``): device cpu, tiny sizes, ``time.perf_counter`` timers, no peak memory (recorded as
null), ``torch.compile(backend="eager")`` (dynamo traces the same functions; inductor's CPU compile would
take minutes), libraries that need CUDA (Liger, CCE) recorded as skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ----------------------------------------------------------------------------------------------- sizes
ROW_SIZES = [(8192, 32000), (16384, 131072), (4096, 256000)]
LINEAR_SIZES = [(8192, 2304, 256000, "gemma-2-2b head"), (8192, 4096, 128256, "llama-3-8b head")]
# Dry run: the same structure, tiny (a few ms per call on one CPU core).
DRY_ROW_SIZES = [(64, 320), (32, 1310), (16, 2560)]
DRY_LINEAR_SIZES = [(64, 48, 1000, "tiny gemma-like"), (64, 64, 640, "tiny llama-like")]
ROW_DTYPES = ("bfloat16", "float32")
LINEAR_DTYPES = ("bfloat16",)

ENT_W = 0.1  # MIN-ENT entropy weight
REV_W = 0.1  # MIX-ENT reverse weight
REV_EPS = 1e-6  # MIX-ENT target floor

# Datasheet HBM bandwidth in bytes/s, matched by substring of torch.cuda.get_device_name (first match wins).
PEAK_BANDWIDTH = [
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("GH200", 4.0e12),
    ("A100-SXM4-40GB", 1.555e12),
    ("A100-PCIE-40GB", 1.555e12),
    ("A100", 2.0e12),  # 80 GB parts (2.0 / 2.039 TB/s)
    ("L40S", 0.864e12),
    ("A10G", 0.6e12),
]

# Targets of issue 12.
T_MINENT_VS_LIGER = 1.1
T_CE_VS_LIGER = 1.0
T_BANDWIDTH = 0.80
T_LINEAR_TIME = 1.2
T_LINEAR_MEM = 1.5

# Loss-value agreement with the float64 oracle that is flagged as ok (relative).
VALUE_TOL = {"float32": 1e-4, "float64": 1e-9, "bfloat16": 2e-2, "float16": 5e-3}

MIB = 2.0**20


class Aborted(BaseException):
    """Raised by the SIGTERM handler (the wrapper's hard timeout): write what we have and stop.

    A BaseException, so that no ``except Exception`` (ours around each implementation, or a library's) eats it.
    """


# ------------------------------------------------------------------------------------------ utilities
def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def peak_bandwidth(device_name: str) -> float | None:
    """Datasheet memory bandwidth (bytes/s) of a GPU by its torch device name, None when not in the table."""
    for key, bw in PEAK_BANDWIDTH:
        if key.lower() in device_name.lower():
            return bw
    return None


def row_bytes_model(n: int, v: int, dtype: torch.dtype, soft: bool) -> int:
    """Bytes a fused row fwd+bwd must move: read logits + write gradient (+ read a probability target)."""
    b = torch.empty((), dtype=dtype).element_size()
    return (3 if soft else 2) * n * v * b


def dist_name(wheel_filename: str) -> tuple[str, str]:
    """(normalized distribution name, version) of a wheel file name (PEP 427)."""
    parts = Path(wheel_filename).name.split("-")
    if len(parts) < 5 or not wheel_filename.endswith(".whl"):
        raise ValueError(f"not a wheel file name: {wheel_filename}")
    return re.sub(r"[-_.]+", "-", parts[0]).lower(), parts[1]


def plan_wheels(wheel_files: list[str], installed: dict[str, str]) -> dict[str, dict[str, str]]:
    """Decide, per wheel, whether to install it: only distributions not installed already.

    ``installed`` maps normalized distribution names to versions. A preinstalled distribution is used as
    it is, whatever the wheel's version (the GPU image's torch/triton must not be replaced).
    """
    plan: dict[str, dict[str, str]] = {}
    for f in sorted(wheel_files):
        name, version = dist_name(f)
        if name in installed:
            plan[name] = {"action": "preinstalled", "version": installed[name], "wheel_version": version}
        else:
            plan[name] = {"action": "install", "version": version, "file": f}
    return plan


def installed_versions(names: list[str]) -> dict[str, str]:
    out = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def ensure_wheels(wheels: Path | None, site: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Install the wheels in ``wheels`` whose distributions are missing into ``site`` and put it on sys.path."""
    report: dict[str, Any] = {"wheels_dir": str(wheels) if wheels else None, "site": None, "plan": {}}
    if wheels is None:
        return report
    files = sorted(str(p) for p in wheels.glob("*.whl"))
    names = [dist_name(f)[0] for f in files]
    plan = plan_wheels(files, installed_versions(names))
    report["plan"] = plan
    todo = [p["file"] for p in plan.values() if p["action"] == "install"]
    if todo:
        site.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--no-cache-dir",
            "--upgrade",
            "--target",
            str(site),
            *todo,
        ]
        log("installing " + ", ".join(Path(t).name for t in todo))
        r = subprocess.run(cmd, capture_output=True, text=True)
        report["pip_rc"] = r.returncode
        if r.returncode != 0:
            report["pip_error"] = (r.stderr or r.stdout)[-2000:]
            log(
                "pip install failed: " + report["pip_error"].strip().splitlines()[-1]
                if report["pip_error"].strip()
                else "pip install failed"
            )
    if site.is_dir():
        sys.path.insert(0, str(site))
        importlib.invalidate_caches()
        report["site"] = str(site)
    return report


def try_import(module: str) -> tuple[Any, str | None]:
    try:
        return importlib.import_module(module), None
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------------------ libraries
@dataclass
class Libs:
    """What is available in this process; ``reason`` says why something is not."""

    dry_run: bool
    infoloss: Any = None
    functional: Any = None
    triton_backend: bool = False
    token_fn: Any = None
    token_fn_name: str = ""
    liger_ce: Any = None
    liger_flce: Any = None
    cce: Any = None
    torch_lce: Any = None
    torch_lce_options: Any = None
    reasons: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)


def load_libs(dry_run: bool, cuda: bool, cpu_libs: bool = False) -> Libs:
    libs = Libs(dry_run=dry_run)
    import infoloss
    import infoloss.functional as IF

    libs.infoloss, libs.functional = infoloss, IF
    libs.versions["infoloss"] = getattr(infoloss, "__version__", None)
    # Triton backend: opt-in through set_backend("triton") (being added by the lead); guard it.
    try:
        previous = infoloss.get_backend()
        infoloss.set_backend("triton")
        infoloss.set_backend(previous)
        libs.triton_backend = cuda
        if not cuda:
            libs.reasons["infoloss_triton"] = "set_backend('triton') exists; needs CUDA"
    except Exception as exc:  # noqa: BLE001
        libs.reasons["infoloss_triton"] = f"set_backend('triton') not available ({type(exc).__name__}: {exc})"
    # Token log-prob + entropy: the parallel helper's infoloss.token_logprob_entropy, else linear_token_stats.
    for name in ("token_logprob_entropy", "linear_token_stats"):
        fn = getattr(infoloss, name, None)
        if fn is not None:
            libs.token_fn, libs.token_fn_name = fn, name
            break
    if libs.token_fn is None:
        libs.reasons["token_stats"] = "neither infoloss.token_logprob_entropy nor infoloss.linear_token_stats"
    libs.versions["triton"] = package_version("triton")
    libs.versions["liger-kernel"] = package_version("liger-kernel")
    libs.versions["cut-cross-entropy"] = package_version("cut-cross-entropy")
    # Liger and CCE are Triton-on-CUDA libraries.
    if not (cuda or cpu_libs):
        for key in ("liger_ce", "liger_flce", "cce"):
            libs.reasons[key] = "needs CUDA" + (" (dry run on CPU)" if dry_run else "")
    else:
        mod, why = try_import("liger_kernel.transformers.functional")
        if mod is not None:
            libs.liger_ce = getattr(mod, "liger_cross_entropy", None)
            libs.liger_flce = getattr(mod, "liger_fused_linear_cross_entropy", None)
        for key, fn in (("liger_ce", libs.liger_ce), ("liger_flce", libs.liger_flce)):
            if fn is None:
                libs.reasons[key] = f"liger-kernel not importable ({why})" if why else "function not found"
        mod, why = try_import("cut_cross_entropy")
        libs.cce = getattr(mod, "linear_cross_entropy", None) if mod is not None else None
        if libs.cce is None:
            libs.reasons["cce"] = f"cut-cross-entropy not importable ({why})" if why else "function not found"
    libs.torch_lce = getattr(F, "linear_cross_entropy", None)
    libs.torch_lce_options = getattr(torch.nn, "LinearCrossEntropyOptions", None)
    if libs.torch_lce is None:
        libs.reasons["torch_lce"] = f"torch {torch.__version__} has no F.linear_cross_entropy"
    elif libs.torch_lce_options is None:
        libs.reasons["torch_lce_chunked"] = f"torch {torch.__version__} has no nn.LinearCrossEntropyOptions"
    return libs


# ------------------------------------------------------------------------------------------ timing
class Clock:
    """fwd+bwd timer and peak-memory meter: CUDA events on a GPU, perf_counter and no memory on CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time_ms(self, fn: Callable[[], Any]) -> float:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3

    def peak_extra_bytes(self, fn: Callable[[], Any]) -> int | None:
        if not self.cuda:
            fn()
            return None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - base)


def copy_bandwidth(device: torch.device, clock: Clock, nbytes: int) -> float:
    """Device-to-device copy bandwidth (bytes read + written per second), median of 5 after 2 warm-ups."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    times = []
    for i in range(7):
        t = clock.time_ms(lambda: dst.copy_(src))
        if i >= 2:
            times.append(t)
    return 2 * nbytes / (statistics.median(times) / 1e3)


# ------------------------------------------------------------------------------------------ inputs
def make_row_inputs(
    n: int, v: int, dtype: torch.dtype, device: torch.device, seed: int, soft: bool = True
) -> dict[str, torch.Tensor]:
    """Seeded logits (N, V) (leaf, requires grad), class indices (N,), a probability target (N, V)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    z = (torch.randn(n, v, generator=gen, device=device, dtype=torch.float32) * 2).to(dtype)
    y = torch.randint(0, v, (n,), generator=gen, device=device)
    out = {"z": z.requires_grad_(), "y": y}
    if soft:
        q = torch.randn(n, v, generator=gen, device=device, dtype=torch.float32) * 2
        out["q"] = torch.softmax(q, dim=1).to(dtype)
        del q
    return out


def make_linear_inputs(
    n: int, h: int, v: int, dtype: torch.dtype, device: torch.device, seed: int
) -> dict[str, torch.Tensor]:
    """Seeded hidden (N, H) and classifier weight (V, H) (leaves, require grad; logits of std ~2), indices."""
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(n, h, generator=gen, device=device, dtype=torch.float32).to(dtype)
    w = (torch.randn(v, h, generator=gen, device=device, dtype=torch.float32) * (2.0 / h**0.5)).to(dtype)
    y = torch.randint(0, v, (n,), generator=gen, device=device)
    return {"x": x.requires_grad_(), "w": w.requires_grad_(), "y": y}


# ------------------------------------------------------------------------------------------ oracles
def _row_block(n: int, v: int) -> int:
    return max(1, min(n, (1 << 27) // max(v, 1)))  # ~1 GiB of float64 per block


@torch.no_grad()
def row_oracle(z: torch.Tensor, y: torch.Tensor, q: torch.Tensor | None) -> dict[str, float]:
    """float64 means over rows: ce, entropy, minent, mixent (index target), softce (probability target)."""
    n, v = z.shape
    ce = ent = rev = soft = 0.0
    step = _row_block(n, v)
    for r0 in range(0, n, step):
        zz = z[r0 : r0 + step].double()
        logp = torch.log_softmax(zz, dim=1)
        p = logp.exp()
        lp_y = logp.gather(1, y[r0 : r0 + step, None]).squeeze(1)
        ce += float(-lp_y.sum())
        ent += float(-torch.where(p > 0, p * logp, torch.zeros_like(p)).sum())
        # One-hot target floored at eps: R_i = -sum_c p_c log max(q_c, eps) = (1 - p_y) (-log eps).
        rev += float(((1 - lp_y.exp()) * -math.log(REV_EPS)).sum())
        if q is not None:
            soft += float(-(q[r0 : r0 + step].double() * logp).sum())
        del zz, logp, p
    out = {"ce": ce / n, "entropy": ent / n, "rev": rev / n}
    out["minent"] = out["ce"] + ENT_W * out["entropy"]
    out["mixent"] = out["ce"] + REV_W * out["rev"]
    if q is not None:
        out["softce"] = soft / n
    return out


@torch.no_grad()
def linear_oracle(x: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """float64 means of ce, entropy, minent and target log-prob for logits x @ w.T (chunked over rows)."""
    n, v = x.shape[0], w.shape[0]
    w64 = w.double()
    ce = ent = 0.0
    step = _row_block(n, v)
    for r0 in range(0, n, step):
        logp = torch.log_softmax(x[r0 : r0 + step].double() @ w64.T, dim=1)
        p = logp.exp()
        ce += float(-logp.gather(1, y[r0 : r0 + step, None]).sum())
        ent += float(-torch.where(p > 0, p * logp, torch.zeros_like(p)).sum())
        del logp, p
    del w64
    out = {"ce": ce / n, "entropy": ent / n}
    out["minent"] = out["ce"] + ENT_W * out["entropy"]
    out["logprob"] = -out["ce"]
    return out


# ------------------------------------------------------------------------------------------ implementations
@dataclass
class Impl:
    name: str
    lib: str  # "infoloss", "torch", "liger", "cce"
    loss: str  # oracle key: ce, minent, mixent, softce, tokstats
    fn: Callable[[dict[str, torch.Tensor]], Any] | None
    mode: str = "fwd+bwd"  # or "fwd"
    skip: str | None = None  # reason, when not run
    backend: str | None = None  # infoloss backend name
    compiled: bool = False
    inplace_logits: bool = False  # Liger CE writes the gradient into its input: give it a fresh copy
    baseline: bool = False


def _with_backend(libs: Libs, backend: str | None, fn: Callable[[], Any]) -> Any:
    if backend is None:
        return fn()
    with libs.infoloss.use_backend(backend):
        return fn()


def naive_minent(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """What one writes without infoloss: CE + 0.1 * mean entropy, through log_softmax (in z's dtype)."""
    logp = torch.log_softmax(z, dim=1)
    return F.nll_loss(logp, y) + ENT_W * (-(logp.exp() * logp).sum(1)).mean()


def torch_ce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(z, y)


_COMPILED: dict[tuple[Any, str, bool | None], Callable[..., Any]] = {}


def _compile(fn: Callable[..., Any], backend: str, dynamic: bool | None) -> Callable[..., Any]:
    """``torch.compile(fn)``, created on first call (importing dynamo takes seconds) and shared across cases.

    GPU: ``dynamic=None``, torch's default: the first shape gets a specialized graph, the next shape one
    recompile with dynamic shapes that serves the later sizes (a cold inductor compile costs 10-20 s, one per
    shape would not fit the 8-minute budget). Dry run: ``dynamic=True``, one trace per dtype.
    """

    def call(*a: Any) -> Any:
        key = (fn, backend, dynamic)
        if key not in _COMPILED:
            _COMPILED[key] = torch.compile(fn, backend=backend, dynamic=dynamic)
        return _COMPILED[key](*a)

    return call


def row_impls(libs: Libs, args: argparse.Namespace) -> list[Impl]:
    IF = libs.functional
    impls = [
        Impl("torch_ce", "torch", "ce", lambda d: torch_ce(d["z"], d["y"]), baseline=True),
        Impl("torch_ce_compiled", "torch", "ce", None, compiled=True, skip="--no-compile" if args.no_compile else None),
        Impl(
            "liger_ce",
            "liger",
            "ce",
            (lambda d: libs.liger_ce(d["z"], d["y"])) if libs.liger_ce else None,
            skip=libs.reasons.get("liger_ce"),
            inplace_logits=True,
        ),
        Impl("naive_minent", "torch", "minent", lambda d: naive_minent(d["z"], d["y"])),
        Impl(
            "naive_minent_compiled",
            "torch",
            "minent",
            None,
            compiled=True,
            skip="--no-compile" if args.no_compile else None,
        ),
        Impl("torch_softce", "torch", "softce", lambda d: F.cross_entropy(d["z"], d["q"])),
    ]
    if not args.no_compile:
        dyn = True if args.dry_run else None
        ce_c = _compile(torch_ce, args.compile_backend, dyn)
        mn_c = _compile(naive_minent, args.compile_backend, dyn)
        impls[1].fn = lambda d: ce_c(d["z"], d["y"])
        impls[4].fn = lambda d: mn_c(d["z"], d["y"])
    backends: list[str | None] = [None]
    if libs.triton_backend:
        backends.append("triton")
    for be in backends:
        sfx = "" if be is None else f"[{be}]"
        impls += [
            Impl(
                "infoloss_ce" + sfx,
                "infoloss",
                "ce",
                lambda d, be=be: _with_backend(libs, be, lambda: IF.cross_entropy(d["z"], d["y"])),
                backend=be,
            ),
            Impl(
                "infoloss_minent" + sfx,
                "infoloss",
                "minent",
                lambda d, be=be: _with_backend(
                    libs, be, lambda: IF.min_entropy_loss(d["z"], d["y"], entropy_weight=ENT_W)
                ),
                backend=be,
            ),
            Impl(
                "infoloss_mixent" + sfx,
                "infoloss",
                "mixent",
                lambda d, be=be: _with_backend(
                    libs, be, lambda: IF.mixed_entropy_loss(d["z"], d["y"], reverse_weight=REV_W, eps=REV_EPS)
                ),
                backend=be,
            ),
            Impl(
                "infoloss_softce" + sfx,
                "infoloss",
                "softce",
                lambda d, be=be: _with_backend(libs, be, lambda: IF.cross_entropy(d["z"], d["q"])),
                backend=be,
            ),
        ]
    if "infoloss_triton" in libs.reasons:
        impls.append(
            Impl("infoloss_*[triton]", "infoloss", "ce", None, skip=libs.reasons["infoloss_triton"], backend="triton")
        )
    return impls


def _split_token_stats(out: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(entropy, target log-prob) from the token-stats function's result (named fields, else (logprob, entropy))."""
    ent = getattr(out, "entropy", None)
    logp = next(
        (
            getattr(out, k)
            for k in ("target_logprob", "logprob", "log_prob", "token_logprob")
            if getattr(out, k, None) is not None
        ),
        None,
    )
    if ent is not None and logp is not None:
        return ent, logp
    a, b = out[0], out[1]
    return b, a


def linear_impls(libs: Libs, args: argparse.Namespace) -> list[Impl]:
    il = libs.infoloss
    impls = [
        Impl(
            "torch_lce",
            "torch",
            "ce",
            (lambda d: libs.torch_lce(d["x"], d["w"], d["y"])) if libs.torch_lce else None,
            skip=libs.reasons.get("torch_lce"),
            baseline=True,
        ),
        Impl(
            "torch_lce_chunked",
            "torch",
            "ce",
            (lambda d: libs.torch_lce(d["x"], d["w"], d["y"], options=libs.torch_lce_options()))
            if libs.torch_lce and libs.torch_lce_options
            else None,
            skip=libs.reasons.get("torch_lce") or libs.reasons.get("torch_lce_chunked"),
        ),
        Impl("naive_linear_ce", "torch", "ce", lambda d: F.cross_entropy(d["x"] @ d["w"].T, d["y"])),
        Impl("naive_linear_minent", "torch", "minent", lambda d: naive_minent(d["x"] @ d["w"].T, d["y"])),
        Impl(
            "liger_flce",
            "liger",
            "ce",
            (lambda d: libs.liger_flce(d["x"], d["w"], d["y"])) if libs.liger_flce else None,
            skip=libs.reasons.get("liger_flce"),
        ),
        Impl(
            "cce",
            "cce",
            "ce",
            (lambda d: libs.cce(d["x"], d["w"], d["y"])) if libs.cce else None,
            skip=libs.reasons.get("cce"),
        ),
        Impl(
            "cce_exact",
            "cce",
            "ce",
            (lambda d: libs.cce(d["x"], d["w"], d["y"], filter_eps=None)) if libs.cce else None,
            skip=libs.reasons.get("cce"),
        ),
    ]
    backends: list[str | None] = [None]
    if libs.triton_backend:
        backends.append("triton")
    for be in backends:
        sfx = "" if be is None else f"[{be}]"
        impls += [
            Impl(
                "infoloss_linear_ce" + sfx,
                "infoloss",
                "ce",
                lambda d, be=be: _with_backend(libs, be, lambda: il.linear_cross_entropy(d["x"], d["w"], d["y"])),
                backend=be,
            ),
            Impl(
                "infoloss_linear_minent" + sfx,
                "infoloss",
                "minent",
                lambda d, be=be: _with_backend(
                    libs, be, lambda: il.linear_min_entropy_loss(d["x"], d["w"], d["y"], entropy_weight=ENT_W)
                ),
                backend=be,
            ),
            *[
                Impl(
                    f"infoloss_linear_minent_chunk{c}" + sfx,
                    "infoloss",
                    "minent",
                    lambda d, be=be, c=c: _with_backend(
                        libs,
                        be,
                        lambda: il.linear_min_entropy_loss(d["x"], d["w"], d["y"], entropy_weight=ENT_W, chunk_size=c),
                    ),
                    backend=be,
                )
                for c in args.linear_chunks
            ],
            Impl(
                "infoloss_linear_ce_fwd" + sfx,
                "infoloss",
                "ce",
                lambda d, be=be: _with_backend(libs, be, lambda: il.linear_cross_entropy(d["x"], d["w"], d["y"])),
                mode="fwd",
                backend=be,
            ),
            Impl(
                "infoloss_token_stats" + sfx,
                "infoloss",
                "tokstats",
                (
                    lambda d, be=be: _with_backend(
                        libs, be, lambda: _split_token_stats(libs.token_fn(d["x"], d["w"], d["y"]))
                    )
                )
                if libs.token_fn
                else None,
                mode="fwd",
                backend=be,
                skip=libs.reasons.get("token_stats"),
            ),
        ]
    return impls


# ------------------------------------------------------------------------------------------ running a case
@dataclass
class Budget:
    seconds: float
    t0: float = field(default_factory=time.monotonic)
    compile_s: float = 0.0  # first calls of the torch.compile baselines so far

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.t0)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _free() -> None:
    if torch.cuda.is_available():  # on CPU the collection costs 0.3 s a call once dynamo is loaded, for nothing
        gc.collect()
        torch.cuda.empty_cache()


def _err(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:300] if msg else ''}"


def run_case(
    case: dict[str, Any],
    impls: list[Impl],
    inputs: dict[str, torch.Tensor],
    oracle: dict[str, float],
    clock: Clock,
    args: argparse.Namespace,
    budget: Budget,
    log: Callable[[str], None],
) -> None:
    """Warm up, measure memory once, time ``reps`` interleaved rounds; fill case['results'] in place."""
    dtype_name = case["dtype"]
    leaves = [t for t in inputs.values() if t.requires_grad]
    results: dict[str, dict[str, Any]] = {}
    for impl in impls:
        rec: dict[str, Any] = {
            "impl": impl.name,
            "lib": impl.lib,
            "loss": impl.loss,
            "mode": impl.mode,
            "backend": impl.backend or ("default" if impl.lib == "infoloss" else None),
            "status": "pending",
            "reason": None,
            "time_ms": None,
            "times_ms": [],
            "peak_mib": None,
            "peak_x_nv": None,
            "value": None,
            "ref": None,
            "rel_err": None,
            "value_ok": None,
            "bw_tbs": None,
            "bw_frac_peak": None,
            "bw_frac_copy": None,
            "first_call_s": None,
        }
        if impl.fn is None or impl.skip:
            rec["status"], rec["reason"] = "skipped", impl.skip or "not available"
        results[impl.name] = rec
    case["results"] = list(results.values())
    active = [i for i in impls if results[i.name]["status"] == "pending"]

    def call(impl: Impl) -> _Call:
        """One fwd(+bwd) with fresh gradients; Liger gets a fresh copy of the logits (it writes into them)."""
        d = dict(inputs)
        if impl.inplace_logits:
            d["z"] = inputs["z"].detach().clone().requires_grad_()
        for t in leaves:
            t.grad = None
        return _Call(impl, d)

    def value_of(impl: Impl, out: Any) -> tuple[float, float, float]:
        if impl.loss == "tokstats":
            ent, logp = out
            v_ent, v_lp = float(ent.double().mean()), float(logp.double().mean())
            r_ent, r_lp = oracle["entropy"], oracle["logprob"]
            err = max(abs(v_ent - r_ent) / max(abs(r_ent), 1e-30), abs(v_lp - r_lp) / max(abs(r_lp), 1e-30))
            return v_ent, r_ent, err
        val = float(out.double())
        ref = oracle[impl.loss]
        return val, ref, abs(val - ref) / max(abs(ref), 1e-30)

    def fail(impl: Impl, exc: BaseException) -> None:
        rec = results[impl.name]
        if isinstance(exc, Aborted):
            raise exc
        rec["status"] = "skipped" if _is_oom(exc) else "failed"
        rec["reason"] = "out of memory" if _is_oom(exc) else _err(exc)
        log(f"    {impl.name}: {rec['status']}: {rec['reason']}")
        _free()

    try:
        _measure(case, results, active, call, value_of, fail, leaves, dtype_name, clock, args, budget)
    except Aborted:
        _finalize(case, dtype_name, "aborted")
        raise


def _measure(
    case: dict[str, Any],
    results: dict[str, dict[str, Any]],
    active: list[Impl],
    call: Callable[[Impl], _Call],
    value_of: Callable[[Impl, Any], tuple[float, float, float]],
    fail: Callable[[Impl, BaseException], None],
    leaves: list[torch.Tensor],
    dtype_name: str,
    clock: Clock,
    args: argparse.Namespace,
    budget: Budget,
) -> None:
    # Warm-up (compiles), value check, peak memory.
    for impl in list(active):
        rec = results[impl.name]
        need = args.compile_reserve_s if impl.compiled else args.min_impl_s
        if budget.left() < need:
            rec["status"], rec["reason"] = "skipped", f"time budget ({budget.left():.0f} s left, {need:.0f} s needed)"
            active.remove(impl)
            continue
        if impl.compiled and budget.compile_s >= args.compile_budget_s:
            rec["status"], rec["reason"] = "skipped", f"compile budget ({budget.compile_s:.0f} s spent compiling)"
            active.remove(impl)
            continue
        try:
            t0 = time.monotonic()
            call(impl)()
            clock.sync()
            rec["first_call_s"] = round(time.monotonic() - t0, 3)
            if impl.compiled:
                budget.compile_s += rec["first_call_s"]
            for _ in range(args.warmup - 1):
                call(impl)()
            c = call(impl)
            peak = clock.peak_extra_bytes(c)
            val, ref, err = value_of(impl, c.out)
            del c
            rec.update(value=val, ref=ref, rel_err=err, value_ok=bool(err <= VALUE_TOL.get(dtype_name, 1e-2)))
            if peak is not None:
                rec["peak_mib"] = round(peak / MIB, 1)
                rec["peak_x_nv"] = round(peak / case["nv_bytes"], 3)
        except Exception as exc:  # noqa: BLE001
            fail(impl, exc)
            active.remove(impl)
        finally:
            for t in leaves:
                t.grad = None

    # Timing: interleaved rounds, rotated.
    rounds = 0
    for r in range(args.reps):
        if budget.left() < args.min_impl_s:
            case["note"] = f"time budget: {rounds} of {args.reps} timing rounds"
            break
        k = r % max(len(active), 1)
        for impl in active[k:] + active[:k]:
            if results[impl.name]["status"] != "pending":
                continue
            try:
                results[impl.name]["times_ms"].append(round(clock.time_ms(call(impl)), 4))
            except Exception as exc:  # noqa: BLE001
                fail(impl, exc)
        rounds += 1
        for t in leaves:
            t.grad = None
    _finalize(case, dtype_name, "time budget")


def _finalize(case: dict[str, Any], dtype_name: str, why: str) -> None:
    """Median and bandwidth of every timed result; what is still pending is skipped with ``why``."""
    for rec in case["results"]:
        if rec["status"] != "pending":
            continue
        if not rec["times_ms"]:
            rec["status"], rec["reason"] = "skipped", why
            continue
        rec["status"] = "ok"
        rec["time_ms"] = round(statistics.median(rec["times_ms"]), 4)
        if case["family"] == "row":
            b = row_bytes_model(case["N"], case["V"], getattr(torch, dtype_name), soft=rec["loss"] == "softce")
            bw = b / (rec["time_ms"] / 1e3)
            rec["bw_tbs"] = round(bw / 1e12, 4)
            if case.get("peak_bw"):
                rec["bw_frac_peak"] = round(bw / case["peak_bw"], 4)
            if case.get("copy_bw"):
                rec["bw_frac_copy"] = round(bw / case["copy_bw"], 4)


class _Call:
    """A prepared call: ``c()`` runs fwd (+ backward) once and keeps the detached output in ``c.out``."""

    def __init__(self, impl: Impl, inputs: dict[str, torch.Tensor]):
        self.impl, self.inputs, self.out = impl, inputs, None

    def __call__(self) -> None:
        fn = self.impl.fn
        assert fn is not None
        if self.impl.mode == "fwd":
            with torch.no_grad():
                self.out = fn(self.inputs)
        else:
            loss = fn(self.inputs)
            loss.backward()
            self.out = loss.detach()


# ------------------------------------------------------------------------------------------ targets
def _res(case: dict[str, Any], name: str) -> dict[str, Any] | None:
    for r in case.get("results", []):
        if r["impl"] == name and r["status"] == "ok":
            return r
    return None


def _verdict(oks: list[bool]) -> str:
    if not oks:
        return "unknown"
    return "met" if all(oks) else "not met"


def evaluate_targets(cases: list[dict[str, Any]], variants: list[str]) -> list[dict[str, Any]]:
    """The issue's four targets, per infoloss backend variant ('' = default, '[triton]')."""
    targets = []
    rows = [c for c in cases if c["family"] == "row"]
    lins = [c for c in cases if c["family"] == "linear"]
    for sfx in variants:
        label = "default" if not sfx else sfx.strip("[]")
        for tname, impl, limit in (
            ("row MIN-ENT <= 1.1x Liger CE", "infoloss_minent", T_MINENT_VS_LIGER),
            ("row CE <= 1.0x Liger CE", "infoloss_ce", T_CE_VS_LIGER),
        ):
            detail, oks = [], []
            for c in rows:
                a, b = _res(c, impl + sfx), _res(c, "liger_ce")
                if a and b:
                    ratio = a["time_ms"] / b["time_ms"]
                    oks.append(ratio <= limit)
                    detail.append(f"{c['id']}: {ratio:.2f}x")
            targets.append(
                {
                    "target": tname,
                    "backend": label,
                    "status": _verdict(oks),
                    "detail": detail or ["Liger CE or infoloss not measured"],
                }
            )
        detail, oks = [], []
        for c in rows:
            for impl in ("infoloss_ce", "infoloss_minent"):
                a = _res(c, impl + sfx)
                if a and a["bw_frac_peak"] is not None:
                    oks.append(a["bw_frac_peak"] >= T_BANDWIDTH)
                    detail.append(f"{c['id']} {impl}: {100 * a['bw_frac_peak']:.0f}% of peak")
        targets.append(
            {
                "target": "row kernels >= 80% of peak bandwidth (2 N V b model)",
                "backend": label,
                "status": _verdict(oks),
                "detail": detail or ["no datasheet peak or not measured"],
            }
        )
        detail, oks = [], []
        for c in lins:
            a, b = _res(c, "infoloss_linear_minent" + sfx), _res(c, "cce")
            if a and b:
                tr = a["time_ms"] / b["time_ms"]
                if a["peak_mib"] is not None and b["peak_mib"]:
                    mr = a["peak_mib"] / b["peak_mib"]
                    oks.append(tr <= T_LINEAR_TIME and mr <= T_LINEAR_MEM)
                    detail.append(f"{c['id']}: time {tr:.2f}x, memory {mr:.2f}x")
                else:
                    detail.append(f"{c['id']}: time {tr:.2f}x, memory not measured")
        targets.append(
            {
                "target": "linear MIN-ENT <= 1.2x CCE CE time at <= 1.5x its memory",
                "backend": label,
                "status": _verdict(oks),
                "detail": detail or ["CCE or infoloss linear not measured"],
            }
        )
    return targets


# ------------------------------------------------------------------------------------------ output
def _fmt(x: Any, spec: str = ".3f") -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return format(x, spec)
    return _cell(str(x))


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def write_outputs(out_dir: Path, report: dict[str, Any]) -> None:
    variants = [""] + (["[triton]"] if report["env"].get("infoloss_triton_backend") else [])
    report["targets"] = evaluate_targets(report["cases"], variants)
    report["elapsed_s"] = (
        round(time.monotonic() - report.pop("_t0", time.monotonic()), 2) if "_t0" in report else report.get("elapsed_s")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "gpu_check.json.tmp"
    tmp.write_text(json.dumps({k: v for k, v in report.items() if not k.startswith("_")}, indent=1))
    tmp.replace(out_dir / "gpu_check.json")
    (out_dir / "gpu_check.md").write_text(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    env = report["env"]
    lines = [
        f"# infoloss GPU check{' (DRY RUN on CPU: tiny sizes, timings meaningless)' if report['dry_run'] else ''}",
        "",
        f"- device: {env.get('device_name')}; torch {env.get('torch')} (CUDA {env.get('cuda')}); "
        f"triton {env.get('triton')}; liger-kernel {env.get('liger-kernel')}; "
        f"cut-cross-entropy {env.get('cut-cross-entropy')}; infoloss {env.get('infoloss')} "
        f"(git {env.get('git')})",
        f"- infoloss Triton backend: {env.get('infoloss_triton_backend_note')}; token stats: {env.get('token_fn')}",
        f"- peak bandwidth (datasheet): {_fmt(env.get('peak_bw_tbs'))} TB/s; measured D2D copy: "
        f"{_fmt(env.get('copy_bw_tbs'))} TB/s",
        f"- command: `{report.get('command')}`; started {report.get('started')}; "
        f"elapsed {report.get('elapsed_s')} s of a {report.get('budget_s')} s budget"
        + (f"; ABORTED: {report['aborted']}" if report.get("aborted") else ""),
        f"- method: {report.get('method')}",
        f"- bandwidth model: {report.get('bandwidth_model')}",
        "",
    ]
    t = report.get("tests") or {}
    lines += [
        "## GPU-marked tests",
        "",
        f"`{t.get('command')}`: rc {t.get('rc')}, {t.get('summary')} ({t.get('seconds')} s)",
        "",
    ]
    for fam, title in (("row", "Row losses (logits given)"), ("linear", "Linear losses (hidden @ weight.T)")):
        cases = [c for c in report["cases"] if c["family"] == fam]
        if not cases:
            continue
        lines += [
            f"## {title}",
            "",
            "| case | impl | mode | time (ms) | x base | extra peak (MiB) | x N V b | TB/s | % peak | "
            "value | rel err vs fp64 | status |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in cases:
            base = next(
                (
                    r
                    for r in c.get("results", [])
                    if r["impl"] in ("torch_ce", "torch_lce", "naive_linear_ce") and r["status"] == "ok"
                ),
                None,
            )
            for r in c.get("results", []):
                xb = (r["time_ms"] / base["time_ms"]) if (base and r["time_ms"] and r["mode"] == base["mode"]) else None
                status = _cell(r["status"] + (f": {r['reason']}" if r.get("reason") else ""))
                if r["status"] == "ok" and r.get("value_ok") is False:
                    status += " (VALUE MISMATCH)"
                lines.append(
                    f"| {c['id']} | {r['impl']} | {r['mode']} | {_fmt(r['time_ms'])} | {_fmt(xb, '.2f')} | "
                    f"{_fmt(r['peak_mib'], '.1f')} | {_fmt(r['peak_x_nv'], '.2f')} | {_fmt(r['bw_tbs'])} | "
                    f"{_fmt(None if r['bw_frac_peak'] is None else 100 * r['bw_frac_peak'], '.0f')} | "
                    f"{_fmt(r['value'], '.6f')} | {_fmt(r['rel_err'], '.1e')} | {status} |"
                )
            if c.get("note"):
                lines.append(f"| {c['id']} | | | | | | | | | | | {c['note']} |")
        base_names = "torch_ce (rows), torch_lce or else naive_linear_ce (linear)"
        lines += ["", f"x base: time over {base_names} of the same case and mode.", ""]
    lines += [
        "## Targets" + (" (dry run: meaningless)" if report["dry_run"] else ""),
        "",
        "| target | infoloss backend | status | detail |",
        "|---|---|---|---|",
    ]
    for tg in report.get("targets", []):
        lines.append(f"| {tg['target']} | {tg['backend']} | **{tg['status']}** | {_cell('; '.join(tg['detail']))} |")
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ tests
def run_gpu_tests(
    out_dir: Path, paths: list[str], timeout: float, extra_path: str | None, log: Callable[[str], None]
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "--tb=short",
        "-m",
        "gpu",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
        *paths,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO / "src"), extra_path, env.get("PYTHONPATH")] if p)
    rec: dict[str, Any] = {
        "command": " ".join(["python -m pytest", *cmd[3:]]),
        "rc": None,
        "summary": None,
        "seconds": None,
        "log": "pytest_gpu.txt",
    }
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=max(timeout, 1))
        text, rec["rc"] = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:

        def _s(b: Any) -> str:
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        text, rec["rc"] = _s(exc.stdout) + _s(exc.stderr) + f"\n[timed out after {timeout:.0f} s]\n", "timeout"
    rec["seconds"] = round(time.monotonic() - t0, 1)
    (out_dir / "pytest_gpu.txt").write_text(text)
    summ = [
        ln for ln in text.splitlines() if re.search(r"\b(passed|failed|skipped|error|deselected|no tests ran)\b", ln)
    ]
    rec["summary"] = summ[-1].strip("= ") if summ else "no summary line"
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", rec["summary"])}
    rec["counts"] = counts
    log(f"tests: rc {rec['rc']}, {rec['summary']} ({rec['seconds']} s)")
    return rec


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("out", type=Path, help="output folder (gpu_check.json, gpu_check.md, pytest_gpu.txt)")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, same code path (CI)")
    p.add_argument("--wheels", type=Path, default=None, help="folder of wheels to install when missing")
    p.add_argument("--site", type=Path, default=Path("/tmp/infoloss_gpu_site"), help="pip --target for --wheels")
    p.add_argument("--budget-s", type=float, default=None, help="global time budget (default 440; dry run 120)")
    p.add_argument("--reps", type=int, default=None, help="timed rounds per case (default 10; dry run 3)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up calls per impl (default 2; dry run 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["rows", "linear"], default=None)
    p.add_argument("--no-tests", action="store_true", help="skip the GPU-marked tests")
    p.add_argument("--tests", nargs="*", default=None, help="pytest paths (default: tests; dry run tests/gpu)")
    p.add_argument("--test-timeout", type=float, default=150.0)
    p.add_argument(
        "--cpu-libs",
        action="store_true",
        help="dry run: load Liger and CCE on CPU too (they run only under TRITON_INTERPRET=1)",
    )
    p.add_argument(
        "--linear-chunks",
        type=int,
        nargs="*",
        default=None,
        help="extra chunk_size (rows) variants of linear MIN-ENT (default 256 1024 4096; dry run 16)",
    )
    p.add_argument("--no-compile", action="store_true", help="leave out the torch.compile baselines")
    p.add_argument("--compile-backend", default=None, help="torch.compile backend (default inductor; dry run eager)")
    p.add_argument(
        "--compile-budget-s",
        type=float,
        default=150.0,
        help="stop starting torch.compile baselines once their first calls took this long in all",
    )
    p.add_argument(
        "--compile-reserve-s",
        type=float,
        default=None,
        help="budget left needed to start a compiled baseline (default 60; dry run 1)",
    )
    p.add_argument("--min-impl-s", type=float, default=None, help="budget left needed to run anything (default 5)")
    a = p.parse_args(argv)
    dry = a.dry_run
    a.budget_s = a.budget_s if a.budget_s is not None else (120.0 if dry else 440.0)
    a.reps = a.reps if a.reps is not None else (3 if dry else 10)
    a.warmup = max(1, a.warmup if a.warmup is not None else (1 if dry else 2))
    a.tests = a.tests if a.tests is not None else (["tests/gpu"] if dry else gpu_test_files())
    a.linear_chunks = a.linear_chunks if a.linear_chunks is not None else ([16] if dry else [256, 1024, 4096])
    a.compile_backend = a.compile_backend or ("eager" if dry else "inductor")
    a.compile_reserve_s = a.compile_reserve_s if a.compile_reserve_s is not None else (1.0 if dry else 60.0)
    a.min_impl_s = a.min_impl_s if a.min_impl_s is not None else (0.5 if dry else 5.0)
    return a


def gpu_test_files() -> list[str]:
    """tests/gpu plus every other test file that uses the gpu marker (collecting all of tests/ would import
    the integrations' and harness' dependencies for nothing)."""
    files = {"tests/gpu"}
    for f in sorted((REPO / "tests").rglob("test_*.py")):
        if "gpu" in f.relative_to(REPO / "tests").parts[:-1]:
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if "mark.gpu" in f.read_text():
                files.add(str(f.relative_to(REPO)))
    return sorted(files)


def _git_rev() -> str | None:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        return r.stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


@contextlib.contextmanager
def _sigterm_aborts() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise Aborted(f"signal {signum}")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(args.budget_s)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[gpu_check {time.monotonic() - budget.t0:6.1f}s] {msg}", flush=True)

    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        log("no CUDA device: nothing to measure (use --dry-run for the CPU dry run)")
        return 2
    device = torch.device("cuda" if cuda else "cpu")
    if args.dry_run:
        torch.set_num_threads(1)  # tiny sizes: threads only contend (CI runs tests in parallel)
    clock = Clock(device)
    pkg = ensure_wheels(args.wheels, args.site, log)
    if cuda:
        with contextlib.suppress(Exception):
            import torch._dynamo as dynamo

            dynamo.config.cache_size_limit = 64
            if hasattr(dynamo.config, "recompile_limit"):
                dynamo.config.recompile_limit = 64
        torch.backends.cuda.matmul.allow_tf32 = False
    libs = load_libs(args.dry_run, cuda, args.cpu_libs)
    device_name = torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.processor() or platform.machine()})"
    peak = peak_bandwidth(device_name) if cuda else None
    env: dict[str, Any] = {
        "device_name": device_name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "git": _git_rev(),
        "infoloss": libs.versions.get("infoloss"),
        "triton": libs.versions.get("triton"),
        "liger-kernel": libs.versions.get("liger-kernel"),
        "cut-cross-entropy": libs.versions.get("cut-cross-entropy"),
        "infoloss_triton_backend": libs.triton_backend,
        "infoloss_triton_backend_note": "set_backend('triton') measured as [triton]"
        if libs.triton_backend
        else libs.reasons.get("infoloss_triton"),
        "token_fn": f"infoloss.{libs.token_fn_name}" if libs.token_fn else libs.reasons.get("token_stats"),
        "peak_bw_tbs": peak / 1e12 if peak else None,
        "skip_reasons": libs.reasons,
        "packages": pkg,
    }
    with contextlib.suppress(Exception):
        import infoloss._fused as _f

        env["infoloss_default_cuda_uses_triton"] = bool(_f.triton_available()) if cuda else None
    report: dict[str, Any] = {
        "schema": 1,
        "dry_run": bool(args.dry_run),
        "started": now_iso(),
        "budget_s": args.budget_s,
        "command": " ".join([Path(sys.argv[0]).name if argv is None else "gpu_check.py", *(argv or sys.argv[1:])]),
        "aborted": None,
        "env": env,
        "tests": None,
        "cases": [],
        "_t0": budget.t0,
        "method": f"median of {args.reps} interleaved fwd+bwd rounds after {args.warmup} warm-up call(s); "
        + (
            "CUDA events; extra peak = max_memory_allocated - allocated before the call (inputs excluded, "
            "gradients included; Liger CE's in-place gradient lives in its copy of the logits)"
            if cuda
            else "time.perf_counter; no memory on CPU"
        ),
        "bandwidth_model": "row fwd+bwd bytes = 2 N V b (read logits once, write the gradient once; "
        "soft target: + N V b to read it), over the median time",
    }

    def save() -> None:
        report["elapsed_s"] = round(time.monotonic() - budget.t0, 2)
        rep = dict(report)
        rep.pop("_t0", None)
        write_outputs(out_dir, rep)
        report["targets"] = rep["targets"]

    with _sigterm_aborts():
        try:
            save()
            if cuda:
                env["copy_bw_tbs"] = round(copy_bandwidth(device, clock, 2 << 30) / 1e12, 3)
            else:
                env["copy_bw_tbs"] = round(copy_bandwidth(device, clock, 64 << 20) / 1e12, 4)
            if args.no_tests:
                report["tests"] = {"command": None, "rc": None, "summary": "not run (--no-tests)", "seconds": 0}
            else:
                report["tests"] = run_gpu_tests(
                    out_dir, args.tests, min(args.test_timeout, budget.left() - 30), pkg.get("site"), log
                )
            save()
            plan = build_plan(args)
            for spec in plan:
                run_one(spec, libs, args, clock, device, budget, report, env, log)
                save()
        except Aborted as exc:
            report["aborted"] = str(exc)
            log(f"aborted ({exc}); writing partial results")
        except KeyboardInterrupt:
            report["aborted"] = "KeyboardInterrupt"
        finally:
            save()
    for tg in report.get("targets", []):
        log(f"target [{tg['backend']}] {tg['target']}: {tg['status'].upper()} ({'; '.join(tg['detail'])})")
    log(f"wrote {out_dir / 'gpu_check.md'} and {out_dir / 'gpu_check.json'}")
    return 0


def build_plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Case order: row bf16, linear, row fp32 (what the targets need first, should the budget run out)."""
    rows = DRY_ROW_SIZES if args.dry_run else ROW_SIZES
    lins = DRY_LINEAR_SIZES if args.dry_run else LINEAR_SIZES
    row_specs = {dt: [{"family": "row", "N": n, "V": v, "dtype": dt} for n, v in rows] for dt in ROW_DTYPES}
    lin_specs = [
        {"family": "linear", "N": n, "H": h, "V": v, "dtype": dt, "label": lab}
        for n, h, v, lab in lins
        for dt in LINEAR_DTYPES
    ]
    plan = row_specs["bfloat16"] + lin_specs + row_specs["float32"]
    if args.only == "rows":
        plan = [p for p in plan if p["family"] == "row"]
    elif args.only == "linear":
        plan = [p for p in plan if p["family"] == "linear"]
    return plan


def run_one(
    spec: dict[str, Any],
    libs: Libs,
    args: argparse.Namespace,
    clock: Clock,
    device: torch.device,
    budget: Budget,
    report: dict[str, Any],
    env: dict[str, Any],
    log: Callable[[str], None],
) -> None:
    dtype = getattr(torch, spec["dtype"])
    short = {"bfloat16": "bf16", "float32": "fp32", "float16": "fp16"}[spec["dtype"]]
    if spec["family"] == "row":
        cid = f"row {spec['N']}x{spec['V']} {short}"
    else:
        cid = f"linear {spec['N']}x{spec['H']}->{spec['V']} {short}"
    case: dict[str, Any] = {
        **spec,
        "id": cid,
        "results": [],
        "nv_bytes": spec["N"] * spec["V"] * torch.empty((), dtype=dtype).element_size(),
        "peak_bw": (env["peak_bw_tbs"] or 0) * 1e12 or None,
        "copy_bw": (env.get("copy_bw_tbs") or 0) * 1e12 or None,
    }
    report["cases"].append(case)
    impls = row_impls(libs, args) if spec["family"] == "row" else linear_impls(libs, args)
    if budget.left() < max(args.min_impl_s, 1.0) * 2:
        case["results"] = [
            {
                "impl": i.name,
                "lib": i.lib,
                "loss": i.loss,
                "mode": i.mode,
                "backend": i.backend,
                "status": "skipped",
                "reason": "time budget",
                "time_ms": None,
                "times_ms": [],
                "peak_mib": None,
                "peak_x_nv": None,
                "value": None,
                "ref": None,
                "rel_err": None,
                "value_ok": None,
                "bw_tbs": None,
                "bw_frac_peak": None,
                "bw_frac_copy": None,
                "first_call_s": None,
            }
            for i in impls
        ]
        log(f"{cid}: skipped (time budget)")
        return
    log(f"{cid}: inputs + float64 oracle")
    inputs: dict[str, torch.Tensor] = {}
    try:
        if spec["family"] == "row":
            inputs = make_row_inputs(spec["N"], spec["V"], dtype, device, args.seed)
            oracle = row_oracle(inputs["z"].detach(), inputs["y"], inputs["q"])
        else:
            inputs = make_linear_inputs(spec["N"], spec["H"], spec["V"], dtype, device, args.seed)
            oracle = linear_oracle(inputs["x"].detach(), inputs["w"].detach(), inputs["y"])
        case["oracle"] = oracle
        run_case(case, impls, inputs, oracle, clock, args, budget, log)
    except Aborted:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken case must not end the run
        case["error"] = _err(exc)
        log(f"{cid}: case failed: {case['error']}")
        if not case["results"]:
            case["results"] = []
    finally:
        inputs.clear()
        _free()
    ok = [r for r in case["results"] if r["status"] == "ok"]
    log(f"{cid}: {len(ok)} ok, " + ", ".join(f"{r['impl']} {r['time_ms']:.3f} ms" for r in ok))


if __name__ == "__main__":
    sys.exit(main())
