"""Build, cache and call the plain-C row kernel (``_kernel.c``) through ctypes.

The kernel has no torch headers, so it compiles in about a second with any C compiler. The shared
library is cached under ``$INFOLOSS_CACHE_DIR`` (default ``~/.cache/infoloss``), keyed by the source
hash, the compiler flags and the CPU. Any failure (no compiler, no writable cache, a load error) is
remembered and :func:`available` then returns False: callers fall back to the eager chunked path.
Set ``INFOLOSS_CPU_KERNEL=0`` to disable the kernel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("_kernel.c")
_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-shared", "-fPIC"]
_NATIVE = ["-march=native"]

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_failed: str | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0

_I64 = ctypes.c_int64
_P = ctypes.c_void_p


def _cpu_tag() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + hashlib.sha1(flags.encode()).hexdigest()[:8]


def _cache_dir() -> Path:
    root = os.environ.get("INFOLOSS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "infoloss")
    path = Path(root)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(path)
    return path


def _check_private(path: Path) -> None:
    """Refuse a cache entry another user could have written: a planted library would run in-process.

    The directory and the library must belong to this user and not be group- or world-writable; on any
    doubt the caller falls back to the eager path.
    """
    if not hasattr(os, "getuid"):  # no POSIX ownership to check (e.g. Windows)
        return
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise RuntimeError(f"refusing kernel cache {path}: not owned by this user or writable by others")


def _compile(src: Path, out: Path, defines: tuple[str, ...] = ()) -> None:
    env_cc = shlex.split(os.environ.get("CC", ""))  # CC may carry arguments, e.g. "ccache gcc"
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    cc = env_cc or ([found] if found else [])
    if not cc:
        raise RuntimeError("no C compiler found")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        last: subprocess.CompletedProcess[str] | None = None
        for extra in (_NATIVE, []):  # -march=native may be unknown to the compiler
            last = subprocess.run([*cc, *_FLAGS, *extra, *defines, str(src), "-o", tmp, "-lm"], capture_output=True,
                                  text=True, timeout=120)
            if last.returncode == 0:
                os.replace(tmp, out)
                return
        raise RuntimeError(f"C kernel compilation failed: {last.stderr[-500:] if last else ''}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    """Compile (or find in the cache) and load the kernel; ``defines`` are extra ``-D`` flags (tests use
    ``("-DIL_NO_VECTOR",)`` for the portable scalar build). The cache key covers the source text, so an
    edited kernel recompiles."""
    src = _SOURCE.read_bytes()
    flags = " ".join(_FLAGS + _NATIVE + list(defines))
    key = hashlib.sha1(src + flags.encode() + _cpu_tag().encode()).hexdigest()[:16]
    path = _cache_dir() / f"infoloss_rows_{key}.so"
    if not path.exists():
        _compile(_SOURCE, path, defines)
    _check_private(path)
    lib = ctypes.CDLL(str(path))
    for name, real in (("il_rows_f32", ctypes.c_float), ("il_rows_f64", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = [_P, _I64, _P, _P, _I64, _I64, _I64, real, real, real, real, real, real, real, _P, _P, _I64]
    for name, real in (("il_prob_rows_f32", ctypes.c_float), ("il_prob_rows_f64", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = [_P, _I64, _P, _I64, _P, _I64, _I64, _I64, real, real, real, real, real, real, _P, _P, _I64]
    return lib


def available() -> bool:
    """True when the compiled CPU kernel is (or can be made) usable; compiles it on first call."""
    global _lib, _failed
    if _lib is not None:
        return True
    if _failed is not None or os.environ.get("INFOLOSS_CPU_KERNEL", "1") == "0":
        return False
    with _lock:
        if _lib is None and _failed is None:
            try:
                _lib = _load()
            except Exception as exc:  # any failure means: use the eager path
                _failed = f"{type(exc).__name__}: {exc}"
    return _lib is not None


def failure_reason() -> str | None:
    """Why the kernel is unavailable (None when it loaded or was never tried)."""
    return _failed


def _reset_pool_after_fork() -> None:
    # A ThreadPoolExecutor's threads do not survive fork(): a forked child (DataLoader workers,
    # multiprocessing with "fork") must build its own pool, or it would wait forever on dead threads.
    global _pool, _pool_size, _lock
    _pool, _pool_size = None, 0
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="infoloss")
            _pool_size = n
        return _pool


def _split(m: int, c: int, run: Callable[[int, int], None]) -> None:
    """Call ``run(r0, r1)`` on row blocks covering ``range(m)``, over the thread pool when it pays."""
    nthreads = max(1, torch.get_num_threads())
    if nthreads == 1 or m * c < 1 << 16:
        run(0, m)
        return
    nblocks = min(m, nthreads * 4)
    bounds = [m * k // nblocks for k in range(nblocks + 1)]
    pool = _get_pool(nthreads)
    futures = [pool.submit(run, bounds[k], bounds[k + 1]) for k in range(nblocks)]
    for f in futures:
        f.result()


def rows(z: Tensor, y: Tensor, w: Tensor | None, *, ignore_index: int, label_smoothing: float, ce: float,
         ent: float, rev: float, lo: float, ly: float, wsum: float, loss: Tensor, grad: Tensor | None) -> None:
    """Run the class-index kernel on (M, C) ``z`` (float32/float64, unit class stride) into ``loss``/``grad``.

    ``y`` is (M,) int64 contiguous, ``w`` (C,) of z's dtype or None, ``loss`` (M,) and ``grad`` (M, C)
    (unit stride in the class dim) of z's dtype. The rows are split over a small thread pool; ctypes
    releases the GIL while the C code runs.
    """
    assert _lib is not None
    m, c = z.shape
    if m == 0:
        return
    fn = _lib.il_rows_f64 if z.dtype == torch.float64 else _lib.il_rows_f32
    isz = z.element_size()
    ldz, ldg = z.stride(0), (grad.stride(0) if grad is not None else 0)
    zp, yp, lp = z.data_ptr(), y.data_ptr(), loss.data_ptr()
    gp = grad.data_ptr() if grad is not None else None
    wp = w.data_ptr() if w is not None else None
    consts = (ignore_index, label_smoothing, ce, ent, rev, lo, ly, wsum)

    def run(r0: int, r1: int) -> None:
        fn(zp + r0 * ldz * isz, ldz, yp + r0 * 8, wp, r1 - r0, c, *consts, lp + r0 * isz,
           None if gp is None else gp + r0 * ldg * isz, ldg)

    _split(m, c, run)


def prob_rows(z: Tensor, q: Tensor, w: Tensor, *, weighted: bool, label_smoothing: float, ce: float, ent: float,
              rev: float, rev_log_eps: float, wsum: float, loss: Tensor, grad: Tensor | None) -> None:
    """Run the probability-target kernel on (M, C) ``z`` and target ``q`` (same dtype, unit class stride).

    ``w`` is (C,) contiguous of z's dtype (ones without class weights; ``weighted`` False then makes
    ``s_i = 1``), ``wsum`` its sum, ``loss`` (M,) and ``grad`` (M, C) (unit class stride) of z's dtype.
    """
    assert _lib is not None
    m, c = z.shape
    if m == 0:
        return
    fn = _lib.il_prob_rows_f64 if z.dtype == torch.float64 else _lib.il_prob_rows_f32
    isz = z.element_size()
    ldz, ldq, ldg = z.stride(0), q.stride(0), (grad.stride(0) if grad is not None else 0)
    zp, qp, lp, wp = z.data_ptr(), q.data_ptr(), loss.data_ptr(), w.data_ptr()
    gp = grad.data_ptr() if grad is not None else None
    consts = (label_smoothing, ce, ent, rev, rev_log_eps, wsum)

    def run(r0: int, r1: int) -> None:
        fn(zp + r0 * ldz * isz, ldz, qp + r0 * ldq * isz, ldq, wp, int(weighted), r1 - r0, c, *consts,
           lp + r0 * isz, None if gp is None else gp + r0 * ldg * isz, ldg)

    _split(m, c, run)
