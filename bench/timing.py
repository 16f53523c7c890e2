"""The timer the benchmarks share: the median of repeated calls after a warm-up, the garbage collector off (as in
``timeit``), so that one slow call or a collection does not decide a ratio; and the memory probe they share: the
process's peak RSS around one step (Linux: the kernel's peak mark reset before the step, read after)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call; the garbage collector is off while timing."""
    fn()
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------------------------
# Memory: the process's resident set (RSS), not tracemalloc (which sees only Python's allocations: it showed 26 MiB
# for a twin build whose process peaked at 679 MB).


def peak_rss_mb() -> float:
    """The whole process's peak RSS since it started, in MB of 2**20 bytes (``ru_maxrss``; never reset)."""
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc (macOS, musl without malloc_trim)
        return None


_LIBC = _libc()


def release_free_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the kernel (glibc ``malloc_trim``), so that
    memory an earlier step freed but the process kept does not hide the next step's need from its RSS."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux: ``5`` to ``/proc/self/clear_refs``), so
    that a step's own peak can be read after it with :func:`rss_mb`; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last :func:`reset_peak`) in MB of 2**20 bytes; without /proc, the process's
    peak twice."""
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return float(status["VmRSS"].split()[0]) / 1024, float(status["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return peak_rss_mb(), peak_rss_mb()


@dataclass(frozen=True)
class Peak:
    """Resident memory around one step: ``peak_mb`` is the process's peak RSS while it ran, ``added_mb`` that peak
    over the RSS when it started (the step's own need, as far as freed memory was not reused); ``exact`` is False
    where the mark could not be reset (then ``peak_mb`` is the process's peak so far); ``seconds`` is the call's wall
    time alone (without the collection and trimming before it)."""

    peak_mb: float
    added_mb: float
    exact: bool
    seconds: float = 0.0


def peak_rss(fn: Callable[[], object]) -> tuple[object, Peak]:
    """(result, :class:`Peak`) of one call of ``fn``: garbage collected and free pages released first
    (:func:`release_free_memory`, which takes a while when millions of objects are alive: time ``fn`` with
    ``Peak.seconds``, not around this call), the peak-RSS mark reset, read after."""
    release_free_memory()
    exact = reset_peak()
    start_mb = rss_mb()[0]
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak_mb = rss_mb()[1] if exact else peak_rss_mb()
    return result, Peak(peak_mb, max(0.0, peak_mb - start_mb), exact, seconds)
