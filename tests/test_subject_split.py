"""SubjectSplit's executor alone (tfx-addons style): converted record files in, the two
splits out, each file (one subject each, ingestion/shards.py) linked whole into its
subject's side: no record read, copied or lost."""
import json
import os

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from conftest import record_subject
from mer_tfx.components import subject_split
from mer_tfx.components.mer_example_gen import EXAMPLES_KEY, INGEST_REPORT_KEY, IngestionReport
from mer_tfx.components.subject_split import SUBJECTS_BY_SPLIT, Executor
from mer_tfx.errors import UserError
from mer_tfx.ingestion.records import record_file_options

FILES = {"part-00000-of-00004.gz": ["s1", "s1"], "part-00001-of-00004.gz": ["s2"],
         "part-00002-of-00004.gz": ["s3", "s3"], "part-00003-of-00004.gz": ["s2", "s2"]}


def _record(subject: str, clip: int) -> bytes:
    example = tf.train.SequenceExample()
    example.context.feature["subject"].bytes_list.value.append(subject.encode())
    example.context.feature["clip"].bytes_list.value.append(f"clip{clip}".encode())
    example.feature_lists.feature_list["frames"].feature.add().bytes_list.value.append(
        bytes(2000) + f"{subject}/{clip}".encode())
    return example.SerializeToString()


def _converted(tmp_path, files: dict, summary_extra=None, mapping=True):
    """An ingestion's output: ``files`` (name -> subjects of its records), its summary."""
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["all"])
    folder = tmp_path / "examples" / "Split-all"
    folder.mkdir(parents=True)
    counts, subject_of_file, clip = {}, {}, 0
    for name, subjects in files.items():
        with tf.io.TFRecordWriter(str(folder / name), options=record_file_options()) as writer:
            for subject in subjects:
                writer.write(_record(subject, clip))
                counts[subject] = counts.get(subject, 0) + 1
                clip += 1
        if subjects:
            subject_of_file[name] = subjects[0]
    report = IngestionReport()
    report.uri = str(tmp_path / "report")
    os.makedirs(report.uri)
    summary = {"clips_by_subject": counts, **(summary_extra or {})}
    if mapping:
        summary["subject_of_record_file"] = subject_of_file
    (tmp_path / "report" / "summary.json").write_text(json.dumps(summary))
    return examples, report


def _split(tmp_path, examples, report, held_out):
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "split")
    Executor().Do({EXAMPLES_KEY: [examples], INGEST_REPORT_KEY: [report]},
                  {"split_examples": [output]},
                  {"eval_subjects": json.dumps(held_out), "eval_fraction": 0.25,
                   "split_seed": 0})
    return output


def _read(folder) -> list:
    files = sorted(tf.io.gfile.glob(os.path.join(folder, "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_each_record_file_is_linked_whole_into_its_subjects_split(tmp_path):
    files = dict(FILES, **{"part-00004-of-00005.gz": []})  # every clip of it rejected
    examples, report = _converted(tmp_path, files)
    output = _split(tmp_path, examples, report, ["s2"])

    assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval"]
    assert json.loads(output.get_string_custom_property(SUBJECTS_BY_SPLIT)) == {
        "train": ["s1", "s3"], "eval": ["s2"]}
    train = _read(os.path.join(output.uri, "Split-train"))
    evaluation = _read(os.path.join(output.uri, "Split-eval"))
    assert sorted(train + evaluation) == sorted(_read(os.path.join(examples.uri, "Split-all")))
    assert {record_subject(r) for r in train} == {"s1", "s3"}
    assert {record_subject(r) for r in evaluation} == {"s2"}
    # each file on its subject's side under the name it had, the empty file nowhere
    assert sorted(os.listdir(os.path.join(output.uri, "Split-eval"))) == [
        "all-part-00001-of-00004.gz", "all-part-00003-of-00004.gz"]
    assert sorted(os.listdir(os.path.join(output.uri, "Split-train"))) == [
        "all-part-00000-of-00004.gz", "all-part-00002-of-00004.gz"]
    # the very file, not a copy: a fold costs no disk
    source = os.stat(os.path.join(examples.uri, "Split-all", "part-00001-of-00004.gz"))
    linked = os.stat(os.path.join(output.uri, "Split-eval", "all-part-00001-of-00004.gz"))
    assert (source.st_ino, source.st_dev) == (linked.st_ino, linked.st_dev)


def test_where_no_link_can_be_made_the_file_is_copied_whole(tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(subject_split.os, "link", no_links)
    examples, report = _converted(tmp_path, FILES)
    output = _split(tmp_path, examples, report, ["s3"])
    for name in FILES:
        side = "Split-eval" if FILES[name][0] == "s3" else "Split-train"
        copied = os.path.join(output.uri, side, f"all-{name}")
        original = os.path.join(examples.uri, "Split-all", name)
        assert open(copied, "rb").read() == open(original, "rb").read()
        assert os.stat(copied).st_ino != os.stat(original).st_ino


def test_a_conversion_whose_files_mix_subjects_is_refused_with_what_to_do(tmp_path):
    examples, report = _converted(tmp_path, FILES, mapping=False)
    with pytest.raises(UserError, match="mix subjects: convert again"):
        _split(tmp_path, examples, report, ["s1"])


def test_a_record_file_the_report_does_not_list_is_an_error_not_a_dropped_clip(tmp_path):
    examples, report = _converted(tmp_path, FILES)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    del summary["subject_of_record_file"]["part-00002-of-00004.gz"]
    (tmp_path / "report" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(UserError, match="part-00002-of-00004.gz holds clips that the "
                                        "ingestion report does not list"):
        _split(tmp_path, examples, report, ["s1"])
