"""Training-only augmentation, drawn once per clip and applied to all its frames.

Per-frame random flips or brightness would create motion that is not in the
face; one draw per clip keeps the temporal signal intact. Flow maps are only
mirrored (``augment_flow``). Works on standardised
frames [T, S, S, C]: channel 0 is appearance, channel 1 (if any) is the motion
channel, which a brightness shift does not change. Padding steps
(``pad_truncate``: all-zero steps, transform.temporal.real_steps) stay zero, so the models'
masks still find them.

Draws are stateless from ``seed`` (a [2] int tensor, one per clip): the same seed
gives the same augmentation, whichever thread maps the clip.
"""
from __future__ import annotations

import tensorflow as tf

from mer_tfx.transform.temporal import real_steps

MAX_BRIGHTNESS = 0.3  # in standard deviations
CONTRAST_RANGE = (0.75, 1.25)


def _draws(seed, count: int):
    return tf.random.stateless_uniform([count], seed=tf.cast(seed, tf.int64))


def augment_clip(frames, label, seed):
    flip, contrast, brightness = tf.unstack(_draws(seed, 3))
    frames = tf.cond(flip < 0.5, lambda: tf.reverse(frames, axis=[2]), lambda: frames)
    contrast = CONTRAST_RANGE[0] + contrast * (CONTRAST_RANGE[1] - CONTRAST_RANGE[0])
    brightness = (2.0 * brightness - 1.0) * MAX_BRIGHTNESS
    channels = frames.shape[-1]
    real = real_steps(frames)  # [T]
    shift = (tf.constant([1.0] + [0.0] * (channels - 1)) * brightness
             * tf.cast(real, frames.dtype)[:, None, None, None])
    return frames * contrast + shift, label


def augment_flow(flow, label, seed):
    """Mirror the flow maps [F, F, 3] (u, v, strain) left-right half of the time: a
    mirrored face moves the other way, so u changes sign (Transform scales u without a
    mean shift for this)."""
    flip = _draws(seed, 1)[0] < 0.5
    mirrored = tf.reverse(flow, axis=[1]) * tf.constant([-1.0, 1.0, 1.0])
    return tf.cond(flip, lambda: mirrored, lambda: flow), label
