"""Which subjects and datasets the frame conversion gave clips: folds are built from them.

A cross-validation converts first: MerExampleGen and the other components that do not
depend on the held-out subjects, under the full pipeline's name, root and Beam arguments
(``create_pipeline(shared_only=True)``), so every fold's run reuses those executions from
the cache. Its ingest report (``clips_by_subject`` in
summary.json, rejects.jsonl) says which annotated subjects have converted clips; only
those are held out. A subject whose every clip was rejected (a missing folder,
``too_many_frames``, an excluded class, ...) is listed with its reject reasons instead of
failing its fold, and so is, for ``lodo``, a dataset that converted nothing.

Subjects are those named by an annotation row that passed the annotation checks; a
reject (rejects.jsonl) is matched to its subject by clip id, or for a row the annotation
checks rejected, by the ``<subject>/`` its clip id starts with.
"""
from __future__ import annotations

import collections
import dataclasses
import json

from mer_tfx.errors import UserError
from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.beam_job import read_summary
from mer_tfx.ingestion.clips import ClipSpec

CONVERSION_NODE = "MerExampleGen"  # the component id of the conversion in the pipeline
REJECTS_FILE = "rejects.jsonl"


@dataclasses.dataclass(frozen=True)
class Coverage:
    """What the conversion gave: the subjects folds are built from, and what it left out."""

    subjects: dict  # subject -> dataset, subjects with at least one converted clip
    subjects_without_clips: dict  # subject -> {"dataset", "rejected": {reason: n}, "detail"}
    datasets_without_clips: dict  # dataset -> {"rows", "rejected": {reason: n}}
    report_dir: str = ""

    def describe(self) -> dict:
        """The cross_validation.json fields."""
        return {"subjects_without_clips": self.subjects_without_clips,
                "datasets_without_clips": self.datasets_without_clips,
                "ingest_report": self.report_dir}


def _reasons(rejects) -> dict:
    return dict(sorted(collections.Counter(r["reason"] for r in rejects).items()))


def coverage(rows, summary: dict, rejects: list, report_dir: str = "") -> Coverage:
    """``rows``: the annotation rows (ClipSpec | Reject, as read_sources gives them);
    ``summary``/``rejects``: the ingest report's summary.json and rejects.jsonl lines."""
    specs = [r for r in rows if isinstance(r, ClipSpec)]
    dataset_of = dict(sorted({s.subject: s.dataset for s in specs}.items()))
    subject_of_clip = {s.clip_id: s.subject for s in specs}
    converted = set(summary["clips_by_subject"])
    by_length = sorted(dataset_of, key=len, reverse=True)
    rejects_of = collections.defaultdict(list)
    for reject in rejects:
        clip = reject["clip"]
        subject = subject_of_clip.get(clip) or next(
            (s for s in by_length if clip.startswith(f"{s}/")), None)
        rejects_of[subject].append(reject)
    missing = {}
    for subject, dataset in dataset_of.items():
        if subject not in converted:
            found = rejects_of[subject]
            missing[subject] = {"dataset": dataset, "rejected": _reasons(found),
                                "detail": found[0].get("detail", "") if found else ""}
    empty = {name: {"rows": counts["rows"],
                    "rejected": _reasons(r for r in rejects if r.get("dataset") == name)}
             for name, counts in sorted(summary["by_dataset"].items())
             if counts["converted"] == 0}
    return Coverage({s: d for s, d in dataset_of.items() if s in converted}, missing, empty,
                    report_dir)


def read_rejects(report_dir: str) -> list:
    """rejects.jsonl of an ingest report, one dict per rejected row."""
    text = fileio.read_bytes(fileio.join(report_dir, REJECTS_FILE)).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def convert(settings) -> str:
    """Runs the conversion and the other fold-independent components (cache hits once
    done) and returns the conversion's ingest report folder."""
    from tfx import v1 as tfx

    from mer_tfx.components.mer_example_gen import INGEST_REPORT_KEY
    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.beam_args import skip_tfx_sdist_for_local_runners
    from mer_tfx.pipeline.pipeline import create_pipeline

    skip_tfx_sdist_for_local_runners()
    tfx.orchestration.LocalDagRunner().run(create_pipeline(
        settings, shared_only=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            settings.metadata_path)))
    store = metadata.open_store(settings.metadata_path)
    found = metadata.latest_outputs(store, settings.pipeline_name,
                                    CONVERSION_NODE).get(INGEST_REPORT_KEY)
    if not found:
        raise UserError(f"ML Metadata in {settings.metadata_path} has no ingest report of "
                        f"{CONVERSION_NODE}: the conversion did not finish")
    return found[0]


def converted_coverage(settings) -> Coverage:
    """Converts (or reuses the conversion) and reads which subjects and datasets have clips."""
    from mer_tfx.ingestion.readers import read_sources

    report_dir = convert(settings)
    return coverage(read_sources(settings.source_list), read_summary(report_dir),
                    read_rejects(report_dir), report_dir)


def without_clips_note(found: Coverage) -> str:
    """A clause for error messages: who has no converted clip, and why."""
    subjects = {s: e for s, e in found.subjects_without_clips.items()
                if e["dataset"] not in found.datasets_without_clips}
    parts = [f"{name} ({', '.join(f'{k}: {v}' for k, v in entry['rejected'].items())})"
             for name, entry in {**found.datasets_without_clips, **subjects}.items()]
    return f"; no converted clip: {', '.join(parts)}" if parts else ""
