"""What the report says about the data: ingestion accounting and schema anomalies.

Each reads one output folder that layout.py found (local or Kubeflow layout): the
MerExampleGen ``ingest_report`` (summary.json), the ExampleValidator
``anomalies`` (one Anomalies proto per split) and the Trainer ``model_run``
(training_summary.json); None where that output is absent.
"""
from __future__ import annotations

import json

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

from .layout import join


def ingestion_summary(folder: str | None) -> dict | None:
    path = folder and join(folder, "summary.json")
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return dict(json.load(handle), path=folder)


def training_summary(folder: str | None) -> dict | None:
    """The Trainer's training_summary.json (kept epoch, how it was selected)."""
    path = folder and join(folder, "training_summary.json")
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def schema_anomalies(folder: str | None) -> dict | None:
    """{"path", "splits": {split: [{"feature", "severity", "short", "description"}]}}."""
    if not folder or not tf.io.gfile.isdir(folder):
        return None
    splits = {}
    for name in sorted(tf.io.gfile.listdir(folder)):
        name = name.rstrip("/")
        path = join(folder, name, "SchemaDiff.pb")
        if not name.startswith("Split-") or not tf.io.gfile.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as handle:
            anomalies.ParseFromString(handle.read())
        found = [{"feature": feature,
                  "severity": anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                  "short": info.short_description, "description": info.description}
                 for feature, info in sorted(anomalies.anomaly_info.items())]
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.append({"feature": "(dataset)",
                          "severity": anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                          "short": info.short_description, "description": info.description})
        splits[name[len("Split-"):]] = found
    return {"path": folder, "splits": splits}
