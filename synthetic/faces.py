"""Face-like grayscale frames drawn with OpenCV primitives.

Geometry is given in pixels of a 200-px-high frame ("reference pixels") in face
coordinates (u right, v down, origin at the face centre) and mapped to the image
by the subject's head position, size and tilt.

The learnability contract: every subject, and less every clip, has its own
neutral geometry AND a resting amount of every motion (a slight smile, raised
brows, pressed lips...), spread over more pixels than a micro-expression moves.
So one frame does not tell the class; the change from onset to apex does.

Static shading (head, hair, eye sockets, nose bridge, skin texture) is built once
per clip; the features that motions move (brows, eyes, nostrils, lips) are
redrawn every frame on a supersampled canvas and averaged down, which gives
sub-pixel motion without blurring the whole frame.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from . import motion

REF = 200.0  # reference frame height for all pixel quantities below
_SHIFT = 4  # cv2 fixed-point fraction bits for sub-pixel drawing

# name: (base, +-subject half-range, +-clip half-range), reference pixels.
SHAPE_PARAMS = {
    "eye_dx": (21.0, 3.0, 0.5),  # half the distance between the eye centres
    "eye_v": (-12.0, 4.0, 0.8),  # eye line relative to the face centre
    "eye_rx": (8.0, 1.2, 0.2),  # half eye width
    "eye_open": (3.6, 0.9, 0.3),  # upper-lid height above the eye line
    "lower_lid": (0.0, 1.5, 0.4),  # lower-lid raise
    "cheek_v": (9.0, 3.5, 1.0),  # under-eye crease below the eye line
    "brow_gap": (14.0, 4.0, 1.5),  # brow above the eye line
    "brow_inner_dx": (0.0, 3.0, 1.0),  # inner brow end, + = away from the midline
    "brow_len": (20.0, 3.0, 0.5),
    "brow_thick": (3.2, 0.8, 0.2),
    "brow_arch": (3.0, 2.0, 0.6),
    "brow_tilt": (0.0, 2.0, 0.6),  # inner end lower (+) or higher (-) than the outer
    "nose_len": (27.0, 4.0, 0.8),  # nose tip below the eye line
    "nose_w": (8.0, 1.5, 0.3),
    "nostril_dy": (0.0, 3.0, 1.0),  # nostrils/wings relative to the nose tip
    "mouth_gap": (14.0, 3.0, 1.0),  # mouth line below the nose tip
    "mouth_hw": (17.0, 5.0, 1.5),  # half mouth width
    "corner_dy": (0.0, 5.0, 1.5),  # lip corners below (+) the mouth line centre
    "lip_up": (5.5, 2.0, 0.4),  # upper-lip thickness
    "lip_lo": (6.5, 2.2, 0.4),  # lower-lip thickness
    "lip_raise": (0.0, 1.5, 0.5),  # upper-lip centre raised
}
_SIDED = ("mouth_hw", "corner_dy")  # get separate _l/_r values (asymmetric faces)
# Soft lower limits, so that faces stay faces (no lips or eye openings below zero).
_MIN = {"eye_open": 1.0, "lip_up": 0.7, "lip_lo": 0.8, "brow_thick": 1.5, "mouth_hw": 8.0,
        "brow_gap": 4.0}
# Resting expression: +- reference px of EVERY motion per subject, and per clip on
# top, so that an apex frame looks like some other clip's neutral face.
EXPRESSION_PX = (6.0, 2.0)


def supersample(height: int) -> int:
    """Features are drawn this many times larger and area-averaged down (sub-pixel motion)."""
    return 4 if height <= 256 else 2 if height <= 512 else 1


def _uniform(rng, half):
    return float(rng.uniform(-half, half))


@dataclasses.dataclass
class Subject:
    """Everything fixed for one person: head placement, tones, neutral geometry."""

    index: int
    height: int
    width: int
    cx: float  # head centre, output pixels
    cy: float
    head_b: float  # half face height, reference pixels
    head_a: float
    tilt: float  # radians
    skin: float
    hair: float
    background: float
    cloth: float
    hairline: float  # fraction of head_b above the centre
    tint: tuple  # BGR gains for colour layouts
    shape: dict
    expression: dict  # motion -> resting amount, reference px
    texture_seed: tuple


@dataclasses.dataclass
class Look:
    """One recording of a subject: small changes of pose, geometry and exposure."""

    shift: tuple  # head offset, reference pixels
    tilt: float
    shape: dict
    brightness: float
    contrast: float
    noise: float


def frame_shape(frame_size: int) -> tuple:
    """(height, width): 6:5 landscape like a camera, even width."""
    return frame_size, 2 * int(round(frame_size * 0.6))


def sample_subject(rng, index: int, frame_size: int) -> Subject:
    height, width = frame_shape(frame_size)
    scale = frame_size / REF
    shape = {}
    for name, (base, subject_range, _) in SHAPE_PARAMS.items():
        shape[name] = base + _uniform(rng, subject_range)
    for name in _SIDED:
        asym = _uniform(rng, 1.0)
        shape[name + "_l"] = shape[name] - asym
        shape[name + "_r"] = shape.pop(name) + asym
    skin = float(rng.uniform(120, 185))
    # Background far enough from the skin that the head has an outline.
    dark_bg = bool(rng.random() < 0.5)
    background = float(rng.uniform(25, skin - 55)) if dark_bg else float(
        rng.uniform(min(skin + 35, 225), 235))
    head_b = float(rng.uniform(58, 68))
    return Subject(
        index=index, height=height, width=width,
        cx=width / 2 + _uniform(rng, 14) * scale,
        cy=height / 2 + (4 + _uniform(rng, 8)) * scale,
        head_b=head_b, head_a=head_b * float(rng.uniform(0.74, 0.84)),
        tilt=math.radians(_uniform(rng, 6.0)),
        skin=skin, hair=float(rng.uniform(15, 60)), background=background,
        cloth=float(rng.uniform(20, 220)), hairline=float(rng.uniform(0.55, 0.7)),
        tint=(float(rng.uniform(0.86, 0.96)), float(rng.uniform(0.96, 1.0)),
              float(rng.uniform(1.02, 1.1))),
        shape=shape,
        expression={m: _uniform(rng, EXPRESSION_PX[0]) for m in motion.MOTIONS},
        texture_seed=tuple(int(x) for x in rng.integers(0, 2**31, size=2)),
    )


def sample_look(rng, subject: Subject) -> Look:
    shape = dict(subject.shape)
    for name, (_, _, clip_range) in SHAPE_PARAMS.items():
        if name in _SIDED:
            common = _uniform(rng, clip_range)
            shape[name + "_l"] += common
            shape[name + "_r"] += common
        else:
            shape[name] += _uniform(rng, clip_range)
    for name, amount in subject.expression.items():
        for key, value in motion.deltas(name, amount + _uniform(rng, EXPRESSION_PX[1])).items():
            shape[key] += value
    return Look(
        shift=(_uniform(rng, 3.0), _uniform(rng, 3.0)), tilt=math.radians(_uniform(rng, 1.0)),
        shape=shape, brightness=_uniform(rng, 10.0), contrast=float(rng.uniform(0.93, 1.07)),
        noise=float(rng.uniform(2.0, 3.0)),
    )


def _soft_floor(value: float, low: float, softness: float = 0.6) -> float:
    """max(value, low), but smooth: a motion near the floor still shows a little."""
    return low + softness * math.log1p(math.exp(min((value - low) / softness, 50.0)))


def _gauss(u, v, u0, v0, su, sv):
    return np.exp(-0.5 * (((u - u0) / su) ** 2 + ((v - v0) / sv) ** 2))


class ClipRenderer:
    """Draws the frames of one clip (one Look of one Subject)."""

    def __init__(self, subject: Subject, look: Look):
        self.subject = subject
        self.look = look
        self.scale = subject.height / REF
        self.cx = subject.cx + look.shift[0] * self.scale
        self.cy = subject.cy + look.shift[1] * self.scale
        angle = subject.tilt + look.tilt
        self.cos, self.sin = math.cos(angle), math.sin(angle)
        self.ss = supersample(subject.height)
        self.pad = int(math.ceil(self.scale)) + 1  # room for the jitter (<= scale px)
        self.static = self._static_canvas()

    # -- geometry ---------------------------------------------------------------
    def to_image(self, u, v, offset=(0.0, 0.0)):
        """Face coordinates (reference px) -> output-pixel x, y arrays."""
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        s = self.scale
        x = self.cx + offset[0] + s * (self.cos * u - self.sin * v)
        y = self.cy + offset[1] + s * (self.sin * u + self.cos * v)
        return x, y

    def eyes(self, jitter=(0.0, 0.0)) -> np.ndarray:
        """(2, 2) iris centres (x, y output pixels, image-left first) of a neutral frame
        with the head moved by ``jitter``, as _draw_features places them."""
        p = dict(self.look.shape)
        eye_open = _soft_floor(p["eye_open"], _MIN["eye_open"])
        opening = _soft_floor(1.75 * eye_open - p["lower_lid"], 0.8)
        # midway between the upper lid's top and the lower lid's bottom
        iris_v = p["eye_v"] + 0.5 * (max(opening - eye_open, 0.0) - eye_open)
        x, y = self.to_image([-p["eye_dx"], p["eye_dx"]], [iris_v, iris_v], jitter)
        points = np.stack([x, y], axis=1)
        return points[np.argsort(points[:, 0])]

    def _face_coords(self, height, width, pad):
        """u, v of every pixel centre of a canvas with ``pad`` extra pixels per side."""
        y, x = np.mgrid[0:height, 0:width].astype(np.float64) - pad
        dx, dy = (x - self.cx) / self.scale, (y - self.cy) / self.scale
        return self.cos * dx + self.sin * dy, -self.sin * dx + self.cos * dy

    # -- static layer -------------------------------------------------------------
    def _static_canvas(self) -> np.ndarray:
        subject, shape = self.subject, self.look.shape
        pad = self.pad
        height, width = subject.height + 2 * pad, subject.width + 2 * pad
        u, v = self._face_coords(height, width, pad)
        tex_rng = np.random.default_rng(subject.texture_seed)
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)

        # Background: gradient plus blurry blobs, and a torso below the head.
        blobs = tex_rng.normal(0, 1, (max(height // 16, 2), max(width // 16, 2)))
        blobs = cv2.resize(blobs, (width, height), interpolation=cv2.INTER_CUBIC)
        image = subject.background + 10 * blobs + 12 * (x / width - 0.5) - 8 * (y / height - 0.5)
        a, b = subject.head_a, subject.head_b
        torso = ((u / (a * 2.3)) ** 2 + ((v - b * 2.05) / (b * 0.95)) ** 2) < 1
        image[torso] = subject.cloth
        neck = (np.abs(u) < a * 0.45) & (v > 0) & (v < b * 1.5)
        image[neck] = subject.skin * 0.8

        # Hair behind the head, then the face oval with rounded shading.
        hair = ((u / (a * 1.13)) ** 2 + ((v + b * 0.07) / (b * 1.1)) ** 2) < 1
        hair &= v < b * 0.25
        image[hair] = subject.hair
        rr = (u / a) ** 2 + (v / b) ** 2
        face = np.clip((1.0 - rr) * b * 0.5, 0.0, 1.0)  # ~2-px soft edge
        skin = subject.skin * (1.05 - 0.22 * rr)
        ev, edx, nose_tip = shape["eye_v"], shape["eye_dx"], shape["eye_v"] + shape["nose_len"]
        mouth_v = nose_tip + shape["mouth_gap"]
        shade = (
            -0.30 * (_gauss(u, v, -edx, ev + 1, 10, 6.5) + _gauss(u, v, edx, ev + 1, 10, 6.5))
            + 0.12 * _gauss(u, v, 0, (ev + nose_tip) / 2, 3.5, (nose_tip - ev) / 2 + 4)
            + 0.08 * _gauss(u, v, 0, ev - 28, 22, 10)
            - 0.07 * (_gauss(u, v, -7, ev + 14, 2.5, 9) + _gauss(u, v, 7, ev + 14, 2.5, 9))
            + 0.06 * (_gauss(u, v, -22, ev + 19, 8, 6) + _gauss(u, v, 22, ev + 19, 8, 6))
            - 0.16 * _gauss(u, v, 0, nose_tip + 5, 7, 2.2)
            - 0.10 * _gauss(u, v, 0, mouth_v + shape["lip_lo"] + 6, 9, 2.5)
            - 0.10 * _gauss(u, v, -edx * 0.55, ev - shape["brow_gap"] + 3, 8, 3)
            - 0.10 * _gauss(u, v, edx * 0.55, ev - shape["brow_gap"] + 3, 8, 3)
        )
        mottled = cv2.GaussianBlur(tex_rng.normal(0, 1, (height, width)), (0, 0), 3 * self.scale)
        mottled *= 1.0 / max(float(mottled.std()), 1e-6)
        skin = skin * (1 + shade) + 4.0 * mottled
        image = image * (1 - face) + skin * face
        cap = face * (v < -b * subject.hairline + 2.5 * np.sin(u / 6.0))
        image = image * (1 - cap) + subject.hair * cap
        for _ in range(3):  # moles at fixed, subject-specific places
            mu, mv = tex_rng.uniform(-a * 0.7, a * 0.7), tex_rng.uniform(-b * 0.2, b * 0.6)
            image -= 35 * _gauss(u, v, mu, mv, 0.9, 0.9) * face

        ss = self.ss
        big = cv2.resize(np.clip(image, 0, 255).astype(np.float32),
                         (width * ss, height * ss), interpolation=cv2.INTER_LINEAR)
        return np.clip(np.rint(big), 0, 255).astype(np.uint8)

    # -- features -----------------------------------------------------------------
    def _pts(self, u, v, offset):
        x, y = self.to_image(u, v, offset)
        k = self.ss * (1 << _SHIFT)
        # +0.5 - 0.5/ss maps output pixel centres onto supersampled pixel centres
        c = 0.5 - 0.5 / self.ss
        return np.stack([np.rint((x + c) * k), np.rint((y + c) * k)], axis=1).astype(np.int32)

    def _fill(self, canvas, u, v, tone, offset):
        cv2.fillPoly(canvas, [self._pts(u, v, offset)], int(round(tone)), cv2.LINE_AA, _SHIFT)

    def _line(self, canvas, u, v, tone, width_px, offset):
        thickness = max(1, int(round(width_px * self.scale * self.ss)))
        cv2.polylines(canvas, [self._pts(u, v, offset)], False, int(round(tone)), thickness,
                      cv2.LINE_AA, _SHIFT)

    def _draw_features(self, canvas, p, offset):
        skin = self.subject.skin
        t = np.linspace(0.0, 1.0, 17)
        hump = np.sin(np.pi * t)
        ev = p["eye_v"]
        for side in (-1.0, 1.0):
            ex = side * p["eye_dx"]
            # brow: inner end near the midline, outer end further out
            inner = ex - side * (0.5 * p["brow_len"] - p["brow_inner_dx"])
            outer = ex + side * 0.55 * p["brow_len"]
            bu = inner + (outer - inner) * t
            base = ev - p["brow_gap"] + p["brow_tilt"] * (1 - t) - p["brow_arch"] * hump
            thick = p["brow_thick"] * (1.0 - 0.45 * t)
            self._fill(canvas, np.concatenate([bu, bu[::-1]]),
                       np.concatenate([base - thick / 2, (base + thick / 2)[::-1]]),
                       self.subject.hair * 0.9 + 12, offset)
            # eye: almond opening, iris, lids, under-eye crease
            eu = ex + p["eye_rx"] * (2 * t - 1)
            upper = ev - p["eye_open"] * hump ** 0.8
            opening = _soft_floor(1.75 * p["eye_open"] - p["lower_lid"], 0.8)
            lower = ev + (opening - p["eye_open"]) * hump ** 0.9
            self._fill(canvas, np.concatenate([eu, eu[::-1]]),
                       np.concatenate([upper, lower[::-1]]), min(skin * 1.02, 215), offset)
            radius = min(3.4, 0.5 * (lower.max() - upper.min()) + 0.6)
            a = np.linspace(0, 2 * np.pi, 16)
            iv = 0.5 * (upper.min() + lower.max())
            self._fill(canvas, ex + radius * np.cos(a), iv + radius * np.sin(a), 35, offset)
            self._line(canvas, eu, upper, 22, 1.4, offset)
            self._line(canvas, eu, lower, skin * 0.55, 0.7, offset)
            cu = ex + 0.9 * p["eye_rx"] * (2 * t - 1)
            self._line(canvas, cu, ev + p["cheek_v"] - 1.5 * hump, skin * 0.72, 1.4, offset)
            # nose wing and nostril
            nose_tip = ev + p["nose_len"]
            nv = nose_tip + p["nostril_dy"]
            wu = side * (p["nose_w"] - 1.5 * np.sin(np.pi * t))
            self._line(canvas, wu, nv - 4 + 6 * t, skin * 0.62, 1.1, offset)
            self._fill(canvas, side * 0.5 * p["nose_w"] + 2.2 * np.cos(a),
                       nv + 2.5 + 1.2 * np.sin(a), skin * 0.32, offset)
        # mouth: lip line through both corners, lips around it
        mv = ev + p["nose_len"] + p["mouth_gap"]
        left = (-p["mouth_hw_l"], mv + p["corner_dy_l"])
        right = (p["mouth_hw_r"], mv + p["corner_dy_r"])
        centre = (0.0, mv - 0.5 * p["lip_raise"])
        cu = 2 * centre[0] - 0.5 * (left[0] + right[0])
        cv = 2 * centre[1] - 0.5 * (left[1] + right[1])
        mu = (1 - t) ** 2 * left[0] + 2 * t * (1 - t) * cu + t ** 2 * right[0]
        line = (1 - t) ** 2 * left[1] + 2 * t * (1 - t) * cv + t ** 2 * right[1]
        bow = 0.6 * np.exp(-((t - 0.5) / 0.08) ** 2)  # cupid's bow dip
        top = line - (p["lip_up"] + 0.5 * p["lip_raise"]) * hump ** 0.7 + bow
        bottom = line + p["lip_lo"] * hump ** 0.8
        self._fill(canvas, np.concatenate([mu, mu[::-1]]),
                   np.concatenate([top, line[::-1]]), skin * 0.6, offset)
        self._fill(canvas, np.concatenate([mu, mu[::-1]]),
                   np.concatenate([line, bottom[::-1]]), skin * 0.68, offset)
        self._line(canvas, mu, line, skin * 0.28, 1.2, offset)

    # -- frames -------------------------------------------------------------------
    def render(self, deltas: dict, jitter=(0.0, 0.0), rng=None) -> np.ndarray:
        """Gray uint8 frame with ``deltas`` added to the shape, head moved by ``jitter`` px."""
        params = dict(self.look.shape)
        for name, value in deltas.items():
            params[name] += value
        for name, low in _MIN.items():
            for key in (name, name + "_l", name + "_r"):
                if key in params:
                    params[key] = _soft_floor(params[key], low)
        ss = self.ss
        ox = int(round(jitter[0] * ss))
        oy = int(round(jitter[1] * ss))
        height, width = self.subject.height, self.subject.width
        p0 = self.pad * ss
        canvas = self.static[p0 - oy:p0 - oy + height * ss, p0 - ox:p0 - ox + width * ss].copy()
        self._draw_features(canvas, params, (ox / ss, oy / ss))
        frame = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
        frame = frame.astype(np.float32)
        frame = (frame - 128.0) * self.look.contrast + 128.0 + self.look.brightness
        if rng is not None and self.look.noise > 0:
            frame += rng.standard_normal(frame.shape, dtype=np.float32) * self.look.noise
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def to_colour(gray: np.ndarray, subject: Subject) -> np.ndarray:
    """BGR frame with the subject's slight skin/lighting tint."""
    return cv2.merge([cv2.convertScaleAbs(gray, alpha=gain) for gain in subject.tint])


class Jitter:
    """Small smooth frame-to-frame movement: AR(1) translation of the whole frame.

    With ``scale`` 1: standard deviation ~0.25 px and never more than 1 px (at 200-px
    frames), like a head that is kept still, filmed by a camera that is not quite;
    ``scale`` multiplies both (0: no movement).
    """

    def __init__(self, rng, frame_size: int, scale: float = 1.0):
        self.rng = rng
        self.limit = scale * frame_size / REF
        self.state = np.zeros(2)

    def next(self) -> tuple:
        self.state = 0.7 * self.state + self.rng.normal(0, 0.18 * self.limit, 2)
        self.state = np.clip(self.state, -self.limit, self.limit)
        return float(self.state[0]), float(self.state[1])
