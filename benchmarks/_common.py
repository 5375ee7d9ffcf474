"""Shared helpers of the benchmark scripts: per-case subprocesses, peak-RSS measurement, tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False if the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_child(script: str, args: list[str], timeout: float = 1800) -> dict:
    """Run one case in a fresh interpreter and return its JSON result (or an error record)."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [
                os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
    )
    try:
        out = subprocess.run(
            [sys.executable, script, "--child", *args], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(lines[-1])


def machine() -> str:
    import platform

    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
