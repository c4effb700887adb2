"""Training-only augmentation, drawn once per clip and applied to all its frames.

Per-frame random flips or brightness would create motion that is not in the
face; one draw per clip keeps the temporal signal intact. Flow maps are only
mirrored (``augment_flow``). Works on standardised
frames [T, S, S, C]: channel 0 is appearance, channel 1 (if any) is the motion
channel, which a brightness shift does not change.
"""
from __future__ import annotations

import tensorflow as tf

MAX_BRIGHTNESS = 0.3  # in standard deviations
CONTRAST_RANGE = (0.75, 1.25)


def augment_clip(frames, label):
    flip = tf.random.uniform([]) < 0.5
    frames = tf.cond(flip, lambda: tf.reverse(frames, axis=[2]), lambda: frames)
    contrast = tf.random.uniform([], *CONTRAST_RANGE)
    brightness = tf.random.uniform([], -MAX_BRIGHTNESS, MAX_BRIGHTNESS)
    channels = frames.shape[-1]
    shift = tf.constant([1.0] + [0.0] * (channels - 1)) * brightness
    return frames * contrast + shift, label


def augment_flow(flow, label):
    """Mirror the flow maps [F, F, 3] (u, v, strain) left-right half of the time: a
    mirrored face moves the other way, so u changes sign (Transform scales u without a
    mean shift for this)."""
    flip = tf.random.uniform([]) < 0.5
    mirrored = tf.reverse(flow, axis=[1]) * tf.constant([-1.0, 1.0, 1.0])
    return tf.cond(flip, lambda: mirrored, lambda: flow), label
