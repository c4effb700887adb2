"""Argmax-based multi-class metrics for TFMA: per-class precision/recall/F1, UAR, UF1.

TFMA's built-in per-class precision/recall binarise each class's probability at
0.5, which is not "the predicted class is the argmax" (and adding top_k gives
wrong numbers). These metrics derive everything from TFMA's own
multi-class confusion matrix at threshold 0.0, where the predicted class is the
argmax, so the figures are the ones a researcher computes from predictions.

Macro averages (UAR, UF1) run over the classes present in the slice's ground
truth, as in the MER literature; a class never predicted has precision 0.
"""
from __future__ import annotations

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as mccm

from .scores import STATISTICS, per_class_scores, summary_statistic  # noqa: F401

ARGMAX_THRESHOLD = 0.0


def confusion_from_matrices(matrices, num_classes: int) -> np.ndarray:
    """[actual, predicted] counts at the argmax threshold from TFMA's Matrices value."""
    confusion = np.zeros((num_classes, num_classes))
    for entry, count in matrices.get(ARGMAX_THRESHOLD, {}).items():
        if 0 <= entry.actual_class_id < num_classes and 0 <= entry.predicted_class_id < num_classes:
            confusion[entry.actual_class_id, entry.predicted_class_id] += count
    return confusion


def _matrices_computations(eval_config, model_name, output_name, example_weighted):
    computations = mccm.multi_class_confusion_matrices(
        thresholds=[ARGMAX_THRESHOLD], eval_config=eval_config, model_name=model_name,
        output_name=output_name, example_weighted=example_weighted)
    return computations, computations[-1].keys[-1]


def _summary_computations(statistic="uar", num_classes=2, name="uar", eval_config=None,
                          model_name="", output_name="", example_weighted=False):
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    computations, matrices_key = _matrices_computations(eval_config, model_name, output_name,
                                                        example_weighted)

    def result(metrics):
        confusion = confusion_from_matrices(metrics[matrices_key], num_classes)
        return {key: summary_statistic(confusion, statistic)}

    computations.append(metric_types.DerivedMetricComputation(keys=[key], result=result))
    return computations


class ArgmaxSummary(metric_types.Metric):
    """UAR, UF1 or accuracy of the argmax prediction (one metric key, thresholdable)."""

    def __init__(self, statistic: str = "uar", num_classes: int = 2, name: str | None = None):
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}")
        super().__init__(metric_util.merge_per_key_computations(_summary_computations),
                         statistic=statistic, num_classes=num_classes, name=name or statistic)


def per_class_key_names(class_names):
    return {kind: [f"{kind}/{c}" for c in class_names]
            for kind in ("precision", "recall", "f1", "support")}


def _per_class_computations(class_names=(), name="per_class", eval_config=None, model_name="",
                            output_name="", example_weighted=False):
    names = per_class_key_names(class_names)

    def make_key(metric_name):
        return metric_types.MetricKey(name=metric_name, model_name=model_name,
                                      output_name=output_name, example_weighted=example_weighted)

    keys = {kind: [make_key(n) for n in values] for kind, values in names.items()}
    computations, matrices_key = _matrices_computations(eval_config, model_name, output_name,
                                                        example_weighted)

    def result(metrics):
        confusion = confusion_from_matrices(metrics[matrices_key], len(class_names))
        scores = dict(zip(("precision", "recall", "f1", "support"), per_class_scores(confusion)))
        return {key: float(scores[kind][i]) for kind, kind_keys in keys.items()
                for i, key in enumerate(kind_keys)}

    computations.append(metric_types.DerivedMetricComputation(
        keys=[k for kind_keys in keys.values() for k in kind_keys], result=result))
    return computations


class ArgmaxPerClass(metric_types.Metric):
    """precision/<class>, recall/<class>, f1/<class>, support/<class> of the argmax."""

    def __init__(self, class_names=(), name: str = "per_class"):
        super().__init__(metric_util.merge_per_key_computations(_per_class_computations),
                         class_names=list(class_names), name=name)


metric_types.register_metric(ArgmaxSummary)
metric_types.register_metric(ArgmaxPerClass)
