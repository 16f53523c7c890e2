"""The timer the benchmarks share: the median of repeated calls after a warm-up, the garbage collector off (as in
``timeit``), so that one slow call or a collection does not decide a ratio."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


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
