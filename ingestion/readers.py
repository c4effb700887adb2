"""One reader per dataset: annotation rows -> ClipSpec or Reject.

Each reader knows its dataset's folder naming and annotation quirks, one comment
per repair (the datasets themselves are listed in mer_tfx/datasets.py); the shared
``make_clip`` applies the checks every dataset needs, so a row is judged the same
way whichever spreadsheet it came from.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import posixpath
import re

from mer_tfx.datasets import DATASET_NAMES, DATASETS
from mer_tfx.labels import normalize_label, three_class

from . import fileio
from .clips import ClipSpec, Reject
from .tables import AnnotationError, get, read_table

log = logging.getLogger(__name__)

MISSING_APEX = {None, "", "/", "-1", -1, "-"}


def _frame_number(value):
    """int for an integer-like cell (12, 12.0, '12'); None for a missing apex marker."""
    if value in MISSING_APEX:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text in MISSING_APEX:
        return None
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(float(text))
    raise ValueError(value)


def _safe_component(name) -> bool:
    text = "" if name is None else str(name)
    return bool(text) and text not in (".", "..") and not re.search(r"[/\\]|^[A-Za-z]:", text)


def _action_units(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def make_clip(*, row, dataset, subject, clip, root, parts, label, onset, apex, offset,
              fps, action_units=None, interval=False) -> ClipSpec | Reject:
    """Apply the checks every dataset shares; ``parts`` are the folder names below root.

    ``fps`` is the sheet's cell or the dataset's rate (blank: the dataset's, via
    ``default_fps``). ``interval``: the folder or video is a long recording that several
    rows annotate, so the clip is named ``<clip>@<onset>-<offset>`` (see
    ``unique_clip_ids``).
    """
    clip_name = f"{subject}/{clip}"
    if not subject or not clip:
        return Reject(row, clip_name, "missing_subject", "subject or clip name is empty")
    if not all(_safe_component(p) for p in parts):
        return Reject(row, clip_name, "path_escape",
                      f"folder {'/'.join(map(str, parts))!r} would leave the dataset root")
    canonical = normalize_label(label)
    if canonical is None:
        return Reject(row, clip_name, "unknown_label", f"emotion {label!r} is not a known label")
    try:
        onset_n, offset_n = _frame_number(onset), _frame_number(offset)
        apex_n = _frame_number(apex)
    except ValueError as error:
        return Reject(row, clip_name, "bad_frame_number", f"not a frame number: {error}")
    if onset_n is None or offset_n is None:
        return Reject(row, clip_name, "bad_frame_number", "onset or offset frame is missing")
    if onset_n > offset_n:
        return Reject(row, clip_name, "onset_after_offset",
                      f"onset {onset_n} is after offset {offset_n}")
    fps_value = _fps(fps)
    if fps_value is None:
        return Reject(row, clip_name, "bad_fps", f"fps {fps!r} is not a positive number")
    repairs = ()
    if apex_n is None:
        apex_n, repairs = (onset_n + offset_n) // 2, ("apex_missing_midpoint",)
    elif not onset_n <= apex_n <= offset_n:
        apex_n, repairs = (onset_n + offset_n) // 2, ("apex_outside_clip_midpoint",)
    elif apex_n == onset_n < offset_n:  # CAS(ME)^3: no rise at all, an onset->apex flow of 0
        apex_n, repairs = (onset_n + offset_n) // 2, ("apex_at_onset_midpoint",)
    return ClipSpec(
        row=row, dataset=dataset, subject=str(subject),
        clip=_interval_name(clip, onset_n, offset_n) if interval else str(clip),
        clip_dir=fileio.join(root, *map(str, parts)), label=canonical,
        onset=onset_n, apex=apex_n, offset=offset_n, fps=fps_value,
        action_units=_action_units(action_units), repairs=repairs,
    )


def _int_like(value):
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def default_fps(cell, dataset: str):
    """A sheet's fps cell, or the dataset's frame rate where the cell is blank."""
    return DATASETS[dataset].fps if cell is None or str(cell).strip() == "" else cell


def _fps(value) -> float | None:
    """fps as a float (29.97 stays 29.97, never truncated); None unless positive, finite."""
    if isinstance(value, bool):
        return None
    try:
        fps = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return fps if 0 < fps < float("inf") else None


def _interval_name(clip, onset: int, offset: int) -> str:
    return f"{clip}@{onset}-{offset}"


def unique_clip_ids(rows) -> list:
    """Rows with clip ids unique within the dataset, in the same order.

    The Trainer orders records by (subject, clip): two records of one id would tie and
    keep Beam's arrival order. So every interval of a folder or video that several rows
    annotate is named ``<clip>@<onset>-<offset>``, and a row repeating another row's
    interval of the same folder or video is rejected (``duplicate_interval``).
    """
    ids = collections.Counter(r.clip_id for r in rows if isinstance(r, ClipSpec))
    seen, out = {}, []
    for row in rows:
        if isinstance(row, ClipSpec) and ids[row.clip_id] > 1 and not row.clip.endswith(
                _interval_name("", row.onset, row.offset)):
            row = dataclasses.replace(row, clip=_interval_name(row.clip, row.onset, row.offset))
        if isinstance(row, ClipSpec):
            if row.clip_id in seen:
                row = Reject(row.row, row.clip_id, "duplicate_interval",
                             f"row {seen[row.clip_id]} annotates the same frames "
                             f"{row.onset}..{row.offset} of {row.video or row.clip_dir}")
            else:
                seen[row.clip_id] = row.row
        out.append(row)
    return out


@dataclasses.dataclass(frozen=True)
class SheetFormat:
    """Where one dataset's spreadsheet keeps each field, and how subjects name folders."""

    dataset: str
    subject_folder: str  # format for an integer subject id, e.g. "sub{:02d}"; "" = as written
    clip: str
    onset: str
    apex: str
    offset: str
    label: str
    action_units: str
    below_clip: tuple = ()  # folders between the clip folder and the frames
    intervals: bool = False  # a folder is a long recording: clip = <folder>@<onset>-<offset>

    @property
    def required(self) -> list:
        return ["Subject", self.clip, self.onset, self.offset]


SHEETS = {
    # CASME II: Subject 1 -> folder sub01; apex '/' repaired to the midpoint.
    "casme2": SheetFormat("casme2", "sub{:02d}", "Filename", "OnsetFrame", "ApexFrame",
                          "OffsetFrame", "Estimated Emotion", "Action Units"),
    # SAMM: header on row 14, subject 6 or '006' -> folder 006, apex -1 repaired.
    "samm": SheetFormat("samm", "{:03d}", "Filename", "Onset Frame", "Apex Frame",
                        "Offset Frame", "Estimated Emotion", "Action Units"),
    # CAS(ME)^3 part A: frames under <subject>/<clip>/color; a folder is one long video
    # that several rows annotate, so clip ids are <Filename>@<onset>-<offset>.
    "casme3": SheetFormat("casme3", "spNO.{}", "Filename", "Onset", "Apex", "Offset",
                          "emotion", "AU", below_clip=("color",), intervals=True),
    # The documented generic format: subject,clip,onset,apex,offset,label[,fps,
    # action_units,dataset]; frames in <root>/<subject>/<clip>/.
    "csv": SheetFormat("csv", "", "clip", "onset", "apex", "offset", "label",
                       "action_units"),
}


def _subject_folder(raw, template: str) -> str:
    number = _int_like(raw)
    if template and number is not None:
        return template.format(number)
    return str(raw) if raw is not None else ""


def read_sheet(fmt: SheetFormat, root, annotations):
    """Rows of a spreadsheet-annotated dataset as ClipSpec | Reject."""
    out = []
    for number, rec in read_table(annotations, fmt.required):
        subject = _subject_folder(get(rec, "Subject"), fmt.subject_folder)
        clip = str(get(rec, fmt.clip) or "")
        out.append(make_clip(
            row=number, dataset=str(get(rec, "dataset") or fmt.dataset), subject=subject,
            clip=clip, root=root, parts=[subject, clip, *fmt.below_clip],
            label=get(rec, fmt.label), onset=get(rec, fmt.onset), apex=get(rec, fmt.apex),
            offset=get(rec, fmt.offset), fps=default_fps(get(rec, "fps"), fmt.dataset),
            action_units=get(rec, fmt.action_units), interval=fmt.intervals))
    return out


def read_smic(root, annotations=None):
    """SMIC-HS: label from the folder, all frames of the clip, apex = midpoint.

    SMIC has no apex annotation, so the midpoint is used and counted as a repair.
    """
    if annotations:
        log.warning("SMIC labels come from its folders; ignoring --annotations %s", annotations)
    clip_dirs = sorted(fileio.glob_dirs(root, ["*", "micro", "*", "*"]))
    if not clip_dirs:
        raise AnnotationError(
            f"{root}: no SMIC clip folders found (expected <root>/s1/micro/<emotion>/<clip>/)")
    out = []
    for number, clip_dir in enumerate(clip_dirs, start=1):
        rel = posixpath.relpath(clip_dir.replace("\\", "/"), root.replace("\\", "/"))
        folder_subject, _, emotion, clip = rel.split("/")
        n = _int_like(folder_subject.lstrip("sS"))
        subject = f"s{n}" if n is not None else folder_subject
        try:
            frames = fileio.frame_files(clip_dir)
        except fileio.DuplicateFrameNumber as error:
            out.append(Reject(number, f"{subject}/{clip}", "duplicate_frame_number", str(error)))
            continue
        if not frames:
            out.append(Reject(number, f"{subject}/{clip}", "no_frames",
                              f"{clip_dir} holds no image files"))
            continue
        first, last = min(frames), max(frames)
        out.append(make_clip(
            row=number, dataset="smic", subject=subject, clip=clip, root=root,
            parts=[folder_subject, "micro", emotion, clip], label=emotion,
            onset=first, apex=None, offset=last, fps=DATASETS["smic"].fps))
    return out


def read_videos(root, annotations):
    """Video files with annotated intervals: ``subject,video,onset,apex,offset,label[,fps,
    clip,action_units]``; ``video`` is a path below root, frame numbers are 0-based video
    frame indices (an empty apex is spotted). Several intervals may name the same video;
    nothing is extracted to disk. ``clip`` defaults to ``<video>@<onset>-<offset>``, the
    video's path without its extension (and without a leading subject folder).
    """
    out = []
    for number, rec in read_table(annotations, ["subject", "video", "onset", "offset"]):
        subject = str(get(rec, "subject") or "")
        video = str(get(rec, "video") or "").replace("\\", "/")
        parts = [p for p in video.split("/") if p]
        named = parts[1:] if len(parts) > 1 and parts[0] == subject else parts
        clip = str(get(rec, "clip") or posixpath.splitext("/".join(named))[0])
        if not parts or video.startswith("/") or not all(_safe_component(p) for p in parts):
            out.append(Reject(number, f"{subject}/{clip}", "path_escape",
                              f"video {video!r} must be a relative path below --root"))
            continue
        spec = make_clip(
            row=number, dataset=str(get(rec, "dataset") or "video"), subject=subject, clip=clip,
            root=root, parts=parts, label=get(rec, "label"),
            onset=get(rec, "onset"), apex=get(rec, "apex"), offset=get(rec, "offset"),
            fps=default_fps(get(rec, "fps"), "video"), action_units=get(rec, "action_units"),
            interval=not get(rec, "clip"))
        if isinstance(spec, ClipSpec):
            spec = dataclasses.replace(spec, clip_dir="", video=fileio.join(root, *parts))
        out.append(spec)
    return out


READERS = {name: functools.partial(read_sheet, fmt) for name, fmt in SHEETS.items()}
READERS["smic"] = read_smic
READERS["video"] = read_videos
assert set(READERS) == set(DATASET_NAMES), \
    "every dataset of mer_tfx/datasets.py needs a reader here, and no other"


def read_annotations(dataset: str, root: str, annotations: str | None):
    """All rows of a dataset as ClipSpec | Reject, in file order."""
    try:
        reader = READERS[dataset]
    except KeyError:
        raise AnnotationError(f"unknown dataset {dataset!r}; choose one of {sorted(READERS)}")
    if DATASETS[dataset].needs_annotations and not annotations:
        raise AnnotationError(f"--annotations is required for dataset {dataset!r}")
    if not fileio.isdir(root):
        raise AnnotationError(f"{root}: dataset root folder does not exist")
    return unique_clip_ids(reader(root, annotations))


def read_sources(sources) -> list:
    """All rows of every source (``mer_tfx.datasets.Source``) as ClipSpec | Reject.

    With several sources, subjects become ``<dataset>/<subject>`` (CASME II's ``sub01``
    and SMIC's ``s1`` stay two people, and ``casme2/sub01`` cannot collide with another
    dataset's ``sub01``) in the records, the splits and the reports; clip ids follow.
    Rejects carry their source dataset for the per-dataset accounting.
    """
    prefix = len(sources) > 1
    rows = []
    for source in sources:
        for row in read_annotations(source.dataset, source.root, source.annotations):
            if isinstance(row, ClipSpec):
                if prefix:
                    row = dataclasses.replace(row, subject=f"{source.dataset}/{row.subject}")
            else:
                row = dataclasses.replace(row, dataset=source.dataset, clip=(
                    f"{source.dataset}/{row.clip}" if prefix else row.clip))
            rows.append(row)
    return rows


def restrict_to_classes(rows, label_key: str, classes) -> list:
    """Rows whose label (``label`` or MEGC ``label_3class``) is outside ``classes`` -> Reject.

    A pipeline trains on a fixed class set (e.g. the 3-class composite drops
    ``others``); such clips are reported, not silently skipped.
    """
    allowed = set(classes)
    out = []
    for row in rows:
        if isinstance(row, ClipSpec):
            value = row.label if label_key == "label" else three_class(row.label)
            if value not in allowed:
                row = Reject(row.row, row.clip_id, "excluded_class",
                             f"label {row.label!r} ({label_key} {value!r}) is not one of the "
                             f"pipeline's classes {sorted(allowed)}", dataset=row.dataset)
        out.append(row)
    return out
