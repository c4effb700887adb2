"""What the KFP v2 backend writes to ML Metadata during a replay, in one place.

The real launcher records every output artifact in ML Metadata and the next task's
driver reads it back from there, so downstream tasks receive the artifact as MLMD
returns it (``metadata.toMLMDArtifact`` then ``toRuntimeArtifact`` in
``backend/src/v2/metadata``): a new id as its name, the type as an instance schema,
numbers as doubles, booleans as 0/1, lists and structs wrapped. ``Records`` keeps the
ids and does that round trip; the replay writes no MLMD database (the project's
reports read the pipeline root).
"""
from __future__ import annotations

from mer_tfx.errors import UserError


def through_mlmd(metadata: dict, where: str) -> dict:
    """Artifact metadata as it comes back from ML Metadata: numbers as doubles, booleans
    as 0/1, lists and structs wrapped in {"list": ...} / {"struct": ...}; a null is
    refused, as the backend refuses it."""
    stored = {}
    for key, value in metadata.items():
        if value is None:
            raise UserError(f"{where}: metadata {key!r} is null, which KFP cannot record in "
                            f"ML Metadata (the task would fail after running)")
        if isinstance(value, bool):
            stored[key] = 1.0 if value else 0.0
        elif isinstance(value, (int, float)):
            stored[key] = float(value)
        elif isinstance(value, list):
            stored[key] = {"list": value}
        elif isinstance(value, dict):
            stored[key] = {"struct": value}
        else:
            stored[key] = value
    return stored


class Records:
    """The ids ML Metadata would hand out and the artifacts as it would return them."""

    def __init__(self):
        self.dag_execution_id = 1  # the root DAG's execution; tasks and artifacts count on
        self._ids = {"execution": 1, "artifact": 0}

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def artifact(self, task_name: str, key: str, artifact: dict) -> dict:
        """An output artifact recorded and read back by the next driver."""
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2

        schema = pipeline_spec_pb2.ArtifactTypeSchema()
        json_format.ParseDict(artifact.get("type", {}), schema)
        kind = schema.WhichOneof("kind")
        if kind == "schema_uri":
            raise UserError(f"task {task_name} output {key!r}: a schemaUri artifact type, "
                            f"which KFP cannot record ('SchemaUri is unsupported')")
        instance_schema = (schema.instance_schema if kind == "instance_schema"
                           else f"title: {schema.schema_title}")
        metadata = through_mlmd(artifact.get("metadata") or {},
                                f"task {task_name} output {key!r}")
        metadata.setdefault("display_name", key)
        return {"name": str(self.next_id("artifact")), "uri": artifact.get("uri", ""),
                "type": {"instanceSchema": instance_schema}, "metadata": metadata}
