"""The package's Kubernetes side and its file: ResourceSpec, PlatformSpec, YAML I/O.

The package is the YAML the kfp 2.x client takes: the PipelineSpec, then (when a
node selector, toleration or PVC is asked for) the kfp-kubernetes PlatformSpec.
"""
from __future__ import annotations

import copy
import os

from mer_tfx.errors import UserError

from .options import DEFAULT_ACCELERATOR, check_accelerator, parse_cpu, parse_memory

def resource_spec(gpus: int = 0, accelerator: str = DEFAULT_ACCELERATOR, cpu_limit=None,
                  memory_limit=None):
    """A KFP ResourceSpec for with_platform_config, or None when nothing is asked for."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
    cpus, memory = parse_cpu(cpu_limit), parse_memory(memory_limit)
    if gpus < 0:
        raise UserError(f"GPU count {gpus} must be 0 or more")
    if not gpus and cpus is None and memory is None:
        return None
    spec = ResourceSpec()
    if cpus is not None:
        spec.cpu_limit = cpus
    if memory is not None:
        spec.memory_limit = memory
    if gpus:
        check_accelerator(accelerator)
        spec.accelerator.type = accelerator
        spec.accelerator.count = int(gpus)
    return spec


def executor_labels(pipeline_spec: dict) -> dict:
    """Task name -> executor label (e.g. 'Trainer' -> 'Trainer_executor')."""
    labels = {}
    for name, task in pipeline_spec["root"]["dag"]["tasks"].items():
        component = pipeline_spec["components"][task["componentRef"]["name"]]
        labels[name] = component["executorLabel"]
    return labels


def build_platform_spec(pipeline_spec: dict, per_task: dict, all_tasks: dict) -> dict:
    """The kfp-kubernetes PlatformSpec document; {} when there is nothing to say."""
    labels = executor_labels(pipeline_spec)
    executors = {}
    for task, label in sorted(labels.items()):
        config = {}
        for source in (all_tasks, per_task.get(task, {})):
            for key, value in source.items():
                if value:
                    config[key] = copy.deepcopy(value)  # no YAML anchors/aliases
        if config:
            executors[label] = config
    if not executors:
        return {}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def pvc_mount_entries(mounts: list) -> list:
    # Both the current (pvcNameParameter) and the older (constant) spelling, as
    # kfp-kubernetes writes them, so old and new KFP backends mount the claim.
    return [{"constant": name, "pvcNameParameter": {"runtimeValue": {"constant": name}},
             "mountPath": mount} for name, mount in mounts]


def write_package(pipeline_spec: dict, platform_spec: dict, out_path: str,
                  header: str = "") -> None:
    import yaml

    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    documents = [pipeline_spec] + ([platform_spec] if platform_spec else [])
    name = pipeline_spec.get("pipelineInfo", {}).get("name", "")
    with open(out_path, "w") as handle:
        handle.write(f"# PIPELINE DEFINITION\n# Name: {name}\n")
        for line in header.splitlines():
            handle.write(f"# {line}\n")
        yaml.safe_dump_all(documents, handle, sort_keys=True, default_flow_style=False)


def read_package(path: str):
    """Parse a package exactly as kfp 2.x's client does before uploading or running it
    (``kfp.client.client._extract_pipeline_yaml``): a (pipeline_spec, platform_spec) doc."""
    from kfp.client import client as kfp_client

    if not os.path.isfile(path):
        raise UserError(f"pipeline package {path} does not exist: run `mer-tfx kfp compile "
                        f"--out {path}` first")
    try:
        return kfp_client._extract_pipeline_yaml(path)  # noqa: SLF001
    except Exception as error:  # yaml, protobuf ParseError, ValueError
        raise UserError(f"{path} is not a KFP v2 pipeline package: {error}") from None


