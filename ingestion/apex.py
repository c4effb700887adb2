"""Apex spotting in a clip, with the long-video spotter's signal (spotting/signal.py).

Real clips carry small head movements and sensor noise that change more pixels than
a micro-expression does, so comparing raw frames finds the head, not the face. Each
face crop is registered onto the onset crop (phase correlation refined by ECC: a
global sub-pixel translation) and blurred; each landmark region (brows, cheeks, nose,
mouth corners, mouth: ingestion/regions.py; fixed fractions of the crop without
landmarks) is compared with the onset by the mean of its most changed cells, minus
the same figure of the nose bridge, which moves only with the head. That change is
smoothed over three frames and the apex is its maximum. The maximum, not the centre
of the frames near it: a micro-expression rises fast and fades slowly or the other
way round, so the centre of its plateau leans to the slow side (bench/clip_apex.py).
This module also holds the registration that ingestion applies to every stored crop.
"""
from __future__ import annotations

import cv2
import numpy as np

from mer_tfx.spotting.signal import RegionStack, onset_difference

BLUR_SIGMA = 1.0  # pixels of the face crop
SMOOTH_FRAMES = 3  # the change is averaged over this many frames before its maximum


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


def onset_change(frames: list, register: bool = True, points=None) -> np.ndarray:
    """Per frame, the landmark regions' change from the first frame (the onset), the
    head's removed (``register=False``: no registration, which head movement spoils).
    ``points``: the clip's five landmarks in crop pixels (ingestion/align.py)."""
    stack = RegionStack(None, frames[0].shape[0], points=points, register=register)
    for frame in frames:
        stack.add(frame)
    return onset_difference(stack.array(), stack.layout())


def spot_apex(frames: list, register: bool = True, points=None) -> int:
    """Index (into ``frames``, square face crops, onset first) of the spotted apex."""
    if len(frames) < 3:
        return len(frames) // 2
    change = np.convolve(onset_change(frames, register, points),
                         np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, mode="same")
    return 1 + int(np.argmax(change[1:]))  # the onset is the reference, never the apex
