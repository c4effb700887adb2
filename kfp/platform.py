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


def read_package(path: str, for_cluster: bool = False):
    """Parse a package exactly as kfp 2.x's client does before uploading or running it
    (``kfp.client.client._extract_pipeline_yaml``): a (pipeline_spec, platform_spec) doc.

    for_cluster: also refuse a package compiled with ``--local`` (its pipeline root and
    data are paths on this machine, which no KFP task can open).
    """
    from kfp.client import client as kfp_client

    if not os.path.isfile(path):
        raise UserError(f"pipeline package {path} does not exist: run `mer-tfx kfp compile "
                        f"--out {path}` first")
    try:
        doc = kfp_client._extract_pipeline_yaml(path)  # noqa: SLF001
    except Exception as error:  # yaml, protobuf ParseError, ValueError
        raise UserError(f"{path} is not a KFP v2 pipeline package: {error}") from None
    root = doc.pipeline_spec.default_pipeline_root
    if for_cluster and root and "://" not in root:
        raise UserError(f"{path} was compiled with --local (pipeline root {root} is a path on "
                        f"this machine): it is for `mer-tfx kfp replay` only. Compile again "
                        f"without --local, with a gs:// or s3:// pipeline root, to upload it")
    return doc


# --- what each task asks the cluster for (printed by the replay) --------------------------

def format_toleration(toleration: dict) -> str:
    """The kfp-kubernetes toleration dict as ``key=value:Effect`` (as --toleration takes it)."""
    text = toleration.get("key", "") or "*"
    if toleration.get("operator", "Equal") == "Equal" and toleration.get("value"):
        text += f"={toleration['value']}"
    if toleration.get("effect"):
        text += f":{toleration['effect']}"
    if "tolerationSeconds" in toleration:
        text += f" for {toleration['tolerationSeconds']}s"
    return text


def _memory_text(gigabytes: float) -> str:
    gib = gigabytes * 10**9 / 2**30
    exact = f"{round(gib)}Gi ({gigabytes:.2f} GB)" if abs(gib - round(gib)) < 1e-6 else None
    return exact or f"{gigabytes:g} GB"


def scheduling_summary(task: str, resources: dict, kubernetes: dict) -> str | None:
    """One line of what ``task`` asks the cluster for, or None when it asks for nothing:
    ``Trainer: 1 x nvidia.com/gpu on cloud.google.com/gke-accelerator=nvidia-tesla-t4;
    cpu limit 8, memory limit 32Gi (34.36 GB); tolerates nvidia.com/gpu=present:NoSchedule``.

    ``resources``: the executor's container.resources (ResourceSpec as a dict);
    ``kubernetes``: its PlatformSpec executor config (nodeSelector, tolerations, ...).
    """
    parts = []
    accelerator = resources.get("accelerator") or {}
    labels = (kubernetes.get("nodeSelector") or {}).get("labels") or {}
    where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if accelerator.get("count") and int(accelerator["count"]):
        parts.append(f"{int(accelerator['count'])} x {accelerator.get('type', '?')}"
                     + (f" on {where}" if where else ""))
    elif where:
        parts.append(f"nodes with {where}")
    limits = []
    for key, word in (("cpuRequest", "cpu request"), ("cpuLimit", "cpu limit")):
        if resources.get(key):
            limits.append(f"{word} {resources[key]:g}")
    for key, word in (("memoryRequest", "memory request"), ("memoryLimit", "memory limit")):
        if resources.get(key):
            limits.append(f"{word} {_memory_text(resources[key])}")
    if limits:
        parts.append(", ".join(limits))
    tolerations = kubernetes.get("tolerations") or []
    if tolerations:
        parts.append("tolerates " + ", ".join(format_toleration(t) for t in tolerations))
    for mount in kubernetes.get("pvcMount") or []:
        claim = mount.get("constant") or (mount.get("pvcNameParameter") or {}).get(
            "runtimeValue", {}).get("constant") or mount.get("taskOutputParameter") or "?"
        parts.append(f"PVC {claim} at {mount.get('mountPath')}")
    return f"{task}: " + "; ".join(parts) if parts else None


