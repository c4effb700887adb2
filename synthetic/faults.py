"""Bad rows and damaged files, one of each kind the ingestion job must reject.

Disk faults (missing, unreadable, oversized frame) are applied to extra copies of
a clip that no good row uses, so every good row stays good.  Row faults reuse a
good row's folder with one bad cell.  Every fault is a ``Record`` with ``reason``
set to the reject keyword the readers are expected to give.
"""
from __future__ import annotations

import dataclasses
import os

from . import encode

UNKNOWN_LABEL = "confused"
ESCAPE = "../../etc"
BAD_NUMBER = "12.5"


def _middle(record) -> int:
    """A frame number strictly inside onset..offset (the apex)."""
    return record.onset + (record.offset - record.onset) // 2


def inject(layout, writer, template, rng) -> list:
    """Fault records for ``layout``; ``writer`` makes extra clips, ``template`` is a good row."""
    faults = []
    label = layout.classes[0]
    for kind in layout.fault_kinds:
        if kind in ("missing_frame", "unreadable_frame", "oversized_image", "no_frames"):
            kind_label = layout.classes[len(faults) % len(layout.classes)] \
                if layout.name == "smic" else label
            record, paths = writer.extra_clip(kind_label, salt=len(faults))
            number = _middle(record)
            if kind == "missing_frame":
                os.remove(paths[number])
            elif kind == "unreadable_frame":
                with open(paths[number], "wb") as handle:
                    handle.write(encode.garbage(rng))
            elif kind == "oversized_image":
                with open(paths[number], "wb") as handle:
                    handle.write(encode.flat_oversized(layout.ext))
            elif kind == "no_frames":
                for path in paths.values():
                    os.remove(path)
        elif kind == "missing_folder":
            record = dataclasses.replace(template, clip=writer.free_name(label), extra=dict(
                template.extra))
        else:
            record = dataclasses.replace(template, extra=dict(template.extra))
            if kind == "onset_after_offset":
                record.onset, record.offset = template.offset, template.onset
            elif kind == "unknown_label":
                record.cell_label = UNKNOWN_LABEL
            elif kind == "path_escape":
                record.clip = ESCAPE
            elif kind == "bad_frame_number":
                record.onset = BAD_NUMBER
        if record.apex is None:  # fault rows carry a plain apex: one problem per row
            record.apex = _middle(template)
        record.repair = False
        record.reason = kind
        faults.append(record)
    return faults
