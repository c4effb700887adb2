"""One reader per long-video dataset: folders + sheet -> LongVideo list and rejects.

Each reader knows its dataset's folder naming and sheet layout (one comment per
quirk); the repairs themselves are long_videos.truth_interval's, the same for all.
Every video folder found counts, with or without annotated intervals.
"""
from __future__ import annotations

import dataclasses
import io
import posixpath

from mer_tfx.datasets import LONG_VIDEOS

from . import fileio
from .long_videos import LongVideo, SpotReject, Truths, relative_name
from .tables import AnnotationError, get, read_table
from .video import VIDEO_EXTENSIONS


def _int(value):
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def workbook_sheets(path: str) -> list[list[list]]:
    """Every sheet of an .xlsx as rows of cells (strings stripped, blanks None)."""
    import openpyxl

    try:
        data = fileio.read_bytes(path)
    except Exception as error:
        raise AnnotationError(f"{path}: cannot open annotation file ({error})") from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise AnnotationError(f"{path}: not a readable .xlsx workbook ({error})") from None
    sheets = []
    for sheet in book.worksheets:
        rows = [[(v.strip() or None) if isinstance(v, str) else v for v in row]
                for row in sheet.iter_rows(values_only=True)]
        sheets.append(rows)
    return sheets


def _root(root: str, inner: str) -> str:
    """``--root`` may be the dataset folder or the frames folder inside it."""
    candidate = fileio.join(root, inner)
    return candidate if fileio.isdir(candidate) else root


def read_casme_sq(root: str, annotations: str | None):
    """CAS(ME)^2: rawpic/s15/15_0101disgustingteeth/img001.jpg; CAS(ME)^2code_final.xlsx.

    Three sheets without header rows, read by position (the first sheet's name varies
    between releases): 0 = expressions ``subject index, name (anger1_1), onset, apex,
    offset, AU, emotion, type, self-report``; 1 = ``folder number, folder, subject
    index`` (15 | s15 | 1); 2 = ``video code, name`` (0101 | disgust1). The folder is
    ``<folder number>_<code><free text>``.
    """
    fps = LONG_VIDEOS["casme_sq"].fps
    frames_root = _root(root, "rawpic")
    folders = fileio.glob_dirs(frames_root, ["*", "*"])
    truths = Truths("casme_sq", fps)
    if annotations:
        sheets = workbook_sheets(annotations)
        if len(sheets) < 3:
            raise AnnotationError(f"{annotations}: {len(sheets)} sheet(s); CAS(ME)^2's code "
                                  f"book has 3 (expressions, naming rule1, naming rule2)")
        subjects = {}  # subject index -> (folder number, folder)
        for row in sheets[1]:
            if len(row) >= 3 and _int(row[2]) is not None and _int(row[0]) is not None:
                subjects[_int(row[2])] = (_int(row[0]), str(row[1]))
        codes = {}  # video name (disgust1) -> code "0101"
        for row in sheets[2]:
            if len(row) >= 2 and row[0] is not None and row[1] is not None:
                code = row[0]
                # the code is text ("0101"); a release that stored it as a number lost
                # the leading zero (101): padded back to 4 digits
                codes[str(row[1]).strip().lower()] = (f"{int(code):04d}" if _int(code)
                                                      is not None else str(code).strip())
        by_prefix = {}
        for folder in folders:
            rel = relative_name(frames_root, folder)
            by_prefix.setdefault(rel.split("/")[1][:len("15_0101")], []).append(rel)
        expressions = [r for r in sheets[0] if any(v is not None for v in r)]
        if not expressions:
            raise AnnotationError(f"{annotations}: the first sheet holds no expression rows")
        for number, row in enumerate(sheets[0], start=1):
            if not any(v is not None for v in row):
                continue
            row = list(row) + [None] * (9 - len(row))
            subject, name = _int(row[0]), str(row[1] or "").strip().lower()
            video_name = name.rsplit("_", 1)[0]  # anger1_1 -> anger1 (expression 1 of it)
            if subject not in subjects or video_name not in codes:
                truths.reject(number, name, "unknown_video",
                              f"subject index {row[0]!r} / video {video_name!r} is in no "
                              f"naming rule")
                continue
            folder_number, folder = subjects[subject]
            found = [rel for rel in by_prefix.get(f"{folder_number}_{codes[video_name]}", [])
                     if rel.split("/")[0] == folder]
            video = found[0] if len(found) == 1 else f"{folder}/{folder_number}_" \
                                                     f"{codes[video_name]}?"
            truths.add(number, video, row[2], row[3], row[4], row[7], row[6])
    videos = []
    for folder in folders:
        rel = relative_name(frames_root, folder)
        videos.append(truths.video(rel.split("/")[0], rel, folder=folder) if annotations
                      else LongVideo("casme_sq", rel.split("/")[0], rel, fps, folder=folder))
    truths.unclaimed()
    return videos, truths.rejects


def read_samm_lv(root: str, annotations: str | None, emotions: str | None = None):
    """SAMM Long Videos: SAMM_longvideos/006_1/006_1_0001.jpg, 200 fps.

    The sheet's header is on row 10 (title and key above; found by its names):
    ``Subject, Filename (006_1_1), Inducement Code, Onset, Apex, Offset, Duration, Type
    (Macro / Micro - 1/2), Action Units, Notes``. Subject is a number (6 -> 006);
    fractional frame numbers occur (rounded half up). No emotion column: emotions come
    from ``emotions`` (SAMM_Micro_FACS_Codes_v2.xlsx, matched on the video and the
    interval, IoU >= 0.5; or a CSV ``Filename,emotion``).
    """
    fps = LONG_VIDEOS["samm_lv"].fps
    frames_root = _root(root, "SAMM_longvideos")
    folders = fileio.glob_dirs(frames_root, ["*"])
    truths = Truths("samm_lv", fps)
    if annotations:
        table = read_table(annotations, ["Subject", "Filename", "Onset", "Offset"])
        if not table:
            raise AnnotationError(f"{annotations}: the sheet holds no rows below its header")
        labels = _samm_emotions(emotions, fps) if emotions else None
        for number, rec in table:
            filename = str(get(rec, "Filename") or "").strip()
            video = filename.rsplit("_", 1)[0]  # 006_1_1 -> video 006_1
            subject = _int(get(rec, "Subject"))
            if subject is not None and not video.startswith(f"{subject:03d}_"):
                truths.reject(number, filename, "unknown_video",
                              f"Subject {subject} does not own {filename!r}")
                continue
            label = labels(filename, video, get(rec, "Onset"), get(rec, "Offset")) \
                if labels else ""
            truths.add(number, video, get(rec, "Onset"), get(rec, "Apex"), get(rec, "Offset"),
                       get(rec, "Type"), label)
    videos = []
    for folder in folders:
        name = posixpath.basename(folder.rstrip("/"))
        subject = name.split("_", 1)[0]
        videos.append(truths.video(subject, name, folder=folder) if annotations
                      else LongVideo("samm_lv", subject, name, fps, folder=folder))
    truths.unclaimed()
    return videos, truths.rejects


def _samm_emotions(path: str, fps: float):
    """A function (filename, video, onset, offset) -> emotion ('' when not found).

    A CSV ``Filename,emotion`` is matched on the filename; SAMM_Micro_FACS_Codes_v2.xlsx
    (header found below its preamble) on the video and the interval, IoU >= 0.5, since
    the two sheets number a video's expressions differently.
    """
    from mer_tfx.spotting.metric import Interval, iou

    try:
        by_name = {str(get(r, "Filename")).strip(): str(get(r, "emotion") or "")
                   for _, r in read_table(path, ["Filename", "emotion"])}
        return lambda filename, *_: by_name.get(filename, "")
    except AnnotationError:
        pass
    clips = {}
    for _, rec in read_table(path, ["Filename", "Onset Frame", "Offset Frame",
                                    "Estimated Emotion"]):
        onset, offset = _frame(get(rec, "Onset Frame")), _frame(get(rec, "Offset Frame"))
        if onset is not None and offset is not None and onset <= offset:
            video = str(get(rec, "Filename") or "").rsplit("_", 1)[0]
            clips.setdefault(video, []).append(
                (Interval(onset, offset, "me"), str(get(rec, "Estimated Emotion") or "")))

    def label(_filename, video, onset, offset):
        onset, offset = _frame(onset), _frame(offset)
        if onset is None or offset is None or onset > offset:
            return ""
        here = Interval(onset, offset, "me")
        scored = [(iou(here, other), name) for other, name in clips.get(video, [])]
        best = max(scored, default=(0.0, ""))
        return best[1] if best[0] >= 0.5 else ""
    return label


def _frame(value):
    try:
        return int(float(str(value).strip()) + 0.5)
    except (TypeError, ValueError):
        return None


def read_casme3_lv(root: str, annotations: str | None):
    """CAS(ME)^3 part A: part_A/spNO.1/a/color/175.jpg (numbers unpadded, not always
    from 1), 30 fps; sheet ``Subject, Filename, Onset, Apex, Offset, Expression type,
    emotion``. Subject ``spNO.1`` or 1; one folder (``a``) is one long video.
    """
    fps = LONG_VIDEOS["casme3_lv"].fps
    frames_root = _root(root, "part_A")
    folders = fileio.glob_dirs(frames_root, ["*", "*", "color"])
    truths = Truths("casme3_lv", fps)
    if annotations:
        table = read_table(annotations, ["Subject", "Filename", "Onset", "Offset"])
        if not table:
            raise AnnotationError(f"{annotations}: the sheet holds no rows below its header")
        for number, rec in table:
            raw = get(rec, "Subject")
            subject = f"spNO.{_int(raw)}" if _int(raw) is not None else str(raw or "")
            video = f"{subject}/{str(get(rec, 'Filename') or '').strip()}"
            truths.add(number, video, get(rec, "Onset"), get(rec, "Apex"), get(rec, "Offset"),
                       get(rec, "Expression type", "Type"), get(rec, "emotion"))
    videos = []
    for folder in folders:
        rel = relative_name(frames_root, folder)
        subject, clip = rel.split("/")[:2]
        name = f"{subject}/{clip}"
        videos.append(truths.video(subject, name, folder=folder) if annotations
                      else LongVideo("casme3_lv", subject, name, fps, folder=folder))
    truths.unclaimed()
    return videos, truths.rejects


def read_video_files(root: str, annotations: str | None):
    """Video files anywhere below root; the optional sheet is ingestion's ``video``
    format (``subject,video,onset,apex,offset,label[,fps,type]``, 0-based frames)."""
    fps = LONG_VIDEOS["video"].fps
    paths = sorted(p for p in _walk(root) if p.lower().endswith(VIDEO_EXTENSIONS))
    truths = Truths("video", fps)
    rates = {}
    if annotations:
        table = read_table(annotations, ["subject", "video", "onset", "offset"])
        if not table:
            raise AnnotationError(f"{annotations}: the sheet holds no rows below its header")
        for number, rec in table:
            video = str(get(rec, "video") or "").replace("\\", "/").strip("/")
            rate = _positive(get(rec, "fps"))
            if rate:
                rates[video] = rate
                truths.fps = rate
            truths.add(number, video, get(rec, "onset"), get(rec, "apex"), get(rec, "offset"),
                       get(rec, "type"), get(rec, "label"))
            truths.fps = fps
    videos = []
    for path in paths:
        rel = relative_name(root, path)
        subject = rel.split("/")[0] if "/" in rel else ""
        video = (truths.video(subject, rel, path=path) if annotations
                 else LongVideo("video", subject, rel, fps, path=path))
        if rel in rates:
            video = dataclasses.replace(video, fps=rates[rel])
        videos.append(video)
    truths.unclaimed()
    return videos, truths.rejects


def _positive(value):
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _walk(root: str):
    import os

    for folder, _, names in os.walk(root):
        for name in sorted(names):
            yield os.path.join(folder, name)


READERS = {"casme_sq": read_casme_sq, "samm_lv": read_samm_lv,
           "casme3_lv": read_casme3_lv, "video": read_video_files}
assert set(READERS) == set(LONG_VIDEOS), "every long-video dataset needs a reader here"


def read_long_videos(dataset: str, root: str, annotations: str | None = None,
                     emotions: str | None = None) -> tuple[list[LongVideo], list[SpotReject]]:
    """All videos of a dataset (sorted by name) and the rows or videos rejected."""
    if dataset not in READERS:
        raise AnnotationError(f"unknown long-video dataset {dataset!r}; choose one of "
                              f"{sorted(READERS)}")
    if not fileio.isdir(root):
        raise AnnotationError(f"{root}: dataset root folder does not exist")
    if emotions and dataset != "samm_lv":
        raise AnnotationError("--emotions is for samm_lv (its sheet has no emotion column)")
    args = (root, annotations) + ((emotions,) if dataset == "samm_lv" else ())
    videos, rejects = READERS[dataset](*args)
    if not videos:
        raise AnnotationError(f"{root}: no {dataset} videos found (expected "
                              f"{LONG_VIDEOS[dataset].frames})")
    return sorted(videos, key=lambda v: v.name), rejects
