"""Fixed-length clips: which frames of a variable-length clip fill the T model steps.

Strategies (``temporal_strategy`` in the pipeline config):
- ``resample``: T frames spread over the clip, piecewise-linearly so that step 0
  is the onset, step T//2 the apex and step T-1 the offset, whatever the clip's
  length (short clips repeat frames, long ones skip). Default.
- ``pad_truncate``: the reference thesis's choice: the first T frames from the
  onset; shorter clips are padded (masked steps: zero in frames_xf, skipped by the
  frame models), longer ones cut. Step T//2 is then not the apex.
"""
from __future__ import annotations

import tensorflow as tf

from .config import STRATEGIES


def frame_positions(lengths, apex_offsets, steps: int, strategy: str):
    """(positions [B, T] int64 within each clip, mask [B, T] bool of real steps)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"temporal_strategy must be one of {STRATEGIES}, got {strategy!r}")
    lengths = tf.maximum(tf.cast(lengths, tf.int64), 1)[:, None]
    last = lengths - 1
    k = tf.range(steps, dtype=tf.int64)[None, :]
    if strategy == "pad_truncate":
        return tf.minimum(k, last), k < lengths
    if steps < 3:
        raise ValueError("the resample strategy needs at least 3 steps (onset, apex, offset)")
    apex = tf.clip_by_value(tf.cast(apex_offsets, tf.int64)[:, None], 0, last)
    middle = steps // 2
    kf = tf.cast(k, tf.float64)
    rising = tf.round(kf / middle * tf.cast(apex, tf.float64))
    falling = tf.cast(apex, tf.float64) + tf.round(
        (kf - middle) / (steps - 1 - middle) * tf.cast(last - apex, tf.float64))
    positions = tf.cast(tf.where(k <= middle, rising, falling), tf.int64)
    return positions, tf.ones_like(positions, dtype=tf.bool)


def real_steps(frames):
    """[..., T, S, S, C] frames_xf -> [..., T] bool, False on padding steps.

    frames_xf is multiplied by the mask after standardisation (preprocessing.py), so a
    padding step is all zeros and a real one is not (a standardised frame is exactly 0
    only if every pixel equals the mean): the Trainer and the served model recover
    mask_xf from the frames alone, without a second model input.
    """
    return tf.reduce_any(tf.not_equal(frames, 0.0), axis=[-3, -2, -1])
