"""Release gates: TFMA evaluates fixed predictions with the pipeline's EvalConfig.

The predictions are features of the examples (TFMA's model-agnostic mode), so the
test checks exactly what the Evaluator's blessing depends on: which thresholds
TFMA validates on which slices.
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.options.pipeline_options import PipelineOptions

from conftest import FAST_BEAM_ARGS
from mer_tfx.evaluation.eval_config import build_eval_config, gates_of
from mer_tfx.evaluation.gates import gate_lines
from mer_tfx.evaluation.results import gate_results, validation_summary
from mer_tfx.pipeline.beam_args import with_local_runner
from mer_tfx.transform.preprocessing import LABEL_KEY

CLASSES = ["happiness", "disgust", "repression", "surprise", "others"]
# Correct predictions out of 12 clips per class: repression recall 1/12 = 0.083,
# overall UAR (1/12 + 1 + 1 + 1 + 8/12) / 5 = 0.75.
CORRECT = {"happiness": 12, "disgust": 12, "repression": 1, "surprise": 12, "others": 8}


def _examples():
    """60 clips; every wrong prediction belongs to subject 'weak', whose slice UAR is low."""
    examples = []
    for index, name in enumerate(CLASSES):
        for k in range(12):
            right = k < CORRECT[name]
            predicted = index if right else (index + 1) % len(CLASSES)
            probabilities = np.full(len(CLASSES), 0.05)
            probabilities[predicted] = 0.8
            subject = f"s{k % 4}" if right else "weak"
            examples.append(tf.train.Example(features=tf.train.Features(feature={
                LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
                "probabilities": tf.train.Feature(
                    float_list=tf.train.FloatList(value=probabilities.tolist())),
                "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
                "subject": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[subject.encode()])),
                "dataset": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"casme2"])),
            })))
    return examples


@pytest.fixture(scope="module")
def predictions_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("gates") / "predictions.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for example in _examples():
            writer.write(example.SerializeToString())
    return path


def _evaluate(predictions_file, tmp_path, **gates):
    config = build_eval_config(CLASSES, label_feature="label", **gates)
    del config.model_specs[:]
    config.model_specs.add(label_key=LABEL_KEY, prediction_key="probabilities")
    out = str(tmp_path / "tfma")
    # the product's local runner: Beam's DirectRunner would try Prism first and leave an
    # empty /tmp/beam-temp* folder behind
    tfma.run_model_analysis(eval_config=config, data_location=predictions_file, output_path=out,
                            pipeline_options=PipelineOptions(with_local_runner(FAST_BEAM_ARGS)))
    result = tfma.load_eval_result(out)
    metrics = {key: by_output[""][""] for key, by_output in result.slicing_metrics}
    return config, metrics, validation_summary(tfma.load_validation_result(out))


def test_overall_uar_gate_blesses_despite_a_weak_class_and_a_weak_subject(predictions_file,
                                                                         tmp_path):
    config, metrics, validation = _evaluate(predictions_file, tmp_path, uar_threshold=0.4)
    overall = metrics[()]
    assert overall["uar"]["doubleValue"] == pytest.approx(0.75)
    assert overall["recall/repression"]["doubleValue"] == pytest.approx(1 / 12)
    assert overall["min_class_recall"]["doubleValue"] == pytest.approx(1 / 12)
    # Both slices a per-slice gate would have failed on exist and are below the bar ...
    assert metrics[(("label", "repression"),)]["uar"]["doubleValue"] < 0.4
    assert metrics[(("subject", "weak"),)]["uar"]["doubleValue"] < 0.4
    # ... yet only the overall slice is gated, so the model is blessed.
    assert validation["ok"], validation["failures"]
    assert gates_of(config) == [{"metric": "uar", "slice": "Overall", "bar": 0.4}]


def test_min_class_recall_gate_blocks_a_class_left_behind(predictions_file, tmp_path):
    config, metrics, validation = _evaluate(predictions_file, tmp_path, uar_threshold=0.4,
                                            min_class_recall=0.2)
    assert not validation["ok"]
    assert [(f["slice"], f["metric"]) for f in validation["failures"]] == [
        ("Overall", "min_class_recall")]
    results = gate_results(config, metrics[()], validation)
    assert [(g["metric"], g["passed"]) for g in results] == [("uar", True),
                                                             ("min_class_recall", False)]
    assert results[1]["value"] == pytest.approx(1 / 12) and results[1]["bar"] == 0.2
    lines = "\n".join(gate_lines({"uar": 0.75, "uf1": 0.7, "example_count": 60}, results,
                                 blessed=False))
    assert "min_class_recall >= 0.200 on Overall: 0.083  FAIL" in lines
    assert "NOT blessed" in lines


def test_a_plain_threshold_of_an_older_run_is_reported_as_gating_every_slice():
    config = build_eval_config(CLASSES, uar_threshold=0.4)
    metric = next(m for m in config.metrics_specs[0].metrics if '"name": "uf1"' in m.config)
    metric.threshold.value_threshold.lower_bound.value = 0.5
    gates = gates_of(config)
    assert {"metric": "uf1", "slice": "every slice", "bar": 0.5} in gates
    failures = {"failures": [{"metric": "uf1", "slice": "label:repression"}]}
    results = gate_results(config, {"uar": {"doubleValue": 0.75}}, failures)
    assert [(g["metric"], g["passed"]) for g in results] == [("uar", True), ("uf1", False)]
