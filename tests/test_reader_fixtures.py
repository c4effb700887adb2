"""The readers against hand-written sheets and folders shaped like the real datasets
(tests/fixtures/real_sheets.py), with the parsed rows spelled out here."""
import os

import cv2
import numpy as np
import pytest

from fixtures import real_sheets
from mer_tfx.ingestion.clips import ClipSpec, Reject
from mer_tfx.ingestion.readers import read_annotations


def _parsed(rows, root):
    """ClipSpec -> (row, subject, clip, folder below root, label, onset, apex, offset, AUs,
    repairs, fps); Reject -> (row, clip, reason)."""
    out = []
    for r in rows:
        if isinstance(r, Reject):
            out.append((r.row, r.clip, r.reason))
        else:
            assert isinstance(r, ClipSpec)
            folder = os.path.relpath(r.clip_dir, root).replace(os.sep, "/")
            out.append((r.row, r.subject, r.clip, folder, r.label, r.onset, r.apex, r.offset,
                        r.action_units, r.repairs, r.fps))
    return out


def _read(dataset, tmp_path, rows, name):
    root = tmp_path / "root"
    root.mkdir()
    sheet = real_sheets.write_xlsx(rows, str(tmp_path / name))
    return _parsed(read_annotations(dataset, str(root), sheet), str(root))


def test_casme2_coding_sheet(tmp_path):
    parsed = _read("casme2", tmp_path, real_sheets.CASME2, "CASME2-coding-20140508.xlsx")
    assert parsed == [
        (2, "sub01", "EP02_01f", "sub01/EP02_01f", "happiness", 46, 59, 86, "12", (), 200.0),
        (3, "sub01", "EP03_02", "sub01/EP03_02", "others", 131, 139, 161, "4+7", (), 200.0),
        (4, "sub02", "EP09_01", "sub02/EP09_01", "repression", 61, 70, 80, "R12",
         ("apex_missing_midpoint",), 200.0),
        (6, "sub02", "EP14_03", "sub02/EP14_03", "surprise", 21, 35, 60, "1+2+4", (), 200.0),
        (7, "sub04", "EP01_2", "sub04/EP01_2", "fear", 5, 12, 30, "4+L10", (), 200.0),
    ]


def test_samm_codes_with_the_header_on_row_14(tmp_path):
    parsed = _read("samm", tmp_path, real_sheets.SAMM, "SAMM_Micro_FACS_Codes_v2.xlsx")
    assert parsed == [
        (15, "006", "006_1_2", "006/006_1_2", "anger", 5562, 5588, 5632, "R4+R7", (), 200.0),
        (16, "006", "006_1_5", "006/006_1_5", "happiness", 1280, 1302, 1325, "12",
         ("apex_missing_midpoint",), 200.0),
        (17, "007", "007_3_1", "007/007_3_1", "others", 4039, 4055, 4078, "1+2", (), 200.0),
        (18, "007", "007_5_2", "007/007_5_2", "others", 300, 311, 340, "L14", (), 200.0),
        (19, "011", "011_2_3", "011/011_2_3", "contempt", 900, 915, 950, "4", (), 200.0),
    ]


def test_casme3_part_a_intervals_of_shared_videos_and_bad_rows(tmp_path):
    parsed = _read("casme3", tmp_path, real_sheets.CASME3,
                   "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    assert parsed == [
        (2, "spNO.1", "a@175-190", "spNO.1/a/color", "happiness", 175, 181, 190, "L12", (),
         30.0),
        (3, "spNO.1", "a@530-549", "spNO.1/a/color", "disgust", 530, 538, 549, "4+7", (),
         30.0),
        (4, "spNO.1", "b@37-55", "spNO.1/b/color", "surprise", 37, 46, 55, "1+2",
         ("apex_outside_clip_midpoint",), 30.0),
        (5, "spNO.2", "c@88-104", "spNO.2/c/color", "others", 88, 96, 104, "R10",
         ("apex_at_onset_midpoint",), 30.0),
        (6, "spNO.2/c@88-104", "duplicate_interval"),
        (7, "spNO.3/e", "onset_after_offset"),
        (8, "spNO.4", "a@12-30", "spNO.4/a/color", "happiness", 12, 20, 30, "6", (), 30.0),
        (9, "spNO.4", "b@100-119", "spNO.4/b/color", "sadness", 100, 108, 119, "15+17", (),
         30.0),
    ]


def test_smic_hs_folders(tmp_path):
    root = tmp_path / "HS"
    pixel = np.full((4, 4, 3), 128, np.uint8)
    for folder, names in real_sheets.SMIC_FRAMES.items():
        os.makedirs(root / folder)
        for name in names:
            cv2.imwrite(str(root / folder / name), pixel)
    parsed = _parsed(read_annotations("smic", str(root), None), str(root))
    assert parsed == [
        (1, "s2", "s2_sur_01", "s02/micro/surprise/s2_sur_01", "surprise", 7200, 7201, 7203,
         "", ("apex_missing_midpoint",), 100.0),
        (2, "s1", "s1_ne_01", "s1/micro/negative/s1_ne_01", "negative", 45010, 45012, 45014,
         "", ("apex_missing_midpoint",), 100.0),
        (3, "s1", "s1_po_01", "s1/micro/positive/s1_po_01", "positive", 620427, 620429,
         620431, "", ("apex_missing_midpoint",), 100.0),
        (4, "s1/s1_po_02", "no_frames"),
        (5, "s1/s1_sur_01", "duplicate_frame_number"),
    ]


@pytest.mark.parametrize("cell, fps", [("29.97", 29.97), ("", 30.0), ("25", 25.0)])
def test_a_sheet_fps_is_kept_as_a_float(tmp_path, cell, fps):
    (tmp_path / "root").mkdir()
    sheet = tmp_path / "a.csv"
    sheet.write_text(f"subject,clip,onset,apex,offset,label,fps\nP1,c1,1,2,3,happy,{cell}\n")
    (spec,) = read_annotations("csv", str(tmp_path / "root"), str(sheet))
    assert spec.fps == fps and isinstance(spec.fps, float)


def test_a_bad_fps_is_a_reject(tmp_path):
    (tmp_path / "root").mkdir()
    sheet = tmp_path / "a.csv"
    sheet.write_text("subject,clip,onset,apex,offset,label,fps\n"
                     "P1,c1,1,2,3,happy,fast\nP1,c2,1,2,3,happy,-30\n")
    rows = read_annotations("csv", str(tmp_path / "root"), str(sheet))
    assert [(r.row, r.reason) for r in rows] == [(2, "bad_fps"), (3, "bad_fps")]
