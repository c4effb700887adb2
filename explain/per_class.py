"""Per-class explanation for the report: Grad-CAM of each eval clip's true class,
averaged over the clips of that class (all of them, and the correctly classified
ones), drawn on the mean face of the eval clips; and, in the words a FACS coder
reads, the share of that Grad-CAM mass in each face region (ingestion/regions.py,
from each clip's landmarks).
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import tensorflow as tf

from mer_tfx.ingestion.regions import NAMES, OTHER, mass_shares

from . import overlays
from .clips import METHOD, explain_records
from .exported import ExportedModel
from .gradcam import normalised

FIGURE = "explanations.png"


def read_records(files: list) -> list:
    """Serialized records of gzip TFRecord files (ExampleGen's split files)."""
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def class_explanations(model_path: str, files: list) -> tuple[bytes, dict]:
    """(explanations.png, summary for metrics.json) over the records in ``files``."""
    started = time.perf_counter()
    records = read_records(files)
    if not records:
        raise ValueError(f"no records in {files}")
    model = ExportedModel(model_path)
    signatures = model.signatures
    labels, names = [], None
    for start in range(0, len(records), 64):
        chunk = tf.constant(records[start:start + 64])
        labels.extend(signatures["transform_features"](examples=chunk)["label_xf"].numpy().ravel())
        if names is None:
            names = [n.decode() for n in
                     signatures["serving_default"](examples=chunk[:1])["classes"].numpy()[0]]
    labels = np.asarray(labels, int)
    explanations = explain_records(model, records, class_ids=labels)
    predicted = [int(np.argmax(e.probabilities)) for e in explanations]
    mean_face = np.mean([overlays.unit(e.face) for e in explanations], axis=0)
    rows, summary = [], {}
    for index, name in enumerate(names):
        mine = [e for e, label in zip(explanations, labels) if label == index]
        right = [e for e, label, guess in zip(explanations, labels, predicted)
                 if label == index == guess]
        all_map = _mean_map(mine)
        right_map = _mean_map(right) if right else None
        rows.append((name, all_map if all_map is not None else np.zeros_like(mean_face),
                     len(mine), right_map, len(right)))
        summary[name] = {"clips": len(mine), "correct": len(right),
                         "peak_all": _peak(all_map), "peak_correct": _peak(right_map)}
    figure = overlays.classes_png(mean_face, rows)
    table = region_table([e.spatial for e in explanations], labels,
                         [record_landmarks(r) for r in records], names)
    seconds = time.perf_counter() - started
    return figure, {"method": METHOD + "; of each clip's true class, averaged per class",
                    "model": model_path, "clips": len(records), "seconds": round(seconds, 2),
                    "seconds_per_clip": round(seconds / len(records), 4), "per_class": summary,
                    "region_names": [*NAMES, OTHER], "regions": table}


def record_landmarks(serialized: bytes) -> tuple | None:
    """(landmarks, crop side) of a record, or None where none were found."""
    example = tf.train.SequenceExample.FromString(serialized)
    context = example.context.feature
    if "landmarks_found" not in context or not context["landmarks_found"].int64_list.value[0]:
        return None  # records ingested before landmarks existed, or none found
    first = example.feature_lists.feature_list["frames"].feature[0].bytes_list.value[0]
    side = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_GRAYSCALE).shape[0]
    return list(context["landmarks"].float_list.value), side


def region_table(maps: list, labels, landmarks: list, names: list) -> dict:
    """{class: {"clips": n, "shares": {region: share}}}: per class, the mean over its
    clips with landmarks of each clip's share of Grad-CAM mass per region (its own
    landmarks, scaled from its crop to the map): a row sums to 1. A class none of whose
    clips has landmarks gets clips 0 and no shares."""
    table = {}
    for index, name in enumerate(names):
        shares = [mass_shares(heat, points, side)
                  for heat, label, found in zip(maps, labels, landmarks)
                  if label == index and found is not None for points, side in [found]]
        table[name] = {"clips": len(shares),
                       "shares": {region: round(float(np.mean([s[region] for s in shares])), 4)
                                  for region in (*NAMES, OTHER)} if shares else None}
    return table


def _mean_map(explanations):
    if not explanations:
        return None
    return normalised(np.mean([e.spatial for e in explanations], axis=0))


def _peak(heat):
    """(row, column) of a map's maximum as fractions of the side, or None."""
    if heat is None or not np.any(heat):
        return None
    row, column = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return [round(row / heat.shape[0], 3), round(column / heat.shape[1], 3)]
