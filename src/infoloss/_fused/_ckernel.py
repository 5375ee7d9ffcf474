"""Build, cache and call the plain-C row kernel (``_kernel.c``) through ctypes.

The kernel has no torch headers, so it compiles in about a second with any C compiler. The shared
library is cached under ``$INFOLOSS_CACHE_DIR`` (default ``~/.cache/infoloss``), keyed by the source
hash, the compiler flags, ``$CC`` and the CPU. Beside each library lies ``<name>.so.json`` with the SHA-256
of the library's bytes: a library whose bytes do not match (truncated, overwritten, half-written) is
rebuilt before it is loaded, never mapped (a truncated ELF mapped into the process dies with SIGBUS on
first use). Both files are written to a temporary name, flushed and renamed into place, so a reader sees
an old pair, a new pair, or a mismatch that it rebuilds.

Any failure (no compiler, no private cache, a load error) is remembered, warned about once per process
(``RuntimeWarning`` naming the cause and the fix) and :func:`available` then returns False: callers fall
back to the eager chunked path. ``INFOLOSS_CPU_KERNEL=0`` disables the kernel (read once, at the first
:func:`available` call; no warning, since the user chose it). :func:`build_info` reports the state
(``infoloss.diagnostics()`` shows it).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import math
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
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from infoloss._diagnostics import warn_once

if TYPE_CHECKING:
    from infoloss._common import RowOptions

_SOURCE = Path(__file__).with_name("_kernel.c")
_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-shared", "-fPIC"]
_NATIVE = ["-march=native"]
_OPENMP = ["-fopenmp"]  # the row loop on the process's OpenMP team (torch's libgomp under a pip torch)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_info: dict[str, Any] = {}  # the loaded library: path, flags, compiler, ...
_failed: str | None = None
_available: bool | None = None  # the cached answer of available(); None until the first call
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_LOADED: list[ctypes.CDLL] = []  # every library loaded (default and test builds), for the fork hook
_in_forked_child = False

_I64 = ctypes.c_int64
_P = ctypes.c_void_p

_FIX_HINT = (
    "Set INFOLOSS_CPU_KERNEL=0 to choose the eager path without this warning; "
    "`infoloss doctor` (or infoloss.diagnostics()) shows which implementation runs."
)


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


def _compiler() -> list[str]:
    env_cc = shlex.split(os.environ.get("CC", ""))  # CC may carry arguments, e.g. "ccache gcc"
    if env_cc:
        if shutil.which(env_cc[0]) is None:
            raise RuntimeError(f"no C compiler found: CC={os.environ['CC']!r} is not an executable")
        return env_cc
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not found:
        raise RuntimeError("no C compiler found (none of cc, gcc, clang on PATH, CC unset)")
    return [found]


def _meta_path(lib_path: Path) -> Path:
    return lib_path.with_name(lib_path.name + ".json")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _compile(src: Path, out: Path, defines: tuple[str, ...] = ()) -> dict[str, Any]:
    """Compile ``src`` into ``out`` (atomically, with its checksum file); returns the build record."""
    cc = _compiler()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".build.so", dir=out.parent)
    os.close(fd)
    try:
        last: subprocess.CompletedProcess[str] | None = None
        # -march=native may be unknown to the compiler, and OpenMP missing (then a Python thread pool splits)
        for extra in ([*_NATIVE, *_OPENMP], _NATIVE, _OPENMP, []):
            cmd = [*cc, *_FLAGS, *extra, *defines, str(src), "-o", tmp, "-lm"]
            last = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if last.returncode == 0:
                data = Path(tmp).read_bytes()
                meta = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "compiler": cc,
                    "flags": [*_FLAGS, *extra, *defines],
                }
                _write_atomic(out, data)
                _write_atomic(_meta_path(out), json.dumps(meta).encode())
                return meta
        raise RuntimeError(f"C kernel compilation failed: {last.stderr[-500:] if last else ''}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _verified(path: Path) -> dict[str, Any] | None:
    """The build record of a cached library whose bytes match its recorded SHA-256, else None."""
    try:
        meta = json.loads(_meta_path(path).read_text())
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    return meta


def _bind(lib: ctypes.CDLL) -> None:
    for name, real in (("il_rows_f32", ctypes.c_float), ("il_rows_f64", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = [_P, _I64, _P, _P, _I64, _I64, _I64, real, real, real, real, real, real, real, _P, _P, _I64]
    for name, real in (("il_prob_rows_f32", ctypes.c_float), ("il_prob_rows_f64", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = [_P, _I64, _P, _I64, _P, _I64, _I64, _I64, real, real, real, real, real, real, _P, _P, _I64]
    lib.il_build_info.restype = ctypes.c_int64
    lib.il_build_info.argtypes = []
    lib.il_openmp.restype = ctypes.c_int64
    lib.il_openmp.argtypes = []
    lib.il_set_parallel.restype = None
    lib.il_set_parallel.argtypes = [_I64]
    _LOADED.append(lib)


def _load_with_info(defines: tuple[str, ...] = ()) -> tuple[ctypes.CDLL, dict[str, Any]]:
    """:func:`_load`, also returning the build record (path, compiler, flags, vector build, rebuilt)."""
    src = _SOURCE.read_bytes()
    flags = " ".join(_FLAGS + _NATIVE + _OPENMP + list(defines))
    key = hashlib.sha1(src + flags.encode() + _cpu_tag().encode() + os.environ.get("CC", "").encode()).hexdigest()[:16]
    path = _cache_dir() / f"infoloss_rows_{key}.so"
    meta = _verified(path)
    rebuilt = meta is None  # missing, or bytes that do not match the checksum: never map those
    if meta is None:
        meta = _compile(_SOURCE, path, defines)
    _check_private(path)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        if rebuilt:
            raise
        meta, rebuilt = _compile(_SOURCE, path, defines), True  # a valid checksum but unloadable: once more
        _check_private(path)
        lib = ctypes.CDLL(str(path))
    _bind(lib)
    lanes = int(lib.il_build_info())
    openmp = bool(lib.il_openmp())
    info = dict(
        meta, path=str(path), defines=list(defines), rebuilt=rebuilt, vector=lanes > 0, lanes=lanes, openmp=openmp
    )
    return lib, info


def _load(defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    """Compile (or find in the cache) and load the kernel; ``defines`` are extra ``-D`` flags (tests use
    ``("-DIL_NO_VECTOR",)`` for the portable scalar build). The cache key covers the source text, so an
    edited kernel recompiles; a cached library that fails its checksum is rebuilt."""
    return _load_with_info(defines)[0]


def _fix_for(reason: str) -> str:
    if "no C compiler" in reason:
        return (
            "Install a C compiler (gcc or clang, e.g. `apt install gcc`, or the Xcode command line tools) "
            "or set CC to one."
        )
    if "compilation failed" in reason:
        return "Check that the compiler works (`$CC --version`, or `cc --version`) or set CC to another one."
    if "refusing kernel cache" in reason:
        return (
            "Make the cache directory private (owned by you, chmod 700) or set INFOLOSS_CACHE_DIR to a "
            "private directory."
        )
    return "Delete the kernel cache directory (INFOLOSS_CACHE_DIR, default ~/.cache/infoloss) and retry."


def _first_available() -> bool:
    global _lib, _lib_info, _failed, _available
    reason = None
    with _lock:
        if _available is None:
            if os.environ.get("INFOLOSS_CPU_KERNEL", "1") == "0":
                _failed = "disabled by INFOLOSS_CPU_KERNEL=0"
                _available = False
            else:
                try:
                    _lib, _lib_info = _load_with_info()
                    _available = True
                except Exception as exc:  # any failure means: use the eager path (and say so, once)
                    _failed = reason = f"{type(exc).__name__}: {exc}"
                    _available = False
        ok = _available
    if reason is not None:
        key = reason.splitlines()[0][:200]
        warn_once(
            f"cpu-kernel:{key}",
            f"infoloss: the compiled CPU kernel is unavailable ({reason.strip()[:300]}); the CPU losses use "
            f"the slower eager path. {_fix_for(reason)} {_FIX_HINT}",
            stacklevel=4,
        )
    return ok


def available() -> bool:
    """True when the compiled CPU kernel is usable; compiles (or loads) it on the first call.

    After the first call this is one read of a cached bool (no lock, no environment read). The first call
    is thread-safe: concurrent callers wait for one build. A failure warns once (RuntimeWarning).
    """
    ok = _available
    if ok is not None:
        return ok
    return _first_available()


def failure_reason() -> str | None:
    """Why the kernel is unavailable (None when it loaded or was never tried)."""
    return _failed


def build_info() -> dict[str, Any]:
    """State of the CPU kernel (does not build it): enabled, available (None = not tried yet),
    failure_reason, path, compiler, flags, vector (vectorized float32 passes, False for the scalar build),
    lanes, openmp (the row loop runs on the OpenMP team) and the cache directory."""
    lib = _lib
    info: dict[str, Any] = {
        "enabled": os.environ.get("INFOLOSS_CPU_KERNEL", "1") != "0",
        "available": _available,
        "failure_reason": _failed,
        "path": _lib_info.get("path"),
        "compiler": _lib_info.get("compiler"),
        "flags": _lib_info.get("flags"),
        "rebuilt": _lib_info.get("rebuilt"),
        "vector": None,
    }
    if lib is not None:
        try:
            info["lanes"] = int(lib.il_build_info())
            info["vector"] = info["lanes"] > 0
            info["openmp"] = bool(lib.il_openmp())
        except AttributeError:  # a library swapped in by hand without the symbol
            info["vector"] = None
    try:
        info["cache_dir"] = str(_cache_dir())
    except Exception as exc:
        info["cache_dir"] = f"unusable: {exc}"
    return info


@functools.lru_cache(maxsize=256)
def rev_logs(num_classes: int, label_smoothing: float, rev_log_eps: float) -> tuple[float, float]:
    """``(lo, ly)``: ``max(log q'_c, rev_log_eps)`` for the other classes and the true class of a one-hot
    target smoothed to ``q' = (1 - eps) onehot + eps / C``, formed in the log domain (``log 0`` gives the
    floor; no ``exp(rev_log_eps)``, which underflows to 0 for eps < 1e-45 in float32)."""
    off = label_smoothing / num_classes
    q_y, q_o = 1.0 - label_smoothing + off, off

    def floor_log(q: float) -> float:
        return max(math.log(q), rev_log_eps) if q > 0 else rev_log_eps

    return floor_log(q_o), floor_log(q_y)


def _reset_pool_after_fork() -> None:
    # Threads do not survive fork(): a forked child (DataLoader workers, multiprocessing with "fork")
    # must build its own pool, or it would wait forever on dead threads. The same holds for the OpenMP
    # team: the child's kernels run their row loop serially and split over a fresh Python pool instead.
    global _pool, _pool_size, _lock, _in_forked_child
    _pool, _pool_size = None, 0
    _lock = threading.Lock()
    _in_forked_child = True
    for lib in _LOADED:
        lib.il_set_parallel(0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    pool = _pool
    if pool is not None and _pool_size == n:  # fast path: no lock
        return pool
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="infoloss")
            _pool_size = n
        return _pool


def _pool_pays(m: int, c: int) -> bool:
    """Whether (M, C) rows are split over the Python thread pool: large enough, several threads, and no
    OpenMP team to split them in the kernel (or a forked child, where the team does not survive)."""
    return m * c >= 1 << 16 and torch.get_num_threads() > 1 and not (_lib_info.get("openmp") and not _in_forked_child)


def _split(m: int, c: int, run: Callable[[int, int], None]) -> None:
    """Call ``run(r0, r1)`` on row blocks covering ``range(m)``, over the thread pool when it pays.

    A library built with OpenMP splits its row loop itself, on torch's threads: one call then.
    """
    if not _pool_pays(m, c):
        run(0, m)
        return
    nthreads = torch.get_num_threads()
    nblocks = min(m, nthreads * 4)
    bounds = [m * k // nblocks for k in range(nblocks + 1)]
    pool = _get_pool(nthreads)
    futures = [pool.submit(run, bounds[k], bounds[k + 1]) for k in range(nblocks)]
    for f in futures:
        f.result()


def rows(
    z: Tensor,
    y: Tensor,
    w: Tensor | None,
    *,
    ignore_index: int,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    lo: float | None = None,
    ly: float | None = None,
    wsum: float | None = None,
    loss: Tensor,
    grad: Tensor | None,
    rev_log_eps: float | None = None,
) -> None:
    """Run the class-index kernel on (M, C) ``z`` (float32/float64, unit class stride) into ``loss``/``grad``.

    ``y`` is (M,) int64 contiguous, ``w`` (C,) of z's dtype or None, ``loss`` (M,) and ``grad`` (M, C)
    (unit stride in the class dim) of z's dtype. ``wsum`` is ``sum(w)`` (C without ``w``); None lets the
    kernel sum ``w`` itself (no host read of a tensor). The reverse term's two log-targets: pass
    ``rev_log_eps`` (log eps; the kernel then forms ``max(log q', rev_log_eps)`` in the log domain, see
    :func:`rev_logs`) or ``lo``/``ly`` directly (``rev_log_eps`` wins when both are given). The rows are
    split over a small thread pool; ctypes releases the GIL while the C code runs.
    """
    assert _lib is not None
    m, c = z.shape
    if m == 0:
        return
    if rev_log_eps is not None:
        lo, ly = rev_logs(c, float(label_smoothing), float(rev_log_eps))
    elif lo is None or ly is None:
        if rev != 0:
            raise ValueError("rows(): the reverse term needs rev_log_eps= (or lo= and ly=)")
        lo = ly = 0.0
    fn = _lib.il_rows_f64 if z.dtype == torch.float64 else _lib.il_rows_f32
    isz = z.element_size()
    ldz, ldg = z.stride(0), (grad.stride(0) if grad is not None else 0)
    zp, yp, lp = z.data_ptr(), y.data_ptr(), loss.data_ptr()
    gp = grad.data_ptr() if grad is not None else None
    wp = w.data_ptr() if w is not None else None
    consts = (ignore_index, label_smoothing, ce, ent, rev, lo, ly, math.nan if wsum is None else wsum)

    def run(r0: int, r1: int) -> None:
        fn(
            zp + r0 * ldz * isz,
            ldz,
            yp + r0 * 8,
            wp,
            r1 - r0,
            c,
            *consts,
            lp + r0 * isz,
            None if gp is None else gp + r0 * ldg * isz,
            ldg,
        )

    _split(m, c, run)


def rows_index(z: Tensor, y: Tensor, opts: RowOptions, loss: Tensor, grad: Tensor | None) -> None:
    """:func:`rows` for the common call: no class weights, the options as a :class:`RowOptions`.

    ``z`` (M, C) float32/float64 with unit class stride, ``y`` (M,) int64 contiguous, ``loss`` (M,) and
    ``grad`` (M, C) (contiguous, or None) of z's dtype.
    """
    m, c = z.shape
    if m == 0:
        return
    if _pool_pays(m, c):
        rows(
            z,
            y,
            None,
            ignore_index=opts.ignore_index,
            label_smoothing=opts.label_smoothing,
            ce=opts.ce,
            ent=opts.ent,
            rev=opts.rev,
            rev_log_eps=opts.rev_log_eps,
            loss=loss,
            grad=grad,
        )
        return
    assert _lib is not None
    ly, lo = opts.rev_logs(c) if opts.rev != 0 else (0.0, 0.0)
    fn = _lib.il_rows_f64 if z.dtype == torch.float64 else _lib.il_rows_f32
    fn(
        z.data_ptr(),
        z.stride(0),
        y.data_ptr(),
        None,
        m,
        c,
        opts.ignore_index,
        opts.label_smoothing,
        opts.ce,
        opts.ent,
        opts.rev,
        lo,
        ly,
        float(c),
        loss.data_ptr(),
        None if grad is None else grad.data_ptr(),
        0 if grad is None else grad.stride(0),
    )


def prob_rows(
    z: Tensor,
    q: Tensor,
    w: Tensor,
    *,
    weighted: bool,
    label_smoothing: float,
    ce: float,
    ent: float,
    rev: float,
    rev_log_eps: float,
    wsum: float | None = None,
    loss: Tensor,
    grad: Tensor | None,
) -> None:
    """Run the probability-target kernel on (M, C) ``z`` and target ``q`` (same dtype, unit class stride).

    ``w`` is (C,) contiguous of z's dtype (ones without class weights; ``weighted`` False then makes
    ``s_i = 1``), ``wsum`` its sum (None: the kernel sums ``w``), ``loss`` (M,) and ``grad`` (M, C) (unit
    class stride) of z's dtype. The reverse term uses ``max(log q'_c, rev_log_eps)`` (``q' = 0`` gives the
    floor), formed in the log domain.
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
    consts = (label_smoothing, ce, ent, rev, rev_log_eps, math.nan if wsum is None else wsum)

    def run(r0: int, r1: int) -> None:
        fn(
            zp + r0 * ldz * isz,
            ldz,
            qp + r0 * ldq * isz,
            ldq,
            wp,
            int(weighted),
            r1 - r0,
            c,
            *consts,
            lp + r0 * isz,
            None if gp is None else gp + r0 * ldg * isz,
            ldg,
        )

    _split(m, c, run)
