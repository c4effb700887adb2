"""Apex spotting: the frame of largest facial change from onset, head movement removed.

Real clips carry small head movements and sensor noise that change more pixels than
a micro-expression does, so comparing raw frames finds the head, not the face. Each
frame is first registered onto the onset frame by phase correlation (a global
sub-pixel translation, ``cv2.phaseCorrelate``), blurred against sensor noise, and
compared on the inner face only (a border is left out, where the shift re-samples
pixels); the per-frame change is smoothed over three frames, and the apex is the
centre of its peak (the change-weighted mean of the frames above ``PEAK_FRACTION``
of the range).
"""
from __future__ import annotations

import cv2
import numpy as np

BLUR_SIGMA = 1.0  # pixels of the face crop
BORDER = 0.1  # fraction of each side left out of the comparison
# The apex is the centre of the frames whose change is above this fraction of the
# clip's range: around the peak a micro-expression is a plateau of several frames,
# and the centre of the plateau is steadier than its noisy maximum (bench/flow.py:
# 1.08 frames of error vs 1.93 for the maximum on drawn faces at 128-px crops).
PEAK_FRACTION = 0.6


def _prepared(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(frame.astype(np.float32), (0, 0), BLUR_SIGMA)


def global_shift(reference: np.ndarray, frame: np.ndarray, window=None) -> tuple:
    """(dx, dy): the sub-pixel translation of ``frame`` against ``reference`` (float32)."""
    if window is None:
        window = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    # phaseCorrelate applies the window to its inputs in place: give it copies
    (dx, dy), _ = cv2.phaseCorrelate(reference.copy(), frame.copy(), window)
    return dx, dy


def shifted_back(frame: np.ndarray, shift: tuple) -> np.ndarray:
    """``frame`` moved by -shift (sub-pixel, edges replicated): undoes a global shift."""
    dx, dy = shift
    back = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return cv2.warpAffine(frame, back, frame.shape[::-1], flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def registered(reference: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``frame`` (uint8) with its global shift against ``reference`` undone, as uint8."""
    return registered_clip([reference, frame])[1]


def registered_clip(frames: list) -> list:
    """Every frame (uint8) moved onto the first one (which is kept as it is)."""
    reference = _prepared(frames[0])
    window = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    out = [frames[0]]
    for frame in frames[1:]:
        shift = global_shift(reference, _prepared(frame), window)
        moved = shifted_back(frame.astype(np.float32), shift)
        out.append(np.clip(np.rint(moved), 0, 255).astype(np.uint8))
    return out


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
        shift = global_shift(reference, current, window) if register else (0.0, 0.0)
        moved = shifted_back(current, shift)
        changes.append(float(np.abs(moved[inner] - reference[inner]).mean()))
    return np.asarray(changes)


def spot_apex(frames: list, register: bool = True) -> int:
    """Index (into ``frames``, onset first) of the spotted apex frame."""
    if len(frames) < 3:
        return len(frames) // 2
    change = np.convolve(facial_change(frames, register), np.ones(3) / 3, mode="same")
    later = change[1:]  # the onset frame is the reference, never the apex
    low, high = later.min(), later.max()
    weight = np.clip(later - (low + PEAK_FRACTION * (high - low)), 0.0, None)
    if weight.sum() <= 0:
        return 1 + int(np.argmax(later))
    return 1 + int(round(float((np.arange(len(later)) * weight).sum() / weight.sum())))
