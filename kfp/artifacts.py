"""Where a Kubeflow run of the pipeline leaves its artifacts.

On KFP v2 the backend, not TFX, chooses output URIs:

    <pipeline root>/<pipeline name>/<run id>/<task>/<output key>            KFP 2.0 - 2.3
    <pipeline root>/<pipeline name>/<run id>/<task>/<salt>/<output key>     later releases

so the Evaluator's TFMA output of run R is e.g.
``gs://BUCKET/mer/pipeline_root/mer-tfx/R/Evaluator/evaluation`` (files directly in it,
no execution-id folder as in the local layout ``<root>/Evaluator/evaluation/<id>``).
``find_kfp_evaluations`` lists them, newest first, for report tools.
"""
from __future__ import annotations

import posixpath

import mer_tfx  # noqa: F401


def _join(*parts: str) -> str:
    return posixpath.join(*(p.rstrip("/") for p in parts))


def _names(folder: str) -> list:
    import tensorflow as tf

    return [n.rstrip("/") for n in tf.io.gfile.listdir(folder)]


def _tfma_files(folder: str) -> list:
    import tensorflow as tf

    if not tf.io.gfile.isdir(folder):
        return []
    names = _names(folder)
    if not any(n == "eval_config.json" or n.startswith("metrics") for n in names):
        return []
    return [_join(folder, n) for n in names if not tf.io.gfile.isdir(_join(folder, n))]


def find_kfp_evaluations(pipeline_root: str, pipeline_name: str = "mer-tfx") -> list:
    """[{"run_id", "evaluation", "blessing" (or None), "mtime_nsec"}], newest first.

    Only Evaluator outputs that hold TFMA files count (a failed or running Evaluator
    leaves an empty folder or none).
    """
    import tensorflow as tf

    base = _join(pipeline_root, pipeline_name)
    if not tf.io.gfile.isdir(base):
        return []
    found = []
    for run_id in _names(base):
        evaluator = _join(base, run_id, "Evaluator")
        if not tf.io.gfile.isdir(evaluator):
            continue
        parents = [evaluator] + [_join(evaluator, n) for n in _names(evaluator)
                                 if n not in ("evaluation", "blessing")]
        for parent in parents:
            files = _tfma_files(_join(parent, "evaluation"))
            if not files:
                continue
            blessing = _join(parent, "blessing")
            found.append({
                "run_id": run_id, "evaluation": _join(parent, "evaluation"),
                "blessing": blessing if tf.io.gfile.isdir(blessing) else None,
                "mtime_nsec": max(tf.io.gfile.stat(f).mtime_nsec for f in files)})
    return sorted(found, key=lambda e: e["mtime_nsec"], reverse=True)
