"""One long recording: idle stretches, micro- and macro-expressions, blinks, head moves.

The face is faces.py's (motions from motion.py); what is new is the time line. A
micro-expression moves the face by ``micro_px`` pixels of a 640-px frame (1-2 px, as
the real ones do) and lasts at most 0.5 s; a macro-expression moves it several times
more for 0.8-2 s; blinks close the eyes for 0.1-0.2 s; head moves shift the whole
frame by 5-20 px (640-px scale) within 0.3-0.8 s and stay there, on top of the
frame-to-frame jitter. Every event's frames are known: the manifest holds the truth.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from . import faces, motion

SCALE_640 = faces.REF / 640.0  # reference px (200-px frame) per px of a 640-px frame
MICRO_SECONDS = (0.25, 0.45)
MACRO_SECONDS = (0.8, 2.0)
BLINK_SECONDS = (0.1, 0.2)
HEAD_SECONDS = (0.3, 0.8)
IDLE_SECONDS = (0.6, 1.6)  # between two events
MACRO_PX = (5.0, 10.0)  # 640-px scale
HEAD_PX = (5.0, 20.0)  # 640-px scale
# Emotion as the layouts spell it -> motion.CLASS_MOTION key (the composite classes).
KINDS = ("me", "mae", "blink", "head")
KIND_WEIGHTS = (0.4, 0.3, 0.15, 0.15)


@dataclasses.dataclass
class Event:
    kind: str  # me, mae, blink, head
    onset: int  # 0-based frame indices of the recording
    apex: int
    offset: int
    label: str = ""  # emotion of an expression, as the layout spells it
    motion: str = ""
    amplitude: float = 0.0  # reference px (expressions, blinks) or frame px (head: dx, dy)
    shift: tuple = (0.0, 0.0)


def plan(rng, fps: float, frames: int, labels: tuple, micro_px=(1.0, 2.0)) -> list[Event]:
    """Events that fit in ``frames``, each followed by an idle stretch; at least one
    micro- and one macro-expression when the recording is long enough for them."""
    events, index = [], int(fps * rng.uniform(*IDLE_SECONDS))
    order = list(rng.permutation(["me", "mae"]))  # the first two: one of each
    while True:
        kind = order.pop(0) if order else str(rng.choice(KINDS, p=KIND_WEIGHTS))
        seconds = {"me": MICRO_SECONDS, "mae": MACRO_SECONDS, "blink": BLINK_SECONDS,
                   "head": HEAD_SECONDS}[kind]
        length = max(3, int(round(fps * rng.uniform(*seconds))))
        if kind == "me":
            length = min(length, int(0.5 * fps))  # inclusive range: at most 0.5 s
        if index + length + int(fps * IDLE_SECONDS[0]) >= frames:
            return events
        onset, offset = index, index + length - 1
        apex = onset + int(round((length - 1) * rng.uniform(*motion.APEX_FRACTION)))
        event = Event(kind, onset, min(max(apex, onset + 1), offset - 1), offset)
        if kind in ("me", "mae"):
            event.label = str(rng.choice(labels))
            event.motion = motion.CLASS_MOTION[event.label]
            px = rng.uniform(*micro_px) if kind == "me" else rng.uniform(*MACRO_PX)
            event.amplitude = float(px * SCALE_640)
        elif kind == "blink":
            event.amplitude = float(rng.uniform(2.5, 3.2))  # eye_open, reference px
        else:
            angle = rng.uniform(0, 2 * math.pi)
            event.amplitude = float(rng.uniform(*HEAD_PX))
            event.shift = (math.cos(angle) * event.amplitude, math.sin(angle) * event.amplitude)
        events.append(event)
        index = offset + 1 + int(fps * rng.uniform(*IDLE_SECONDS))


def _ease(index: int, onset: int, offset: int) -> float:
    """0 before onset, 1 after offset, a smooth S in between (a head that moves and stays)."""
    if index <= onset:
        return 0.0
    if index >= offset:
        return 1.0
    return 0.5 - 0.5 * math.cos(math.pi * (index - onset) / (offset - onset))


def render(subject: faces.Subject, rng, events: list[Event], frames: int, colour: bool,
           jitter: float = 1.0, fps: float = 30.0):
    """The recording's frames (uint8 gray or BGR), drawn one at a time on demand.

    The camera shake (faces.Jitter) moves 30 times a second, interpolated between:
    a camera does not shake more per second because it records more frames."""
    renderer = faces.ClipRenderer(subject, faces.sample_look(rng, subject))
    frame_rng = np.random.default_rng(int(rng.integers(2**63)))
    shake = faces.Jitter(frame_rng, subject.height, jitter)
    step = max(1, int(round(fps / 30.0)))
    before = after = np.asarray(shake.next())
    to_frame = subject.height / 640.0
    for index in range(frames):
        if index % step == 0:
            before, after = after, np.asarray(shake.next())
        moved = before + (after - before) * (index % step) / step
        deltas, dx, dy = {}, 0.0, 0.0
        for event in events:
            if event.kind == "head":
                done = _ease(index, event.onset, event.offset)
                dx += event.shift[0] * done * to_frame
                dy += event.shift[1] * done * to_frame
                continue
            strength = motion.profile(index, event.onset, event.apex, event.offset)
            if strength <= 0:
                continue
            if event.kind == "blink":
                deltas["eye_open"] = deltas.get("eye_open", 0.0) - strength * event.amplitude
            else:
                for key, value in motion.deltas(event.motion, strength * event.amplitude).items():
                    deltas[key] = deltas.get(key, 0.0) + value
        gray = renderer.render(deltas, (float(moved[0]), float(moved[1])), frame_rng)
        if dx or dy:  # the head's position: a sub-pixel shift of the whole frame
            matrix = np.float32([[1, 0, dx], [0, 1, dy]])
            gray = cv2.warpAffine(gray, matrix, (gray.shape[1], gray.shape[0]),
                                  flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
        yield faces.to_colour(gray, subject) if colour else gray


def truth(events: list[Event], first: int) -> list[dict]:
    """The expressions as absolute frame numbers (the layout's first frame is ``first``)."""
    return [{"onset": e.onset + first, "apex": e.apex + first, "offset": e.offset + first,
             "type": e.kind, "label": e.label, "px_640": round(e.amplitude / SCALE_640, 2)}
            for e in events if e.kind in ("me", "mae")]


def distractors(events: list[Event], first: int) -> list[dict]:
    return [{"kind": e.kind, "onset": e.onset + first, "offset": e.offset + first}
            for e in events if e.kind in ("blink", "head")]
