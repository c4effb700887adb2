"""One recorded video = neutral frames, one or more events, neutral frames.

Layouts decide names and numbering; this module only decides what happens in
which frame (frame *indices*, 0-based) and draws the frames.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import faces, motion, photo_faces

FACES = ("drawn", "photo")  # faces.py (OpenCV drawings) or photo_faces.py (a real photo)

NEUTRAL = motion.NEUTRAL_FRAMES


@dataclasses.dataclass
class Event:
    label: str  # class name as the layout spells it (lower-case)
    motion: str
    amplitude: float  # peak displacement, reference px
    onset: int  # frame indices within the video
    apex: int
    offset: int


@dataclasses.dataclass
class Video:
    frames: object  # iterator of uint8 arrays (gray or BGR), drawn on demand
    events: list
    length: int
    # per frame drawn so far: true (2, 2) eye centres of a neutral face there (x, y px)
    eyes: list = dataclasses.field(default_factory=list)


# Independent random streams of one seed, told apart by their second number.
# (Each kind has a fixed length: numpy ignores trailing zeros of a seed list.)
_SUBJECT, _CLIP, _NAMES, _SHEET = 1, 2, 3, 4


def subject_rng(seed: int, subject: int) -> np.random.Generator:
    """Looks of one person."""
    return np.random.default_rng([seed, _SUBJECT, subject])


def clip_rng(seed: int, subject: int, clip: int) -> np.random.Generator:
    """Everything inside one clip folder: depends on nothing but these numbers."""
    return np.random.default_rng([seed, _CLIP, subject, clip])


def names_rng(seed: int, subject: int) -> np.random.Generator:
    """Folder names and the order of classes of one subject."""
    return np.random.default_rng([seed, _NAMES, subject])


def sheet_rng(seed: int, purpose: int) -> np.random.Generator:
    """Dataset-wide choices: annotation quirks (0), fault bytes (1)."""
    return np.random.default_rng([seed, _SHEET, purpose])


def plan(rng, labels, fps: int, lead: bool = True, no_signal: bool = False):
    """Events for ``labels`` in order, with neutral frames around and between them.

    ``lead=False`` gives SMIC-style clips that hold only the event frames.
    ``no_signal=True`` draws each event's motion at random, whatever its label: a
    leakage guard (a protocol that scores above chance on such data leaks).
    """
    events, index = [], 0
    for position, label in enumerate(labels):
        if lead or position > 0:
            index += int(rng.integers(NEUTRAL[0], NEUTRAL[1] + 1))
        onset, apex, offset = motion.plan_event(rng, fps, index)
        amplitude = float(rng.uniform(*motion.AMPLITUDE_PX))
        moved = (str(rng.choice(sorted(motion.CLASS_MOTION))) if no_signal else label)
        events.append(Event(label, motion.CLASS_MOTION[moved], amplitude, onset, apex, offset))
        index = offset + 1
    if lead:
        index += int(rng.integers(NEUTRAL[0], NEUTRAL[1] + 1))
    return events, index


def render(subject: faces.Subject, rng, labels, fps: int, colour: bool,
           lead: bool = True, no_signal: bool = False, face: str = "drawn",
           jitter: float = 1.0, roll: float = 0.0, scale_jitter: float = 0.0) -> Video:
    """A video of ``subject`` acting out ``labels`` one after the other.

    ``face``: one of FACES; ``jitter``: head movement, as a multiple of faces.Jitter's;
    ``roll``: extra head roll per clip, up to +-roll degrees; ``scale_jitter``: photo
    faces' scale and place vary by that much more between subjects (photo_faces.py).
    The frames are drawn lazily (one in memory at a time) from their own random
    stream, so ``rng`` may be used for other things before they are consumed.
    """
    events, length = plan(rng, labels, fps, lead, no_signal)
    if face == "photo":
        renderer = photo_faces.PhotoRenderer(subject, rng, roll, scale_jitter)
    else:
        look = faces.sample_look(rng, subject)
        if roll:
            look = dataclasses.replace(look, tilt=look.tilt + np.radians(rng.uniform(-roll, roll)))
        renderer = _ShapeRenderer(faces.ClipRenderer(subject, look))
    frame_rng = np.random.default_rng(int(rng.integers(2**63)))
    eyes = []
    return Video(_frames(subject, renderer, events, length, colour, frame_rng, jitter, eyes),
                 events, length, eyes)


class _ShapeRenderer:
    """faces.ClipRenderer driven by motion amounts (it moves shape parameters)."""

    def __init__(self, renderer: faces.ClipRenderer):
        self.renderer = renderer

    def eyes(self, jitter):
        return self.renderer.eyes(jitter)

    def render(self, motions: dict, jitter, rng):
        deltas = {}
        for name, amount in motions.items():
            for key, value in motion.deltas(name, amount).items():
                deltas[key] = deltas.get(key, 0.0) + value
        return self.renderer.render(deltas, jitter, rng)


def _frames(subject, renderer, events, length, colour, rng, jitter_scale, eyes):
    jitter = faces.Jitter(rng, subject.height, jitter_scale)
    for index in range(length):
        motions = {}
        for event in events:
            strength = motion.profile(index, event.onset, event.apex, event.offset)
            if strength > 0:
                motions[event.motion] = motions.get(event.motion, 0.0) + \
                    strength * event.amplitude
        shift = jitter.next()
        eyes.append(renderer.eyes(shift))
        gray = renderer.render(motions, shift, rng)
        yield faces.to_colour(gray, subject) if colour else gray
