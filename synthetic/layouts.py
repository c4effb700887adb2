"""The on-disk layout and annotation format of each dataset, quirks included.

One class per dataset knows its folder and file naming, how clips are grouped
into folders, how a row of its annotation sheet looks and which real-world
quirks the sheet has (CASME II apex '/', SAMM apex -1 and mixed spellings, ...).
The driver (``builder.generate``) renders the videos, writes the frames and
collects one ``Record`` per annotation row (per clip folder for SMIC).
"""
from __future__ import annotations

import dataclasses
import os
import string

from . import encode, motion, sheets

# Action-unit codes per motion: ints and '+'-joined strings, as the sheets mix them.
ACTION_UNITS = {
    "lip_corner_pull": [12, "6+12", "R12", "L12", 12],
    "brow_raise": ["1+2", "1+2+5", 2, "R1+R2", 1],
    "nose_wrinkle": [9, "4+9", "4+L10", 10, "9+10"],
    "lip_press": [14, "15+17", 17, "R14", 24],
    "eye_squint": [7, "6+7", "L7", 6, "L6+L7"],
    "brow_lower": [4, "4+7", "L4", "4+5", 4],
    "unilateral_pull": ["R12", "R14", 14, "R12+R14", "L12"],
    "lip_stretch": [20, "20+25", "R20", "1+4+20"],
    "lip_corner_depress": [15, "15+17", "L15", "1+15"],
}


@dataclasses.dataclass
class Record:
    """One annotation row (SMIC: one clip folder) and what it should lead to."""

    subject: int  # subject index
    subject_name: str  # as the folders name it
    clip: str  # clip folder name (or the bad value a fault row carries)
    label: str  # class, lower-case, as CLASSES spells it
    onset: object  # absolute frame numbers (a fault row may carry a bad value)
    apex: object  # None when the sheet gives no usable apex
    offset: object
    action_units: object = ""
    extra: dict = dataclasses.field(default_factory=dict)  # layout-specific cells
    reason: str | None = None  # reject keyword for fault rows
    repair: bool = False  # apex has to be repaired by the reader
    row: int = 0
    cell_label: str | None = None  # label as written, when it differs from ``label``

    def as_clip(self) -> dict:
        return {"subject": self.subject_name, "clip": self.clip, "label": self.label,
                "onset": self.onset, "apex": self.apex, "offset": self.offset,
                "row": self.row}


class Layout:
    """Base class: override the naming and the sheet; the driver does the rest."""

    name = ""
    fps = 200
    classes: tuple = ()
    ext = ".jpg"
    colour = True
    lead = True  # neutral frames around the events (False: SMIC, event frames only)
    root_name = ""
    annotation_name: str | None = None
    header_row = 1  # 1-based row of the header in the annotation file
    fault_kinds = ("missing_folder", "missing_frame", "unreadable_frame", "onset_after_offset",
                   "unknown_label", "path_escape", "oversized_image")

    def root(self, out: str) -> str:
        return os.path.join(out, self.root_name)

    def annotation_path(self, out: str) -> str | None:
        return os.path.join(out, self.annotation_name) if self.annotation_name else None

    def subject_name(self, index: int) -> str:
        raise NotImplementedError

    def plan_folders(self, rng, index: int, labels: list) -> list:
        """[(clip folder, [labels of the events in it]), ...] for one subject."""
        raise NotImplementedError

    def fault_names(self, index: int, label: str):
        """Endless candidate folder names for fault clips (the driver skips used ones)."""
        raise NotImplementedError

    def clip_parts(self, subject_name: str, clip: str, label: str) -> list:
        """Folders below root that hold the frame files."""
        return [subject_name, clip]

    def frame_name(self, subject_name: str, clip: str, number: int) -> str:
        raise NotImplementedError

    def start_number(self, rng) -> int:
        return int(rng.integers(1, 300))

    def encode(self, frame, subject) -> bytes:
        return encode.jpeg(frame)

    def apply_quirks(self, rng, records: list) -> None:
        """Give the good rows the dataset's quirks (in place, deterministic)."""

    def table(self, records: list) -> list:
        raise NotImplementedError

    def write_annotations(self, path: str, records: list) -> None:
        sheets.write_xlsx(path, self.table(records))


def _choose(rng, options):
    return options[int(rng.integers(len(options)))]


def _ensure_some(rng, records, predicate, change) -> None:
    """Make at least one record satisfy ``predicate`` by applying ``change``."""
    if records and not any(predicate(r) for r in records):
        change(records[int(rng.integers(len(records)))])


def _au_types(rng, records) -> None:
    """Both plain-int and '+'-joined string AU cells must occur."""
    def joined(value):
        return isinstance(value, str) and "+" in value

    def to(test):
        def change(record):
            options = ACTION_UNITS[motion.CLASS_MOTION[record.label]]
            record.action_units = next(a for a in options if test(a))
        return change

    def plain(value):
        return isinstance(value, int)
    _ensure_some(rng, records, lambda r: plain(r.action_units), to(plain))
    others = [r for r in records if not plain(r.action_units)] or records
    _ensure_some(rng, others, lambda r: joined(r.action_units), to(joined))


def _missing_apex(rng, records, rate=1 / 8) -> None:
    for record in records:
        if rng.random() < rate:
            record.apex, record.repair = None, True

    def drop(record):
        record.apex, record.repair = None, True
    _ensure_some(rng, records, lambda r: r.repair, drop)


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba, ... (short lower-case folder names)."""
    name = ""
    while True:
        name = string.ascii_lowercase[index % 26] + name
        index //= 26
        if index == 0:
            return name


class Casme2(Layout):
    name = "casme2"
    fps = 200
    classes = ("happiness", "disgust", "repression", "surprise", "others")
    root_name = "CASME2_RAW_selected"
    annotation_name = "CASME2-coding-20140508.xlsx"

    def subject_name(self, index):
        return f"sub{index + 1:02d}"

    def plan_folders(self, rng, index, labels):
        count = len(labels)
        episodes = sorted(int(e) for e in rng.choice(
            range(1, max(26, count + 4)), size=count, replace=False))
        names = [f"EP{ep:02d}_{int(rng.integers(1, 8)):02d}{'f' if rng.random() < 0.35 else ''}"
                 for ep in episodes]
        return [(name, [label]) for name, label in zip(names, labels)]

    def fault_names(self, index, label):
        ep = 99
        while True:  # take _09: good clips only use _01.._07
            yield f"EP{ep:02d}_09"
            ep -= 1

    def frame_name(self, subject_name, clip, number):
        return f"img{number}.jpg"

    def apply_quirks(self, rng, records):
        _missing_apex(rng, records)
        _au_types(rng, records)

    def table(self, records):
        rows = [["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                 "Action Units", "Estimated Emotion"]]
        for r in records:
            video = r.clip[:-1] if r.clip.endswith("f") else r.clip
            length = r.offset - r.onset + 1 if all(
                isinstance(v, int) for v in (r.onset, r.offset)) else None
            rows.append([int(r.subject_name[3:]) if r.subject_name.startswith("sub") else
                         r.subject_name, r.clip, video, r.onset,
                         "/" if r.apex is None else r.apex, r.offset, length, r.action_units,
                         r.cell_label or r.label])
        return rows


class Samm(Layout):
    name = "samm"
    fps = 200
    classes = ("happiness", "anger", "contempt", "surprise", "others")
    colour = False
    root_name = "SAMM"
    annotation_name = "SAMM_Micro_FACS_Codes_v2.xlsx"
    header_row = 14
    objective = {"happiness": 1, "surprise": 2, "anger": 3, "contempt": 4, "others": 7}
    preamble = [
        ["SAMM: Spontaneous Actions and Micro-Movements - Micro-Movement FACS Codes"],
        ["Synthetic stand-in generated by mer-tfx (no real persons)"],
        [],
        ["Notes:"],
        [None, "Onset, Apex and Offset are absolute frame numbers (see file names)."],
        [None, "An Apex Frame of -1 means no apex could be coded."],
        [None, "Duration is in frames at 200 fps."],
        [None, "Type: Micro - 1/2 = micro-movement, coded by two coders."],
        [],
        ["Objective Classes: I happiness, II surprise, III anger, IV contempt, VII others"],
        [],
        [],
        [],
    ]

    def subject_name(self, index):
        return f"{index + 6:03d}"

    def plan_folders(self, rng, index, labels):
        subject = self.subject_name(index)
        counters, names = {}, []
        for _ in labels:
            code = int(rng.integers(1, 8))
            counters[code] = counters.get(code, 0) + 1 + int(rng.random() < 0.3)
            names.append((code, counters[code]))
        return [(f"{subject}_{code}_{n}", [label])
                for (code, n), label in zip(sorted(names), labels)]

    def fault_names(self, index, label):
        n = 1
        while True:  # inducement code 9 is never used by good clips
            yield f"{self.subject_name(index)}_9_{n}"
            n += 1

    def frame_name(self, subject_name, clip, number):
        return f"{subject_name}_{number:05d}.jpg"

    def start_number(self, rng):
        return int(rng.integers(100, 9000))

    def apply_quirks(self, rng, records):
        _missing_apex(rng, records)
        _au_types(rng, records)
        others = 0
        for r in records:
            r.extra["subject_cell"] = int(r.subject_name) if rng.random() < 0.5 else r.subject_name
            if r.label == "others":
                r.cell_label = "Others" if others % 2 == 0 else "other"
                others += 1
            else:
                r.cell_label = r.label.capitalize() if rng.random() < 0.5 else r.label
            r.extra["notes"] = _choose(rng, [None, None, None, "Blink", "Head movement",
                                             "Eye gaze change"])
        named = [r for r in records if r.label != "others"]
        _ensure_some(rng, named, lambda r: r.cell_label == r.label.capitalize(),
                     lambda r: setattr(r, "cell_label", r.label.capitalize()))
        _ensure_some(rng, named, lambda r: r.cell_label == r.label,
                     lambda r: setattr(r, "cell_label", r.label))
        _ensure_some(rng, records, lambda r: isinstance(r.extra["subject_cell"], int),
                     lambda r: r.extra.update(subject_cell=int(r.subject_name)))
        _ensure_some(rng, records, lambda r: isinstance(r.extra["subject_cell"], str),
                     lambda r: r.extra.update(subject_cell=r.subject_name))

    def table(self, records):
        rows = [list(row) for row in self.preamble]
        rows.append(["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                     "Offset Frame", "Duration", "Type", "Action Units", "Notes",
                     "Estimated Emotion", "Objective Classes"])
        for r in records:
            length = r.offset - r.onset + 1 if all(
                isinstance(v, int) for v in (r.onset, r.offset)) else None
            parts = str(r.clip).split("_")
            code = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
            rows.append([r.extra.get("subject_cell", r.subject_name), r.clip, code, r.onset,
                         -1 if r.apex is None else r.apex, r.offset, length, "Micro - 1/2",
                         r.action_units, r.extra.get("notes"), r.cell_label or r.label,
                         self.objective.get(r.label, 7)])
        return rows


class Smic(Layout):
    name = "smic"
    fps = 100
    classes = ("positive", "negative", "surprise")
    ext = ".bmp"
    colour = False  # drawn gray; the BMP palette carries the colour
    lead = False
    root_name = "HS"
    annotation_name = None
    fault_kinds = ("unreadable_frame", "oversized_image", "no_frames")
    abbreviation = {"positive": "po", "negative": "ne", "surprise": "sur"}

    def subject_name(self, index):
        return f"s{index + 1}"

    def plan_folders(self, rng, index, labels):
        counters, out = {}, []
        for label in labels:
            counters[label] = counters.get(label, 0) + 1
            out.append((f"s{index + 1}_{self.abbreviation[label]}_{counters[label]:02d}",
                        [label]))
        return out

    def fault_names(self, index, label):
        n = 1
        while True:
            yield f"s{index + 1}_{self.abbreviation[label]}_{n:02d}"
            n += 1

    def clip_parts(self, subject_name, clip, label):
        return [subject_name, "micro", label, clip]

    def frame_name(self, subject_name, clip, number):
        return f"image{number:07d}.bmp"

    def start_number(self, rng):
        return int(rng.integers(100000, 2000000))

    def encode(self, frame, subject):
        return encode.bmp_palette(frame, subject.tint)

    def apply_quirks(self, rng, records):
        for record in records:  # SMIC codes no apex at all: readers use the midpoint
            record.apex, record.repair = None, True

    def table(self, records):
        return []


class Casme3(Layout):
    name = "casme3"
    fps = 30
    classes = ("happy", "disgust", "surprise", "fear", "anger", "sad", "others")
    root_name = "part_A"
    annotation_name = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    objective = {"happy": 1, "surprise": 2, "anger": 3, "disgust": 4, "fear": 5, "sad": 6,
                 "others": 7}

    def subject_name(self, index):
        return f"spNO.{index + 1}"

    def plan_folders(self, rng, index, labels):
        """Several events share one long video; the first always holds two or three."""
        groups, position = [], 0
        while position < len(labels):
            if not groups:
                size = 2 if len(labels) < 6 else int(rng.integers(2, 4))
            else:
                size = int(_choose(rng, [1, 1, 2]))
            groups.append(labels[position:position + size])
            position += size
        return [(_letters(i), group) for i, group in enumerate(groups)]

    def fault_names(self, index, label):
        n = 1
        while True:  # good folders never contain digits
            yield f"x{n}"
            n += 1

    def clip_parts(self, subject_name, clip, label):
        return [subject_name, clip, "color"]

    def frame_name(self, subject_name, clip, number):
        return f"{number}.jpg"

    def start_number(self, rng):
        return int(rng.integers(1, 2000))

    def table(self, records):
        rows = [["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
                 "emotion"]]
        for r in records:
            rows.append([r.subject_name, r.clip, r.onset, r.apex, r.offset, r.action_units,
                         self.objective.get(r.label, 7), r.cell_label or r.label])
        return rows


class GenericCsv(Layout):
    name = "csv"
    fps = 30
    classes = ("happiness", "disgust", "surprise", "sadness", "others")
    ext = ".png"
    colour = False
    root_name = "frames"
    annotation_name = "annotations.csv"
    fault_kinds = Layout.fault_kinds + ("bad_frame_number",)

    def subject_name(self, index):
        return f"P{index + 1:02d}"

    def plan_folders(self, rng, index, labels):
        return [(f"clip{k + 1:02d}", [label]) for k, label in enumerate(labels)]

    def fault_names(self, index, label):
        n = 90
        while True:
            yield f"clip{n:02d}"
            n += 1

    def frame_name(self, subject_name, clip, number):
        # leading digits on purpose: the frame number is the LAST integer in the name
        return f"cam1_{number:05d}.png"

    def start_number(self, rng):
        return int(rng.integers(0, 500))

    def encode(self, frame, subject):
        return encode.png(frame)

    def table(self, records):
        rows = [["subject", "clip", "onset", "apex", "offset", "label", "fps", "action_units"]]
        for r in records:
            rows.append([r.subject_name, r.clip, r.onset, r.apex, r.offset,
                         r.cell_label or r.label, self.fps, r.action_units])
        return rows

    def write_annotations(self, path, records):
        sheets.write_csv(path, self.table(records))


LAYOUT_CLASSES = {cls.name: cls for cls in (Casme2, Samm, Smic, Casme3, GenericCsv)}
