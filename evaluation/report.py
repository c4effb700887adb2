"""Evaluation report: the latest Evaluator run as metrics.json, two PNGs and one HTML page.

Every figure is read from TFMA's own output (``tfma.load_eval_result`` and
``tfma.load_validation_result``), never recomputed; the one derivation is the
row-normalised confusion matrix drawn next to the counts (plots.py).

Layout read (what the TFX local and Kubeflow runners write)::

    <pipeline_root>/Evaluator/evaluation/<execution id>/   TFMA metrics, plots, validations
    <pipeline_root>/Evaluator/blessing/<execution id>/     BLESSED or NOT_BLESSED

Things to know about TFMA's loaded format (0.47):

* metric values are protobuf-JSON dicts, ``{'doubleValue': 0.5}``; NaN and
  infinities arrive as the strings ``'NaN'``, ``'Infinity'``, ``'-Infinity'``;
* results are nested ``{output_name: {sub_key: {metric: value}}}`` and our
  single-output model uses ``''`` for both;
* slices come back in no particular order, keyed ``()`` for overall and
  ``(('subject', 's0'),)`` for a feature slice;
* the confusion matrix plot is keyed by its proto field,
  ``multiClassConfusionMatrixAtThresholds``, not by the metric's name, and proto3
  JSON drops zero values: ``threshold`` 0.0 and class id 0 are simply absent.
"""
from __future__ import annotations

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)

import base64
import datetime
import html
import json
import logging
import math
import re

import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format

from mer_tfx.errors import UserError
from mer_tfx.evaluation import data_checks, layout, plots
from mer_tfx.evaluation.eval_config import OVERALL, gates_of
from mer_tfx.evaluation.metrics import ARGMAX_THRESHOLD  # predicted class = argmax

log = logging.getLogger(__name__)

EVALUATOR = "Evaluator"
SUMMARY_METRICS = ("uar", "uf1", "accuracy", "example_count")
# Reported when present (runs made before it existed lack it).
OPTIONAL_SUMMARY_METRICS = ("min_class_recall",)
PER_CLASS_KINDS = ("precision", "recall", "f1", "support")
# Always present in metrics.json (eval_config.SLICE_FEATURES); any further single-feature
# slice in the EvalConfig (the pipeline's label key) is added after them.
REPORTED_SLICES = ("label", "subject", "dataset")
HTML_SLICE_ORDER = ("subject", "label", "dataset")
CONFUSION_PLOT_KEY = "multiClassConfusionMatrixAtThresholds"

METRICS_JSON = "metrics.json"
CONFUSION_PNG = "confusion_matrix.png"
PER_CLASS_PNG = "per_class.png"
REPORT_HTML = "report.html"


# --- locating the Evaluator output -------------------------------------------------------

_join = layout.join
_numbered_folders = layout.numbered_folders


def _has_tfma_output(path: str) -> bool:
    """Config, metrics and plots all written (a running Evaluator has beam-temp-* folders)."""
    names = {name.rstrip("/") for name in tf.io.gfile.listdir(path)}
    return ("eval_config.json" in names and any(n.startswith("metrics") for n in names)
            and any(n.startswith("plots") for n in names))


def find_latest_evaluation(pipeline_root: str):
    """(execution id, folder) of the newest Evaluator run with TFMA output; UserError if none."""
    if not tf.io.gfile.isdir(pipeline_root):
        raise UserError(
            f"pipeline root {pipeline_root} does not exist: pass the folder the pipeline "
            f"wrote its artifacts to (the one that holds {EVALUATOR}/, by default "
            f"<output>/pipeline_root)")
    evaluation_root = _join(pipeline_root, EVALUATOR, "evaluation")
    runs = _numbered_folders(evaluation_root)
    if not runs:
        nested = _join(pipeline_root, "pipeline_root")
        if tf.io.gfile.isdir(_join(nested, EVALUATOR)):
            raise UserError(
                f"no Evaluator output in {pipeline_root}, but {nested} has some: pass "
                f"--pipeline-root {nested}")
        raise UserError(
            f"no Evaluator output under {evaluation_root}: the pipeline has not run its "
            f"Evaluator in {pipeline_root} yet. Run the pipeline to completion first, or pass "
            f"the pipeline root that holds {EVALUATOR}/evaluation/<id>/")
    for execution_id, path in reversed(runs):
        if _has_tfma_output(path):
            return execution_id, path
        log.warning("skipping %s: no TFMA metrics in it (unfinished or failed Evaluator run)",
                    path)
    raise UserError(
        f"the Evaluator folders under {evaluation_root} (execution ids "
        f"{', '.join(str(i) for i, _ in runs)}) hold no TFMA metrics: every Evaluator run "
        f"failed or is still running. Check the Evaluator's logs and re-run the pipeline")


def find_blessing(pipeline_root: str, execution_id: int):
    """(blessed, folder) of the Evaluator run's blessing; (None, None) if there is none.

    TFX gives both outputs of one execution the same id. Failing that, the nearest lower
    blessing id is taken, but never one at or below an older evaluation folder's id (that
    blessing belongs to the older run), and a same-id folder without its marker file
    (run still writing, or failed) is not replaced by an older blessing.
    """
    older = [i for i, _ in _numbered_folders(_join(pipeline_root, EVALUATOR, "evaluation"))
             if i < execution_id]
    floor = max(older, default=-1)
    blessing_root = _join(pipeline_root, EVALUATOR, "blessing")
    for blessing_id, path in reversed(_numbered_folders(blessing_root)):
        if blessing_id > execution_id:
            continue
        if blessing_id <= floor:
            break
        names = {name.rstrip("/") for name in tf.io.gfile.listdir(path)}
        if "BLESSED" in names:
            return True, path
        if "NOT_BLESSED" in names:
            return False, path
        if blessing_id == execution_id:
            break
    return None, None


# --- TFMA's loaded format -> plain values ---------------------------------------------------

def metric_number(value):
    """A TFMA metric value ({'doubleValue': x}, NaN as 'NaN') as a float; None if not finite."""
    if isinstance(value, dict):
        if "doubleValue" in value:
            value = value["doubleValue"]
        elif "boundedValue" in value:
            value = value["boundedValue"].get("value")
        elif "value" in value:
            value = value["value"]
        else:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _first_metrics(by_output: dict) -> dict:
    """The {metric: value} dict of the model's output: '' output and '' sub key if present."""
    if not by_output:
        return {}
    by_sub_key = by_output.get("", next(iter(by_output.values())))
    return by_sub_key.get("", {}) if by_sub_key else {}


def _slice_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _single_slice(slice_key):
    """((feature, ...), (value, ...)) of a plain slice key; None for a cross slice."""
    if slice_key == ():
        return (), ()
    if all(isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str)
           for part in slice_key):
        return (tuple(str(p[0]) for p in slice_key),
                tuple(_slice_value(p[1]) for p in slice_key))
    return None


def _natural_key(value):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(value))]


def class_names_from_config(config, overall_metrics: dict) -> list:
    """Class order: ArgmaxPerClass's class_names in the EvalConfig, else the f1/<name> keys."""
    if config is not None:
        for spec in config.metrics_specs:
            for metric in spec.metrics:
                if metric.class_name == "ArgmaxPerClass" and metric.config:
                    names = json.loads(metric.config).get("class_names")
                    if names:
                        return [str(n) for n in names]
    names = [key.split("/", 1)[1] for key in overall_metrics if key.startswith("f1/")]
    if names:
        log.warning("no ArgmaxPerClass config in the EvalConfig; class order taken from the "
                    "f1/<class> metric keys: %s", names)
    return names


def confusion_from_plot(plot_by_output: dict, class_names: list) -> dict:
    """Counts [actual][predicted] from TFMA's MultiClassConfusionMatrixPlot at threshold 0.0."""
    plot = _first_metrics(plot_by_output).get(CONFUSION_PLOT_KEY)
    if plot is None:
        raise UserError(
            "the Evaluator output has no MultiClassConfusionMatrixPlot for the overall slice: "
            "re-run the pipeline with mer_tfx.evaluation.eval_config.build_eval_config")
    matrix = next((m for m in plot.get("matrices", [])
                   if float(m.get("threshold", 0.0)) == ARGMAX_THRESHOLD), None)
    if matrix is None:
        raise UserError(
            f"the confusion matrix plot has no matrix at threshold {ARGMAX_THRESHOLD} (argmax): "
            f"re-run the pipeline with mer_tfx.evaluation.eval_config.build_eval_config")
    size = len(class_names)
    counts = [[0.0] * size for _ in range(size)]
    outside = 0.0
    for entry in matrix.get("entries", []):
        actual = int(entry.get("actualClassId", 0))
        predicted = int(entry.get("predictedClassId", 0))
        number = float(entry.get("numWeightedExamples", 0.0))
        if 0 <= actual < size and 0 <= predicted < size:
            counts[actual][predicted] += number
        else:
            outside += number
    if outside:
        log.warning("%g examples have a class id outside the %d classes (label not in the "
                    "class list, or no prediction) and are not in the confusion matrix",
                    outside, size)
    as_int = lambda v: int(v) if float(v).is_integer() else v  # noqa: E731
    return {"classes": list(class_names),
            "counts": [[as_int(v) for v in row] for row in counts],
            "threshold": ARGMAX_THRESHOLD,
            "outside_classes": as_int(outside)}


def _slice_text(slice_key_proto) -> str:
    from tensorflow_model_analysis.slicer import slicer_lib

    key = slicer_lib.deserialize_slice_key(slice_key_proto)
    return slicer_lib.stringify_slice_key(key) if key else "Overall"


def validation_summary(validation) -> dict:
    """A ValidationResult as {"ok", "failures": [{slice, metric, value, threshold, message}]}."""
    failures = []
    for per_slice in validation.metric_validations_per_slice:
        if per_slice.HasField("cross_slice_key"):
            slice_text = str(json_format.MessageToDict(per_slice.cross_slice_key))
        else:
            slice_text = _slice_text(per_slice.slice_key)
        for failure in per_slice.failures:
            failures.append({
                "slice": slice_text,
                "metric": failure.metric_key.name,
                "value": metric_number(json_format.MessageToDict(failure.metric_value)),
                "threshold": json_format.MessageToDict(failure.metric_threshold),
                "message": failure.message,
            })
    for spec in validation.missing_slices:
        named = list(spec.feature_keys) + [f"{k}:{v}" for k, v in spec.feature_values.items()]
        failures.append({"slice": ", ".join(named) or "Overall",
                         "metric": None, "value": None, "threshold": None,
                         "message": "slice with a threshold is missing from the eval data"})
    return {"ok": bool(validation.validation_ok), "failures": failures,
            "missing_thresholds": bool(validation.missing_thresholds),
            "rubber_stamp": bool(validation.rubber_stamp)}


def _load_validation(path: str) -> dict:
    try:
        return validation_summary(tfma.load_validation_result(path))
    except (AssertionError, tf.errors.OpError, ValueError) as error:
        log.warning("no readable TFMA validation result in %s (%s)", path, error or "missing")
        return {"ok": None, "failures": [], "missing_thresholds": None, "rubber_stamp": None}


# --- building the report dict --------------------------------------------------------------

def _summary(metrics: dict) -> dict:
    summary = {name: metric_number(metrics.get(name)) for name in SUMMARY_METRICS}
    summary.update({name: metric_number(metrics[name]) for name in OPTIONAL_SUMMARY_METRICS
                    if name in metrics})
    return summary


def gate_results(config, overall_metrics: dict, validation: dict) -> list:
    """Every release gate of the EvalConfig with its value, bar and pass/fail.

    An overall-slice gate is judged on the overall value; a gate on every slice (runs
    made before gates were scoped) fails if TFMA's validation reports a failure of it.
    """
    results = []
    for gate in gates_of(config) if config is not None else []:
        if gate["slice"] == OVERALL:
            value = metric_number(overall_metrics.get(gate["metric"]))
            passed = value is not None and value >= gate["bar"]
        else:
            value = None
            passed = not any(f["metric"] == gate["metric"] for f in validation["failures"])
        results.append({**gate, "value": value, "passed": passed})
    return results


def build_report(evaluation_path: str) -> dict:
    """The metrics.json content of one TFMA output folder (blessing filled in by the caller)."""
    result = tfma.load_eval_result(evaluation_path)
    metrics_by_slice, plots_by_slice = {}, {}
    for slice_key, by_output in result.slicing_metrics:
        metrics_by_slice[slice_key] = _first_metrics(by_output)
    for slice_key, by_output in result.plots:
        plots_by_slice[slice_key] = by_output
    if () not in metrics_by_slice:
        raise UserError(f"the TFMA output in {evaluation_path} has no overall slice: re-run "
                        f"the pipeline's Evaluator")
    overall_metrics = metrics_by_slice[()]
    missing = [m for m in SUMMARY_METRICS if m not in overall_metrics]
    if missing:
        raise UserError(
            f"the TFMA output in {evaluation_path} lacks {', '.join(missing)} (has "
            f"{', '.join(sorted(overall_metrics))}): it was not produced with mer-tfx's eval "
            f"config; re-run the pipeline")
    class_names = class_names_from_config(result.config, overall_metrics)
    per_class = [{"class": name, **{kind: metric_number(overall_metrics.get(f"{kind}/{name}"))
                                    for kind in PER_CLASS_KINDS}}
                 for name in class_names]
    if () not in plots_by_slice:
        raise UserError(f"the TFMA output in {evaluation_path} has no plots for the overall "
                        f"slice: re-run the pipeline's Evaluator")
    confusion = confusion_from_plot(plots_by_slice[()], class_names)

    slices = {feature: [] for feature in REPORTED_SLICES}
    for slice_key, metrics in metrics_by_slice.items():
        parsed = _single_slice(slice_key)
        if parsed is None:
            log.debug("cross slice %s not reported", slice_key)
            continue
        features, values = parsed
        if len(features) != 1:
            continue  # overall, or a multi-feature slice the EvalConfig does not define
        slices.setdefault(features[0], []).append({"value": values[0], **_summary(metrics)})
    class_rank = {name: i for i, name in enumerate(class_names)}
    for rows in slices.values():
        rows.sort(key=lambda row: (class_rank.get(row["value"], len(class_rank)),
                                   _natural_key(row["value"])))

    validation = _load_validation(evaluation_path)
    return {
        "evaluation_path": evaluation_path,
        "model_location": result.model_location or None,
        "class_names": class_names,
        "overall": _summary(overall_metrics),
        "gates": gate_results(result.config, overall_metrics, validation),
        "per_class": per_class,
        "slices": slices,
        "confusion_matrix": confusion,
        "validation": validation,
    }


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 4px; color: #fff;
         font-weight: bold; }
.blessed { background: #2e7d32; } .not-blessed { background: #c62828; }
.unknown { background: #757575; }
.figures img { max-width: 100%; margin: 0.5em 0; border: 1px solid #eee; }
.meta td { text-align: left; } code { font-size: 0.95em; }
.diag { background: #e3f2fd; font-weight: bold; }
"""


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{int(value)}" if value.is_integer() and digits == 0 else f"{value:.{digits}f}"
    return html.escape(str(value))


def _summary_table(rows, first_header: str) -> str:
    head = (f'<tr><th class="name">{html.escape(first_header)}</th><th>examples</th>'
            f"<th>UAR</th><th>UF1</th><th>accuracy</th></tr>")
    body = "".join(
        f'<tr><td class="name">{_cell(row["value"])}</td><td>{_cell(row["example_count"], 0)}'
        f'</td><td>{_cell(row["uar"])}</td><td>{_cell(row["uf1"])}</td>'
        f'<td>{_cell(row["accuracy"])}</td></tr>' for row in rows)
    return f"<table>{head}{body}</table>"


def render_html(report: dict, images: dict) -> str:
    """The report page; images maps file name -> PNG bytes, embedded as base64."""
    esc = html.escape
    overall = report["overall"]
    blessed = report["blessed"]
    badge = {True: ("blessed", "BLESSED"), False: ("not-blessed", "NOT BLESSED")}.get(
        blessed, ("unknown", "blessing unknown"))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>mer-tfx evaluation report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>mer-tfx evaluation report</h1>",
        f'<p><span class="badge {badge[0]}">{badge[1]}</span></p>',
        '<table class="meta">',
        f'<tr><th class="name">evaluation</th><td><code>{esc(report["evaluation_path"])}'
        f"</code></td></tr>",
        f'<tr><th class="name">blessing</th><td><code>{esc(str(report["blessing_path"]))}'
        f"</code></td></tr>",
        f'<tr><th class="name">model</th><td><code>{esc(str(report["model_location"]))}'
        f"</code></td></tr>",
        f'<tr><th class="name">generated</th><td>{esc(report["generated"])}</td></tr>',
        "</table>",
        "<h2>Overall</h2>",
        _summary_table([{"value": "Overall", **overall}], "slice"),
    ]

    parts.extend(_gates_html(report))
    validation = report["validation"]
    ok = validation["ok"]
    parts.append("<h2>Validation</h2><p>" + {True: "All metric thresholds passed.",
                                              False: "Metric thresholds failed:",
                                              None: "No validation result found."}[ok] + "</p>")
    if validation["failures"]:
        parts.append('<table><tr><th class="name">slice</th><th class="name">metric</th>'
                     '<th>value</th><th class="name">threshold</th><th class="name">message'
                     "</th></tr>")
        for failure in validation["failures"]:
            parts.append(
                f'<tr><td class="name">{esc(str(failure["slice"]))}</td>'
                f'<td class="name">{esc(str(failure["metric"]))}</td>'
                f'<td>{_cell(failure["value"])}</td>'
                f'<td class="name"><code>{esc(json.dumps(failure["threshold"]))}</code></td>'
                f'<td class="name">{esc(str(failure["message"]))}</td></tr>')
        parts.append("</table>")

    parts.append('<h2>Figures</h2><div class="figures">')
    for name, alt in ((CONFUSION_PNG, "confusion matrix"), (PER_CLASS_PNG, "per-class scores")):
        data = base64.b64encode(images[name]).decode("ascii")
        parts.append(f'<div><img alt="{alt}" title="{name}" '
                     f'src="data:image/png;base64,{data}"></div>')
    parts.append("</div>")

    parts.append('<h2>Per class</h2><table><tr><th class="name">class</th><th>precision</th>'
                 "<th>recall</th><th>F1</th><th>support</th></tr>")
    for row in report["per_class"]:
        parts.append(f'<tr><td class="name">{esc(row["class"])}</td>'
                     f'<td>{_cell(row["precision"])}</td><td>{_cell(row["recall"])}</td>'
                     f'<td>{_cell(row["f1"])}</td><td>{_cell(row["support"], 0)}</td></tr>')
    parts.append("</table>")

    confusion = report["confusion_matrix"]
    parts.append("<h2>Confusion matrix</h2><p>Rows: actual class, columns: predicted class "
                 "(argmax), overall slice.</p><table><tr><th class=\"name\">actual \\ "
                 "predicted</th>" + "".join(f"<th>{esc(c)}</th>" for c in confusion["classes"])
                 + "</tr>")
    for i, (name, row) in enumerate(zip(confusion["classes"], confusion["counts"])):
        cells = "".join(f'<td{" class=diag" if i == j else ""}>{_cell(v, 0)}</td>'
                        for j, v in enumerate(row))
        parts.append(f'<tr><th class="name">{esc(name)}</th>{cells}</tr>')
    parts.append("</table>")
    if confusion.get("outside_classes"):
        parts.append(f"<p>{_cell(confusion['outside_classes'], 0)} examples have a class id "
                     f"outside the class list and are not in the matrix.</p>")

    parts.extend(_data_html(report))

    ordered = [f for f in HTML_SLICE_ORDER if f in report["slices"]]
    ordered += [f for f in report["slices"] if f not in ordered]
    for feature in ordered:
        rows = report["slices"][feature]
        parts.append(f"<h2>By {esc(feature)}</h2>")
        parts.append(_summary_table(rows, feature) if rows else
                     "<p>No slices for this feature in the evaluation data.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _gates_html(report: dict) -> list:
    """The release gates (what decided the blessing) and how the kept epoch was chosen."""
    esc = html.escape
    parts = ["<h2>Release gates</h2>"]
    if report.get("gates"):
        parts.append('<table><tr><th class="name">gate</th><th class="name">slice</th>'
                     '<th>value</th><th>bar</th><th class="name">result</th></tr>')
        for gate in report["gates"]:
            verdict = ('<span class="badge blessed">pass</span>' if gate["passed"] else
                       '<span class="badge not-blessed">FAIL</span>')
            parts.append(f'<tr><td class="name">{esc(gate["metric"])} &ge;</td>'
                         f'<td class="name">{esc(gate["slice"])}</td>'
                         f'<td>{_cell(gate["value"])}</td><td>{_cell(gate["bar"])}</td>'
                         f'<td class="name">{verdict}</td></tr>')
        parts.append("</table><p>Gates are checked on the overall slice; the per-slice "
                     "figures below are reported, not gated.</p>")
    else:
        parts.append("<p>No release gates in the EvalConfig.</p>")
    training = report.get("training")
    parts.append("<h2>Model selection</h2><p>" + (
        esc(training["model_selection"]) + "." if training and training.get("model_selection")
        else "No training summary found for this run.") + "</p>")
    return parts


def _data_html(report: dict) -> list:
    """Ingestion accounting and ExampleValidator anomalies, when the pipeline root has them."""
    esc = html.escape
    parts, summary, anomalies = [], report.get("ingestion"), report.get("anomalies")
    if summary:
        reasons = ", ".join(f"{esc(k)} {v}" for k, v in summary.get("rejected_by_reason",
                                                                      {}).items()) or "none"
        parts.append(f"<h2>Data</h2><p>{summary['rows']} annotation rows: "
                     f"{summary['converted']} clips converted, {summary['rejected']} rejected "
                     f"({reasons}), {summary['repaired']} repaired; see "
                     f"<code>{esc(summary['path'])}/rejects.jsonl</code>.</p>")
    if anomalies:
        parts.append("<h2>Schema anomalies (ExampleValidator)</h2>")
        for split, found in anomalies["splits"].items():
            if not found:
                parts.append(f"<p>{esc(split)}: no anomalies.</p>")
                continue
            parts.append(f"<p>{esc(split)}:</p><table><tr><th class=\"name\">feature</th>"
                         "<th>severity</th><th class=\"name\">anomaly</th></tr>")
            parts.extend(f'<tr><td class="name">{esc(a["feature"])}</td><td>'
                         f'{esc(a["severity"])}</td><td class="name">{esc(a["short"])}: '
                         f'{esc(a["description"])}</td></tr>' for a in found)
            parts.append("</table>")
    return parts


# --- entry point -----------------------------------------------------------------------------

def _write(path: str, data) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def _kfp_blessing(folder):
    if not folder:
        return None, None
    names = {name.rstrip("/") for name in tf.io.gfile.listdir(folder)}
    if "BLESSED" in names:
        return True, folder
    return (False, folder) if "NOT_BLESSED" in names else (None, None)


def locate_evaluation(pipeline_root: str, pipeline_name: str = "mer-tfx"):
    """(evaluation folder, blessed, blessing folder) of the newest Evaluator output.

    The local layout (<root>/Evaluator/evaluation/<id>) first; then the layout Kubeflow
    runs leave (<root>/<pipeline name>/<run id>/Evaluator/...).
    """
    try:
        execution_id, evaluation_path = find_latest_evaluation(pipeline_root)
    except UserError:
        from mer_tfx.kfp.artifacts import find_kfp_evaluations

        runs = find_kfp_evaluations(pipeline_root, pipeline_name) \
            if tf.io.gfile.isdir(pipeline_root) else []
        if not runs:
            raise
        log.info("reading the Kubeflow run %s", runs[0]["run_id"])
        return (runs[0]["evaluation"], *_kfp_blessing(runs[0]["blessing"]))
    log.info("reading TFMA output of Evaluator execution %d: %s", execution_id, evaluation_path)
    return (evaluation_path, *find_blessing(pipeline_root, execution_id))


def write_report(pipeline_root: str, out_dir: str, pipeline_name: str = "mer-tfx") -> dict:
    """Report on the latest Evaluator run under pipeline_root into out_dir.

    Writes metrics.json, confusion_matrix.png, per_class.png and report.html, and returns
    the metrics.json content plus "files" (name -> written path). Raises UserError when
    pipeline_root holds no Evaluator output (local or Kubeflow layout).
    """
    evaluation_path, blessed, blessing_path = locate_evaluation(pipeline_root, pipeline_name)
    report = build_report(evaluation_path)
    report["ingestion"] = data_checks.ingestion_summary(pipeline_root)
    report["anomalies"] = data_checks.schema_anomalies(pipeline_root)
    report["training"] = data_checks.training_summary(pipeline_root)
    if blessed is None:
        blessed = report["validation"]["ok"]
        log.warning("no blessing artifact for %s; using TFMA's validation result (%s)",
                    evaluation_path, blessed)
    report = {"evaluation_path": report.pop("evaluation_path"),
              "blessed": None if blessed is None else bool(blessed),
              "blessing_path": blessing_path, **report,
              "generated": datetime.datetime.now().isoformat(timespec="seconds")}

    overall = report["overall"]
    log.info("drawing figures (%d classes)", len(report["class_names"]))
    images = {
        CONFUSION_PNG: plots.confusion_matrix_png(
            report["confusion_matrix"]["classes"], report["confusion_matrix"]["counts"],
            uf1=overall["uf1"], uar=overall["uar"], example_count=overall["example_count"]),
        PER_CLASS_PNG: plots.per_class_png(report["per_class"], uar=overall["uar"],
                                           uf1=overall["uf1"]),
    }
    tf.io.gfile.makedirs(out_dir)
    files = {name: _join(out_dir, name)
             for name in (METRICS_JSON, CONFUSION_PNG, PER_CLASS_PNG, REPORT_HTML)}
    _write(files[METRICS_JSON], json.dumps(report, indent=2, allow_nan=False) + "\n")
    for name, data in images.items():
        _write(files[name], data)
    _write(files[REPORT_HTML], render_html(report, images))
    log.info("report written to %s (UAR %s, UF1 %s, %s)", out_dir, overall["uar"],
             overall["uf1"], {True: "blessed", False: "not blessed"}.get(blessed, "blessing "
                                                                                 "unknown"))
    return {**report, "files": files}
