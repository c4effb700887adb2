"""Beam options of every Beam job the project starts (ingest, and the pipeline's components).

Default, unless the caller chose a runner: ``LOCAL_RUNNER``, the engine of Beam's
DirectRunner, named so. Since Beam 2.68 the DirectRunner first tries Prism, a Go
runner it downloads from GitHub on first use: offline, every job then failed that
download before falling back (and left an empty /tmp/beam-temp* folder each time);
online, the local jobs would move to another engine than the one tested here. A job
reading fewer than
``SMALL_JOB_FRAMES`` frames runs in one in-process worker: starting the multi-process
workers costs seconds that a small job cannot win back (bench/ingest_throughput.py
measures both); a larger one runs one worker process per core. The components that run
once per choice of held-out subjects (Transform, Evaluator) read records,
not frames, and always run in-process (``fold_beam_args``): a cross-validation runs them
once per fold, and bench/protocols.py measures what multi-process start-up costs there.
"""
from __future__ import annotations

import logging
import os

SMALL_JOB_FRAMES = 8000
LOCAL_RUNNER = "FnApiRunner"

log = logging.getLogger(__name__)


def with_local_runner(beam_args) -> list[str]:
    """``beam_args``, with ``--runner=LOCAL_RUNNER`` where they name no runner."""
    args = list(beam_args or [])
    if not any(a.startswith("--runner") for a in args):
        args.append(f"--runner={LOCAL_RUNNER}")
    return args


def default_beam_args(beam_args: list[str] | None, frames: int | None = None) -> list[str]:
    """``beam_args`` completed with the local runner and its mode for a job of ``frames``
    frames (None: unknown, e.g. remote data; counted as large)."""
    args = with_local_runner(beam_args)
    if f"--runner={LOCAL_RUNNER}" not in args:  # the caller's runner, as the caller set it
        return args
    small = frames is not None and frames < SMALL_JOB_FRAMES
    if not any(a.startswith("--direct_running_mode") for a in args):
        args.append("--direct_running_mode=" + ("in_memory" if small else "multi_processing"))
    if not any(a.startswith("--direct_num_workers") for a in args):
        args.append(f"--direct_num_workers={1 if small else os.cpu_count() or 1}")
    return args


def frames_to_read(sources) -> int | None:
    """Frames onset..offset over every clip the annotations name (None if they cannot be
    read here: remote or broken files are reported by the job itself)."""
    from mer_tfx.ingestion.clips import ClipSpec
    from mer_tfx.ingestion.readers import read_sources

    try:
        rows = read_sources(sources)
    except Exception as error:  # noqa: BLE001 - only sizing the runner here
        log.debug("not counting frames: %s", error)
        return None
    return sum(r.offset - r.onset + 1 for r in rows if isinstance(r, ClipSpec))


def fold_beam_args(beam_args) -> list[str]:
    """Component-level arguments (they override the pipeline's) of the per-fold Beam
    components: one in-process worker, unless the caller chose a runner or a mode."""
    if any(a.startswith(("--runner", "--direct_running_mode", "--direct_num_workers"))
           for a in beam_args or ()):
        return []
    return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


# Beam runners whose workers import the submitting machine's installed packages: nothing
# is staged for them (Beam stages packages only for the portable runners and Dataflow).
NON_STAGING_RUNNERS = ("directrunner", "direct", "switchingdirectrunner",
                       "bundlebaseddirectrunner", "fnapirunner", "daskrunner")


def _runner(beam_args) -> str:
    for arg in beam_args or ():
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1].rsplit(".", 1)[-1].lower()
    return "directrunner"


def skip_tfx_sdist_for_local_runners() -> None:
    """Stop TFX repackaging itself for runners that never read the package.

    Every run of a TFX Beam component (ExampleGen, StatisticsGen, Transform,
    Evaluator) copies the installed TFX into a fresh temporary folder and
    builds a ~49 MB sdist there for remote workers to install
    (``tfx.utils.dependency_utils.make_beam_dependency_flags``), and never deletes it.
    The DirectRunner's and DaskRunner's workers import the installed TFX instead: locally
    it cost ~3 s and 49 MB of the temp folder per component run, and a 26-fold LOSO
    left several GB behind. Other runners (Dataflow, Flink, Spark) keep TFX's packaging.
    """
    from tfx.utils import dependency_utils

    original = dependency_utils.make_beam_dependency_flags
    if getattr(original, "mer_tfx_skips_local_runners", False):
        return

    def dependency_flags(beam_pipeline_args):
        if _runner(beam_pipeline_args) in NON_STAGING_RUNNERS:
            return list(beam_pipeline_args)
        return original(beam_pipeline_args)

    dependency_flags.mer_tfx_skips_local_runners = True
    dependency_utils.make_beam_dependency_flags = dependency_flags
