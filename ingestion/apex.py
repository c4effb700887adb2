"""Apex spotting: the frame of largest facial change from onset, head movement removed.

Real clips carry small head movements and sensor noise that change more pixels than
a micro-expression does, so comparing raw frames finds the head, not the face. Each
frame is first registered onto the onset frame by phase correlation (a global
sub-pixel translation, ``cv2.phaseCorrelate``), blurred against sensor noise, and
compared on the inner face only (a border is left out, where the shift re-samples
pixels); the per-frame change is smoothed over three frames and its maximum is the
apex.
"""
from __future__ import annotations

import cv2
import numpy as np

BLUR_SIGMA = 1.0  # pixels of the face crop
BORDER = 0.1  # fraction of each side left out of the comparison


def _prepared(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(frame.astype(np.float32), (0, 0), BLUR_SIGMA)


def facial_change(frames: list, register: bool = True) -> np.ndarray:
    """Per frame, the mean absolute difference from the first frame after registration
    (``register=False``: of the raw frames, which head movement dominates)."""
    reference = _prepared(frames[0])
    height, width = reference.shape
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    top, left = int(height * BORDER), int(width * BORDER)
    inner = (slice(top, height - top), slice(left, width - left))
    changes = []
    for frame in frames:
        current = _prepared(frame)
        # phaseCorrelate applies the window to its inputs in place: give it copies
        (dx, dy), _ = (cv2.phaseCorrelate(reference.copy(), current.copy(), window)
                       if register else ((0.0, 0.0), 0.0))
        back = np.float32([[1, 0, -dx], [0, 1, -dy]])
        registered = cv2.warpAffine(current, back, (width, height),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        changes.append(float(np.abs(registered[inner] - reference[inner]).mean()))
    return np.asarray(changes)


def spot_apex(frames: list, register: bool = True) -> int:
    """Index (into ``frames``, onset first) of the spotted apex frame."""
    if len(frames) < 3:
        return len(frames) // 2
    change = facial_change(frames, register)
    smoothed = np.convolve(change, np.ones(3) / 3, mode="same")
    smoothed[0] = -np.inf  # the onset frame is the reference, never the apex
    return int(np.argmax(smoothed))
