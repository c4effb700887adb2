"""SubjectSplit: the converted clips of MerExampleGen -> train / eval splits by subject.

Why a component of its own: the frame conversion (MerExampleGen) then depends only
on the data and the ingestion settings, so every fold of a cross-validation, and
every re-run with other held-out subjects, reuses its one cached execution; this
component only copies serialized records (no decoding) into the two splits. A
subject's clips all go to one side. The subject list comes from the ingestion
report (``clips_by_subject`` in summary.json), so the pipeline never reads the data
at construction time (a Kubeflow compile cannot).

The Beam job has one task per converted record file and no shuffle: the task reads
its file and writes its clips to a file of the same name in each split, in gzip's
stored blocks as ingestion writes them (ingestion/records.py). Re-deflating the
records through Beam's TFRecord sink was most of this component's 2 s a fold in a
26-fold LOSO.
"""
from __future__ import annotations

import json
import logging
import os

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from mer_tfx.ingestion.beam_job import read_summary
from mer_tfx.ingestion.records import record_file_options
from mer_tfx.ingestion.splits import EVAL, TRAIN, assign_subject_splits
from mer_tfx.logs import PROGRESS_TAG

from .mer_example_gen import EXAMPLES_KEY, INGEST_REPORT_KEY, IngestionReport

SPLITS = (TRAIN, EVAL)
SUBJECTS_BY_SPLIT = "subjects_by_split"  # custom property of the output examples (JSON)
log = logging.getLogger(__name__)


class SubjectSplitSpec(types.ComponentSpec):
    PARAMETERS = {
        "eval_subjects": ExecutionParameter(type=str),  # JSON list; empty -> eval_fraction
        "eval_fraction": ExecutionParameter(type=float),
        "split_seed": ExecutionParameter(type=int),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        INGEST_REPORT_KEY: ChannelParameter(type=IngestionReport),
    }
    OUTPUTS = {
        "split_examples": ChannelParameter(type=standard_artifacts.Examples),
    }


def subject_of(record: bytes) -> str:
    """The ``subject`` context feature of a serialized clip record (ingestion/records.py)."""
    example = tf.train.SequenceExample.FromString(record)
    return example.context.feature["subject"].bytes_list.value[0].decode("utf-8")


def _input_files(examples) -> list:
    """(split name, path) of every record file of ``examples``, sorted."""
    return sorted((split, path)
                  for split in artifact_utils.decode_split_names(examples.split_names)
                  for path in tf.io.gfile.glob(os.path.join(
                      artifact_utils.get_split_uri([examples], split), "*")))


class _SplitFile(beam.DoFn):
    """One converted record file -> its records in the train and eval files named after
    it. A task owns its output files, so a retried task rewrites them."""

    def __init__(self, assignment: dict, split_dirs: dict):
        self._assignment = assignment
        self._split_dirs = split_dirs

    def process(self, source):
        source_split, path = source
        name = f"{source_split}-{os.path.basename(path)}"
        writers = {}
        try:
            for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
                data = record.numpy()
                split = self._assignment[subject_of(data)]
                if split not in writers:
                    writers[split] = tf.io.TFRecordWriter(
                        os.path.join(self._split_dirs[split], name),
                        options=record_file_options())
                writers[split].write(data)
        finally:
            for writer in writers.values():
                writer.close()
        return []


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads the subject list from the ingestion report, partitions the records by subject."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        source = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        report = artifact_utils.get_single_instance(input_dict[INGEST_REPORT_KEY])
        output = artifact_utils.get_single_instance(output_dict["split_examples"])
        clips_by_subject = read_summary(report.uri)["clips_by_subject"]
        assignment = assign_subject_splits(
            list(clips_by_subject), json.loads(exec_properties["eval_subjects"] or "[]"),
            exec_properties["eval_fraction"], exec_properties["split_seed"])
        subjects_by_split = {s: sorted(k for k, v in assignment.items() if v == s)
                             for s in SPLITS}
        log.info("%s held out %d subjects (%d clips): %s", PROGRESS_TAG,
                 len(subjects_by_split[EVAL]),
                 sum(clips_by_subject[s] for s in subjects_by_split[EVAL]),
                 ", ".join(subjects_by_split[EVAL]))
        output.split_names = artifact_utils.encode_split_names(list(SPLITS))
        split_dirs = {split: artifact_utils.get_split_uri([output], split) for split in SPLITS}
        for folder in split_dirs.values():
            tf.io.gfile.makedirs(folder)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline
                 | "RecordFiles" >> beam.Create(_input_files(source))
                 | "BySubject" >> beam.ParDo(_SplitFile(assignment, split_dirs)))
        examples_utils.set_payload_format(output, example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE)
        output.span = 0
        output.set_string_custom_property(SUBJECTS_BY_SPLIT, json.dumps(subjects_by_split))


class SubjectSplit(base_beam_component.BaseBeamComponent):
    """Converted clips -> train/eval Examples, no subject on both sides."""

    SPEC_CLASS = SubjectSplitSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, ingest_report: types.BaseChannel,
                 eval_subjects: list[str] | None = None, eval_fraction: float = 0.25,
                 split_seed: int = 0):
        super().__init__(SubjectSplitSpec(
            eval_subjects=json.dumps(sorted(eval_subjects or [])), eval_fraction=eval_fraction,
            split_seed=split_seed,
            **{EXAMPLES_KEY: examples, INGEST_REPORT_KEY: ingest_report},
            split_examples=types.Channel(type=standard_artifacts.Examples)))
