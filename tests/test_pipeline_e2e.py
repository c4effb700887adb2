"""The whole TFX pipeline, run once locally (see the pipeline_run fixture)."""
import glob
import io
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, recall_score

from mer_tfx.evaluation.gates import print_gates
from mer_tfx.evaluation.layout import newest

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def latest(pipeline_root, component, output):
    found = newest(os.path.join(pipeline_root, component, output))
    assert found, f"{component}.{output} produced nothing"
    return found


def split_records(pipeline_root, split):
    examples = latest(pipeline_root, "SubjectSplit", "split_examples")
    files = glob.glob(os.path.join(examples, f"Split-{split}", "*.gz"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def context_of(record, key):
    example = tf.train.SequenceExample.FromString(record)
    return example.context.feature[key].bytes_list.value[0].decode()


def test_every_component_produced_its_artifacts(pipeline_run):
    root = pipeline_run.pipeline_root
    for component, output in [("MerExampleGen", "examples"), ("MerExampleGen", "ingest_report"),
                              ("SubjectSplit", "split_examples"),
                              ("ImportSchemaGen", "schema"), ("StatisticsGen", "statistics"),
                              ("ExampleValidator", "anomalies"), ("Transform", "transform_graph"),
                              ("Trainer", "model"), ("Trainer", "model_run"),
                              ("Evaluator", "evaluation"), ("Evaluator", "blessing"),
                              ("Pusher", "pushed_model")]:
        assert os.listdir(latest(root, component, output)), (component, output)
    assert os.path.exists(os.path.join(latest(root, "Evaluator", "blessing"), "BLESSED"))
    versions = glob.glob(os.path.join(pipeline_run.settings.serving_dir, "mer_model", "*",
                                      "saved_model.pb"))
    assert len(versions) == 1
    summary = json.load(open(os.path.join(latest(root, "MerExampleGen", "ingest_report"),
                                          "summary.json")))
    assert summary["rows"] == summary["converted"] + summary["rejected"]
    assert summary["converted"] == len(pipeline_run.data.clips)
    # the effective settings beside the outputs, readable back into the same tree
    from mer_tfx.pipeline.configs import SETTINGS_JSON, PipelineSettings

    written = json.load(open(os.path.join(pipeline_run.settings.output, SETTINGS_JSON)))
    assert PipelineSettings.from_dict(written) == pipeline_run.settings


def test_train_validation_and_eval_subjects_are_disjoint(pipeline_run):
    root = pipeline_run.pipeline_root
    train = {context_of(r, "subject") for r in split_records(root, "train")}
    evaluation = {context_of(r, "subject") for r in split_records(root, "eval")}
    assert train and evaluation and not train & evaluation
    run_dir = latest(root, "Trainer", "model_run")
    validation = set(json.load(open(os.path.join(run_dir, "training_summary.json")))
                     ["validation_subjects"])
    assert validation and validation < train and not validation & evaluation


def _independent_sequence_example(num_frames=9, height=100, width=90, seed=3):
    """A raw clip record built with the TF protobuf API only (not the ingestion code)."""
    rng = np.random.default_rng(seed)
    example = tf.train.SequenceExample()
    example.context.feature["onset"].int64_list.value.append(10)
    example.context.feature["apex"].int64_list.value.append(14)
    example.context.feature["offset"].int64_list.value.append(10 + num_frames - 1)
    frames = example.feature_lists.feature_list["frames"]
    for _ in range(num_frames):
        image = rng.integers(0, 255, size=(height, width), dtype=np.uint8)
        frames.feature.add().bytes_list.value.append(cv2.imencode(".png", image)[1].tobytes())
    for name in ("flow_u", "flow_v", "strain"):  # what the default (flow) model reads
        flow = rng.normal(size=(20, 20)).astype("<f4")
        example.context.feature[name].bytes_list.value.append(flow.tobytes())
    return example.SerializeToString()


def test_serving_signature_in_a_fresh_process(pipeline_run, tmp_path):
    model = glob.glob(os.path.join(pipeline_run.settings.serving_dir, "mer_model", "*"))[0]
    record = tmp_path / "clip.pb"
    record.write_bytes(_independent_sequence_example())
    script = textwrap.dedent(f"""
        import os, json
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tensorflow as tf
        serve = tf.saved_model.load({model!r}).signatures["serving_default"]
        data = open({str(record)!r}, "rb").read()
        out = serve(examples=tf.constant([data, data]))
        print(json.dumps({{k: v.numpy().tolist() for k, v in out.items()}},
                         default=lambda b: b.decode()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    probabilities = np.array(out["probabilities"])
    assert probabilities.shape == (2, len(pipeline_run.class_names))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert out["classes"][0] == pipeline_run.class_names
    assert out["class_names"][0] == pipeline_run.class_names[out["class_ids"][0]]
    assert out["class_ids"][0] == int(np.argmax(probabilities[0]))


def test_the_pushed_model_holds_its_weights_and_no_optimizer_state(pipeline_run):
    model = glob.glob(os.path.join(pipeline_run.settings.serving_dir, "mer_model", "*"))[0]
    saved = [name for name, _ in tf.train.list_variables(os.path.join(model, "variables",
                                                                       "variables"))]
    assert any("kernel" in name for name in saved), saved
    assert not [name for name in saved if name.startswith("optimizer")], saved


def test_tfma_per_class_figures_equal_scikit_learn(pipeline_run):
    root = pipeline_run.pipeline_root
    classes = pipeline_run.class_names
    model = latest(root, "Trainer", "model")
    serve = tf.saved_model.load(os.path.join(model, "Format-Serving")).signatures[
        "serving_default"]
    records = split_records(root, "eval")
    truth = [classes.index(context_of(r, "label")) for r in records]
    predicted = serve(examples=tf.constant(records))["class_ids"].numpy().tolist()

    result = tfma.load_eval_result(latest(root, "Evaluator", "evaluation"))
    overall = dict(result.slicing_metrics)[()][""][""]
    value = lambda name: overall[name]["doubleValue"]  # noqa: E731
    present = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(range(len(classes))), zero_division=0)
    for i, name in enumerate(classes):
        assert value(f"precision/{name}") == pytest.approx(precision[i], abs=1e-6), name
        assert value(f"recall/{name}") == pytest.approx(recall[i], abs=1e-6), name
        assert value(f"f1/{name}") == pytest.approx(f1[i], abs=1e-6), name
        assert value(f"support/{name}") == support[i]
    assert value("uar") == pytest.approx(
        recall_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert value("uf1") == pytest.approx(
        f1_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert value("accuracy") == pytest.approx(accuracy_score(truth, predicted))
    assert value("example_count") == len(records)
    subjects = {key[0][1] for key, _ in result.slicing_metrics if key and key[0][0] == "subject"}
    assert subjects == {context_of(r, "subject") for r in records}


def test_pusher_skips_a_model_below_the_uar_threshold(pipeline_run):
    import dataclasses

    from mer_tfx.pipeline.local_runner import run

    settings = pipeline_run.settings.replace(**{"evaluate.uar_threshold": 1.01})
    before = sorted(os.listdir(os.path.join(settings.serving_dir, "mer_model")))
    run(settings)  # upstream components come from the cache; Evaluator and Pusher re-run
    root = settings.pipeline_root
    assert os.path.exists(os.path.join(latest(root, "Evaluator", "blessing"), "NOT_BLESSED"))
    assert sorted(os.listdir(os.path.join(settings.serving_dir, "mer_model"))) == before
    validation = tfma.load_validation_result(latest(root, "Evaluator", "evaluation"))
    assert not validation.validation_ok
    # What `mer-tfx run` prints: the failed gate, and no traceback-like failure.
    stream = io.StringIO()
    outcome = print_gates(root, settings.pipeline_name, stream=stream)
    assert outcome["blessed"] is False
    assert [(g["metric"], g["slice"], g["passed"]) for g in outcome["gates"]] == [
        ("uar", "Overall", False)]
    assert "uar >= 1.010 on Overall" in stream.getvalue() and "NOT blessed" in stream.getvalue()


def test_the_trainer_records_how_its_epoch_was_selected(pipeline_run):
    summary = json.load(open(os.path.join(latest(pipeline_run.pipeline_root, "Trainer",
                                                 "model_run"), "training_summary.json")))
    assert summary["epoch_selection"] == "validation"
    assert 1 <= summary["kept_epoch"] <= summary["epochs_run"] <= pipeline_run.settings.trainer.epochs
    assert len(summary["validation_curve"]) == summary["epochs_run"]
    assert "no held-out subject was used" in summary["model_selection"]


def test_tfx_cli_creates_and_runs_the_pipeline_from_the_local_runner(pipeline_run, tmp_path):
    """`tfx pipeline create` + `tfx run create` with --engine=local, cached on the fixture run."""
    env = dict(os.environ, **pipeline_run.settings.to_env(), LOCAL_HOME=str(tmp_path / "tfx"))
    name = pipeline_run.settings.pipeline_name
    tfx_cli = os.path.join(os.path.dirname(sys.executable), "tfx")
    runner = os.path.join(REPO, "pipeline", "local_runner.py")
    for command in (["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
                    ["run", "create", "--engine=local", f"--pipeline_name={name}"]):
        done = subprocess.run([tfx_cli, *command], env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    assert os.path.exists(os.path.join(tmp_path, "tfx", name, "pipeline_args.json"))


def test_a_local_run_leaves_no_tfx_package_in_the_temp_folder(pipeline_run):
    """TFX would build a 49 MB sdist of itself per Beam component run, never deleted."""
    left = glob.glob(os.path.join(pipeline_run.temp_dir, "**", "tfx_ephemeral*"),
                     recursive=True)
    assert left == []
