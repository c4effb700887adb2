"""MerExampleGen and SubjectSplit on their own (tfx-addons style): the executors on a tiny
fixture, the specs, and the input fingerprint that keys the conversion's cache."""
import glob
import json
import os

import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, channel_utils, standard_artifacts

from conftest import FAST_BEAM_ARGS
from mer_tfx.components import mer_example_gen, subject_split
from mer_tfx.components.mer_example_gen import (ALL, EXAMPLES_KEY, INGEST_REPORT_KEY,
                                                IngestionReport, MerExampleGen,
                                                input_fingerprint, sources_fingerprint)
from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT, SubjectSplit
from mer_tfx.datasets import Source
from mer_tfx.pipeline.beam_args import with_local_runner
from mer_tfx.synthetic import generate

# the product's local runner, as the pipeline gives it: without a runner Beam's DirectRunner
# tries Prism first and leaves an empty /tmp/beam-temp* folder behind
CONTEXT = base_beam_executor.BaseBeamExecutor.Context(
    beam_pipeline_args=with_local_runner(FAST_BEAM_ARGS))


def _records(folder):
    files = glob.glob(os.path.join(folder, "*.gz"))
    return [tf.train.SequenceExample.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _subject(example):
    return example.context.feature["subject"].bytes_list.value[0].decode()


def _convert(tmp_path, sources):
    examples, report = standard_artifacts.Examples(), IngestionReport()
    examples.uri, report.uri = str(tmp_path / "examples"), str(tmp_path / "report")
    mer_example_gen.Executor(CONTEXT).Do({}, {EXAMPLES_KEY: [examples],
                                             INGEST_REPORT_KEY: [report]}, {
        "sources": json.dumps([s.to_row() for s in sources]), "frame_size": 32,
        "face_crop": 1, "label_key": "label", "classes": "[]", "input_fingerprint": "test",
        "apex_fallback": "spot", "apex_from": "annotation"})
    return examples, report


def test_example_gen_converts_every_source_once_with_rejects_and_summary(tmp_path):
    casme2 = generate("casme2", str(tmp_path / "c"), subjects=2, clips_per_class=1, seed=4,
                      frame_size=80, inject_faults=True, progress=False)
    smic = generate("smic", str(tmp_path / "s"), subjects=2, clips_per_class=1, seed=5,
                    frame_size=80, progress=False)
    examples, report = _convert(tmp_path, [Source("casme2", casme2.root, casme2.annotations),
                                           Source("smic", smic.root)])
    assert artifact_utils.decode_split_names(examples.split_names) == [ALL]
    assert examples_utils.get_payload_format(examples) == \
        example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE
    records = _records(artifact_utils.get_split_uri([examples], ALL))
    assert len(records) == len(casme2.clips) + len(smic.clips)
    # several sources: subjects are made unique as <dataset>/<subject>
    assert {_subject(r) for r in records} == \
        {f"casme2/{c['subject']}" for c in casme2.clips} | {f"smic/{c['subject']}"
                                                            for c in smic.clips}
    summary = json.load(open(os.path.join(report.uri, "summary.json")))
    assert summary["rows"] == summary["converted"] + summary["rejected"]
    assert summary["by_dataset"]["smic"] == {"rows": len(smic.clips),
                                             "converted": len(smic.clips), "rejected": 0}
    casme2_counts = summary["by_dataset"]["casme2"]
    assert casme2_counts["rejected"] == len(casme2.expected_rejects)
    assert casme2_counts["converted"] == len(casme2.clips)
    assert sum(summary["clips_by_subject"].values()) == summary["converted"]
    rejects = [json.loads(line) for line in open(os.path.join(report.uri, "rejects.jsonl"))]
    assert {r["row"]: r["reason"] for r in rejects} == casme2.expected_rejects
    assert {r["dataset"] for r in rejects} == {"casme2"}
    assert report.get_int_custom_property("rejected") == len(casme2.expected_rejects)


def test_subject_split_puts_each_subject_on_one_side(tmp_path):
    data = generate("casme2", str(tmp_path / "c"), subjects=3, clips_per_class=1, seed=4,
                    frame_size=80, progress=False)
    examples, report = _convert(tmp_path, [Source("casme2", data.root, data.annotations)])
    held_out = sorted({c["subject"] for c in data.clips})[1]
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "split")
    subject_split.Executor().Do(
        {EXAMPLES_KEY: [examples], INGEST_REPORT_KEY: [report]}, {"split_examples": [output]},
        {"eval_subjects": json.dumps([held_out]), "eval_fraction": 0.25, "split_seed": 0})
    assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval"]
    by_split = {s: _records(artifact_utils.get_split_uri([output], s)) for s in ("train", "eval")}
    assert {_subject(r) for r in by_split["eval"]} == {held_out}
    assert held_out not in {_subject(r) for r in by_split["train"]}
    assert sum(len(r) for r in by_split.values()) == len(data.clips)
    assert json.loads(output.get_string_custom_property(SUBJECTS_BY_SPLIT))["eval"] == [held_out]
    assert examples_utils.get_payload_format(output) == \
        example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE


def test_components_declare_their_outputs_and_parameters(tmp_path):
    component = MerExampleGen(sources=[["smic", str(tmp_path)]],
                              classes=["positive", "negative"])
    assert component.outputs[EXAMPLES_KEY].type == standard_artifacts.Examples
    assert component.outputs[INGEST_REPORT_KEY].type == IngestionReport
    properties = component.exec_properties
    assert json.loads(properties["sources"]) == [["smic", str(tmp_path)]]
    assert json.loads(properties["classes"]) == ["positive", "negative"]
    assert properties["input_fingerprint"] == sources_fingerprint([Source("smic", str(tmp_path))])
    assert "eval_subjects" not in properties  # the conversion does not depend on the split
    split = SubjectSplit(examples=channel_utils.as_channel([standard_artifacts.Examples()]),
                         ingest_report=channel_utils.as_channel([IngestionReport()]),
                         eval_subjects=["s2", "s1"])
    assert split.exec_properties["eval_subjects"] == json.dumps(["s1", "s2"])
    assert split.outputs["split_examples"].type == standard_artifacts.Examples


def test_input_fingerprint_changes_with_a_frame_or_the_annotations(tmp_path):
    data = generate("csv", str(tmp_path / "data"), subjects=2, clips_per_class=1, seed=1,
                    frame_size=64, progress=False)
    before = input_fingerprint(data.root, data.annotations)
    assert input_fingerprint(data.root, data.annotations) == before  # stable
    frame = sorted(glob.glob(os.path.join(data.root, "*", "*", "*")))[0]
    with open(frame, "ab") as handle:
        handle.write(b"\0")  # one changed frame file
    after_frame = input_fingerprint(data.root, data.annotations)
    assert after_frame != before
    with open(data.annotations, "a") as handle:
        handle.write("\n")
    assert input_fingerprint(data.root, data.annotations) != after_frame
    # Data on a cluster is not read at compile time: only the paths are hashed.
    remote = input_fingerprint("gs://bucket/data", "gs://bucket/ann.csv")
    assert remote == input_fingerprint("gs://bucket/data", "gs://bucket/ann.csv")
    assert input_fingerprint(data.root, data.annotations, read_local=False) == \
        input_fingerprint(data.root, data.annotations, read_local=False) != after_frame
