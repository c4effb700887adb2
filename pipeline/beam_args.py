"""Beam options of every Beam job the project starts (ingest, and the pipeline's components).

Default: the DirectRunner, unless the caller chose a runner. A job reading fewer than
``SMALL_JOB_FRAMES`` frames runs in one in-process worker: starting the multi-process
workers costs seconds that a small job cannot win back (bench/ingest_throughput.py
measures both); a larger one runs one worker process per core. The components that run
once per choice of held-out subjects (SubjectSplit, Transform, Evaluator) read records,
not frames, and always run in-process (``fold_beam_args``): a cross-validation runs them
once per fold, and bench/protocols.py measures what multi-process start-up costs there.
"""
from __future__ import annotations

import logging
import os

SMALL_JOB_FRAMES = 8000

log = logging.getLogger(__name__)


def default_beam_args(beam_args: list[str] | None, frames: int | None = None) -> list[str]:
    """``beam_args`` completed with the DirectRunner's mode for a job of ``frames`` frames
    (None: unknown, e.g. remote data; counted as large)."""
    args = list(beam_args or [])
    if any(a.startswith("--runner") for a in args):
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
