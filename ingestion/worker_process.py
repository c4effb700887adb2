"""Settings a Beam worker process needs to convert frames at a plain process's speed.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (and
``OMP_NUM_THREADS=1``). Setting any malloc threshold turns off glibc's dynamic
thresholds, so each decoded frame (300 KB at 640x480) is mmapped and unmapped again:
about 340 page faults per frame instead of 18, and the conversion took ~20% more CPU
per frame than in a plain process (bench/ingest_throughput.py). ``prepare`` puts the
thresholds back where glibc's dynamic rule ends up, once per process.

``OMP_NUM_THREADS=1`` is the cluster's thread budget for the worker, which OpenCV's own
thread pool does not read: two workers on 2 cores ran two OpenCV threads each (~4%
more CPU per frame). ``prepare`` gives OpenCV the same budget unless
``OPENCV_FOR_THREADS_NUM`` says otherwise.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h) and glibc's ceiling for its dynamic mmap threshold on
# 64-bit (DEFAULT_MMAP_THRESHOLD_MAX); its dynamic trim threshold is twice the mmap one.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
MALLOC_ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_prepared = False


def fixed_malloc_thresholds() -> bool:
    """Whether this process started with a malloc threshold fixed by its environment."""
    return any(name in os.environ for name in MALLOC_ENVIRONMENT)


def restore_malloc_thresholds() -> bool:
    """Raise the mmap and trim thresholds to glibc's dynamic ceilings; False where there
    is no glibc (the thresholds are then not glibc's business)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def opencv_thread_budget() -> int | None:
    """The OpenCV threads this process should use: OMP_NUM_THREADS where it is set (and
    OPENCV_FOR_THREADS_NUM, which OpenCV reads itself, is not), else None."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    if "OPENCV_FOR_THREADS_NUM" in os.environ or not budget.isdigit() or int(budget) < 1:
        return None
    return int(budget)


def prepare() -> None:
    """Once per process, before converting frames: undo a fixed malloc threshold and
    hold OpenCV to the worker's thread budget."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    if fixed_malloc_thresholds():
        done = restore_malloc_thresholds()
        log.debug("worker %d: malloc thresholds restored: %s", os.getpid(), done)
    threads = opencv_thread_budget()
    if threads is not None:
        import cv2

        cv2.setNumThreads(threads)
