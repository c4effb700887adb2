"""TFMA's output of one Evaluator run as plain values: the report's content, not its look.

Every figure is read from TFMA's own output (``tfma.load_eval_result`` and
``tfma.load_validation_result``), never recomputed. Things to know about TFMA's
loaded format (0.47):

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

import json
import logging
import math
import re

import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format

from mer_tfx.errors import UserError
from mer_tfx.evaluation.eval_config import OVERALL, gates_of
from mer_tfx.evaluation.metrics import ARGMAX_THRESHOLD  # predicted class = argmax

log = logging.getLogger(__name__)

SUMMARY_METRICS = ("uar", "uf1", "accuracy", "example_count")
# Reported when present (runs made before it existed lack it).
OPTIONAL_SUMMARY_METRICS = ("min_class_recall",)
PER_CLASS_KINDS = ("precision", "recall", "f1", "support")
# Always present in metrics.json (eval_config.SLICE_FEATURES); any further single-feature
# slice in the EvalConfig (the pipeline's label key) is added after them.
REPORTED_SLICES = ("label", "subject", "dataset")
CONFUSION_PLOT_KEY = "multiClassConfusionMatrixAtThresholds"


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

    confusion_by_dataset = {}
    for slice_key, by_output in plots_by_slice.items():
        parsed = _single_slice(slice_key)
        if parsed and parsed[0] == ("dataset",):
            confusion_by_dataset[str(parsed[1][0])] = confusion_from_plot(
                by_output, class_names)["counts"]

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
        # argmax counts per dataset slice: cross-validation pools them per dataset
        "confusion_by_dataset": dict(sorted(confusion_by_dataset.items())),
        "validation": validation,
    }


