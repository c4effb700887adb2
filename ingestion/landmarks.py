"""Five facial landmarks per clip: eye centres, nose tip, mouth corners.

Alignment and the named regions (ingestion/align.py, ingestion/regions.py) need to
know where the eyes are, which a Haar box does not say. The detector is MTCNN
(``mtcnn`` on PyPI: TensorFlow, its P/R/O-Net weights inside the wheel, MIT), chosen
over dlib's shape predictors (137 MB of wheels and data, a non-commercial 68-point
model) and mediapipe 0.10.21 (needs protobuf >= 4.25, the TFX 1.16 stack pins 3.20):
nothing comes from a model hub.

Where the Haar box is known (ingestion/frames.py), only MTCNN's last network (ONet,
in NumPy: ingestion/onet.py) runs, twice, on that box: ~2-4 ms, with sub-pixel points.
Without a box the whole cascade (TensorFlow) searches the frame first (~60-100 ms on 2
cores). The eye points are then refined to the iris centres (ingestion/irises.py):
MTCNN's eye line can be a few degrees off, which alignment would keep as roll.

Points are (x, y) pixels, in the order of ``POINTS``; "left"/"right" are as seen in
the image (smaller x first), not the subject's own sides.
"""
from __future__ import annotations

import functools
import threading

import cv2
import numpy as np

from .frames import DETECT_SIDE, downscaled
from .irises import iris_centres
from .onet import PATCH, one_blas_thread, onet

POINTS = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")
# Without a box the frame is searched at this shorter side (as the Haar search):
# ONet reads 48 x 48 faces, so a larger copy adds cost, not precision.
MIN_CONFIDENCE = 0.9  # ONet's face score below which the points are not trusted
_LOCK = threading.Lock()  # one full-search detector per process; Beam may use threads


@functools.lru_cache(maxsize=1)
def _detector():
    import mer_tfx  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    from mtcnn import MTCNN

    return MTCNN(device="CPU:0")


def _patch(gray: np.ndarray, box) -> np.ndarray:
    """ONet's input for box (x1, y1, x2, y2), sampled as MTCNN's crop_and_resize
    samples it (the corners on the box's end pixels), scaled to [-1, 1]."""
    x1, y1, x2, y2 = box
    side = PATCH - 1.0
    matrix = np.float32([[(x2 - x1) / side, 0, x1], [0, (y2 - y1) / side, y1]])
    patch = cv2.warpAffine(gray.astype(np.float32), matrix, (PATCH, PATCH),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT)
    return (patch - 127.5) / 128.0


def _square(box) -> tuple:
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def _image_order(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float32).copy()
    if points[0, 0] > points[1, 0]:  # keep image-left first whatever MTCNN calls left
        points[[0, 1]] = points[[1, 0]]
    if points[3, 0] > points[4, 0]:
        points[[3, 4]] = points[[4, 3]]
    return points


def refine_on_box(gray: np.ndarray, box) -> tuple[np.ndarray, float]:
    """(points (5, 2), face score) from ONet on ``box`` (x, y, w, h): a first pass
    moves the box to where ONet puts the face, a second reads the points there."""
    x, y, w, h = box
    current = _square((x, y, x + w - 1, y + h - 1))
    with one_blas_thread():
        for _ in range(2):
            offsets, marks, score = onet(_patch(gray, current))
            x1, y1, x2, y2 = current
            width, height = x2 - x1 + 1, y2 - y1 + 1
            points = np.stack([width * marks[:5] + x1 - 1, height * marks[5:] + y1 - 1], axis=1)
            current = _square((x1 + offsets[0] * width, y1 + offsets[1] * height,
                               x2 + offsets[2] * width, y2 + offsets[3] * height))
    return _image_order(points), score


def _full_search(gray: np.ndarray, detect_side: int | None):
    """(x, y, w, h) of the largest confident MTCNN face, or None."""
    gray, scale = downscaled(gray, detect_side)
    if min(gray.shape[:2]) < 24:
        return None
    rgb = np.ascontiguousarray(np.dstack([gray] * 3))
    faces = [f for f in _detector().detect_faces(rgb) or []
             if f.get("confidence", 0) >= MIN_CONFIDENCE]
    if not faces:
        return None
    return tuple(np.asarray(max(faces, key=lambda f: f["box"][2] * f["box"][3])["box"],
                            np.float32) * scale)


def find_landmarks(gray: np.ndarray, box=None, detect_side: int | None = DETECT_SIDE
                   ) -> np.ndarray | None:
    """The (5, 2) float32 points of the face in ``gray`` (uint8, frame pixels), or None
    when no face has them (a profile, a hand over the face, no face at all). The eyes
    are the iris centres where ingestion/irises.py finds them, else MTCNN's points.

    ``box`` (x, y, w, h), e.g. the onset frame's Haar box, says where to read them;
    without it the full cascade looks for the face first.
    """
    if box is None:
        with _LOCK:
            box = _full_search(gray, detect_side)
        if box is None:
            return None
    points, score = refine_on_box(gray, box)
    if score < MIN_CONFIDENCE:
        return None
    irises = iris_centres(gray, points[:2])
    if irises is not None:
        points[:2] = irises
    return points


def transformed(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points`` (N, 2) under a 2 x 3 affine ``matrix``."""
    return (np.asarray(points, np.float32) @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def eye_roll_degrees(points: np.ndarray) -> float:
    """Roll of the eye line in degrees (0: level; positive: the image-right eye lower)."""
    (x0, y0), (x1, y1) = points[0], points[1]
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))
