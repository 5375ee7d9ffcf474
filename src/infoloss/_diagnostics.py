"""Which implementation runs, and why: :func:`diagnostics`, :func:`format_diagnostics`, :func:`warn_once`.

Every fallback to a slower path warns once per process and reason (:func:`warn_once`, a
``RuntimeWarning`` that names the cause and the fix); :func:`diagnostics` lists those warnings with the
state of every implementation. ``infoloss doctor`` prints :func:`format_diagnostics`.

This module imports only the standard library at import time (the kernel loader imports it).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import threading
import warnings
from typing import Any

_warn_lock = threading.Lock()
_warned: dict[str, str] = {}  # reason key -> message, in order of first occurrence


def warn_once(key: str, message: str, *, category: type[Warning] = RuntimeWarning, stacklevel: int = 3) -> bool:
    """Issue ``warnings.warn(message, category)`` the first time ``key`` is seen in this process.

    Thread-safe. The messages are kept for :func:`diagnostics` (``"fallback_warnings"``).

    Args:
        key: the reason (one warning per key and process).
        message: the warning text (the cause and the fix).
        category: the warning class.
        stacklevel: passed to ``warnings.warn`` (3: the caller of the function that calls this).

    Returns:
        True when it warned, False when ``key`` was seen before.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     first = warn_once("doc-example", "example fallback")
        ...     second = warn_once("doc-example", "example fallback")
        >>> first, second, [str(w.message) for w in caught]
        (True, False, ['example fallback'])
    """
    with _warn_lock:
        if key in _warned:
            return False
        _warned[key] = message
    warnings.warn(message, category, stacklevel=stacklevel)
    return True


def fallback_warnings() -> list[str]:
    """Return the fallback messages issued by :func:`warn_once` so far in this process, in order.

    Returns:
        A copy of the messages.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     _ = warn_once("doc-example-2", "another example fallback")
        >>> fallback_warnings()[-1]
        'another example fallback'
    """
    with _warn_lock:
        return list(_warned.values())


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _triton_state() -> dict[str, Any]:
    try:
        triton = importlib.import_module("triton")
    except Exception as exc:  # ImportError, or a broken install raising anything
        return {"importable": False, "version": None, "error": f"{type(exc).__name__}: {exc}"}
    return {"importable": True, "version": getattr(triton, "__version__", None), "error": None}


def _cuda_state(torch: Any) -> dict[str, Any]:
    ok = bool(torch.cuda.is_available())
    state: dict[str, Any] = {
        "available": ok,
        "device_count": 0,
        "devices": [],
        "torch_cuda": getattr(torch.version, "cuda", None),
    }
    if ok:
        try:
            state["device_count"] = torch.cuda.device_count()
            state["devices"] = [torch.cuda.get_device_name(i) for i in range(state["device_count"])]
        except Exception as exc:
            state["error"] = f"{type(exc).__name__}: {exc}"
    return state


def _cpu_kernel_state(probe: bool) -> dict[str, Any]:
    import torch

    from infoloss._fused import _ckernel

    if probe:
        with warnings.catch_warnings():  # the report says it; warn_once still records it
            warnings.simplefilter("ignore", RuntimeWarning)
            _ckernel.available()
    state = _ckernel.build_info()
    state["build"] = None if state["vector"] is None else ("vector" if state["vector"] else "scalar")
    state["threads"] = max(1, torch.get_num_threads())
    state["threads_note"] = (
        "row blocks run on a pool of torch.get_num_threads() workers when M*C >= 65536, else on the calling thread"
    )
    return state


def _implementation(
    device: str, dtype: Any, target: str, backend: str, cpu: dict[str, Any], triton_ok: bool, cuda_ok: bool
) -> str:
    """Best description of what ``infoloss.functional`` runs for one case.

    Asks the op layer first (``infoloss._ops.implementation_for(device, dtype, target) -> str``, when it
    exists), else applies the rules of ``docs/fused.md``.
    """
    try:
        ops = importlib.import_module("infoloss._ops")
        describe = getattr(ops, "implementation_for", None)
    except Exception:
        describe = None
    if describe is not None:
        try:
            return str(describe(device, dtype, target))
        except Exception as exc:
            return f"unknown ({type(exc).__name__}: {exc})"
    if backend == "reference":
        return "reference (plain PyTorch autograd composition, infoloss._reference)"
    if device == "cpu":
        if cpu.get("available"):
            return f"C kernel ({cpu.get('build')} build, {cpu.get('threads')} threads)"
        why = cpu.get("failure_reason") or "not tried"
        return f"eager chunked torch path (C kernel unavailable: {why})"
    if not cuda_ok:
        return "n/a (no CUDA device)"
    if target == "index" and triton_ok:
        return "Triton kernel (infoloss._fused._triton)"
    return "eager chunked torch path"


def diagnostics(*, probe: bool = True) -> dict[str, Any]:
    """A dict describing the installation and which implementation runs for each case.

    Keys: ``python``, ``platform``, ``torch_version``, ``infoloss_version``, ``backend``
    (``infoloss.get_backend()``), ``cpu_kernel`` (enabled, available, failure_reason, path, compiler,
    flags, build = "vector" | "scalar", threads, cache_dir), ``triton`` (importable, version, error),
    ``cuda`` (available, device_count, devices), ``implementations`` (a description per
    ``"device/dtype/target"`` case, e.g. ``"cpu/float32/index"``) and ``fallback_warnings`` (the fallback
    warnings issued so far in this process).

    Args:
        probe: build or load the CPU kernel if that has not been tried yet (about 1 s the first time),
            so that ``cpu_kernel["available"]`` is True or False rather than None.

    Returns:
        dict of plain Python values (JSON-serialisable). Failures to import Triton or query CUDA are
        reported in the dict, not raised.

    Example:
        >>> import infoloss._diagnostics as d
        >>> info = d.diagnostics()
        >>> info["backend"] in ("fused", "reference"), "cpu/float32/index" in info["implementations"]
        (True, True)
    """
    import torch

    import infoloss

    backend = infoloss.get_backend()
    cpu = _cpu_kernel_state(probe)
    triton = _triton_state()
    cuda = _cuda_state(torch)
    triton_ok = triton["importable"] and cuda["available"]
    impl = {}
    for device in ("cpu", "cuda"):
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            for target in ("index", "prob"):
                name = str(dtype).replace("torch.", "")
                impl[f"{device}/{name}/{target}"] = _implementation(
                    device, dtype, target, backend, cpu, triton_ok, cuda["available"]
                )
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch_version": torch.__version__,
        "infoloss_version": getattr(infoloss, "__version__", None) or _version("infoloss"),
        "backend": backend,
        "env": {k: os.environ[k] for k in ("INFOLOSS_CPU_KERNEL", "INFOLOSS_CACHE_DIR", "CC") if k in os.environ},
        "cpu_kernel": cpu,
        "triton": triton,
        "cuda": cuda,
        "implementations": impl,
        "fallback_warnings": fallback_warnings(),
    }


def format_diagnostics(info: dict[str, Any] | None = None) -> str:
    """Format :func:`diagnostics` as readable text (what ``infoloss doctor`` prints).

    Args:
        info: a dict from :func:`diagnostics` (None: call it now).

    Returns:
        Multi-line text: versions, the CPU kernel, Triton, CUDA, the implementation per case and the
        fallback warnings.

    Example:
        >>> import infoloss._diagnostics as d
        >>> print(d.format_diagnostics().splitlines()[0])
        infoloss diagnostics
    """
    info = diagnostics() if info is None else info
    cpu, tri, cuda = info["cpu_kernel"], info["triton"], info["cuda"]
    lines = [
        "infoloss diagnostics",
        f"  infoloss {info['infoloss_version']}, torch {info['torch_version']}, Python {info['python']}",
        f"  platform: {info['platform']}",
        f"  backend: {info['backend']}",
    ]
    if info.get("env"):
        lines.append("  environment: " + ", ".join(f"{k}={v}" for k, v in info["env"].items()))
    lines.append("CPU kernel (C, infoloss._fused._kernel.c):")
    if cpu["available"]:
        lines.append(f"  available: yes, {cpu['build']} build, {cpu['threads']} threads")
        lines.append(f"  library: {cpu['path']}")
        if cpu.get("compiler"):
            lines.append(f"  built with: {' '.join(cpu['compiler'])} {' '.join(cpu.get('flags') or [])}")
    elif cpu["available"] is None:
        lines.append("  not tried yet")
    else:
        lines.append(f"  available: no ({cpu['failure_reason']})")
    lines.append(f"  cache: {cpu.get('cache_dir')}")
    lines.append(f"Triton: {'importable, version ' + str(tri['version']) if tri['importable'] else 'not importable'}")
    cuda_line = "CUDA: " + ("available, " + ", ".join(cuda["devices"]) if cuda["available"] else "not available")
    lines.append(cuda_line)
    lines.append("Implementation per case (device/dtype/target):")
    width = max(len(k) for k in info["implementations"])
    for case, what in info["implementations"].items():
        lines.append(f"  {case:<{width}}  {what}")
    if info["fallback_warnings"]:
        lines.append("Fallback warnings in this process:")
        lines.extend(f"  - {w}" for w in info["fallback_warnings"])
    return "\n".join(lines)
