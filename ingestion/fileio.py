"""File access that works for local paths and for Beam filesystems (gs://, s3://).

Local paths go through ``os`` (fast, exact directory semantics); anything with a
scheme goes through Beam's FileSystems so the same job runs on Dataflow or Flink.
"""
from __future__ import annotations

import fnmatch
import os
import posixpath
import re

from apache_beam.io.filesystems import FileSystems

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_LAST_INT = re.compile(r"(\d+)(?!.*\d)")


def _remote(path: str) -> bool:
    return "://" in path


def join(root: str, *parts: str) -> str:
    return posixpath.join(root, *parts) if _remote(root) else os.path.join(root, *parts)


def isdir(path: str) -> bool:
    if _remote(path):
        return bool(FileSystems.match([path.rstrip("/") + "/*"], limits=[1])[0].metadata_list)
    return os.path.isdir(path)


def list_files(folder: str) -> list[str]:
    """Full paths of the files directly inside ``folder`` (empty if it does not exist)."""
    if _remote(folder):
        prefix = folder.rstrip("/") + "/"
        found = FileSystems.match([prefix + "*"])[0].metadata_list
        return [m.path for m in found if "/" not in m.path[len(prefix):]]
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, n) for n in os.listdir(folder)
            if os.path.isfile(os.path.join(folder, n))]


def glob_dirs(root: str, pattern_parts: list[str]) -> list[str]:
    """Folders matching root/<p1>/<p2>/... with shell patterns per level."""
    if _remote(root):
        found = FileSystems.match([join(root, *pattern_parts, "*")])[0].metadata_list
        return sorted({posixpath.dirname(m.path) for m in found})
    level = [root]
    for part in pattern_parts:
        level = [os.path.join(d, n) for d in level if os.path.isdir(d)
                 for n in sorted(os.listdir(d))
                 if fnmatch.fnmatch(n, part) and os.path.isdir(os.path.join(d, n))]
    return level


def frame_number(file_name: str) -> int | None:
    """The frame number is the last integer in the file name (img46, 006_05562, image0620427)."""
    stem = os.path.splitext(posixpath.basename(file_name))[0]
    match = _LAST_INT.search(stem)
    return int(match.group(1)) if match else None


def frame_files(folder: str) -> dict[int, str]:
    """frame number -> path for the image files of a clip folder."""
    frames = {}
    for path in list_files(folder):
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
            number = frame_number(path)
            if number is not None:
                frames[number] = path
    return frames


def read_bytes(path: str) -> bytes:
    if _remote(path):
        with FileSystems.open(path) as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as handle:
        handle.write(text.encode("utf-8"))
