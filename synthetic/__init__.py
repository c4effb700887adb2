"""Deterministic synthetic micro-expression datasets in the real datasets' layouts.

``generate(layout, out_dir)`` writes face-like videos whose class shows only in
a small local motion between onset and apex, laid out exactly like CASME II,
SAMM, SMIC-HS, CAS(ME)^3 part A or the project's generic CSV format, quirks
included, so ingestion can be tested without the licensed data.  With
``inject_faults=True`` it adds one bad row (or damaged folder) per reject reason
and says which rows the readers must reject or repair.
"""
from .builder import MANIFEST, SynthError, SynthResult, generate
from .layouts import LAYOUT_CLASSES

LAYOUTS = ("casme2", "samm", "smic", "casme3", "csv")
CLASSES_BY_LAYOUT = {name: LAYOUT_CLASSES[name].classes for name in LAYOUTS}
FPS_BY_LAYOUT = {name: float(LAYOUT_CLASSES[name].fps) for name in LAYOUTS}

__all__ = ["generate", "SynthResult", "SynthError", "LAYOUTS", "CLASSES_BY_LAYOUT",
           "FPS_BY_LAYOUT", "MANIFEST"]
