"""MerExampleGen on its own (tfx-addons style): the executor on a tiny fixture, the spec,
and the input fingerprint that keys its cache."""
import glob
import json
import os

import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from conftest import FAST_BEAM_ARGS
from mer_tfx.components.mer_example_gen import (EXAMPLES_KEY, INGEST_REPORT_KEY, SPLITS,
                                                Executor, IngestionReport, MerExampleGen,
                                                input_fingerprint)
from mer_tfx.synthetic import generate


def _records(folder):
    files = glob.glob(os.path.join(folder, "*.gz"))
    return [tf.train.SequenceExample.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _subject(example):
    return example.context.feature["subject"].bytes_list.value[0].decode()


def test_executor_writes_subject_splits_rejects_and_summary(tmp_path):
    data = generate("casme2", str(tmp_path / "data"), subjects=3, clips_per_class=1, seed=4,
                    frame_size=80, inject_faults=True, progress=False)
    examples, report = standard_artifacts.Examples(), IngestionReport()
    examples.uri, report.uri = str(tmp_path / "examples"), str(tmp_path / "report")
    eval_subject = sorted({c["subject"] for c in data.clips})[0]
    exec_properties = {
        "dataset": "casme2", "root": data.root, "annotations": data.annotations,
        "frame_size": 32, "face_crop": 1, "eval_subjects": json.dumps([eval_subject]),
        "eval_fraction": 0.25, "split_seed": 0, "label_key": "label", "classes": "[]",
        "input_fingerprint": "test"}
    executor = Executor(base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=FAST_BEAM_ARGS))
    executor.Do({}, {EXAMPLES_KEY: [examples], INGEST_REPORT_KEY: [report]}, exec_properties)

    assert artifact_utils.decode_split_names(examples.split_names) == list(SPLITS)
    assert examples_utils.get_payload_format(examples) == \
        example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE
    by_split = {s: _records(artifact_utils.get_split_uri([examples], s)) for s in SPLITS}
    assert {_subject(e) for e in by_split["eval"]} == {eval_subject}
    assert eval_subject not in {_subject(e) for e in by_split["train"]}
    assert sum(len(r) for r in by_split.values()) == len(data.clips)

    summary = json.load(open(os.path.join(report.uri, "summary.json")))
    assert summary["rows"] == summary["converted"] + summary["rejected"]
    assert summary["converted"] == len(data.clips)
    assert summary["subjects_by_split"]["eval"] == [eval_subject]
    rejects = [json.loads(line) for line in open(os.path.join(report.uri, "rejects.jsonl"))]
    assert {r["row"]: r["reason"] for r in rejects} == data.expected_rejects
    assert report.get_int_custom_property("rejected") == len(data.expected_rejects)


def test_component_declares_its_outputs_and_parameters(tmp_path):
    component = MerExampleGen(dataset="smic", root=str(tmp_path), eval_subjects=["s2", "s1"],
                              classes=["positive", "negative"])
    assert component.outputs[EXAMPLES_KEY].type == standard_artifacts.Examples
    assert component.outputs[INGEST_REPORT_KEY].type == IngestionReport
    properties = component.exec_properties
    assert properties["eval_subjects"] == json.dumps(["s1", "s2"])
    assert json.loads(properties["classes"]) == ["positive", "negative"]
    assert properties["input_fingerprint"] == input_fingerprint(str(tmp_path), None)


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
