"""The compiled package as the replay reads it: tasks in order, and what it refuses.

``load_package`` parses the YAML the kfp client takes (PipelineSpec, deployment config,
kfp-kubernetes PlatformSpec). ``task_order`` orders ``root.dag`` as the KFP driver
does. ``check_supported`` raises one UserError listing every feature the replay does
not reproduce, before any task runs. The project's pipelines compile to container
tasks only (no Cond, Importer, Resolver, loop or pipeline input), so those are
refused by name rather than emulated.
"""
from __future__ import annotations

import dataclasses

from mer_tfx.errors import UserError

from .platform import read_package

# PlatformSpec (kfp-kubernetes) keys: printed (scheduling, not honoured here) or refused
# (the task would run without what they give it in the pod).
K8S_PRINTED = ("nodeSelector", "tolerations", "pvcMount", "nodeAffinity", "podAffinity",
               "podMetadata", "imagePullPolicy", "imagePullSecret", "activeDeadlineSeconds",
               "enabledSharedMemory")
_K8S_REFUSED = {"secretAsEnv": "environment variables from a Kubernetes secret",
                "secretAsVolume": "a Kubernetes secret mounted as files",
                "configMapAsEnv": "environment variables from a ConfigMap",
                "configMapAsVolume": "a ConfigMap mounted as files",
                "fieldPathAsEnv": "environment variables from the pod's fields",
                "emptyDirMounts": "an emptyDir volume",
                "genericEphemeralVolume": "an ephemeral volume"}
_NOT_COMPILED = "which no pipeline of this project compiles"


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

    def container(self, task_name: str):
        """The task's PipelineContainerSpec (check_supported made sure it has one)."""
        return self.deployment.executors[self.component(task_name).executor_label].container

    def images(self) -> list:
        return sorted({e.container.image for e in self.deployment.executors.values()
                       if e.WhichOneof("spec") == "container"})


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


def _task_problems(package: Package, name: str) -> list:
    """What the replay cannot reproduce in one task's spec (not its executor)."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    Strategy = pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.TriggerStrategy
    task, where, problems = package.spec.root.dag.tasks[name], f"task {name}", []
    if task.WhichOneof("iterator"):
        problems.append(f"{where} has a {task.WhichOneof('iterator')} (ParallelFor)")
    if task.trigger_policy.strategy not in (Strategy.TRIGGER_STRATEGY_UNSPECIFIED,
                                            Strategy.ALL_UPSTREAM_TASKS_SUCCEEDED):
        problems.append(f"{where} has trigger strategy "
                        f"{Strategy.Name(task.trigger_policy.strategy)} (an exit handler)")
    if task.trigger_policy.condition:
        problems.append(f"{where} has a condition (triggerPolicy.condition "
                        f"{task.trigger_policy.condition!r}, a TFX Cond / dsl.If), "
                        f"{_NOT_COMPILED}")
    for key, param in task.inputs.parameters.items():
        kind = param.WhichOneof("kind")
        if param.parameter_expression_selector:
            problems.append(f"{where} parameter {key!r} has a parameterExpressionSelector")
        if kind == "component_input_parameter":
            problems.append(f"{where} parameter {key!r} reads pipeline input "
                            f"{param.component_input_parameter!r} (a RuntimeParameter), "
                            f"{_NOT_COMPILED}")
        elif kind == "runtime_value" and param.runtime_value.WhichOneof("value") != "constant":
            problems.append(f"{where} parameter {key!r} is a runtimeValue."
                            f"{param.runtime_value.WhichOneof('value')}, which the open-source "
                            f"KFP v2 driver does not resolve (compile with pipeline spec 2.1: "
                            f"runtimeValue.constant)")
        elif kind == "task_output_parameter":
            producer = param.task_output_parameter
            outputs = package.component(producer.producer_task).output_definitions.parameters
            if producer.output_parameter_key not in outputs:
                problems.append(f"{where} parameter {key!r} wants output parameter "
                                f"{producer.output_parameter_key!r} of task "
                                f"{producer.producer_task}, which has {sorted(outputs) or 'none'}")
        elif kind not in ("runtime_value", "task_output_parameter"):
            problems.append(f"{where} parameter {key!r} is a {kind}")
    for key, artifact in task.inputs.artifacts.items():
        if artifact.WhichOneof("kind") != "task_output_artifact":
            problems.append(f"{where} input artifact {key!r} is a {artifact.WhichOneof('kind')}")
            continue
        producer = artifact.task_output_artifact
        outputs = package.component(producer.producer_task).output_definitions.artifacts
        if producer.output_artifact_key not in outputs:
            problems.append(f"{where} input artifact {key!r} wants output "
                            f"{producer.output_artifact_key!r} of task {producer.producer_task}, "
                            f"which has outputs {', '.join(sorted(outputs)) or 'none'} (a "
                            f"missing upstream artifact)")
    return problems


def _executor_problems(package: Package, name: str, label: str) -> list:
    where, problems = f"task {name}", []
    if label not in package.deployment.executors:
        return [f"{where}: executor {label!r} is not in deploymentSpec.executors"]
    executor = package.deployment.executors[label]
    kind = executor.WhichOneof("spec")
    if kind == "container":
        if executor.container.HasField("lifecycle"):
            problems.append(f"{where}: container lifecycle hooks (a Vertex AI feature)")
        if not executor.container.command:
            problems.append(f"{where}: the container has no command, so the image's ENTRYPOINT "
                            f"would run, which the replay does not know")
    elif kind == "importer":
        problems.append(f"{where} is an importer node (a TFX Importer / dsl.importer), "
                        f"{_NOT_COMPILED}")
    elif kind == "resolver":
        problems.append(f"{where} is a resolver node: self-hosted KFP v2 cannot run it "
                        f"('resolver not implemented')")
    else:
        problems.append(f"{where}: executor kind {kind!r} (Vertex AI only)")
    for key in package.kubernetes.get(label, {}):
        if key in _K8S_REFUSED:
            problems.append(f"{where}: PlatformSpec {key} ({_K8S_REFUSED[key]}) is not "
                            f"available outside the cluster")
        elif key not in K8S_PRINTED:
            problems.append(f"{where}: PlatformSpec key {key!r} is unknown to the replay")
    return problems


def check_supported(package: Package, order: list) -> None:
    """UserError for every feature of the spec the replay cannot reproduce, before any
    task runs; also checks that each input names an output its producer has."""
    spec, problems = package.spec, []
    if spec.root.WhichOneof("implementation") != "dag":
        problems.append("root is not a DAG")
    inputs = spec.root.input_definitions
    if inputs.parameters or inputs.artifacts:
        names = sorted(inputs.parameters) + sorted(inputs.artifacts)
        problems.append(f"pipeline inputs {', '.join(names)} (RuntimeParameters), "
                        f"{_NOT_COMPILED}")
    for name in order:
        component = package.component(name)
        if component.WhichOneof("implementation") != "executor_label":
            problems.append(f"task {name} runs a nested DAG (sub-pipeline, loop or exit-handler "
                            f"group), which the replay does not expand")
            continue
        problems += _task_problems(package, name)
        for key, output in component.output_definitions.artifacts.items():
            if output.is_artifact_list:
                problems.append(f"task {name} output {key!r} is an artifact list")
        problems += _executor_problems(package, name, component.executor_label)
    if problems:
        raise UserError(f"{package.path} cannot be replayed:\n  " + "\n  ".join(problems))
