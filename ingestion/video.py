"""Frames of a clip read straight from a video file (OpenCV's FFmpeg backend).

Long recordings (CAS(ME)^3's and SAMM's long videos, a camera file) become clips
without extracting frames to disk: frame numbers are 0-based video frame indices.
Colour frames become gray by OpenCV's BT.601 conversion, so a clip read from a
lossless video equals the same clip read from its frames saved as gray images.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import cv2
import numpy as np

from . import fileio
from .clips import MAX_PIXELS
from .frames import FrameError

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


class VideoError(Exception):
    """A video that cannot give the clip; ``reason`` is a reject keyword."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _local_copy(path: str) -> tuple[str, str | None]:
    """(a local path OpenCV can open, temp folder to delete or None): gs:// etc. are copied."""
    if "://" not in path:
        return path, None
    folder = tempfile.mkdtemp(prefix="mer_video_")
    local = os.path.join(folder, os.path.basename(path))
    with open(local, "wb") as handle:
        handle.write(fileio.read_bytes(path))
    return local, folder


def frame_count(path: str) -> int:
    """The number of frames the container declares (0 when it cannot be opened)."""
    capture = cv2.VideoCapture(path)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def read_interval(path: str, first: int, last: int):
    """Gray frames ``first..last`` (0-based, inclusive) of the video, in order.

    VideoError("unreadable_video") when the file is missing or OpenCV cannot open or
    decode it, VideoError("interval_beyond_video") when the interval does not fit in
    the video. Frames are read sequentially from the start (exact on every codec,
    unlike seeking, which lands on key frames for some).
    """
    if not os.path.exists(path) and "://" not in path:
        raise VideoError("unreadable_video", f"no video file {path}")
    local, temporary = _local_copy(path)
    capture = cv2.VideoCapture(local)
    try:
        if not capture.isOpened():
            raise VideoError("unreadable_video", f"{path}: OpenCV cannot open it as a video")
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if declared and last >= declared:
            raise VideoError("interval_beyond_video",
                             f"frames {first}..{last} asked, {path} has {declared} frames "
                             f"(0..{declared - 1}; frame numbers are 0-based)")
        frames, index = [], 0
        while index <= last:
            if index < first:
                ok = capture.grab()
            else:
                ok, image = capture.read()
                if ok:
                    frames.append(_gray(image, path, index))
            if not ok:
                if index == 0:
                    raise VideoError("unreadable_video", f"{path}: no frame could be decoded")
                raise VideoError("interval_beyond_video",
                                 f"frames {first}..{last} asked, {path} ends after frame "
                                 f"{index - 1} (frame numbers are 0-based)")
            index += 1
        return frames
    finally:
        capture.release()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


def _gray(image: np.ndarray, path: str, index: int) -> np.ndarray:
    if image is None or image.size == 0:
        raise FrameError("unreadable_frame", f"{path}: frame {index} is empty")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise FrameError("oversized_image", f"{path}: {image.shape[1]}x{image.shape[0]} pixels")
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
