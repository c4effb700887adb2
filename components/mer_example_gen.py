"""MerExampleGen: a TFX ExampleGen for raw MER frame folders + annotation files.

It runs the ingestion Beam transform (``IngestClips``, the same graph the
``mer-tfx ingest`` command runs) over one or several sources (datasets) inside the
pipeline and writes Examples with payload format SequenceExample, all clips in one
split; SubjectSplit (subject_split.py) makes train/eval from them. Rejected rows and
the summary go to a separate ``ingest_report`` artifact so they are versioned with
the examples they explain.
"""
from __future__ import annotations

import hashlib
import json
import os

from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.beam_job import IngestClips, IngestionError, checked_summary, split_rows
from mer_tfx.datasets import Source
from mer_tfx.ingestion.readers import read_sources, restrict_to_classes
from mer_tfx.ingestion.shards import RECORD_LAYOUT

ALL = "all"  # the one split of the converted clips; SubjectSplit makes train/eval
# Output keys, named once for the spec, the executor, the pipeline and the tests.
EXAMPLES_KEY = "examples"
INGEST_REPORT_KEY = "ingest_report"


class IngestionReport(types.Artifact):
    """rejects.jsonl and summary.json of one ingestion run.

    The type name is '<module>.<Class>' and imports back to this class
    (``mer_tfx.IngestionReport``): the Kubeflow v2 runner encodes custom types that
    way and rebuilds the artifact from it inside the container.
    """

    TYPE_NAME = "mer_tfx.IngestionReport"


class MerExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        # JSON list of [dataset, root, annotations?] rows (mer_tfx.datasets.Source)
        "sources": ExecutionParameter(type=str),
        "frame_size": ExecutionParameter(type=int),
        "face_crop": ExecutionParameter(type=int),
        "apex_fallback": ExecutionParameter(type=str),  # spot | midpoint
        "apex_from": ExecutionParameter(type=str),  # annotation | spotting
        "flow": ExecutionParameter(type=int),  # 1: store onset->apex flow and strain
        "register": ExecutionParameter(type=int),  # 1: crops registered onto the onset
        "flow_algorithm": ExecutionParameter(type=str, optional=True),  # tvl1 | farneback | dis
        "align": ExecutionParameter(type=str, optional=True),  # eyes | box (ingestion/align.py)
        "label_key": ExecutionParameter(type=str),
        "classes": ExecutionParameter(type=str),  # JSON list; empty -> keep every label
        # Hash of the annotation files and the frame files: new data -> no cache hit.
        "input_fingerprint": ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        INGEST_REPORT_KEY: ChannelParameter(type=IngestionReport),
    }


def input_fingerprint(root: str, annotations: str | None, read_local: bool = True) -> str:
    """sha256 over the annotation bytes and every file's relative path, size and mtime.

    Data this machine does not see is not read at pipeline construction: remote
    paths (gs://, s3://), and every path when ``read_local`` is False (a pipeline
    compiled for Kubeflow, whose data sits on the cluster). Then only the paths are
    hashed, and the cache keys on them.
    """
    digest = hashlib.sha256()
    local = read_local and "://" not in root
    if annotations and local and "://" not in annotations:
        digest.update(fileio.read_bytes(annotations))
    elif annotations:
        digest.update(annotations.encode())
    if local and os.path.isdir(root):
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                stat = os.stat(os.path.join(folder, name))
                rel = os.path.relpath(os.path.join(folder, name), root)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    else:
        digest.update(root.encode())
    return digest.hexdigest()


def sources_fingerprint(sources, read_local: bool = True) -> str:
    """One fingerprint over every source (dataset name, files, annotations) and the
    record files' layout (a conversion in another layout is not reused)."""
    digest = hashlib.sha256(RECORD_LAYOUT.encode())
    for source in sources:
        digest.update(f"{source.dataset}\0".encode())
        digest.update(input_fingerprint(source.root, source.annotations, read_local).encode())
    return digest.hexdigest()


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads the annotations of every source and converts the clips with Beam."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        report = artifact_utils.get_single_instance(output_dict[INGEST_REPORT_KEY])
        sources = [Source.from_row(row) for row in json.loads(exec_properties["sources"])]
        rows = read_sources(sources)
        classes = json.loads(exec_properties.get("classes") or "[]")
        if classes:
            rows = restrict_to_classes(rows, exec_properties["label_key"], classes)
        specs, _ = split_rows(rows)
        if not specs:
            raise IngestionError(f"all {len(rows)} annotation rows were rejected")
        face_crop = bool(exec_properties["face_crop"])
        examples.split_names = artifact_utils.encode_split_names([ALL])
        ingest = IngestClips(
            rows, report.uri,
            os.path.join(artifact_utils.get_split_uri([examples], ALL), "data_tfrecord"),
            records_suffix=".gz", size=exec_properties["frame_size"], face_crop=face_crop,
            extra={"datasets": [s.dataset for s in sources]},
            convert_options={"apex_fallback": exec_properties["apex_fallback"],
                             "apex_from": exec_properties["apex_from"],
                             "flow": bool(exec_properties.get("flow", 1)),
                             "register": bool(exec_properties.get("register", 1)),
                             "flow_algorithm": exec_properties.get("flow_algorithm")
                             or "tvl1",
                             "align": exec_properties.get("align") or "eyes"})
        with self._make_beam_pipeline() as pipeline:
            _ = pipeline | "Ingest" >> ingest
        ingest.write_report()
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE)
        examples.span = 0
        summary = checked_summary(report.uri, ", ".join(s.root for s in sources))  # maybe gs://
        report.set_int_custom_property("converted", summary["converted"])
        report.set_int_custom_property("rejected", summary["rejected"])


class MerExampleGen(base_beam_component.BaseBeamComponent):
    """Raw frame folders + annotation files -> converted SequenceExample clips (split "all").

    Split by subject downstream (components/subject_split.py), so this conversion is
    cached across every choice of held-out subjects.
    """

    SPEC_CLASS = MerExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, sources: list, frame_size: int = 128, face_crop: bool = True,
                 label_key: str = "label", classes: list | None = None,
                 fingerprint_local_data: bool = True, apex_fallback: str = "spot",
                 apex_from: str = "annotation", flow: bool = True, register: bool = True,
                 flow_algorithm: str = "tvl1", align: str = "eyes"):
        sources = [s if isinstance(s, Source) else Source.from_row(s) for s in sources]
        super().__init__(MerExampleGenSpec(
            sources=json.dumps([s.to_row() for s in sources]),
            frame_size=frame_size, face_crop=int(face_crop), label_key=label_key,
            apex_fallback=apex_fallback, apex_from=apex_from, flow=int(flow),
            register=int(register), flow_algorithm=flow_algorithm, align=align,
            classes=json.dumps(list(classes or [])),
            input_fingerprint=sources_fingerprint(sources, fingerprint_local_data),
            **{EXAMPLES_KEY: types.Channel(type=standard_artifacts.Examples),
               INGEST_REPORT_KEY: types.Channel(type=IngestionReport)}))
