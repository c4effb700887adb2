"""Long recordings for spotting: one ``LongVideo`` per recording, read in place.

A long video is a frame folder (CAS(ME)^2, SAMM Long Videos, CAS(ME)^3 part A) or a
video file, with the ground-truth intervals its sheet gives (none is fine: every
video counts, also one without expressions). The sheets' quirks are repaired by the
rules of ``truth_interval``, the same for every dataset and each counted by kind, or
the row is rejected with a reason; the datasets' layouts live in long_sheets.py.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import posixpath
import re

from mer_tfx.errors import UserError
from mer_tfx.spotting.metric import Interval

from .frames import FrameError, listed_frames

MICRO_MAX_SECONDS = 0.5  # MEGC: an interval of at most 0.5 s is a micro-expression
FILL_MAX_SECONDS = 0.1  # a frame gap this short is filled with the previous frame

# Every reason a row or a video is left out of spotting, with what to fix.
SPOT_REJECT_REASONS = {
    "bad_frame_number": "onset/apex/offset is not a frame number",
    "no_offset": "offset is 0 or empty and the apex cannot stand in for it",
    "onset_after_offset": "onset frame is after the offset frame",
    "unknown_video": "the row names a video (or subject) no folder or naming rule gives",
    "interval_beyond_video": "onset..offset is not inside the video's frames",
    "duplicate_interval": "another row gives the same interval of the same video",
    "missing_folder": "the video's frame folder or file does not exist",
    "no_frames": "the video folder holds no image files",
    "duplicate_frame_number": "two image files of the folder carry one frame number",
    "missing_frames": f"frames missing for longer than {FILL_MAX_SECONDS} s in the middle",
    "unreadable_video": "a frame or the video file cannot be decoded",
    "inconsistent_frame_size": "a frame differs in size from the first frame",
}

# Repairs, by kind (counted per dataset in summary.json).
REPAIRS = {
    "fractional_frame_rounded": "a fractional frame number is rounded half up (1.5 -> 2)",
    "offset_zero_apex": "offset 0 or empty (CAS(ME)^2 macro rows) -> offset = apex",
    "apex_missing_midpoint": "apex -1 or empty -> apex = (onset + offset) // 2",
    "apex_outside_interval_midpoint": "apex outside onset..offset (offset < apex) -> midpoint",
    "type_from_duration": "no micro/macro type -> micro when at most 0.5 s long",
    "frames_filled": f"a gap of at most {FILL_MAX_SECONDS} s of frames -> previous frame",
}


@dataclasses.dataclass(frozen=True)
class SpotReject:
    dataset: str
    video: str
    reason: str
    detail: str
    row: int = 0  # sheet row (1-based), 0 for a whole video

    def __post_init__(self):
        if self.reason not in SPOT_REJECT_REASONS:
            raise ValueError(f"undeclared spotting reject reason {self.reason!r}")


@dataclasses.dataclass(frozen=True)
class LongVideo:
    dataset: str
    subject: str
    name: str  # unique within the dataset: s15/15_0101disgustingteeth, 006_1, spNO.1/a
    fps: float
    folder: str = ""  # frame folder (frame numbers from the file names), or
    path: str = ""  # a video file (0-based frame indices)
    truths: tuple = ()  # spotting.metric.Interval, as the sheet gives them (repaired)
    truth_rows: tuple = ()  # their sheet rows
    annotated: bool = False  # a ground-truth sheet was given for this dataset
    repairs: tuple = ()  # repair kinds applied to this video's rows (or frames)


_MISSING = {None, "", "-", "/", "-1", -1}


def frame_value(cell, repairs: list):
    """A sheet cell as a frame number: None for a missing marker; fractional frame
    numbers are rounded half up (counted); anything else non-numeric: ValueError."""
    if isinstance(cell, str):
        cell = cell.strip()
    if cell in _MISSING or isinstance(cell, bool):
        if isinstance(cell, bool):
            raise ValueError(cell)
        return None
    number = float(cell)  # ValueError for text
    if not math.isfinite(number):
        raise ValueError(cell)
    if number == -1:
        return None
    if not number.is_integer():
        repairs.append("fractional_frame_rounded")
        return int(math.floor(number + 0.5))
    return int(number)


def interval_type(cell) -> str | None:
    """me / mae from the sheets' spellings (micro-expression, Micro - 1/2, Macro, me, mae)."""
    text = re.sub(r"[^a-z]", "", str(cell or "").lower())
    if text.startswith("micro") or text == "me":
        return "me"
    if text.startswith("macro") or text == "mae":
        return "mae"
    return None


def truth_interval(onset, apex, offset, kind, label, fps: float):
    """(Interval, repairs) of one sheet row, or (None, (reason, detail)).

    The rules, for every dataset: fractional frames round half up; offset 0 or empty
    takes the apex; apex -1, empty or outside onset..offset takes the midpoint; the type
    as annotated, or from the duration when the sheet gives none.
    """
    repairs = []
    try:
        onset_n, apex_n, offset_n = (frame_value(v, repairs) for v in (onset, apex, offset))
    except (TypeError, ValueError) as error:
        return None, ("bad_frame_number", f"not a frame number: {error}")
    if onset_n is None:
        return None, ("bad_frame_number", "onset is empty")
    if not offset_n:
        if apex_n is None or apex_n <= onset_n:
            return None, ("no_offset", f"offset {offset!r} and apex {apex!r}: no end")
        offset_n = apex_n
        repairs.append("offset_zero_apex")
    if onset_n > offset_n:
        return None, ("onset_after_offset", f"onset {onset_n} is after offset {offset_n}")
    if apex_n is None:
        apex_n = (onset_n + offset_n) // 2
        repairs.append("apex_missing_midpoint")
    elif not onset_n <= apex_n <= offset_n:
        apex_n = (onset_n + offset_n) // 2
        repairs.append("apex_outside_interval_midpoint")
    typed = interval_type(kind)
    if typed is None:
        typed = "me" if (offset_n - onset_n + 1) / fps <= MICRO_MAX_SECONDS else "mae"
        repairs.append("type_from_duration")
    label = str(label).strip().lower() if label not in (None, "") else ""
    return Interval(onset_n, offset_n, typed, label, apex_n), tuple(dict.fromkeys(repairs))


class Truths:
    """Collects the truth rows of a dataset's videos, rejects and repair counts."""

    def __init__(self, dataset: str, fps: float):
        self.dataset, self.fps = dataset, fps
        self.rows = collections.defaultdict(list)  # video name -> [(row, Interval)]
        self.rejects: list[SpotReject] = []
        self.repairs = collections.defaultdict(list)  # video name -> repair kinds

    def add(self, row: int, video: str, onset, apex, offset, kind, label) -> None:
        interval, outcome = truth_interval(onset, apex, offset, kind, label, self.fps)
        if interval is None:
            self.reject(row, video, *outcome)
            return
        for other_row, other in self.rows[video]:
            if (other.onset, other.offset, other.type) == (interval.onset, interval.offset,
                                                           interval.type):
                self.reject(row, video, "duplicate_interval",
                            f"row {other_row} gives {interval.onset}..{interval.offset}")
                return
        self.rows[video].append((row, interval))
        self.repairs[video].extend(outcome)

    def reject(self, row: int, video: str, reason: str, detail: str) -> None:
        self.rejects.append(SpotReject(self.dataset, video, reason, detail, row))

    def video(self, subject: str, name: str, **where) -> LongVideo:
        rows = sorted(self.rows.pop(name, []), key=lambda r: (r[1].onset, r[1].offset))
        return LongVideo(self.dataset, subject, name, self.fps,
                         truths=tuple(i for _, i in rows), truth_rows=tuple(r for r, _ in rows),
                         annotated=True, repairs=tuple(self.repairs.pop(name, [])), **where)

    def unclaimed(self) -> None:
        """Rows whose video no folder holds become ``unknown_video`` rejects."""
        for name, rows in sorted(self.rows.items()):
            for row, _ in rows:
                self.reject(row, name, "unknown_video", f"no video folder {name!r} found")
        self.rows.clear()


def within_frames(video: LongVideo, first: int, last: int):
    """The video with truths outside frames first..last moved to rejects:
    (LongVideo, [SpotReject])."""
    keep, rows, rejects = [], [], []
    for row, truth in zip(video.truth_rows, video.truths):
        if first <= truth.onset and truth.offset <= last:
            keep.append(truth)
            rows.append(row)
        else:
            rejects.append(SpotReject(video.dataset, video.name, "interval_beyond_video",
                                      f"{truth.onset}..{truth.offset} outside frames "
                                      f"{first}..{last}", row))
    return dataclasses.replace(video, truths=tuple(keep), truth_rows=tuple(rows)), rejects


class FramesError(UserError):
    """A video that cannot be spotted: ``reason`` is a SPOT_REJECT_REASONS key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def frame_plan(video: LongVideo) -> tuple[int, int, dict, int]:
    """(first, last, frame number -> file, frames filled) of a frame-folder video.

    Frame numbers come from the file names (img001, img1000, 006_1_10000, 175); a gap
    of at most FILL_MAX_SECONDS is filled with the previous frame (counted); a longer
    gap rejects the video: its frame numbers would no longer be the sheet's.
    """
    try:
        files = listed_frames(video.folder)
    except FrameError as error:
        raise FramesError(error.reason, error.detail) from None
    numbers = sorted(files)
    limit = max(1, int(FILL_MAX_SECONDS * video.fps))
    filled = 0
    for before, after in zip(numbers, numbers[1:]):
        gap = after - before - 1
        if gap > limit:
            raise FramesError("missing_frames", f"{video.folder}: frames {before + 1}.."
                              f"{after - 1} missing ({gap} frames; at most {limit} are filled)")
        filled += gap
    return numbers[0], numbers[-1], files, filled


def iter_frames(video: LongVideo):
    """(frame number, gray frame) of the whole video in order, one frame in memory."""
    from .frames import FrameError, read_gray
    from .video import VideoError, read_interval

    if video.path:
        from .video import frame_count

        if not os.path.exists(video.path):
            raise FramesError("missing_folder", f"{video.path}: no such video file")
        count = frame_count(video.path)
        if count <= 0:
            raise FramesError("unreadable_video", f"{video.path}: OpenCV cannot read it")
        try:
            yield from enumerate(read_interval(video.path, 0, count - 1))
        except (VideoError, FrameError) as error:
            raise FramesError("unreadable_video", f"{video.path}: {error}") from None
        return
    first, last, files, _ = frame_plan(video)
    previous, shape = None, None
    for number in range(first, last + 1):
        if number in files:
            try:
                previous = read_gray(files[number])
            except FrameError as error:
                raise FramesError("unreadable_video", error.detail) from None
            if shape is None:
                shape = previous.shape
            elif previous.shape != shape:
                raise FramesError("inconsistent_frame_size",
                                  f"{files[number]}: {previous.shape} != {shape}")
        yield number, previous


def check_frames(video: LongVideo):
    """(video with its truths inside its frames, rejects, first, last) before spotting;
    (None, [the video's reject], 0, -1) when its frames cannot be read as one recording."""
    try:
        if video.path:
            from .video import frame_count

            if not os.path.exists(video.path):
                raise FramesError("missing_folder", f"{video.path}: no such video file")
            first, last = 0, frame_count(video.path) - 1
            if last < 0:
                raise FramesError("unreadable_video", f"{video.path}: OpenCV cannot read it")
        else:
            first, last, _, filled = frame_plan(video)
            if filled:
                video = dataclasses.replace(
                    video, repairs=video.repairs + ("frames_filled",) * filled)
    except FramesError as error:
        return None, [SpotReject(video.dataset, video.name, error.reason, error.detail)], 0, -1
    video, rejects = within_frames(video, first, last)
    return video, rejects, first, last


def relative_name(root: str, path: str) -> str:
    return posixpath.relpath(path.replace("\\", "/"), root.replace("\\", "/"))
