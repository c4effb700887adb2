"""Figures of a cross-validation pooled over its folds, whichever engine ran them.

Per-class figures, UAR and UF1 come from the folds' summed confusion matrices (not a
mean of per-fold scores, unstable when a fold holds one subject), overall and per
dataset. A local CV (cross_validation.py) and a Kubeflow CV (kubeflow_cv.py) both hand
their fold results here, so both write the same ``cross_validation.json`` and
``cv_report.html``.
"""
from __future__ import annotations

import collections
import json
import logging
import os

import numpy as np

from mer_tfx.logs import PROGRESS_TAG

from .folds import PROTOCOLS

log = logging.getLogger(__name__)
SUMMARY_JSON = "cross_validation.json"
REPORT_HTML = "cv_report.html"


def pooled_metrics(class_names, confusions) -> dict:
    """Per-class and summary figures of the summed [actual, predicted] matrices."""
    from mer_tfx.evaluation.scores import per_class_scores, summary_statistic

    total = np.sum([np.asarray(c, dtype=float) for c in confusions], axis=0)
    precision, recall, f1, support = per_class_scores(total)
    return {
        "overall": {name: summary_statistic(total, name) for name in ("uar", "uf1", "accuracy")}
        | {"example_count": float(total.sum())},
        "per_class": [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f),
                       "support": float(s)}
                      for c, p, r, f, s in zip(class_names, precision, recall, f1, support)],
        "confusion_matrix": {"classes": list(class_names), "counts": total.tolist()},
    }


def _scores(pooled: dict) -> dict:
    overall = pooled["overall"]
    return {"uf1": overall["uf1"], "uar": overall["uar"], "accuracy": overall["accuracy"],
            "n": int(overall["example_count"])}


def selection_statement(settings: PipelineSettings) -> str:
    """How every fold chose its weights: the sentence the report and the JSON carry."""
    trainer = settings.trainer
    if trainer.epoch_selection == "fixed":
        return (f"Model selection: a fixed {trainer.epochs} epochs, last weights, in every fold; "
                f"no validation set, and no held-out subject was used to choose epochs or "
                f"settings.")
    return (f"Model selection: in every fold, the epoch with the best validation "
            f"{trainer.selection_metric.upper()} (ties: lower loss; at least "
            f"{trainer.first_selectable_epoch} epochs, patience {trainer.patience}, at most "
            f"{trainer.epochs}) on validation subjects drawn from that fold's training subjects "
            f"({trainer.validation_fraction:.0%} of them); no held-out subject was used to "
            f"choose epochs or settings.")


def write_summary(settings, protocol: str, results: list, seconds: float,
                  extra: dict | None = None) -> dict:
    """Pools ``results`` (one dict per fold, with ``confusion`` and ``confusion_by_dataset``)
    and writes ``cross_validation.json`` and ``cv_report.html`` into ``settings.output``."""
    from .cv_report import write_cv_report

    pooled = pooled_metrics(settings.class_names, [r["confusion"] for r in results])
    by_dataset = collections.defaultdict(list)
    for result in results:
        for dataset, counts in result["confusion_by_dataset"].items():
            by_dataset[dataset].append(counts)
    summary = {
        "protocol": {"name": protocol, "description": PROTOCOLS[protocol],
                     "folds": len(results)},
        "model_selection": {"epoch_selection": settings.trainer.epoch_selection,
                            "statement": selection_statement(settings)},
        "overall": _scores(pooled),
        "per_dataset": {d: _scores(pooled_metrics(settings.class_names, c))
                        for d, c in sorted(by_dataset.items())},
        "per_class": pooled["per_class"],
        "confusion_matrix": pooled["confusion_matrix"],
        "folds": [{k: v for k, v in r.items() if not k.startswith("confusion")}
                  for r in results],
        **(extra or {}),
        "seconds": round(seconds, 1),
        "settings": settings.to_dict(),
    }
    os.makedirs(settings.output, exist_ok=True)
    with open(os.path.join(settings.output, SUMMARY_JSON), "w") as handle:
        json.dump(summary, handle, indent=2)
    write_cv_report(summary, pooled, settings.output)
    overall = summary["overall"]
    log.info("%s %s, %d folds: UF1 %.3f, UAR %.3f on %d clips; %s", PROGRESS_TAG,
             PROTOCOLS[protocol], len(results), overall["uf1"], overall["uar"], overall["n"],
             os.path.join(settings.output, REPORT_HTML))
    return summary
