"""Where a pipeline run's outputs lie, in a local or a Kubeflow pipeline root.

The one module that knows the folder layouts; the report, the data checks,
cross-validation, predict and the tests find component outputs through it.

Local (LocalDagRunner, TFX decides)::

    <root>/<Component>/<output>/<execution id>/

Kubeflow Pipelines v2 (the KFP backend decides)::

    <root>/<pipeline name>/<run id>/<Component>/<output>            KFP 2.0 - 2.3
    <root>/<pipeline name>/<run id>/<Component>/<salt>/<output>     later releases

Works for local paths and gs:// alike (tf.io.gfile, "/" joins for URLs).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import posixpath

import tensorflow as tf

from mer_tfx.errors import UserError
from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT
from mer_tfx.pipeline import metadata
from mer_tfx.pipeline.configs import METADATA_FILE, PIPELINE_NAME

log = logging.getLogger(__name__)

EVALUATOR = "Evaluator"
# (component, output) of everything a report reads besides the Evaluator's.
OUTPUTS = {
    "model": ("Trainer", "model"),
    "model_run": ("Trainer", "model_run"),
    "ingest_report": ("MerExampleGen", "ingest_report"),
    "anomalies": ("ExampleValidator", "anomalies"),
    "examples": ("SubjectSplit", "split_examples"),
}
SERVING_MODEL = "Format-Serving"  # the Trainer's SavedModel inside its model artifact


def join(*parts: str) -> str:
    # gs:// and other URLs need "/" whatever the local OS separator is.
    if "://" in parts[0]:
        return posixpath.join(*(p.rstrip("/") for p in parts))
    return os.path.join(*parts)


def _names(folder: str) -> list:
    return [name.rstrip("/") for name in tf.io.gfile.listdir(folder)]


def numbered_folders(path: str) -> list:
    """(execution id, path) for each numeric sub-folder, ascending by id."""
    if not tf.io.gfile.isdir(path):
        return []
    found = [(int(name), join(path, name)) for name in _names(path)
             if name.isdigit() and tf.io.gfile.isdir(join(path, name))]
    return sorted(found)


def newest(path: str) -> str | None:
    """The highest-numbered execution folder under ``path``, or None."""
    found = numbered_folders(path)
    return found[-1][1] if found else None


def has_tfma_output(folder: str) -> bool:
    """Config, metrics and plots all written (a running or failed Evaluator lacks some)."""
    if not tf.io.gfile.isdir(folder):
        return False
    names = set(_names(folder))
    return ("eval_config.json" in names and any(n.startswith("metrics") for n in names)
            and any(n.startswith("plots") for n in names))


def blessing_of(folder: str | None):
    """True (BLESSED), False (NOT_BLESSED) or None (no marker) of a blessing folder."""
    if not folder or not tf.io.gfile.isdir(folder):
        return None
    names = set(_names(folder))
    return True if "BLESSED" in names else False if "NOT_BLESSED" in names else None


@dataclasses.dataclass(frozen=True)
class RunOutputs:
    """The outputs of one pipeline run that has an evaluation (None where absent)."""

    layout: str  # "local" or "kubeflow"
    run: str  # pipeline run id (local: TFX's run id in ML Metadata; Kubeflow: the KFP run id)
    evaluation: str
    blessing: str | None
    blessed: bool | None
    model: str | None = None  # the Trainer's serving SavedModel
    model_run: str | None = None
    ingest_report: str | None = None
    anomalies: str | None = None
    examples: str | None = None  # SubjectSplit's split examples (Split-train/, Split-eval/)
    eval_subjects: tuple | None = None  # as SubjectSplit recorded them (None: not known)
    started: str | None = None  # ISO time the run started (local layout)
    # component -> {"execution_id", "cached"}: which execution made each output (local)
    executions: dict = dataclasses.field(default_factory=dict)
    metadata: str | None = None  # the ML Metadata store the run was read from

    def header(self) -> dict:
        """What a report says about where its figures come from."""
        return {"id": self.run, "layout": self.layout, "started": self.started,
                "eval_subjects": None if self.eval_subjects is None else list(self.eval_subjects),
                "executions": self.executions, "metadata": self.metadata}


# --- local layout: the runs ML Metadata knows -------------------------------------------------

def metadata_beside(pipeline_root: str) -> str:
    """The store the local runner writes beside the pipeline root (<output>/metadata.db)."""
    return join(os.path.dirname(pipeline_root.rstrip("/")) or ".", METADATA_FILE)


def _check_local_root(pipeline_root: str) -> None:
    """UserError saying what to pass when the folder is not a pipeline root with an Evaluator."""
    if not tf.io.gfile.isdir(pipeline_root):
        raise UserError(
            f"pipeline root {pipeline_root} does not exist: pass the folder the pipeline "
            f"wrote its artifacts to (the one that holds {EVALUATOR}/, by default "
            f"<output>/pipeline_root)")
    evaluation_root = join(pipeline_root, EVALUATOR, "evaluation")
    if not numbered_folders(evaluation_root):
        nested = join(pipeline_root, "pipeline_root")
        if tf.io.gfile.isdir(join(nested, EVALUATOR)):
            raise UserError(
                f"no Evaluator output in {pipeline_root}, but {nested} has some: pass "
                f"--pipeline-root {nested}")
        raise UserError(
            f"no Evaluator output under {evaluation_root}: the pipeline has not run its "
            f"Evaluator in {pipeline_root} yet. Run the pipeline to completion first, or pass "
            f"the pipeline root that holds {EVALUATOR}/evaluation/<id>/")


def _eval_subjects(split_artifact) -> tuple | None:
    value = split_artifact.custom_properties.get(SUBJECTS_BY_SPLIT) if split_artifact else None
    if value is None or not value.string_value:
        return None
    return tuple(json.loads(value.string_value).get("eval", []))


def _local_outputs(run: metadata.PipelineRun, store_path: str) -> RunOutputs:
    blessing = run.uri(EVALUATOR, "blessing")
    found = {key: run.uri(component, output) for key, (component, output) in OUTPUTS.items()}
    if found["model"]:
        found["model"] = join(found["model"], SERVING_MODEL)
    started = datetime.datetime.fromtimestamp(run.started_ms / 1000).isoformat(
        timespec="seconds")
    return RunOutputs(
        "local", run.run_id, run.uri(EVALUATOR, "evaluation"), blessing, blessing_of(blessing),
        eval_subjects=_eval_subjects(run.artifact(*OUTPUTS["examples"])), started=started,
        executions={node: {"execution_id": n.execution_id, "cached": n.cached}
                    for node, n in sorted(run.nodes.items())},
        metadata=store_path, **found)


def local_runs(pipeline_root: str, pipeline_name: str = PIPELINE_NAME,
               metadata_path: str | None = None) -> list:
    """Every run in the store whose Evaluator output (its own or a cached one) holds TFMA
    output, oldest first; UserError when the root or the store is missing."""
    _check_local_root(pipeline_root)
    store_path = metadata_path or metadata_beside(pipeline_root)
    if not tf.io.gfile.exists(store_path):
        raise UserError(
            f"no ML Metadata store at {store_path}: a local pipeline writes metadata.db beside "
            f"its pipeline root, and it is how mer-tfx knows which outputs belong to one run. "
            f"Pass --metadata PATH (the run's metadata.db)")
    runs = metadata.pipeline_runs(metadata.open_store(store_path), pipeline_name)
    evaluated = [run for run in runs if run.uri(EVALUATOR, "evaluation")
                 and has_tfma_output(run.uri(EVALUATOR, "evaluation"))]
    if not evaluated:
        raise UserError(
            f"ML Metadata in {store_path} has no finished run of pipeline '{pipeline_name}' "
            f"with Evaluator output ({len(runs)} runs recorded): run the pipeline to "
            f"completion, or pass the --pipeline-name it was run with")
    return [_local_outputs(run, store_path) for run in evaluated]


def _choose(runs: list, run_id: str | None, where: str) -> RunOutputs:
    """The run named ``run_id``, or the newest; UserError listing the ids otherwise."""
    if run_id is None:
        return runs[-1]
    for run in runs:
        if run.run == run_id:
            return run
    raise UserError(f"no evaluated run '{run_id}' in {where}; runs: "
                    f"{', '.join(r.run for r in runs)} (mer-tfx report --list-runs)")


# --- Kubeflow layout -----------------------------------------------------------------------

def _task_output(run_folder: str, component: str, output: str) -> str | None:
    """<run>/<component>/<output>, or <run>/<component>/<salt>/<output>; None if absent."""
    task = join(run_folder, component)
    if not tf.io.gfile.isdir(task):
        return None
    for parent in [task] + [join(task, n) for n in _names(task) if n != output]:
        candidate = join(parent, output)
        if tf.io.gfile.isdir(candidate):
            return candidate
    return None


def find_kfp_evaluations(pipeline_root: str, pipeline_name: str = PIPELINE_NAME) -> list:
    """[{"run_id", "evaluation", "blessing" (or None), "mtime_nsec"}], newest first.

    Only Evaluator outputs that hold TFMA output count (a failed or running Evaluator
    leaves an empty folder or none).
    """
    base = join(pipeline_root, pipeline_name)
    if not tf.io.gfile.isdir(base):
        return []
    found = []
    for run_id in _names(base):
        evaluation = _task_output(join(base, run_id), EVALUATOR, "evaluation")
        if not evaluation or not has_tfma_output(evaluation):
            continue
        files = [join(evaluation, n) for n in _names(evaluation)
                 if not tf.io.gfile.isdir(join(evaluation, n))]
        found.append({"run_id": run_id, "evaluation": evaluation,
                      "blessing": _task_output(join(base, run_id), EVALUATOR, "blessing"),
                      "mtime_nsec": max(tf.io.gfile.stat(f).mtime_nsec for f in files)})
    return sorted(found, key=lambda e: e["mtime_nsec"], reverse=True)


def kubeflow_runs(pipeline_root: str, pipeline_name: str = PIPELINE_NAME) -> list:
    """Every evaluated run folder of the Kubeflow layout, oldest first (a run folder is
    one run: its outputs cannot mix with another's)."""
    runs = []
    for found in reversed(find_kfp_evaluations(pipeline_root, pipeline_name)):
        run_folder = join(pipeline_root, pipeline_name, found["run_id"])
        outputs = {key: _task_output(run_folder, component, output)
                   for key, (component, output) in OUTPUTS.items()}
        if outputs["model"]:
            outputs["model"] = join(outputs["model"], SERVING_MODEL)
        runs.append(RunOutputs("kubeflow", found["run_id"], found["evaluation"],
                               found["blessing"], blessing_of(found["blessing"]), **outputs))
    return runs


# --- either --------------------------------------------------------------------------------

def all_runs(pipeline_root: str, pipeline_name: str = PIPELINE_NAME,
             metadata_path: str | None = None) -> list:
    """The evaluated runs of a pipeline root, oldest first: the local layout (through ML
    Metadata) first, then the Kubeflow one. UserError (saying what to pass) if neither."""
    try:
        return local_runs(pipeline_root, pipeline_name, metadata_path)
    except UserError:
        runs = (kubeflow_runs(pipeline_root, pipeline_name)
                if tf.io.gfile.isdir(pipeline_root) else [])
        if not runs:
            raise
        return runs


def find_run(pipeline_root: str, pipeline_name: str = PIPELINE_NAME,
             run_id: str | None = None, metadata_path: str | None = None) -> RunOutputs:
    """One evaluated run: ``run_id``, or the newest. Cached executions count as part of
    the run that reused them."""
    return _choose(all_runs(pipeline_root, pipeline_name, metadata_path), run_id,
                   pipeline_root)


def split_files(examples: str | None, split: str = "eval") -> list:
    """The record files of one split of an examples artifact ([] when absent)."""
    if not examples:
        return []
    return sorted(tf.io.gfile.glob(join(examples, f"Split-{split}", "*")))


def trained_model(pipeline_root: str, pipeline_name: str = PIPELINE_NAME,
                  run_id: str | None = None, metadata_path: str | None = None) -> str | None:
    """The serving SavedModel the run trained (pushed or not), either layout; or None."""
    try:
        model = find_run(pipeline_root, pipeline_name, run_id, metadata_path).model
    except UserError:
        if run_id is not None:
            raise
        return None
    return model if model and tf.io.gfile.exists(join(model, "saved_model.pb")) else None
