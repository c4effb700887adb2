"""Per-clip image work: decode, locate the face once, crop, resize, grayscale, PNG.

The face is found on the onset frame only and the same box is applied to every
frame: a per-frame box would jitter by more pixels than a micro-expression moves.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from . import fileio
from .clips import MAX_FILE_BYTES, MAX_PIXELS

FACE_MARGIN = 0.15  # fraction of the detected box added on each side (brows, chin)
DETECT_SIDE = 240  # faces are searched on a copy of the onset frame this high (or wide)
# The smallest face searched, as a fraction of the frame's shorter side. The Haar box of
# a MER dataset's face spans 0.35-0.5 of it (CASME II, SMIC and CAS(ME)^2 at 640x480,
# SAMM at 2040x1088, CAS(ME)^3 at 1280x720); 1/4 instead of 1/5 found the same boxes on
# bench/align.py's faces for ~30% less search (the smallest scales cost the most).
MIN_FACE = 0.25


class FrameError(Exception):
    """A frame that cannot be used; ``reason`` is a reject keyword."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def decode_gray(data: bytes, name: str) -> np.ndarray:
    """Grayscale uint8 image, or FrameError(unreadable_frame / oversized_image)."""
    if len(data) > MAX_FILE_BYTES:
        raise FrameError("oversized_image", f"{name}: file of {len(data)} bytes")
    if not data:
        raise FrameError("unreadable_frame", f"{name}: empty file")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FrameError("unreadable_frame", f"{name}: not a decodable image")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise FrameError("oversized_image", f"{name}: {image.shape[1]}x{image.shape[0]} pixels")
    return image


def read_gray(path: str) -> np.ndarray:
    """A frame file as a grayscale image; a file over MAX_FILE_BYTES is refused from its
    size (FrameError oversized_image) before a byte of it is read."""
    try:
        data = fileio.read_bytes(path, max_bytes=MAX_FILE_BYTES)
    except fileio.FileTooLarge as error:
        raise FrameError("oversized_image", str(error)) from None
    return decode_gray(data, path)


@functools.lru_cache(maxsize=1)
def _face_detector():
    detector = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if detector.empty():
        raise RuntimeError("OpenCV's bundled Haar cascade could not be loaded")
    return detector


def listed_frames(folder: str) -> dict:
    """{frame number: path} of a frame folder; FrameError (missing_folder,
    duplicate_frame_number, no_frames) where it cannot give one. Clips and long videos
    alike start here."""
    if not fileio.isdir(folder):
        raise FrameError("missing_folder", f"no folder {folder}")
    try:
        files = fileio.frame_files(folder)
    except fileio.DuplicateFrameNumber as error:
        raise FrameError("duplicate_frame_number", str(error)) from None
    if not files:
        raise FrameError("no_frames", f"{folder} holds no image files")
    return files


def downscaled(gray: np.ndarray, detect_side: int | None) -> tuple[np.ndarray, float]:
    """(image, scale): a copy whose shorter side is ``detect_side`` where it is longer,
    for detectors that need no more pixels; scale maps its coordinates back."""
    height, width = gray.shape[:2]
    if not detect_side or min(height, width) <= detect_side:
        return gray, 1.0
    scale = min(height, width) / detect_side
    return cv2.resize(gray, (int(round(width / scale)), int(round(height / scale))),
                      interpolation=cv2.INTER_AREA), scale


def face_box(gray: np.ndarray, detect_side: int | None = DETECT_SIDE,
             min_face: float = MIN_FACE) -> tuple[int, int, int, int] | None:
    """Square (x, y, w, h) around the largest detected face plus a margin, or None.

    The cascade runs on a copy whose shorter side is ``detect_side`` (None: the frame
    as it is) and looks for faces of at least ``min_face`` of that side (60 px at 240).
    The box is scaled back to the frame.
    """
    height, width = gray.shape[:2]
    gray, scale = downscaled(gray, detect_side)
    min_side = max(24, int(min(gray.shape[:2]) * min_face))
    faces = _face_detector().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    if len(faces) == 0:
        return None
    x, y, w, h = (v * scale for v in max(faces, key=lambda f: f[2] * f[3]))
    side = int(round(max(w, h) * (1 + 2 * FACE_MARGIN)))
    side = min(side, width, height)
    cx, cy = x + w / 2, y + h / 2
    x0 = int(round(min(max(cx - side / 2, 0), width - side)))
    y0 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x0, y0, side, side


def crop_resize(gray: np.ndarray, box, size: int) -> np.ndarray:
    """Crop to ``box`` (None = whole frame) and resize to size x size."""
    if box is not None:
        x, y, w, h = box
        gray = gray[y:y + h, x:x + w]
    interpolation = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def encode_png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise FrameError("unreadable_frame", "PNG encoding failed")
    return encoded.tobytes()


def crop_resize_encode(gray: np.ndarray, box, size: int) -> bytes:
    """Crop to ``box`` (None = whole frame), resize to size x size, PNG-encode."""
    return encode_png(crop_resize(gray, box, size))
