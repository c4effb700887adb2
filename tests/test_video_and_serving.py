"""Video input (ingestion and predict) and the TF Serving REST body."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mer_tfx.errors import UserError
from mer_tfx.ingestion.clips import ClipSpec, Reject
from mer_tfx.ingestion.convert import convert_clip
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.predict import predict_clip, prediction_record
from mer_tfx.serving_client import clip_request, examples_of, rest_body
from mer_tfx.synthetic import generate

MER_TFX = os.path.join(os.path.dirname(sys.executable), "mer-tfx")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same synthetic clips as frame folders (csv layout) and as video files."""
    base = tmp_path_factory.mktemp("video")
    kwargs = dict(subjects=2, clips_per_class=1, seed=3, progress=False)
    return (generate("csv", str(base / "frames"), **kwargs),
            generate("video", str(base / "videos"), **kwargs))


def _frames(serialized):
    import tensorflow as tf

    example = tf.train.SequenceExample.FromString(serialized)
    return [f.bytes_list.value[0] for f in example.feature_lists.feature_list["frames"].feature]


def test_the_video_dataset_gives_the_frame_folders_records(both):
    frames, videos = both
    from_folders = read_annotations("csv", frames.root, frames.annotations)
    from_videos = read_annotations("video", videos.root, videos.annotations)
    assert len(from_videos) == len(from_folders) == len(videos.clips)
    assert all(isinstance(r, ClipSpec) and r.video and not r.clip_dir for r in from_videos)
    for folder_spec, video_spec in zip(from_folders, from_videos):
        assert video_spec.offset - video_spec.onset == folder_spec.offset - folder_spec.onset
        a = convert_clip(folder_spec, 64, flow=False)
        b = convert_clip(video_spec, 64, flow=False)
        assert _frames(a.serialized) == _frames(b.serialized), video_spec.clip_id


def test_bad_videos_are_rejects_with_reasons(both, tmp_path):
    _, videos = both
    good = read_annotations("video", videos.root, videos.annotations)[0]
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 100)
    cases = {
        "unreadable_video": dict(video=str(tmp_path / "missing.avi")),
        "interval_beyond_video": dict(onset=good.onset + 10_000, apex=good.onset + 10_000,
                                      offset=good.onset + 10_002),
    }
    import dataclasses
    for reason, change in cases.items():
        outcome = convert_clip(dataclasses.replace(good, **change), 64, flow=False)
        assert isinstance(outcome, Reject) and outcome.reason == reason, outcome
    outcome = convert_clip(dataclasses.replace(good, video=str(broken)), 64, flow=False)
    assert isinstance(outcome, Reject) and outcome.reason == "unreadable_video"


def test_a_video_path_outside_the_root_is_rejected(tmp_path):
    sheet = tmp_path / "intervals.csv"
    sheet.write_text("subject,video,onset,apex,offset,label\n"
                     "P01,../elsewhere.avi,0,1,2,happiness\n"
                     "P01,/abs/rec.avi,0,1,2,happiness\n")
    rows = read_annotations("video", str(tmp_path), str(sheet))
    assert [r.reason for r in rows] == ["path_escape", "path_escape"]


def test_predict_video_errors_are_clear(both):
    _, videos = both
    video = os.path.join(videos.root, videos.clips[0]["video"])
    frames = int(cv2.VideoCapture(video).get(cv2.CAP_PROP_FRAME_COUNT))
    with pytest.raises(UserError, match="beyond the video"):
        prediction_record(None, 0, None, frames + 5, 64, video=video)
    with pytest.raises(UserError, match="no such video"):
        prediction_record(None, video=video + ".missing")


@pytest.mark.slow
def test_video_predict_equals_frame_folder_predict(both, pipeline_run):
    frames, videos = both
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    size = pipeline_run.settings.ingest.crop_size
    folder_clip, video_clip = frames.clips[1], videos.clips[1]
    from_folder = predict_clip(
        model, os.path.join(frames.root, folder_clip["subject"], folder_clip["clip"]),
        folder_clip["onset"], None, folder_clip["offset"], size=size)
    from_video = predict_clip(model, None, video_clip["onset"], None, video_clip["offset"],
                              size=size, video=os.path.join(videos.root, video_clip["video"]))
    assert from_video["frames"] == from_folder["frames"]
    assert from_video["apex"] - from_video["onset"] == from_folder["apex"] - from_folder["onset"]
    assert from_video["predicted_class"] == from_folder["predicted_class"]
    for name, p in from_folder["probabilities"].items():
        assert from_video["probabilities"][name] == pytest.approx(p, abs=1e-6)


@pytest.mark.slow
def test_the_rest_body_round_trips_through_the_serving_signature(both, pipeline_run):
    import tensorflow as tf

    _, videos = both
    clip = videos.clips[0]
    video = os.path.join(videos.root, clip["video"])
    size = pipeline_run.settings.ingest.crop_size
    done = subprocess.run([MER_TFX, "predict", "--video", video, "--onset", str(clip["onset"]),
                           "--offset", str(clip["offset"]), "--crop-size", str(size),
                           "--print-request"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    body = json.loads(done.stdout)
    assert body == json.loads(json.dumps(clip_request(None, clip["onset"], None, clip["offset"],
                                                      size=size, video=video)))
    assert body["signature_name"] == "serving_default"
    examples = examples_of(body)
    assert examples_of(rest_body(examples)) == examples
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    expected = predict_clip(model, None, clip["onset"], None, clip["offset"], size=size,
                            video=video)
    from mer_tfx.predict import resolve_model_dir

    serve = tf.saved_model.load(resolve_model_dir(model)).signatures["serving_default"]
    outputs = serve(examples=tf.constant(examples))
    served = dict(zip([n.decode() for n in outputs["classes"].numpy()[0]],
                      outputs["probabilities"].numpy()[0].tolist()))
    assert served == pytest.approx(expected["probabilities"], abs=1e-6)
