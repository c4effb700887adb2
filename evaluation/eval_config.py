"""The TFMA EvalConfig: slices, argmax per-class metrics and the UAR blessing threshold.

No baseline model: self-hosted Kubeflow cannot run the Resolver that would fetch
one, so blessing is an absolute bar on UAR (and the same config runs locally).
"""
from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from mer_tfx.transform.preprocessing import LABEL_KEY

METRICS_MODULE = "mer_tfx.evaluation.metrics"
SLICE_FEATURES = ("label", "subject", "dataset")


def _custom(class_name: str, threshold=None, **config):
    return tfma.MetricConfig(class_name=class_name, module=METRICS_MODULE,
                             config=json.dumps(config), threshold=threshold)


def build_eval_config(class_names, uar_threshold: float, label_feature: str = "label"):
    class_names = list(class_names)
    blessing = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": uar_threshold}))
    slice_features = list(dict.fromkeys(list(SLICE_FEATURES) + [label_feature]))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="serving_default", label_key=LABEL_KEY,
            prediction_key="probabilities",
            preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f])
                                              for f in slice_features],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot",
                              config=json.dumps({"thresholds": [0.0]})),
            _custom("ArgmaxSummary", threshold=blessing, statistic="uar",
                    num_classes=len(class_names), name="uar"),
            _custom("ArgmaxSummary", statistic="uf1", num_classes=len(class_names), name="uf1"),
            _custom("ArgmaxSummary", statistic="accuracy", num_classes=len(class_names),
                    name="accuracy"),
            _custom("ArgmaxPerClass", class_names=class_names),
        ])])
