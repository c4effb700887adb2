"""The supported datasets, listed once: name, frame rate, annotation file, folder layout.

The CLI's choices, the readers (ingestion/readers.py), the synthetic generator's
layouts (synthetic/) and the Kubeflow compile options all derive from this table;
a dataset's annotation quirks live with its reader, one comment per repair.
Light on purpose (no Beam, no TensorFlow): argument parsing imports it.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fps: float  # frames per second of the recordings (a sheet's fps column wins)
    needs_annotations: bool  # SMIC's labels come from its folders
    frames: str  # where one frame lies below the dataset root


DATASETS = {d.name: d for d in (
    Dataset("casme2", "CASME II", 200.0, True, "sub01/EP02_01f/img46.jpg"),
    Dataset("samm", "SAMM", 200.0, True, "006/006_1_2/006_05562.jpg"),
    Dataset("smic", "SMIC-HS", 100.0, False, "s1/micro/positive/s1_po_01/image0620427.bmp"),
    Dataset("casme3", "CAS(ME)^3 part A", 30.0, True, "spNO.1/a/color/175.jpg"),
    Dataset("csv", "generic CSV format", 30.0, True, "<subject>/<clip>/<name>_<frame>.png"),
    # Video files plus a sheet of intervals (0-based frame indices), read in place.
    Dataset("video", "video files with annotated intervals", 30.0, True,
            "<subject>/<recording>.avi (frames are 0-based video indices)"),
)}
DATASET_NAMES = tuple(DATASETS)

# Long recordings for spotting (`mer-tfx spot`, ingestion/long_sheets.py), read in place;
# the ground-truth sheet is optional. "video" is the same type as above.
LONG_VIDEOS = {d.name: d for d in (
    Dataset("casme_sq", "CAS(ME)^2", 30.0, False, "rawpic/s15/15_0101disgustingteeth/img001.jpg"),
    Dataset("samm_lv", "SAMM Long Videos", 200.0, False, "SAMM_longvideos/006_1/006_1_0001.jpg"),
    Dataset("casme3_lv", "CAS(ME)^3 part A, long videos", 30.0, False,
            "part_A/spNO.1/a/color/175.jpg"),
    DATASETS["video"],
)}
LONG_VIDEO_NAMES = tuple(LONG_VIDEOS)


@dataclasses.dataclass(frozen=True)
class Source:
    """One dataset on disk, as a run reads it: ``--source DATASET ROOT [ANNOTATIONS]``."""

    dataset: str
    root: str
    annotations: str | None = None

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of "
                             f"{list(DATASET_NAMES)}")

    @classmethod
    def from_row(cls, row) -> "Source":
        return cls(row[0], row[1], row[2] if len(row) > 2 and row[2] else None)

    def to_row(self) -> list:
        return [self.dataset, self.root] + ([self.annotations] if self.annotations else [])
