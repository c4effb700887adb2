"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is imported."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import csv  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# In-process Beam for most tests: the multi-process runner costs seconds of start-up
# per job; one test keeps the default multi-process mode covered.
FAST_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def write_clip(folder, first, last, shape=(96, 80), seed=0, ext=".png", prefix="frame_"):
    """A clip folder of noise frames numbered first..last (inclusive)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for number in range(first, last + 1):
        image = rng.integers(0, 255, size=shape, dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, f"{prefix}{number}{ext}"), image)


@pytest.fixture
def csv_dataset(tmp_path):
    """A generic-format dataset: 3 subjects x 2 clips of 12 frames, all rows good."""
    root = tmp_path / "frames"
    rows = []
    for s, subject in enumerate(["alice", "bob", "carol"]):
        for c, label in enumerate(["happiness", "surprise"]):
            write_clip(str(root / subject / f"clip{c}"), 100, 111, seed=10 * s + c)
            rows.append({"subject": subject, "clip": f"clip{c}", "onset": 101, "apex": 105,
                         "offset": 110, "label": label})
    annotations = tmp_path / "annotations.csv"
    with open(annotations, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(root), str(annotations), rows
