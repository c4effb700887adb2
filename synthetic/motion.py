"""Class-specific facial motions and their time course.

A motion is a set of displacements of the face's shape parameters (see
``faces.SHAPE_PARAMS``), in pixels of a 200-px-high frame per unit amplitude.
Every motion is local (brows, eyes, nose or mouth) and moves a parameter by less
than that parameter already varies between subjects and clips, so the class is
visible in how the face changes between onset and apex, never in one frame.
"""
from __future__ import annotations

import math

# Shape-parameter displacement per pixel of amplitude.
MOTIONS = {
    # AU6+12: lip corners pulled up and out
    "lip_corner_pull": {"corner_dy_l": -1.0, "corner_dy_r": -1.0, "mouth_hw_l": 0.5,
                        "mouth_hw_r": 0.5},
    # AU15: lip corners pulled down
    "lip_corner_depress": {"corner_dy_l": 1.0, "corner_dy_r": 1.0, "lip_lo": 0.3},
    # AU12 on one side (R12), the classic contempt smirk
    "unilateral_pull": {"corner_dy_r": -1.1, "mouth_hw_r": 0.7},
    # AU1+2: both brows up
    "brow_raise": {"brow_gap": 1.0, "brow_arch": 0.3},
    # AU4: brows down and drawn together
    "brow_lower": {"brow_gap": -0.8, "brow_inner_dx": -0.8, "brow_tilt": 0.5},
    # AU9+10: nose wrinkle, upper lip raised
    "nose_wrinkle": {"nostril_dy": -0.9, "lip_raise": 0.8, "lip_up": 0.2},
    # AU14/24: lips pressed thin
    "lip_press": {"lip_up": -0.55, "lip_lo": -0.65, "mouth_hw_l": -0.3, "mouth_hw_r": -0.3},
    # AU6/7: lower lids and cheeks up (eye squint)
    "eye_squint": {"lower_lid": 0.55, "cheek_v": -1.0, "eye_open": -0.25},
    # AU20: lips stretched sideways
    "lip_stretch": {"mouth_hw_l": 0.9, "mouth_hw_r": 0.9, "corner_dy_l": 0.25,
                    "corner_dy_r": 0.25},
}

# Emotion class (as the dataset spells it, lower-case) -> motion.
CLASS_MOTION = {
    "happiness": "lip_corner_pull",
    "happy": "lip_corner_pull",
    "positive": "lip_corner_pull",
    "surprise": "brow_raise",
    "disgust": "nose_wrinkle",
    "negative": "nose_wrinkle",
    "repression": "lip_press",
    "anger": "brow_lower",
    "contempt": "unilateral_pull",
    "fear": "lip_stretch",
    "sad": "lip_corner_depress",
    "sadness": "lip_corner_depress",
    "others": "eye_squint",
}

# Class balances a synthetic dataset can copy (``mer-tfx synth --balance``): clips per
# class relative to the largest. casme2: CASME II's five-class counts (others 99,
# disgust 63, happiness 32, repression 27, surprise 25 of its 255 clips).
BALANCES = {"equal": {}, "casme2": {"others": 99, "disgust": 63, "happiness": 32,
                                    "repression": 27, "surprise": 25}}


def clips_per_label(labels, clips_per_class: int, balance: str = "equal") -> dict:
    """Clips of each label per subject: ``clips_per_class`` for the largest class of the
    balance, the others in proportion (at least 1; labels it does not name: 1)."""
    counts = BALANCES[balance]
    if not counts:
        return {label: clips_per_class for label in labels}
    top = max(counts.values())
    return {label: max(1, int(round(clips_per_class * counts.get(label, 0) / top)))
            for label in labels}


# Event length (onset..offset, frames) by frame rate: about the same duration in
# seconds would be too long for CI, so these are just "short, but smooth".
EVENT_FRAMES = {200: (10, 22), 100: (10, 16), 30: (8, 12)}
NEUTRAL_FRAMES = (3, 6)  # neutral frames before the onset and after the offset
AMPLITUDE_PX = (2.5, 4.0)  # peak displacement, pixels at 200-px frame height
# Where the apex falls between onset and offset (fraction of the event): real sheets put
# it anywhere from about 15% to 85% (CASME II, SAMM), not near the middle, so the
# midpoint is no stand-in for a spotted apex.
APEX_FRACTION = (0.15, 0.85)


def profile(index: int, onset: int, apex: int, offset: int) -> float:
    """Motion strength in [0, 1]: 0 at onset, 1 at apex, back to 0 at offset."""
    if index <= onset or index >= offset:
        return 0.0
    if index <= apex:
        return math.sin(0.5 * math.pi * (index - onset) / (apex - onset)) ** 2
    return math.cos(0.5 * math.pi * (index - apex) / (offset - apex)) ** 2


def deltas(motion: str, strength: float) -> dict:
    """Shape-parameter displacements (pixels at 200-px height) for one frame."""
    return {name: weight * strength for name, weight in MOTIONS[motion].items()}


def plan_event(rng, fps: int, start: int):
    """(onset, apex, offset) frame indices of one event whose onset is at ``start``."""
    low, high = EVENT_FRAMES[fps]
    length = int(rng.integers(low, high + 1))
    offset = start + length - 1
    apex = start + int(round((length - 1) * rng.uniform(*APEX_FRACTION)))
    apex = min(max(apex, start + 2), offset - 2)
    return start, apex, offset
