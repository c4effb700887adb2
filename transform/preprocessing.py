"""Transform's preprocessing_fn: raw clip records -> fixed-size, standardised tensors.

Outputs:
- ``frames_xf`` float32 [B, T, S, S, C]: C=1 appearance, or C=2 with a motion
  channel (each frame minus the onset frame). Standardised with the mean and
  variance TFT computes over real frames only (padding steps excluded), padding
  set to 0 after standardisation.
- ``mask_xf`` float32 [B, T]: 1 for real steps, 0 for padding. The padding steps
  of frames_xf are exactly 0, which is how the frame models and augmentation
  find them (temporal.real_steps) from their one input.
- ``label_xf`` int64 [B]: index of the label in the configured class order, -1
  for a label outside it (dropped before training).
- ``flow_xf`` float32 [B, F, F, 3], instead of frames_xf and mask_xf when the
  configured model reads flow (trainer.config.FLOW_MODELS): the stored onset->apex
  flow u, v and strain (ingestion/flow.py), resized to F x F; u and v divided by
  their joint RMS (no mean shift, so a mirrored flow is the negated u), strain
  standardised.

Frames of any size are decoded and resized in the graph, so the same graph serves
clips straight from a camera folder.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from mer_tfx.trainer.config import TrainerConfig

from .config import TransformConfig
from .temporal import frame_positions

FRAMES_KEY = "frames_xf"
MASK_KEY = "mask_xf"
LABEL_KEY = "label_xf"
FLOW_KEY = "flow_xf"
FLOW_INPUTS = ("flow_u", "flow_v", "strain")  # the records' flow maps (ingestion/records.py)
EPSILON = 1e-6
STATISTIC_DIGITS = 5


def decode_frames(png_bytes, size: int):
    """[N] PNG/JPEG bytes -> [N, size, size, 1] float32 in [0, 1]."""
    def decode(data):
        image = tf.io.decode_image(data, channels=1, expand_animations=False)
        image = tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), [size, size],
                                antialias=True)
        return tf.ensure_shape(image, [size, size, 1])

    return tf.map_fn(decode, png_bytes, fn_output_signature=tf.TensorSpec([size, size, 1],
                                                                          tf.float32))


def gather_window(frames, onset, apex, config: TransformConfig):
    """Ragged [B, (T_i), (1)] frame bytes -> ([B, T, S, S, 1] in [0, 1], mask [B, T])."""
    flat = frames.flat_values  # one PNG per step
    starts = frames.row_starts()
    lengths = frames.row_lengths()
    positions, mask = frame_positions(lengths, apex - onset, config.steps,
                                      config.temporal_strategy)
    chosen = tf.gather(flat, tf.reshape(starts[:, None] + positions, [-1]))
    images = decode_frames(chosen, config.image_size)
    images = tf.reshape(images, [-1, config.steps, config.image_size, config.image_size, 1])
    return images, mask


def label_index(labels, classes):
    """Position of each label in ``classes``; -1 when absent."""
    matches = tf.equal(labels[:, None], tf.constant(list(classes))[None, :])
    found = tf.reduce_any(matches, axis=1)
    return tf.where(found, tf.argmax(tf.cast(matches, tf.int64), axis=1), tf.constant(-1, tf.int64))


def significant(value, digits: int = STATISTIC_DIGITS):
    """``value`` rounded to ``digits`` significant digits.

    TFT sums its statistics in whatever order Beam's workers combine them, so the
    float result can differ in the last bits between two runs on the same data;
    rounded, the transform graph (and so the trained model) is the same every run.
    """
    magnitude = tf.floor(tf.math.log(tf.abs(value) + 1e-30) / tf.math.log(10.0))
    scale = tf.pow(10.0, digits - 1 - magnitude)
    return tf.round(value * scale) / scale


def _standardise(values, mask5):
    """(values - mean) / std with TFT statistics over masked-in pixels only."""
    real = tf.boolean_mask(values, tf.broadcast_to(mask5, tf.shape(values)))
    mean = significant(tft.mean(real))
    std = tf.sqrt(significant(tft.var(real)) + EPSILON)
    return (values - mean) / std * tf.cast(mask5, tf.float32)


def decode_flow(inputs, size: int):
    """The stored maps (bytes of row-major float32) -> [B, size, size, 3] (u, v, strain)."""
    maps = []
    for name in FLOW_INPUTS:
        values = tf.io.decode_raw(inputs[name], tf.float32, little_endian=True)
        side = tf.cast(tf.round(tf.sqrt(tf.cast(tf.shape(values)[1], tf.float32))), tf.int32)
        check = tf.debugging.assert_positive(
            side, message="the records hold no flow maps (ingested with --no-flow): "
                          "re-ingest with flow, or train a frame model")
        with tf.control_dependencies([check]):
            maps.append(tf.reshape(values, [-1, side, side]))
    stacked = tf.stack(maps, axis=-1)
    return tf.image.resize(stacked, [size, size], method="area")


def _flow_inputs(inputs, size: int):
    flow = decode_flow(inputs, size)
    uv, strain = flow[..., :2], flow[..., 2:]
    rms = tf.sqrt(significant(tft.mean(tf.square(uv))) + EPSILON)
    strain_std = tf.sqrt(significant(tft.var(strain)) + EPSILON)
    return tf.concat([uv / rms, (strain - significant(tft.mean(strain))) / strain_std], axis=-1)


def _frame_inputs(inputs, config: TransformConfig) -> dict:
    images, mask = gather_window(inputs["frames"], inputs["onset"], inputs["apex"], config)
    mask5 = tf.cast(mask, tf.float32)[:, :, None, None, None]
    channels = [_standardise(images, mask5)]
    if config.motion_channel:
        motion = (images - images[:, :1]) * mask5
        channels.append(_standardise(motion, mask5))
    return {FRAMES_KEY: tf.concat(channels, axis=-1), MASK_KEY: tf.cast(mask, tf.float32)}


def preprocessing_fn(inputs, custom_config=None):
    """A frame model's inputs (frames_xf, mask_xf) or a flow model's (flow_xf), never
    both: a fold's Transform decodes and analyses only what its model reads (the
    frames' statistics were most of a flow model's Transform time)."""
    config = TransformConfig.from_dict((custom_config or {}).get("transform"))
    trainer = TrainerConfig.from_dict((custom_config or {}).get("trainer"))
    if trainer.reads_flow:
        outputs = {FLOW_KEY: _flow_inputs(inputs, config.flow_size)}
    else:
        outputs = _frame_inputs(inputs, config)
    if config.label_key in inputs:
        outputs[LABEL_KEY] = label_index(inputs[config.label_key], config.classes)
    return outputs
