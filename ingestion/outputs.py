"""Output folders the program owns: a marker names the command that made a folder, and
a re-run removes only the files that command writes there, never anything else.

``mer-tfx ingest --out`` and ``mer-tfx synth --layout video`` clear their earlier
outputs before writing; pointed at a folder of the user's by mistake, they must refuse
rather than delete it.
"""
from __future__ import annotations

import fnmatch
import os
import posixpath

from apache_beam.io.filesystems import FileSystems

from mer_tfx.errors import UserError

from . import fileio

MARKER = ".mer-tfx-output"


class ForeignOutput(UserError):
    """The output folder holds files the command did not write; nothing was deleted."""


def _marker_writer(folder: str) -> str | None:
    """The command named by the folder's marker, None without a marker."""
    path = fileio.join(folder, MARKER)
    if not FileSystems.exists(path):
        return None
    return fileio.read_bytes(path).decode("utf-8", "replace").split("\n", 1)[0].strip()


def _has_content(folder: str) -> bool:
    if "://" in folder:
        return fileio.isdir(folder)
    return os.path.isdir(folder) and bool(os.listdir(folder))


def _files_below(folder: str) -> list[str]:
    return sorted(os.path.join(top, name) for top, _, names in os.walk(folder)
                  for name in names)


def claim(folder: str, command: str, owned: tuple = (), exclusive: tuple = ()) -> None:
    """Make ``folder`` ready for ``command``'s outputs, or ForeignOutput.

    ``owned``: glob patterns (relative to the folder) of the files ``command`` writes,
    removed here from a folder its marker says it made; ``exclusive``: subfolders only it
    writes into, so any other file there (it would be read as output) refuses the run.
    A folder with content and no marker from ``command`` is refused whole. Remote
    folders (gs://, ...) are checked and marked; their files are overwritten, not removed.
    """
    if "://" not in folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise ForeignOutput(f"{folder} is a file, not a folder: choose a folder for the output")
    writer = _marker_writer(folder) if _has_content(folder) else command
    if writer != command:
        made = f"was made by {writer}" if writer else f"has no {MARKER} marker"
        raise ForeignOutput(
            f"{folder} is not empty and {made}, so {command} will not clear it: choose a "
            f"new or empty folder (nothing was deleted)")
    if "://" not in folder and os.path.isdir(folder):
        _remove_owned(folder, command, owned, exclusive)
    fileio.makedirs(folder)
    fileio.write_text(fileio.join(folder, MARKER),
                      f"{command}\nmer-tfx wrote this folder; a re-run of {command} removes "
                      f"only what it wrote here: {', '.join(owned)}\n")


def _remove_owned(folder: str, command: str, owned: tuple, exclusive: tuple) -> None:
    def is_owned(path):
        relative = os.path.relpath(path, folder).replace(os.sep, "/")
        return any(fnmatch.fnmatchcase(relative, pattern) and
                   relative.count("/") == pattern.count("/") for pattern in owned)

    foreign = [p for sub in exclusive for p in _files_below(os.path.join(folder, sub))
               if not is_owned(p)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise ForeignOutput(
            f"{foreign[0]}{more} not written by {command}: move them out of "
            f"{posixpath.dirname(foreign[0])} or choose another folder (nothing was deleted)")
    emptied = set()
    for path in _files_below(folder):
        if is_owned(path):
            os.remove(path)
            emptied.add(os.path.dirname(path))
    for path in sorted(emptied, key=len, reverse=True):
        while path != folder and os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)
            path = os.path.dirname(path)
