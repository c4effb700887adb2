"""Kubernetes resource and scheduling options as users write them -> what KFP wants.

CPU and memory limits (``500m``, ``16Gi``), node selectors (``key=value``),
tolerations (``key=value:Effect`` or JSON), PVC mounts (``claim:/path``), the
accelerator type and Beam arguments: parsed and checked here, with errors that say
what to write instead, before anything is compiled.
"""
from __future__ import annotations

import json
import logging
import re

from mer_tfx.errors import UserError
from mer_tfx.pipeline.beam_args import LOCAL_RUNNER

log = logging.getLogger(__name__)

DEFAULT_ACCELERATOR = "nvidia.com/gpu"
_K8S_RESOURCE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VERTEX_ACCELERATOR = re.compile(r"^[A-Z][A-Z0-9_]+$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PVC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CPU = re.compile(r"^([0-9]*[.])?[0-9]+m?$")
_MEMORY = re.compile(r"^([0-9]*[.])?[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki|k)?$")
_MEMORY_FACTORS = {  # unit -> bytes; ResourceSpec.memory_limit is in GB (10^9 bytes)
    "": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "Ei": 2**60,
}
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_cpu(value) -> float | None:
    """'4', '0.5' or '500m' (or a number) -> CPUs as ResourceSpec.cpu_limit wants them."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        cpus = float(value)
    elif isinstance(value, str) and _CPU.match(value.strip()):
        text = value.strip()
        cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    else:
        raise UserError(f"CPU limit {value!r}: give a number of CPUs (4, 0.5) or millicores "
                        "(500m)")
    if cpus <= 0:
        raise UserError(f"CPU limit {value!r} must be positive")
    return cpus


def parse_memory(value) -> float | None:
    """'16Gi', '32G', '512Mi' (Kubernetes units) or a number of GB -> GB (10^9 bytes)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        gigabytes = float(value)
    elif isinstance(value, str) and _MEMORY.match(value.strip()):
        text = value.strip()
        number = re.match(r"^([0-9]*[.])?[0-9]+", text).group(0)
        unit = text[len(number):]
        if not unit:
            raise UserError(f"memory limit {value!r} has no unit: write e.g. 16Gi or 32G")
        gigabytes = float(number) * _MEMORY_FACTORS[unit] / 10**9
    else:
        raise UserError(f"memory limit {value!r}: give a Kubernetes quantity such as 16Gi, "
                        "32G or 512Mi")
    if gigabytes <= 0:
        raise UserError(f"memory limit {value!r} must be positive")
    return gigabytes


def parse_node_selector(items) -> dict:
    """['key=value', ...] or a dict -> {key: value}, checked against Kubernetes label syntax."""
    if not items:
        return {}
    pairs = list(items.items()) if isinstance(items, dict) else []
    if not isinstance(items, dict):
        for item in items:
            key, sep, value = str(item).partition("=")
            if not sep:
                raise UserError(f"node selector {item!r}: write key=value, e.g. "
                                "cloud.google.com/gke-accelerator=nvidia-tesla-t4")
            pairs.append((key.strip(), value.strip()))
    labels = {}
    for key, value in pairs:
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(str(value)) or len(str(value)) > 63:
            raise UserError(f"node selector {key}={value}: not a valid Kubernetes label "
                            "key/value")
        labels[key] = str(value)
    return labels


def parse_toleration(text) -> dict:
    """One toleration from 'key=value:Effect', 'key:Effect' (operator Exists), 'key=value',
    'key' or a JSON object ({"key": ..., "operator": ..., "value": ..., "effect": ...,
    "tolerationSeconds": ...}) -> the kfp-kubernetes Toleration dict."""
    if isinstance(text, dict):
        return normalize_toleration(text)
    text = str(text).strip()
    if text.startswith("{"):
        try:
            return normalize_toleration(json.loads(text))
        except json.JSONDecodeError as error:
            raise UserError(f"toleration {text!r} is not valid JSON: {error}") from None
    if not text:
        raise UserError("empty toleration: write key=value:Effect, key:Effect or JSON")
    head, _, effect = text.partition(":")
    key, sep, value = head.partition("=")
    toleration = {"key": key.strip(), "operator": "Equal" if sep else "Exists"}
    if sep:
        toleration["value"] = value.strip()
    if effect:
        toleration["effect"] = effect.strip()
    return normalize_toleration(toleration)


def normalize_toleration(raw: dict) -> dict:
    known = {"key", "operator", "value", "effect", "tolerationSeconds", "toleration_seconds"}
    unknown = set(raw) - known
    if unknown:
        raise UserError(f"toleration {raw}: unknown field(s) {sorted(unknown)}; use key, "
                        "operator, value, effect, tolerationSeconds")
    key = str(raw.get("key") or "")
    value = str(raw.get("value") or "")
    operator = str(raw.get("operator") or ("Equal" if value else "Exists"))
    effect = str(raw.get("effect") or "")
    if operator not in ("Equal", "Exists"):
        raise UserError(f"toleration {raw}: operator must be Equal or Exists")
    if operator == "Exists" and value:
        raise UserError(f"toleration {raw}: operator Exists takes no value")
    if not key and operator != "Exists":
        raise UserError(f"toleration {raw}: an empty key needs operator Exists")
    if key and not _LABEL_KEY.match(key):
        raise UserError(f"toleration key {key!r} is not a valid Kubernetes key")
    if effect and effect not in _EFFECTS:
        raise UserError(f"toleration {raw}: effect must be one of {', '.join(_EFFECTS)}")
    result = {"key": key, "operator": operator}
    if value:
        result["value"] = value
    if effect:
        result["effect"] = effect
    seconds = raw.get("tolerationSeconds", raw.get("toleration_seconds"))
    if seconds is not None:
        if effect != "NoExecute":
            raise UserError(f"toleration {raw}: tolerationSeconds only applies to NoExecute")
        result["tolerationSeconds"] = int(seconds)
    return result


def parse_pvc(text) -> tuple:
    """'claim-name:/mount/path' -> (claim name, mount path)."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        name, mount = text
    else:
        name, sep, mount = str(text).partition(":")
        if not sep:
            raise UserError(f"PVC {text!r}: write CLAIM_NAME:/mount/path")
    name, mount = str(name).strip(), str(mount).strip()
    if not _PVC_NAME.match(name):
        raise UserError(f"PVC name {name!r} is not a valid Kubernetes name")
    if not mount.startswith("/"):
        raise UserError(f"PVC mount path {mount!r} must be absolute")
    return name, mount.rstrip("/") or "/"


def container_beam_args(beam_args, image: str) -> list:
    """Beam args for the containers. Without a runner, the local runner
    (pipeline/beam_args.py ``LOCAL_RUNNER``) uses every core of
    the pod (--direct_num_workers=0) rather than the core count of the compiling machine,
    which ``default_beam_args`` would bake in, and its workers are named as running in
    ``image`` (they are processes of the task's own container): without a worker image,
    TFX builds a 49 MB sdist of itself in every Beam task for workers to install, ~3 s
    that no DirectRunner worker reads."""
    args = [str(a) for a in (beam_args or [])]
    for arg in args:
        if not arg.startswith("--"):
            raise UserError(f"Beam arg {arg!r} must look like --name=value "
                            "(e.g. --runner=DataflowRunner)")
    if not any(a.startswith("--runner") for a in args):  # the local runner, in the pod
        args.append(f"--runner={LOCAL_RUNNER}")
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append("--direct_num_workers=0")
        if not any(a.startswith("--sdk_container_image") for a in args):
            args.append(f"--sdk_container_image={image}")
    return args


def check_accelerator(accelerator: str) -> None:
    if _K8S_RESOURCE.match(accelerator):
        return
    if _VERTEX_ACCELERATOR.match(accelerator):
        log.warning("accelerator %s is a Vertex AI type name; self-hosted KFP uses the type "
                    "verbatim as the Kubernetes resource of the limit, where it should be "
                    "nvidia.com/gpu (choose the model with a node selector)", accelerator)
        return
    raise UserError(f"accelerator {accelerator!r}: give a Kubernetes resource name such as "
                    f"nvidia.com/gpu (self-hosted KFP) or a Vertex AI type such as "
                    f"NVIDIA_TESLA_T4")


