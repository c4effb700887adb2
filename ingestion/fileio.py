"""File access that works for local paths and for Beam filesystems (gs://, s3://).

Local paths go through ``os`` (fast, exact directory semantics); anything with a
scheme goes through Beam's FileSystems so the same job runs on Dataflow or Flink.
"""
from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shutil

from apache_beam.io.filesystems import FileSystems

from mer_tfx.errors import UserError

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


class DuplicateFrameNumber(UserError):
    """Two image files of one folder carry the same frame number (img46.jpg, img046.png):
    which one is the frame would depend on listing order."""


def frame_files(folder: str) -> dict[int, str]:
    """frame number -> path for the image files of a clip folder.

    DuplicateFrameNumber when two files give one number (ingestion rejects the clip).
    """
    frames = {}
    for path in sorted(list_files(folder)):
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
            number = frame_number(path)
            if number is None:
                continue
            if number in frames:
                raise DuplicateFrameNumber(
                    f"{folder}: frame {number} is both {posixpath.basename(frames[number])} "
                    f"and {posixpath.basename(path)}; keep one of them")
            frames[number] = path
    return frames


class FileTooLarge(Exception):
    """A file larger than the caller's limit, found from its size before reading it."""


def file_size(path: str) -> int | None:
    """Size in bytes from the file system's metadata (None when it does not say)."""
    if _remote(path):
        found = FileSystems.match([path], limits=[1])[0].metadata_list
        return found[0].size_in_bytes if found else None
    return os.path.getsize(path)


def open_read(path: str):
    """A binary file object for reading, local or remote."""
    return FileSystems.open(path, compression_type="uncompressed") if _remote(path) \
        else open(path, "rb")


def read_bytes(path: str, max_bytes: int | None = None) -> bytes:
    """The file's bytes; with ``max_bytes``, FileTooLarge from its size (stat) before
    anything is read, and never more than max_bytes + 1 bytes read (a size that lied)."""
    if max_bytes is not None:
        size = file_size(path)
        if size is not None and size > max_bytes:
            raise FileTooLarge(f"{path}: file of {size} bytes (limit {max_bytes})")
    with open_read(path) as handle:
        data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(f"{path}: file of more than {max_bytes} bytes")
    return data


def copy_to_local(path: str, local: str) -> None:
    """Stream ``path`` (local or remote) into the local file ``local``, 16 MiB at a time."""
    with open_read(path) as source, open(local, "wb") as target:
        shutil.copyfileobj(source, target, 16 * 2**20)


def makedirs(path: str) -> None:
    """Create a local folder and its parents; object stores need none."""
    if not _remote(path):
        os.makedirs(path, exist_ok=True)


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as handle:
        handle.write(text.encode("utf-8"))


def remove_files(paths: list[str]) -> None:
    """Delete these files (local or remote), then their local folders left empty."""
    if not paths:
        return
    FileSystems.delete(list(paths))
    for folder in sorted({os.path.dirname(p) for p in paths if not _remote(p)}, key=len,
                         reverse=True):
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
