"""The long-video readers on hand-written sheets shaped like the real ones.

The rows are literal (not made by synthetic/, so a misreading is not copied into the
test); values are invented. Frame folders are written beside them as tiny images.
"""
import collections
import os

import cv2
import numpy as np
import openpyxl
import pytest

from mer_tfx.ingestion.long_sheets import read_long_videos
from mer_tfx.ingestion.long_videos import (
    FramesError, LongVideo, check_frames, iter_frames, truth_interval)
from mer_tfx.ingestion.tables import AnnotationError


def _frames(folder, names):
    os.makedirs(folder, exist_ok=True)
    image = np.full((8, 8), 128, np.uint8)
    for name in names:
        cv2.imwrite(os.path.join(folder, name), image)


def _xlsx(path, sheets):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return str(path)


# CAS(ME)^2code_final.xlsx: three sheets, no header rows, read by position.
CASME_SQ_EXPRESSIONS = [
    # subject index, name, onset, apex, offset, AU, emotion, type, self-report
    [1, "disgust1_1", 10, 20, 40, "4+9", "negative", "macro-expression", "disgusted"],
    [1, "disgust1_2", 50, 55, 0, "9", "negative", "macro-expression", "disgusted"],  # offset 0
    [1, "disgust1_3", 70, 80, 75, "4", "negative", "micro-expression", None],  # offset < apex
    [1, "disgust1_4", 90, -1, 100, "12", "positive", "micro-expression", None],  # apex -1
    [2, "anger1_1", 996, 1000, 1005, "4+7", "negative", "micro-expression", "angry"],
    [2, "anger1_2", 1008, 1012, 1020, "4", "negative", "macro-expression", None],  # past end
    [3, "disgust1_1", 10, 20, 40, "4", "negative", "macro-expression", None],  # no subject 3
    [1, "disgust1_1", 10, 20, 40, "4+9", "negative", "macro-expression", None],  # repeated
    [1, "disgust1_5", 30, 35, 20, "4", "surprise", "micro-expression", None],  # onset > offset
]
CASME_SQ_RULE1 = [[15, "s15", 1], [16, "s16", 2]]  # folder number, folder, subject index
CASME_SQ_RULE2 = [["0101", "disgust1"], ["0102", "disgust2"],
                  [401, "anger1"]]  # a code stored as a number lost its leading zero


@pytest.fixture
def casme_sq(tmp_path):
    raw = tmp_path / "CASME_sq" / "rawpic"
    _frames(raw / "s15" / "15_0101disgustingteeth",
            [f"img{n:03d}.jpg" for n in range(1, 121)])  # img001 .. img120
    _frames(raw / "s15" / "15_0102eatingworms", [f"img{n:03d}.jpg" for n in range(1, 31)])
    _frames(raw / "s16" / "16_0401girlcrashing",
            [f"img{n}.jpg" for n in range(995, 1011)])  # img995 .. img1010
    sheet = _xlsx(tmp_path / "CAS(ME)^2code_final.xlsx", [
        ("CASFEcode_final", CASME_SQ_EXPRESSIONS), ("naming rule1", CASME_SQ_RULE1),
        ("naming rule2", CASME_SQ_RULE2)])
    return str(tmp_path / "CASME_sq"), sheet


def _checked(videos, rejects):
    kept = {}
    for video in videos:
        video, more, first, last = check_frames(video)
        rejects = rejects + more
        if video is not None:
            kept[video.name] = (video, first, last)
    return kept, rejects


def test_casme_sq_naming_rules_and_repairs(casme_sq):
    videos, rejects = read_long_videos("casme_sq", *casme_sq)
    assert [v.name for v in videos] == ["s15/15_0101disgustingteeth", "s15/15_0102eatingworms",
                                        "s16/16_0401girlcrashing"]
    kept, rejects = _checked(videos, rejects)
    disgust = kept["s15/15_0101disgustingteeth"][0]
    assert [(t.onset, t.apex, t.offset, t.type) for t in disgust.truths] == [
        (10, 20, 40, "mae"), (50, 55, 55, "mae"), (70, 72, 75, "me"), (90, 95, 100, "me")]
    assert disgust.truth_rows == (1, 2, 3, 4)
    assert collections.Counter(disgust.repairs) == {
        "offset_zero_apex": 1, "apex_outside_interval_midpoint": 1, "apex_missing_midpoint": 1}
    assert kept["s15/15_0102eatingworms"][0].truths == ()  # a video without expressions
    anger, first, last = kept["s16/16_0401girlcrashing"]
    assert (first, last) == (995, 1010)  # img1000 follows img999
    assert [(t.onset, t.offset, t.label) for t in anger.truths] == [(996, 1005, "negative")]
    assert sorted((r.row, r.reason) for r in rejects) == [
        (6, "interval_beyond_video"), (7, "unknown_video"), (8, "duplicate_interval"),
        (9, "onset_after_offset")]


def test_casme_sq_empty_first_sheet_is_an_error(casme_sq, tmp_path):
    root, _ = casme_sq
    sheet = _xlsx(tmp_path / "empty.xlsx", [("CASMEcode_final", []),
                                            ("naming rule1", CASME_SQ_RULE1),
                                            ("naming rule2", CASME_SQ_RULE2)])
    with pytest.raises(AnnotationError, match="no expression rows"):
        read_long_videos("casme_sq", root, sheet)


# SAMM long videos: title and key above, the header on row 10.
SAMM_LV = [
    ["SAMM Long Videos"], [], ["Key"], [None, "Onset", "first frame"],
    [None, "Offset", "last frame"], [None, "Type", "Macro or Micro - 1/2"], [], [], [],
    ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
     "Action Units", "Notes"],
    [6, "006_1_1", 1, 20, 35, 60, 41, "Macro", "4+7", None],
    [6, "006_1_2", 1, 70.5, 75, 80.5, 11, "Micro - 1/2", "12", "fractional frames"],
    [6, "006_1_3", 1, 100, -1, 110, 11, "Micro - 1/2", "1+2", None],  # apex -1
    [7, "007_2_1", 2, 9999, 10000, 10002, 4, "Micro - 1/2", "14", None],  # fifth digit
    [6, "007_3_1", 3, 5, 6, 7, 3, "Micro - 1/2", "4", None],  # Subject 6 does not own 007
    [8, "008_1_1", 1, 5, 6, 7, 3, "Macro", "4", None],  # no folder 008_1
]
# SAMM_Micro_FACS_Codes_v2.xlsx (preamble, header on row 14): its own clip numbering.
SAMM_FACS = [["SAMM"]] + [[]] * 12 + [
    ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
     "Duration", "Type", "Action Units", "Notes", "Estimated Emotion", "Objective Classes"],
    ["006", "006_1_5", 1, 71, 75, 81, 11, "Micro - 1/2", "12", None, "Happiness", 1],
    ["006", "006_1_6", 1, 100, 104, 110, 11, "Micro - 1/2", "1+2", None, "Surprise", 2],
]


@pytest.fixture
def samm_lv(tmp_path):
    root = tmp_path / "SAMM_longvideos"
    _frames(root / "006_1", [f"006_1_{n:04d}.jpg" for n in range(1, 131)])
    _frames(root / "007_2", [f"007_2_{n:04d}.jpg" for n in range(9996, 10006)])
    sheet = _xlsx(tmp_path / "SAMM_LONG_VIDEOS.xlsx", [("FACS", SAMM_LV)])
    facs = _xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", [("FACS", SAMM_FACS)])
    return str(tmp_path), sheet, facs


def test_samm_lv_header_row_fractions_and_emotions(samm_lv):
    root, sheet, facs = samm_lv
    videos, rejects = read_long_videos("samm_lv", root, sheet, emotions=facs)
    kept, rejects = _checked(videos, rejects)
    video = kept["006_1"][0]
    assert video.subject == "006"
    assert [(t.onset, t.apex, t.offset, t.type, t.label) for t in video.truths] == [
        (20, 35, 60, "mae", ""), (71, 75, 81, "me", "happiness"),
        (100, 105, 110, "me", "surprise")]
    assert collections.Counter(video.repairs) == {"fractional_frame_rounded": 1,
                                                  "apex_missing_midpoint": 1}
    fifth, first, last = kept["007_2"]
    assert (first, last) == (9996, 10005)
    assert [(t.onset, t.offset) for t in fifth.truths] == [(9999, 10002)]
    assert sorted((r.row, r.reason) for r in rejects) == [(15, "unknown_video"),
                                                          (16, "unknown_video")]


def test_samm_lv_emotions_from_a_csv(samm_lv, tmp_path):
    root, sheet, _ = samm_lv
    labels = tmp_path / "emotions.csv"
    labels.write_text("Filename,emotion\n006_1_1,Anger\n")
    videos, _ = read_long_videos("samm_lv", root, sheet, emotions=str(labels))
    truths = {v.name: v for v in videos}["006_1"].truths
    assert [t.label for t in truths] == ["anger", "", ""]


CASME3_LV = [
    ["Subject", "Filename", "Onset", "Apex", "Offset", "Expression type", "emotion"],
    ["spNO.1", "a", 180, 185, 190, "Micro-expression", "happy"],
    [1, "a", 200, 190, 220, "Macro-expression", "disgust"],  # Subject a number; apex < onset
    ["spNO.2", "c", 5, 8, 30, "Macro-expression", "surprise"],
    ["spNO.2", "c", 5, 8, 30, "Macro-expression", "surprise"],  # the same row again
    ["spNO.2", "c", 12, None, 14, None, "others"],  # no apex, no type
    ["spNO.1", "b", 2, 5, 9, "Micro-expression", "fear"],  # b misses frames: rejected
]


@pytest.fixture
def casme3_lv(tmp_path):
    part_a = tmp_path / "part_A"
    _frames(part_a / "spNO.1" / "a" / "color", [f"{n}.jpg" for n in range(175, 231)])
    _frames(part_a / "spNO.1" / "b" / "color",
            [f"{n}.jpg" for n in range(1, 41) if not 20 <= n <= 29])  # 10 frames missing
    _frames(part_a / "spNO.2" / "c" / "color",
            [f"{n}.jpg" for n in range(1, 41) if n not in (10, 11)])  # 2 missing: filled
    sheet = _xlsx(tmp_path / "cas(me)3_part_A_long.xlsx", [("Sheet1", CASME3_LV)])
    return str(tmp_path), sheet


def test_casme3_lv_gaps_filled_or_rejected(casme3_lv):
    root, sheet = casme3_lv
    videos, rejects = read_long_videos("casme3_lv", root, sheet)
    kept, rejects = _checked(videos, rejects)
    assert sorted(kept) == ["spNO.1/a", "spNO.2/c"]
    a, first, _ = kept["spNO.1/a"]
    assert first == 175
    assert [(t.onset, t.apex, t.offset, t.type) for t in a.truths] == [
        (180, 185, 190, "me"), (200, 210, 220, "mae")]
    c = kept["spNO.2/c"][0]
    assert [(t.onset, t.apex, t.offset, t.type) for t in c.truths] == [
        (5, 8, 30, "mae"), (12, 13, 14, "me")]
    assert collections.Counter(c.repairs) == {"frames_filled": 2, "apex_missing_midpoint": 1,
                                              "type_from_duration": 1}
    assert sorted((r.video, r.reason) for r in rejects) == [
        ("spNO.1/b", "missing_frames"), ("spNO.2/c", "duplicate_interval")]
    numbers = [n for n, _ in iter_frames(c)]
    assert numbers == list(range(1, 41))  # the filled frames keep the numbering


def test_casme3_lv_header_only_sheet_is_an_error(casme3_lv, tmp_path):
    root, _ = casme3_lv
    sheet = _xlsx(tmp_path / "header_only.xlsx", [("Sheet1", CASME3_LV[:1])])
    with pytest.raises(AnnotationError, match="no rows below its header"):
        read_long_videos("casme3_lv", root, sheet)


def test_rules_are_the_same_for_every_dataset():
    interval, repairs = truth_interval("12.5", 14, 16.49, "", "Positive", fps=200.0)
    assert (interval.onset, interval.offset, interval.type, interval.label) == (
        13, 16, "me", "positive")
    assert repairs == ("fractional_frame_rounded", "type_from_duration")
    assert truth_interval(10, None, 0, "macro", "", 30.0)[1][0] == "no_offset"
    assert truth_interval("ten", 1, 2, "macro", "", 30.0)[1][0] == "bad_frame_number"
    long_one, _ = truth_interval(0, 10, 16, None, "", 30.0)  # 17 frames at 30 fps: 0.57 s
    assert long_one.type == "mae"


def test_unreadable_video_file_is_a_reject(tmp_path):
    (tmp_path / "P01").mkdir()
    (tmp_path / "P01" / "broken.avi").write_bytes(b"not a video" * 100)
    videos, _ = read_long_videos("video", str(tmp_path))
    assert [v.name for v in videos] == ["P01/broken.avi"] and videos[0].subject == "P01"
    video, rejects, _, _ = check_frames(videos[0])
    assert video is None and [r.reason for r in rejects] == ["unreadable_video"]
    with pytest.raises(FramesError):
        list(iter_frames(LongVideo("video", "P01", "x", 30.0, path=str(tmp_path / "none.avi"))))
