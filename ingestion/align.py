"""The face crop of a clip: eyes on fixed template positions, or the Haar box.

A Haar box neither levels the eyes nor puts them at the same place for every
subject, so the same muscle lands on different pixels from clip to clip. With
``align="eyes"`` one similarity transform (rotation, scale, translation), computed
from the onset frame's eye centres (ingestion/landmarks.py), maps every frame of the
clip into the crop so that the eyes sit at ``template_eyes(size)``; registration
(ingestion/apex.py) then removes the residual per-frame shift as before.
``align="box"`` keeps the Haar box crop. Where no landmarks are found the clip falls
back to the box, and ``convert_clip`` counts that as a repair.

Coordinates are OpenCV's: (0, 0) is the centre of the top-left pixel.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .apex import global_shift
from .frames import crop_resize, face_box
from .landmarks import find_landmarks, transformed

ALIGN_MODES = ("eyes", "box")
# Eye centres of the aligned crop, as fractions of its side (x, y); image-left eye
# first. 0.30 of the side between them keeps the brows, the chin and both cheeks in the
# crop, framed about as the Haar box (+15%) frames them.
TEMPLATE_EYES = ((0.35, 0.40), (0.65, 0.40))
# Where registration shows the head moved by more than this fraction of the crop side
# from the onset, the landmarks are found again on that frame (ingestion/convert.py).
REFIND_SHIFT = 0.03
FALLBACK_REPAIR = "landmarks_not_found_box"


def template_eyes(size: int) -> np.ndarray:
    """(2, 2) crop pixels where ``align="eyes"`` puts the eye centres (image-left
    first): x = 0.35 size - 0.5 and 0.65 size - 0.5, y = 0.40 size - 0.5."""
    return np.array(TEMPLATE_EYES, np.float64) * size - 0.5


def eye_matrix(points: np.ndarray, size: int) -> np.ndarray:
    """The 2 x 3 similarity (frame -> crop) taking the eye centres ``points[:2]`` to the
    template positions."""
    source = np.asarray(points[:2], np.float64)
    target = template_eyes(size)
    d_source, d_target = source[1] - source[0], target[1] - target[0]
    scale = np.hypot(*d_target) / max(np.hypot(*d_source), 1e-6)
    angle = np.arctan2(d_target[1], d_target[0]) - np.arctan2(d_source[1], d_source[0])
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    rotation = np.array([[a, -b], [b, a]])
    shift = target[0] - rotation @ source[0]
    return np.hstack([rotation, shift[:, None]])


def box_matrix(box, frame_shape, size: int) -> np.ndarray:
    """The 2 x 3 affine (frame -> crop) that ``frames.crop_resize`` applies to ``box``
    (None: the whole frame, resized to size x size)."""
    height, width = frame_shape[:2]
    x, y, w, h = box if box is not None else (0, 0, width, height)
    sx, sy = size / w, size / h
    return np.array([[sx, 0, (0.5 - x) * sx - 0.5], [0, sy, (0.5 - y) * sy - 0.5]])


def source_window(matrix: np.ndarray, size: int, frame_shape) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the frame pixels a size x size crop under ``matrix`` (frame ->
    crop) reads, plus a margin for the interpolation, clipped to the frame."""
    height, width = frame_shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[-0.5, -0.5, 1], [size - 0.5, -0.5, 1], [-0.5, size - 0.5, 1],
                        [size - 0.5, size - 0.5, 1]]) @ inverse.T
    margin = 2 + 1 / max(float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))), 1e-6)
    x0, y0 = np.floor(corners.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0) + margin).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


@dataclasses.dataclass(frozen=True)
class WarpSteps:
    """How ``warp`` resamples frames of one shape: worked out once per clip."""

    window: tuple | None  # (x0, y0, x1, y1) of the frame read; None: all of it
    small: tuple | None  # (width, height) the window is area-reduced to; None: not
    matrix: np.ndarray  # 2 x 3, from the (reduced) window to the crop


def warp_steps(matrix: np.ndarray, size: int, frame_shape) -> WarpSteps:
    """Only the window the crop reads is resampled (``source_window``: a face is about
    a third of a CASME II frame). A large face is first area-reduced to about the
    crop's scale (as crop_resize does), so a bilinear warp does not alias."""
    height, width = frame_shape[:2]
    x0, y0, x1, y1 = source_window(matrix, size, frame_shape)
    window = None
    if x1 - x0 >= 1 and y1 - y0 >= 1 and (x0, y0, x1, y1) != (0, 0, width, height):
        window, (width, height) = (x0, y0, x1, y1), (x1 - x0, y1 - y0)
        matrix = matrix @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    small = None
    if scale < 0.8:
        small = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
        fx, fy = small[0] / width, small[1] / height
        # frame x = (x_small + 0.5) / fx - 0.5
        to_frame = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
        matrix = matrix @ to_frame
    return WarpSteps(window, small, matrix)


def warp(gray: np.ndarray, steps: WarpSteps, size: int) -> np.ndarray:
    """``gray`` mapped into a size x size crop by ``steps`` (``warp_steps``), edges
    replicated."""
    if steps.window is not None:
        x0, y0, x1, y1 = steps.window
        gray = gray[y0:y1, x0:x1]
    if steps.small is not None:
        gray = cv2.resize(gray, steps.small, interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(gray, steps.matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@dataclasses.dataclass(frozen=True)
class FaceCrop:
    """How every frame of one clip is cut: found once, on the onset frame."""

    size: int
    box: tuple | None  # the Haar box (x, y, w, h), None: not found or no face crop
    matrix: np.ndarray | None  # eyes alignment (frame -> crop); None: the box crop
    landmarks: np.ndarray | None  # (5, 2) in crop pixels of the stored frames
    alignment: str  # "eyes", "box" (the Haar box) or "frame" (the whole frame)
    repairs: tuple = ()  # e.g. FALLBACK_REPAIR
    _steps: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def apply(self, gray: np.ndarray) -> np.ndarray:
        if self.matrix is None:
            return crop_resize(gray, self.box, self.size)
        steps = self._steps.get(gray.shape)
        if steps is None:  # the clip's frames share a shape: worked out once
            steps = self._steps[gray.shape] = warp_steps(self.matrix, self.size, gray.shape)
        return warp(gray, steps, self.size)

    @property
    def landmark_values(self) -> list | None:
        """The record's ``landmarks``: x, y of each point (landmarks.POINTS order), or
        None when none were found."""
        if self.landmarks is None:
            return None
        return [round(float(v), 3) for v in np.asarray(self.landmarks).ravel()]


def plan_crop(onset: np.ndarray, size: int, face_crop: bool = True,
              align: str = "eyes") -> FaceCrop:
    """The clip's FaceCrop from its onset frame. No face crop: the whole frame, no
    landmarks. ``eyes`` without landmarks: the box crop, with FALLBACK_REPAIR (when no
    Haar box was found either, the whole frame, counted as face_not_found only)."""
    if align not in ALIGN_MODES:
        raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    if not face_crop:
        return FaceCrop(size, None, None, None, "frame")
    box = face_box(onset)
    points = find_landmarks(onset, box)
    if align == "eyes" and points is not None:
        matrix = eye_matrix(points, size)
        return FaceCrop(size, box, matrix, transformed(points, matrix), "eyes")
    kind = "box" if box is not None else "frame"
    crop_points = (transformed(points, box_matrix(box, onset.shape, size))
                   if points is not None else None)
    repairs = (FALLBACK_REPAIR,) if align == "eyes" and box is not None else ()
    return FaceCrop(size, box, None, crop_points, kind, repairs)


def _blurred(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(frame.astype(np.float32), (0, 0), 1.0)


def largest_shift(crops: list) -> tuple[int, float]:
    """(index, pixels): the frame whose global shift from the onset crop (what
    registration removes) is largest."""
    if len(crops) < 2:
        return 0, 0.0
    reference = _blurred(crops[0])
    window = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    shifts = [float(np.hypot(*global_shift(reference, _blurred(c), window))) for c in crops[1:]]
    index = int(np.argmax(shifts))
    return index + 1, shifts[index]


def refound(plan: FaceCrop, raw_crops: list, registered_crops: list) -> tuple[FaceCrop, bool]:
    """(plan, re-found?): where registration shows the head moved more than REFIND_SHIFT
    of the crop from the onset, the landmarks are found again on that frame's registered
    crop, and the clip's landmarks become the mean of both (the stored frames hold the
    face between them). A miss there keeps the onset's."""
    if plan.landmarks is None or len(raw_crops) < 2:
        return plan, False
    index, shift = largest_shift(raw_crops)
    if shift <= REFIND_SHIFT * plan.size:
        return plan, False
    size = plan.size
    again = find_landmarks(registered_crops[index], (0, 0, size, size), detect_side=None)
    if again is None:
        return plan, False
    mean = (np.asarray(plan.landmarks) + again) / 2
    return dataclasses.replace(plan, landmarks=mean.astype(np.float32)), True
