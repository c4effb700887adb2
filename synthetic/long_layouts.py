"""Synthetic long recordings in the layouts of CAS(ME)^2, SAMM Long Videos, CAS(ME)^3.

``generate_long(layout, out_dir)`` writes frame folders and the sheet exactly as
ingestion/long_sheets.py reads the real ones (CAS(ME)^2's three header-less sheets,
SAMM-LV's header on row 10 plus an emotions CSV, CAS(ME)^3's part A sheet), and
``synth_manifest.json`` with every video's true intervals, blinks and head moves.
"""
from __future__ import annotations

import dataclasses
import json
import os

from mer_tfx.datasets import LONG_VIDEOS

from . import encode, faces, long_video, video

MANIFEST = "synth_manifest.json"
CASME_SQ_SHEET = "CAS(ME)^2code_final.xlsx"
SAMM_LV_SHEET = "SAMM_LONG_VIDEOS_05122019.xlsx"
SAMM_LV_EMOTIONS = "samm_lv_emotions.csv"
CASME3_LV_SHEET = "cas(me)3_part_A_long_videos.xlsx"
# CAS(ME)^2 naming rule2: video code, name, and the free text of its folders.
CASME_SQ_VIDEOS = [("0101", "disgust1", "disgustingteeth"), ("0102", "disgust2", "eatingworms"),
                   ("0401", "anger1", "girlcrashing"), ("0502", "happy2", "smilebaby"),
                   ("0503", "happy3", "funnydog"), ("0505", "surprise1", "popcorn")]


@dataclasses.dataclass(frozen=True)
class LongLayout:
    name: str
    labels: tuple  # emotions as the layout's sheet spells them (lower-case motion keys)
    colour: bool
    outputs: tuple  # what it writes below --out (a re-run removes these only)


LONG_LAYOUTS = {layout.name: layout for layout in (
    LongLayout("casme_sq", ("positive", "negative", "surprise", "others"), True,
               ("rawpic/*/*/img*.jpg", CASME_SQ_SHEET, MANIFEST)),
    LongLayout("samm_lv", ("happiness", "anger", "surprise", "contempt", "others"), False,
               ("SAMM_longvideos/*/*.jpg", SAMM_LV_SHEET, SAMM_LV_EMOTIONS, MANIFEST)),
    LongLayout("casme3_lv", ("happy", "disgust", "surprise", "others"), True,
               ("part_A/*/*/color/*.jpg", CASME3_LV_SHEET, MANIFEST)),
)}
assert set(LONG_LAYOUTS) == set(LONG_VIDEOS) - {"video"}, \
    "every long-video dataset (mer_tfx/datasets.py LONG_VIDEOS) needs a synthetic layout"


def _video_names(layout: str, subject: int, count: int, rng):
    """(subject folder, video name as the reader gives it, frame folder parts, first frame,
    frame-file format) of each video of one subject."""
    out = []
    for k in range(count):
        if layout == "casme_sq":
            code, _, text = CASME_SQ_VIDEOS[k % len(CASME_SQ_VIDEOS)]
            folder = f"{15 + subject}_{code}{text}"
            out.append((f"s{15 + subject}", f"s{15 + subject}/{folder}",
                        ["rawpic", f"s{15 + subject}", folder], 1, "img{:03d}.jpg"))
        elif layout == "samm_lv":
            name = f"{6 + subject:03d}_{k + 1}"
            out.append((f"{6 + subject:03d}", name, ["SAMM_longvideos", name], 1,
                        name + "_{:04d}.jpg"))
        else:
            subject_name, clip = f"spNO.{subject + 1}", "abcdefghijklm"[k]
            out.append((subject_name, f"{subject_name}/{clip}",
                        ["part_A", subject_name, clip, "color"], int(rng.integers(1, 200)),
                        "{}.jpg"))
    return out


def generate_long(layout: str, out_dir: str, subjects: int = 2, videos_per_subject: int = 2,
                  seconds: float = 10.0, frame_size: int = 160, seed: int = 0,
                  micro_px=(1.0, 2.0), jitter: float = 1.0) -> dict:
    """Write the layout under ``out_dir``; returns the manifest (also written there)."""
    from mer_tfx.ingestion import outputs

    from .builder import SynthError

    if layout not in LONG_LAYOUTS:
        raise SynthError(f"unknown long-video layout {layout!r}; choose one of "
                         f"{sorted(LONG_LAYOUTS)}")
    if subjects < 1 or videos_per_subject < 1 or seconds < 3 or frame_size < 64:
        raise SynthError("need subjects >= 1, videos per subject >= 1, seconds >= 3 and "
                         "frame size >= 64")
    spec, fps = LONG_LAYOUTS[layout], LONG_VIDEOS[layout].fps
    out_dir = os.path.abspath(out_dir)
    outputs.claim(out_dir, f"mer-tfx synth --layout {layout}", owned=spec.outputs)
    frames = int(round(seconds * fps))
    videos = []
    for subject_index in range(subjects):
        person = faces.sample_subject(video.subject_rng(seed, subject_index), subject_index,
                                      frame_size)
        names = _video_names(layout, subject_index, videos_per_subject,
                             video.names_rng(seed, subject_index))
        for k, (subject, name, parts, first, pattern) in enumerate(names):
            rng = video.clip_rng(seed, 1000 * (1 + sorted(LONG_LAYOUTS).index(layout))
                                 + subject_index, k)  # each layout its own events
            events = long_video.plan(rng, fps, frames, spec.labels, micro_px)
            folder = os.path.join(out_dir, *parts)
            os.makedirs(folder, exist_ok=True)
            for index, image in enumerate(long_video.render(person, rng, events, frames,
                                                            spec.colour, jitter, fps)):
                with open(os.path.join(folder, pattern.format(first + index)), "wb") as handle:
                    handle.write(encode.jpeg(image))
            videos.append({"name": name, "subject": subject, "subject_index": subject_index,
                           "first": first, "frames": frames,
                           "truths": long_video.truth(events, first),
                           "distractors": long_video.distractors(events, first)})
    sheets = {"casme_sq": _casme_sq_sheet, "samm_lv": _samm_lv_sheet,
              "casme3_lv": _casme3_lv_sheet}[layout](out_dir, videos)
    manifest = {"layout": layout, "root": out_dir, "fps": fps, "frame_size": frame_size,
                "seed": seed, "seconds": seconds, "micro_px_640": list(micro_px),
                "jitter": jitter, **sheets, "videos": videos}
    with open(os.path.join(out_dir, MANIFEST), "w") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def _write_book(path: str, sheets: list) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    book.save(path)


def _casme_sq_sheet(out_dir: str, videos: list) -> dict:
    rows, rule1, counters = [], {}, {}
    for item in videos:
        folder = item["name"].split("/")[1]
        code = folder.split("_", 1)[1][:4]
        video_name = next(n for c, n, _ in CASME_SQ_VIDEOS if c == code)
        rule1[item["subject"]] = [int(item["subject"][1:]), item["subject"],
                                  item["subject_index"] + 1]
        for t in item["truths"]:
            counters[item["name"]] = counters.get(item["name"], 0) + 1
            rows.append([item["subject_index"] + 1, f"{video_name}_{counters[item['name']]}",
                         t["onset"], t["apex"], t["offset"], "4+12", t["label"],
                         "micro-expression" if t["type"] == "me" else "macro-expression",
                         None])
    path = os.path.join(out_dir, CASME_SQ_SHEET)
    _write_book(path, [("CASFEcode_final", rows), ("naming rule1", list(rule1.values())),
                       ("naming rule2", [[c, n] for c, n, _ in CASME_SQ_VIDEOS])])
    return {"annotations": path, "emotions": None}


def _samm_lv_sheet(out_dir: str, videos: list) -> dict:
    rows = [["SAMM Long Videos (synthetic)"], [], ["Key"], [None, "Onset", "first frame"],
            [None, "Offset", "last frame"], [None, "Type", "Macro or Micro - 1/2"], [], [], [],
            ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
             "Type", "Action Units", "Notes"]]
    emotions = [["Filename", "emotion"]]
    for item in videos:
        for k, t in enumerate(item["truths"], start=1):
            filename = f"{item['name']}_{k}"
            rows.append([int(item["subject"]), filename, 1, t["onset"], t["apex"], t["offset"],
                         t["offset"] - t["onset"] + 1,
                         "Micro - 1/2" if t["type"] == "me" else "Macro", "12", None])
            emotions.append([filename, t["label"].capitalize()])
    path = os.path.join(out_dir, SAMM_LV_SHEET)
    _write_book(path, [("FACS", rows)])
    labels = os.path.join(out_dir, SAMM_LV_EMOTIONS)
    with open(labels, "w") as handle:
        handle.writelines(",".join(map(str, row)) + "\n" for row in emotions)
    return {"annotations": path, "emotions": labels}


def _casme3_lv_sheet(out_dir: str, videos: list) -> dict:
    rows = [["Subject", "Filename", "Onset", "Apex", "Offset", "Expression type", "emotion"]]
    for item in videos:
        for t in item["truths"]:
            rows.append([item["subject"], item["name"].split("/")[1], t["onset"], t["apex"],
                         t["offset"], "Micro-expression" if t["type"] == "me"
                         else "Macro-expression", t["label"]])
    path = os.path.join(out_dir, CASME3_LV_SHEET)
    _write_book(path, [("Sheet1", rows)])
    return {"annotations": path, "emotions": None}
