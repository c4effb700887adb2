"""A worker process started with a fixed malloc threshold (Dask's nanny sets one) gets
glibc's heap behaviour back: a frame-sized buffer stops costing fresh pages each time."""
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
