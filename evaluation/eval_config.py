"""The TFMA EvalConfig: slices, argmax per-class metrics and the release gates.

Release gates (what blesses a model, and so what the Pusher pushes) are value
thresholds checked on the **overall slice only**: TFMA checks a plain
``MetricConfig.threshold`` on every slice, so a UAR bar would also gate each
``label:x`` slice (where "UAR" is that class's recall) and each subject slice of
two or three clips. Per-slice figures are reported, never gated.

No baseline model: self-hosted Kubeflow cannot run the Resolver that would fetch
one, so the gates are absolute bars (and the same config runs locally).
"""
from __future__ import annotations

import json

import tensorflow_model_analysis as tfma
from google.protobuf.wrappers_pb2 import BoolValue

from mer_tfx.transform.preprocessing import LABEL_KEY

METRICS_MODULE = "mer_tfx.evaluation.metrics"
SLICE_FEATURES = ("label", "subject", "dataset")
OVERALL = "Overall"


def release_gates(uar_threshold: float, min_class_recall: float | None = None) -> dict:
    """metric name -> lower bound on the overall slice."""
    gates = {"uar": float(uar_threshold)}
    if min_class_recall is not None:
        gates["min_class_recall"] = float(min_class_recall)
    return gates


def _overall_gate(bar: float):
    threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": bar}))
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                         threshold=threshold)]


def _custom(class_name: str, gate: float | None = None, **config):
    return tfma.MetricConfig(class_name=class_name, module=METRICS_MODULE,
                             config=json.dumps(config),
                             per_slice_thresholds=_overall_gate(gate) if gate is not None else [])


def build_eval_config(class_names, uar_threshold: float, label_feature: str = "label",
                      min_class_recall: float | None = None):
    class_names = list(class_names)
    gates = release_gates(uar_threshold, min_class_recall)
    slice_features = list(dict.fromkeys(list(SLICE_FEATURES) + [label_feature]))
    summaries = [_custom("ArgmaxSummary", gates.get(statistic), statistic=statistic,
                         num_classes=len(class_names), name=statistic)
                 for statistic in ("uar", "uf1", "accuracy", "min_class_recall")]
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            # the signatures, as TF Serving runs them; named, so that TFMA does not
            # load the model once more only to find out whether it is a Keras model
            model_type=tfma.TF_GENERIC,
            signature_name="serving_default", label_key=LABEL_KEY,
            prediction_key="probabilities",
            preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f])
                                              for f in slice_features],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot",
                              config=json.dumps({"thresholds": [0.0]})),
            *summaries,
            _custom("ArgmaxPerClass", class_names=class_names),
        ])],
        # not the model's compiled Keras loss and metrics: nothing reads them, and TFMA
        # re-loads the model in every combiner that computes them (half the Evaluator's
        # time; bench/protocols.py prints a fold's components)
        options=tfma.Options(include_default_metrics=BoolValue(value=False)))


def _slice_name(spec) -> str:
    named = list(spec.feature_keys) + [f"{k}:{v}" for k, v in spec.feature_values.items()]
    return ", ".join(named) or OVERALL


def gates_of(eval_config) -> list:
    """[{"metric", "slice", "bar"}] for every value threshold in an EvalConfig.

    Reads any config (also older runs whose plain thresholds applied to every slice),
    so a report states exactly what gated the model it reports on.
    """
    gates = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            name = json.loads(metric.config).get("name") if metric.config else None
            name = name or metric.class_name
            if metric.HasField("threshold") and metric.threshold.HasField("value_threshold"):
                gates.append({"metric": name, "slice": "every slice",
                              "bar": metric.threshold.value_threshold.lower_bound.value})
            for per_slice in metric.per_slice_thresholds:
                if not per_slice.threshold.HasField("value_threshold"):
                    continue
                for slicing in per_slice.slicing_specs:
                    gates.append({"metric": name, "slice": _slice_name(slicing),
                                  "bar": per_slice.threshold.value_threshold.lower_bound.value})
    return gates
