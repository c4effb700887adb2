"""Deterministic synthetic micro-expression datasets in the real datasets' layouts.

``generate(layout, out_dir)`` writes face-like videos whose class shows only in
a small local motion between onset and apex, laid out exactly like CASME II,
SAMM, SMIC-HS, CAS(ME)^3 part A or the project's generic CSV format, quirks
included, so ingestion can be tested without the licensed data.  With
``inject_faults=True`` it adds one bad row (or damaged folder) per reject reason
and says which rows the readers must reject or repair.
"""
from mer_tfx.datasets import DATASET_NAMES, DATASETS

from .builder import MANIFEST, SynthError, SynthResult, generate
from .layouts import LAYOUT_CLASSES
from .video_files import SOURCE_LAYOUT, VIDEO_LAYOUT

# One synthetic layout per supported dataset (mer_tfx/datasets.py), at its frame rate;
# the video layout records the CSV layout's clips as video files (video_files.py).
# LAYOUTS: the frame-folder layouts (fault injection, file naming); generate() also takes
# VIDEO_LAYOUT.
_CLASS_OF = dict(LAYOUT_CLASSES, **{VIDEO_LAYOUT: LAYOUT_CLASSES[SOURCE_LAYOUT]})
assert set(_CLASS_OF) == set(DATASET_NAMES), "every dataset needs a synthetic layout"
assert all(float(_CLASS_OF[n].fps) == DATASETS[n].fps for n in DATASET_NAMES), \
    "a synthetic layout's fps must be its dataset's (mer_tfx/datasets.py)"
LAYOUTS = tuple(name for name in DATASET_NAMES if name != VIDEO_LAYOUT)
CLASSES_BY_LAYOUT = {name: _CLASS_OF[name].classes for name in DATASET_NAMES}
FPS_BY_LAYOUT = {name: DATASETS[name].fps for name in DATASET_NAMES}

__all__ = ["generate", "SynthResult", "SynthError", "LAYOUTS", "CLASSES_BY_LAYOUT",
           "FPS_BY_LAYOUT", "MANIFEST"]
