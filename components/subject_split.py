"""SubjectSplit: the converted clips of MerExampleGen -> train / eval splits by subject.

Why a component of its own: the frame conversion (MerExampleGen) then depends only
on the data and the ingestion settings, so every fold of a cross-validation, and
every re-run with other held-out subjects, reuses its one cached execution. A
subject's clips all go to one side. The subject list comes from the ingestion
report (``clips_by_subject`` in summary.json), so the pipeline never reads the data
at construction time (a Kubeflow compile cannot).

No record is read or copied: every converted record file holds the clips of one
subject (ingestion/shards.py), and the ingestion report names it
(``subject_of_record_file``), so each file is hard-linked into its subject's split
(copied whole where the file system cannot link: across devices, object stores). A
fold then costs no disk and no time for the dataset's size; copying every record into
the two splits had cost a full copy of the dataset per fold of a cross-validation,
and 0.5-0.8 s a fold of a 26-fold LOSO.
"""
from __future__ import annotations

import json
import logging
import os

import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from mer_tfx.errors import UserError
from mer_tfx.ingestion.beam_job import read_summary
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


def _input_files(examples) -> list:
    """(split name, path) of every record file of ``examples``, sorted."""
    return sorted((split, path)
                  for split in artifact_utils.decode_split_names(examples.split_names)
                  for path in tf.io.gfile.glob(os.path.join(
                      artifact_utils.get_split_uri([examples], split), "*")))


def link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system makes one, else a copy (gfile: remote too)."""
    try:
        os.link(source, target)
    except OSError:  # another device, a file system without links, gs:// or s3://
        tf.io.gfile.copy(source, target, overwrite=True)


def _check_empty(path: str) -> None:
    """A record file the report lists no subject for must hold no clip (never drop one)."""
    for _ in tf.data.TFRecordDataset(path, compression_type="GZIP").take(1):
        raise UserError(f"{path} holds clips that the ingestion report does not list: "
                        f"the conversion is incomplete; convert again")


class Executor(base_executor.BaseExecutor):
    """Reads the subject list from the ingestion report, moves each record file to the
    split of its one subject."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        source = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        report = artifact_utils.get_single_instance(input_dict[INGEST_REPORT_KEY])
        output = artifact_utils.get_single_instance(output_dict["split_examples"])
        summary = read_summary(report.uri)
        if "subject_of_record_file" not in summary:
            raise UserError(
                f"the conversion in {source.uri} was made by an earlier mer-tfx, whose "
                f"record files mix subjects: convert again (run without the cache, or "
                f"remove that MerExampleGen output)")
        subject_of_file = summary["subject_of_record_file"]
        clips_by_subject = summary["clips_by_subject"]
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
        for source_split, path in _input_files(source):
            name = os.path.basename(path)
            if name not in subject_of_file:
                _check_empty(path)  # every clip of its shard was rejected
                continue
            target = os.path.join(split_dirs[assignment[subject_of_file[name]]],
                                  f"{source_split}-{name}")
            link_or_copy(path, target)
        examples_utils.set_payload_format(output, example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE)
        output.span = 0
        output.set_string_custom_property(SUBJECTS_BY_SPLIT, json.dumps(subjects_by_split))


class SubjectSplit(base_component.BaseComponent):
    """Converted clips -> train/eval Examples, no subject on both sides."""

    SPEC_CLASS = SubjectSplitSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, examples: types.BaseChannel, ingest_report: types.BaseChannel,
                 eval_subjects: list[str] | None = None, eval_fraction: float = 0.25,
                 split_seed: int = 0):
        super().__init__(SubjectSplitSpec(
            eval_subjects=json.dumps(sorted(eval_subjects or [])), eval_fraction=eval_fraction,
            split_seed=split_seed,
            **{EXAMPLES_KEY: examples, INGEST_REPORT_KEY: ingest_report},
            split_examples=types.Channel(type=standard_artifacts.Examples)))
