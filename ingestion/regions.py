"""Named face regions in crop space, from a clip's five landmarks.

A FACS coder speaks of brows, eyes, nose and mouth corners, not of pixel (37, 52).
``regions`` turns a record's ``landmarks`` (ingestion/records.py: eye centres, nose
tip, mouth corners, in pixels of the stored crop) into axis-aligned boxes with those
names, for the spotting job (motion per region) and the report (Grad-CAM mass per
region, explain/per_class.py). Sizes scale with the distance between the eyes, so the
same box covers the same part of a small or a large face.

    from mer_tfx.ingestion.regions import regions
    boxes = regions(landmarks, 128)   # {"brow_left": (x0, y0, x1, y1), ...}
    crop[y0:y1, x0:x1]                # the pixels of a region (ints, clipped to the crop)

``region_labels`` assigns every pixel to at most one region (the first in ``NAMES``
order that holds it), so shares of a map over the regions and ``OTHER`` sum to 1.
"""
from __future__ import annotations

import numpy as np

NAMES = ("brow_left", "brow_right", "glabella", "eye_left", "eye_right", "nose",
         "cheek_left", "cheek_right", "mouth_corner_left", "mouth_corner_right",
         "mouth", "chin")
OTHER = "other"  # pixels outside every region (forehead, hair, background)


def _points(landmarks) -> np.ndarray:
    points = np.asarray(landmarks, np.float64).reshape(-1)
    if points.size != 10:
        raise ValueError(f"landmarks must be 10 values (x, y of 5 points), got {points.size}")
    if np.all(points == -1):
        raise ValueError("these landmarks were not found (all -1)")
    return points.reshape(5, 2)


def regions(landmarks, size: int) -> dict:
    """{name: (x0, y0, x1, y1)}: integer pixel bounds (x1, y1 exclusive) in a
    size x size crop, for every name of ``NAMES`` (an empty box where a region falls
    outside the crop). ``landmarks``: 10 values or (5, 2), landmarks.POINTS order,
    image-left first (the record's ``landmarks``)."""
    (elx, ely), (erx, ery), (nx, ny), (mlx, mly), (mrx, mry) = _points(landmarks)
    d = max(float(np.hypot(erx - elx, ery - ely)), 1.0)  # eye distance: the unit
    eye_y = (ely + ery) / 2
    mouth_y = (mly + mry) / 2
    mid_x = (elx + erx) / 2
    raw = {
        "brow_left": (elx - 0.45 * d, eye_y - 0.60 * d, elx + 0.35 * d, eye_y - 0.18 * d),
        "brow_right": (erx - 0.35 * d, eye_y - 0.60 * d, erx + 0.45 * d, eye_y - 0.18 * d),
        "glabella": (mid_x - 0.15 * d, eye_y - 0.60 * d, mid_x + 0.15 * d, eye_y),
        "eye_left": (elx - 0.35 * d, ely - 0.18 * d, elx + 0.30 * d, ely + 0.18 * d),
        "eye_right": (erx - 0.30 * d, ery - 0.18 * d, erx + 0.35 * d, ery + 0.18 * d),
        "nose": (nx - 0.25 * d, eye_y + 0.10 * d, nx + 0.25 * d, ny + 0.20 * d),
        "cheek_left": (elx - 0.40 * d, ely + 0.18 * d, nx - 0.25 * d, ny + 0.10 * d),
        "cheek_right": (nx + 0.25 * d, ery + 0.18 * d, erx + 0.40 * d, ny + 0.10 * d),
        "mouth_corner_left": (mlx - 0.22 * d, mly - 0.22 * d, mlx + 0.18 * d, mly + 0.22 * d),
        "mouth_corner_right": (mrx - 0.18 * d, mry - 0.22 * d, mrx + 0.22 * d, mry + 0.22 * d),
        "mouth": (mlx + 0.18 * d, mouth_y - 0.25 * d, mrx - 0.18 * d, mouth_y + 0.25 * d),
        "chin": (mlx, mouth_y + 0.25 * d, mrx, mouth_y + 0.65 * d),
    }
    out = {}
    for name in NAMES:
        x0, y0, x1, y1 = (int(round(min(max(v, 0), size))) for v in raw[name])
        out[name] = (x0, y0, max(x0, x1), max(y0, y1))
    return out


def region_labels(landmarks, size: int, side: int | None = None) -> np.ndarray:
    """[side, side] int map (side: of the map, default the crop's): the index into
    ``NAMES`` of each pixel's region, ``len(NAMES)`` for OTHER. The regions are
    those of a size x size crop, scaled to ``side`` (e.g. a model's 64-px input)."""
    side = side or size
    labels = np.full((side, side), len(NAMES), np.int32)
    scale = side / size
    for index, name in reversed(list(enumerate(NAMES))):  # the first name wins overlaps
        x0, y0, x1, y1 = (int(round(v * scale)) for v in regions(landmarks, size)[name])
        labels[y0:y1, x0:x1] = index
    return labels


def mass_shares(heat: np.ndarray, landmarks, size: int) -> dict:
    """{region or OTHER: share of ``heat``'s (>= 0) total in it}, summing to 1; a map
    with no mass gives every share 0."""
    heat = np.clip(np.asarray(heat, np.float64), 0, None)
    labels = region_labels(landmarks, size, heat.shape[0])
    sums = np.bincount(labels.ravel(), weights=heat.ravel(), minlength=len(NAMES) + 1)
    total = sums.sum()
    shares = sums / total if total > 0 else sums
    return dict(zip((*NAMES, OTHER), (float(v) for v in shares)))
