"""The synthetic generator: real on-disk layouts and quirks, determinism, local motion, faults."""
import collections
import hashlib
import json
import os
import re

import cv2
import numpy as np
import openpyxl
import pytest

from mer_tfx.synthetic import CLASSES_BY_LAYOUT, LAYOUTS, generate

# Path of every frame file relative to the dataset root.
FRAME_PATTERNS = {
    "casme2": r"sub\d{2}/EP\d{2}_\d{2}f?/img\d+\.jpg",
    "samm": r"(\d{3})/\1_\d+_\d+/\1_\d{5}\.jpg",
    "smic": r"s[1-9]\d*/micro/(positive|negative|surprise)/s[1-9]\d*_(po|ne|sur)_\d{2}/"
            r"image\d{7}\.bmp",
    "casme3": r"spNO\.\d+/[a-z]+\d*/color/\d+\.jpg",
    "csv": r"P\d{2}/clip\d{2}/cam1_\d{5}\.png",
}
CHANNELS = {"casme2": 3, "samm": 1, "smic": 3, "casme3": 3, "csv": 1}
FAULTS = {"missing_folder", "missing_frame", "unreadable_frame", "onset_after_offset",
          "unknown_label", "path_escape", "oversized_image"}
EXPECTED_FAULTS = {"casme2": FAULTS, "samm": FAULTS, "casme3": FAULTS,
                   "csv": FAULTS | {"bad_frame_number"},
                   "smic": {"unreadable_frame", "oversized_image", "no_frames"}}
LAST_INT = re.compile(r"(\d+)(?!.*\d)")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {layout: generate(layout, str(base / layout), subjects=2, clips_per_class=1,
                             seed=3, inject_faults=True, progress=False)
            for layout in LAYOUTS}


def _files(root):
    out = []
    for folder, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(folder, n), root).replace(os.sep, "/")
                for n in names]
    return sorted(out)


def _frames(folder):
    """frame number -> path, numbered by the last integer of the file name."""
    return {int(LAST_INT.search(os.path.splitext(n)[0]).group(1)): os.path.join(folder, n)
            for n in os.listdir(folder)}


def _clip_dir(result, clip):
    parts = {"casme3": [clip["subject"], clip["clip"], "color"],
             "smic": [clip["subject"], "micro", clip["label"], clip["clip"]]}
    return os.path.join(result.root, *parts.get(result.layout, [clip["subject"], clip["clip"]]))


def _sheet(result):
    sheet = openpyxl.load_workbook(result.annotations).worksheets[0]
    return sheet, [list(row) for row in sheet.iter_rows(values_only=True)]


def _column(rows, header_row, name):
    index = rows[header_row - 1].index(name)
    return {number: row[index] for number, row in enumerate(rows, start=1)
            if number > header_row}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_frame_files_follow_the_dataset_naming(datasets, layout):
    result = datasets[layout]
    files = _files(result.root)
    assert files
    bad = [f for f in files if not re.fullmatch(FRAME_PATTERNS[layout], f)]
    assert not bad, bad[:5]
    first = result.clips[0]
    image = cv2.imread(_frames(_clip_dir(result, first))[first["onset"]], cv2.IMREAD_UNCHANGED)
    assert (1 if image.ndim == 2 else image.shape[2]) == CHANNELS[layout]
    labels = {c["label"] for c in result.clips}
    assert labels == set(CLASSES_BY_LAYOUT[layout])
    for clip in result.clips:  # every good row: frames onset..offset exist, apex inside
        frames = _frames(_clip_dir(result, clip))
        assert set(range(clip["onset"], clip["offset"] + 1)) <= set(frames)
        assert clip["apex"] is None or clip["onset"] < clip["apex"] < clip["offset"]
    with open(os.path.join(os.path.dirname(result.root), "synth_manifest.json")) as handle:
        manifest = json.load(handle)
    assert manifest["clips"] == result.clips
    assert {int(k): v for k, v in manifest["expected_rejects"].items()} == \
        result.expected_rejects


def test_casme2_sheet_header_and_quirks(datasets):
    result = datasets["casme2"]
    assert result.root.endswith("CASME2_RAW_selected")
    assert os.path.basename(result.annotations) == "CASME2-coding-20140508.xlsx"
    _, rows = _sheet(result)
    assert rows[0] == ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame",
                       None, "Action Units", "Estimated Emotion"]
    apex = _column(rows, 1, "ApexFrame")
    units = _column(rows, 1, "Action Units")
    assert "/" in apex.values()
    assert any(isinstance(u, int) for u in units.values())
    assert any(isinstance(u, str) and "+" in u for u in units.values())
    assert sorted(r for r, v in apex.items() if v == "/") == result.expected_repairs
    subjects = _column(rows, 1, "Subject")
    for clip in result.clips:
        assert clip["subject"] == f"sub{subjects[clip['row']]:02d}"
        assert rows[clip["row"] - 1][1] == clip["clip"]


def test_samm_header_on_row_14_and_quirks(datasets):
    result = datasets["samm"]
    _, rows = _sheet(result)
    assert rows[13] == ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                        "Offset Frame", "Duration", "Type", "Action Units", "Notes",
                        "Estimated Emotion", "Objective Classes"]
    assert rows[0][0] and all("Subject" not in row for row in rows[:13])
    apex = _column(rows, 14, "Apex Frame")
    assert sorted(r for r, v in apex.items() if v == -1) == result.expected_repairs
    assert result.expected_repairs
    emotions = set(_column(rows, 14, "Estimated Emotion").values())
    assert {"Others", "other"} <= emotions
    assert any(e != e.lower() for e in emotions - {"Others"})
    subjects = _column(rows, 14, "Subject").values()
    assert any(s == 6 for s in subjects) and any(s == "006" for s in subjects)


def test_smic_has_no_sheet_and_a_non_micro_folder(datasets):
    result = datasets["smic"]
    assert result.annotations is None
    for subject in ("s1", "s2"):
        folder = os.path.join(result.root, subject, "non_micro")
        assert os.path.isdir(folder) and not os.listdir(folder)
    assert all(c["apex"] is None for c in result.clips)
    folders = sorted(d.replace(os.sep, "/") for d in (
        os.path.relpath(os.path.join(r, n), result.root)
        for r, dirs, _ in os.walk(result.root) for n in dirs) if d.count(os.sep) == 3)
    rows = {c["row"]: c for c in result.clips}
    rows.update({r: None for r in result.expected_rejects})
    assert sorted(rows) == list(range(1, len(folders) + 1))
    for number, clip in rows.items():
        if clip:
            assert folders[number - 1] == f"{clip['subject']}/micro/{clip['label']}/{clip['clip']}"
        frames = _frames(os.path.join(result.root, folders[number - 1]))
        if clip:  # only the micro-expression frames: onset first, offset last
            assert (min(frames), max(frames)) == (clip["onset"], clip["offset"])


def test_casme3_rows_share_video_folders(datasets):
    result = datasets["casme3"]
    _, rows = _sheet(result)
    assert rows[0] == ["Subject", "Filename", "Onset", "Apex", "Offset", "AU",
                       "Objective class", "emotion"]
    by_folder = collections.defaultdict(list)
    for clip in result.clips:
        by_folder[(clip["subject"], clip["clip"])].append((clip["onset"], clip["offset"]))
    for subject in ("spNO.1", "spNO.2"):
        shared = [spans for (s, _), spans in by_folder.items() if s == subject and len(spans) > 1]
        assert shared
        for spans in shared:  # events of one video do not overlap
            spans.sort()
            assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))
    assert all(e == e.lower() for e in _column(rows, 1, "emotion").values())


def test_csv_header_and_frame_numbers(datasets):
    result = datasets["csv"]
    with open(result.annotations) as handle:
        header = handle.readline().strip()
    assert header == "subject,clip,onset,apex,offset,label,fps,action_units"


def _digest(root):
    files = _files(root)
    return files, {f: hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest()
                   for f in files}


@pytest.mark.parametrize("layout", ["casme2", "smic", "csv"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, layout):
    kwargs = dict(subjects=1, clips_per_class=1, frame_size=96, progress=False,
                  inject_faults=True)
    first = generate(layout, str(tmp_path / "a"), seed=5, **kwargs)
    second = generate(layout, str(tmp_path / "b"), seed=5, **kwargs)
    other = generate(layout, str(tmp_path / "c"), seed=6, **kwargs)
    assert _digest(first.root) == _digest(second.root)
    if first.annotations:
        with open(first.annotations, "rb") as a, open(second.annotations, "rb") as b:
            assert a.read() == b.read()
    assert first.clips == second.clips
    assert first.expected_rejects == second.expected_rejects
    assert _digest(first.root)[1] != _digest(other.root)[1]


def test_motion_is_local_and_peaks_at_apex(tmp_path):
    result = generate("casme2", str(tmp_path / "m"), subjects=3, clips_per_class=2, seed=0,
                      progress=False)
    peak, early, late, local = [], [], [], []
    for clip in result.clips:
        if clip["apex"] is None:
            continue
        frames = _frames(_clip_dir(result, clip))

        def change(number):
            diff = np.abs(cv2.imread(frames[number], cv2.IMREAD_GRAYSCALE).astype(np.float32)
                          - onset)
            return cv2.blur(diff, (9, 9))

        onset = cv2.imread(frames[clip["onset"]], cv2.IMREAD_GRAYSCALE).astype(np.float32)
        at_apex = change(clip["apex"])
        peak.append(at_apex.max())
        early.append(change(clip["onset"] + 1).max())
        late.append(change(clip["offset"]).max())
        # most of the strong change lies within 30 px of its maximum
        y, x = np.unravel_index(np.argmax(at_apex), at_apex.shape)
        ys, xs = np.nonzero(at_apex > 0.5 * at_apex.max())
        local.append(np.mean((np.abs(ys - y) <= 30) & (np.abs(xs - x) <= 30)))
    peak, early, late = map(np.asarray, (peak, early, late))
    assert len(peak) >= 20
    assert np.mean(peak > early) >= 0.9
    assert np.mean(peak > late) >= 0.75
    assert np.median(peak / late) > 1.5
    assert np.median(local) > 0.5


def test_photo_faces_are_deterministic_and_jitter_moves_the_head(tmp_path):
    """--face photo: same bytes for the same seed; --jitter 0 keeps the head still
    between frames (only the motion and noise change them), the default moves it."""
    from mer_tfx.ingestion.apex import _prepared, global_shift

    kwargs = dict(subjects=1, clips_per_class=1, seed=3, face="photo", progress=False)
    first = generate("casme2", str(tmp_path / "a"), **kwargs)
    again = generate("casme2", str(tmp_path / "b"), **kwargs)
    still = generate("casme2", str(tmp_path / "c"), jitter=0, **kwargs)
    assert _digest(first.root) == _digest(again.root)

    def largest_shift(result):
        clip = result.clips[0]
        frames = _frames(_clip_dir(result, clip))
        neutral = sorted(n for n in frames if n < clip["onset"])  # before the event
        images = [_prepared(cv2.imread(frames[n], cv2.IMREAD_GRAYSCALE)) for n in neutral]
        return max(np.hypot(*global_shift(images[0], image)) for image in images[1:])

    assert largest_shift(still) < 0.05 and largest_shift(first) > 0.2


@pytest.mark.parametrize("layout", LAYOUTS)
def test_faults_cover_every_reject_reason(datasets, layout):
    result = datasets[layout]
    assert set(result.expected_rejects.values()) == EXPECTED_FAULTS[layout]
    assert not set(result.expected_rejects) & {c["row"] for c in result.clips}
    faults = {f["reason"]: f for f in result.faults}
    good_dirs = {_clip_dir(result, c) for c in result.clips}

    def in_range(fault):
        folder = _clip_dir(result, fault)
        assert folder not in good_dirs
        frames = _frames(folder)
        return folder, [frames[n] for n in range(fault["onset"], fault["offset"] + 1)
                        if n in frames]

    for reason in ("unreadable_frame", "oversized_image"):
        folder, paths = in_range(faults[reason])
        decoded = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in paths]
        if reason == "unreadable_frame":
            assert any(image is None for image in decoded)
        else:
            assert any(image is not None and image.size > 4096 * 4096 for image in decoded)
            assert max(os.path.getsize(p) for p in paths) < 1_000_000
    if layout == "smic":
        assert not os.listdir(_clip_dir(result, faults["no_frames"]))
        return
    assert not os.path.exists(_clip_dir(result, faults["missing_folder"]))
    folder, paths = in_range(faults["missing_frame"])
    assert len(paths) == faults["missing_frame"]["offset"] - faults["missing_frame"]["onset"]
    assert faults["onset_after_offset"]["onset"] > faults["onset_after_offset"]["offset"]
    assert ".." in faults["path_escape"]["clip"]
    if result.annotations.endswith(".xlsx"):
        _, rows = _sheet(result)
        cells = rows[faults["unknown_label"]["row"] - 1]
    else:
        with open(result.annotations) as handle:
            lines = handle.read().splitlines()
        cells = lines[faults["unknown_label"]["row"] - 1].split(",")
        bad_number = lines[faults["bad_frame_number"]["row"] - 1].split(",")[2]
        assert not bad_number.isdigit()
    assert "confused" in cells


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(Exception, match="layout"):
        generate("casme4", str(tmp_path))
    with pytest.raises(Exception, match="subjects"):
        generate("csv", str(tmp_path), subjects=0)
