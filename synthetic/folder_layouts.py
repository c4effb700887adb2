"""SMIC-HS, CAS(ME)^3 and the generic CSV layout: the unusual folder structures.

SMIC nests clips by class and has no sheet, CAS(ME)^3 puts several events in one
video folder, the generic layout hides the frame number in a prefixed PNG name.
Split out of ``layouts.py`` by dataset family.
"""
from __future__ import annotations

from . import encode, sheets
from .layout_base import Layout, choose, letters


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
                size = int(choose(rng, [1, 1, 2]))
            groups.append(labels[position:position + size])
            position += size
        return [(letters(i), group) for i, group in enumerate(groups)]

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
