"""What ML Metadata says about a local pipeline's runs: which execution produced what.

Several runs share one pipeline root (cross-validation folds), so "the newest folder"
is not "this run's output": a fold whose Evaluator came from the cache points to an
older execution's folder. ML Metadata records, for every execution (a CACHED one
too), the artifacts it output; this module reads them.
"""
from __future__ import annotations

import collections

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

NODE_CONTEXT = "node"


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def executions(store, pipeline_name: str, node_id: str) -> list:
    """Every execution of one pipeline node, oldest first."""
    context = store.get_context_by_type_and_name(NODE_CONTEXT, f"{pipeline_name}.{node_id}")
    if context is None:
        return []
    return sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)


def executed_count(store, pipeline_name: str, node_id: str) -> int:
    """How often the node really ran (COMPLETE), cache hits (CACHED) not counted."""
    complete = metadata_store_pb2.Execution.COMPLETE
    return sum(e.last_known_state == complete
               for e in executions(store, pipeline_name, node_id))


def latest_outputs(store, pipeline_name: str, node_id: str) -> dict:
    """{output key: [artifact URI]} of the node's newest execution (cached or not)."""
    found = executions(store, pipeline_name, node_id)
    if not found:
        return {}
    events = store.get_events_by_execution_ids([found[-1].id])
    outputs = [e for e in events if e.type in (metadata_store_pb2.Event.OUTPUT,
                                               metadata_store_pb2.Event.DECLARED_OUTPUT)]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in outputs])}
    by_key = collections.defaultdict(list)
    for event in outputs:
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        by_key[key].append(artifacts[event.artifact_id].uri)
    return dict(by_key)


def execution_seconds(store, pipeline_name: str, node_id: str) -> list:
    """Wall time of each real (COMPLETE) execution of a node, oldest first."""
    complete = metadata_store_pb2.Execution.COMPLETE
    return [(e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000
            for e in executions(store, pipeline_name, node_id) if e.last_known_state == complete]
