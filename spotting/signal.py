"""The per-frame facial-motion signal of a long video (MDMD / LBP-chi2 family).

Every frame's face crop is registered onto the first one (phase correlation: head
moves and camera shake are global shifts), blurred against sensor noise, and its
regions of interest kept. At a scale of k frames, F_i is how much frame i differs
from the mean of frames i-k and i+k in each region (mean of the third of 4-px
cells that changed most, minus the same figure of the nose-bridge reference
region, which only moves with the head), and C_i = F_i - (F_{i-k} + F_{i+k}) / 2
the contrast that leaves a short bump of an expression and drops slow drift.
Two scales: k ~ 0.2 s finds micro-expressions, k ~ 0.6 s macro ones (ks from fps).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

CROP = 128  # face crops are compared at this side (pixels)
CELL = 4  # cell side, crop pixels
BLUR_SIGMA = 1.0
# k of each scale: at least the longest event it should see whole (micro <= 0.5 s), so
# that C traces the event from onset to offset instead of its rise and fall apart.
MICRO_SECONDS, MACRO_SECONDS = 0.5, 1.5
SMOOTH_SECONDS = 0.05  # frames are averaged over this long either side (sensor noise)
TOP_CELLS = 0.1  # a region's change: the mean of its most changed tenth of cells
# A region's rest level and spread from its quietest frames (``_robust_z``): the 10th
# and 25th percentiles, which a normal puts 0.607 sd apart, the median 0.674 sd above
# the 25th.
REST_PERCENTILES = (10, 25)
REST_SPREAD, NORMAL_QUARTER = 1.2816 - 0.6745, 0.6745

# Regions as fractions of the face crop (x0, y0, x1, y1), for OpenCV's Haar box with
# ingestion's 15% margin: used where landmarks are not asked for or not found.
ROI_FRACTIONS = {
    "brow_left": (0.20, 0.20, 0.48, 0.34),
    "brow_right": (0.52, 0.20, 0.80, 0.34),
    "cheek_left": (0.24, 0.44, 0.44, 0.54),
    "cheek_right": (0.56, 0.44, 0.76, 0.54),
    "nose": (0.38, 0.48, 0.62, 0.60),
    "mouth": (0.28, 0.56, 0.72, 0.80),
}
REFERENCE = ("nose_bridge", (0.44, 0.34, 0.56, 0.46))  # moves with the head only


LANDMARK_REGIONS = ("brow_left", "brow_right", "cheek_left", "cheek_right", "nose",
                    "mouth_corner_left", "mouth_corner_right", "mouth")


def _fraction_boxes(size: int) -> dict:
    return {name: tuple(v * size for v in box)
            for name, box in list(ROI_FRACTIONS.items()) + [REFERENCE]}


def _landmark_boxes(points, size: int) -> dict:
    """ingestion/regions.py's named regions from five landmarks (crop pixels), and a
    nose-bridge reference between the eyes."""
    from mer_tfx.ingestion.regions import regions as named

    boxes = {n: b for n, b in named(np.asarray(points).reshape(-1), size).items()
             if n in LANDMARK_REGIONS}
    (elx, ely), (erx, ery) = np.asarray(points, np.float64).reshape(5, 2)[:2]
    d, mid_x, eye_y = float(np.hypot(erx - elx, ery - ely)), (elx + erx) / 2, (ely + ery) / 2
    boxes[REFERENCE[0]] = (mid_x - 0.12 * d, eye_y - 0.10 * d, mid_x + 0.12 * d,
                           eye_y + 0.15 * d)
    return boxes


def regions(size: int = CROP, points=None) -> dict:
    """name -> (row slice, column slice) of the crop, sides rounded to whole cells.

    ``points``: five landmarks in crop pixels (ingestion/landmarks.py) give the named
    regions of ingestion/regions.py; without them, fixed fractions of the face box.
    """
    boxes = _landmark_boxes(points, size) if points is not None else _fraction_boxes(size)
    out = {}
    for name, (x0, y0, x1, y1) in boxes.items():
        top = int(min(max(y0, 0), size - CELL)) // CELL * CELL
        left = int(min(max(x0, 0), size - CELL)) // CELL * CELL
        bottom = max(top + CELL, int(min(y1, size)) // CELL * CELL)
        right = max(left + CELL, int(min(x1, size)) // CELL * CELL)
        out[name] = (slice(top, bottom), slice(left, right))
    return out


def crop_landmarks(gray: np.ndarray, box, size: int = CROP):
    """The first frame's five landmarks in crop pixels, or None (not found, no box)."""
    if box is None:
        return None
    from mer_tfx.ingestion.landmarks import find_landmarks

    points = find_landmarks(gray, box)
    if points is None:
        return None
    x, y, w, h = box
    return (np.asarray(points, np.float64) - (x, y)) * (size / w, size / h)


@dataclasses.dataclass(frozen=True)
class Scales:
    """k (frames) of the micro and macro scales at a frame rate."""

    micro: int
    macro: int
    smooth: int = 0  # frames averaged either side before differencing

    @classmethod
    def at(cls, fps: float, micro_seconds: float = MICRO_SECONDS,
           macro_seconds: float = MACRO_SECONDS, smooth_seconds: float = SMOOTH_SECONDS):
        return cls(max(2, int(round(micro_seconds * fps))),
                   max(4, int(round(macro_seconds * fps))),
                   int(round(smooth_seconds * fps)))


ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-5)


def register(reference: np.ndarray, crop: np.ndarray, window) -> tuple[float, float]:
    """(dx, dy) of ``crop`` against ``reference`` (blurred float32 crops): phase
    correlation for the start, ECC (cv2.findTransformECC, translation) to refine it.
    On drawn faces shifted by known amounts, phase correlation alone is 0.18 crop px
    off on average and the refinement 0.017: a micro-expression moves 0.3-0.7 px."""
    (dx, dy), _ = cv2.phaseCorrelate(reference.copy(), crop.copy(), window)
    warp = np.float32([[1, 0, dx], [0, 1, dy]])
    try:
        _, warp = cv2.findTransformECC(reference, crop, warp, cv2.MOTION_TRANSLATION,
                                       ECC_CRITERIA, None, 1)
    except cv2.error:  # no convergence (a blank or saturated frame): keep the start
        return dx, dy
    return float(warp[0, 2]), float(warp[1, 2])


class RegionStack:
    """Collects each frame's registered region pixels (float16) for the whole video."""

    def __init__(self, box, size: int = CROP, naive: bool = False, points=None,
                 register: bool = True):
        self.box, self.size, self.naive, self.register = box, size, naive, register
        self.regions = regions(size, points)
        self.reference = None
        self.window = cv2.createHanningWindow((size, size), cv2.CV_32F)
        self.rows = []
        self.shifts = []

    def _crop(self, gray: np.ndarray) -> np.ndarray:
        if self.box is not None:
            x, y, w, h = self.box
            gray = gray[y:y + h, x:x + w]
        crop = cv2.resize(gray, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(crop.astype(np.float32), (0, 0), BLUR_SIGMA)

    def add(self, gray: np.ndarray) -> None:
        crop = self._crop(gray)
        if self.naive:  # the baseline: the whole crop as it is, no registration
            self.rows.append(crop[::2, ::2].astype(np.float16).ravel())
            return
        if self.reference is None:
            self.reference = crop
        dx, dy = register(self.reference, crop, self.window) if self.register else (0.0, 0.0)
        self.shifts.append((dx, dy))
        back = np.float32([[1, 0, -dx], [0, 1, -dy]])
        crop = cv2.warpAffine(crop, back, (self.size, self.size), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REPLICATE)
        self.rows.append(np.concatenate(
            [crop[r, c].ravel() for r, c in self.regions.values()]).astype(np.float16))

    def array(self) -> np.ndarray:
        return np.stack(self.rows).astype(np.float32)

    def layout(self) -> list:
        """(name, height, width) of the regions in each row, in order."""
        if self.naive:
            half = (self.size + 1) // 2
            return [("face", half, half)]
        return [(n, r.stop - r.start, c.stop - c.start) for n, (r, c) in self.regions.items()]


def _cells(diff: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h*w) absolute differences -> (N, cells) mean per CELL x CELL cell."""
    n = diff.shape[0]
    cell = CELL if height % CELL == 0 and width % CELL == 0 else 1
    blocks = diff.reshape(n, height // cell, cell, width // cell, cell)
    return blocks.mean(axis=(2, 4)).reshape(n, -1)


def _top_mean(cells: np.ndarray) -> np.ndarray:
    keep = max(1, int(round(cells.shape[1] * TOP_CELLS)))
    return np.sort(cells, axis=1)[:, -keep:].mean(axis=1)


def smoothed(stack: np.ndarray, half: int) -> np.ndarray:
    """Each frame replaced by the mean of frames i-half..i+half (clamped): sensor noise
    drops by sqrt(2 half + 1), a motion lasting several times longer keeps its shape."""
    if half <= 0:
        return stack
    n = stack.shape[0]
    total = np.concatenate([np.zeros((1, stack.shape[1]), np.float64),
                            np.cumsum(stack, axis=0, dtype=np.float64)])
    low, high = np.clip(np.arange(n) - half, 0, n), np.clip(np.arange(n) + half + 1, 0, n)
    return ((total[high] - total[low]) / (high - low)[:, None]).astype(np.float32)


def difference(stack: np.ndarray, layout: list, k: int, smooth: int = 0) -> np.ndarray:
    """F_i: each region's change of frame i against the mean of frames i-k and i+k
    (indices clamped at the ends; frames first averaged over ``smooth`` either side),
    the reference region's subtracted, summed."""
    n = stack.shape[0]
    index = np.arange(n)
    stack = smoothed(stack, smooth)
    around = 0.5 * (stack[np.clip(index - k, 0, n - 1)] + stack[np.clip(index + k, 0, n - 1)])
    per_region = _region_changes(np.abs(stack - around), layout)
    per_region = {name: _robust_z(v) for name, v in per_region.items()}
    return _minus_reference(per_region, n)


def onset_difference(stack: np.ndarray, layout: list) -> np.ndarray:
    """Each frame's change against the first (the onset of a clip), region by region as
    ``difference`` measures it, the reference region's subtracted, summed. No robust z:
    in a clip of one expression most frames move, so there is no rest to scale by."""
    return _minus_reference(_region_changes(np.abs(stack - stack[:1]), layout), len(stack))


def _region_changes(diff: np.ndarray, layout: list) -> dict:
    """(N, row) absolute differences -> name -> (N,) mean of the region's top cells."""
    per_region, start = {}, 0
    for name, height, width in layout:
        part = diff[:, start:start + height * width]
        per_region[name] = _top_mean(_cells(part, height, width))
        start += height * width
    return per_region


def _minus_reference(per_region: dict, n: int) -> np.ndarray:
    """Sum over the regions of their change above the reference region's (head only)."""
    reference = per_region.pop(REFERENCE[0], np.zeros(n))
    return sum(np.maximum(v - np.maximum(reference, 0.0), 0.0) for v in per_region.values())


def _robust_z(values: np.ndarray) -> np.ndarray:
    """(v - rest level) / rest spread: a region with strong edges (brows) is not louder
    than a faint one (cheeks) at rest, so each counts by how unusual it is. Rest is read
    from the region's quietest quarter of frames (its 10th and 25th percentiles taken
    as a normal's), not from the median and MAD: in a short recording with long
    expressions more than half the frames can move at the macro scale (8 s of SAMM-LV
    with two 2-s macro-expressions and the 1.5 s either side that F compares them
    with), and a median that sits on an expression shrinks every event of the video."""
    low, quarter = np.percentile(values, REST_PERCENTILES)
    spread = max((quarter - low) / REST_SPREAD, 1e-6)
    return (values - (quarter + NORMAL_QUARTER * spread)) / spread


def contrast(f: np.ndarray, k: int) -> np.ndarray:
    """C_i = F_i - (F_{i-k} + F_{i+k}) / 2, negatives to 0, smoothed over ~k/2 frames."""
    n = len(f)
    index = np.arange(n)
    c = f - 0.5 * (f[np.clip(index - k, 0, n - 1)] + f[np.clip(index + k, 0, n - 1)])
    c = np.maximum(c, 0.0)
    c[:k] = c[n - k:] = 0.0  # where i-k or i+k falls outside the video
    width = max(1, k // 2) | 1
    return np.convolve(c, np.ones(width) / width, mode="same")


def signals(stack: np.ndarray, layout: list, scales: Scales) -> dict:
    """{"micro": C at the micro scale, "macro": C at the macro scale, "f_micro": F}."""
    stack = smoothed(stack, scales.smooth)
    f_micro = difference(stack, layout, scales.micro)
    f_macro = difference(stack, layout, scales.macro)
    return {"micro": contrast(f_micro, scales.micro), "macro": contrast(f_macro, scales.macro),
            "f_micro": f_micro}
