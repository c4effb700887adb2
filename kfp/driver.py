"""What the KFP v2 driver does before a task runs (``backend/src/v2/driver``).

``Run`` holds one replayed run: its id and root, and what every finished task handed
on. For a task it resolves the input parameters (``runtimeValue.constant`` with the
``{{$.pipeline_job_*}}`` / ``{{$.pipeline_task_*}}`` constants, upstream output
parameters), checks and converts them to the component's parameter types, takes the
input artifacts as ML Metadata hands them back (kfp/records.py), adds the launcher's
parameter defaults, and gives each output the URI
``<pipeline root>/<pipeline name>/<run id>/<task>/<output>``.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import uuid

from mer_tfx.errors import UserError

from .launcher import (OUTPUT_METADATA, OUTPUT_PARAMETERS, generate_output_uri, pb_value,
                       value_text)
from .records import Records

_KINDS = {"NUMBER_DOUBLE": "number", "NUMBER_INTEGER": "number", "BOOLEAN": "bool",
          "LIST": "list", "STRUCT": "struct"}


@dataclasses.dataclass
class TaskResult:
    task: str
    status: str  # "succeeded"
    seconds: float = 0.0
    outputs: dict = dataclasses.field(default_factory=dict)  # key -> RuntimeArtifact dict
    parameters: dict = dataclasses.field(default_factory=dict)
    container: dict = dataclasses.field(default_factory=dict)  # --docker: image id, exit code


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "struct"


class Run:
    """One replayed run: its ids, its root, and what every finished task handed on."""

    def __init__(self, package, pipeline_root: str, run_id: str | None, quiet: bool, out):
        self.package = package
        self.pipeline_name = package.spec.pipeline_info.name
        if not self.pipeline_name:
            raise UserError(f"{package.path}: pipelineInfo.name is empty")
        stamp = datetime.datetime.now(datetime.timezone.utc)
        self.run_id = run_id or f"replay-{stamp:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.display_name = f"{self.pipeline_name} replay {stamp:%Y-%m-%d %H:%M:%S} UTC"
        self.pipeline_root = pipeline_root
        self.root = generate_output_uri(pipeline_root, self.pipeline_name, self.run_id)
        self.quiet, self.out = quiet, out
        self.records = Records()
        self.results: dict = {}

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def _parameter(self, task_name: str, spec):
        if spec.WhichOneof("kind") == "runtime_value":
            value = pb_value(spec.runtime_value.constant)
            runtime = {"{{$.pipeline_job_name}}": self.display_name,
                       "{{$.pipeline_job_resource_name}}": f"{self.pipeline_name}-{self.run_id}",
                       "{{$.pipeline_job_uuid}}": self.run_id,
                       "{{$.pipeline_task_name}}": task_name,
                       "{{$.pipeline_task_uuid}}": str(self.records.dag_execution_id)}
            return runtime.get(value, value) if isinstance(value, str) else value
        producer = spec.task_output_parameter
        return self.results[producer.producer_task].parameters[producer.output_parameter_key]

    def resolve_inputs(self, task_name: str) -> dict:
        """ExecutorInput.inputs (camelCase JSON form) as the driver resolves it, with the
        launcher's defaults for parameters the task does not set."""
        task = self.package.spec.root.dag.tasks[task_name]
        definitions = self.package.component(task_name).input_definitions.parameters
        values = {key: self._parameter(task_name, spec)
                  for key, spec in task.inputs.parameters.items()}
        from kfp.pipeline_spec import pipeline_spec_pb2

        type_name = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name
        for key, definition in definitions.items():
            wanted = type_name(definition.parameter_type)
            if key not in values:
                if definition.HasField("default_value"):  # the launcher's addDefaultParams
                    values[key] = pb_value(definition.default_value)
                elif not definition.is_optional:
                    raise UserError(f"task {task_name}: neither value nor default value for "
                                    f"non-optional parameter {key!r}")
                continue
            value = values[key]
            if value is None:
                raise UserError(f"task {task_name}: got null for input parameter {key!r}")
            if wanted == "STRING":
                values[key] = value_text(value)
            elif _kind(value) != _KINDS.get(wanted):
                raise UserError(f"task {task_name}: input parameter {key!r} type mismatch: "
                                f"expect {wanted}, got {_kind(value)}")
        artifacts = {}
        for key, spec in task.inputs.artifacts.items():
            producer = spec.task_output_artifact
            result = self.results[producer.producer_task]
            artifacts[key] = {"artifacts": [result.outputs[producer.output_artifact_key]]}
        return {"parameterValues": values, "artifacts": artifacts}

    def provision_outputs(self, task_name: str, scratch: str) -> dict:
        """ExecutorInput.outputs: URIs under the run's root; the launcher's files under
        ``scratch`` as the task sees it (its folder here, /tmp in a container)."""
        from google.protobuf import json_format

        definitions = self.package.component(task_name).output_definitions
        artifacts = {}
        for key, spec in definitions.artifacts.items():
            artifact = {"uri": generate_output_uri(self.root, task_name, key),
                        "type": json_format.MessageToDict(spec.artifact_type)}
            if spec.HasField("metadata"):
                artifact["metadata"] = json_format.MessageToDict(spec.metadata)
            artifacts[key] = {"artifacts": [artifact]}
        parameters = {key: {"outputFile": os.path.join(scratch, OUTPUT_PARAMETERS, key)}
                      for key in definitions.parameters}
        return {"artifacts": artifacts, "parameters": parameters,
                "outputFile": os.path.join(scratch, OUTPUT_METADATA)}
