"""Beam options of every Beam job the project starts (ingest, and the pipeline's components).

Default: the multi-process DirectRunner on all cores, unless the caller chose a runner.
"""
from __future__ import annotations

import os


def default_beam_args(beam_args: list[str] | None) -> list[str]:
    """Multi-process DirectRunner on all cores unless the caller chose a runner."""
    args = list(beam_args or [])
    if not any(a.startswith("--runner") for a in args):
        if not any(a.startswith("--direct_running_mode") for a in args):
            args.append("--direct_running_mode=multi_processing")
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    return args
