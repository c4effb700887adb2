"""Subject-independent cross-validation: one pipeline run per fold, metrics pooled.

The protocol the MER literature reports: every subject is held out once
(leave-one-subject-out, or K subject groups), validation/early stopping uses
training subjects only (as in every run), and per-class figures come from the
confusion matrices of all folds summed - not the mean of per-fold scores, which
is unstable when a fold holds one subject. Each fold is a complete pipeline run
in <output>/fold-NN/ (its own pipeline root, metadata and pushed model), so a
fold can be inspected with ``mer-tfx report`` like any run.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np

from mer_tfx.errors import UserError
from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.readers import read_annotations, restrict_to_classes
from mer_tfx.ingestion.splits import seeded_order
from mer_tfx.pipeline.configs import PipelineSettings

log = logging.getLogger(__name__)
SUMMARY_JSON = "cross_validation.json"


def subject_folds(subjects, folds: int = 0, seed: int = 0) -> list:
    """Held-out subject groups: one subject each (folds=0: LOSO) or ``folds`` groups."""
    unique = sorted(set(subjects))
    if len(unique) < 3:
        raise UserError(f"cross-validation needs at least 3 subjects (2 to train and "
                        f"validate on), got {unique}")
    if folds == 0 or folds >= len(unique):
        return [[s] for s in unique]
    if folds < 2:
        raise UserError(f"--folds must be 0 (leave one subject out) or at least 2, got {folds}")
    ordered = seeded_order(unique, seed)
    return [sorted(ordered[i::folds]) for i in range(folds)]


def dataset_subjects(settings: PipelineSettings) -> list:
    rows = read_annotations(settings.dataset, settings.root, settings.annotations)
    rows = restrict_to_classes(rows, settings.transform.label_key, settings.class_names)
    return sorted({r.subject for r in rows if isinstance(r, ClipSpec)})


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


def run_cross_validation(settings: PipelineSettings, folds: int = 0) -> dict:
    """Runs every fold (cached folds are reused) and writes the pooled summary + figures."""
    from mer_tfx.evaluation import plots
    from mer_tfx.evaluation.layout import find_run
    from mer_tfx.evaluation.results import build_report
    from mer_tfx.pipeline.local_runner import run

    groups = subject_folds(dataset_subjects(settings), folds, settings.ingest.split_seed)
    settings.write(settings.output)
    results = []
    for index, held_out in enumerate(groups):
        fold = settings.replace(**{"ingest.eval_subjects": held_out,
                                   "output": os.path.join(settings.output, f"fold-{index:02d}")})
        log.info("[mer-tfx] fold %d/%d: holding out %s", index + 1, len(groups), held_out)
        run(fold)
        evaluation_path = find_run(fold.pipeline_root, fold.pipeline_name).evaluation
        report = build_report(evaluation_path)
        if report["class_names"] != settings.class_names:
            raise UserError(f"fold {index} evaluated classes {report['class_names']}, "
                            f"expected {settings.class_names}")
        results.append({"fold": index, "eval_subjects": held_out,
                        "evaluation_path": evaluation_path, "overall": report["overall"],
                        "confusion": report["confusion_matrix"]["counts"]})
    pooled = pooled_metrics(settings.class_names, [r["confusion"] for r in results])
    summary = {"protocol": "leave-one-subject-out" if all(len(g) == 1 for g in groups)
               else f"{len(groups)}-fold by subject",
               "pooled": pooled,
               "folds": [{k: v for k, v in r.items() if k != "confusion"} for r in results]}
    os.makedirs(settings.output, exist_ok=True)
    with open(os.path.join(settings.output, SUMMARY_JSON), "w") as handle:
        json.dump(summary, handle, indent=2)
    figures = plots.summary_figures(pooled["confusion_matrix"], pooled["per_class"],
                                    pooled["overall"], prefix="cv_")
    for name, png in figures.items():
        with open(os.path.join(settings.output, name), "wb") as handle:
            handle.write(png)
    return summary
