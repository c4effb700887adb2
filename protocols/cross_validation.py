"""The field's evaluation protocols run locally: one pipeline run per fold, figures pooled.

Protocols (``mer-tfx cv --protocol``, folds.py): ``loso``, ``kfold`` (``--folds K``) and
``lodo``. Every fold holds out whole subjects; validation subjects for epoch selection
come from the fold's training subjects only (trainer/selection.py), and no mode looks at
the held-out subjects. pooling.py pools the folds' confusion matrices.

All folds share one pipeline root (``CV/pipeline_root``). The components that do not
depend on the held-out subjects (the frame conversion, the statistics and validation of
every clip) run once, first, and every fold reuses them from the cache; only SubjectSplit
and what follows it run per fold. Folds are built from the subjects with converted clips
(coverage.py): a subject (``lodo``: a dataset) whose clips were all rejected is listed
with the reject reasons in ``subjects_without_clips`` (``datasets_without_clips``)
instead of failing its fold. An interrupted CV re-run resumes: finished folds come from
the cache.

Folds run one after another in this process, sharing ``CV/metadata.db``; with
``parallel_folds`` N > 1, N processes run them, each fold with its own ML Metadata store
(``CV/fold-KK/metadata.db``, a copy of the shared store taken after the shared
components ran, so the fold reuses them from the cache), its own pipeline root for what
it executes (``CV/fold-KK/pipeline_root``: stores copied from one history number their
executions alike, and TFX names output folders by execution id) and its log
(``CV/fold-KK/fold.log``). SQLite stores are not written by several processes at once.
``cross_validation.json`` names each fold's store and run id; ``mer-tfx report
--pipeline-root CV/fold-KK/pipeline_root`` reads one parallel fold.
"""
from __future__ import annotations

import concurrent.futures
import json
import logging
import multiprocessing
import os
import shutil
import time

from mer_tfx.errors import UserError
from mer_tfx.logs import PROGRESS_TAG
from mer_tfx.pipeline.configs import METADATA_FILE, PipelineSettings

# the names callers import from here (the protocols' entry point)
from .folds import PROTOCOLS, check_protocol, protocol_folds, subject_folds  # noqa: F401
from .pooling import REPORT_HTML, SUMMARY_JSON, pooled_metrics, write_summary  # noqa: F401

log = logging.getLogger(__name__)
FOLD_LOG = "fold.log"


def fold_settings(settings: PipelineSettings, index: int, held_out: list) -> PipelineSettings:
    """One fold: the CV's shared output (pipeline root, metadata), its own pushed model."""
    return settings.replace(**{
        "ingest.eval_subjects": list(held_out),
        "push_to": os.path.join(fold_dir(settings.output, index), "serving_model")})


def fold_dir(output: str, index: int) -> str:
    """A fold's own folder: its settings.json, pushed model, and in a parallel CV its ML
    Metadata store and log."""
    return os.path.join(output, f"fold-{index:02d}")


def _fold_result(settings: PipelineSettings, index: int, held_out: list, seconds: float,
                 metadata_path: str | None = None):
    from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT
    from mer_tfx.evaluation.data_checks import training_summary
    from mer_tfx.evaluation.results import build_report
    from mer_tfx.pipeline import metadata

    # the fold's own pipeline run (the newest in its store: folds sharing a store run one
    # after another), as ML Metadata records it, cached executions included
    metadata_path = metadata_path or settings.metadata_path
    run = metadata.pipeline_runs(metadata.open_store(metadata_path), settings.pipeline_name)[-1]
    evaluation, model_run = run.uri("Evaluator", "evaluation"), run.uri("Trainer", "model_run")
    if not evaluation:
        raise UserError(f"fold {index}: ML Metadata in {metadata_path} has no "
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
            "metadata": metadata_path,
            "n": int(overall["example_count"]),
            "uf1": overall["uf1"], "uar": overall["uar"], "seconds": round(seconds, 1),
            # where the fold's time went: each component's execution, and the Keras fit
            "component_seconds": {node: round(n.seconds, 1) for node, n in run.nodes.items()},
            "fit_seconds": (trained or {}).get("train_seconds"),
            "evaluation_path": evaluation,
            "model_selection": (trained or {}).get("model_selection"),
            "confusion": report["confusion_matrix"]["counts"],
            "confusion_by_dataset": report["confusion_by_dataset"]}


def _run_fold(settings: PipelineSettings, index: int, held_out: list,
              metadata_path: str | None = None, pipeline_root: str | None = None) -> dict:
    from mer_tfx.pipeline.local_runner import run

    fold = fold_settings(settings, index, held_out)
    started = time.perf_counter()
    run(fold, settings_dir=fold_dir(settings.output, index), metadata_path=metadata_path,
        pipeline_root=pipeline_root)
    return _fold_result(fold, index, held_out, time.perf_counter() - started, metadata_path)


def _fold_process(values: dict, index: int, held_out: list, verbose: bool) -> dict:
    """A parallel fold, in a process of its own: its own store, root and log."""
    from mer_tfx.logs import setup_logging

    settings = PipelineSettings.from_dict(values)
    folder = fold_dir(settings.output, index)
    setup_logging(verbose, path=os.path.join(folder, FOLD_LOG))
    store = os.path.join(folder, METADATA_FILE)
    if not os.path.exists(store):  # a resumed CV keeps the fold's store, hence its cache
        shutil.copyfile(settings.metadata_path, store)
    return _run_fold(settings, index, held_out, store, os.path.join(folder, "pipeline_root"))


def _run_sequential(settings: PipelineSettings, groups: list) -> list:
    results, started = [], time.perf_counter()
    for index, held_out in enumerate(groups):
        elapsed = time.perf_counter() - started
        eta = f", about {elapsed / index * (len(groups) - index) / 60:.0f} min left" \
            if index else ""
        log.info("%s fold %d of %d: holding out %s (%.0f s elapsed%s)", PROGRESS_TAG,
                 index + 1, len(groups), ", ".join(held_out), elapsed, eta)
        results.append(_run_fold(settings, index, held_out))
    return results


def _share_the_cores(processes: int) -> None:
    """A parallel fold's TensorFlow gets its share of the cores: by default each fold
    would start a thread per core for ops and as many for op scheduling, and N folds
    would oversubscribe the machine N times over. Runs in the fold's process before
    TensorFlow is imported (it reads these variables once, at start)."""
    share = str(max(1, (os.cpu_count() or 1) // processes))
    os.environ["TF_NUM_INTRAOP_THREADS"] = share
    os.environ["TF_NUM_INTEROP_THREADS"] = share


def _run_parallel(settings: PipelineSettings, groups: list, processes: int) -> list:
    log.info("%s %d folds, %d at a time in their own processes; each fold logs to %s",
             PROGRESS_TAG, len(groups), processes,
             os.path.join(settings.output, "fold-KK", FOLD_LOG))
    for index in range(len(groups)):
        os.makedirs(fold_dir(settings.output, index), exist_ok=True)
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    results, started = {}, time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=_share_the_cores, initargs=(processes,)) as pool:
        pending = {pool.submit(_fold_process, settings.to_dict(), index, held_out, verbose):
                   index for index, held_out in enumerate(groups)}
        for done in concurrent.futures.as_completed(pending):
            index = pending[done]
            try:
                result = done.result()
            except Exception as error:
                raise UserError(f"fold {index} ({', '.join(groups[index])}) failed: {error}; "
                                f"its log: {os.path.join(fold_dir(settings.output, index), FOLD_LOG)}"
                                ) from error
            results[index] = result
            log.info("%s fold %d of %d done (%s): UF1 %.3f on %d clips, %.0f s; %d of %d "
                     "folds done, %.0f s elapsed", PROGRESS_TAG, index + 1, len(groups),
                     ", ".join(groups[index]), result["uf1"], result["n"], result["seconds"],
                     len(results), len(groups), time.perf_counter() - started)
    return [results[i] for i in range(len(groups))]


def run_cross_validation(settings: PipelineSettings, protocol: str = "loso",
                         folds: int = 0, parallel_folds: int = 1) -> dict:
    """Runs every fold (cached folds are reused) and writes the pooled summary and report."""
    from mer_tfx.pipeline import metadata

    from .coverage import CONVERSION_NODE, converted_coverage, without_clips_note

    check_protocol(protocol, folds)
    if parallel_folds < 1:
        raise UserError(f"--parallel-folds must be at least 1, got {parallel_folds}")
    started = time.perf_counter()
    found = converted_coverage(settings)  # the conversion first: folds need its subjects
    for subject, entry in found.subjects_without_clips.items():
        log.warning("%s %s has no converted clip (%s): no fold holds it out", PROGRESS_TAG,
                    subject, ", ".join(f"{k}: {v}" for k, v in entry["rejected"].items()))
    try:
        groups = protocol_folds(protocol, found.subjects, folds, settings.ingest.split_seed)
    except UserError as error:
        raise UserError(f"{error}{without_clips_note(found)}") from None
    settings.write(settings.output)
    processes = min(parallel_folds, len(groups))
    results = _run_parallel(settings, groups, processes) if processes > 1 \
        else _run_sequential(settings, groups)
    store = metadata.open_store(settings.metadata_path)
    return write_summary(settings, protocol, results, time.perf_counter() - started, {
        **found.describe(),
        "ingestion_executions": metadata.executed_count(store, settings.pipeline_name,
                                                        CONVERSION_NODE),
        "parallel_folds": processes})
