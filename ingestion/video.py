"""Frames of a clip read straight from a video file (OpenCV's FFmpeg backend).

Long recordings (CAS(ME)^3's and SAMM's long videos, a camera file) become clips
without extracting frames to disk: frame numbers are 0-based video frame indices.
Colour frames become gray by OpenCV's BT.601 conversion, so a clip read from a
lossless video equals the same clip read from its frames saved as gray images.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import posixpath
import shutil
import tempfile
import threading

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


@dataclasses.dataclass
class _Copy:
    local: str
    folder: str
    users: int = 0


class LocalCopies:
    """Local copies of remote (gs://, s3://, ...) videos, for OpenCV, which reads local
    files only. A video is copied once and kept while its intervals are read: the job
    sends all intervals of one video to one task, in order (beam_job.py). At most
    ``keep`` idle copies stay on disk; the rest, and all at exit, are deleted."""

    def __init__(self, keep: int = 1):
        self._keep = keep
        self._lock = threading.Lock()
        self._copies: dict[str, _Copy] = {}
        self.made = 0  # copies made so far (tests, logs)

    @contextlib.contextmanager
    def local(self, path: str):
        """A local path for ``path`` while the block runs (``path`` itself when local)."""
        if "://" not in path:
            yield path
            return
        with self._lock:
            copy = self._copies.pop(path, None) or self._copy(path)
            copy.users += 1
            self._copies[path] = copy  # the most recently used is last
            self._evict()
        try:
            yield copy.local
        finally:
            with self._lock:
                copy.users -= 1
                self._evict()

    def _copy(self, path: str) -> _Copy:
        folder = tempfile.mkdtemp(prefix="mer_video_")
        local = os.path.join(folder, posixpath.basename(path.rstrip("/")) or "video")
        try:
            fileio.copy_to_local(path, local)
        except Exception as error:  # a missing object raises differently per filesystem
            shutil.rmtree(folder, ignore_errors=True)
            raise VideoError("unreadable_video", f"{path}: cannot copy it here ({error})")
        self.made += 1
        return _Copy(local, folder)

    def _evict(self):
        idle = [path for path, copy in self._copies.items() if copy.users == 0]
        for path in idle[:max(0, len(self._copies) - self._keep)]:
            shutil.rmtree(self._copies.pop(path).folder, ignore_errors=True)

    def clear(self):
        """Delete every idle copy."""
        with self._lock:
            for path in [p for p, c in self._copies.items() if c.users == 0]:
                shutil.rmtree(self._copies.pop(path).folder, ignore_errors=True)


COPIES = LocalCopies()
atexit.register(COPIES.clear)


def frame_count(path: str) -> int:
    """The number of frames the container declares (0 when it cannot be opened)."""
    capture = cv2.VideoCapture(path)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def read_interval(path: str, first: int, last: int):
    """Gray frames ``first..last`` (0-based, inclusive) of the video, yielded one at a time
    as they are decoded: a long interval never sits in memory at full resolution.

    VideoError("unreadable_video") when the file is missing or OpenCV cannot open or
    decode it, VideoError("interval_beyond_video") when the interval does not fit in
    the video. Frames are read sequentially from the start (exact on every codec,
    unlike seeking, which lands on key frames for some).
    """
    if not os.path.exists(path) and "://" not in path:
        raise VideoError("unreadable_video", f"no video file {path}")
    with COPIES.local(path) as local:
        capture = cv2.VideoCapture(local)
        try:
            if not capture.isOpened():
                raise VideoError("unreadable_video", f"{path}: OpenCV cannot open it as a video")
            declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            if declared and last >= declared:
                raise VideoError("interval_beyond_video",
                                 f"frames {first}..{last} asked, {path} has {declared} frames "
                                 f"(0..{declared - 1}; frame numbers are 0-based)")
            for index in range(last + 1):
                if index < first:
                    ok, image = capture.grab(), None
                else:
                    ok, image = capture.read()
                if not ok:
                    if index == 0:
                        raise VideoError("unreadable_video",
                                         f"{path}: no frame could be decoded")
                    raise VideoError("interval_beyond_video",
                                     f"frames {first}..{last} asked, {path} ends after frame "
                                     f"{index - 1} (frame numbers are 0-based)")
                if image is not None:
                    yield _gray(image, path, index)
        finally:
            capture.release()


def _gray(image: np.ndarray, path: str, index: int) -> np.ndarray:
    if image is None or image.size == 0:
        raise FrameError("unreadable_frame", f"{path}: frame {index} is empty")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise FrameError("oversized_image", f"{path}: {image.shape[1]}x{image.shape[0]} pixels")
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
