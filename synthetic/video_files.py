"""The ``video`` layout: each subject's clips recorded as one lossless video file.

Long recordings with annotated intervals, as CAS(ME)^3 and SAMM ship them and a
camera records them: the generic CSV layout's clips are generated, converted to
gray exactly as ingestion reads frame files, and written back to back into
``<root>/<subject>/recording.avi`` (FFV1, lossless), with a sheet of
``subject,video,onset,apex,offset,label,fps`` rows in 0-based video frame indices.
Because FFV1 is lossless, ingesting these videos gives the same frames as
ingesting the CSV layout's folders.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import shutil

import cv2

VIDEO_LAYOUT = "video"
SOURCE_LAYOUT = "csv"  # the clips are generated in this layout first
FOURCC = "FFV1"
VIDEO_NAME = "recording.avi"
ANNOTATIONS = "intervals.csv"
COLUMNS = ["subject", "video", "onset", "apex", "offset", "label", "fps"]
COMMAND = "mer-tfx synth --layout video"
# What this layout writes under --out: a re-run removes these and nothing else.
OUTPUTS = (f"videos/*/{VIDEO_NAME}", ANNOTATIONS)


def generate_videos(out_dir: str, **generate_args):
    """Write the video layout under ``out_dir``; returns a SynthResult whose clips carry
    0-based video indices and a ``video`` path (relative to the root)."""
    from mer_tfx.ingestion import fileio, outputs
    from mer_tfx.ingestion.frames import decode_gray

    from .builder import SynthError, generate

    if generate_args.get("inject_faults"):
        raise SynthError("the video layout has no fault injection (use --layout csv)")
    out_dir = os.path.abspath(out_dir)
    outputs.claim(out_dir, COMMAND, owned=OUTPUTS, exclusive=("videos",))
    staging = os.path.join(out_dir, "_clips")
    source = generate(SOURCE_LAYOUT, staging, **generate_args)
    root = os.path.join(out_dir, "videos")
    clips, rows = [], []
    by_subject = {}
    for clip in source.clips:
        by_subject.setdefault(clip["subject"], []).append(clip)
    for subject, subject_clips in sorted(by_subject.items()):
        os.makedirs(os.path.join(root, subject), exist_ok=True)
        relative = f"{subject}/{VIDEO_NAME}"
        writer, index = None, 0
        try:
            for clip in subject_clips:
                files = fileio.frame_files(os.path.join(source.root, subject, clip["clip"]))
                start = index
                for number in range(clip["onset"], clip["offset"] + 1):
                    gray = decode_gray(fileio.read_bytes(files[number]), files[number])
                    if writer is None:
                        writer = cv2.VideoWriter(
                            os.path.join(root, relative), cv2.VideoWriter_fourcc(*FOURCC),
                            source.fps, (gray.shape[1], gray.shape[0]), isColor=False)
                    writer.write(gray)
                    index += 1
                shift = start - clip["onset"]
                moved = dict(clip, video=relative, onset=start, offset=index - 1,
                             apex=None if clip["apex"] is None else clip["apex"] + shift,
                             true_apex=clip["true_apex"] + shift, source_clip=clip["clip"],
                             clip=f"{os.path.splitext(VIDEO_NAME)[0]}@{start}-{index - 1}",
                             row=len(rows) + 2)
                clips.append(moved)
                rows.append([subject, relative, start, "" if moved["apex"] is None
                             else moved["apex"], index - 1, clip["label"], source.fps])
        finally:
            if writer is not None:
                writer.release()
    annotations = os.path.join(out_dir, ANNOTATIONS)
    with open(annotations, "w", newline="") as handle:
        csv.writer(handle).writerows([COLUMNS] + rows)
    shutil.rmtree(staging)
    return dataclasses.replace(source, layout=VIDEO_LAYOUT, root=root, annotations=annotations,
                               clips=clips, expected_rejects={}, faults=[], manifest="",
                               expected_repairs=[c["row"] for c in clips if c["apex"] is None])
