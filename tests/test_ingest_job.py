"""The ingestion Beam job end to end on small hand-made clips."""
import csv
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import FAST_BEAM_ARGS, write_clip
from mer_tfx.datasets import Source
from mer_tfx.errors import UserError
from mer_tfx.ingestion.beam_job import IngestionError, run_ingest
from mer_tfx.ingestion.tables import AnnotationError
from mer_tfx.pipeline.beam_args import default_beam_args

CONTEXT = {
    "dataset": tf.io.FixedLenFeature([], tf.string),
    "subject": tf.io.FixedLenFeature([], tf.string),
    "clip": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.string),
    "label_3class": tf.io.FixedLenFeature([], tf.string),
    "onset": tf.io.FixedLenFeature([], tf.int64),
    "apex": tf.io.FixedLenFeature([], tf.int64),
    "offset": tf.io.FixedLenFeature([], tf.int64),
    "num_frames": tf.io.FixedLenFeature([], tf.int64),
    "fps": tf.io.FixedLenFeature([], tf.float32),
    "action_units": tf.io.FixedLenFeature([], tf.string),
}
SEQUENCE = {
    "frames": tf.io.FixedLenSequenceFeature([], tf.string),
    "frame_index": tf.io.FixedLenSequenceFeature([], tf.int64),
}


def read_records(out_dir):
    files = sorted(glob.glob(os.path.join(out_dir, "records", "*.tfrecord.gz")))
    assert files, "no record shards written"
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def parse(record):
    context, sequence = tf.io.parse_single_sequence_example(record, CONTEXT, SEQUENCE)
    return ({k: v.numpy() for k, v in context.items()},
            {k: v.numpy() for k, v in sequence.items()})


def test_records_follow_the_sequence_example_contract(csv_dataset, tmp_path):
    root, annotations, rows = csv_dataset
    out = str(tmp_path / "out")
    summary = run_ingest(Source("csv", root, annotations), out, size=32,
                         beam_args=FAST_BEAM_ARGS)
    assert summary["rows"] == summary["converted"] == len(rows) and summary["rejected"] == 0
    records = [parse(r) for r in read_records(out)]
    assert len(records) == len(rows)
    by_clip = {(c["subject"].decode(), c["clip"].decode()): (c, s) for c, s in records}
    context, sequence = by_clip[("alice", "clip0")]
    assert context["label"] == b"happiness" and context["label_3class"] == b"positive"
    assert (context["onset"], context["apex"], context["offset"]) == (101, 105, 110)
    assert context["num_frames"] == 10 and context["dataset"] == b"csv"
    assert list(sequence["frame_index"]) == list(range(101, 111))
    frame = cv2.imdecode(np.frombuffer(sequence["frames"][0], np.uint8), cv2.IMREAD_UNCHANGED)
    assert frame.shape == (32, 32) and frame.dtype == np.uint8
    assert by_clip[("bob", "clip1")][0]["label_3class"] == b"surprise"
    assert json.load(open(os.path.join(out, "summary.json")))["converted"] == len(rows)
    assert open(os.path.join(out, "rejects.jsonl")).read() == ""
    # every record file holds the clips of one subject, the one the summary names
    # (SubjectSplit moves whole files)
    files = sorted(glob.glob(os.path.join(out, "records", "*")))
    subjects = {os.path.basename(f): {parse(r)[0]["subject"].decode()
                                      for r in tf.data.TFRecordDataset(
                                          f, compression_type="GZIP").as_numpy_iterator()}
                for f in files}
    assert summary["subject_of_record_file"] == {
        name: "".join(found) for name, found in subjects.items()}
    assert set(summary["subject_of_record_file"].values()) == {"alice", "bob", "carol"}


def _bad_rows_dataset(tmp_path):
    """One good clip plus one row of every kind of bad input, each with its expected reason."""
    root = tmp_path / "frames"
    write_clip(str(root / "s1" / "good"), 1, 12)
    write_clip(str(root / "s2" / "good"), 1, 12, seed=1)
    write_clip(str(root / "s1" / "gap"), 1, 12)
    os.remove(root / "s1" / "gap" / "frame_6.png")
    write_clip(str(root / "s1" / "garbage"), 1, 12)
    (root / "s1" / "garbage" / "frame_5.png").write_bytes(b"not an image at all")
    write_clip(str(root / "s1" / "huge"), 1, 12)
    cv2.imwrite(str(root / "s1" / "huge" / "frame_4.png"), np.zeros((4200, 4200), np.uint8))
    write_clip(str(root / "s1" / "shrinks"), 1, 12)
    cv2.imwrite(str(root / "s1" / "shrinks" / "frame_7.png"), np.zeros((10, 10), np.uint8))
    write_clip(str(root / "s1" / "twice"), 1, 12)
    write_clip(str(root / "s1" / "twice"), 5, 5, ext=".jpg", prefix="frame_00")  # 5 and 005
    (root / "s1" / "empty").mkdir()
    (root / "outside").mkdir()
    good = {"onset": 2, "apex": 5, "offset": 10, "label": "happiness"}
    rows = [
        (("s1", "good"), {}, None),
        (("s2", "good"), {"apex": "", "label": "Surprise"}, None),  # repaired apex, case
        (("s1", "nope"), {}, "missing_folder"),
        (("s1", "gap"), {}, "missing_frame"),
        (("s1", "garbage"), {}, "unreadable_frame"),
        (("s1", "huge"), {}, "oversized_image"),
        (("s1", "shrinks"), {}, "inconsistent_frame_size"),
        (("s1", "empty"), {}, "no_frames"),
        (("s1", "good"), {"onset": 9, "offset": 3}, "onset_after_offset"),
        (("s1", "good"), {"label": "confused"}, "unknown_label"),
        (("s1", "good"), {"onset": "two"}, "bad_frame_number"),
        (("..", "outside"), {}, "path_escape"),
        (("s1", "../../etc"), {}, "path_escape"),
        (("s1", "good"), {"offset": 9000}, "too_many_frames"),
        (("", "good"), {}, "missing_subject"),
        (("s1", "twice"), {}, "duplicate_frame_number"),
        (("s2", "good"), {"apex": "", "label": "Surprise"}, "duplicate_interval"),
        (("s2", "good"), {"offset": 11, "fps": "fast"}, "bad_fps"),
    ]
    annotations = tmp_path / "annotations.csv"
    with open(annotations, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["subject", "clip", "onset", "apex", "offset", "label",
                                         "fps"])
        writer.writeheader()
        for (subject, clip), change, _ in rows:
            writer.writerow({"subject": subject, "clip": clip, **good, **change})
    expected = {row + 2: reason for row, (_, _, reason) in enumerate(rows) if reason}
    return str(root), str(annotations), len(rows), expected


def test_every_row_is_converted_or_rejected_with_its_reason(tmp_path):
    root, annotations, count, expected = _bad_rows_dataset(tmp_path)
    out = str(tmp_path / "out")
    summary = run_ingest(Source("csv", root, annotations), out, size=24,
                         beam_args=FAST_BEAM_ARGS)
    assert summary["rows"] == count == summary["converted"] + summary["rejected"]
    assert summary["converted"] == 2 and summary["repaired"] == 1
    # the missing apex is spotted from the frames (the default --apex-fallback spot)
    assert summary["repaired_by_kind"] == {"apex_missing_spotted": 1}
    assert summary["apex_source"] == {"annotated": 1, "spotted": 1}
    rejects = [json.loads(line) for line in open(os.path.join(out, "rejects.jsonl"))]
    assert {r["row"]: r["reason"] for r in rejects} == expected
    assert all(r["detail"] and r["clip"] for r in rejects)
    assert sum(summary["rejected_by_reason"].values()) == len(expected)
    labels = sorted(parse(r)[0]["label"] for r in read_records(out))
    assert labels == [b"happiness", b"surprise"]
    clips = sorted((c["subject"], c["clip"]) for c, _ in map(parse, read_records(out)))
    # several rows name each of these folders: every interval gets its own clip id
    assert clips == [(b"s1", b"good@2-10"), (b"s2", b"good@2-10")]


def test_an_oversized_frame_file_is_refused_from_its_size_unread(tmp_path, monkeypatch):
    from mer_tfx.ingestion import fileio
    from mer_tfx.ingestion.clips import MAX_FILE_BYTES
    from mer_tfx.ingestion.frames import FrameError, read_gray

    big = tmp_path / "frame_1.png"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: 64 MiB + 1 byte, nothing on disk
    opened = []
    monkeypatch.setattr(fileio, "open_read", lambda path: opened.append(path))
    with pytest.raises(FrameError) as caught:
        read_gray(str(big))
    assert caught.value.reason == "oversized_image" and str(MAX_FILE_BYTES + 1) in str(
        caught.value)
    assert opened == []


def test_a_sheet_fps_reaches_the_record_as_a_float(tmp_path):
    from mer_tfx.ingestion.clips import ClipSpec
    from mer_tfx.ingestion.records import build_sequence_example

    spec = ClipSpec(row=2, dataset="video", subject="P1", clip="rec@1-3", clip_dir="",
                    label="happiness", onset=1, apex=2, offset=3, fps=29.97)
    example = build_sequence_example(spec, [1, 2, 3], [b"png"] * 3, True)
    context, _ = parse(example.SerializeToString())
    assert context["fps"] == pytest.approx(29.97, abs=1e-5)


def _ingest_csv(csv_dataset, out):
    root, annotations, _ = csv_dataset
    return run_ingest(Source("csv", root, annotations), out, size=16, face_crop=False,
                      beam_args=FAST_BEAM_ARGS)


def test_ingest_never_clears_what_it_did_not_write(csv_dataset, tmp_path):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    foreign = out / "records" / "mine.tfrecord.gz"
    foreign.write_bytes(b"the user's")
    with pytest.raises(UserError, match="choose a new or empty folder") as caught:
        _ingest_csv(csv_dataset, str(out))
    assert "\n" not in str(caught.value) and "no .mer-tfx-output marker" in str(caught.value)
    assert foreign.read_bytes() == b"the user's"
    assert sorted(os.listdir(out)) == ["records"]

    fresh = tmp_path / "fresh"
    _ingest_csv(csv_dataset, str(fresh))
    (fresh / "notes.txt").write_text("kept")
    first = sorted(os.listdir(fresh / "records"))
    _ingest_csv(csv_dataset, str(fresh))  # a re-run clears its own outputs only
    assert (fresh / "notes.txt").read_text() == "kept"
    assert sorted(os.listdir(fresh / "records")) == first
    (fresh / "records" / "mine.txt").write_text("the user's")
    with pytest.raises(UserError, match="mine.txt not written by mer-tfx ingest: move"):
        _ingest_csv(csv_dataset, str(fresh))
    assert sorted(os.listdir(fresh / "records")) == sorted(first + ["mine.txt"])


def test_the_cli_says_what_to_do_with_a_foreign_out_folder(csv_dataset, tmp_path):
    root, annotations, _ = csv_dataset
    (tmp_path / "out" / "records").mkdir(parents=True)
    (tmp_path / "out" / "records" / "keep.txt").write_text("x")
    script = os.path.join(os.path.dirname(sys.executable), "mer-tfx")
    done = subprocess.run([script, "ingest", "--dataset", "csv", "--root", root,
                           "--annotations", annotations, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "choose a new or empty folder (nothing was deleted)" in done.stderr
    assert (tmp_path / "out" / "records" / "keep.txt").read_text() == "x"


def test_same_input_gives_the_same_set_of_records(csv_dataset, tmp_path):
    root, annotations, _ = csv_dataset
    first = run_ingest(Source("csv", root, annotations), str(tmp_path / "a"), size=24,
                       beam_args=FAST_BEAM_ARGS)
    # The default runner (multi-process, 2 workers) must give the very same records.
    second = run_ingest(Source("csv", root, annotations), str(tmp_path / "b"), size=24,
                        beam_args=default_beam_args(["--direct_num_workers=2"]))
    assert first == second
    assert sorted(read_records(str(tmp_path / "a"))) == sorted(read_records(str(tmp_path / "b")))


def test_no_face_crop_keeps_the_whole_frame(csv_dataset, tmp_path):
    root, annotations, _ = csv_dataset
    summary = run_ingest(Source("csv", root, annotations), str(tmp_path / "o"), size=16,
                         face_crop=False, beam_args=FAST_BEAM_ARGS)
    assert summary["face_not_found"] is None and summary["face_crop"] is False


def test_nothing_convertible_is_an_error_naming_the_file(tmp_path):
    root = tmp_path / "frames"
    root.mkdir()
    annotations = tmp_path / "a.csv"
    annotations.write_text("subject,clip,onset,apex,offset,label\nx,y,1,2,3,happiness\n")
    with pytest.raises(IngestionError, match="a.csv"):
        run_ingest(Source("csv", str(root), str(annotations)), str(tmp_path / "o"),
                   beam_args=FAST_BEAM_ARGS)
    assert "missing_folder" in (tmp_path / "o" / "rejects.jsonl").read_text()


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01 not a spreadsheet", "not a readable .xlsx"),
    (None, "cannot open annotation file"),
])
def test_unreadable_annotation_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "coding.xlsx"
    if content is not None:
        path.write_bytes(content)
    (tmp_path / "root").mkdir()
    with pytest.raises(AnnotationError, match=message):
        run_ingest(Source("casme2", str(tmp_path / "root"), str(path)), str(tmp_path / "o"))


def test_cli_exits_2_with_a_one_line_error(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "a.csv").write_text("who,what\n1,2\n")
    script = os.path.join(os.path.dirname(sys.executable), "mer-tfx")
    done = subprocess.run([script, "ingest", "--dataset", "csv", "--root", str(tmp_path / "root"),
                           "--annotations", str(tmp_path / "a.csv"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "a.csv" in done.stderr and "no header row" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_report_is_gathered_from_every_shards_part_then_the_parts_go(tmp_path):
    """Each conversion task leaves its share of the report; the launcher's report counts
    every part once, deletes them, and says to re-run when a task left none."""
    import collections

    from mer_tfx.ingestion.beam_job import PARTS_FOLDER, write_part, write_report
    from mer_tfx.ingestion.clips import ClipSpec, Reject
    from mer_tfx.ingestion.shards import plan_shards

    specs = [ClipSpec(row=i + 2, dataset="casme2", subject=f"sub{i % 3}", clip=f"EP{i}",
                      clip_dir=str(tmp_path / f"EP{i}"), label="happiness", onset=1, apex=2,
                      offset=4, fps=200.0) for i in range(40)]
    early = Reject(99, "bad", "bad_frame_number", dataset="casme2")
    planned = plan_shards(specs)
    shards = len(planned)
    assert shards > 2
    for shard, members in planned[2:]:
        write_part(str(tmp_path), shard, shards, collections.Counter(
            {"converted": len(members), "converted_in:casme2": len(members),
             "frames": 4 * len(members)}), [], f"clips-{shard}.gz", members[0].subject)
    # a shard whose clips were all rejected: its (empty) record file holds no subject
    shard, members = planned[1]
    lost = [Reject(m.row, m.clip_id, "missing_folder", dataset="casme2") for m in members]
    write_part(str(tmp_path), shard, shards, collections.Counter(
        {"rejected": len(lost), "rejected_in:casme2": len(lost),
         "reason:missing_folder": len(lost)}), lost, f"clips-{shard}.gz", members[0].subject)
    with pytest.raises(IngestionError, match="run the job again"):
        write_report(str(tmp_path), specs + [early], face_crop=True)
    shard, members = planned[0]
    missing = Reject(members[0].row, members[0].clip_id, "missing_folder", dataset="casme2")
    write_part(str(tmp_path), shard, shards, collections.Counter(
        {"converted": len(members) - 1, "converted_in:casme2": len(members) - 1,
         "rejected": 1, "rejected_in:casme2": 1, "reason:missing_folder": 1}), [missing],
        f"clips-{shard}.gz", members[0].subject)
    summary = write_report(str(tmp_path), specs + [early], face_crop=True)
    converted = 40 - 1 - len(lost)
    assert (summary["rows"], summary["converted"], summary["rejected"]) == \
        (41, converted, 2 + len(lost))
    assert summary["rejected_by_reason"] == {"bad_frame_number": 1,
                                             "missing_folder": 1 + len(lost)}
    assert summary["subject_of_record_file"] == {
        f"clips-{shard}.gz": group[0].subject for shard, group in planned if shard != 1}
    lines = (tmp_path / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["row"] for line in lines] == sorted(
        [missing.row, 99] + [r.row for r in lost])
    assert not (tmp_path / PARTS_FOLDER).exists()
