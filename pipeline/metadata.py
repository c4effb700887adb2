"""What ML Metadata says about a local pipeline's runs: which execution produced what.

Several runs share one pipeline root (cross-validation folds), so "the newest folder"
is not "this run's output": a fold whose Evaluator came from the cache points to an
older execution's folder. ML Metadata records, for every execution (a CACHED one
too), the artifacts it output; this module reads them.
"""
from __future__ import annotations

import collections
import dataclasses

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
    return {key: [a.uri for a in artifacts]
            for key, artifacts in _outputs_by_key(store, found[-1].id).items()}


def execution_seconds(store, pipeline_name: str, node_id: str) -> list:
    """Wall time of each real (COMPLETE) execution of a node, oldest first."""
    complete = metadata_store_pb2.Execution.COMPLETE
    return [(e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000
            for e in executions(store, pipeline_name, node_id) if e.last_known_state == complete]


# --- one pipeline run ------------------------------------------------------------------------
# TFX puts every execution of a run (a CACHED one too, with OUTPUT events pointing at the
# artifacts it reused) in a "pipeline_run" context named by the run id; that is what makes
# "the outputs of this run" a fact, not a guess from folder numbers.

PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
USED_STATES = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


@dataclasses.dataclass(frozen=True)
class NodeRun:
    """One node's execution in a run: its id, whether it was a cache hit, its outputs."""

    execution_id: int
    cached: bool
    outputs: dict  # output key -> [Artifact proto]
    seconds: float = 0.0  # wall time of the execution (a cache hit's: its lookup)


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    run_id: str
    started_ms: int
    nodes: dict  # node id -> NodeRun (executions that completed or were cached)

    def uri(self, node_id: str, key: str) -> str | None:
        node = self.nodes.get(node_id)
        found = node.outputs.get(key) if node else None
        return found[0].uri if found else None

    def artifact(self, node_id: str, key: str):
        node = self.nodes.get(node_id)
        found = node.outputs.get(key) if node else None
        return found[0] if found else None


def _outputs_by_key(store, execution_id: int) -> dict:
    events = store.get_events_by_execution_ids([execution_id])
    outputs = [e for e in events if e.type in (metadata_store_pb2.Event.OUTPUT,
                                               metadata_store_pb2.Event.DECLARED_OUTPUT)]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in outputs])}
    by_key = collections.defaultdict(list)
    for event in outputs:
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        by_key[key].append(artifacts[event.artifact_id])
    return dict(by_key)


def pipeline_runs(store, pipeline_name: str) -> list:
    """Every run of the pipeline, oldest first, with the nodes that completed or hit the cache."""
    pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)
    if pipeline is None:
        return []
    prefix = f"{pipeline_name}."
    node_of = {}  # execution id -> node id
    for context in store.get_contexts_by_type(NODE_CONTEXT):
        if context.name.startswith(prefix):
            for execution in store.get_executions_by_context(context.id):
                node_of[execution.id] = context.name[len(prefix):]
    runs = []
    for context in store.get_contexts_by_type(RUN_CONTEXT):
        found = [e for e in store.get_executions_by_context(context.id) if e.id in node_of]
        if not found:
            continue  # a run of another pipeline in the same store
        nodes = {}
        for execution in sorted(found, key=lambda e: e.id):
            if execution.last_known_state in USED_STATES:
                nodes[node_of[execution.id]] = NodeRun(
                    execution.id,
                    execution.last_known_state == metadata_store_pb2.Execution.CACHED,
                    _outputs_by_key(store, execution.id),
                    (execution.last_update_time_since_epoch
                     - execution.create_time_since_epoch) / 1000)
        runs.append(PipelineRun(context.name, context.create_time_since_epoch, nodes))
    return sorted(runs, key=lambda r: (r.started_ms, r.run_id))
