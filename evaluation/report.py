"""``mer-tfx report``: one evaluated run as metrics.json, two PNGs and one HTML page.

The run is resolved once (layout.py: ML Metadata's pipeline run for a local root,
the run folder for a Kubeflow one; the newest unless a run id is given), and every
piece of the report is read from that run's outputs, so nothing mixes runs.
Locating the outputs is layout.py's job (local or Kubeflow pipeline root),
reading TFMA's output results.py's, the page html.py's; this module puts them
together with the ingestion accounting, schema anomalies and training summary
(data_checks.py) and writes the files.
"""
from __future__ import annotations

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)

import datetime
import json
import logging

import tensorflow as tf

from mer_tfx import model_preprocessing
from mer_tfx.evaluation import data_checks, layout, plots
from mer_tfx.evaluation.html import render_html
from mer_tfx.evaluation.results import build_report
from mer_tfx.pipeline.configs import PIPELINE_NAME

log = logging.getLogger(__name__)

METRICS_JSON = "metrics.json"
REPORT_HTML = "report.html"


def _write(path: str, data) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def _eval_subjects_of(run: layout.RunOutputs, report: dict) -> list:
    """SubjectSplit's record (local) or, failing it, TFMA's subject slices (Kubeflow)."""
    if run.eval_subjects is not None:
        return list(run.eval_subjects)
    return sorted(row["value"] for row in report["slices"].get("subject", []))


def collect_report(run: layout.RunOutputs) -> dict:
    """The metrics.json content of one evaluated run (layout.find_run)."""
    log.info("reading TFMA output of %s run %s: %s", run.layout, run.run, run.evaluation)
    report = build_report(run.evaluation)
    blessed = run.blessed
    if blessed is None:
        blessed = report["validation"]["ok"]
        log.warning("no blessing artifact for %s; using TFMA's validation result (%s)",
                    run.evaluation, blessed)
    header = run.header()
    header["eval_subjects"] = _eval_subjects_of(run, report)
    return {"run": header, "evaluation_path": report.pop("evaluation_path"),
            "blessed": None if blessed is None else bool(blessed),
            "blessing_path": run.blessing if run.blessed is not None else None,
            "layout": run.layout, **report,
            "preprocessing": model_preprocessing.read(run.model) if run.model else None,
            "ingestion": data_checks.ingestion_summary(run.ingest_report),
            "anomalies": data_checks.schema_anomalies(run.anomalies),
            "training": data_checks.training_summary(run.model_run),
            "generated": datetime.datetime.now().isoformat(timespec="seconds")}


def explain_run(run: layout.RunOutputs) -> tuple[bytes, dict]:
    """Per-class Grad-CAM (explain/per_class.py) of the run's trained model over that
    run's eval split."""
    from mer_tfx.errors import UserError
    from mer_tfx.explain.per_class import class_explanations

    files = layout.split_files(run.examples, "eval")
    if not run.model or not files:
        raise UserError(f"--explain needs the run's trained model and eval records; found "
                        f"model {run.model}, eval files {files[:1]} in run {run.run}")
    log.info("explaining %s on %d eval record files", run.model, len(files))
    return class_explanations(run.model, files)


def write_report(pipeline_root: str, out_dir: str, pipeline_name: str = PIPELINE_NAME,
                 explain: bool = False, run_id: str | None = None,
                 metadata_path: str | None = None) -> dict:
    """Report on one evaluated run under pipeline_root (``run_id``, default the newest;
    ``metadata_path``, default the metadata.db beside a local root) into out_dir.

    Writes metrics.json, confusion_matrix.png, per_class.png and report.html (with
    ``explain``, also explanations.png: per-class Grad-CAM), and returns the metrics.json
    content plus "files" (name -> written path). Raises UserError when pipeline_root
    holds no Evaluator output (local or Kubeflow layout).
    """
    run = layout.find_run(pipeline_root, pipeline_name, run_id, metadata_path)
    report = collect_report(run)
    overall = report["overall"]
    log.info("drawing figures (%d classes)", len(report["class_names"]))
    images = plots.summary_figures(report["confusion_matrix"], report["per_class"], overall)
    if explain:
        from mer_tfx.explain.per_class import FIGURE

        images[FIGURE], report["explanations"] = explain_run(run)
        log.info("per-class Grad-CAM of %d clips in %.1f s", report["explanations"]["clips"],
                 report["explanations"]["seconds"])
    tf.io.gfile.makedirs(out_dir)
    files = {name: layout.join(out_dir, name) for name in [METRICS_JSON, *images, REPORT_HTML]}
    _write(files[METRICS_JSON], json.dumps(report, indent=2, allow_nan=False) + "\n")
    for name, data in images.items():
        _write(files[name], data)
    _write(files[REPORT_HTML], render_html(report, images))
    log.info("report written to %s (UAR %s, UF1 %s, %s)", out_dir, overall["uar"],
             overall["uf1"], {True: "blessed", False: "not blessed"}.get(
                 report["blessed"], "blessing unknown"))
    return {**report, "files": files}


def run_table(pipeline_root: str, pipeline_name: str = PIPELINE_NAME,
              metadata_path: str | None = None) -> list:
    """One row per evaluated run, oldest first: id, start, eval subjects, model, blessed,
    overall UAR/UF1 (``mer-tfx report --list-runs``)."""
    rows = []
    for run in layout.all_runs(pipeline_root, pipeline_name, metadata_path):
        report = build_report(run.evaluation)
        blessed = run.blessed if run.blessed is not None else report["validation"]["ok"]
        training = data_checks.training_summary(run.model_run) or {}
        rows.append({"run_id": run.run, "started": run.started,
                     "eval_subjects": _eval_subjects_of(run, report),
                     "model": training.get("model"), "blessed": blessed,
                     "uar": report["overall"].get("uar"), "uf1": report["overall"].get("uf1"),
                     "evaluation_execution": run.executions.get(layout.EVALUATOR, {}).get(
                         "execution_id")})
    return rows
