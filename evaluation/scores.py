"""Scores of an [actual, predicted] confusion matrix: per class, UAR, UF1, accuracy.

Plain numpy, shared by the TFMA metrics (evaluation/metrics.py), the Trainer's
epoch selection and the pooled cross-validation figures, so that all three
compute the same numbers. Macro averages run over the classes present in the
ground truth, as in the MER literature; a class never predicted has precision 0.
"""
from __future__ import annotations

import numpy as np

# min_class_recall: the lowest recall of a present class ("no class left behind").
STATISTICS = ("uar", "uf1", "accuracy", "min_class_recall")


def per_class_scores(confusion: np.ndarray):
    """(precision, recall, f1, support) arrays from a confusion matrix."""
    true_positive = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(support > 0, true_positive / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1, support


def summary_statistic(confusion: np.ndarray, statistic: str) -> float:
    precision, recall, f1, support = per_class_scores(confusion)
    present = support > 0
    if not present.any():
        return float("nan")
    if statistic == "uar":
        return float(recall[present].mean())
    if statistic == "uf1":
        return float(f1[present].mean())
    if statistic == "accuracy":
        return float(np.trace(confusion) / confusion.sum())
    if statistic == "min_class_recall":
        return float(recall[present].min())
    raise ValueError(f"statistic must be one of {STATISTICS}")
