"""A worker process started with a fixed malloc threshold (Dask's nanny sets one) gets
glibc's heap behaviour back: a frame-sized buffer stops costing fresh pages each time."""
import os
import subprocess
import sys

import pytest

from mer_tfx.ingestion import worker_process

FAULTS = """
import resource, sys
import numpy as np
from mer_tfx.ingestion import worker_process
if sys.argv[1] == "prepared":
    worker_process.prepare()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    frame = np.ones((534, 640), np.uint8)  # a decoded 640x534 frame, 340 KB
    del frame
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, env: dict) -> int:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], env=env, check=True,
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_prepare_undoes_dasks_fixed_trim_threshold():
    import os

    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    assert _faults("as started", env) > 200 * 50  # every frame on fresh pages
    assert _faults("prepared", env) < 200 * 5
    assert _faults("as started", {k: v for k, v in env.items()
                                  if k != "MALLOC_TRIM_THRESHOLD_"}) < 200 * 5


def test_prepare_leaves_a_process_without_fixed_thresholds_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(worker_process, "_prepared", False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setattr(worker_process, "restore_malloc_thresholds",
                        lambda: calls.append(1) or True)
    worker_process.prepare()
    assert calls == []
    monkeypatch.setattr(worker_process, "_prepared", False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    worker_process.prepare()
    worker_process.prepare()  # once per process
    assert calls == [1]


THREADS = """
import sys
import cv2
from mer_tfx.ingestion import worker_process
if sys.argv[1] == "prepared":
    worker_process.prepare()
print(cv2.getNumThreads())
"""


def _opencv_threads(mode: str = "prepared", **environment) -> int:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")}
    done = subprocess.run([sys.executable, "-c", THREADS, mode], env=dict(env, **environment),
                          check=True, capture_output=True, text=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenCV runs one thread anyway")
def test_prepare_holds_opencv_to_the_workers_thread_budget():
    assert _opencv_threads("as started", OMP_NUM_THREADS="1") > 1  # OpenCV ignores it
    assert _opencv_threads(OMP_NUM_THREADS="1") == 1  # as Dask's nanny starts a worker
    assert _opencv_threads(OMP_NUM_THREADS="1", OPENCV_FOR_THREADS_NUM="2") == 2
    assert _opencv_threads() == _opencv_threads("as started")  # no budget: left alone
