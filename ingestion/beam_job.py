"""The ingestion Beam job: annotation rows -> SequenceExample TFRecords + rejects + summary.

The annotation file is read on the launching machine (it is small); the clips
are converted in parallel on whatever runner the Beam args name. Every row ends
up as a record or as a line of rejects.jsonl, and summary.json checks that.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mer_tfx.datasets import Source
from mer_tfx.errors import UserError
from mer_tfx.logs import PROGRESS_TAG
from mer_tfx.pipeline.beam_args import with_local_runner

from . import fileio, outputs, video, worker_process
from .clips import ClipSpec, Reject
from .convert import convert_clip
from .readers import read_sources
from .records import record_file_options
from .shards import plan_shards
from .tables import AnnotationError

log = logging.getLogger(__name__)
PROGRESS_EVERY = 10
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def runner_args(beam_args: list[str] | None, clips: int,
                partitions: int | None = None) -> list[str]:
    """``beam_args`` with the DaskRunner spelled so Beam finds it, and without a runner
    the local one (pipeline/beam_args.py ``with_local_runner``).

    ``--runner=DaskRunner`` becomes the class path Beam needs, ``--dask_address`` the
    option's real name ``--dask_client_address``, and without ``--dask_npartitions``
    the Create is cut into ``partitions`` partitions (the ingestion job: one per shard,
    so that each task converts one shard), else one per 8 of ``clips``, at most 64 (the
    runner's default of 128 elements per partition would run a small job as one task).
    """
    args = []
    for arg in with_local_runner(beam_args):
        if arg in ("--runner=DaskRunner", "--runner=dask"):
            arg = f"--runner={DASK_RUNNER}"
        elif arg.startswith("--dask_address="):
            arg = "--dask_client_address=" + arg.split("=", 1)[1]
        args.append(arg)
    if f"--runner={DASK_RUNNER}" in args and not any(
            a.startswith(("--dask_npartitions", "--dask_partition_size")) for a in args):
        count = partitions if partitions else min(64, -(-clips // 8))
        args.append(f"--dask_npartitions={max(1, count)}")
    return args


def finish(result) -> None:
    """Wait for a Beam job; close the DaskRunner's client (it leaves it open)."""
    try:
        result.wait_until_finish()
    finally:
        client = getattr(result, "client", None)
        if client is not None:
            client.close()


class IngestionError(UserError):
    """The job could not produce anything useful; the message says what to fix."""


class _ConvertShardFn(beam.DoFn):
    """(shard, clip specs) -> the shard's records written to one gzip TFRecord file, and
    its report part (``write_part``: the tally and rejects of its clips) to another, both
    with fixed names; emits nothing.

    Converting and writing in one task keeps the record bytes out of every shuffle, and
    the report parts, gathered by the launching process after the job
    (``write_report``), keep the job free of any shuffle at all. ``setup`` prepares the
    worker process (ingestion/worker_process.py). The files are written in ``process``
    under deterministic names, so a retried task rewrites the same files (Beam's file
    sinks finish in ``finish_bundle``, whose output the DaskRunner drops).
    """

    def __init__(self, prefix: str, suffix: str, shards: int, size: int, face_crop: bool,
                 total: int = 0, convert_options: dict | None = None, report_dir: str = ""):
        self._prefix, self._suffix, self._shards = prefix, suffix, shards
        self._report_dir = report_dir
        self._size = size
        self._face_crop = face_crop
        # apex_fallback, apex_from, flow, flow_algorithm, register (convert_clip)
        self._options = dict(convert_options or {})
        self._total = total
        # Each worker reports about every tenth of the job (workers cannot share a count).
        self._every = max(PROGRESS_EVERY, total // 10)
        self._converted = beam.metrics.Metrics.counter("mer_ingest", "clips_converted")
        self._rejected = beam.metrics.Metrics.counter("mer_ingest", "clips_rejected")
        self._frames = beam.metrics.Metrics.counter("mer_ingest", "frames_written")
        self._done = 0

    def setup(self):
        worker_process.prepare()

    def process(self, shard_specs):
        import tensorflow as tf

        shard, specs = shard_specs
        path = f"{self._prefix}-{shard:05d}-of-{self._shards:05d}{self._suffix}"
        tf.io.gfile.makedirs(os.path.dirname(path))
        tally, rejects = collections.Counter(), []
        try:
            with tf.io.TFRecordWriter(path, options=record_file_options()) as writer:
                # By video first: a remote video is copied here once for all its intervals.
                for spec in sorted(specs, key=lambda s: (s.dataset, s.video, s.clip_id)):
                    outcome = self._convert(spec, writer)
                    tally.update(_tally(outcome))
                    if isinstance(outcome, Reject):
                        rejects.append(outcome)
        finally:
            video.COPIES.clear()  # no other shard has intervals of this shard's videos
        write_part(self._report_dir, shard, self._shards, tally, rejects,
                   record_file=os.path.basename(path), subject=specs[0].subject)
        return []

    def _convert(self, spec: ClipSpec, writer):
        result = convert_clip(spec, self._size, self._face_crop, **self._options)
        self._done += 1
        if self._done % self._every == 0:
            logging.info("%s ingestion worker %d: %d clips converted (the job has %s)",
                         PROGRESS_TAG, os.getpid(), self._done, self._total or "?")
        if isinstance(result, Reject):
            self._rejected.inc()
            return dataclasses.replace(result, dataset=spec.dataset)
        writer.write(result.serialized)
        self._converted.inc()
        self._frames.inc(result.num_frames)
        return result


def _tally(item) -> collections.Counter:
    if isinstance(item, Reject):
        return collections.Counter({"rejected": 1, f"reason:{item.reason}": 1,
                                    f"rejected_in:{item.dataset}": 1})
    tally = collections.Counter({"converted": 1, "frames": item.num_frames,
                                 "face_not_found": int(not item.face_detected),
                                 "landmarks_found": int(item.landmarks_found),
                                 "landmarks_refound": int(item.landmarks_refound),
                                 f"alignment:{item.alignment}": 1,
                                 "repaired": int(bool(item.spec.repairs)),
                                 f"converted_in:{item.spec.dataset}": 1,
                                 f"apex_source:{item.apex_source}": 1,
                                 f"subject:{item.spec.subject}": 1})
    tally.update(f"repair:{kind}" for kind in item.spec.repairs)
    return tally


PARTS_FOLDER = "report-parts"


def part_path(report_dir: str, shard: int, shards: int) -> str:
    return fileio.join(report_dir, PARTS_FOLDER, f"part-{shard:05d}-of-{shards:05d}.json")


def write_part(report_dir: str, shard: int, shards: int, tally: collections.Counter,
               rejects: list, record_file: str, subject: str) -> None:
    """One shard's share of the report, for ``write_report``: also the name of its
    record file and the one subject it holds (ingestion/shards.py)."""
    fileio.makedirs(fileio.join(report_dir, PARTS_FOLDER))
    fileio.write_text(part_path(report_dir, shard, shards), json.dumps(
        {"tally": dict(tally), "rejects": [r.to_json() for r in rejects],
         "record_file": record_file, "subject": subject}, sort_keys=True))


def _reject_order(line: str) -> tuple:
    reject = json.loads(line)
    return reject["dataset"], reject["row"], reject["clip"]


def write_report(report_dir: str, rows: list, face_crop: bool, extra: dict | None = None
                 ) -> dict:
    """rejects.jsonl and summary.json from the annotation checks' rejects and the report
    parts of the planned shards (each written by its conversion task), whose files are
    then removed; returns the summary. A part missing means a task did not finish:
    IngestionError."""
    specs, early = split_rows(rows)
    tally, lines = collections.Counter(), [r.to_json() for r in early]
    for reject in early:
        tally.update(_tally(reject))
    planned = plan_shards(specs)
    paths = [part_path(report_dir, shard, len(planned)) for shard, _ in planned]
    subject_of_file = {}
    for path in paths:
        try:
            part = json.loads(fileio.read_bytes(path))
        except (OSError, ValueError) as error:
            raise IngestionError(f"the conversion task of {path} left no report part "
                                 f"({error}): run the job again") from None
        tally.update(part["tally"])
        lines.extend(part["rejects"])
        if part["tally"].get("converted"):
            subject_of_file[part["record_file"]] = part["subject"]
    summary = make_summary(rows_by_dataset(rows), tally, face_crop)
    # record files with converted clips -> their one subject (SubjectSplit moves files)
    summary.update(extra or {}, record_files=len(paths),
                   subject_of_record_file=dict(sorted(subject_of_file.items())))
    fileio.write_text(fileio.join(report_dir, "rejects.jsonl"),
                      "".join(line + "\n" for line in sorted(lines, key=_reject_order)))
    fileio.write_text(fileio.join(report_dir, "summary.json"),
                      json.dumps(summary, indent=2, sort_keys=True) + "\n")
    fileio.remove_files(paths)
    return summary


def _suffixed(tally: collections.Counter, prefix: str) -> dict:
    return {k.split(":", 1)[1]: v for k, v in sorted(tally.items()) if k.startswith(prefix)}


def rows_by_dataset(rows) -> dict:
    """Annotation rows per source dataset (ClipSpec.dataset or Reject.dataset)."""
    return dict(sorted(collections.Counter(row.dataset for row in rows).items()))


def make_summary(rows: dict, tally: collections.Counter, face_crop: bool) -> dict:
    """summary.json content; raises if a row went missing (rows != converted + rejected).

    ``rows``: annotation rows per dataset. The accounting holds in total and per dataset
    (``by_dataset``); ``clips_by_subject`` feeds the subject splits.
    """
    converted_in, rejected_in = _suffixed(tally, "converted_in:"), _suffixed(tally, "rejected_in:")
    by_dataset = {name: {"rows": count, "converted": converted_in.get(name, 0),
                         "rejected": rejected_in.get(name, 0)} for name, count in rows.items()}
    summary = {
        "rows": sum(rows.values()),
        "converted": tally.get("converted", 0),
        "rejected": tally.get("rejected", 0),
        "repaired": tally.get("repaired", 0),
        "face_not_found": tally.get("face_not_found", 0) if face_crop else None,
        # clips whose onset frame gave the 5 landmarks; of those, clips where the head
        # moved enough that they were found again (ingestion/align.py); crops by kind
        "landmarks_found": tally.get("landmarks_found", 0) if face_crop else None,
        "landmarks_refound": tally.get("landmarks_refound", 0) if face_crop else None,
        "alignment": _suffixed(tally, "alignment:"),
        "frames": tally.get("frames", 0),
        "rejected_by_reason": {k.split(":", 1)[1]: v for k, v in sorted(tally.items())
                               if k.startswith("reason:")},
        "repaired_by_kind": {k.split(":", 1)[1]: v for k, v in sorted(tally.items())
                             if k.startswith("repair:")},
        "apex_source": _suffixed(tally, "apex_source:"),
        "by_dataset": by_dataset,
        "clips_by_subject": _suffixed(tally, "subject:"),
    }
    for name, counts in [("all", summary)] + list(by_dataset.items()):
        if counts["rows"] != counts["converted"] + counts["rejected"]:
            raise IngestionError(f"internal error ({name}): {counts['rows']} rows but "
                                 f"{counts['converted']} converted + {counts['rejected']} "
                                 f"rejected")
    return summary


def read_summary(out_dir: str) -> dict:
    """summary.json of a finished job (local or gs:// folder)."""
    return json.loads(fileio.read_bytes(fileio.join(out_dir, "summary.json")))


def split_rows(rows):
    specs = [r for r in rows if isinstance(r, ClipSpec)]
    rejects = [r for r in rows if isinstance(r, Reject)]
    return specs, rejects


INGEST_COMMAND = "mer-tfx ingest"
# What `mer-tfx ingest` writes into --out: a re-run removes these and nothing else.
INGEST_OUTPUTS = ("records/clips-*-of-*.tfrecord.gz", "rejects.jsonl", "summary.json",
                  f"{PARTS_FOLDER}/part-*-of-*.json")


def _clear_outputs(out_dir: str) -> None:
    """Remove an earlier ingestion's outputs from ``out_dir``; refuses (UserError) a folder
    with content that ingestion did not make, or foreign files in its records/."""
    outputs.claim(out_dir, INGEST_COMMAND, owned=INGEST_OUTPUTS, exclusive=("records",))


class IngestClips(beam.PTransform):
    """Annotation rows -> gzip TFRecord files of the converted clips under
    ``records_prefix``; after the pipeline ran, ``write_report`` writes rejects.jsonl
    and summary.json in ``report_dir``.

    The one ingestion graph: ``mer-tfx ingest`` and MerExampleGen apply it and differ
    only in where the files go. Every row ends up converted or rejected with a reason
    (annotation checks before the pipeline, frame checks inside it), and the summary's
    accounting holds (rows = converted + rejected).

    Built from the primitives every runner has, so it runs on Beam's DaskRunner as on
    the DirectRunner, Dataflow or Flink: a Create of the clips planned into shards of
    about equal frames before the job (ingestion/shards.py) and one ParDo that converts
    and writes each shard in one task, nothing else. No shuffle: the record bytes
    never move between workers, and the report is gathered from one part file per shard
    by the launching process (on Dask a GroupByKey of the report parts was a task shuffle
    of ~n^2 tasks for n shards: 650 of the job's 682 tasks for 32 shards, and the
    scheduler's CPU with them). No tagged outputs, side inputs or ``finish_bundle``
    output, which the DaskRunner mishandles.
    """

    def __init__(self, rows: list, report_dir: str, records_prefix: str,
                 records_suffix: str = ".tfrecord.gz", size: int = 128,
                 face_crop: bool = True, extra: dict | None = None,
                 convert_options: dict | None = None):
        super().__init__()
        self._rows = list(rows)
        self._report_dir = report_dir
        self._prefix, self._suffix = records_prefix, records_suffix
        self._size = size
        self._face_crop = face_crop
        self._extra = extra
        self._options = convert_options  # convert_clip's apex, flow and register options

    def expand(self, pbegin):
        specs, _ = split_rows(self._rows)
        planned = plan_shards(specs)
        return (pbegin
                | "Shards" >> beam.Create(planned)
                | "ConvertAndWrite" >> beam.ParDo(_ConvertShardFn(
                    self._prefix, self._suffix, len(planned), self._size, self._face_crop,
                    len(specs), self._options, self._report_dir)))

    def write_report(self) -> dict:
        """The job's report (``write_report``), once the pipeline has run; the summary."""
        return write_report(self._report_dir, self._rows, self._face_crop, self._extra)


def checked_summary(report_dir: str, source: str) -> dict:
    """summary.json of a finished ingestion; IngestionError when no clip was converted."""
    summary = read_summary(report_dir)
    if summary["converted"] == 0:
        raise IngestionError(
            f"no clip of {source} could be converted: {summary['rejected']} rows rejected "
            f"({summary['rejected_by_reason']}); see {report_dir}/rejects.jsonl")
    return summary


def run_ingest(sources, out_dir: str, size: int = 128, face_crop: bool = True,
               beam_args: list[str] | None = None,
               convert_options: dict | None = None) -> dict:
    """Runs the job over one or several sources (mer_tfx.datasets.Source); summary.json.

    Raises AnnotationError when an annotation file is unusable and IngestionError
    when no clip at all could be converted. ``beam_args`` are used as given (the
    CLI adds pipeline/beam_args.py's defaults).
    """
    sources = [sources] if isinstance(sources, Source) else list(sources)
    rows = read_sources(sources)
    specs, early_rejects = split_rows(rows)
    names = ", ".join(s.annotations or s.root for s in sources)
    log.info("%s %s: %d annotation rows, %d to convert, %d rejected by annotation checks",
             PROGRESS_TAG, names, len(rows), len(specs), len(early_rejects))
    _clear_outputs(out_dir)
    beam_args = runner_args(beam_args, len(specs),
                            partitions=len(plan_shards(specs)))
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args))
    ingest = IngestClips(
        rows, out_dir, fileio.join(out_dir, "records", "clips"), size=size,
        face_crop=face_crop, extra={"datasets": [s.dataset for s in sources], "size": size,
                                    "face_crop": face_crop, **(convert_options or {})},
        convert_options=convert_options)
    _ = pipeline | "Ingest" >> ingest
    finish(pipeline.run())
    ingest.write_report()
    return checked_summary(out_dir, names)
