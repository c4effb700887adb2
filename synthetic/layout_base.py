"""Shared ground of the dataset layouts: the ``Record`` row, the ``Layout`` base
class and the helpers that give rows their quirks.

Split out of ``layouts.py`` so the per-dataset classes (``sheet_layouts``,
``folder_layouts``) can share it without importing each other.
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
    true_apex: int | None = None  # the frame the motion peaks at, annotated or not
    true_eyes: list | None = None  # eye centres on the onset frame [[x, y], [x, y]], px

    def as_clip(self) -> dict:
        return {"subject": self.subject_name, "clip": self.clip, "label": self.label,
                "onset": self.onset, "apex": self.apex, "offset": self.offset,
                "true_apex": self.true_apex, "true_eyes": self.true_eyes, "row": self.row}


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


def choose(rng, options):
    return options[int(rng.integers(len(options)))]


def ensure_some(rng, records, predicate, change) -> None:
    """Make at least one record satisfy ``predicate`` by applying ``change``."""
    if records and not any(predicate(r) for r in records):
        change(records[int(rng.integers(len(records)))])


def au_types(rng, records) -> None:
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
    ensure_some(rng, records, lambda r: plain(r.action_units), to(plain))
    others = [r for r in records if not plain(r.action_units)] or records
    ensure_some(rng, others, lambda r: joined(r.action_units), to(joined))


def missing_apex(rng, records, rate=1 / 8) -> None:
    for record in records:
        if rng.random() < rate:
            record.apex, record.repair = None, True

    def drop(record):
        record.apex, record.repair = None, True
    ensure_some(rng, records, lambda r: r.repair, drop)


def letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba, ... (short lower-case folder names)."""
    name = ""
    while True:
        name = string.ascii_lowercase[index % 26] + name
        index //= 26
        if index == 0:
            return name
