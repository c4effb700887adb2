"""Real-texture faces: a portrait photo that ships with matplotlib, warped locally.

The drawn faces of faces.py have clean shading; real clips have hair, glasses,
wrinkles and strong edges, where a head movement of one pixel changes more
pixels than the expression does. Here every frame is the portrait (Grace
Hopper, ``matplotlib/mpl-data/sample_data/grace_hopper.jpg``, public domain)
with:

- per subject: mirror, scale, rotation, placement, exposure, and a smooth
  reshaping of the face that moves its features (one photo, many "people" of
  different pose, lighting and face geometry);
- per clip: a resting deformation of every motion (so an apex frame looks like
  another clip's neutral one) and a small pose/exposure change;
- per frame: the class's local motion (smooth displacement fields at the brows,
  eyes, nose or mouth, ``MOTION_FIELDS``), the head movement of ``faces.Jitter``
  (a global sub-pixel shift) and sensor noise.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from . import faces, motion

PHOTO = "grace_hopper.jpg"
# The photo's iris centres (x, y photo pixels, image-left first), annotated by hand at
# 10x zoom (+-1 px; 83 px apart): the truth of the manifest's ``true_eyes`` and of
# bench/align.py, so that no detector grades itself.
PHOTO_EYES = ((221.5, 189.8), (304.0, 187.0))
# (u, v) face-box fractions (u from the centre, + right; v from the top) and the
# displacement direction per unit amplitude, of each motion's moving regions.
_BROWS = ((-0.2, 0.28), (0.2, 0.28))
_CORNERS = ((-0.16, 0.80), (0.16, 0.80))
MOTION_FIELDS = {
    "lip_corner_pull": [(_CORNERS[0], (-0.5, -1.0)), (_CORNERS[1], (0.5, -1.0))],
    "lip_corner_depress": [(_CORNERS[0], (0.0, 1.0)), (_CORNERS[1], (0.0, 1.0))],
    "unilateral_pull": [(_CORNERS[1], (0.7, -1.1))],
    "brow_raise": [(_BROWS[0], (0.0, -1.0)), (_BROWS[1], (0.0, -1.0))],
    "brow_lower": [(_BROWS[0], (0.6, 0.8)), (_BROWS[1], (-0.6, 0.8))],
    "nose_wrinkle": [((0.0, 0.62), (0.0, -0.9)), ((0.0, 0.75), (0.0, -0.8))],
    "lip_press": [((0.0, 0.75), (0.0, 0.6)), ((0.0, 0.86), (0.0, -0.7))],
    "eye_squint": [((-0.2, 0.47), (0.0, -1.0)), ((0.2, 0.47), (0.0, -1.0))],
    "lip_stretch": [(_CORNERS[0], (-1.0, 0.25)), (_CORNERS[1], (1.0, 0.25))],
}
assert set(MOTION_FIELDS) == set(motion.MOTIONS), "every motion needs a photo field"
REGION_SIGMA = 0.07  # of the face width
# The motions' amplitudes (motion.AMPLITUDE_PX, 2.5-4 px at 200-px frames) are scaled
# by this: on photo faces a micro-expression moves about as far as the head jitters.
MOTION_SCALE = 0.3
# Per subject: the face's features sit up to this (face fraction) away from the
# photo's, and the whole face is reshaped by a smooth random warp of up to
# RESHAPE of the face width: one photo, people of different face geometry.
FEATURE_SHIFT = 0.04
RESHAPE = 0.04


def _reshaped(image: np.ndarray, pose, face_width: float) -> tuple:
    """(``image`` under a smooth random deformation (a 4 x 4 grid of displacements),
    the displacement field [2, H, W])."""
    height, width = image.shape
    coarse = pose.uniform(-1, 1, (2, 4, 4)).astype(np.float32) * RESHAPE * face_width
    dx, dy = (cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return (cv2.remap(image, x - dx, y - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
            np.stack([dx, dy]))


def _pushed(points: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Where ``points`` go under remap(x - field(x)): x = p + field(x), solved by a few
    fixed-point steps (the fields are smooth and a few pixels at most)."""
    height, width = field.shape[1:]
    moved = points.astype(np.float64).copy()
    for _ in range(4):
        column = np.clip(np.rint(moved[:, 0]).astype(int), 0, width - 1)
        row = np.clip(np.rint(moved[:, 1]).astype(int), 0, height - 1)
        moved = points + field[:, row, column].T
    return moved


@functools.lru_cache(maxsize=1)
def portrait() -> tuple:
    """(gray float32 photo, (x, y, w, h) face box found by OpenCV's Haar cascade)."""
    import matplotlib.cbook

    path = str(matplotlib.cbook.get_sample_data(PHOTO, asfileobj=False))
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise RuntimeError(f"matplotlib's sample photo {path} could not be read")
    detector = cv2.CascadeClassifier(cv2.data.haarcascades +
                                     "haarcascade_frontalface_default.xml")
    boxes = detector.detectMultiScale(gray, 1.1, 5, minSize=(60, 60))
    box = tuple(int(v) for v in max(boxes, key=lambda b: b[2] * b[3]))
    return gray.astype(np.float32), box


class PhotoRenderer:
    """Draws the frames of one clip of one (photo) subject; same interface as
    faces.ClipRenderer.render."""

    def __init__(self, subject: faces.Subject, rng, roll: float = 0.0,
                 scale_jitter: float = 0.0):
        """``roll``: each clip's head is rolled by up to this many degrees more (on the
        subject's own pose of up to 6); ``scale_jitter``: each subject's face is scaled by
        up to exp(+-scale_jitter) and placed up to scale_jitter of the frame further off
        centre (people at different distances and places). 0, 0: as before they existed."""
        photo, (bx, by, bw, bh) = portrait()
        height, width = subject.height, subject.width
        pose = np.random.default_rng(subject.texture_seed)  # the subject's, every clip
        face_width = height * pose.uniform(0.5, 0.6) * math.exp(rng.uniform(-0.03, 0.03))
        angle = pose.uniform(-6, 6) + rng.uniform(-1, 1)
        centre = (width / 2 + pose.uniform(-0.06, 0.06) * width + rng.uniform(-2, 2),
                  height / 2 + pose.uniform(-0.04, 0.04) * height + rng.uniform(-2, 2))
        if scale_jitter:  # its own stream: the subject's, the same in every clip
            place = np.random.default_rng([*subject.texture_seed, 1])
            face_width *= math.exp(place.uniform(-scale_jitter, scale_jitter))
            centre = (centre[0] + place.uniform(-scale_jitter, scale_jitter) * width / 2,
                      centre[1] + place.uniform(-scale_jitter, scale_jitter) * height / 2)
        if roll:
            angle += rng.uniform(-roll, roll)
        scale = face_width / bw
        face_centre = (bx + bw / 2, by + bh * 0.55)
        matrix = cv2.getRotationMatrix2D(face_centre, angle, scale)
        matrix[:, 2] += np.array(centre) - np.array(face_centre)
        base = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REFLECT)
        eyes = np.array(PHOTO_EYES) @ matrix[:, :2].T + matrix[:, 2]
        base, reshape = _reshaped(base, pose, face_width)
        eyes = _pushed(eyes, reshape)
        if pose.random() < 0.5:
            base = base[:, ::-1]
            matrix = np.array([[-1, 0, width - 1], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
            eyes = np.array([[width - 1 - x, y] for x, y in eyes[::-1]])  # image-left first
        gamma = pose.uniform(0.8, 1.25)
        self.base = (255.0 * (base / 255.0) ** gamma * rng.uniform(0.93, 1.07)
                     + pose.uniform(-20, 20) + rng.uniform(-8, 8)).astype(np.float32)
        self.noise = float(rng.uniform(2.0, 3.0))
        # motion fields in output pixels per reference pixel of amplitude
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        self.grid = (x, y)
        sigma = REGION_SIGMA * face_width
        pixel = height / faces.REF
        self.fields = {}
        offsets = pose.uniform(-FEATURE_SHIFT, FEATURE_SHIFT, 2)
        for name, regions in MOTION_FIELDS.items():
            field = np.zeros((2, height, width), np.float32)
            for (u, v), (dx, dy) in regions:
                u, v = u + offsets[0], v + offsets[1]  # this person's feature positions
                px, py = matrix[:2] @ np.array([bx + bw / 2 + u * bw, by + v * bh, 1.0])
                weight = np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma ** 2))
                direction = matrix[:2, :2] @ np.array([dx, dy]) / scale
                field += weight[None] * direction[:, None, None].astype(np.float32) * pixel
            self.fields[name] = field
        # resting expression: some of every motion, per subject and per clip
        self.rest = sum(self.fields[m] * (amount + rng.uniform(-faces.EXPRESSION_PX[1],
                                                                faces.EXPRESSION_PX[1]))
                        * MOTION_SCALE for m, amount in subject.expression.items())
        self.neutral_eyes = _pushed(eyes, self.rest)  # before the head jitters

    def eyes(self, jitter=(0.0, 0.0)) -> np.ndarray:
        """(2, 2) pupil centres (x, y output pixels, image-left first) of a neutral frame
        with the head moved by ``jitter`` (a micro-expression moves them < 1 px)."""
        return self.neutral_eyes + np.asarray(jitter, np.float64)

    def render(self, deltas: dict, jitter=(0.0, 0.0), rng=None) -> np.ndarray:
        """Gray uint8 frame: ``deltas`` (motion name -> amplitude, reference px) applied
        as displacement fields, head moved by ``jitter`` px."""
        shift = self.rest.copy()
        for name, amount in deltas.items():
            shift += self.fields[name] * (amount * MOTION_SCALE)
        x, y = self.grid
        frame = cv2.remap(self.base, x - shift[0] - jitter[0], y - shift[1] - jitter[1],
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if rng is not None:
            frame += rng.standard_normal(frame.shape, dtype=np.float32) * self.noise
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)
