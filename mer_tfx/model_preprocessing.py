"""The preprocessing a trained model was fed, carried inside the model itself.

A SavedModel holds its Transform graph, but not how the clips were made before it:
the face crop size, the crop itself, registration, the flow algorithm and the apex
policy. A model trained on 64-px unregistered Farneback clips that is fed 128-px
registered TV-L1 clips answers without complaint, and wrongly. So the Trainer
writes those settings into ``assets.extra/`` of the exported model (TF Serving's
place for files that travel with a model; the Pusher copies them too), and
``mer-tfx predict`` and ``serving_client.clip_request`` read them instead of
trusting flags. This module is the one place that knows the file and its fields.
"""
from __future__ import annotations

import json
import os
import sys

from mer_tfx.errors import UserError

ASSET = os.path.join("assets.extra", "mer_preprocessing.json")
# Ingestion settings a client must reproduce to build the model's input record.
CLIENT_INGEST = ("crop_size", "face_crop", "register", "flow_algorithm", "apex_from",
                 "apex_fallback", "align")
# What a client setting added later was before it existed: a model that does not record
# it was trained that way (the Haar box crop, before eyes alignment).
BEFORE_RECORDED = {"align": "box"}
# Transform settings that describe the input the graph builds (informative: the graph is
# in the model, a client need not reproduce them).
CLIENT_TRANSFORM = ("steps", "image_size", "temporal_strategy", "motion_channel",
                    "flow_size", "label_key", "classes")


def describe(ingest: dict, transform: dict, model: str) -> dict:
    """The asset's content from the run's settings sections (plain dicts)."""
    return {"ingest": {k: ingest[k] for k in CLIENT_INGEST},
            "transform": {k: (list(transform[k]) if isinstance(transform[k], (list, tuple))
                              else transform[k]) for k in CLIENT_TRANSFORM},
            "model": model}


def write(saved_model_dir: str, content: dict) -> str:
    import tensorflow as tf

    path = os.path.join(saved_model_dir, ASSET)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(content, indent=2) + "\n")
    return path


def read(saved_model_dir: str) -> dict | None:
    """The recorded preprocessing, or None for a model exported before it was recorded."""
    import tensorflow as tf

    path = os.path.join(saved_model_dir, ASSET)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def client_ingest(recorded: dict | None, defaults: dict, given: dict, force: bool = False,
                  stream=sys.stderr) -> dict:
    """The ingestion settings to convert a clip for this model.

    ``recorded``: the model's asset (None: an older model; flags and defaults are used,
    with a warning). ``defaults``: every client setting's value without the model.
    ``given``: only the settings the user passed; one that contradicts the model is an
    error naming both values, unless ``force`` (then it wins, and that is printed).
    """
    if recorded is None:
        print("mer-tfx: this model records no preprocessing (exported before mer-tfx "
              "recorded it): using the flags and defaults; pass the settings it was "
              "trained with", file=stream)
        return {**defaults, **given}
    chosen = {**BEFORE_RECORDED, **recorded["ingest"]}
    for name, value in sorted(given.items()):
        if name not in chosen or chosen[name] == value:
            continue
        flag = "--" + name.replace("_", "-")
        if not force:
            raise UserError(
                f"{flag} {value} contradicts the model, trained with {name} = {chosen[name]}: "
                f"drop the flag (the model's own setting is used by default), or pass --force "
                f"to feed it differently made clips anyway")
        print(f"mer-tfx: --force: {name} = {value} instead of the model's {chosen[name]}",
              file=stream)
        chosen[name] = value
    return chosen
