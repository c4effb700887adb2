"""The evaluation report: files written, figures taken from TFMA, clear errors.

The slow tests read the Evaluator output of the session's ``pipeline_run``
(conftest); the rest use hand-made folders and protos.
"""
import glob
import json
import math
import os
import re
import shutil

import matplotlib.image
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import validation_result_pb2

from mer_tfx.errors import UserError
from mer_tfx.evaluation import report as report_lib
from mer_tfx.evaluation import results as results_lib

FILES = ("metrics.json", "confusion_matrix.png", "per_class.png", "report.html")


def _latest_tfma_folder(pipeline_root):
    folders = [p for p in glob.glob(os.path.join(pipeline_root, "Evaluator", "evaluation", "*"))
               if os.path.basename(p).isdigit() and glob.glob(os.path.join(p, "metrics*"))]
    return max(folders, key=lambda p: int(os.path.basename(p)))


def _tfma_slices(evaluation_path):
    """{slice key: {metric: float}} straight from tfma.load_eval_result."""
    result = tfma.load_eval_result(evaluation_path)
    return {key: {name: float(value["doubleValue"]) for name, value in by_output[""][""].items()}
            for key, by_output in result.slicing_metrics}


@pytest.fixture(scope="module")
def written(pipeline_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("report"))
    returned = report_lib.write_report(pipeline_run.pipeline_root, out)
    with open(os.path.join(out, "metrics.json")) as handle:
        metrics = json.load(handle)
    with open(os.path.join(out, "report.html"), encoding="utf-8") as handle:
        page = handle.read()
    return {"out": out, "returned": returned, "metrics": metrics, "html": page}


@pytest.mark.slow
def test_all_four_files_are_written(written):
    for name in FILES:
        path = os.path.join(written["out"], name)
        assert os.path.getsize(path) > 0, name
        assert written["returned"]["files"][name] == path
    assert written["returned"]["overall"] == written["metrics"]["overall"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["confusion_matrix.png", "per_class.png"])
def test_figures_are_valid_pngs(written, name):
    image = matplotlib.image.imread(os.path.join(written["out"], name))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.mark.slow
def test_figures_match_tfma_for_the_latest_evaluation(written, pipeline_run):
    """The newest pipeline run's evaluation, as ML Metadata records it (other tests re-run
    the fixture's pipeline: a cached re-run reports the fixture run's own evaluation, not
    the newest folder on disk)."""
    from mer_tfx.pipeline import metadata

    metrics = written["metrics"]
    runs = metadata.pipeline_runs(metadata.open_store(pipeline_run.settings.metadata_path),
                                  pipeline_run.settings.pipeline_name)
    evaluated = [r for r in runs if r.uri("Evaluator", "evaluation")]
    assert metrics["run"]["id"] == evaluated[-1].run_id
    assert metrics["evaluation_path"] == evaluated[-1].uri("Evaluator", "evaluation")
    overall = _tfma_slices(metrics["evaluation_path"])[()]
    assert set(metrics["overall"]) == {"uar", "uf1", "accuracy", "example_count",
                                       "min_class_recall"}
    for name, value in metrics["overall"].items():
        assert value == pytest.approx(overall[name]), name
    for row in metrics["per_class"]:
        for kind in ("precision", "recall", "f1", "support"):
            assert row[kind] == pytest.approx(overall[f"{kind}/{row['class']}"])


@pytest.mark.slow
def test_slices_match_tfma(written):
    metrics = written["metrics"]
    slices = _tfma_slices(metrics["evaluation_path"])
    assert {"label", "subject", "dataset"} <= set(metrics["slices"])
    for feature in ("label", "subject", "dataset"):
        expected = {key[0][1] for key in slices if key and key[0][0] == feature}
        rows = metrics["slices"][feature]
        assert {row["value"] for row in rows} == expected
        for row in rows:
            tfma_row = slices[((feature, row["value"]),)]
            for name in ("example_count", "uar", "uf1", "accuracy"):
                if row[name] is None:
                    assert math.isnan(tfma_row[name])
                else:
                    assert row[name] == pytest.approx(tfma_row[name])


@pytest.mark.slow
def test_class_order_and_confusion_matrix(written, pipeline_run):
    metrics = written["metrics"]
    assert [row["class"] for row in metrics["per_class"]] == list(pipeline_run.class_names)
    confusion = metrics["confusion_matrix"]
    assert confusion["classes"] == list(pipeline_run.class_names)
    counts = confusion["counts"]
    assert len(counts) == len(pipeline_run.class_names)
    assert all(len(row) == len(pipeline_run.class_names) for row in counts)
    assert sum(map(sum, counts)) == metrics["overall"]["example_count"]
    for row, per_class in zip(counts, metrics["per_class"]):  # rows are actual classes
        assert sum(row) == per_class["support"]


@pytest.mark.slow
def test_blessed_and_validation_follow_the_evaluator(written, pipeline_run):
    metrics = written["metrics"]
    blessing = os.path.join(pipeline_run.pipeline_root, "Evaluator", "blessing",
                            os.path.basename(metrics["evaluation_path"]))
    assert metrics["blessed"] is os.path.exists(os.path.join(blessing, "BLESSED"))
    validation = tfma.load_validation_result(metrics["evaluation_path"])
    assert metrics["validation"]["ok"] is validation.validation_ok
    assert isinstance(metrics["validation"]["failures"], list)


@pytest.mark.slow
def test_report_lists_the_release_gates_and_how_the_epoch_was_selected(written):
    gates = written["metrics"]["gates"]
    assert [(g["metric"], g["slice"]) for g in gates] == [("uar", "Overall")]
    # the fixture's run (bar 0), or the Pusher test's re-run (bar 1.01) if it ran first
    assert gates[0]["bar"] in (0.0, 1.01)
    assert gates[0]["value"] == pytest.approx(written["metrics"]["overall"]["uar"])
    assert gates[0]["passed"] is (gates[0]["value"] >= gates[0]["bar"])
    assert gates[0]["passed"] is written["metrics"]["blessed"]
    assert "Release gates" in written["html"]
    selection = written["metrics"]["training"]["model_selection"]
    assert re.search(r"(\d+ validation subjects?|validation subjects) drawn from the "
                     r"training subjects", selection)
    assert selection in written["html"]


@pytest.mark.slow
def test_html_names_every_class_and_subject(written):
    page, metrics = written["html"], written["metrics"]
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    subjects = {key[0][1] for key in _tfma_slices(metrics["evaluation_path"])
                if key and key[0][0] == "subject"}
    assert subjects
    for text in list(metrics["class_names"]) + sorted(subjects):
        assert f">{text}<" in page, text
    assert metrics["evaluation_path"] in page
    assert ("NOT BLESSED" in page) is (not metrics["blessed"])
    assert page.count("data:image/png;base64,") == 2


@pytest.mark.slow
def test_kubeflow_layout_is_found_under_the_pipeline_name(pipeline_run, tmp_path):
    """KFP v2 runs write <root>/<pipeline name>/<run id>/Evaluator/{evaluation,blessing}."""
    source = _latest_tfma_folder(pipeline_run.pipeline_root)
    evaluator = tmp_path / "root" / "mer-tfx" / "run-42" / "Evaluator"
    shutil.copytree(source, evaluator / "evaluation")
    (evaluator / "blessing").mkdir()
    (evaluator / "blessing" / "BLESSED").write_text("")
    result = report_lib.write_report(str(tmp_path / "root"), str(tmp_path / "out"))
    assert result["evaluation_path"].endswith("run-42/Evaluator/evaluation")
    assert result["blessed"] is True
    with pytest.raises(UserError):
        report_lib.write_report(str(tmp_path / "root"), str(tmp_path / "o2"),
                                pipeline_name="other")


@pytest.mark.slow
def test_kubeflow_report_has_the_same_sections_as_the_local_one(pipeline_run, written,
                                                                 tmp_path):
    """Every output the report reads, laid out as KFP v2 leaves it (with and without salt)."""
    from mer_tfx.evaluation.layout import newest

    local = pipeline_run.pipeline_root
    run = tmp_path / "root" / "mer-tfx" / "run-7"
    for component, output, salt in (("Evaluator", "evaluation", ""),
                                    ("Evaluator", "blessing", ""),
                                    ("Trainer", "model_run", "5521"),
                                    ("MerExampleGen", "ingest_report", ""),
                                    ("ExampleValidator", "anomalies", "7310")):
        source = (written["metrics"]["evaluation_path"] if output == "evaluation"
                  else newest(os.path.join(local, component, output)))
        shutil.copytree(source, run / component / salt / output)
    kubeflow = report_lib.write_report(str(tmp_path / "root"), str(tmp_path / "kfp_out"))
    assert kubeflow["layout"] == "kubeflow" and written["metrics"]["layout"] == "local"
    for section in ("ingestion", "anomalies", "training", "gates", "validation", "slices"):
        assert kubeflow[section], section
        assert kubeflow[section] == written["metrics"][section] or section in (
            "ingestion", "anomalies"), section  # (their "path" differs)
    headings = lambda page: re.findall(r"<h2>(.*?)</h2>", page)  # noqa: E731
    page = (tmp_path / "kfp_out" / "report.html").read_text()
    assert headings(page) == headings(written["html"])


# --- no pipeline run needed -------------------------------------------------------------------

def test_no_evaluator_output_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        report_lib.write_report(str(tmp_path / "missing"), str(tmp_path / "out"))

    (tmp_path / "Trainer" / "model" / "4").mkdir(parents=True)
    with pytest.raises(UserError, match=r"no Evaluator output under .*Run the pipeline"):
        report_lib.write_report(str(tmp_path), str(tmp_path / "out"))

    (tmp_path / "Evaluator" / "evaluation" / "5").mkdir(parents=True)
    with pytest.raises(UserError, match="no ML Metadata store"):
        report_lib.write_report(str(tmp_path), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_output_folder_instead_of_pipeline_root_names_the_right_one(tmp_path):
    (tmp_path / "pipeline_root" / "Evaluator" / "evaluation" / "7").mkdir(parents=True)
    with pytest.raises(UserError, match="--pipeline-root .*pipeline_root"):
        report_lib.write_report(str(tmp_path), str(tmp_path / "out"))


def test_metric_values_in_tfma_json_form():
    assert results_lib.metric_number({"doubleValue": 0.25}) == 0.25
    assert results_lib.metric_number({"doubleValue": 0.0}) == 0.0
    assert results_lib.metric_number({"doubleValue": "NaN"}) is None
    assert results_lib.metric_number({"doubleValue": "Infinity"}) is None
    assert results_lib.metric_number({"boundedValue": {"value": 0.5}}) == 0.5
    assert results_lib.metric_number(None) is None


def test_confusion_matrix_reads_proto3_json_with_zero_fields_dropped():
    # What load_eval_result gives: threshold 0.0 and class id 0 are absent.
    plot = {"": {"": {"multiClassConfusionMatrixAtThresholds": {"matrices": [
        {"threshold": 0.5, "entries": [{"numWeightedExamples": 99.0}]},
        {"entries": [{"numWeightedExamples": 4.0},
                     {"predictedClassId": 2, "numWeightedExamples": 1.0},
                     {"actualClassId": 1, "predictedClassId": 1, "numWeightedExamples": 3.0},
                     {"actualClassId": 2, "predictedClassId": -1,
                      "numWeightedExamples": 2.0}]}]}}}}
    confusion = results_lib.confusion_from_plot(plot, ["a", "b", "c"])
    assert confusion["classes"] == ["a", "b", "c"]
    assert confusion["counts"] == [[4, 0, 1], [0, 3, 0], [0, 0, 0]]
    assert confusion["outside_classes"] == 2


def test_validation_failures_are_listed():
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    per_slice = result.metric_validations_per_slice.add()
    per_slice.slice_key.single_slice_keys.add(column="subject", bytes_value=b"s07")
    failure = per_slice.failures.add()
    failure.metric_key.name = "uar"
    failure.metric_value.double_value.value = 0.25
    failure.metric_threshold.value_threshold.lower_bound.value = 0.4
    failure.message = "below the lower bound"
    result.missing_slices.add(feature_keys=["dataset"])

    summary = results_lib.validation_summary(result)
    assert summary["ok"] is False
    first, missing = summary["failures"]
    assert first["slice"] == "subject:s07" and first["metric"] == "uar"
    assert first["value"] == 0.25 and first["message"] == "below the lower bound"
    assert first["threshold"] == {"valueThreshold": {"lowerBound": 0.4}}
    assert missing["slice"] == "dataset"


def test_data_checks_read_ingestion_summary_and_anomalies(tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    from mer_tfx.evaluation import data_checks
    from mer_tfx.evaluation.layout import newest

    root = tmp_path / "root"
    report_dir = root / "MerExampleGen" / "ingest_report" / "7"
    report_dir.mkdir(parents=True)
    (report_dir / "summary.json").write_text(json.dumps(
        {"rows": 5, "converted": 4, "rejected": 1, "repaired": 0,
         "rejected_by_reason": {"missing_folder": 1}}))
    for number, split in ((3, "train"), (9, "eval")):
        folder = root / "ExampleValidator" / "anomalies" / str(number) / f"Split-{split}"
        folder.mkdir(parents=True)
        anomalies = anomalies_pb2.Anomalies()
        if number == 9:
            info = anomalies.anomaly_info["label"]
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
            info.short_description = "Unexpected string values"
            info.description = "Examples contain values missing from the schema: confused."
        (folder / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())

    summary = data_checks.ingestion_summary(str(report_dir))
    assert summary["converted"] == 4 and summary["path"].endswith("7")
    found = data_checks.schema_anomalies(newest(str(root / "ExampleValidator" / "anomalies")))
    assert found["path"].endswith("9")  # the newest ExampleValidator run
    assert found["splits"] == {"eval": [{
        "feature": "label", "severity": "ERROR", "short": "Unexpected string values",
        "description": "Examples contain values missing from the schema: confused."}]}
    assert data_checks.schema_anomalies(str(tmp_path / "nothing")) is None
