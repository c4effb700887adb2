"""The SequenceExample contract written by ingestion and read by the pipeline.

Context feature names are a contract with schemas/ and transform/: change them
in all three places or not at all.
"""
from __future__ import annotations

import tensorflow as tf

from mer_tfx.labels import three_class

from .clips import ClipSpec

CONTEXT_BYTES = ("dataset", "subject", "clip", "label", "label_3class", "action_units")
CONTEXT_INT = ("onset", "apex", "offset", "num_frames", "face_detected")
CONTEXT_FLOAT = ("fps",)
SEQUENCE_FEATURES = ("frames", "frame_index")


def _bytes(value: str | bytes) -> tf.train.Feature:
    value = value.encode("utf-8") if isinstance(value, str) else value
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def build_sequence_example(spec: ClipSpec, frame_indices: list[int], png_frames: list[bytes],
                           face_detected: bool) -> tf.train.SequenceExample:
    """One clip as a SequenceExample: context = who/what/when, sequence = the frames."""
    example = tf.train.SequenceExample()
    context = example.context.feature
    for name, value in (("dataset", spec.dataset), ("subject", spec.subject),
                        ("clip", spec.clip), ("label", spec.label),
                        ("label_3class", three_class(spec.label)),
                        ("action_units", spec.action_units)):
        context[name].CopyFrom(_bytes(value))
    for name, value in (("onset", spec.onset), ("apex", spec.apex), ("offset", spec.offset),
                        ("num_frames", len(png_frames)), ("face_detected", int(face_detected))):
        context[name].CopyFrom(_int(value))
    context["fps"].CopyFrom(tf.train.Feature(float_list=tf.train.FloatList(value=[spec.fps])))
    frames = example.feature_lists.feature_list["frames"].feature
    indices = example.feature_lists.feature_list["frame_index"].feature
    for index, png in zip(frame_indices, png_frames):
        frames.add().CopyFrom(_bytes(png))
        indices.add().CopyFrom(_int(index))
    return example
