"""The PyTorch peers' timer: the median of n runs after a few warm-up runs, in milliseconds."""
import statistics
import time


def timed(fn, n, warmup=2):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)
