"""``mer-tfx kfp replay``: run a compiled KFP v2 package here, task by task, as KFP would.

A package that compiles can still fail on the cluster: an executor class path that
does not import, an artifact type that does not survive the trip through ML Metadata,
a parameter the backend passes in another type. The replay finds those in minutes on
the demo data, without a cluster, by doing what the open-source KFP v2 backend does
for every task of ``root.dag`` (the MLMD-based driver and launcher of KFP 2.0-2.x,
``backend/src/v2/driver`` and ``component/launcher_v2.go``):

driver    orders the tasks by ``dependentTasks`` and their inputs; resolves parameters
          (``runtimeValue.constant`` with the ``{{$.pipeline_job_*}}`` /
          ``{{$.pipeline_task_*}}`` constants, pipeline inputs, upstream output
          parameters), checks and converts them to the component's parameter types;
          takes input artifacts from upstream outputs as ML Metadata hands them back;
          evaluates ``triggerPolicy.condition`` (kfp/conditions.py) and skips the task
          when false; gives each output the URI
          ``<pipeline root>/<pipeline name>/<run id>/<task>/<output>``.
launcher  adds parameter defaults; substitutes ``{{$}}`` (the ExecutorInput JSON) and
          the ``{{$.inputs...}}`` / ``{{$.outputs...}}`` placeholders in the container's
          command and args; runs it; reads the output metadata file (artifact metadata
          such as split names or the blessing, and output parameters) and records every
          output artifact the way ML Metadata stores it, which is what downstream
          tasks then receive (the pieces are in kfp/launcher.py).
importer  records the artifact an ``importer`` executor names.

Differences, by necessity: the command runs as a subprocess of this environment (a
leading ``python`` becomes this interpreter, ``sys.executable``; the variables the
Dockerfile sets with ENV are set), not in the image; nothing is cached; resources,
node selectors and tolerations are printed, not honoured. A local pipeline root is
allowed (the real launcher only takes object-store URIs), and the folder of each
output URI is created first, as an object store needs none. Every feature of a spec
the replay cannot reproduce (sub-DAGs, loops, exit handlers, secrets, ...) is a
UserError naming it before any task runs.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from mer_tfx.errors import UserError

from . import conditions
from .launcher import (OUTPUT_METADATA, OUTPUT_PARAMETERS, generate_output_uri, local_path,
                       pb_value, placeholders, read_executor_output, substitute, text_to_value,
                       through_mlmd, value_text)
from .platform import read_package, scheduling_summary

# What the Dockerfile sets with ENV for every task (tests/test_kfp_replay.py compares).
IMAGE_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
# PlatformSpec (kfp-kubernetes) keys: printed (scheduling, not honoured here) or refused
# (the task would run without what they give it in the pod).
_K8S_PRINTED = ("nodeSelector", "tolerations", "pvcMount", "nodeAffinity", "podAffinity",
                "podMetadata", "imagePullPolicy", "imagePullSecret", "activeDeadlineSeconds",
                "enabledSharedMemory")
_K8S_REFUSED = {"secretAsEnv": "environment variables from a Kubernetes secret",
                "secretAsVolume": "a Kubernetes secret mounted as files",
                "configMapAsEnv": "environment variables from a ConfigMap",
                "configMapAsVolume": "a ConfigMap mounted as files",
                "fieldPathAsEnv": "environment variables from the pod's fields",
                "emptyDirMounts": "an emptyDir volume",
                "genericEphemeralVolume": "an ephemeral volume"}


# --- the package ---------------------------------------------------------------------------

@dataclasses.dataclass
class Package:
    path: str
    spec: object  # pipeline_spec_pb2.PipelineSpec
    deployment: object  # PipelineDeploymentConfig
    kubernetes: dict  # executor label -> kfp-kubernetes executor config (dict)

    def component(self, task_name: str):
        task = self.spec.root.dag.tasks[task_name]
        name = task.component_ref.name
        if name not in self.spec.components:
            raise UserError(f"task {task_name}: its component {name!r} is not in the package's "
                            f"components")
        return self.spec.components[name]


def load_package(path: str) -> Package:
    """The package as the kfp client reads it, with the deployment config parsed."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    doc = read_package(path)
    deployment = pipeline_spec_pb2.PipelineDeploymentConfig()
    try:
        json_format.ParseDict(json_format.MessageToDict(doc.pipeline_spec.deployment_spec),
                              deployment)
    except json_format.ParseError as error:
        raise UserError(f"{path}: deploymentSpec has something KFP's PipelineDeploymentConfig "
                        f"does not know: {error}") from None
    kubernetes = {}
    for platform, single in doc.platform_spec.platforms.items():
        if platform != "kubernetes":
            raise UserError(f"{path}: PlatformSpec for platform {platform!r}: the replay (like "
                            f"self-hosted KFP) only knows 'kubernetes'")
        kubernetes = {label: json_format.MessageToDict(config) for label, config
                      in single.deployment_spec.executors.items()}
    return Package(path, doc.pipeline_spec, deployment, kubernetes)


def _producers(task) -> set:
    found = {spec.task_output_artifact.producer_task for spec in task.inputs.artifacts.values()
             if spec.WhichOneof("kind") == "task_output_artifact"}
    found |= {spec.task_output_parameter.producer_task for spec in task.inputs.parameters.values()
              if spec.WhichOneof("kind") == "task_output_parameter"}
    return found


def task_order(spec) -> list:
    """Tasks of root.dag in dependency order (dependentTasks and input producers); ties
    by name, so the order is the same on every replay."""
    tasks = spec.root.dag.tasks
    needs = {}
    for name, task in tasks.items():
        needs[name] = set(task.dependent_tasks) | _producers(task)
        missing = sorted(needs[name] - set(tasks))
        if missing:
            raise UserError(f"task {name} depends on {', '.join(missing)}, which "
                            f"{'is' if len(missing) == 1 else 'are'} not a task of the "
                            f"pipeline (tasks: {', '.join(sorted(tasks))})")
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(n for n in tasks if n not in done and needs[n] <= done)
        if not ready:
            raise UserError(f"tasks {', '.join(sorted(set(tasks) - done))} depend on each other "
                            f"in a cycle")
        order.append(ready[0])
        done.add(ready[0])
    return order


def check_supported(package: Package, order: list) -> None:
    """UserError for every feature of the spec the replay cannot reproduce, before any
    task runs; also checks that each input names an output its producer has."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec, problems = package.spec, []
    Strategy = pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.TriggerStrategy
    if spec.root.WhichOneof("implementation") != "dag":
        problems.append("root is not a DAG")
    if spec.root.input_definitions.artifacts:
        problems.append(f"pipeline input artifacts {sorted(spec.root.input_definitions.artifacts)}")
    labels = set()
    for name in order:
        task = spec.root.dag.tasks[name]
        component = package.component(name)
        where = f"task {name}"
        if component.WhichOneof("implementation") != "executor_label":
            problems.append(f"{where} runs a nested DAG (sub-pipeline, loop or exit-handler "
                            f"group), which the replay does not expand")
            continue
        if task.WhichOneof("iterator"):
            problems.append(f"{where} has a {task.WhichOneof('iterator')} (ParallelFor)")
        if task.HasField("iterator_policy"):
            problems.append(f"{where} has an iteratorPolicy (parallelism of a loop)")
        if task.trigger_policy.strategy not in (Strategy.TRIGGER_STRATEGY_UNSPECIFIED,
                                                Strategy.ALL_UPSTREAM_TASKS_SUCCEEDED):
            problems.append(f"{where} has trigger strategy "
                            f"{Strategy.Name(task.trigger_policy.strategy)} (an exit handler)")
        if task.trigger_policy.condition:
            try:
                conditions.check(task.trigger_policy.condition)
            except conditions.ConditionError as error:
                problems.append(f"{where} condition {task.trigger_policy.condition!r}: {error}")
        for key, param in task.inputs.parameters.items():
            kind = param.WhichOneof("kind")
            if param.parameter_expression_selector:
                problems.append(f"{where} parameter {key!r} has a parameterExpressionSelector")
            if kind == "task_final_status":
                problems.append(f"{where} parameter {key!r} is a taskFinalStatus (exit handler)")
            elif kind == "runtime_value" and param.runtime_value.WhichOneof("value") != "constant":
                problems.append(
                    f"{where} parameter {key!r} is a runtimeValue."
                    f"{param.runtime_value.WhichOneof('value')}, which the open-source KFP v2 "
                    f"driver does not resolve (compile with pipeline spec 2.1: "
                    f"runtimeValue.constant)")
            elif kind == "component_input_parameter" and \
                    param.component_input_parameter not in spec.root.input_definitions.parameters:
                problems.append(f"{where} parameter {key!r} reads pipeline input "
                                f"{param.component_input_parameter!r}, which the pipeline does "
                                f"not declare")
            elif kind == "task_output_parameter":
                producer = param.task_output_parameter
                outputs = package.component(producer.producer_task).output_definitions.parameters
                if producer.output_parameter_key not in outputs:
                    problems.append(f"{where} parameter {key!r} wants output parameter "
                                    f"{producer.output_parameter_key!r} of task "
                                    f"{producer.producer_task}, which has "
                                    f"{sorted(outputs) or 'none'}")
        for key, artifact in task.inputs.artifacts.items():
            if artifact.WhichOneof("kind") != "task_output_artifact":
                problems.append(f"{where} input artifact {key!r} is a "
                                f"{artifact.WhichOneof('kind')}")
                continue
            producer = artifact.task_output_artifact
            outputs = package.component(producer.producer_task).output_definitions.artifacts
            if producer.output_artifact_key not in outputs:
                problems.append(f"{where} input artifact {key!r} wants output "
                                f"{producer.output_artifact_key!r} of task "
                                f"{producer.producer_task}, which has outputs "
                                f"{', '.join(sorted(outputs)) or 'none'} (a missing upstream "
                                f"artifact)")
        for key, output in component.output_definitions.artifacts.items():
            if output.is_artifact_list:
                problems.append(f"{where} output {key!r} is an artifact list")
        label = component.executor_label
        labels.add(label)
        if label not in package.deployment.executors:
            problems.append(f"{where}: executor {label!r} is not in deploymentSpec.executors")
            continue
        executor = package.deployment.executors[label]
        kind = executor.WhichOneof("spec")
        if kind == "container":
            if executor.container.HasField("lifecycle"):
                problems.append(f"{where}: container lifecycle hooks (a Vertex AI feature)")
            if not executor.container.command:
                problems.append(f"{where}: the container has no command, so the image's "
                                f"ENTRYPOINT would run, which the replay does not know")
        elif kind == "importer":
            importer = executor.importer
            if importer.properties or importer.custom_properties:
                problems.append(f"{where}: importer properties/custom_properties (deprecated "
                                f"fields; the backend reads metadata)")
        elif kind == "resolver":
            problems.append(f"{where} is a resolver node: self-hosted KFP v2 cannot run it "
                            f"('resolver not implemented')")
        else:
            problems.append(f"{where}: executor kind {kind!r} (Vertex AI only)")
        for key in package.kubernetes.get(label, {}):
            if key in _K8S_REFUSED:
                problems.append(f"{where}: PlatformSpec {key} ({_K8S_REFUSED[key]}) is not "
                                f"available outside the cluster")
            elif key not in _K8S_PRINTED:
                problems.append(f"{where}: PlatformSpec key {key!r} is unknown to the replay")
    if problems:
        raise UserError(f"{package.path} cannot be replayed:\n  " + "\n  ".join(problems))


def pipeline_inputs(spec, given: dict) -> dict:
    """The root DAG's parameter values: --param values over the declared defaults."""
    declared = spec.root.input_definitions.parameters
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UserError(f"--param {', '.join(unknown)}: the pipeline has no such input "
                        f"(inputs: {', '.join(sorted(declared)) or 'none'})")
    values = {}
    for name, definition in declared.items():
        if name in given:
            values[name] = given[name]
        elif definition.HasField("default_value"):
            values[name] = pb_value(definition.default_value)
        elif definition.is_optional:
            values[name] = None
        else:
            raise UserError(f"pipeline input {name!r} has no default: pass --param {name}=VALUE")
    return values


# --- one run -------------------------------------------------------------------------------

@dataclasses.dataclass
class TaskResult:
    task: str
    status: str  # "succeeded", "skipped" (condition false) or "imported"
    seconds: float = 0.0
    outputs: dict = dataclasses.field(default_factory=dict)  # key -> RuntimeArtifact dict
    parameters: dict = dataclasses.field(default_factory=dict)


class Run:
    """One replayed run: its ids, its root, and what every finished task handed on."""

    def __init__(self, package: Package, pipeline_root: str, run_id: str | None,
                 parameters: dict, python: str, quiet: bool, out):
        self.package = package
        self.pipeline_name = package.spec.pipeline_info.name
        if not self.pipeline_name:
            raise UserError(f"{package.path}: pipelineInfo.name is empty")
        stamp = datetime.datetime.now(datetime.timezone.utc)
        self.run_id = run_id or f"replay-{stamp:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.display_name = f"{self.pipeline_name} replay {stamp:%Y-%m-%d %H:%M:%S} UTC"
        self.pipeline_root = pipeline_root
        self.root = generate_output_uri(pipeline_root, self.pipeline_name, self.run_id)
        self.parameters = parameters
        self.python, self.quiet, self.out = python, quiet, out
        self.results: dict = {}
        self.dag_execution_id = 1  # the root DAG's execution; tasks and artifacts count on
        self._ids = {"execution": 1, "artifact": 0}

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # driver: inputs -----------------------------------------------------------------------

    def _parameter(self, task_name: str, key: str, spec):
        kind = spec.WhichOneof("kind")
        if kind == "runtime_value":
            value = pb_value(spec.runtime_value.constant)
            runtime = {"{{$.pipeline_job_name}}": self.display_name,
                       "{{$.pipeline_job_resource_name}}": f"{self.pipeline_name}-{self.run_id}",
                       "{{$.pipeline_job_uuid}}": self.run_id,
                       "{{$.pipeline_task_name}}": task_name,
                       "{{$.pipeline_task_uuid}}": str(self.dag_execution_id)}
            return runtime.get(value, value) if isinstance(value, str) else value
        if kind == "component_input_parameter":
            return self.parameters[spec.component_input_parameter]
        producer = spec.task_output_parameter
        result = self.results[producer.producer_task]
        if result.status == "skipped":
            raise UserError(f"task {task_name}: parameter {key!r} comes from task "
                            f"{producer.producer_task}, which its condition skipped (a missing "
                            f"upstream output: KFP fails this task too)")
        return result.parameters[producer.output_parameter_key]

    def resolve_inputs(self, task_name: str) -> dict:
        """ExecutorInput.inputs (camelCase JSON form) as the driver resolves it."""
        task = self.package.spec.root.dag.tasks[task_name]
        definitions = self.package.component(task_name).input_definitions
        values = {}
        for key, spec in task.inputs.parameters.items():
            value = self._parameter(task_name, key, spec)
            if value is None and key in definitions.parameters and \
                    definitions.parameters[key].is_optional:
                continue  # an optional pipeline input left unset: the launcher's default
            values[key] = value
        from kfp.pipeline_spec import pipeline_spec_pb2

        type_name = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name
        for key, definition in definitions.parameters.items():
            wanted = type_name(definition.parameter_type)
            if key not in values:
                if not definition.is_optional and not definition.HasField("default_value"):
                    raise UserError(f"task {task_name}: neither value nor default value for "
                                    f"non-optional parameter {key!r}")
                continue
            value = values[key]
            if value is None:
                raise UserError(f"task {task_name}: got null for input parameter {key!r}")
            if wanted == "STRING":
                values[key] = value_text(value)
                continue
            actual = ("bool" if isinstance(value, bool) else "number"
                      if isinstance(value, (int, float)) else "string"
                      if isinstance(value, str) else "list" if isinstance(value, list)
                      else "struct")
            allowed = {"NUMBER_DOUBLE": "number", "NUMBER_INTEGER": "number",
                       "BOOLEAN": "bool", "LIST": "list", "STRUCT": "struct"}.get(wanted)
            if actual != allowed:
                raise UserError(f"task {task_name}: input parameter {key!r} type mismatch: "
                                f"expect {wanted}, got {actual}")
        artifacts = {}
        for key, spec in task.inputs.artifacts.items():
            producer = spec.task_output_artifact
            result = self.results[producer.producer_task]
            if result.status == "skipped":
                raise UserError(f"task {task_name}: input artifact {key!r} comes from task "
                                f"{producer.producer_task}, which its condition skipped (a "
                                f"missing upstream artifact: KFP fails this task too)")
            artifacts[key] = {"artifacts": [result.outputs[producer.output_artifact_key]]}
        return {"parameterValues": values, "artifacts": artifacts}

    def provision_outputs(self, task_name: str, folder: str) -> dict:
        """ExecutorInput.outputs: URIs under the run's root, the launcher's files."""
        from google.protobuf import json_format

        definitions = self.package.component(task_name).output_definitions
        artifacts = {}
        for key, spec in definitions.artifacts.items():
            artifact = {"uri": generate_output_uri(self.root, task_name, key),
                        "type": json_format.MessageToDict(spec.artifact_type)}
            if spec.HasField("metadata"):
                artifact["metadata"] = json_format.MessageToDict(spec.metadata)
            artifacts[key] = {"artifacts": [artifact]}
        parameters = {key: {"outputFile": os.path.join(folder, OUTPUT_PARAMETERS, key)}
                      for key in definitions.parameters}
        return {"artifacts": artifacts, "parameters": parameters,
                "outputFile": os.path.join(folder, OUTPUT_METADATA)}

    def record(self, task_name: str, key: str, artifact: dict) -> dict:
        """An output artifact as ML Metadata stores it and the next driver reads it back:
        new id as its name, the type schema, metadata through MLMD, display_name."""
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
        metadata = through_mlmd(artifact.get("metadata") or {}, f"task {task_name} output "
                                                                  f"{key!r}")
        metadata.setdefault("display_name", key)
        return {"name": str(self.next_id("artifact")), "uri": artifact.get("uri", ""),
                "type": {"instanceSchema": instance_schema}, "metadata": metadata}


def _condition_context(inputs: dict) -> dict:
    """The ExecutorInput as cel-go sees it: proto field names (parameter_values, ...)."""
    artifacts = {key: {"artifacts": [
        {"name": a.get("name", ""), "uri": a.get("uri", ""), "metadata": a.get("metadata", {}),
         "type": {("instance_schema" if k == "instanceSchema" else "schema_title"
                   if k == "schemaTitle" else k): v for k, v in a.get("type", {}).items()}}
        for a in listed["artifacts"]]} for key, listed in inputs["artifacts"].items()}
    return {"inputs": {"parameter_values": inputs["parameterValues"], "artifacts": artifacts,
                       "parameters": {}},
            "outputs": {"parameters": {}, "artifacts": {}, "output_file": ""}}


def _size(uri: str) -> int:
    total = 0
    if local_path(uri) and os.path.isdir(uri):
        for folder, _, files in os.walk(uri):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    elif local_path(uri) and os.path.isfile(uri):
        total = os.path.getsize(uri)
    return total


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _execute(run: Run, task_name: str, command: list, env: dict, folder: str,
             retries: int) -> None:
    """Run the task's command (streaming its output unless quiet); UserError naming the
    task, with its last lines, when it fails after the retries its retryPolicy allows."""
    for attempt in range(retries + 1):
        tail = collections.deque(maxlen=25)
        process = subprocess.Popen(command, env=env, cwd=folder, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", bufsize=1)
        try:
            for line in process.stdout:
                tail.append(line.rstrip("\n"))
                if not run.quiet:
                    sys.stderr.write(line)
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if code == 0:
            return
        if attempt < retries:
            run.say(f"    attempt {attempt + 1} failed (exit code {code}); retryPolicy allows "
                    f"{retries} retries: trying again (the backoff is not waited)")
    lines = "\n      ".join(tail)
    head = " ".join(part if len(part) < 70 else part[:60] + "..." for part in command[:3])
    raise UserError(f"task {task_name} failed: exit code {code} from {head} ...; its last "
                    f"lines:\n      {lines}")


def run_container(run: Run, task_name: str, folder: str) -> TaskResult:
    """One container task: driver, launcher, command, executor output, MLMD records."""
    package = run.package
    task = package.spec.root.dag.tasks[task_name]
    component = package.component(task_name)
    executor = package.deployment.executors[component.executor_label]
    container = executor.container
    inputs = run.resolve_inputs(task_name)
    if task.trigger_policy.condition:
        condition = task.trigger_policy.condition
        try:
            go = conditions.evaluate(condition, _condition_context(inputs))
        except conditions.ConditionError as error:
            raise UserError(f"task {task_name}: condition {condition!r} failed to evaluate: "
                            f"{error}") from None
        if not go:
            run.say(f"    condition {condition} is false: skipped, as KFP skips it")
            return TaskResult(task_name, "skipped")
        run.say(f"    condition {condition} is true")
    definitions = component.input_definitions.parameters
    for key, definition in definitions.items():  # the launcher's addDefaultParams
        if key not in inputs["parameterValues"] and definition.HasField("default_value"):
            inputs["parameterValues"][key] = pb_value(definition.default_value)
    outputs = run.provision_outputs(task_name, folder)
    executor_input = {"inputs": inputs, "outputs": outputs}
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())  # well-formed
    known = placeholders(executor_input)
    command = substitute(task_name, list(container.command) + list(container.args), known)
    if _PYTHON.match(os.path.basename(command[0])):
        command[0] = run.python
    elif not shutil.which(command[0]):
        raise UserError(f"task {task_name}: command {command[0]!r} (from the image) is not "
                        f"on this machine's PATH")
    env = dict(os.environ, **IMAGE_ENV)
    env.update({variable.name: variable.value for variable in container.env})
    input_uris = [a["uri"] for listed in inputs["artifacts"].values() for a in listed["artifacts"]]
    for key, listed in inputs["artifacts"].items():
        uri = listed["artifacts"][0]["uri"]
        if local_path(uri) and not (os.path.exists(uri) and (os.path.isfile(uri)
                                                              or os.listdir(uri))):
            run.say(f"    warning: input artifact {key!r} ({uri}) is empty: its producer wrote "
                    f"nothing there")
    size = sum(_size(uri) for uri in input_uris)
    if input_uris:
        run.say(f"    inputs: {len(input_uris)} artifacts, {_megabytes(size)} (in the pod the "
                f"KFP launcher first copies them to local disk)")
    for key, listed in outputs["artifacts"].items():
        uri = listed["artifacts"][0]["uri"]
        if local_path(uri):  # an object store needs no folders; a local disk does
            os.makedirs(uri, exist_ok=True)
    for parameter in outputs["parameters"].values():  # the launcher's prepareOutputFolders
        os.makedirs(os.path.dirname(parameter["outputFile"]), exist_ok=True)
    started = time.monotonic()
    _execute(run, task_name, command, env, folder, task.retry_policy.max_retry_count)
    seconds = time.monotonic() - started
    produced = read_executor_output(task_name, os.path.join(folder, OUTPUT_METADATA))
    result = TaskResult(task_name, "succeeded", seconds)
    for key, listed in outputs["artifacts"].items():
        artifact = dict(listed["artifacts"][0])
        written = produced.get("artifacts", {}).get(key, {}).get("artifacts", [])
        if written:  # mergeRuntimeArtifacts: the executor's uri and metadata win
            artifact["uri"] = written[0].get("uri") or artifact["uri"]
            artifact["metadata"] = {**artifact.get("metadata", {}),
                                    **written[0].get("metadata", {})}
        result.outputs[key] = run.record(task_name, key, artifact)
    out_definitions = component.output_definitions.parameters
    for key, parameter in outputs["parameters"].items():
        if key in produced.get("parameterValues", {}):
            result.parameters[key] = produced["parameterValues"][key]
            continue
        wanted = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(
            out_definitions[key].parameter_type)
        try:
            with open(parameter["outputFile"]) as handle:
                result.parameters[key] = text_to_value(handle.read(), wanted)
        except (OSError, ValueError) as error:
            raise UserError(f"task {task_name}: failed to read output parameter {key!r} "
                            f"({wanted}) from {parameter['outputFile']}: {error}") from None
    return result


def run_importer(run: Run, task_name: str) -> TaskResult:
    """An importer task: the artifact its spec names, recorded like an output."""
    from google.protobuf import json_format

    package = run.package
    task = package.spec.root.dag.tasks[task_name]
    component = package.component(task_name)
    importer = package.deployment.executors[component.executor_label].importer
    which = importer.artifact_uri.WhichOneof("value")
    if which == "constant":
        uri = pb_value(importer.artifact_uri.constant)
    elif which == "constant_value":
        uri = importer.artifact_uri.constant_value.string_value
    else:
        name = importer.artifact_uri.runtime_parameter
        if name not in task.inputs.parameters:
            raise UserError(f"task {task_name}: cannot find parameter {name!r} in the task's "
                            f"inputs to fetch the artifact uri")
        uri = run._parameter(task_name, name, task.inputs.parameters[name])  # noqa: SLF001
    if not isinstance(uri, str) or not uri:
        raise UserError(f"task {task_name}: the importer's artifact uri {uri!r} is not a "
                        f"non-empty string")
    keys = list(component.output_definitions.artifacts)
    if len(keys) != 1:
        raise UserError(f"task {task_name}: an importer needs exactly one output artifact, the "
                        f"component has {keys}")
    if local_path(uri) and not os.path.exists(uri):
        run.say(f"    warning: {uri} does not exist (the importer records the URI only)")
    artifact = {"uri": uri, "type": json_format.MessageToDict(importer.type_schema),
                "metadata": json_format.MessageToDict(importer.metadata)}
    run.say(f"    imports {uri}" + ("" if importer.reimport else
                                    " (reimport false: KFP would reuse an artifact already "
                                    "recorded for this URI)"))
    return TaskResult(task_name, "imported", 0.0,
                      outputs={keys[0]: run.record(task_name, keys[0], artifact)})


def _remote_locations(package: Package) -> list:
    """(task, parameter, URL) of every gs://, s3://, ... named in a parameter constant:
    the replayed tasks read and write there for real."""
    found = []
    for name, task in sorted(package.spec.root.dag.tasks.items()):
        for key, spec in sorted(task.inputs.parameters.items()):
            if spec.WhichOneof("kind") == "runtime_value":
                text = json.dumps(pb_value(spec.runtime_value.constant))
                for url in re.findall(r"[a-z][a-z0-9+]*://[^\s\"'\\,\]}]+", text):
                    found.append((name, key, url))
    return found


def _header(run: Run, order: list, limit: int) -> None:
    package = run.package
    images = sorted({e.container.image for e in package.deployment.executors.values()
                     if e.WhichOneof("spec") == "container"})
    run.say(f"mer-tfx kfp replay: pipeline {run.pipeline_name}, run {run.run_id}, "
            f"{limit} of {len(order)} tasks")
    run.say(f"  package       {package.path} (image {', '.join(images) or 'none'}, not pulled)")
    run.say(f"  outputs       {run.root}/<task>/<output>  (the KFP v2 layout)")
    run.say(f"  executors     run as subprocesses of this environment: `python` -> {run.python};"
            f" env {' '.join(f'{k}={v}' for k, v in IMAGE_ENV.items())} as the image sets it")
    run.say("  caching       off: every task runs (KFP reuses a cached result when a task "
            "with enableCache repeats its inputs)")
    for name, key, url in _remote_locations(package):
        run.say(f"  remote        {name}.{key} names {url}: read/written for real")
    run.say(f"Scheduling the cluster would do (not honoured here: every task runs on this "
            f"machine, {os.cpu_count()} CPUs):")
    plain = []
    from google.protobuf import json_format

    for name in order:
        component = package.component(name)
        executor = package.deployment.executors[component.executor_label]
        resources = (json_format.MessageToDict(executor.container.resources)
                     if executor.WhichOneof("spec") == "container" else {})
        kubernetes = package.kubernetes.get(component.executor_label, {})
        line = scheduling_summary(name, resources, kubernetes)
        if line:
            run.say(f"  {line}")
        else:
            plain.append(name)
        others = sorted(k for k in kubernetes if k not in
                        ("nodeSelector", "tolerations", "pvcMount"))
        for key in others:
            run.say(f"  {name}: {key} {json.dumps(kubernetes[key])}")
        for mount in kubernetes.get("pvcMount") or []:
            if not os.path.isdir(mount.get("mountPath", "")):
                run.say(f"  {name}: warning: no folder {mount.get('mountPath')} here, where the "
                        f"pod would mount its PVC")
    if plain:
        run.say(f"  {', '.join(plain)}: no requests (the cluster's defaults)")


def replay_package(package_path: str, pipeline_root: str, task_limit: int | None = None,
                   run_id: str | None = None, parameters: dict | None = None,
                   quiet: bool = False, out=None, python: str | None = None) -> dict:
    """Replay ``package_path`` with its outputs under ``pipeline_root`` (local or gs://).

    task_limit: stop after the first N tasks of the order. parameters: pipeline inputs
    (as ``--param``). quiet: do not stream the tasks' own output (their last lines are
    still in the error of a failed task). Returns {"pipeline", "run_id", "run_root",
    "pipeline_root", "seconds", "stopped_after", "tasks": [{"task", "status", "seconds",
    "outputs": {key: uri}, "metadata": {key: {...}}, "parameters": {...}}]}.
    """
    package = load_package(package_path)
    order = task_order(package.spec)
    check_supported(package, order)
    values = pipeline_inputs(package.spec, parameters or {})
    if task_limit is not None and task_limit < 1:
        raise UserError(f"--task-limit {task_limit}: give 1 or more")
    if not pipeline_root:
        raise UserError("give --pipeline-root DIR (a local folder, or gs://...)")
    if "://" not in pipeline_root:
        pipeline_root = os.path.abspath(pipeline_root)
    limit = min(task_limit or len(order), len(order))
    run = Run(package, pipeline_root, run_id, values, python or sys.executable, quiet,
              out or sys.stdout)
    if local_path(run.root) and os.path.isdir(run.root) and os.listdir(run.root):
        raise UserError(f"{run.root} holds a run already: KFP never reuses a run id; give "
                        f"another --run-id (or none for a new one)")
    _header(run, order, limit)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mer-kfp-replay-") as work:
        for index, name in enumerate(order[:limit], start=1):
            component = package.component(name)
            kind = package.deployment.executors[component.executor_label].WhichOneof("spec")
            run.say(f"task {index} of {len(order)}: {name}")
            run.next_id("execution")
            folder = os.path.join(work, name)
            os.makedirs(folder)
            if kind == "importer":
                result = run_importer(run, name)
            else:
                result = run_container(run, name, folder)
            run.results[name] = result
            if result.status != "skipped":
                run.say(f"task {index} of {len(order)}: {name} {result.status} in "
                        f"{result.seconds:.1f} s")
                for key, artifact in sorted(result.outputs.items()):
                    run.say(f"    {key} -> {artifact['uri']}")
                for key, value in sorted(result.parameters.items()):
                    run.say(f"    output parameter {key} = {value_text(value)}")
    seconds = time.monotonic() - started
    stopped = limit if limit < len(order) else None
    if stopped:
        run.say(f"stopped after task {limit} of {len(order)} (--task-limit)")
    run.say(f"replayed {limit} tasks in {seconds:.0f} s; outputs under {run.root}")
    return {"pipeline": run.pipeline_name, "run_id": run.run_id, "run_root": run.root,
            "pipeline_root": pipeline_root, "seconds": round(seconds, 1),
            "stopped_after": stopped,
            "tasks": [{"task": r.task, "status": r.status, "seconds": round(r.seconds, 1),
                       "outputs": {k: a["uri"] for k, a in r.outputs.items()},
                       "metadata": {k: a["metadata"] for k, a in r.outputs.items()},
                       "parameters": r.parameters} for r in run.results.values()]}
