"""Console logging: our progress lines visible, Beam's, TFX's and TensorFlow's chatter not.

In multi-process mode Beam forwards every worker log record through the job
service logger, at INFO, wrapped in a protobuf dump. Only records tagged with
PROGRESS_TAG are let through that channel, unwrapped to their message text.
Libraries log INFO lines to the root logger ("Missing pipeline option (runner)",
"Reading from pattern ..."); by default the console shows our own records, the
orchestrator's "Component X is running" as progress, and warnings that are not
on the known-harmless list.
"""
from __future__ import annotations

import logging
import os
import re
import warnings

from mer_tfx import VERBOSE_VARIABLE

PROGRESS_TAG = "[mer-tfx]"
_FORWARDED = re.compile(r'message: "(.*?)(?<!\\)"')
_COMPONENT = re.compile(r"^Component (\S+) is (running|finished)\.$")
# Warnings TFX 1.16 prints on every local run, about nothing the user can change.
HARMLESS = (
    "ArtifactQuery.property_predicate is not supported.",
    "ContextQuery.property_predicate is not supported.",
)


class _WorkerProgressOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if PROGRESS_TAG not in text:
            return record.levelno >= logging.ERROR
        match = _FORWARDED.search(text)
        if match:
            record.msg, record.args = match.group(1), ()
        return True


class _Quiet(logging.Filter):
    """Our records, component progress and real warnings; nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.name.startswith("mer_tfx") or PROGRESS_TAG in text:
            return True
        component = _COMPONENT.match(text)
        if component:
            record.msg, record.args = f"{PROGRESS_TAG} component {component.group(1)}: " \
                                      f"{component.group(2)}", ()
            return True
        return record.levelno >= logging.WARNING and text not in HARMLESS


def setup_logging(verbose: bool = False, path: str | None = None) -> None:
    """``path``: log to that file instead of the console (a parallel fold's process)."""
    if verbose:
        # Undo the quiet defaults mer_tfx/__init__.py set, for this process and its workers
        # (TensorFlow is not imported yet: the CLI imports it lazily).
        os.environ[VERBOSE_VARIABLE] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        if os.environ.get("PYTHONWARNINGS") == "ignore::FutureWarning":
            del os.environ["PYTHONWARNINGS"]
        warnings.resetwarnings()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
                        force=True, **({"filename": path} if path else {}))
    if verbose:
        return
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Quiet())
    # TFX logs component progress through absl at INFO; absl resets its logger to its
    # verbosity flag (default WARNING) when a library parses flags mid-run (Transform
    # does), so the flag itself is set, not only the logger level.
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # deprecation notices
    forwarder = logging.getLogger("apache_beam.runners.portability.local_job_service")
    forwarder.setLevel(logging.INFO)
    forwarder.addFilter(_WorkerProgressOnly())
