"""Console logging: our progress lines visible, Beam's and TensorFlow's chatter not.

In multi-process mode Beam forwards every worker log record through the job
service logger, at INFO, wrapped in a protobuf dump. Only records tagged with
PROGRESS_TAG are let through that channel, unwrapped to their message text.
"""
from __future__ import annotations

import logging
import os
import re

PROGRESS_TAG = "[mer-tfx]"
_FORWARDED = re.compile(r'message: "(.*?)(?<!\\)"')


class _WorkerProgressOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if PROGRESS_TAG not in text:
            return record.levelno >= logging.ERROR
        match = _FORWARDED.search(text)
        if match:
            record.msg, record.args = match.group(1), ()
        return True


def setup_logging(verbose: bool = False) -> None:
    # Beam worker processes import google-api-core before any of our code: silence its
    # Python-version FutureWarning for them too (the variable is inherited).
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    if verbose:
        return
    for name in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    forwarder = logging.getLogger("apache_beam.runners.portability.local_job_service")
    forwarder.setLevel(logging.INFO)
    forwarder.addFilter(_WorkerProgressOnly())
