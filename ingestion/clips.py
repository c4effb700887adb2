"""The unit of ingestion work: one annotated clip, or the reason a row was rejected.

Readers turn annotation rows into these; the Beam job turns a ``ClipSpec`` into a
record or into a ``Reject``. Keeping both as plain frozen dataclasses lets Beam
pickle them to any runner and lets tests build them by hand.
"""
from __future__ import annotations

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """An annotation row that passed the annotation-level checks."""

    row: int  # 1-based row in the annotation file (header rows counted), for humans
    dataset: str
    subject: str  # subject as the dataset's folders name it: sub01, 006, s1, spNO.1
    clip: str  # clip folder name; <folder or video>@<onset>-<offset> for an interval of a
    # recording several rows annotate (ingestion/readers.py unique_clip_ids)
    clip_dir: str  # folder holding the frame files
    label: str  # canonical lower-case emotion (mer_tfx.labels)
    onset: int  # absolute frame numbers, inclusive
    apex: int
    offset: int
    fps: float
    action_units: str = ""
    repairs: tuple = ()  # repairs applied to keep the row, e.g. ("apex_midpoint",)
    video: str = ""  # the video file the frames come from (0-based indices); "" = clip_dir

    @property
    def clip_id(self) -> str:
        return f"{self.subject}/{self.clip}"


@dataclasses.dataclass(frozen=True)
class Reject:
    """A row that could not be converted, with a keyword reason and a human detail."""

    row: int
    clip: str
    reason: str  # a key of REJECT_REASONS
    detail: str = ""
    dataset: str = ""  # the source it came from (per-dataset accounting)

    def __post_init__(self):
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"reject reason {self.reason!r} is not declared in "
                             f"ingestion/clips.py REJECT_REASONS")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


# Where a clip's apex comes from (ingestion/convert.py choose_apex).
APEX_FALLBACKS = ("spot", "midpoint")  # when the annotation has no usable apex
APEX_FROM = ("annotation", "spotting")  # spotting: spot every clip's apex
APEX_SOURCES = ("annotated", "spotted", "midpoint")

# Sanity limits on input: beyond them a clip is bad input, rejected with a reason.
MAX_CLIP_FRAMES = 5000
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 64 * 1024 * 1024

# Every reject keyword the job can produce, with what the user should fix.
REJECT_REASONS = {
    "bad_frame_number": "onset/apex/offset is not an integer frame number",
    "onset_after_offset": "onset frame is after the offset frame",
    "unknown_label": "emotion label is not one of the known emotions",
    "excluded_class": "label is outside the class set the pipeline trains on",
    "missing_subject": "subject or clip name is empty",
    "path_escape": "subject/clip path would leave --root",
    "missing_folder": "clip folder does not exist",
    "no_frames": "clip folder holds no image files",
    "missing_frame": "a frame between onset and offset has no file",
    "unreadable_frame": "a frame file could not be decoded as an image",
    "inconsistent_frame_size": "a frame differs in size from the onset frame",
    "oversized_image": f"a frame has more than {MAX_PIXELS:,} pixels or "
                       f"{MAX_FILE_BYTES // 2**20} MiB",
    "unreadable_video": "the video file is missing or OpenCV cannot decode it",
    "interval_beyond_video": "onset..offset reaches past the video's last frame",
    "too_many_frames": f"onset..offset spans more than {MAX_CLIP_FRAMES} frames",
    "duplicate_frame_number": "two image files of the clip folder carry one frame number",
    "duplicate_interval": "another row annotates the same frames of the same folder or video",
    "bad_fps": "the fps cell is not a positive number",
}
