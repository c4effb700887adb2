"""Folders of a local pipeline root: <root>/<Component>/<output>/<execution id>/.

Works for local paths and gs:// alike (tf.io.gfile, "/" joins for URLs).
"""
from __future__ import annotations

import os
import posixpath

import tensorflow as tf


def join(*parts: str) -> str:
    # gs:// and other URLs need "/" whatever the local OS separator is.
    return posixpath.join(*parts) if "://" in parts[0] else os.path.join(*parts)


def numbered_folders(path: str) -> list:
    """(execution id, path) for each numeric sub-folder, ascending by id."""
    if not tf.io.gfile.isdir(path):
        return []
    found = []
    for name in tf.io.gfile.listdir(path):
        name = name.rstrip("/")
        if name.isdigit() and tf.io.gfile.isdir(join(path, name)):
            found.append((int(name), join(path, name)))
    return sorted(found)


def newest(path: str) -> str | None:
    """The highest-numbered execution folder under ``path``, or None."""
    found = numbered_folders(path)
    return found[-1][1] if found else None


def newest_trained_model(pipeline_root: str) -> str | None:
    """The newest Trainer's serving SavedModel (pushed or not), or None."""
    folder = newest(join(pipeline_root, "Trainer", "model"))
    model = folder and join(folder, "Format-Serving")
    return model if model and tf.io.gfile.exists(join(model, "saved_model.pb")) else None
