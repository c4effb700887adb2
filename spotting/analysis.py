"""Spot-then-recognise (MEGC 2024-25): the emotions of the spotted true positives.

Scored on the 3 composite classes (negative, positive, surprise): UF1 is the mean of
the per-class F1, UAR the mean of the per-class *recall* (the official STRS-Metric
script reports mean precision under that name). A truth without a composite class
(``others``) is left out and counted; a prediction outside the 3 classes is a miss
for its truth's class. STRS = spotting overall F1 x analysis F1 (UF1).
"""
from __future__ import annotations

from mer_tfx.labels import normalize_label, three_class

CLASSES = ("negative", "positive", "surprise")


def composite(label) -> str:
    """The MEGC composite class of any spelling ('' for others or an unknown label)."""
    canonical = normalize_label(label)
    return three_class(canonical) if canonical else ""


def analyse(true_positives) -> dict:
    """``true_positives``: (dataset, video, truth Interval, predicted Interval) tuples."""
    pairs, excluded = [], 0
    for _dataset, _video, truth, predicted in true_positives:
        actual = composite(truth.label)
        if not actual:
            excluded += 1
            continue
        pairs.append((actual, composite(predicted.label) or "other"))
    per_class, f1s, recalls = {}, [], []
    for name in CLASSES:
        tp = sum(a == name and p == name for a, p in pairs)
        fp = sum(a != name and p == name for a, p in pairs)
        fn = sum(a == name and p != name for a, p in pairs)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_class[name] = {"tp": tp, "fp": fp, "fn": fn, "f1": f1, "recall": recall}
        f1s.append(f1)
        recalls.append(recall)
    return {"scored": len(pairs), "excluded_others": excluded,
            "uf1": sum(f1s) / len(CLASSES), "uar": sum(recalls) / len(CLASSES),
            "per_class": per_class}


def strs(spotting: dict, analysis: dict) -> float:
    """STRS = spotting overall F1 x analysis UF1 (0 when nothing was spotted)."""
    return (spotting["overall"]["overall"]["f1"] or 0.0) * analysis["uf1"]
