"""``mer-tfx predict``: one clip (frame folder or video interval) -> the pushed model's
prediction, as JSON; optionally its Grad-CAM explanation or the TF Serving request.

The clip goes through exactly the ingestion code (frame numbering, face crop,
resize, registration, PNG, apex spotting, onset->apex flow and strain,
SequenceExample), with the settings the model records (model_preprocessing.py),
and then the model's ``serving_default`` signature, so a prediction sees what
training saw.
"""
from __future__ import annotations

import os
import sys

from mer_tfx import model_preprocessing
from mer_tfx.errors import UserError
from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.clips import ClipSpec, Reject
from mer_tfx.ingestion.convert import convert_clip


def resolve_model_dir(path: str) -> str:
    """A SavedModel folder, or a serving folder of numbered versions (the newest wins)."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = sorted((int(n) for n in os.listdir(path) if n.isdigit()), reverse=True)
        for version in versions:
            candidate = os.path.join(path, str(version))
            if os.path.exists(os.path.join(candidate, "saved_model.pb")):
                return candidate
    raise UserError(f"{path}: no SavedModel here nor in numbered version folders below it "
                    "(pass the Pusher's <serving_dir>/<model> folder or one version)")


def clip_spec(frames_dir: str, onset=None, apex=None, offset=None) -> ClipSpec:
    if not os.path.isdir(frames_dir):
        raise UserError(f"{frames_dir}: no such folder")
    frames = fileio.frame_files(frames_dir)
    if not frames:
        raise UserError(f"{frames_dir}: no image files with a frame number in the name "
                        "(expected e.g. img46.jpg or 006_05562.jpg)")
    onset = min(frames) if onset is None else onset
    offset = max(frames) if offset is None else offset
    if onset > offset:
        raise UserError(f"onset {onset} is after offset {offset}")
    repairs = ()
    if apex is None:  # spotted (or the midpoint) by the ingestion code, as in training
        apex, repairs = (onset + offset) // 2, ("apex_missing_midpoint",)
    if not onset <= apex <= offset:
        raise UserError(f"apex {apex} is outside onset..offset {onset}..{offset}")
    return ClipSpec(row=0, dataset="predict", subject="", clip=os.path.basename(
        os.path.normpath(frames_dir)), clip_dir=frames_dir, label="", onset=onset, apex=apex,
        offset=offset, fps=0.0, repairs=repairs)


def video_spec(video: str, onset=None, apex=None, offset=None) -> ClipSpec:
    """A clip of a video file; frame numbers are 0-based video frame indices (default:
    the whole video)."""
    from mer_tfx.ingestion.video import frame_count

    if not os.path.isfile(video):
        raise UserError(f"{video}: no such video file")
    frames = frame_count(video)
    if frames <= 0:
        raise UserError(f"{video}: OpenCV cannot open it as a video (or it has no frames)")
    onset = 0 if onset is None else onset
    offset = frames - 1 if offset is None else offset
    if not 0 <= onset <= offset:
        raise UserError(f"onset {onset} is after offset {offset} (or negative)")
    if offset >= frames:
        raise UserError(f"offset {offset} is beyond the video: {video} has {frames} frames "
                        f"(0..{frames - 1}; frame numbers are 0-based)")
    repairs = ()
    if apex is None:
        apex, repairs = (onset + offset) // 2, ("apex_missing_midpoint",)
    if not onset <= apex <= offset:
        raise UserError(f"apex {apex} is outside onset..offset {onset}..{offset}")
    stem = os.path.splitext(os.path.basename(video))[0]
    return ClipSpec(row=0, dataset="predict", subject="", clip=f"{stem}@{onset}-{offset}",
                    clip_dir="",
                    label="", onset=onset, apex=apex, offset=offset, fps=0.0, repairs=repairs,
                    video=video)


def choose_model(model_dir: str, pipeline_root: str | None = None,
                 run_id: str | None = None, metadata_path: str | None = None) -> tuple[str, str]:
    """(SavedModel path, status): the pushed model, else the pipeline's trained one.

    A model that failed its release gates is not pushed; with ``pipeline_root`` the
    model trained by its newest evaluated run (or ``run_id``) is used instead, and the
    status says so.
    """
    try:
        return resolve_model_dir(model_dir), "pushed"
    except UserError:
        if not pipeline_root:
            raise
    from mer_tfx.evaluation.layout import trained_model

    trained = trained_model(pipeline_root, run_id=run_id, metadata_path=metadata_path)
    if trained is None:
        raise UserError(f"no pushed model in {model_dir} and no trained model in "
                        f"{pipeline_root}: run the pipeline first")
    print(f"mer-tfx predict: no pushed model in {model_dir} (it did not pass the release "
          f"gates); predicting with the trained, unpushed model {trained}", file=sys.stderr)
    return trained, "trained, not pushed (not blessed)"


def input_spec(frames_dir: str | None, onset=None, apex=None, offset=None,
               video: str | None = None) -> ClipSpec:
    """The clip to convert; a one-line UserError for a missing or empty input."""
    return (video_spec(video, onset, apex, offset) if video
            else clip_spec(frames_dir, onset, apex, offset))


def prediction_record(frames_dir: str | None, onset=None, apex=None, offset=None,
                      size: int = 128, face_crop: bool = True,
                      convert_options: dict | None = None, video: str | None = None):
    """The clip (a frame folder, or an interval of ``video``) as ingestion would convert
    it (``Converted``) with these settings, flow maps included: every model gets the
    features it was trained on."""
    spec = input_spec(frames_dir, onset, apex, offset, video)
    converted = convert_clip(spec, size, face_crop, **{**(convert_options or {}), "flow": True})
    if isinstance(converted, Reject):
        raise UserError(f"{video or frames_dir}: {converted.reason}: {converted.detail}")
    return converted


def default_ingest() -> dict:
    """The client ingestion settings' defaults (what a model without a record gets)."""
    from mer_tfx.pipeline.configs import IngestSettings

    defaults = IngestSettings()
    return {name: getattr(defaults, name) for name in model_preprocessing.CLIENT_INGEST}


def model_ingest(model_path: str | None, given: dict | None = None,
                 force: bool = False) -> dict:
    """The ingestion settings to feed ``model_path``: what it records, flags checked
    against it (model_preprocessing.client_ingest); without a model, flags over defaults."""
    if model_path is None:
        return {**default_ingest(), **(given or {})}
    return model_preprocessing.client_ingest(model_preprocessing.read(model_path),
                                             default_ingest(), given or {}, force)


def record_for(frames_dir, onset, apex, offset, ingest: dict, video=None):
    """prediction_record with one dict of client ingestion settings."""
    options = {k: v for k, v in ingest.items() if k not in ("crop_size", "face_crop")}
    return prediction_record(frames_dir, onset, apex, offset, ingest["crop_size"],
                             ingest["face_crop"], options, video)


def predict_clip(model_dir: str, frames_dir: str | None, onset=None, apex=None, offset=None,
                 pipeline_root: str | None = None, video: str | None = None,
                 explain_dir: str | None = None, given: dict | None = None,
                 force: bool = False, run_id: str | None = None,
                 metadata_path: str | None = None) -> dict:
    """The prediction as a dict. The clip is converted with the preprocessing the model
    records (``given``: settings the user passed, checked against it; ``force`` lets them
    win). With ``explain_dir``, the Grad-CAM of the predicted class is written there too
    (explain/clips.py) and summarised under "explanation"."""
    import tensorflow as tf

    input_spec(frames_dir, onset, apex, offset, video)  # bad input: say so before loading
    model_path, status = choose_model(model_dir, pipeline_root, run_id, metadata_path)
    ingest = model_ingest(model_path, given, force)
    converted = record_for(frames_dir, onset, apex, offset, ingest, video)
    spec = converted.spec
    serve = tf.saved_model.load(model_path).signatures["serving_default"]
    outputs = serve(examples=tf.constant([converted.serialized]))
    names = [n.decode() for n in outputs["classes"].numpy()[0]]
    probabilities = [float(p) for p in outputs["probabilities"].numpy()[0]]
    result = {
        "model": model_path, "model_status": status, "clip": video or frames_dir,
        "preprocessing": ingest,
        "frames": converted.num_frames,
        "onset": spec.onset, "apex": spec.apex, "apex_source": converted.apex_source,
        "offset": spec.offset,
        "face_detected": converted.face_detected,
        "alignment": converted.alignment, "landmarks_found": converted.landmarks_found,
        "predicted_class": outputs["class_names"].numpy()[0].decode(),
        "probabilities": dict(zip(names, probabilities)),
    }
    if explain_dir:
        from mer_tfx.explain.clips import timed_explanation

        result["explanation"] = timed_explanation(model_path, converted.serialized, names,
                                                  explain_dir)
    return result
