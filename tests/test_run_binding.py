"""Outputs bound to the run and the model they name.

A report reads one pipeline run, resolved through ML Metadata (cached executions count
as part of the run that reused them), never "the newest folder" of each component; a
model carries the preprocessing it was trained on, and predict uses it.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mer_tfx.errors import UserError

MER_TFX = os.path.join(os.path.dirname(sys.executable), "mer-tfx")


def _records_of_clip(uri, clip_id):
    import glob

    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(uri, "*", "*")))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        context = tf.train.SequenceExample.FromString(record.numpy()).context.feature
        if context["clip"].bytes_list.value[0].decode() == clip_id:
            return record.numpy()
    raise AssertionError(f"clip {clip_id} not in {uri}")


@pytest.mark.slow
def test_predict_uses_the_preprocessing_the_model_records(pipeline_run):
    """The fixture's model was trained on 64-px, unregistered, Farneback clips (none of them
    the defaults): predict with no preprocessing flag serves what the pipeline's own
    ingestion served it, to 1e-6."""
    import tensorflow as tf

    from mer_tfx import model_preprocessing
    from mer_tfx.evaluation import layout
    from mer_tfx.predict import predict_clip, resolve_model_dir

    model = resolve_model_dir(os.path.join(pipeline_run.settings.serving_dir, "mer_model"))
    recorded = model_preprocessing.read(model)
    assert recorded["ingest"] == {"crop_size": 64, "face_crop": True, "register": False,
                                  "flow_algorithm": "farneback", "apex_from": "annotation",
                                  "apex_fallback": "spot", "align": "eyes"}
    assert recorded["transform"]["steps"] == pipeline_run.settings.transform.steps

    run = layout.find_run(pipeline_run.pipeline_root)
    from mer_tfx.pipeline import metadata

    store = metadata.open_store(run.metadata)
    examples = metadata.pipeline_runs(store, pipeline_run.settings.pipeline_name)[-1].uri(
        "MerExampleGen", "examples")
    clip = pipeline_run.data.clips[0]
    record = _records_of_clip(examples, clip["clip"])
    serve = tf.saved_model.load(model).signatures["serving_default"]
    outputs = serve(examples=tf.constant([record]))
    served = dict(zip([n.decode() for n in outputs["classes"].numpy()[0]],
                      outputs["probabilities"].numpy()[0].tolist()))

    folder = os.path.join(pipeline_run.data.root, clip["subject"], clip["clip"])
    predicted = predict_clip(model, folder, clip["onset"], clip["apex"], clip["offset"])
    assert predicted["preprocessing"] == recorded["ingest"]
    for name, p in served.items():
        assert predicted["probabilities"][name] == pytest.approx(p, abs=1e-6)


@pytest.mark.slow
def test_a_flag_that_contradicts_the_model_is_an_error_unless_forced(pipeline_run):
    clip = pipeline_run.data.clips[0]
    folder = os.path.join(pipeline_run.data.root, clip["subject"], clip["clip"])
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    done = subprocess.run([MER_TFX, "predict", "--model", model, "--frames", folder,
                           "--crop-size", "128", "--register"], capture_output=True, text=True)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "--crop-size 128 contradicts the model, trained with crop_size = 64" in done.stderr
    forced = subprocess.run([MER_TFX, "predict", "--model", model, "--frames", folder,
                             "--flow-algorithm", "tvl1", "--force"],
                            capture_output=True, text=True)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert "--force: flow_algorithm = tvl1 instead of the model's farneback" in forced.stderr
    assert json.loads(forced.stdout)["preprocessing"]["flow_algorithm"] == "tvl1"


def test_client_ingest_rules():
    from mer_tfx.model_preprocessing import client_ingest

    recorded = {"ingest": {"crop_size": 64, "register": False}}
    defaults = {"crop_size": 128, "register": True}
    # a model recorded before --align existed was trained on the Haar box crop
    before_align = {"crop_size": 64, "register": False, "align": "box"}
    assert client_ingest(recorded, defaults, {}) == before_align
    assert client_ingest(recorded, defaults, {"crop_size": 64}) == before_align
    with pytest.raises(UserError, match="--register True contradicts .* register = False"):
        client_ingest(recorded, defaults, {"register": True})
    assert client_ingest(None, defaults, {"crop_size": 96}) == {"crop_size": 96,
                                                                "register": True}


@pytest.mark.slow
def test_report_names_its_run_and_the_model_preprocessing(pipeline_run, tmp_path):
    from mer_tfx.evaluation import report as report_lib

    result = report_lib.write_report(pipeline_run.pipeline_root, str(tmp_path))
    run = result["run"]
    assert run["layout"] == "local" and run["id"]
    assert run["executions"]["Evaluator"]["execution_id"] > 0
    subjects = sorted(r["value"] for r in result["slices"]["subject"])
    assert run["eval_subjects"] == subjects
    assert result["preprocessing"]["ingest"]["flow_algorithm"] == "farneback"
    page = (tmp_path / "report.html").read_text()
    assert run["id"] in page and "Preprocessing" in page and "farneback" in page


def test_a_local_root_without_its_metadata_is_a_user_error(tmp_path):
    from mer_tfx.evaluation import report as report_lib

    (tmp_path / "out" / "pipeline_root" / "Evaluator" / "evaluation" / "5").mkdir(parents=True)
    with pytest.raises(UserError, match="no ML Metadata store at .*metadata.db.*--metadata"):
        report_lib.write_report(str(tmp_path / "out" / "pipeline_root"), str(tmp_path / "r"))


@pytest.mark.slow
def test_each_report_shows_its_own_run_after_a_re_split_and_a_cached_re_run(tmp_path):
    """Two runs with different eval subjects in one output folder, then a fully cached
    re-run of the first: the newest run's report is the first split's (its subjects and
    figures), though the newest folders on disk are the second split's; --run-id reads
    the second."""
    from mer_tfx.evaluation import layout
    from mer_tfx.evaluation import report as report_lib
    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.pipeline.local_runner import run
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path / "data"), subjects=4, clips_per_class=1, seed=3,
                    frame_size=64, progress=False)
    base = PipelineSettings.from_dict({
        "dataset": "casme2", "root": data.root, "annotations": data.annotations,
        "output": str(tmp_path / "out"), "ingest": {"crop_size": 48, "flow": False},
        "transform": {"steps": 6, "image_size": 24},
        "trainer": {"model": "motion_cnn_tcn", "epochs": 2, "epoch_selection": "fixed",
                    "batch_size": 8},
        "evaluate": {"uar_threshold": 0.0}})
    subjects = sorted({c["subject"] for c in data.clips})
    split_a = base.replace(**{"ingest.eval_subjects": subjects[:1]})
    split_b = base.replace(**{"ingest.eval_subjects": subjects[1:2]})
    reports = {}
    for name, settings in (("a", split_a), ("b", split_b), ("a again", split_a)):
        run(settings)
        reports[name] = report_lib.write_report(base.pipeline_root, str(tmp_path / name))

    store = metadata.open_store(base.metadata_path)
    runs = metadata.pipeline_runs(store, base.pipeline_name)
    assert len(runs) == 3
    assert all(node.cached for node in runs[-1].nodes.values())  # the re-run reused it all
    assert metadata.executed_count(store, base.pipeline_name, "Evaluator") == 2

    a, b, again = reports["a"], reports["b"], reports["a again"]
    assert a["run"]["eval_subjects"] == subjects[:1]
    assert b["run"]["eval_subjects"] == subjects[1:2]
    assert again["run"]["eval_subjects"] == subjects[:1]
    assert again["run"]["id"] == runs[-1].run_id != a["run"]["id"]
    assert again["evaluation_path"] == a["evaluation_path"] != b["evaluation_path"]
    assert again["overall"] == a["overall"]
    assert again["confusion_matrix"] == a["confusion_matrix"]
    assert {r["value"] for r in again["slices"]["subject"]} == set(subjects[:1])
    # what "the newest folder" would have said: the second split's evaluation
    newest = layout.newest(os.path.join(base.pipeline_root, "Evaluator", "evaluation"))
    assert newest == b["evaluation_path"]
    # the model, eval records and ingestion report of the report are that run's too
    chosen = layout.find_run(base.pipeline_root)
    assert chosen.examples == layout.find_run(base.pipeline_root, run_id=a["run"]["id"]).examples
    assert chosen.model.startswith(
        layout.find_run(base.pipeline_root, run_id=a["run"]["id"]).model.rsplit("/", 1)[0])

    by_id = report_lib.write_report(base.pipeline_root, str(tmp_path / "b by id"),
                                    run_id=b["run"]["id"])
    assert by_id["run"]["eval_subjects"] == subjects[1:2] and by_id["overall"] == b["overall"]
    listed = subprocess.run([MER_TFX, "report", "--pipeline-root", base.pipeline_root,
                             "--list-runs"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 4 and all(r.run_id in listed.stdout for r in runs)
    assert lines[2].startswith(b["run"]["id"]) and lines[2].rstrip().endswith(subjects[1])
    with pytest.raises(UserError, match="no evaluated run 'nope'"):
        layout.find_run(base.pipeline_root, run_id="nope")
    assert np.isfinite(again["overall"]["uar"])
