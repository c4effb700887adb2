"""The generate() driver: subjects -> videos -> frame files -> annotation rows.

Randomness comes only from generators seeded by (seed, subject, clip index), so a
dataset is reproducible file by file, and adding subjects does not change the
frames of the ones already there.
"""
from __future__ import annotations

import dataclasses
import json
import numbers
import os
import posixpath
import shutil
import sys

import numpy as np

from . import faces, faults, motion, video
from .layout_base import ACTION_UNITS, Record
from .layouts import LAYOUT_CLASSES
from .video_files import VIDEO_LAYOUT, generate_videos

MANIFEST = "synth_manifest.json"
_FAULT_CLIP = 100_000  # clip indices of fault copies, far above any good clip index

try:  # the project's "fix your input" error when installed as mer_tfx.synthetic
    from ..errors import UserError as _BaseError
except (ImportError, ValueError):  # pragma: no cover - used outside the package
    _BaseError = ValueError


class SynthError(_BaseError):
    """Bad arguments to generate()."""


@dataclasses.dataclass
class SynthResult:
    """What was written, and what ingestion should make of it.

    ``clips`` holds one dict per good annotation row (SMIC: per good clip folder):
    subject/clip folder names, lower-case label as the layout's classes spell it,
    absolute onset/apex/offset frame numbers (apex None where the sheet has none),
    ``true_apex`` (where the motion peaks, whatever the sheet says)
    and the 1-based row (header rows counted; SMIC: position in sorted folder order).
    """

    layout: str
    root: str  # pass as the ingestion --root
    annotations: str | None  # pass as --annotations (None for smic)
    clips: list  # one dict per good annotation row (SMIC: per good clip folder)
    expected_rejects: dict = dataclasses.field(default_factory=dict)  # row -> keyword
    expected_repairs: list = dataclasses.field(default_factory=list)  # rows, apex repaired
    fps: float = 0.0
    classes: tuple = ()
    faults: list = dataclasses.field(default_factory=list)  # fault rows with their clips
    manifest: str = ""


class _Writer:
    """Writes the frames of one folder and turns its events into Records."""

    def __init__(self, layout, root, seed, subjects, no_signal: bool = False,
                 face: str = "drawn", jitter: float = 1.0, roll: float = 0.0,
                 scale_jitter: float = 0.0):
        self.layout = layout
        self.roll = roll
        self.scale_jitter = scale_jitter
        self.root = root
        self.seed = seed
        self.subjects = subjects  # index -> faces.Subject
        self.used = {}  # subject index -> set of folder names in use
        self.no_signal = no_signal
        self.face = face
        self.jitter = jitter

    def folder(self, index, clip, labels, clip_index):
        layout = self.layout
        subject = self.subjects[index]
        name = layout.subject_name(index)
        rng = video.clip_rng(self.seed, index, clip_index)
        clip_video = video.render(subject, rng, labels, layout.fps, layout.colour, layout.lead,
                                  self.no_signal, self.face, self.jitter, self.roll,
                                  self.scale_jitter)
        start = layout.start_number(rng)
        records = [Record(subject=index, subject_name=name, clip=clip, label=event.label,
                          onset=start + event.onset, apex=start + event.apex,
                          true_apex=start + event.apex,
                          offset=start + event.offset,
                          action_units=_action_units(rng, event.motion))
                   for event in clip_video.events]
        folder = os.path.join(self.root, *layout.clip_parts(name, clip, labels[0]))
        os.makedirs(folder, exist_ok=True)
        paths = {}
        for i, frame in enumerate(clip_video.frames):
            number = start + i
            path = os.path.join(folder, layout.frame_name(name, clip, number))
            with open(path, "wb") as handle:
                handle.write(layout.encode(frame, subject))
            paths[number] = path
        for record, event in zip(records, clip_video.events):  # the truth at each onset
            record.true_eyes = np.round(clip_video.eyes[event.onset], 3).tolist()
        self.used.setdefault(index, set()).add(clip)
        return records, paths

    def free_name(self, label, index=0):
        used = self.used.setdefault(index, set())
        for name in self.layout.fault_names(index, label):
            if name not in used:
                used.add(name)
                return name
        raise AssertionError("unreachable")

    def extra_clip(self, label, salt):
        """A good-looking one-event clip of subject 0 that no good row uses."""
        clip = self.free_name(label)
        records, paths = self.folder(0, clip, [label], _FAULT_CLIP + salt)
        return records[0], paths


def _action_units(rng, motion_name):
    options = ACTION_UNITS[motion_name]
    return options[int(rng.integers(len(options)))]


def _integer(name, value, low, high=None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or (
            high is not None and value > high):
        limits = f"in {low}..{high}" if high is not None else f">= {low}"
        raise SynthError(f"{name} must be an integer {limits}, got {value!r}")
    return int(value)


def _clear(out_dir, root, annotations):
    """Remove a previous synthetic dataset at the same place; never touch foreign files."""
    manifest = os.path.join(out_dir, MANIFEST)
    ours = os.path.exists(manifest)
    if os.path.isdir(root) and os.listdir(root):
        if not ours:
            raise SynthError(f"{root} exists and is not a synthetic dataset written here "
                             f"(no {MANIFEST}); choose an empty --out folder")
        shutil.rmtree(root)
    if annotations and os.path.exists(annotations):
        if not ours:
            raise SynthError(f"{annotations} exists and was not written by the generator")
        os.remove(annotations)


def _smic_rows(layout, root, records):
    """SMIC rows: 1-based position of the clip folder in sorted path order."""
    def key(record):
        return posixpath.join(*layout.clip_parts(record.subject_name, record.clip,
                                                 record.label))
    for row, record in enumerate(sorted(records, key=key), start=1):
        record.row = row


def generate(layout: str, out_dir: str, subjects: int = 6, clips_per_class: int = 2,
             seed: int = 0, frame_size: int = 200, inject_faults: bool = False,
             progress: bool = True, no_signal: bool = False, face: str = "drawn",
             jitter: float = 1.0, roll: float = 0.0, scale_jitter: float = 0.0,
             balance: str = "equal") -> SynthResult:
    """Write a synthetic dataset in ``layout`` under ``out_dir``; see SynthResult.

    ``subjects`` people x ``clips_per_class`` clips of every class of the layout,
    frames ``frame_size`` pixels high.  ``inject_faults`` adds one bad row or
    damaged clip folder per reject reason.  ``no_signal`` makes every clip's motion
    independent of its label (a leakage guard).  ``face="photo"`` draws every frame
    from a real portrait photo (synthetic/photo_faces.py: hair, glasses, wrinkles)
    instead of the drawn faces; ``jitter`` scales the head movement between frames
    (1: up to 1 px at 200-px frames; 0: none); ``roll`` rolls each clip's head by up to
    that many degrees, ``scale_jitter`` varies the photo faces' size and place between
    subjects (exp(+-s), +-s of the frame); every clip's onset eye centres are in the
    manifest (``true_eyes``); ``balance="casme2"`` gives each subject CASME II's class
    imbalance (``clips_per_class`` of the largest class, motion.BALANCES).  Same
    arguments, same bytes.
    """
    if layout == VIDEO_LAYOUT:
        return generate_videos(out_dir, subjects=subjects, clips_per_class=clips_per_class,
                               seed=seed, frame_size=frame_size, inject_faults=inject_faults,
                               progress=progress, no_signal=no_signal, face=face, jitter=jitter,
                               roll=roll, scale_jitter=scale_jitter, balance=balance)
    if face not in video.FACES:
        raise SynthError(f"unknown face {face!r}; use one of {', '.join(video.FACES)}")
    if balance not in motion.BALANCES:
        raise SynthError(f"unknown balance {balance!r}; use one of {', '.join(motion.BALANCES)}")
    if not 0 <= float(roll) <= 45:
        raise SynthError(f"roll must be between 0 and 45 degrees, got {roll}")
    if not 0 <= float(scale_jitter) <= 0.5:
        raise SynthError(f"scale jitter must be between 0 and 0.5, got {scale_jitter}")
    if float(scale_jitter) and face != "photo":
        raise SynthError("--scale-jitter varies photo faces (--face photo); drawn faces "
                         "already differ in size and place per subject")
    if not 0 <= float(jitter) <= 10:
        raise SynthError(f"jitter must be between 0 and 10 (times the default head "
                         f"movement), got {jitter}")
    if layout not in LAYOUT_CLASSES:
        raise SynthError(f"unknown layout {layout!r}; use one of "
                         f"{', '.join([*LAYOUT_CLASSES, VIDEO_LAYOUT])}")
    subjects = _integer("subjects", subjects, 1)
    clips_per_class = _integer("clips_per_class", clips_per_class, 1)
    seed = _integer("seed", seed, 0)
    frame_size = _integer("frame_size", frame_size, 64, 2048)
    spec = LAYOUT_CLASSES[layout]()
    out_dir = os.path.abspath(out_dir)
    root = spec.root(out_dir)
    annotations = spec.annotation_path(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    _clear(out_dir, root, annotations)
    os.makedirs(root, exist_ok=True)

    people = {}
    writer = _Writer(spec, root, seed, people, no_signal, face, float(jitter), float(roll),
                     float(scale_jitter))
    records = []
    for index in range(subjects):
        people[index] = faces.sample_subject(video.subject_rng(seed, index), index, frame_size)
        names_rng = video.names_rng(seed, index)
        counts = motion.clips_per_label(spec.classes, clips_per_class, balance)
        labels = [label for label in spec.classes for _ in range(counts[label])]
        names_rng.shuffle(labels)
        frames = 0
        for clip_index, (clip, folder_labels) in enumerate(
                spec.plan_folders(names_rng, index, labels)):
            new, paths = writer.folder(index, clip, folder_labels, clip_index)
            records.extend(new)
            frames += len(paths)
        if spec.name == "smic":
            os.makedirs(os.path.join(root, spec.subject_name(index), "non_micro"), exist_ok=True)
        if progress:
            print(f"synth {layout}: subject {index + 1}/{subjects} "
                  f"({spec.subject_name(index)}) {frames} frames", file=sys.stderr, flush=True)

    records.sort(key=lambda r: (r.subject, r.clip, r.onset))
    spec.apply_quirks(video.sheet_rng(seed, 0), records)
    bad = []
    if inject_faults:
        template = next((r for r in records if r.apex is not None), records[0])
        bad = faults.inject(spec, writer, template, video.sheet_rng(seed, 1))
    if annotations:
        for row, record in enumerate(records + bad, start=spec.header_row + 1):
            record.row = row
        spec.write_annotations(annotations, records + bad)
    else:
        _smic_rows(spec, root, records + bad)

    result = SynthResult(
        layout=layout, root=root, annotations=annotations,
        clips=[r.as_clip() for r in records],
        expected_rejects={r.row: r.reason for r in sorted(bad, key=lambda r: r.row)},
        expected_repairs=sorted(r.row for r in records if r.repair),
        fps=float(spec.fps), classes=tuple(spec.classes),
        faults=[dict(r.as_clip(), reason=r.reason) for r in sorted(bad, key=lambda r: r.row)],
        manifest=os.path.join(out_dir, MANIFEST))
    if spec.name == "smic":
        result.clips.sort(key=lambda c: c["row"])
    _write_manifest(result, seed=seed, subjects=subjects, clips_per_class=clips_per_class,
                    frame_size=frame_size, inject_faults=inject_faults, no_signal=no_signal,
                    face=face, jitter=float(jitter), roll=float(roll),
                    scale_jitter=float(scale_jitter), balance=balance)
    return result


def _write_manifest(result: SynthResult, **args) -> None:
    data = dataclasses.asdict(result)
    data["expected_rejects"] = {str(k): v for k, v in result.expected_rejects.items()}
    data["classes"] = list(result.classes)
    data["args"] = args
    with open(result.manifest, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
