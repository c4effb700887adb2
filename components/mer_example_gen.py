"""MerExampleGen: a TFX ExampleGen for raw MER frame folders + an annotation file.

It runs the ingestion Beam transform (``IngestClips``, the same graph the
``mer-tfx ingest`` command runs) inside the pipeline and writes Examples with
payload format SequenceExample, split by subject: train and eval never share a
subject. Rejected rows and the summary go to a separate ``ingest_report``
artifact so they are versioned with the examples they explain.
"""
from __future__ import annotations

import hashlib
import json
import os

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.beam_job import IngestClips, IngestionError, checked_summary, split_rows
from mer_tfx.ingestion.readers import read_annotations, restrict_to_classes
from mer_tfx.ingestion.splits import EVAL, TRAIN, assign_subject_splits

SPLITS = (TRAIN, EVAL)
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
        "dataset": ExecutionParameter(type=str),
        "root": ExecutionParameter(type=str),
        "annotations": ExecutionParameter(type=str, optional=True),
        "frame_size": ExecutionParameter(type=int),
        "face_crop": ExecutionParameter(type=int),
        "eval_subjects": ExecutionParameter(type=str),  # JSON list; empty -> eval_fraction
        "eval_fraction": ExecutionParameter(type=float),
        "split_seed": ExecutionParameter(type=int),
        "label_key": ExecutionParameter(type=str),
        "classes": ExecutionParameter(type=str),  # JSON list; empty -> keep every label
        # Hash of the annotation file and the frame files: new data -> no cache hit.
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


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads the annotations, assigns subjects to splits, converts clips with Beam."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        report = artifact_utils.get_single_instance(output_dict[INGEST_REPORT_KEY])
        rows = read_annotations(exec_properties["dataset"], exec_properties["root"],
                                exec_properties.get("annotations") or None)
        classes = json.loads(exec_properties.get("classes") or "[]")
        if classes:
            rows = restrict_to_classes(rows, exec_properties["label_key"], classes)
        specs, _ = split_rows(rows)
        if not specs:
            raise IngestionError(f"all {len(rows)} annotation rows were rejected")
        assignment = assign_subject_splits(
            [s.subject for s in specs], json.loads(exec_properties["eval_subjects"] or "[]"),
            exec_properties["eval_fraction"], exec_properties["split_seed"])
        face_crop = bool(exec_properties["face_crop"])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))

        with self._make_beam_pipeline() as pipeline:
            converted = pipeline | "Ingest" >> IngestClips(
                rows, report.uri, exec_properties["frame_size"], face_crop,
                extra={"dataset": exec_properties["dataset"],
                       "subjects_by_split": {s: sorted(k for k, v in assignment.items() if v == s)
                                             for s in SPLITS}})
            by_split = converted | "BySubject" >> beam.Partition(
                lambda c, _n: SPLITS.index(assignment[c.spec.subject]), len(SPLITS))
            for split, clips in zip(SPLITS, by_split):
                (clips
                 | f"Serialize[{split}]" >> beam.Map(lambda c: c.serialized)
                 | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                     os.path.join(artifact_utils.get_split_uri([examples], split),
                                  "data_tfrecord"),
                     file_name_suffix=".gz", compression_type=CompressionTypes.GZIP))

        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE)
        examples.span = 0
        summary = checked_summary(report.uri, exec_properties["root"])  # may be gs://
        report.set_int_custom_property("converted", summary["converted"])
        report.set_int_custom_property("rejected", summary["rejected"])


class MerExampleGen(base_beam_component.BaseBeamComponent):
    """Raw frame folders + annotation file -> subject-split SequenceExample Examples."""

    SPEC_CLASS = MerExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, dataset: str, root: str, annotations: str | None = None,
                 frame_size: int = 128, face_crop: bool = True,
                 eval_subjects: list[str] | None = None, eval_fraction: float = 0.25,
                 split_seed: int = 0, label_key: str = "label", classes: list | None = None,
                 fingerprint_local_data: bool = True):
        super().__init__(MerExampleGenSpec(
            dataset=dataset, root=root, annotations=annotations or "",
            frame_size=frame_size, face_crop=int(face_crop),
            eval_subjects=json.dumps(sorted(eval_subjects or [])),
            eval_fraction=eval_fraction, split_seed=split_seed, label_key=label_key,
            classes=json.dumps(list(classes or [])),
            input_fingerprint=input_fingerprint(root, annotations, fingerprint_local_data),
            **{EXAMPLES_KEY: types.Channel(type=standard_artifacts.Examples),
               INGEST_REPORT_KEY: types.Channel(type=IngestionReport)}))
