"""The field's evaluation protocols: one pipeline run per fold, metrics pooled over folds.

Protocols (``mer-tfx cv --protocol``):

- ``loso``: leave one subject out, every subject held out once (the MER standard);
- ``kfold``: K seeded groups of subjects (``--folds K``);
- ``lodo``: leave one dataset out (needs several ``--source``), train on the others.

Every fold holds out whole subjects; validation subjects for epoch selection come
from the fold's training subjects only (trainer/selection.py), and no mode looks at
the held-out subjects. Per-class figures, UAR and UF1 come from the folds' summed
confusion matrices (not a mean of per-fold scores, unstable when a fold holds one
subject), overall and per dataset.

All folds share one pipeline root and one ML Metadata store (``CV/pipeline_root``,
``CV/metadata.db``): the frame conversion (MerExampleGen) depends only on the data, so
it executes once, first, and every fold reuses it; only SubjectSplit and what follows it
run per fold. Folds are built from the subjects with converted clips (coverage.py): a
subject (``lodo``: a dataset) whose clips were all rejected is listed with the reject
reasons in ``subjects_without_clips`` (``datasets_without_clips``) instead of failing
its fold. An interrupted CV re-run resumes: finished folds come from the cache.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import time

import numpy as np

from mer_tfx.errors import UserError
from mer_tfx.ingestion.splits import seeded_order
from mer_tfx.logs import PROGRESS_TAG
from mer_tfx.pipeline.configs import PipelineSettings

log = logging.getLogger(__name__)
SUMMARY_JSON = "cross_validation.json"
REPORT_HTML = "cv_report.html"
PROTOCOLS = {
    "loso": "leave-one-subject-out",
    "kfold": "K subject groups",
    "lodo": "leave-one-dataset-out",
}


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


def dataset_folds(subject_datasets: dict) -> list:
    """Leave one dataset out: every dataset's subjects held out together."""
    by_dataset = collections.defaultdict(list)
    for subject, dataset in subject_datasets.items():
        by_dataset[dataset].append(subject)
    if len(by_dataset) < 2:
        raise UserError(f"leave-one-dataset-out needs at least 2 datasets (--source ... "
                        f"--source ...), got {sorted(by_dataset)}")
    return [sorted(by_dataset[d]) for d in sorted(by_dataset)]


def check_protocol(protocol: str, folds: int = 0) -> None:
    """A protocol request that cannot work, refused before anything runs."""
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if protocol == "kfold" and folds < 2:
        raise UserError(f"--protocol kfold needs --folds K with K >= 2, got {folds}")


def protocol_folds(protocol: str, subject_datasets: dict, folds: int = 0,
                   seed: int = 0) -> list:
    """The held-out subject groups of a protocol; every subject in exactly one group."""
    check_protocol(protocol, folds)
    if protocol == "lodo":
        return dataset_folds(subject_datasets)
    return subject_folds(subject_datasets, folds if protocol == "kfold" else 0, seed)


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


def fold_settings(settings: PipelineSettings, index: int, held_out: list) -> PipelineSettings:
    """One fold: the CV's shared output (pipeline root, metadata), its own pushed model."""
    return settings.replace(**{
        "ingest.eval_subjects": list(held_out),
        "push_to": os.path.join(settings.output, f"fold-{index:02d}", "serving_model")})


def _fold_result(settings: PipelineSettings, index: int, held_out: list, seconds: float):
    from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT
    from mer_tfx.evaluation.data_checks import training_summary
    from mer_tfx.evaluation.results import build_report
    from mer_tfx.pipeline import metadata

    # the fold's own pipeline run (the newest: folds run one after another), as ML
    # Metadata records it, cached executions included
    run = metadata.pipeline_runs(metadata.open_store(settings.metadata_path),
                                 settings.pipeline_name)[-1]
    evaluation, model_run = run.uri("Evaluator", "evaluation"), run.uri("Trainer", "model_run")
    if not evaluation:
        raise UserError(f"fold {index}: ML Metadata in {settings.metadata_path} has no "
                        f"Evaluator output in run {run.run_id}: the fold's pipeline run did "
                        f"not finish")
    split = run.artifact("SubjectSplit", "split_examples")
    recorded = json.loads(split.custom_properties[SUBJECTS_BY_SPLIT].string_value)["eval"]
    if sorted(recorded) != sorted(held_out):
        raise UserError(f"fold {index}: run {run.run_id} held out {recorded}, expected "
                        f"{sorted(held_out)}")
    report = build_report(evaluation)
    if report["class_names"] != settings.class_names:
        raise UserError(f"fold {index} evaluated classes {report['class_names']}, "
                        f"expected {settings.class_names}")
    trained = training_summary(model_run) if model_run else None
    overall = report["overall"]
    return {"fold": index, "eval_subjects": held_out, "run_id": run.run_id,
            "n": int(overall["example_count"]),
            "uf1": overall["uf1"], "uar": overall["uar"], "seconds": round(seconds, 1),
            # where the fold's time went: each component's execution, and the Keras fit
            "component_seconds": {node: round(n.seconds, 1) for node, n in run.nodes.items()},
            "fit_seconds": (trained or {}).get("train_seconds"),
            "evaluation_path": evaluation,
            "model_selection": (trained or {}).get("model_selection"),
            "confusion": report["confusion_matrix"]["counts"],
            "confusion_by_dataset": report["confusion_by_dataset"]}


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


def run_cross_validation(settings: PipelineSettings, protocol: str = "loso",
                         folds: int = 0) -> dict:
    """Runs every fold (cached folds are reused) and writes the pooled summary and report."""
    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.local_runner import run

    from .coverage import CONVERSION_NODE, converted_coverage, without_clips_note
    from .cv_report import write_cv_report

    check_protocol(protocol, folds)
    found = converted_coverage(settings)  # the conversion first: folds need its subjects
    for subject, entry in found.subjects_without_clips.items():
        log.warning("%s %s has no converted clip (%s): no fold holds it out", PROGRESS_TAG,
                    subject, ", ".join(f"{k}: {v}" for k, v in entry["rejected"].items()))
    try:
        groups = protocol_folds(protocol, found.subjects, folds, settings.ingest.split_seed)
    except UserError as error:
        raise UserError(f"{error}{without_clips_note(found)}") from None
    settings.write(settings.output)
    results, started = [], time.perf_counter()
    for index, held_out in enumerate(groups):
        elapsed = time.perf_counter() - started
        eta = f", about {elapsed / index * (len(groups) - index) / 60:.0f} min left" \
            if index else ""
        log.info("%s fold %d of %d: holding out %s (%.0f s elapsed%s)", PROGRESS_TAG,
                 index + 1, len(groups), ", ".join(held_out), elapsed, eta)
        fold = fold_settings(settings, index, held_out)
        fold_started = time.perf_counter()
        run(fold, settings_dir=os.path.join(settings.output, f"fold-{index:02d}"))
        results.append(_fold_result(fold, index, held_out, time.perf_counter() - fold_started))

    pooled = pooled_metrics(settings.class_names, [r["confusion"] for r in results])
    by_dataset = collections.defaultdict(list)
    for result in results:
        for dataset, counts in result["confusion_by_dataset"].items():
            by_dataset[dataset].append(counts)
    store = metadata.open_store(settings.metadata_path)
    summary = {
        "protocol": {"name": protocol, "description": PROTOCOLS[protocol],
                     "folds": len(groups)},
        "model_selection": {"epoch_selection": settings.trainer.epoch_selection,
                            "statement": selection_statement(settings)},
        "overall": _scores(pooled),
        "per_dataset": {d: _scores(pooled_metrics(settings.class_names, c))
                        for d, c in sorted(by_dataset.items())},
        "per_class": pooled["per_class"],
        "confusion_matrix": pooled["confusion_matrix"],
        "folds": [{k: v for k, v in r.items() if not k.startswith("confusion")}
                  for r in results],
        **found.describe(),
        "ingestion_executions": metadata.executed_count(store, settings.pipeline_name,
                                                        CONVERSION_NODE),
        "seconds": round(time.perf_counter() - started, 1),
        "settings": settings.to_dict(),
    }
    with open(os.path.join(settings.output, SUMMARY_JSON), "w") as handle:
        json.dump(summary, handle, indent=2)
    write_cv_report(summary, pooled, settings.output)
    overall = summary["overall"]
    log.info("%s %s, %d folds: UF1 %.3f, UAR %.3f on %d clips; %s", PROGRESS_TAG,
             PROTOCOLS[protocol], len(groups), overall["uf1"], overall["uar"], overall["n"],
             os.path.join(settings.output, REPORT_HTML))
    return summary
