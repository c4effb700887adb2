"""Eye centres refined to the irises: the dark disc near each of MTCNN's eye points.

MTCNN's ONet places the eyes to a few percent of the distance between them, and its
errors on one face do not cancel: on the photo faces of bench/align.py its eye line is
1-4 degrees off the hand-annotated irises (glasses, lids), more than the 1 degree an
aligned crop may keep. The iris is the darkest round blob of the eye at a size fixed
by that distance (an iris is ~0.19 of the interpupillary distance across), so a
difference of Gaussians tuned to that size peaks at its centre: that peak, found in a
small window around each MTCNN eye and interpolated to sub-pixel, replaces the point.

Both eyes are refined or neither (a mix would tilt the eye line). The refinement is
refused, and MTCNN's points kept, where a peak lies on its window's edge (no blob
inside: a glint, a frame of the glasses), where one blob is faint or much fainter than
the other (a closed or covered eye), or where it would change the eye distance by over
20% or the eye line by over ``MAX_TURN`` degrees (more than MTCNN's own error: the blob
found is not the iris).
"""
from __future__ import annotations

import cv2
import numpy as np

IRIS_RADIUS = 0.08  # of the eye distance: the centre Gaussian's scale (~ iris radius)
SURROUND = 2.5  # the surround Gaussian's sigma, times the centre one's
SEARCH = 0.15  # half the search window's side, of the eye distance (MTCNN: ~0.05-0.1 off)
MAX_TURN = 10.0  # degrees the refined eye line may differ from MTCNN's
MAX_STRETCH = 0.2  # relative change of the eye distance allowed
# A blob this many grey levels darker than its surround (the difference of Gaussians)
# is not sensor noise; the weaker eye's blob at least this share of the stronger one's
# (two open eyes look alike: 0.84-1 on the clips of bench/align.py).
MIN_DEPTH = 4.0
MIN_BALANCE = 0.5


def _peak(gray: np.ndarray, centre, half: int, sigma: float) -> tuple | None:
    """(sub-pixel (x, y) of the darkest blob's centre within +-``half`` pixels of
    ``centre``, its depth in grey levels), or None when the strongest response lies on
    the window's edge."""
    height, width = gray.shape[:2]
    pad = int(np.ceil(3 * SURROUND * sigma))
    cx, cy = int(round(float(centre[0]))), int(round(float(centre[1])))
    x0, y0 = max(cx - half - pad, 0), max(cy - half - pad, 0)
    x1, y1 = min(cx + half + pad + 1, width), min(cy + half + pad + 1, height)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    region = gray[y0:y1, x0:x1].astype(np.float32)
    response = (cv2.GaussianBlur(region, (0, 0), SURROUND * sigma)
                - cv2.GaussianBlur(region, (0, 0), sigma))  # surround - centre: dark centre > 0
    wx0, wy0 = max(cx - half - x0, 0), max(cy - half - y0, 0)
    window = response[wy0:cy + half + 1 - y0, wx0:cx + half + 1 - x0]
    if min(window.shape) < 3:
        return None
    row, column = np.unravel_index(int(np.argmax(window)), window.shape)
    if not (0 < row < window.shape[0] - 1 and 0 < column < window.shape[1] - 1):
        return None
    return (np.array([x0 + wx0 + column + _vertex(window[row, column - 1:column + 2]),
                      y0 + wy0 + row + _vertex(window[row - 1:row + 2, column])]),
            float(window[row, column]))


def _vertex(values: np.ndarray) -> float:
    """Offset (-0.5..0.5) of the parabola's vertex through three samples around a peak."""
    before, peak, after = (float(v) for v in values)
    curvature = before - 2 * peak + after
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))


def iris_centres(gray: np.ndarray, eyes: np.ndarray) -> np.ndarray | None:
    """(2, 2) iris centres near ``eyes`` (MTCNN's two eye points, frame pixels), or
    None where they are not found (see the module's refusals)."""
    eyes = np.asarray(eyes, np.float64)[:2]
    distance = float(np.hypot(*(eyes[1] - eyes[0])))
    if distance < 8:  # eyes a few pixels apart: no iris to see
        return None
    sigma = IRIS_RADIUS * distance / np.sqrt(2)  # the scale where a disc of that radius peaks
    half = int(np.ceil(SEARCH * distance))
    peaks = [_peak(gray, eye, half, sigma) for eye in eyes]
    if any(p is None for p in peaks):
        return None
    found = np.array([p[0] for p in peaks])
    depths = sorted(p[1] for p in peaks)
    if depths[0] < MIN_DEPTH or depths[0] < MIN_BALANCE * depths[1]:
        return None
    stretch = float(np.hypot(*(found[1] - found[0]))) / distance - 1
    turn = abs((_angle(*found) - _angle(*eyes) + 180) % 360 - 180)
    if abs(stretch) > MAX_STRETCH or turn > MAX_TURN:
        return None
    return found.astype(np.float32)
