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


def test_video_intervals_are_cropped_frame_by_frame_as_decoded(both, monkeypatch):
    """At most two full-resolution frames are alive at once, whatever the interval's length."""
    import inspect
    import weakref

    from mer_tfx.ingestion import convert, video

    _, videos = both
    spec = max(read_annotations("video", videos.root, videos.annotations),
               key=lambda s: s.offset - s.onset)
    assert inspect.isgenerator(video.read_interval(spec.video, spec.onset, spec.offset))
    alive, most = [], []

    def watched(path, first, last):
        for gray in video.read_interval(path, first, last):
            alive.append(weakref.ref(gray))
            most.append(sum(ref() is not None for ref in alive))
            yield gray

    monkeypatch.setattr(convert, "read_interval", watched)
    outcome = convert_clip(spec, 32, flow=False)
    assert isinstance(outcome, convert.Converted)
    assert len(most) == spec.offset - spec.onset + 1 > 4 and max(most) <= 2


def test_a_remote_video_is_copied_once_for_all_its_intervals(both, monkeypatch):
    import dataclasses
    import shutil

    from mer_tfx.ingestion import shards, video

    _, videos = both
    specs = read_annotations("video", videos.root, videos.annotations)
    local = {s.video for s in specs}
    copies = []

    def copy(path, target):  # a fake object store: remote://<local path>
        copies.append(path)
        shutil.copyfile(path[len("remote://"):], target)

    monkeypatch.setattr(video.fileio, "copy_to_local", copy)
    monkeypatch.setattr(video, "COPIES", video.LocalCopies())
    remote = [dataclasses.replace(s, video="remote://" + s.video) for s in specs]
    assert [shards.shard_key(s) for s in remote] == [s.video for s in remote]
    ordered = sorted(remote, key=lambda s: (s.video, s.clip_id))  # as a shard orders them
    for spec in ordered:
        here = convert_clip(dataclasses.replace(spec, video=spec.video[len("remote://"):]),
                            32, flow=False)
        assert _frames(convert_clip(spec, 32, flow=False).serialized) == _frames(here.serialized)
    assert sorted(copies) == sorted("remote://" + v for v in local) and len(local) > 1
    assert len(specs) > len(local)  # several intervals per video, one copy each
    folders = [c.folder for c in video.COPIES._copies.values()]
    assert len(folders) == 1 and all(os.path.isdir(f) for f in folders)
    video.COPIES.clear()
    assert not any(os.path.exists(f) for f in folders)


def test_synth_video_never_clears_what_it_did_not_write(tmp_path):
    out = tmp_path / "synth"
    (out / "videos").mkdir(parents=True)
    (out / "videos" / "mine.avi").write_bytes(b"the user's")
    with pytest.raises(UserError, match="choose a new or empty folder"):
        generate("video", str(out), subjects=1, clips_per_class=1, progress=False)
    assert (out / "videos" / "mine.avi").read_bytes() == b"the user's"
    fresh = tmp_path / "fresh"
    kwargs = dict(subjects=1, clips_per_class=1, frame_size=64, progress=False)
    first = generate("video", str(fresh), **kwargs)
    (fresh / "notes.txt").write_text("kept")
    again = generate("video", str(fresh), **kwargs)  # a re-run clears its own outputs only
    assert again.clips == first.clips and (fresh / "notes.txt").read_text() == "kept"
    (fresh / "videos" / "P_extra.txt").write_text("the user's")
    with pytest.raises(UserError, match="P_extra.txt not written by mer-tfx synth"):
        generate("video", str(fresh), **kwargs)
    assert (fresh / "videos" / "P_extra.txt").exists()


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
    folder_clip, video_clip = frames.clips[1], videos.clips[1]
    from_folder = predict_clip(
        model, os.path.join(frames.root, folder_clip["subject"], folder_clip["clip"]),
        folder_clip["onset"], None, folder_clip["offset"])
    from_video = predict_clip(model, None, video_clip["onset"], None, video_clip["offset"],
                              video=os.path.join(videos.root, video_clip["video"]))
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
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    done = subprocess.run([MER_TFX, "predict", "--video", video, "--onset", str(clip["onset"]),
                           "--offset", str(clip["offset"]), "--model", model,
                           "--print-request"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    body = json.loads(done.stdout)
    assert body == json.loads(json.dumps(clip_request(None, clip["onset"], None, clip["offset"],
                                                      model=model, video=video)))
    assert body["signature_name"] == "serving_default"
    examples = examples_of(body)
    assert examples_of(rest_body(examples)) == examples
    expected = predict_clip(model, None, clip["onset"], None, clip["offset"], video=video)
    from mer_tfx.predict import resolve_model_dir

    serve = tf.saved_model.load(resolve_model_dir(model)).signatures["serving_default"]
    outputs = serve(examples=tf.constant(examples))
    served = dict(zip([n.decode() for n in outputs["classes"].numpy()[0]],
                      outputs["probabilities"].numpy()[0].tolist()))
    assert served == pytest.approx(expected["probabilities"], abs=1e-6)
