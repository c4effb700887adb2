"""The field's protocols on Kubeflow Pipelines: one package and one run per fold, pooled
as a local CV pools its folds.

Why one package per fold: TFX 1.16's KubeflowV2DagRunner mishandles RuntimeParameters,
so each fold's held-out subjects are baked into its package (SubjectSplit's
``eval_subjects``). Each fold also gets a pipeline name of its own,
``<pipeline name>-fold-KK``: its runs land in ``<root>/<name>-fold-KK/<run id>/`` of the
Kubeflow layout, so the report tells the folds apart from the pipeline root alone, the
cluster's ML Metadata unread.

- ``compile_folds``: the folds (folds.py) of the annotated subjects, read here from the
  sources, or of a subject list given when the data is not readable from this machine;
  one package per fold and the manifest ``DIR/kubeflow_cv.json``.
- ``submit_folds``: one run per fold through the client ``mer-tfx kfp run`` uses; run
  ids into the manifest.
- ``pool_kubeflow_cv``: every fold's run (the manifest's run id, or the newest evaluated
  run of the fold's pipeline name), its held-out subjects checked against the fold's
  (the subjects its Evaluator sliced), figures pooled by pooling.write_summary into the
  same ``cross_validation.json`` and ``cv_report.html`` as a local CV.
"""
from __future__ import annotations

import json
import logging
import os
import time

from mer_tfx.errors import UserError
from mer_tfx.logs import PROGRESS_TAG

from .cross_validation import fold_settings
from .folds import check_protocol, protocol_folds
from .pooling import write_summary

log = logging.getLogger(__name__)
MANIFEST = "kubeflow_cv.json"
SUBJECTS_HELP = ("give the subjects with --subjects S1,S2,... (several sources: "
                 "DATASET/SUBJECT, as the records name them)")


def fold_pipeline_name(pipeline_name: str, index: int) -> str:
    """The fold's own pipeline name: its runs' folder in the Kubeflow layout."""
    return f"{pipeline_name}-fold-{index:02d}"


def annotated_subjects(settings) -> dict:
    """{subject: dataset} of every annotation row the pipeline would convert (checks
    passed, class kept); UserError saying to give --subjects if the sources do not read."""
    import tensorflow as tf

    from mer_tfx.ingestion.clips import ClipSpec
    from mer_tfx.ingestion.readers import read_sources, restrict_to_classes

    try:
        rows = read_sources(settings.source_list)
    except (UserError, OSError, tf.errors.OpError) as error:
        raise UserError(f"the sources are not readable here ({error}): {SUBJECTS_HELP}") \
            from None
    rows = restrict_to_classes(rows, settings.transform.label_key, settings.class_names)
    subjects = {row.subject: row.dataset for row in rows if isinstance(row, ClipSpec)}
    if not subjects:
        raise UserError(f"no annotation row of {', '.join(s.root for s in settings.source_list)} "
                        f"passed the annotation checks: no subject to hold out")
    return dict(sorted(subjects.items()))


def listed_subjects(settings, subjects) -> dict:
    """{subject: dataset} of a subject list given by hand: several sources name their
    subjects DATASET/SUBJECT (the dataset is the prefix), one source plain."""
    sources = settings.source_list
    datasets = {source.dataset for source in sources}
    found = {}
    for subject in subjects:
        if len(sources) == 1:
            found[subject] = sources[0].dataset
            continue
        dataset, sep, _ = subject.partition("/")
        if not sep or dataset not in datasets:
            raise UserError(f"subject {subject!r}: with several sources write DATASET/SUBJECT, "
                            f"DATASET one of {', '.join(sorted(datasets))}")
        found[subject] = dataset
    return dict(sorted(found.items()))


def kubeflow_folds(settings, protocol: str, folds: int = 0, subjects=None) -> tuple:
    """(held-out groups, {subject: dataset}, where the subjects came from)."""
    check_protocol(protocol, folds)
    if subjects:
        found, source = listed_subjects(settings, subjects), "--subjects"
    else:
        found, source = annotated_subjects(settings), "annotations"
    return protocol_folds(protocol, found, folds, settings.ingest.split_seed), found, source


def write_manifest(manifest: dict, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(manifest, handle, indent=2)
    return path


def read_manifest(path: str) -> dict:
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read the Kubeflow CV manifest {path} ({error}): pass the "
                        f"{MANIFEST} that mer-tfx cv --kubeflow DIR wrote") from None
    if not isinstance(manifest, dict) or not {"protocol", "folds", "settings"} <= set(manifest):
        raise UserError(f"{path} is not a {MANIFEST} of mer-tfx cv --kubeflow (it needs "
                        f"protocol, folds and settings)")
    return manifest


def compile_folds(settings, protocol: str, folds: int, out_dir: str, subjects=None,
                  local: bool = False) -> dict:
    """One package per fold into ``out_dir`` (fold-KK.yaml) and the manifest; returns it.

    ``settings``: the CV's settings with their Kubeflow options, as ``mer-tfx kfp
    compile`` takes them (``kfp/cli.package_settings``); ``local``: packages for
    ``mer-tfx kfp replay`` on this machine."""
    from mer_tfx.kfp.cli import compile_package

    groups, found, source = kubeflow_folds(settings, protocol, folds, subjects)
    out_dir = os.path.abspath(out_dir)
    entries = []
    for index, held_out in enumerate(groups):
        name = fold_pipeline_name(settings.pipeline_name, index)
        log.info("%s fold %d of %d (%s): compiling %s", PROGRESS_TAG, index + 1, len(groups),
                 ", ".join(held_out), name)
        fold = fold_settings(settings, index, held_out).replace(pipeline_name=name)
        written = compile_package(fold, os.path.join(out_dir, f"fold-{index:02d}.yaml"), local)
        entries.append({"fold": index, "eval_subjects": held_out, "pipeline_name": name,
                        "package": written["package"], "serving_dir": written["serving_dir"],
                        "run_id": None, "run_name": None})
    manifest = {"protocol": protocol, "folds_requested": folds, "subjects_from": source,
                "subjects": found, "pipeline_root": written["pipeline_root"],
                "image": written["image"], "local": local, "submitted": None,
                "folds": entries, "settings": settings.to_dict()}
    write_manifest(manifest, os.path.join(out_dir, MANIFEST))
    return manifest


def submit_folds(manifest_path: str, host: str, experiment: str, namespace=None, token=None,
                 service_account=None, upload: bool = False, client=None) -> dict:
    """One run per fold (inline packages, or with ``upload`` each package a version of
    its fold's pipeline); every run id goes into the manifest as soon as it is known."""
    from mer_tfx.kfp import client as kfp_client

    manifest = read_manifest(manifest_path)
    if manifest.get("local"):
        raise UserError("these packages were compiled with --local (for mer-tfx kfp replay): "
                        "compile them without --local to submit them to a cluster")
    client = client or kfp_client.connect(host, namespace=namespace, token=token)
    manifest["submitted"] = {"host": host, "experiment": experiment, "namespace": namespace,
                             "upload": upload}
    for fold in manifest["folds"]:
        started = kfp_client.run_once(
            host, fold["package"], experiment=experiment, pipeline_name=fold["pipeline_name"],
            namespace=namespace, token=token, service_account=service_account,
            upload_package=upload, client=client)
        fold["run_id"], fold["run_name"] = started["run_id"], started["run_name"]
        write_manifest(manifest, manifest_path)
        log.info("%s fold %d of %d (%s): run %s", PROGRESS_TAG, fold["fold"] + 1,
                 len(manifest["folds"]), ", ".join(fold["eval_subjects"]), started["run_id"])
    return manifest


def _fold_run(pipeline_root: str, fold: dict):
    from mer_tfx.evaluation.layout import kubeflow_runs

    name, wanted = fold["pipeline_name"], fold.get("run_id")
    runs = kubeflow_runs(pipeline_root, name)
    if wanted:
        runs = [run for run in runs if run.run == wanted]
    if not runs:
        which = f"run {wanted}" if wanted else "no evaluated run"
        raise UserError(f"fold {fold['fold']} ({', '.join(fold['eval_subjects'])}): "
                        f"{which} with Evaluator output under {pipeline_root}/{name}/: wait "
                        f"for the fold's run to finish, or pass the --pipeline-root the runs "
                        f"wrote to")
    return runs[-1]


def kubeflow_fold_result(settings, pipeline_root: str, fold: dict) -> dict:
    """One fold's figures from its run's Evaluator output, as a local fold gives them."""
    from mer_tfx.evaluation.data_checks import training_summary
    from mer_tfx.evaluation.results import build_report

    run, index = _fold_run(pipeline_root, fold), fold["fold"]
    held_out = sorted(fold["eval_subjects"])
    report = build_report(run.evaluation)
    evaluated = sorted(str(row["value"]) for row in report["slices"].get("subject", []))
    recorded = sorted(run.eval_subjects) if run.eval_subjects is not None else evaluated
    if evaluated != held_out or recorded != held_out:
        raise UserError(f"fold {index}: run {run.run} of {fold['pipeline_name']} held out "
                        f"{evaluated}, expected {held_out}: was the package recompiled "
                        f"with other folds? Re-run the fold's package")
    if report["class_names"] != settings.class_names:
        raise UserError(f"fold {index}: run {run.run} evaluated classes "
                        f"{report['class_names']}, expected {settings.class_names}")
    trained = training_summary(run.model_run) if run.model_run else None
    overall = report["overall"]
    return {"fold": index, "eval_subjects": fold["eval_subjects"], "run_id": run.run,
            "pipeline_name": fold["pipeline_name"], "n": int(overall["example_count"]),
            "uf1": overall["uf1"], "uar": overall["uar"],
            "seconds": None,  # the run's time is the cluster's (KFP UI), not in the layout
            "fit_seconds": (trained or {}).get("train_seconds"),
            "evaluation_path": run.evaluation,
            "model_selection": (trained or {}).get("model_selection"),
            "confusion": report["confusion_matrix"]["counts"],
            "confusion_by_dataset": report["confusion_by_dataset"],
            "converted_here": bool(run.ingest_report)}


def pool_kubeflow_cv(manifest_path: str, pipeline_root: str | None = None,
                     output: str | None = None) -> dict:
    """The folds' runs pooled into ``cross_validation.json`` and ``cv_report.html`` in
    ``output`` (default: the manifest's folder)."""
    from mer_tfx.pipeline.configs import PipelineSettings

    started = time.perf_counter()
    manifest = read_manifest(manifest_path)
    root = pipeline_root or manifest.get("pipeline_root")
    if not root:
        raise UserError(f"{manifest_path} names no pipeline root: pass --pipeline-root")
    if "://" not in root:
        root = os.path.abspath(root)
    output = output or os.path.dirname(os.path.abspath(manifest_path))
    settings = PipelineSettings.from_dict(manifest["settings"]).replace(output=output)
    results = [kubeflow_fold_result(settings, root, fold) for fold in manifest["folds"]]
    conversions = sum(result.pop("converted_here") for result in results)
    return write_summary(settings, manifest["protocol"], results,
                         time.perf_counter() - started, {
                             "engine": "kubeflow",
                             "kubeflow": {"manifest": os.path.abspath(manifest_path),
                                          "pipeline_root": root,
                                          "subjects_from": manifest.get("subjects_from"),
                                          "seconds": "time to pool the runs here; each "
                                                     "run's own time is in the KFP UI"},
                             # runs whose own folder holds a MerExampleGen output (a task
                             # KFP took from its cache wrote none)
                             "ingestion_executions": conversions,
                             # every fold's run evaluated all its held-out subjects
                             # (checked above): none lacked converted clips
                             "subjects_without_clips": {}, "datasets_without_clips": {}})
