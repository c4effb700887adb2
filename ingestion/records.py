"""The SequenceExample contract written by ingestion and read by the pipeline, declared once.

``CONTEXT`` and ``SEQUENCE`` name every feature with its type and meaning: the writer
below emits exactly them, tests/test_record_contract.py checks that
schemas/schema.pbtxt declares exactly them (and the README lists them), and
transform/, the serving signature and TFMA slicing read these names.
"""
from __future__ import annotations

import tensorflow as tf

from mer_tfx.labels import three_class

from .clips import ClipSpec
from .flow import FLOW_FEATURES, FLOW_SIZE, encode_map


def record_file_options() -> tf.io.TFRecordOptions:
    """How ingestion writes its gzip TFRecord files: in gzip's stored blocks (level 0).
    The frames are PNG, already deflated; deflating the records again saved 3% of
    their bytes for ~10% of the conversion's CPU (0.3 ms a frame). Every gzip reader
    reads them as before."""
    return tf.io.TFRecordOptions(compression_type="GZIP", compression_level=0)


# name -> (type: "bytes" | "int" | "float" | "floats" (a list), what it holds)
CONTEXT = {
    "dataset": ("bytes", "dataset name (casme2, samm, ...)"),
    "subject": ("bytes", "subject as the dataset's folders name it"),
    "clip": ("bytes", "clip folder name; <folder or video>@<onset>-<offset> for an "
                      "interval of a recording several rows annotate (unique per dataset)"),
    "label": ("bytes", "canonical lower-case emotion"),
    "label_3class": ("bytes", "MEGC 2019 composite class (negative, positive, surprise)"),
    "action_units": ("bytes", "FACS action units as annotated"),
    "onset": ("int", "onset frame number"),
    "apex": ("int", "apex frame number"),
    "apex_source": ("bytes", "where the apex comes from: annotated, spotted or midpoint"),
    "offset": ("int", "offset frame number"),
    "num_frames": ("int", "frames stored (onset..offset)"),
    "face_detected": ("int", "1 if the face box was found on the onset frame"),
    "fps": ("float", "frames per second of the recording"),
    "landmarks": ("floats", "x, y of the eye centres, nose tip and mouth corners (image-left "
                            "first) in pixels of the stored crop, (0, 0) the top-left pixel's "
                            "centre: 10 values, all -1 when none were found"),
    "landmarks_found": ("int", "1 if the landmarks were found on the onset frame"),
    "alignment": ("bytes", "how the crop was cut: eyes (eyes on the template positions), "
                           "box (the Haar box) or frame (the whole frame)"),
    "flow_u": ("bytes", f"onset->apex optical flow (--flow-algorithm, TV-L1 by default), "
                        f"x component, face-crop pixels: "
                        f"{FLOW_SIZE}x{FLOW_SIZE} float32, row-major, little-endian "
                        f"(empty with --no-flow)"),
    "flow_v": ("bytes", "the same, y component (down is positive)"),
    "strain": ("bytes", "optical strain magnitude of that flow, unitless, same encoding"),
}
SEQUENCE = {
    "frames": ("bytes", "one PNG per frame, grayscale, face crop"),
    "frame_index": ("int", "absolute frame number of each step"),
}


def _feature(kind: str, value) -> tf.train.Feature:
    if kind == "bytes":
        value = value.encode("utf-8") if isinstance(value, str) else value
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    if kind == "int":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    if kind == "floats":
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in value]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def build_sequence_example(spec: ClipSpec, frame_indices: list[int], png_frames: list[bytes],
                           face_detected: bool, apex_source: str = "annotated",
                           flow: dict | None = None, landmarks: list | None = None,
                           alignment: str = "box") -> tf.train.SequenceExample:
    """One clip as a SequenceExample: context = who/what/when, the onset->apex flow
    maps (``flow``: ingestion/flow.py clip_flow, None = not computed) and the landmarks
    (10 crop-pixel values, ingestion/align.py; None = not found), sequence = the
    frames."""
    values = {"dataset": spec.dataset, "subject": spec.subject, "clip": spec.clip,
              "label": spec.label, "label_3class": three_class(spec.label),
              "action_units": spec.action_units, "onset": spec.onset, "apex": spec.apex,
              "apex_source": apex_source,
              "offset": spec.offset, "num_frames": len(png_frames),
              "face_detected": int(face_detected), "fps": spec.fps,
              "landmarks": [-1.0] * 10 if landmarks is None else landmarks,
              "landmarks_found": int(landmarks is not None), "alignment": alignment,
              **{name: encode_map(flow[name]) if flow else b"" for name in FLOW_FEATURES}}
    example = tf.train.SequenceExample()
    for name, (kind, _) in CONTEXT.items():
        example.context.feature[name].CopyFrom(_feature(kind, values[name]))
    steps = {"frames": png_frames, "frame_index": frame_indices}
    for name, (kind, _) in SEQUENCE.items():
        feature_list = example.feature_lists.feature_list[name].feature
        for value in steps[name]:
            feature_list.add().CopyFrom(_feature(kind, value))
    return example
