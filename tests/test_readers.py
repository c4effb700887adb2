"""Each dataset reader against synthetic data written in that dataset's real layout."""
import collections
import glob
import json
import os

import openpyxl
import pytest
import tensorflow as tf

from conftest import FAST_BEAM_ARGS
from mer_tfx.datasets import Source
from mer_tfx.ingestion.beam_job import run_ingest
from mer_tfx.ingestion.clips import ClipSpec, Reject
from mer_tfx.ingestion.readers import read_annotations, restrict_to_classes
from mer_tfx.labels import KNOWN_LABELS
from mer_tfx.synthetic import LAYOUTS, generate


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    base = tmp_path_factory.mktemp("layouts")
    return {layout: generate(layout, str(base / layout), subjects=3, clips_per_class=1, seed=2,
                             inject_faults=True, progress=False)
            for layout in LAYOUTS}


def _specs(result):
    rows = read_annotations(result.layout, result.root, result.annotations)
    return {r.row: r for r in rows}


def test_casme2_subject_folders_slash_apex_and_action_units(datasets):
    result = datasets["casme2"]
    rows = _specs(result)
    good = [r for r in rows.values() if isinstance(r, ClipSpec)]
    assert all(r.subject.startswith("sub") and len(r.subject) == 5 for r in good)
    assert all(os.path.isdir(r.clip_dir) for r in good if r.row not in result.expected_rejects)
    repaired = {r.row for r in good if r.repairs == ("apex_missing_midpoint",)}
    assert repaired == set(result.expected_repairs) and repaired
    for row in repaired:
        assert rows[row].apex == (rows[row].onset + rows[row].offset) // 2
    sheet = openpyxl.load_workbook(result.annotations).worksheets[0]
    raw_apex = {r: sheet.cell(r, 5).value for r in repaired}
    assert set(raw_apex.values()) == {"/"}
    assert any("+" in r.action_units for r in good) and any(r.action_units.isdigit()
                                                            for r in good)


def test_samm_header_on_row_14_subject_spellings_and_label_casing(datasets):
    result = datasets["samm"]
    rows = _specs(result)
    assert min(rows) == 15  # first data row under the header on row 14
    sheet = openpyxl.load_workbook(result.annotations).worksheets[0]
    raw_subjects = {type(sheet.cell(r, 1).value) for r in rows}
    assert raw_subjects == {int, str}
    good = [r for r in rows.values() if isinstance(r, ClipSpec)]
    assert all(len(r.subject) == 3 and r.subject.isdigit() for r in good)
    raw_others = {sheet.cell(r.row, 11).value for r in good if r.label == "others"}
    assert {"Others", "other"} <= raw_others
    assert {r.row for r in good if r.repairs} == set(result.expected_repairs)


def test_smic_labels_from_folders_and_midpoint_apex(datasets):
    result = datasets["smic"]
    assert result.annotations is None
    rows = _specs(result)
    good = [r for r in rows.values() if isinstance(r, ClipSpec)]
    assert {r.label for r in good} == {"positive", "negative", "surprise"}
    assert all("/micro/" in r.clip_dir.replace(os.sep, "/") for r in good)
    assert all(r.repairs == ("apex_missing_midpoint",) for r in good)
    assert all(r.subject.startswith("s") and not r.subject.startswith("s0") for r in good)


def test_casme3_rows_sharing_one_video_folder(datasets):
    result = datasets["casme3"]
    good = [r for r in _specs(result).values() if isinstance(r, ClipSpec)]
    by_folder = collections.defaultdict(list)
    for spec in good:
        by_folder[spec.clip_dir].append((spec.onset, spec.offset))
    shared = [spans for spans in by_folder.values() if len(spans) > 1]
    assert shared and all(len(set(spans)) == len(spans) for spans in shared)
    assert all(r.clip_dir.endswith("color") for r in good)
    # each interval of a shared video folder has its own clip id
    assert len({r.clip_id for r in good}) == len(good)
    for spec in good:
        folder = os.path.basename(os.path.dirname(spec.clip_dir))
        assert spec.clip == f"{folder}@{spec.onset}-{spec.offset}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_row_is_a_record_or_a_reject_with_the_expected_reason(datasets, layout, tmp_path):
    result = datasets[layout]
    out = str(tmp_path / "out")
    summary = run_ingest(Source(layout, result.root, result.annotations), out, size=32,
                         beam_args=FAST_BEAM_ARGS)
    assert summary["rows"] == summary["converted"] + summary["rejected"]
    assert summary["converted"] == len(result.clips)
    assert summary["rejected"] == len(result.expected_rejects)
    rejects = [json.loads(line) for line in open(os.path.join(out, "rejects.jsonl"))]
    assert {r["row"]: r["reason"] for r in rejects} == result.expected_rejects
    files = glob.glob(os.path.join(out, "records", "*.tfrecord.gz"))
    records = [tf.train.SequenceExample.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    assert len(records) == len(result.clips)
    labels = {r.context.feature["label"].bytes_list.value[0].decode() for r in records}
    assert labels <= KNOWN_LABELS
    for record in records:
        context = record.context.feature
        frames = record.feature_lists.feature_list["frame_index"].feature
        numbers = [f.int64_list.value[0] for f in frames]
        onset = context["onset"].int64_list.value[0]
        offset = context["offset"].int64_list.value[0]
        assert numbers == list(range(onset, offset + 1))
        assert context["num_frames"].int64_list.value[0] == len(numbers)


def test_class_restriction_rejects_instead_of_dropping(datasets):
    rows = read_annotations("casme2", datasets["casme2"].root, datasets["casme2"].annotations)
    restricted = restrict_to_classes(rows, "label_3class", ["negative", "positive", "surprise"])
    assert len(restricted) == len(rows)
    excluded = [r for r in restricted if isinstance(r, Reject) and r.reason == "excluded_class"]
    assert excluded and all("others" in r.detail for r in excluded)
