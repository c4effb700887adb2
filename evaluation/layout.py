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
import logging
import os
import posixpath

import tensorflow as tf

from mer_tfx.errors import UserError
from mer_tfx.pipeline.configs import PIPELINE_NAME

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
    run: str  # execution id (local) or KFP run id
    evaluation: str
    blessing: str | None
    blessed: bool | None
    model: str | None = None  # the Trainer's serving SavedModel
    model_run: str | None = None
    ingest_report: str | None = None
    anomalies: str | None = None
    examples: str | None = None  # SubjectSplit's split examples (Split-train/, Split-eval/)


# --- local layout -------------------------------------------------------------------------

def find_latest_evaluation(pipeline_root: str):
    """(execution id, folder) of the newest Evaluator run with TFMA output; UserError if none."""
    if not tf.io.gfile.isdir(pipeline_root):
        raise UserError(
            f"pipeline root {pipeline_root} does not exist: pass the folder the pipeline "
            f"wrote its artifacts to (the one that holds {EVALUATOR}/, by default "
            f"<output>/pipeline_root)")
    evaluation_root = join(pipeline_root, EVALUATOR, "evaluation")
    runs = numbered_folders(evaluation_root)
    if not runs:
        nested = join(pipeline_root, "pipeline_root")
        if tf.io.gfile.isdir(join(nested, EVALUATOR)):
            raise UserError(
                f"no Evaluator output in {pipeline_root}, but {nested} has some: pass "
                f"--pipeline-root {nested}")
        raise UserError(
            f"no Evaluator output under {evaluation_root}: the pipeline has not run its "
            f"Evaluator in {pipeline_root} yet. Run the pipeline to completion first, or pass "
            f"the pipeline root that holds {EVALUATOR}/evaluation/<id>/")
    for execution_id, path in reversed(runs):
        if has_tfma_output(path):
            return execution_id, path
        log.warning("skipping %s: no TFMA metrics in it (unfinished or failed Evaluator run)",
                    path)
    raise UserError(
        f"the Evaluator folders under {evaluation_root} (execution ids "
        f"{', '.join(str(i) for i, _ in runs)}) hold no TFMA metrics: every Evaluator run "
        f"failed or is still running. Check the Evaluator's logs and re-run the pipeline")


def find_blessing(pipeline_root: str, execution_id: int):
    """(blessed, folder) of the Evaluator run's blessing; (None, None) if there is none.

    TFX gives both outputs of one execution the same id. Failing that, the nearest lower
    blessing id is taken, but never one at or below an older evaluation folder's id (that
    blessing belongs to the older run), and a same-id folder without its marker file
    (run still writing, or failed) is not replaced by an older blessing.
    """
    older = [i for i, _ in numbered_folders(join(pipeline_root, EVALUATOR, "evaluation"))
             if i < execution_id]
    floor = max(older, default=-1)
    for blessing_id, path in reversed(numbered_folders(join(pipeline_root, EVALUATOR,
                                                            "blessing"))):
        if blessing_id > execution_id:
            continue
        if blessing_id <= floor:
            break
        blessed = blessing_of(path)
        if blessed is not None:
            return blessed, path
        if blessing_id == execution_id:
            break
    return None, None


def _local_run(pipeline_root: str) -> RunOutputs:
    execution_id, evaluation = find_latest_evaluation(pipeline_root)
    blessed, blessing = find_blessing(pipeline_root, execution_id)
    found = {key: newest(join(pipeline_root, component, output))
             for key, (component, output) in OUTPUTS.items()}
    if found["model"]:
        found["model"] = join(found["model"], SERVING_MODEL)
    return RunOutputs("local", str(execution_id), evaluation, blessing, blessed, **found)


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


def _kubeflow_run(pipeline_root: str, pipeline_name: str) -> RunOutputs | None:
    runs = find_kfp_evaluations(pipeline_root, pipeline_name)
    if not runs:
        return None
    newest_run = runs[0]
    run_folder = join(pipeline_root, pipeline_name, newest_run["run_id"])
    found = {key: _task_output(run_folder, component, output)
             for key, (component, output) in OUTPUTS.items()}
    if found["model"]:
        found["model"] = join(found["model"], SERVING_MODEL)
    return RunOutputs("kubeflow", newest_run["run_id"], newest_run["evaluation"],
                      newest_run["blessing"], blessing_of(newest_run["blessing"]), **found)


# --- either --------------------------------------------------------------------------------

def find_run(pipeline_root: str, pipeline_name: str = PIPELINE_NAME) -> RunOutputs:
    """The newest evaluated run: the local layout first, then the Kubeflow one.

    UserError (saying what to pass) when neither holds Evaluator output.
    """
    try:
        return _local_run(pipeline_root)
    except UserError:
        run = (_kubeflow_run(pipeline_root, pipeline_name)
               if tf.io.gfile.isdir(pipeline_root) else None)
        if run is None:
            raise
        return run


def split_files(examples: str | None, split: str = "eval") -> list:
    """The record files of one split of an examples artifact ([] when absent)."""
    if not examples:
        return []
    return sorted(tf.io.gfile.glob(join(examples, f"Split-{split}", "*")))


def trained_model(pipeline_root: str, pipeline_name: str = PIPELINE_NAME) -> str | None:
    """The newest Trainer's serving SavedModel (pushed or not), either layout; or None."""
    model = newest(join(pipeline_root, *OUTPUTS["model"]))
    if model:
        model = join(model, SERVING_MODEL)
    else:
        try:
            model = find_run(pipeline_root, pipeline_name).model
        except UserError:
            return None
    return model if model and tf.io.gfile.exists(join(model, "saved_model.pb")) else None
