"""`mer-tfx predict`: a clip folder through ingestion code and the pushed model."""
import json
import os
import subprocess
import sys

import pytest

from mer_tfx.errors import UserError
from mer_tfx.predict import choose_model, clip_spec, resolve_model_dir

MER_TFX = os.path.join(os.path.dirname(sys.executable), "mer-tfx")


def _cli(*args):
    return subprocess.run([MER_TFX, "predict", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_predict_a_clip_folder_with_the_pushed_model(pipeline_run):
    clip = pipeline_run.data.clips[0]
    folder = os.path.join(pipeline_run.data.root, clip["subject"], clip["clip"])
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    done = _cli("--model", model, "--frames", folder, "--onset", str(clip["onset"]),
                "--offset", str(clip["offset"]))  # crop size etc.: the model's own
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["predicted_class"] in pipeline_run.class_names
    assert list(result["probabilities"]) == pipeline_run.class_names
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert result["frames"] == clip["offset"] - clip["onset"] + 1
    assert result["predicted_class"] == max(result["probabilities"],
                                            key=result["probabilities"].get)


@pytest.mark.slow
def test_a_model_that_was_not_pushed_predicts_from_the_pipeline_root(pipeline_run, tmp_path):
    """A model below the release gates is not pushed; predict says so and uses the trained one."""
    clip = pipeline_run.data.clips[0]
    folder = os.path.join(pipeline_run.data.root, clip["subject"], clip["clip"])
    empty_serving = tmp_path / "mer_model"
    empty_serving.mkdir()
    done = _cli("--model", str(empty_serving), "--pipeline-root", pipeline_run.pipeline_root,
                "--frames", folder, "--size", str(pipeline_run.settings.ingest.crop_size))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["model_status"] == "trained, not pushed (not blessed)"
    assert result["model"].startswith(os.path.join(pipeline_run.pipeline_root, "Trainer"))
    assert "predicting with the trained, unpushed model" in done.stderr
    assert result["predicted_class"] in pipeline_run.class_names


def test_no_pushed_and_no_trained_model_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no SavedModel"):
        choose_model(str(tmp_path))
    (tmp_path / "pipeline_root" / "Trainer" / "model" / "3").mkdir(parents=True)
    with pytest.raises(UserError, match="no trained model"):
        choose_model(str(tmp_path), str(tmp_path / "pipeline_root"))


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "clip").mkdir()
    done = _cli("--model", str(tmp_path), "--frames", str(tmp_path / "clip"))
    assert done.returncode == 2
    assert "no image files" in done.stderr and "Traceback" not in done.stderr


def test_unreadable_frames_are_a_clear_error(tmp_path):
    clip = tmp_path / "clip"
    clip.mkdir()
    for n in range(3):
        (clip / f"img{n}.jpg").write_bytes(b"garbage")
    done = _cli("--model", str(tmp_path), "--frames", str(clip))
    assert done.returncode == 2
    assert "unreadable_frame" in done.stderr and "Traceback" not in done.stderr


def test_model_folder_without_saved_model_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no SavedModel"):
        resolve_model_dir(str(tmp_path))


def test_apex_outside_the_clip_is_rejected(tmp_path):
    from conftest import write_clip

    write_clip(str(tmp_path / "c"), 5, 9)
    with pytest.raises(UserError, match="outside"):
        clip_spec(str(tmp_path / "c"), onset=5, apex=12, offset=9)
    assert clip_spec(str(tmp_path / "c")).apex == 7


def test_predict_builds_the_same_flow_maps_as_ingestion(tmp_path):
    """A served flow model gets exactly the input it was trained on: predict's record
    and the ingested record of one clip carry identical flow, strain and frames."""
    import tensorflow as tf

    from mer_tfx.ingestion.clips import ClipSpec
    from mer_tfx.ingestion.convert import convert_clip
    from mer_tfx.ingestion.readers import read_annotations
    from mer_tfx.predict import prediction_record
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path), subjects=1, clips_per_class=1, seed=4,
                    frame_size=96, progress=False)
    spec = next(r for r in read_annotations("casme2", data.root, data.annotations)
                if isinstance(r, ClipSpec))
    ingested = convert_clip(spec, size=64)
    predicted = prediction_record(spec.clip_dir, spec.onset, spec.apex, spec.offset, size=64)

    def features(record):
        example = tf.train.SequenceExample.FromString(record)
        return example.context.feature, example.feature_lists.feature_list["frames"]

    (ingested_context, ingested_frames), (predicted_context, predicted_frames) = (
        features(ingested.serialized), features(predicted.serialized))
    for name in ("flow_u", "flow_v", "strain", "apex"):
        assert ingested_context[name] == predicted_context[name], name
    assert len(ingested_context["flow_u"].bytes_list.value[0]) > 0
    assert ingested_frames == predicted_frames
