"""``mer-tfx kfp replay``: run a compiled KFP v2 package here, task by task, as KFP would.

A package that compiles can still fail on the cluster: an executor class path that
does not import, an artifact type that does not survive the trip through ML Metadata,
a parameter the backend passes in another type, and, run in the image (``--docker``),
a package missing from it, a working directory or a variable only this machine has.
The replay finds those in minutes on the demo data, without a cluster, by doing what
the open-source KFP v2 backend (the MLMD-based driver and launcher of KFP 2.x) does for
every task of ``root.dag``:

package   reads the package, orders the tasks, refuses what it does not reproduce
          (kfp/package.py);
driver    resolves each task's inputs and gives its outputs their URIs
          ``<pipeline root>/<pipeline name>/<run id>/<task>/<output>`` (kfp/driver.py);
launcher  substitutes ``{{$}}`` (the ExecutorInput JSON) and the ``{{$.inputs...}}`` /
          ``{{$.outputs...}}`` placeholders in the container's command and args, runs it
          (kfp/runners.py: here, or in the image with ``--docker``), reads the output
          metadata file and output parameters (kfp/launcher.py) and records the outputs
          as ML Metadata returns them to the next task (kfp/records.py).

Not reproduced: Kubernetes scheduling (resources, node selectors and tolerations are
printed; GPUs are given with ``--docker`` where the engine has them), object-store
permissions (a local pipeline root is allowed, the real launcher takes object-store
URIs only), retries and caching (every task runs once).
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time

from mer_tfx.errors import UserError

from .driver import Run, TaskResult
from .launcher import (OUTPUT_METADATA, OUTPUT_PARAMETERS, local_path, pb_value,
                       placeholders, read_executor_output, substitute, text_to_value,
                       value_text)
from .package import Package, check_supported, load_package, task_order
from .platform import scheduling_summary
from .runners import DockerRunner, HostRunner


def run_task(run: Run, runner, task_name: str, folder: str) -> TaskResult:
    """One container task: driver, launcher, command, executor output, MLMD records."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    component = run.package.component(task_name)
    container = run.package.container(task_name)
    inputs = run.resolve_inputs(task_name)
    outputs = run.provision_outputs(task_name, runner.scratch(folder))
    executor_input = {"inputs": inputs, "outputs": outputs}
    json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())  # well-formed
    command = substitute(task_name, list(container.command) + list(container.args),
                         placeholders(executor_input))
    for key, listed in inputs["artifacts"].items():
        uri = listed["artifacts"][0]["uri"]
        if local_path(uri) and not (os.path.isfile(uri) or os.path.isdir(uri)
                                    and os.listdir(uri)):
            run.say(f"    warning: input artifact {key!r} ({uri}) is empty: its producer wrote "
                    f"nothing there")
    for listed in outputs["artifacts"].values():
        uri = listed["artifacts"][0]["uri"]
        if local_path(uri):  # an object store needs no folders; a local disk does
            os.makedirs(uri, exist_ok=True)
    os.makedirs(os.path.join(folder, OUTPUT_PARAMETERS), exist_ok=True)
    started = time.monotonic()
    where = runner.run_task(task_name, command, container, folder)
    result = TaskResult(task_name, "succeeded", time.monotonic() - started, container=where)
    produced = read_executor_output(task_name, os.path.join(folder, OUTPUT_METADATA))
    for key, listed in outputs["artifacts"].items():
        artifact = dict(listed["artifacts"][0])
        written = produced.get("artifacts", {}).get(key, {}).get("artifacts", [])
        if written:  # mergeRuntimeArtifacts: the executor's uri and metadata win
            artifact["uri"] = written[0].get("uri") or artifact["uri"]
            artifact["metadata"] = {**artifact.get("metadata", {}),
                                    **written[0].get("metadata", {})}
        result.outputs[key] = run.records.artifact(task_name, key, artifact)
    type_name = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name
    for key, definition in component.output_definitions.parameters.items():
        if key in produced.get("parameterValues", {}):
            result.parameters[key] = produced["parameterValues"][key]
            continue
        wanted, path = type_name(definition.parameter_type), os.path.join(
            folder, OUTPUT_PARAMETERS, key)
        try:
            with open(path) as handle:
                result.parameters[key] = text_to_value(handle.read(), wanted)
        except (OSError, ValueError) as error:
            raise UserError(f"task {task_name}: failed to read output parameter {key!r} "
                            f"({wanted}) from {path}: {error}") from None
    return result


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


def _header(run: Run, runner, order: list, limit: int) -> None:
    from google.protobuf import json_format

    package = run.package
    run.say(f"mer-tfx kfp replay: pipeline {run.pipeline_name}, run {run.run_id}, "
            f"{limit} of {len(order)} tasks")
    pulled = "run" if runner.kind == "docker" else "not pulled"
    run.say(f"  package       {package.path} (image {', '.join(package.images())}, {pulled})")
    run.say(f"  outputs       {run.root}/<task>/<output>  (the KFP v2 layout)")
    for line in runner.describe():
        run.say(f"  {line}")
    run.say("  caching       off: every task runs once (KFP reuses a cached result when a "
            "task with enableCache repeats its inputs; it retries a task per retryPolicy)")
    for name, key, url in _remote_locations(package):
        run.say(f"  remote        {name}.{key} names {url}: read/written for real")
    run.say(f"Scheduling the cluster would do (not honoured here: every task runs on this "
            f"machine, {os.cpu_count()} CPUs):")
    plain = []
    for name in order:
        label = package.component(name).executor_label
        resources = json_format.MessageToDict(package.container(name).resources)
        kubernetes = package.kubernetes.get(label, {})
        line = scheduling_summary(name, resources, kubernetes)
        if line:
            run.say(f"  {line}")
        else:
            plain.append(name)
        for key in sorted(set(kubernetes) - {"nodeSelector", "tolerations", "pvcMount"}):
            run.say(f"  {name}: {key} {json.dumps(kubernetes[key])}")
        for mount in kubernetes.get("pvcMount") or []:
            if not os.path.isdir(mount.get("mountPath", "")):
                run.say(f"  {name}: warning: no folder {mount.get('mountPath')} here, where the "
                        f"pod would mount its PVC")
    if plain:
        run.say(f"  {', '.join(plain)}: no requests (the cluster's defaults)")


def _summary(run: Run, pipeline_root: str, runner, seconds: float, stopped) -> dict:
    return {"pipeline": run.pipeline_name, "run_id": run.run_id, "run_root": run.root,
            "pipeline_root": pipeline_root, "runner": runner.kind, "seconds": round(seconds, 1),
            "stopped_after": stopped,
            "tasks": [{"task": r.task, "status": r.status, "seconds": round(r.seconds, 1),
                       "outputs": {k: a["uri"] for k, a in r.outputs.items()},
                       "metadata": {k: a["metadata"] for k, a in r.outputs.items()},
                       "parameters": r.parameters, "container": r.container}
                      for r in run.results.values()]}


def replay_package(package_path: str, pipeline_root: str, task_limit: int | None = None,
                   run_id: str | None = None, quiet: bool = False, out=None,
                   python: str | None = None, docker: bool = False) -> dict:
    """Replay ``package_path`` with its outputs under ``pipeline_root`` (local or gs://).

    task_limit: stop after the first N tasks of the order. quiet: do not stream the
    tasks' own output (their last lines are still in the error of a failed task).
    docker: run each task in its image (DockerRunner) instead of this environment.
    Returns {"pipeline", "run_id", "run_root", "pipeline_root", "runner", "seconds",
    "stopped_after", "tasks": [{"task", "status", "seconds", "outputs": {key: uri},
    "metadata": {key: {...}}, "parameters": {...}, "container": {...}}]}.
    """
    package = load_package(package_path)
    order = task_order(package.spec)
    check_supported(package, order)
    if task_limit is not None and task_limit < 1:
        raise UserError(f"--task-limit {task_limit}: give 1 or more")
    if not pipeline_root:
        raise UserError("give --pipeline-root DIR (a local folder, or gs://...)")
    if "://" not in pipeline_root:
        pipeline_root = os.path.abspath(pipeline_root)
    limit = min(task_limit or len(order), len(order))
    run = Run(package, pipeline_root, run_id, quiet, out or sys.stdout)
    if local_path(run.root) and os.path.isdir(run.root) and os.listdir(run.root):
        raise UserError(f"{run.root} holds a run already: KFP never reuses a run id; give "
                        f"another --run-id (or none for a new one)")
    runner = DockerRunner(run) if docker else HostRunner(run, python)
    runner.prepare()
    _header(run, runner, order, limit)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mer-kfp-replay-") as work:
        try:
            for index, name in enumerate(order[:limit], start=1):
                run.say(f"task {index} of {len(order)}: {name}")
                run.records.next_id("execution")
                folder = os.path.join(work, name)
                os.makedirs(folder)
                result = run.results[name] = run_task(run, runner, name, folder)
                run.say(f"task {index} of {len(order)}: {name} {result.status} in "
                        f"{result.seconds:.1f} s")
                for key, artifact in sorted(result.outputs.items()):
                    run.say(f"    {key} -> {artifact['uri']}")
                for key, value in sorted(result.parameters.items()):
                    run.say(f"    output parameter {key} = {value_text(value)}")
        finally:
            runner.finish()
    seconds = time.monotonic() - started
    stopped = limit if limit < len(order) else None
    if stopped:
        run.say(f"stopped after task {limit} of {len(order)} (--task-limit)")
    run.say(f"replayed {limit} tasks in {seconds:.0f} s; outputs under {run.root}")
    return _summary(run, pipeline_root, runner, seconds, stopped)
