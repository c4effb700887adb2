"""The ingestion Beam job: annotation rows -> SequenceExample TFRecords + rejects + summary.

The annotation file is read on the launching machine (it is small); the clips
are converted in parallel on whatever runner the Beam args name. Every row ends
up as a record or as a line of rejects.jsonl, and summary.json checks that.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import shutil

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.options.pipeline_options import PipelineOptions

from mer_tfx.errors import UserError
from mer_tfx.logs import PROGRESS_TAG

from . import fileio
from .clips import ClipSpec, Reject
from .convert import Converted, convert_clip
from .readers import read_annotations
from .tables import AnnotationError

log = logging.getLogger(__name__)
REJECTS = "rejects"
PROGRESS_EVERY = 10


class IngestionError(UserError):
    """The job could not produce anything useful; the message says what to fix."""


class _ConvertClipFn(beam.DoFn):
    """Runs ``convert_clip`` and routes rejects to their own output."""

    def __init__(self, size: int, face_crop: bool, total: int = 0):
        self._size = size
        self._face_crop = face_crop
        self._total = total
        # Each worker reports about every tenth of the job (workers cannot share a count).
        self._every = max(PROGRESS_EVERY, total // 10)
        self._converted = beam.metrics.Metrics.counter("mer_ingest", "clips_converted")
        self._rejected = beam.metrics.Metrics.counter("mer_ingest", "clips_rejected")
        self._frames = beam.metrics.Metrics.counter("mer_ingest", "frames_written")
        self._done = 0

    def process(self, spec: ClipSpec):
        result = convert_clip(spec, self._size, self._face_crop)
        self._done += 1
        if self._done % self._every == 0:
            logging.info("%s ingestion worker %d: %d clips converted (the job has %s)",
                         PROGRESS_TAG, os.getpid(), self._done, self._total or "?")
        if isinstance(result, Reject):
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, result)
        else:
            self._converted.inc()
            self._frames.inc(result.num_frames)
            yield result


class ConvertClips(beam.PTransform):
    """PCollection[ClipSpec] -> (converted: PCollection[Converted], rejects: PCollection[Reject])."""

    def __init__(self, size: int = 128, face_crop: bool = True, total: int = 0):
        super().__init__()
        self._size = size
        self._face_crop = face_crop
        self._total = total  # clips in the job, for progress lines

    def expand(self, specs):
        results = (
            specs
            | "Spread" >> beam.Reshuffle()
            | "Convert" >> beam.ParDo(_ConvertClipFn(self._size, self._face_crop,
                                                    self._total)).with_outputs(
                REJECTS, main="converted"))
        return results.converted, results[REJECTS]


def _tally(item) -> collections.Counter:
    if isinstance(item, Reject):
        return collections.Counter({"rejected": 1, f"reason:{item.reason}": 1})
    tally = collections.Counter({"converted": 1, "frames": item.num_frames,
                                 "face_not_found": int(not item.face_detected),
                                 "repaired": int(bool(item.spec.repairs))})
    tally.update(f"repair:{kind}" for kind in item.spec.repairs)
    return tally


def make_summary(rows: int, tally: collections.Counter, face_crop: bool) -> dict:
    """summary.json content; raises if a row went missing (rows != converted + rejected)."""
    summary = {
        "rows": rows,
        "converted": tally.get("converted", 0),
        "rejected": tally.get("rejected", 0),
        "repaired": tally.get("repaired", 0),
        "face_not_found": tally.get("face_not_found", 0) if face_crop else None,
        "frames": tally.get("frames", 0),
        "rejected_by_reason": {k.split(":", 1)[1]: v for k, v in sorted(tally.items())
                               if k.startswith("reason:")},
        "repaired_by_kind": {k.split(":", 1)[1]: v for k, v in sorted(tally.items())
                             if k.startswith("repair:")},
    }
    if summary["rows"] != summary["converted"] + summary["rejected"]:
        raise IngestionError(f"internal error: {rows} rows but {summary['converted']} converted "
                             f"+ {summary['rejected']} rejected")
    return summary


class Summarize(beam.PTransform):
    """Writes rejects.jsonl (sorted by row) and summary.json from both outputs."""

    def __init__(self, out_dir: str, rows: int, face_crop: bool, extra: dict | None = None):
        super().__init__()
        self._out_dir = out_dir
        self._rows = rows
        self._face_crop = face_crop
        self._extra = extra or {}

    def expand(self, pcolls):
        converted, rejects = pcolls
        tallies = ((converted | "TallyConverted" >> beam.Map(_tally),
                    rejects | "TallyRejects" >> beam.Map(_tally))
                   | "AllTallies" >> beam.Flatten()
                   | "SumTallies" >> beam.CombineGlobally(
                       lambda counters: sum(counters, collections.Counter())))
        reject_list = rejects | "CollectRejects" >> beam.combiners.ToList()
        return (tallies | "WriteSummary" >> beam.Map(
            self._write, rejects=beam.pvalue.AsSingleton(reject_list)))

    def _write(self, tally, rejects):
        summary = make_summary(self._rows, tally, self._face_crop)
        summary.update(self._extra)
        lines = [r.to_json() for r in sorted(rejects, key=lambda r: (r.row, r.clip))]
        fileio.write_text(fileio.join(self._out_dir, "rejects.jsonl"),
                          "".join(line + "\n" for line in lines))
        fileio.write_text(fileio.join(self._out_dir, "summary.json"),
                          json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return summary


def read_summary(out_dir: str) -> dict:
    """summary.json of a finished job (local or gs:// folder)."""
    return json.loads(fileio.read_bytes(fileio.join(out_dir, "summary.json")))


def default_beam_args(beam_args: list[str] | None) -> list[str]:
    """Multi-process DirectRunner on all cores unless the caller chose a runner."""
    args = list(beam_args or [])
    if not any(a.startswith("--runner") for a in args):
        if not any(a.startswith("--direct_running_mode") for a in args):
            args.append("--direct_running_mode=multi_processing")
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    return args


def split_rows(rows):
    specs = [r for r in rows if isinstance(r, ClipSpec)]
    rejects = [r for r in rows if isinstance(r, Reject)]
    return specs, rejects


def _clear_outputs(out_dir: str) -> None:
    if "://" in out_dir:
        return  # object stores: the caller chooses a fresh prefix
    shutil.rmtree(os.path.join(out_dir, "records"), ignore_errors=True)
    for name in ("rejects.jsonl", "summary.json"):
        if os.path.exists(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))
    os.makedirs(out_dir, exist_ok=True)


def run_ingest(dataset: str, root: str, annotations: str | None, out_dir: str,
               size: int = 128, face_crop: bool = True,
               beam_args: list[str] | None = None) -> dict:
    """Runs the job and returns summary.json's content.

    Raises AnnotationError when the annotation file is unusable and IngestionError
    when no clip at all could be converted.
    """
    rows = read_annotations(dataset, root, annotations)
    specs, early_rejects = split_rows(rows)
    log.info("%s %s: %d annotation rows, %d to convert, %d rejected by annotation checks",
             PROGRESS_TAG, annotations or root, len(rows), len(specs), len(early_rejects))
    _clear_outputs(out_dir)
    options = PipelineOptions(default_beam_args(beam_args))
    with beam.Pipeline(options=options) as pipeline:
        converted, late_rejects = (pipeline | "ClipSpecs" >> beam.Create(specs)
                                   | "ConvertClips" >> ConvertClips(size, face_crop,
                                                                    len(specs)))
        all_rejects = ((late_rejects, pipeline | "AnnotationRejects" >> beam.Create(early_rejects))
                       | "AllRejects" >> beam.Flatten())
        (converted
         | "Serialized" >> beam.Map(lambda c: c.serialized)
         | "WriteRecords" >> beam.io.WriteToTFRecord(
             fileio.join(out_dir, "records", "clips"), file_name_suffix=".tfrecord.gz",
             compression_type=CompressionTypes.GZIP))
        _ = (converted, all_rejects) | "Summarize" >> Summarize(
            out_dir, len(rows), face_crop,
            extra={"dataset": dataset, "size": size, "face_crop": face_crop})
    summary = read_summary(out_dir)
    if summary["converted"] == 0:
        raise IngestionError(
            f"no clip of {annotations or root} could be converted: {summary['rejected']} rows "
            f"rejected ({summary['rejected_by_reason']}); see {out_dir}/rejects.jsonl")
    return summary
