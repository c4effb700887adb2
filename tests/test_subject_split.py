"""SubjectSplit's executor alone (tfx-addons style): converted record files in, the two
splits out, every record byte for byte on its subject's side, in ingestion's gzip
format, with no re-encoding and no record lost."""
import gzip
import json
import os

import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from mer_tfx.components.mer_example_gen import EXAMPLES_KEY, INGEST_REPORT_KEY, IngestionReport
from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT, Executor, subject_of
from mer_tfx.ingestion.records import record_file_options


def _record(subject: str, clip: int) -> bytes:
    example = tf.train.SequenceExample()
    example.context.feature["subject"].bytes_list.value.append(subject.encode())
    example.context.feature["clip"].bytes_list.value.append(f"clip{clip}".encode())
    example.feature_lists.feature_list["frames"].feature.add().bytes_list.value.append(
        bytes(2000) + f"{subject}/{clip}".encode())
    return example.SerializeToString()


def _converted(tmp_path, files: dict):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["all"])
    folder = tmp_path / "examples" / "Split-all"
    folder.mkdir(parents=True)
    for name, records in files.items():
        with tf.io.TFRecordWriter(str(folder / name), options=record_file_options()) as writer:
            for record in records:
                writer.write(record)
    report = IngestionReport()
    report.uri = str(tmp_path / "report")
    os.makedirs(report.uri)
    counts = {}
    for records in files.values():
        for record in records:
            counts[subject_of(record)] = counts.get(subject_of(record), 0) + 1
    (tmp_path / "report" / "summary.json").write_text(json.dumps({"clips_by_subject": counts}))
    return examples, report


def _read(folder) -> list:
    files = sorted(tf.io.gfile.glob(os.path.join(folder, "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_each_record_file_is_split_by_subject_without_re_encoding(tmp_path):
    files = {"part-00000-of-00002.gz": [_record("s1", 0), _record("s2", 1), _record("s1", 2)],
             "part-00001-of-00002.gz": [_record("s3", 3), _record("s2", 4)]}
    examples, report = _converted(tmp_path, files)
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "split")
    Executor().Do({EXAMPLES_KEY: [examples], INGEST_REPORT_KEY: [report]},
                  {"split_examples": [output]},
                  {"eval_subjects": json.dumps(["s2"]), "eval_fraction": 0.25,
                   "split_seed": 0})

    assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval"]
    assert json.loads(output.get_string_custom_property(SUBJECTS_BY_SPLIT)) == {
        "train": ["s1", "s3"], "eval": ["s2"]}
    train = _read(os.path.join(output.uri, "Split-train"))
    evaluation = _read(os.path.join(output.uri, "Split-eval"))
    everything = [r for records in files.values() for r in records]
    assert sorted(train + evaluation) == sorted(everything)
    assert {subject_of(r) for r in train} == {"s1", "s3"}
    assert {subject_of(r) for r in evaluation} == {"s2"}
    # one output file per input file that has clips of the split, named after it
    assert sorted(os.listdir(os.path.join(output.uri, "Split-eval"))) == [
        "all-part-00000-of-00002.gz", "all-part-00001-of-00002.gz"]
    assert sorted(os.listdir(os.path.join(output.uri, "Split-train"))) == [
        "all-part-00000-of-00002.gz", "all-part-00001-of-00002.gz"]
    # in gzip's stored blocks, as ingestion writes them (the frames would deflate 100x)
    path = os.path.join(output.uri, "Split-train", "all-part-00001-of-00002.gz")
    assert os.path.getsize(path) > len(gzip.decompress(open(path, "rb").read()))
